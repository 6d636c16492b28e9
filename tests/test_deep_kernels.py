"""Dual activations, infinitely deep NNGP/NTK kernels on the sphere, their limiting classifiers
and the Dirichlet data (wide-deep-optimality), against the official code's numbers
(tests/fixtures/official_inf_depth.json, uhlerlab/inf_depth_ntks run once outside the project)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

import stochlearn as sl

K = sl.kernels
FIX = json.loads((Path(__file__).parent / "fixtures" / "official_inf_depth.json").read_text())
D = FIX["data"]
X, Xt = np.array(D["X_train"]), np.array(D["X_test"])
y = np.array(D["y_train"])

NAMES = ["relu", "erf", "2d_opt", "3d_opt", "5d_opt", "9d_opt", "sine_1", "sine_2.676", "monomial_3"]


@pytest.mark.parametrize("name", NAMES)
def test_duals_are_normalised_and_their_derivatives_are_right(name):
    xi, dxi = K.dual(name)
    assert xi(np.float64(1.0)) == pytest.approx(1.0, abs=1e-12)
    r = np.linspace(-0.9, 0.9, 37)
    h = 1e-6
    assert np.allclose(dxi(r), (xi(r + h) - xi(r - h)) / (2 * h), atol=1e-6)


@pytest.mark.parametrize("name", ["erf", "relu", "sine_1", "2d_opt", "3d_opt", "5d_opt", "9d_opt"])
def test_duals_equal_the_official_ones(name):
    grid = FIX["dual_act_grid"]
    x = np.array(grid["x"])
    vals = grid["values"][name]
    xi, dxi = K.dual(name)
    assert np.allclose(xi(x), vals["dual_act"], atol=1e-12, equal_nan=True)
    if vals.get("d_dual_act") is not None and name != "sine_1":  # official d_dual_act has no sine_<a>
        assert np.allclose(dxi(x), vals["d_dual_act"], atol=1e-9, equal_nan=True)


def test_kernels_equal_the_official_ones():
    ks = FIX["kernels"]
    assert np.allclose(K.deep_nngp(X @ X.T, "2d_opt", 3), ks["nngp_2d_opt_depth3"]["K_train_raw"], atol=1e-12)
    ntk = K.deep_ntk(X @ X.T, "2d_opt", 3, normalize=False)
    assert np.allclose(ntk, ks["ntk_2d_opt_depth3"]["K_train_raw"], rtol=1e-12)
    assert np.allclose(K.deep_ntk(X @ X.T, "2d_opt", 3) * 85, ntk, rtol=1e-12)  # 1 + 4 + 16 + 64
    relu = K.deep_ntk(X @ X.T, "relu", 3, normalize=False)
    assert np.allclose(relu, ks["ntk_relu_depth3"]["K_train_raw"], rtol=1e-12)


def test_normalised_ntk_stays_finite_at_great_depth():
    assert np.all(np.isfinite(K.deep_ntk(np.array([0.3, 0.9, 1.0]), "2d_opt", 5000)))
    k = K.deep_ntk(np.array([0.3, 0.9, 0.999, 1.0]), "2d_opt", 50)  # a spike at ρ = 1
    assert k[-1] == pytest.approx(1.0) and 0 < k[0] < k[1] < k[2] < 1e-30


def test_classifiers_equal_the_official_ones():
    c = FIX["classifiers"]
    pred = K.kernel_classifier(K.deep_nngp(X @ X.T, "2d_opt", 3), y, K.deep_nngp(X @ Xt.T, "2d_opt", 3))
    assert pred.tolist() == FIX["kernels"]["nngp_2d_opt_depth3"]["solve_kr_test"]["preds"]
    assert K.singular_kernel_classifier(X, y, Xt, 1.0).tolist() == c["devroye"]["preds"]
    bayes = sl.data.dirichlet.dirichlet_bayes_classifier(np.array(D["SX_test"]), D["alpha1"], D["alpha2"], D["prior1"])
    assert bayes.tolist() == c["bayes"]["preds"]


def test_limits_become_nearest_neighbour():
    rng = np.random.default_rng(0)
    Xr, yr, _ = sl.data.dirichlet.dirichlet_sphere(200, [1, 2], [2, 1], 0.4, rng)
    Xq, _, _ = sl.data.dirichlet.dirichlet_sphere(100, [1, 2], [2, 1], 0.4, rng)
    nn1 = KNeighborsClassifier(1).fit(Xr, yr).predict(Xq)
    assert (K.monomial_deep_logscore(Xr, yr, Xq, 3, 20) == nn1).all()
    assert (K.singular_kernel_classifier(Xr, yr, Xq, 400.0) == nn1).all()
    assert K.singular_kernel_classifier(Xr, yr, Xr[:5], 1.0).tolist() == yr[:5].tolist()  # on a point


def test_singular_exponent_rule():
    assert [K.singular_exponent(n) for n in ("2d_opt", "3d_opt", "5d_opt", "9d_opt")] == pytest.approx([1, 2, 4, 8])
    assert K.singular_exponent("2d_opt", "ntk") == pytest.approx(3)
    assert K.singular_exponent("monomial_3") == np.inf  # 1-NN
    # the official sine_<a> duals paired with 3-, 5- and 9-dimensional data give α = d − 1 too
    sines = [K.singular_exponent(f"sine_{a}") for a in ("2.676", "6.13539", "13.8258")]
    assert sines == pytest.approx([2, 4, 8], abs=1e-3)
    K.DUALS["offset"] = (lambda r: 0.1 + 0.9 * r**2, lambda r: 1.8 * r)  # ξ(0) > 0: majority vote
    try:
        with pytest.raises(ValueError, match="ξ\\(0\\) = 0"):
            K.singular_exponent("offset")
    finally:
        del K.DUALS["offset"]
    with pytest.raises(ValueError, match="needs"):
        K.singular_exponent("relu")


def test_dirichlet_data_has_the_prior_and_lies_on_the_sphere():
    Xd, yd, S = sl.data.dirichlet.dirichlet_sphere(1001, [1, 2, 3], [3, 2, 1], 0.3, np.random.default_rng(1))
    assert (yd > 0).sum() == int(1001 * 0.3)
    assert np.allclose(np.linalg.norm(Xd, axis=1), 1) and np.allclose(S.sum(1), 1)
    with pytest.raises(ValueError):
        sl.data.dirichlet.dirichlet_sphere(10, [1, 2], [1, 2, 3], 0.5, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["2d_opt", "erf", "relu", "sine_1", "5d_opt", "monomial_3"])
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_log_domain_table_equals_direct_iteration(name, kind):
    if name == "monomial_3" and kind == "ntk":
        pytest.skip("ξ'(1) = 3 but the NTK of ρ³ is not used")
    rho = np.r_[np.linspace(-0.99, -0.05, 40), np.linspace(0.05, 0.99, 40), 1 - np.logspace(-12, -2, 11)]
    direct = K.deep_nngp(rho, name, 10) if kind == "nngp" else K.deep_ntk(rho, name, 10)
    one = K.deep_kernel_table(name, 1, kind)  # depth 1 is ξ itself (NNGP)
    table = K.deep_kernel_table(name, 10, kind)
    la, sg = table.log_abs_at(1 - rho)
    assert np.allclose(sg * np.exp(la), direct, rtol=2e-3, atol=1e-300)
    if kind == "nngp":
        la1, sg1 = one.log_abs_at(1 - rho)
        assert np.allclose(sg1 * np.exp(la1), K.dual(name)[0](rho), rtol=2e-3)
    assert table.log_abs_at(0.0)[0] == 0.0  # ρ = 1: the normalised kernel is 1


def test_log_domain_table_does_not_underflow_where_direct_iteration_does():
    rho = np.array([0.2, 0.5, 0.9])
    assert (K.deep_nngp(rho, "2d_opt", 2000) == 0).all()  # 2^-2000 underflows
    la, _ = K.deep_kernel_table("2d_opt", 2000).log_abs_at(1 - rho)
    # far from ρ = 1 each layer halves Σ: log Σ ≈ -2000 log 2 + O(1), increasing in ρ
    assert np.all(np.abs(la / (2000 * np.log(2)) + 1) < 0.01) and np.all(np.diff(la) > 0)
    lt, _ = K.deep_kernel_table("2d_opt", 2000, "ntk").log_abs_at(1 - rho)
    assert np.all(np.isfinite(lt)) and np.all(np.diff(lt) > 0)


def test_log_score_equals_kernel_regression_for_vanishing_deep_kernels():
    rng = np.random.default_rng(3)
    Xr, yr, _ = sl.data.dirichlet.dirichlet_sphere(300, [1, 2], [2, 1], 0.4, rng)
    Xq, _, _ = sl.data.dirichlet.dirichlet_sphere(400, [1, 2], [2, 1], 0.4, rng)
    for name, L in [("2d_opt", 60), ("erf", 200), ("sine_1", 100)]:  # official depths
        exact = K.kernel_classifier(K.deep_nngp(Xr @ Xr.T, name, L), yr, K.deep_nngp(Xr @ Xq.T, name, L))
        assert (K.deep_kernel_logscore(Xr, yr, Xq, K.deep_kernel_table(name, L)) == exact).all()
    ntk = K.deep_kernel_logscore(Xr, yr, Xq, K.deep_kernel_table("2d_opt", 60, "ntk"))
    exact = K.kernel_classifier(K.deep_ntk(Xr @ Xr.T, "2d_opt", 60), yr, K.deep_ntk(Xr @ Xq.T, "2d_opt", 60))
    assert (ntk == exact).all()  # (with the diagonal set to its exact value 1)
    nn1 = KNeighborsClassifier(1).fit(Xr, yr).predict(Xq)
    assert (K.deep_kernel_logscore(Xr, yr, Xq, K.deep_kernel_table("monomial_3", 20)) == nn1).all()


def test_table_arguments_are_checked():
    with pytest.raises(ValueError, match="kind"):
        K.deep_kernel_table("relu", 3, "gp")
    with pytest.raises(ValueError, match="n_grid"):
        K.deep_kernel_table("relu", 3, n_grid=1)
    with pytest.raises(ValueError, match="KernelTable"):
        K.deep_kernel_logscore(X, y, Xt, None)


def test_kernel_matrix_from_a_table():
    table = K.deep_kernel_table("relu", 5, "ntk")
    M = K.deep_kernel_matrix(X, X, table)
    assert np.allclose(M, M.T) and np.allclose(np.diag(M), 1)
    assert np.allclose(M, K.deep_ntk(X @ X.T, "relu", 5), rtol=1e-4)


def test_duals_and_deep_nngp_agree_with_wide_random_networks():
    """Monte Carlo over a wide random network: the correlation of two inputs' last-layer
    activations equals the deep NNGP (the dual activation iterated), for ReLU and erf."""
    from scipy.special import erf

    rng = np.random.default_rng(5)
    width, depth = 1000, 3
    acts = {
        # normalised so that E φ(u)² = 1 for u ~ N(0, 1), as the duals assume
        "relu": lambda z: np.sqrt(2.0) * np.maximum(z, 0.0),
        "erf": lambda z: erf(z) / np.sqrt(2 / np.pi * np.arcsin(2 / 3)),
    }
    for name, phi in acts.items():
        for rho in (-0.5, 0.8):
            x = np.array([[1.0, 0.0], [rho, np.sqrt(1 - rho**2)]])  # two unit inputs
            h = x
            vals = []
            for _ in range(6):  # independent networks
                h = x * np.sqrt(2.0)  # unit inputs, weights N(0, 1/fan_in): unit preactivations
                for _ in range(depth):
                    W = rng.standard_normal((h.shape[1], width)) / np.sqrt(h.shape[1])
                    h = phi(h @ W)
                vals.append((h[0] @ h[1]) / np.sqrt((h[0] @ h[0]) * (h[1] @ h[1])))
            assert np.mean(vals) == pytest.approx(K.deep_nngp(rho, name, depth), abs=0.02)
