"""sl.coresets: greedy facility location (CRAIG), per class, and the baselines."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from stochlearn import coresets


def objective(G, idx, kernel="exp"):
    sim = coresets.similarity(G, kernel)
    return sim[:, idx].max(1).values.sum().item()


def test_greedy_picks_one_point_per_well_separated_cluster():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    G = torch.cat([c + 0.1 * torch.randn(20, 2, generator=gen) for c in centres])
    idx, w = coresets.facility_location(G, 3)
    assert sorted((idx // 20).tolist()) == [0, 1, 2]
    assert w.tolist() == [20.0, 20.0, 20.0]


def test_greedy_is_distinct_monotone_and_within_1_minus_1_over_e_of_optimal():
    gen = torch.Generator().manual_seed(1)
    for trial in range(5):
        G = torch.randn(10, 3, generator=gen, dtype=torch.float64)
        for kernel in ("exp", "dmax"):
            idx, w = coresets.facility_location(G, 3, kernel)
            assert len(set(idx.tolist())) == 3 and w.sum().item() == 10
            values = [objective(G, idx[:m], kernel) for m in range(1, 4)]
            assert values == sorted(values)
            best = max(objective(G, torch.tensor(c), kernel) for c in itertools.combinations(range(10), 3))
            assert values[-1] >= (1 - 1 / math.e) * best - 1e-9


def test_per_class_budgets_and_membership():
    gen = torch.Generator().manual_seed(2)
    G = torch.randn(90, 4, generator=gen)
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 10)
    idx, w = coresets.craig_per_class(G, y, 9, 3)
    assert torch.bincount(y[idx], minlength=3).tolist() == [3, 3, 3]
    assert w.sum().item() == 90
    idx, w = coresets.craig_per_class(G, y, 9, 3, equal_num=False)
    assert torch.bincount(y[idx], minlength=3).tolist() == [5, 3, 1]


def test_gradient_proxies_maxloss_and_random_subsets():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    y = torch.tensor([0, 0, 1])
    g = coresets.gradient_proxies(logits, y)
    torch.testing.assert_close(g.sum(1), torch.zeros(3))
    assert g[0, 0] < 0 < g[0, 1]
    assert coresets.maxloss_subset(logits, y, 1).tolist() == [1]  # the confidently wrong one
    r = coresets.random_subset(100, 30, torch.Generator().manual_seed(0))
    assert len(set(r.tolist())) == 30 and r.max() < 100
    with pytest.raises(ValueError):
        coresets.facility_location(torch.randn(5, 2), 6)


def test_random_affine_identity_shape_and_determinism():
    from stochlearn.data import augment

    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    same = augment.random_affine(x, torch.Generator().manual_seed(1), 0.0, 0.0, 0.0)
    torch.testing.assert_close(same, x, atol=1e-6, rtol=0)
    a = augment.random_affine(x, torch.Generator().manual_seed(2))
    b = augment.random_affine(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.allclose(a, x)
    # a pure shift (no rotation, no noise) keeps a centred blob's mass, moved
    blob = torch.zeros(1, 1, 8, 8)
    blob[0, 0, 3:5, 3:5] = 1.0
    moved = augment.random_affine(blob, torch.Generator().manual_seed(3), 0.0, 0.3, 0.0)
    assert moved.sum().item() == pytest.approx(4.0, rel=1e-5) and not torch.allclose(moved, blob)
    with pytest.raises(ValueError):
        augment.random_affine(x[0], torch.Generator())


def test_param_jacobian_matches_finite_differences():
    from torch import nn

    from stochlearn.curvature import param_jacobian

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    X = torch.randn(5, 3, dtype=torch.float64)
    J = param_jacobian(model, X)
    n_params = sum(p.numel() for p in model.parameters())
    assert J.shape == (10, n_params)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    eps, cols = 1e-6, []
    for i in range(n_params):
        for sign in (1, -1):
            shifted = flat.clone()
            shifted[i] += sign * eps
            torch.nn.utils.vector_to_parameters(shifted, model.parameters())
            cols.append(model(X).detach().flatten())
    torch.nn.utils.vector_to_parameters(flat, model.parameters())
    fd = torch.stack([(cols[2 * i] - cols[2 * i + 1]) / (2 * eps) for i in range(n_params)], 1)
    torch.testing.assert_close(J, fd, atol=1e-6, rtol=1e-5)


def test_subspace_overlap_limits():
    from stochlearn.metrics import subspace_overlap

    gen = torch.Generator().manual_seed(0)
    A = torch.randn(50, 400, generator=gen)
    assert subspace_overlap(A, A, 10) == pytest.approx(1.0)
    assert subspace_overlap(A, 3 * A, 10) == pytest.approx(1.0)
    overlaps = [subspace_overlap(A, torch.randn(50, 400, generator=gen), 10) for _ in range(5)]
    assert sum(overlaps) / 5 == pytest.approx(10 / 400, rel=0.5)
