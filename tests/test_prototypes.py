"""sl.prototypes (Prob-PSENN's prototype layer, model, loss and explanation scores) and
sl.uncertainty.ood_auroc, against brute-force computations and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stochlearn.prototypes import (
    PSENN,
    ProbPrototypeLayer,
    explanation_uncertainty,
    kde_overlap,
    overlap_index,
)
from stochlearn.uncertainty import entropy_decomposition, ood_auroc


def test_samples_have_the_softplus_std_and_the_mean():
    torch.manual_seed(0)
    layer = ProbPrototypeLayer(3, 4, init_std=0.3)
    with torch.no_grad():
        layer.rho.copy_(torch.linspace(-1.0, 1.0, 12).reshape(3, 4))
    P = layer.sample(20000, torch.Generator().manual_seed(1))
    assert P.shape == (20000, 3, 4)
    want = F.softplus(layer.rho).detach()
    assert torch.allclose(P.std(0), want, rtol=0.05)
    assert torch.allclose(P.mean(0), layer.mu.detach(), atol=0.05)


def test_init_std_holds_exactly():
    layer = ProbPrototypeLayer(2, 3, init_std=0.2)
    assert torch.allclose(layer.std, torch.full((2, 3), 0.2))


def test_distances_equal_cdist_squared():
    torch.manual_seed(0)
    layer = ProbPrototypeLayer(5, 3)
    z = torch.randn(7, 3)
    g = torch.Generator().manual_seed(3)
    d = layer.distances(z, 4, g)
    P = layer.sample(4, torch.Generator().manual_seed(3))
    ref = torch.stack([torch.cdist(z, P[s]) ** 2 for s in range(4)])
    assert d.shape == (4, 7, 5)
    assert torch.allclose(d, ref, atol=1e-5)


def test_deterministic_layer_draws_only_its_means():
    layer = ProbPrototypeLayer(4, 2, prob=False)
    P = layer.sample(5)
    assert torch.equal(P, layer.mu.detach().expand(5, 4, 2))
    assert layer.rho is None


def test_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    layer = ProbPrototypeLayer(3, 2, init_std=0.7)
    z = torch.randn(6, 2)
    ref = torch.distributions.Normal(layer.mu, layer.std).log_prob(z[:, None]).sum(-1)
    assert torch.allclose(layer.log_prob(z), ref, atol=1e-5)
    det = ProbPrototypeLayer(3, 2, prob=False, init_std=0.5)
    fixed = torch.distributions.Normal(det.mu, 0.5).log_prob(z[:, None]).sum(-1)
    assert torch.allclose(det.log_prob(z), fixed, atol=1e-5)
    assert not any(n == "fit_std" for n, _ in det.named_parameters())


def test_psenn_starts_as_minus_half_distance_and_loss_terms():
    torch.manual_seed(0)
    m = PSENN(in_dim=6, dim=3, n_classes=4, hidden=8, init_std=0.1)
    x, y = torch.rand(5, 6), torch.tensor([0, 1, 2, 3, 0])
    g = torch.Generator().manual_seed(0)
    logits, z = m.logits(x, 2, g)
    d = m.prototypes.distances(z, 2, torch.Generator().manual_seed(0))
    assert torch.allclose(logits, -0.5 * d, atol=1e-6)
    probs = m.predict_proba(x, 8)
    assert probs.shape == (8, 5, 4)
    assert torch.allclose(probs.sum(-1), torch.ones(8, 5))
    # the loss: mean CE over draws + 10 MSE + 0.05 clipped fit term
    loss = m.loss(x, y, 2, generator=torch.Generator().manual_seed(0))
    ce = torch.stack([F.cross_entropy(logits[s], y) for s in range(2)]).mean()
    rec = ((m.decoder(z) - x) ** 2).mean()
    fit = (-m.prototypes.log_prob(z)[torch.arange(5), y]).clamp(-1, 1e4).mean()
    assert loss.item() == pytest.approx((ce + 10 * rec + 0.05 * fit).item(), rel=1e-5)


def test_psenn_learns_separable_blobs():
    torch.manual_seed(0)
    X = torch.cat([torch.full((40, 4), 0.2), torch.full((40, 4), 0.8)])
    X = (X + 0.05 * torch.randn(80, 4)).clamp(0, 1)
    y = torch.arange(2).repeat_interleave(40)
    m = PSENN(in_dim=4, dim=2, n_classes=2, hidden=16)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(150):
        opt.zero_grad()
        m.loss(X, y, 4).backward()
        opt.step()
    p = m.predict_proba(X, 16).mean(0)
    assert (p.argmax(1) == y).float().mean() == 1.0


def test_mutual_information_is_zero_for_the_deterministic_model():
    torch.manual_seed(0)
    m = PSENN(in_dim=6, dim=3, n_classes=4, hidden=8, prob=False)
    probs = m.predict_proba(torch.rand(9, 6), 8).numpy()
    _, _, mi = entropy_decomposition(probs)
    assert np.all(mi < 1e-6)


def test_explanation_uncertainty_is_the_empirical_cdf():
    d_train = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0])
    y_train = np.array([0, 0, 0, 0, 1, 1])
    out = explanation_uncertainty(np.array([0.5, 2.5, 5.0, 15.0]), np.array([0, 0, 0, 1]), d_train, y_train)
    assert out.tolist() == [0.0, 0.5, 1.0, 0.5]
    with pytest.raises(ValueError):
        explanation_uncertainty(np.array([1.0]), np.array([2]), d_train, y_train)


def test_kde_overlap_limits():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=4000), rng.normal(size=4000)
    assert kde_overlap(a, b) == pytest.approx(1.0, abs=0.05)
    assert kde_overlap(a, b + 20) < 1e-3
    # two unit Gaussians one sd apart overlap by 2 Phi(-1/2)
    want = 2 * 0.5 * math.erfc(0.5 / math.sqrt(2))
    assert kde_overlap(a, b + 1.0) == pytest.approx(want, abs=0.05)
    # point masses (deterministic prototypes)
    assert kde_overlap([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert kde_overlap([2.0, 2.0], [3.0, 3.0]) == 0.0
    assert kde_overlap([2.0, 2.0], a) == 0.0


def test_overlap_index_takes_the_closest_rival():
    rng = np.random.default_rng(0)
    d = np.stack(
        [rng.normal(1.0, 0.3, 200), rng.normal(1.1, 0.3, 200), rng.normal(9, 0.3, 200)],
        1,
    )
    assert overlap_index(d) == pytest.approx(kde_overlap(d[:, 0], d[:, 1]))
    assert overlap_index(d) > 0.7
    assert overlap_index(d[:, [0, 2]]) < 1e-3


def test_ood_auroc_limits():
    rng = np.random.default_rng(0)
    assert ood_auroc([0.1, 0.2], [0.5, 0.9]) == 1.0
    assert ood_auroc([0.5, 0.9], [0.1, 0.2]) == 0.0
    same = ood_auroc(rng.normal(size=2000), rng.normal(size=2000))
    assert abs(same - 0.5) < 0.05


@pytest.mark.parametrize(
    "call",
    [
        lambda: ProbPrototypeLayer(0, 2),
        lambda: ProbPrototypeLayer(2, 2, init_std=-1.0),
        lambda: ProbPrototypeLayer(2, 2, prob=1),
        lambda: ProbPrototypeLayer(2, 2).distances(torch.zeros(3, 5)),
        lambda: ProbPrototypeLayer(2, 2).sample(0),
        lambda: PSENN(in_dim=0),
        lambda: kde_overlap([1.0], [0.0, 2.0]),
        lambda: overlap_index(np.zeros((5, 1))),
        lambda: ood_auroc([], [1.0]),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
