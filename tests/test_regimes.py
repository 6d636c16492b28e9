"""The sgd-noise-regimes chapter's library: the depleted-sign data, the event-driven hinge
perceptron against a step-by-step SGD loop, the NTK-scaled MLP, the α-hinge loss and
train_until_fit, and crossing_point on exact power laws."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from stochlearn.data import digits_parity, make_depleted_sign
from stochlearn.nn import NTKMLP, activation_scale
from stochlearn.regimes import hinge_alpha_loss, sgd_hinge_perceptron, temperature, train_until_fit
from stochlearn.stats import crossing_point

# --- data ----------------------------------------------------------------------------------------


def test_depleted_sign_at_chi_zero_is_standard_normal_and_balanced():
    X, y = make_depleted_sign(5000, 4, chi=0.0, rng=0)
    assert X.shape == (5000, 4) and y.shape == (5000,)
    for j in range(4):
        assert stats.kstest(X[:, j], "norm").pvalue > 0.01
    assert np.all(y == np.sign(X[:, 0]))
    assert abs(y.mean()) < 0.05


def test_depleted_sign_density_near_the_boundary_is_a_power_of_x1():
    """P(|x1| < eps) ~ eps^(chi+1) for small eps: fewer points near the boundary as chi grows."""
    fractions = []
    for chi in (0.0, 1.0, 3.0):
        X, _ = make_depleted_sign(200_000, 2, chi=chi, rng=1)
        x1 = np.abs(X[:, 0])
        fractions.append(np.mean(x1 < 0.1))
        # |x1|^2 / 2 is Gamma((chi + 1) / 2): a KS test of the exact law
        assert stats.kstest(x1**2 / 2, stats.gamma((chi + 1) / 2).cdf).pvalue > 0.01
    assert fractions[0] > fractions[1] > fractions[2]
    X, _ = make_depleted_sign(200_000, 2, chi=1.0, rng=2)
    r = np.mean(np.abs(X[:, 0]) < 0.1) / np.mean(np.abs(X[:, 0]) < 0.05)
    assert r == pytest.approx(4.0, rel=0.1)  # (0.1 / 0.05)^(chi + 1)


def test_digits_parity_labels_and_scale():
    Xtr, ytr, Xte, yte = digits_parity(500, seed=3)
    assert Xtr.shape == (500, 64) and Xte.shape == (1297, 64)
    assert set(torch.cat([ytr, yte]).tolist()) == {-1.0, 1.0}
    X = torch.cat([Xtr, Xte])
    assert float(X.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float((X**2).sum(1).mean()) == pytest.approx(64.0, rel=1e-4)
    assert torch.equal(digits_parity(500, seed=3)[0], Xtr)
    assert not torch.equal(digits_parity(500, seed=4)[0], Xtr)


# --- perceptron ------------------------------------------------------------------------------------


def test_perceptron_fits_every_margin():
    X, y = make_depleted_sign(300, 8, rng=0)
    r = sgd_hinge_perceptron(X, y, T=0.7, rng=0)
    assert r["converged"] and r["steps"] >= r["updates"] > 0
    assert np.all(y * (X @ r["u"]) / math.sqrt(8) >= 1 - 1e-12)


def test_perceptron_with_one_point_takes_the_predicted_number_of_updates():
    rng = np.random.default_rng(5)
    for T in (0.05, 0.3, 2.0):
        x = rng.standard_normal((1, 10))
        r = sgd_hinge_perceptron(x, np.array([1.0]), T=T, rng=0)
        expected = math.ceil(10 / (T * float((x**2).sum())))
        assert r["updates"] == expected and r["steps"] == expected


def _brute_force_sgd(X, y, T, rng):
    P, d = X.shape
    u, steps = np.zeros(d), 0
    while np.any(y * (X @ u) / math.sqrt(d) < 1):
        i = rng.integers(P)
        steps += 1
        if y[i] * (X[i] @ u) / math.sqrt(d) < 1:
            u = u + T * y[i] * X[i] / math.sqrt(d)
    return u, steps


def test_event_driven_sampler_has_the_step_count_law_of_plain_sgd():
    X, y = make_depleted_sign(20, 3, rng=11)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(1)
    fast = [sgd_hinge_perceptron(X, y, T=0.5, rng=rng_a)["steps"] for _ in range(300)]
    slow = [_brute_force_sgd(X, y, 0.5, rng_b)[1] for _ in range(300)]
    assert stats.ks_2samp(fast, slow).pvalue > 0.01
    assert np.mean(fast) == pytest.approx(np.mean(slow), rel=0.15)


def test_perceptron_is_deterministic_given_the_seed_and_grows_with_T():
    X, y = make_depleted_sign(200, 8, rng=3)
    a, b = sgd_hinge_perceptron(X, y, 4.0, rng=7), sgd_hinge_perceptron(X, y, 4.0, rng=7)
    assert np.array_equal(a["u"], b["u"]) and a["steps"] == b["steps"]
    norms = [
        np.mean([np.linalg.norm(sgd_hinge_perceptron(X, y, T, rng=s)["u"]) for s in range(5)])
        for T in (1.0, 16.0, 256.0)
    ]
    assert norms[0] < norms[1] < norms[2]


def test_perceptron_max_updates_and_bad_input():
    X, y = make_depleted_sign(200, 8, rng=3)
    r = sgd_hinge_perceptron(X, y, 0.01, rng=0, max_updates=10)
    assert r["updates"] == 10 and not r["converged"]
    with pytest.raises(ValueError, match="labels"):
        sgd_hinge_perceptron(X, np.zeros(200), 1.0)
    with pytest.raises(ValueError, match="T"):
        sgd_hinge_perceptron(X, y, -1.0)
    with pytest.raises(ValueError):
        sgd_hinge_perceptron(X[:, :, None], y, 1.0)


# --- NTK MLP, loss, training -----------------------------------------------------------------------


def test_activation_scale_normalises_the_second_moment():
    assert activation_scale("relu") == pytest.approx(1 / math.sqrt(2))
    g = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for act, f in (("tanh", torch.tanh), ("gelu", torch.nn.functional.gelu)):
        assert activation_scale(act) == pytest.approx(float((f(g) ** 2).mean().sqrt()), rel=2e-3)
    with pytest.raises(ValueError, match="activation"):
        activation_scale("swish")


def test_ntk_mlp_matches_the_official_forward_pass():
    torch.manual_seed(0)
    net = NTKMLP(5, width=7, depth=2)
    x = torch.randn(4, 5)
    z = x
    for W in net.hidden:
        z = torch.relu(z @ W.T / math.sqrt(z.shape[1])) * math.sqrt(2)
    assert torch.allclose(net(x), z @ net.readout / 7, atol=1e-6)
    assert net(x).shape == (4,) and sum(p.numel() for p in net.parameters()) == 5 * 7 + 7 * 7 + 7
    # hidden pre-activations have unit variance at initialisation, whatever the width
    torch.manual_seed(1)
    wide = NTKMLP(64, width=512, depth=3)
    z = torch.randn(256, 64)
    for W in wide.hidden.parameters():
        z = torch.relu(z @ W.detach().T / math.sqrt(z.shape[1])) * math.sqrt(2)
        assert float((z**2).mean()) == pytest.approx(1.0, rel=0.1)
    with pytest.raises(ValueError):
        NTKMLP(5, width=0)


def test_hinge_alpha_loss_is_zero_iff_every_margin_is_met_and_has_the_gradient_minus_y():
    y = torch.tensor([1.0, -1.0, 1.0])
    alpha = 8.0
    o = torch.tensor([0.2, -0.2, 0.125])  # alpha * y * o = 1.6, 1.6, 1.0
    assert float(hinge_alpha_loss(o, y, alpha)) == 0.0
    o2 = torch.tensor([0.2, -0.05, 0.0], requires_grad=True)  # second and third unfitted
    loss = hinge_alpha_loss(o2, y, alpha)
    assert loss.item() == pytest.approx(((1 - 0.4) + 1) / alpha / 3)
    loss.backward()
    assert torch.allclose(o2.grad, torch.tensor([0.0, 1.0, -1.0]) / 3)
    for big in (1e3, 1e6):  # at large alpha the gradient is still -y on unfitted points
        o3 = torch.tensor([1e-9, 1e-9], requires_grad=True)
        hinge_alpha_loss(o3, torch.tensor([1.0, -1.0]), big).backward()
        assert torch.allclose(o3.grad, torch.tensor([-0.5, 0.5]))
    with pytest.raises(ValueError):
        hinge_alpha_loss(o, y[:2], alpha)
    with pytest.raises(ValueError):
        hinge_alpha_loss(o, y, 0.0)


def test_temperature():
    assert temperature(0.8, 16, 64) == pytest.approx(0.8 / 1024)
    with pytest.raises(ValueError):
        temperature(0.1, 0)


def test_train_until_fit_fits_every_point_and_reports_exact_quantities():
    Xtr, ytr, Xte, yte = digits_parity(128, seed=0)
    torch.manual_seed(0)
    net = NTKMLP(64, width=32, depth=2)
    w0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).clone()
    with torch.no_grad():
        f0 = net(Xtr)
    r = train_until_fit(net, Xtr, ytr, alpha=64.0, T=0.01, batch_size=8, seed=0, X_test=Xte, y_test=yte, check_every=7)
    assert r["converged"] and r["train_err"] == 0.0 and 0 <= r["test_err"] < 0.5
    with torch.no_grad():
        assert float((64.0 * ytr * (net(Xtr) - f0)).min()) >= 1.0
    w = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    assert r["rel_dw"] == pytest.approx(float((w - w0).norm() / w0.norm()), rel=1e-6)
    assert r["t_star"] == pytest.approx(0.01 * 32 * 8 * r["steps"])
    # the stopping time does not depend on how often the fit is checked
    torch.manual_seed(0)
    r1 = train_until_fit(NTKMLP(64, width=32, depth=2), Xtr, ytr, 64.0, 0.01, 8, seed=0, check_every=1)
    assert r1["steps"] == r["steps"] and r1["rel_dw"] == pytest.approx(r["rel_dw"], rel=1e-5)


def test_train_until_fit_before_training_and_lazy_limit():
    Xtr, ytr, _, _ = digits_parity(128, seed=0)
    torch.manual_seed(0)
    r = train_until_fit(NTKMLP(64, width=32, depth=2), Xtr, ytr, 64.0, 0.01, 8, max_steps=1)
    assert not r["converged"] and r["steps"] == 1 and 0 < r["rel_dw"] < 0.05
    rel = []
    for alpha in (1.0, 1024.0):  # larger alpha, smaller weight change (lazy)
        torch.manual_seed(0)
        rel.append(train_until_fit(NTKMLP(64, width=32, depth=2), Xtr, ytr, alpha, 1e-3, 8)["rel_dw"])
    assert rel[1] < rel[0] / 20
    with pytest.raises(ValueError, match="batch_size"):
        train_until_fit(NTKMLP(64, width=32, depth=2), Xtr, ytr, 1.0, 0.01, 500)
    with pytest.raises(ValueError, match="labels"):
        train_until_fit(NTKMLP(64, width=32, depth=2), Xtr, ytr * 0, 1.0, 0.01, 8)


# --- crossing_point ---------------------------------------------------------------------------------


def test_crossing_point_on_exact_power_laws():
    x = np.geomspace(0.1, 100, 13)
    assert crossing_point(x, 3 * x**0.8, 10.0) == pytest.approx((10 / 3) ** (1 / 0.8))
    assert crossing_point(x, 2 * x**2, 50.0) == pytest.approx(5.0)
    assert math.isnan(crossing_point(x, 3 * x**0.8, 1e6))
    assert crossing_point(x, 3 * x**0.8, 0.1) == pytest.approx(0.1)
    # first crossing of a non-monotone curve
    assert crossing_point([1, 2, 4, 8], [1, 4, 1, 4], 2.0) == pytest.approx(2**0.5)
    with pytest.raises(ValueError):
        crossing_point([2, 1], [1, 2], 1.5)
    with pytest.raises(ValueError):
        crossing_point([1, 2], [1, 2], -1)
