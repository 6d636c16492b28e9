"""Batched ensembles of two-layer nets (sl.ensembles), the permutation task
(sl.data.permutations), the ReLU NNGP (sl.kernels.nngp_relu), exact GP posteriors (sl.gp) and
exact-match accuracy (sl.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import stochlearn as sl

E = sl.ensembles
D = sl.data.permutations


def test_permutation_task_and_khot_inputs():
    task = D.permutation_task(6, np.random.default_rng(0))
    P = task.P
    assert np.array_equal(P.sum(0), np.ones(6)) and np.array_equal(P.sum(1), np.ones(6))
    assert set(np.unique(P)) == {0.0, 1.0}
    assert np.array_equal(task.X_train, np.eye(6))
    for i in range(6):  # Y_train[i] = P e_i
        assert np.array_equal(task.Y_train[i], P @ np.eye(6)[i])
    X = D.khot_inputs(6, 2)
    assert X.shape == (math.comb(6, 2), 6)
    assert np.allclose(np.linalg.norm(X, axis=1), 1)
    raw = D.khot_inputs(6, 3, normalise=False)
    assert len(np.unique(raw, axis=0)) == math.comb(6, 3) and set(raw.sum(1)) == {3}
    # targets move the ones and keep their number; normalised inputs give binary targets
    T = task.targets(X)
    assert np.array_equal(T, (X > 0) @ P.T) and set(T.sum(1)) == {2}
    with pytest.raises(ValueError, match="nnz"):
        D.khot_inputs(4, 5)
    with pytest.raises(ValueError, match="k must"):
        D.permutation_task(1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        D.permutation_task(4, 0)


def test_member_equals_a_separately_built_network():
    g = torch.Generator().manual_seed(0)
    net = E.BatchedTwoLayerNet(5, 4, 16, 3, sigma_b=0.3, generator=g)
    X = torch.randn(7, 4, generator=g)
    out = net(X)
    assert out.shape == (5, 7, 3)
    for m in range(5):
        assert torch.allclose(net.member(m)(X), out[m], atol=1e-6)
    assert torch.allclose(net(X.expand(5, 7, 4)), out)
    with pytest.raises(ValueError, match="shape"):
        net(torch.randn(7, 5))
    with pytest.raises(ValueError, match="positive integer"):
        E.BatchedTwoLayerNet(0, 4, 16, 3)


def test_members_are_independent_at_initialisation_with_the_nngp_variance():
    # the init of official NTKMLP: output variance at a unit input = sigma_w^4 / (2 d)
    g = torch.Generator().manual_seed(1)
    net = E.BatchedTwoLayerNet(4000, 4, 256, 1, generator=g, dtype=torch.float64)
    x = torch.eye(4, dtype=torch.float64)[:2]
    with torch.no_grad():
        f = net(x)[:, :, 0].numpy()  # (M, 2)
    assert f.var(0) == pytest.approx([1 / 8, 1 / 8], rel=0.08)
    # members are uncorrelated with each other ...
    assert abs(np.corrcoef(f[::2, 0], f[1::2, 0])[0, 1]) < 0.06
    # ... and the two inputs are correlated as the arc-cosine kernel says (1/pi)
    assert np.corrcoef(f[:, 0], f[:, 1])[0, 1] == pytest.approx(1 / math.pi, abs=0.05)


def test_train_batched_fits_and_equals_training_each_member_alone():
    k, width = 4, 512
    task = D.permutation_task(k, np.random.default_rng(2))
    X, Y = (torch.tensor(a) for a in (task.X_train, task.Y_train))
    g = torch.Generator().manual_seed(3)
    net = E.BatchedTwoLayerNet(3, k, width, k, generator=g, dtype=torch.float64)
    alone = net.member(1)
    mse = E.train_batched(net, X, Y, steps=300, lr=0.3 * k**3 / width)
    assert mse.shape == (3,) and mse.max() < 1e-10
    opt = torch.optim.SGD(alone.parameters(), lr=0.3 * k**3 / width)
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.mse_loss(alone(X), Y).backward()
        opt.step()
    Xt = torch.tensor(D.khot_inputs(k, 2))
    with torch.no_grad():
        assert torch.allclose(net(Xt)[1], alone(Xt), atol=1e-10)


def test_rounding_cumulative_accuracy_and_models_needed():
    target = np.array([[1.0, 0.0], [0.0, 1.0]])
    preds = np.array(
        [
            [[1.0, 0.5], [-1.0, 1.0]],  # member 1: row 0 wrong
            [[1.0, -1.0], [-1.0, 1.0]],  # mean of 1-2: both rows right
            [[-5.0, -1.0], [-1.0, 1.0]],  # mean of 1-3: row 0 wrong again
            [[9.0, -1.0], [-1.0, 1.0]],
        ]
    )
    assert np.array_equal(E.round_ensemble(preds[:2]), target)
    acc = E.cumulative_exact_match(preds, target)
    assert np.allclose(acc, [0.5, 1.0, 0.5, 1.0])
    assert E.models_needed(acc) == 2  # first hit, as the official code
    assert E.models_needed(acc, stay=True) == 4  # the dip at 3 resets it
    assert E.models_needed(acc[:3], stay=True) is None  # censored
    assert E.models_needed(acc[:1]) is None
    assert E.models_needed(np.ones(3), stay=True) == 1
    assert E.models_needed(acc, level=0.5, stay=True) == 1
    assert sl.metrics.exact_match_accuracy(target, target) == 1.0
    assert sl.metrics.exact_match_accuracy(1 - target, target) == 0.0
    with pytest.raises(ValueError, match="only 0 and 1"):
        sl.metrics.exact_match_accuracy(preds[0], target)


def test_relu_expectations_match_monte_carlo():
    rng = np.random.default_rng(4)
    C = np.array([[2.0, -0.7], [-0.7, 0.5]])
    u = rng.multivariate_normal([0, 0], C, size=400_000)
    relu = np.maximum(u, 0)
    e1, e0 = sl.kernels.relu_expectations(C[0, 1], C[0, 0], C[1, 1])
    assert e1 == pytest.approx((relu[:, 0] * relu[:, 1]).mean(), rel=0.01)
    assert e0 == pytest.approx(((u[:, 0] > 0) & (u[:, 1] > 0)).mean(), rel=0.01)
    # the diagonal: E relu(u)^2 = Var(u) / 2
    assert sl.kernels.relu_expectations(2.0, 2.0, 2.0)[0] == pytest.approx(1.0)
    # erf: Williams's arcsine formula against the same draws
    e = sl.kernels.erf_expectations(C[0, 1], C[0, 0], C[1, 1])
    erf = torch.erf(torch.tensor(u)).numpy()
    assert e == pytest.approx((erf[:, 0] * erf[:, 1]).mean(), abs=0.01)


def _random_network_outputs(X, depth, var_w, var_b, n_nets, width, seed, act=torch.relu):
    """f(x) = sum_j v_j act(h_j(x)), v_j ~ N(0, 1/width), for n_nets random networks."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_nets // 250):  # chunks keep the weight tensors small
        h, fan_in = torch.tensor(X).expand(250, *X.shape), X.shape[1]
        for _ in range(depth):
            W = torch.randn(250, fan_in, width, generator=g, dtype=torch.float64)
            b = torch.randn(250, 1, width, generator=g, dtype=torch.float64)
            h = act(h @ W * math.sqrt(var_w / fan_in) + b * math.sqrt(var_b))
            fan_in = width
        v = torch.randn(250, width, 1, generator=g, dtype=torch.float64)
        out.append((h @ v)[:, :, 0] / math.sqrt(width))
    return torch.cat(out).numpy()


