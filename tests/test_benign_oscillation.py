"""The benign-oscillation chapter's library: the feature-noise patch data, the squared-ReLU patch
network, and SGD that records overshoots."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from stochlearn.data import make_feature_noise_patches
from stochlearn.nn import PatchReLU2Net
from stochlearn.train import margin_residual, overshoot, sgd_track_overshoot

# --- data ----------------------------------------------------------------------------------------


def test_patches_hold_the_features_and_orthogonal_noise():
    X, y, b = make_feature_noise_patches(
        2000, d=50, rho=0.3, weak_norm=0.4, strong_norm=2.0, noise_std=0.25, generator=0
    )
    assert X.shape == (2000, 3, 50) and y.shape == (2000,) and b.dtype == torch.bool
    assert set(y.tolist()) == {-1.0, 1.0}
    assert abs(float(y.mean())) < 0.05  # balanced within 5 %
    # patch 0 is y v: norm weak_norm on every row, on e1, with the label's sign
    assert torch.allclose(X[:, 0].norm(dim=1), torch.full((2000,), 0.4))
    assert torch.equal(torch.sign(X[:, 0, 0]), y)
    # patch 1 is b y u: zero exactly when b = 0
    assert torch.equal(X[:, 1].norm(dim=1) > 0, b)
    assert torch.allclose(X[b, 1, 1], 2.0 * y[b])
    assert abs(float(b.float().mean()) - 0.3) < 0.04
    # noise lives on coordinates >= 2 with the stated scale
    assert torch.all(X[:, 2, :2] == 0)
    assert float(X[:, 2, 2:].std()) == pytest.approx(0.25, rel=0.03)
    # weak-feature-only data: no strong patch anywhere
    Xw, yw, bw = make_feature_noise_patches(300, d=50, strong=False, generator=1)
    assert not bw.any() and torch.all(Xw[:, 1] == 0)


def test_patches_are_reproducible_and_reject_bad_arguments():
    a = make_feature_noise_patches(20, d=10, generator=3)
    b = make_feature_noise_patches(20, d=10, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    for kw in ({"n": 0}, {"d": 2}, {"rho": 1.5}, {"noise_std": -1.0}, {"weak_norm": float("nan")}):
        args = {"n": 10, "d": 10, **kw}
        with pytest.raises(ValueError):
            make_feature_noise_patches(**args)


# --- network -------------------------------------------------------------------------------------


def test_network_is_odd_under_swapping_the_classes_and_zero_at_zero():
    torch.manual_seed(0)
    net = PatchReLU2Net(12, m=4, init_std=0.5)
    x = torch.randn(7, 3, 12)
    swapped = PatchReLU2Net(12, m=4)
    with torch.no_grad():
        swapped.weight.copy_(net.weight.flip(0))
    assert torch.allclose(swapped(x), -net(x), atol=1e-6)
    assert torch.equal(net(torch.zeros(2, 3, 12)), torch.zeros(2))


def test_network_matches_the_formula_and_finite_differences():
    torch.manual_seed(1)
    net = PatchReLU2Net(5, m=3, init_std=0.7).double()
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    W = net.weight.detach()
    expected = torch.stack(
        [
            sum(torch.relu(W[0, r] @ xi[p]) ** 2 - torch.relu(W[1, r] @ xi[p]) ** 2 for r in range(3) for p in range(3))
            / 3
            for xi in x
        ]
    )
    assert torch.allclose(net(x), expected)
    assert torch.autograd.gradcheck(
        lambda w: torch.func.functional_call(net, {"weight": w}, (x,)), (W.clone().requires_grad_(),)
    )


def test_default_initialisation_scale_and_feature_alignment():
    d = 400
    net = PatchReLU2Net(d, m=50, generator=torch.Generator().manual_seed(0))
    assert float(net.weight.detach().std()) == pytest.approx(0.1 / math.sqrt(d), rel=0.05)
    with torch.no_grad():
        net.weight.zero_()
        net.weight[0, 3, 0] = 2.0  # class +1 detects +e1
        net.weight[1, 1, 0] = -5.0  # class -1 detects -e1
        net.weight[1, 2, 0] = 1.0  # a class -1 filter on +e1 does not count
    e1 = torch.zeros(d)
    e1[0] = 3.0  # not unit: normalised inside
    assert net.feature_alignment(e1) == (2.0, 5.0)
    with pytest.raises(ValueError):
        net.feature_alignment(torch.zeros(d))
    with pytest.raises(ValueError):
        PatchReLU2Net(0)
    with pytest.raises(ValueError):
        net(torch.zeros(3, d))


# --- overshooting SGD ----------------------------------------------------------------------------


def test_overshoot_is_a_sign_flip_past_the_tolerance():
    before = torch.tensor([1.0, 1.0, -0.5, 0.2, 0.3])
    after = torch.tensor([-0.4, 0.3, 0.1, -0.0005, 0.0])
    assert overshoot(before, after).tolist() == [True, False, True, False, False]
    assert overshoot(before, after, tol=0.0).tolist() == [True, False, True, True, False]
    assert torch.equal(margin_residual(torch.tensor([2.0, 0.5]), torch.tensor([1.0, -1.0])), torch.tensor([-1.0, 1.5]))
    with pytest.raises(ValueError):
        overshoot(before, after[:2])


class _Line(nn.Module):
    """f(x) = w x on one scalar input: the loss 1/2 (1 - y w x)^2 has curvature x^2
    (|r| stays above the 1e-3 tolerance for the 12 steps at eta c = 1.8: 0.8^12 = 0.07)."""

    def __init__(self, w0: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w0, dtype=torch.float64))

    def forward(self, x):
        return self.w * x[:, 0]


@pytest.mark.parametrize("eta_c, flips", [(1.8, True), (0.5, False)])
def test_on_a_quadratic_every_step_overshoots_exactly_when_lr_curvature_exceeds_one(eta_c, flips):
    c = 2.0
    X = torch.full((1, 1), math.sqrt(c), dtype=torch.float64)
    y = torch.ones(1, dtype=torch.float64)
    out = sgd_track_overshoot(_Line(0.0), X, y, lr=eta_c / c, epochs=12)
    assert out["flips"].shape == (12, 1)
    assert np.all(out["overshoot"] == (1.0 if flips else 0.0))
    # r -> (1 - eta c) r each step: the loss shrinks by (1 - eta c)^2 per epoch
    assert np.allclose(out["loss"], 0.5 * (1 - eta_c) ** (2 * np.arange(13)))
    assert not out["diverged"]


def test_divergence_stops_training_and_pads_with_nan():
    X = torch.full((1, 1), 1.0, dtype=torch.float64)
    y = torch.ones(1, dtype=torch.float64)
    out = sgd_track_overshoot(_Line(0.0), X, y, lr=1e6, epochs=200, monitor=lambda m: {"w": float(m.w)})
    assert out["diverged"]
    assert np.isnan(out["loss"][-1]) and np.isnan(out["overshoot"][-1])
    assert out["w"].shape == (201,) and out["w"][0] == 0.0


def test_sgd_track_overshoot_is_reproducible_and_validates():
    X, y, _ = make_feature_noise_patches(30, d=20, generator=0)

    def train(seed):
        net = PatchReLU2Net(20, m=3, generator=torch.Generator().manual_seed(0))
        return sgd_track_overshoot(net, X, y, 0.5, 3, seed=seed, batch_size=4)

    a, b, c = train(1), train(1), train(2)
    assert np.array_equal(a["loss"], b["loss"]) and not np.array_equal(a["loss"], c["loss"])
    assert a["flips"].shape == (3, 30) and a["train_acc"].shape == (4,)
    net = PatchReLU2Net(20, m=3)
    for kw in ({"lr": 0.0}, {"epochs": 0}, {"batch_size": 0}, {"loss": "hinge"}):
        args = {"lr": 0.1, "epochs": 1, **kw}
        with pytest.raises(ValueError):
            sgd_track_overshoot(net, X, y, **args)
    with pytest.raises(ValueError):
        sgd_track_overshoot(net, X, (y > 0).float(), 0.1, 1)  # labels must be ±1


def test_one_patch_fit_follows_the_exact_residual_map_and_its_thresholds():
    """An example fitted through one patch a by its own class's filters: one SGD step maps
    r -> 1 - (1 - r)(1 + kappa r)^2 with kappa = 2 lr ||a||^2 / m, so near the fit the step
    overshoots above lr = m / (4 ||a||^2) and the fit is unstable above m / (2 ||a||^2)."""
    d, m = 30, 4
    a = torch.zeros(d, dtype=torch.float64)
    a[5:] = 0.4  # ||a||^2 = 25 * 0.16 = 4
    X = torch.zeros(1, 3, d, dtype=torch.float64)
    X[0, 2] = a
    y = torch.ones(1, dtype=torch.float64)
    sq = float(a @ a)

    def net_at(r0):
        """Class +1 filters along a with f = 1 - r0; class -1 filters off on a."""
        net = PatchReLU2Net(d, m=m).double()
        with torch.no_grad():
            net.weight.zero_()
            scale = math.sqrt(1 - r0) / sq  # (1/m) sum_r (scale a.a)^2 = 1 - r0
            net.weight[0] = scale * a
            net.weight[1] = -a  # <w_-1, a> < 0: switched off
        return net

    for lr, r0 in [(0.1, 0.3), (0.4, -0.2), (0.7, 0.05)]:
        net = net_at(r0)
        assert float(1 - net(X).detach()) == pytest.approx(r0)
        sgd_track_overshoot(net, X, y, lr, 1)
        kappa = 2 * lr * sq / m
        assert float(1 - net(X).detach()) == pytest.approx(1 - (1 - r0) * (1 + kappa * r0) ** 2)
    edge_over, edge_unstable = m / (4 * sq), m / (2 * sq)  # 0.25 and 0.5
    for lr, flips, grows in [
        (0.9 * edge_over, False, False),
        (1.1 * edge_over, True, False),
        (1.1 * edge_unstable, True, True),
    ]:
        net = net_at(0.05)
        out = sgd_track_overshoot(net, X, y, lr, 1)
        r1 = float(1 - net(X).detach())
        assert bool(out["flips"][0, 0]) == flips
        assert (abs(r1) > 0.05) == grows