@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("depth,var_b", [(1, 0.0), (2, 0.1)])
def test_nngp_matches_wide_random_networks(depth, var_b, act):
    # the covariance over 3000 random width-256 networks
    X = np.random.default_rng(5).standard_normal((3, 5))
    f = _random_network_outputs(X, depth, 1.7, var_b, 3000, 256, seed=6, act=getattr(torch, act))
    kernel = getattr(sl.kernels, f"nngp_{act}")
    K = kernel(X, X, depth=depth, var_w=1.7, var_b=var_b, last_var=1.0)
    assert np.allclose(np.cov(f.T), K, rtol=0.08, atol=0.03 * K.max())
    assert np.linalg.eigvalsh(K).min() > -1e-12
    with pytest.raises(ValueError, match="depth"):
        sl.kernels.nngp_relu(X, X, depth=0)


def test_gaussian_posterior_interpolates_and_agrees_with_the_direct_formula():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 3))
    Xs = rng.standard_normal((4, 3))
    k = sl.kernels.nngp_relu
    Y = rng.standard_normal((6, 2))
    mean, cov = sl.gp.gaussian_posterior(k(X, X), k(X, X), k(X, X), Y)
    assert np.allclose(mean, Y, atol=1e-8) and np.abs(cov).max() < 1e-8
    noise = 0.3
    mean, cov = sl.gp.gaussian_posterior(k(X, X), k(Xs, X), k(Xs, Xs), Y, noise=noise)
    A = np.linalg.inv(k(X, X) + noise * np.eye(6))
    assert np.allclose(mean, k(Xs, X) @ A @ Y)
    assert np.allclose(cov, k(Xs, Xs) - k(Xs, X) @ A @ k(X, Xs))
    with pytest.raises(ValueError, match="positive definite"):
        sl.gp.gaussian_posterior(np.zeros((6, 6)), k(Xs, X), k(Xs, Xs), Y)


def test_sample_gaussian_has_the_right_moments_even_when_singular():
    rng = np.random.default_rng(8)
    A = rng.standard_normal((4, 2))
    cov = A @ A.T  # rank 2
    mean = np.array([[1.0, -1.0], [0.0, 2.0], [3.0, 0.0], [-2.0, 1.0]])
    s = sl.gp.sample_gaussian(mean, cov, 100_000, rng)
    assert s.shape == (100_000, 4, 2)
    assert np.allclose(s.mean(0), mean, atol=0.03)
    for c in range(2):
        assert np.allclose(np.cov(s[:, :, c].T), cov, atol=0.05 * np.abs(cov).max())
    # the columns are independent draws
    assert abs(np.corrcoef(s[:, 0, 0], s[:, 0, 1])[0, 1]) < 0.02
