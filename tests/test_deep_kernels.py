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
    with pytest.raises(ValueError, match="needs"):
        K.singular_exponent("relu")


def test_dirichlet_data_has_the_prior_and_lies_on_the_sphere():
    Xd, yd, S = sl.data.dirichlet.dirichlet_sphere(1001, [1, 2, 3], [3, 2, 1], 0.3, np.random.default_rng(1))
    assert (yd > 0).sum() == int(1001 * 0.3)
    assert np.allclose(np.linalg.norm(Xd, axis=1), 1) and np.allclose(S.sum(1), 1)
    with pytest.raises(ValueError):
        sl.data.dirichlet.dirichlet_sphere(10, [1, 2], [1, 2, 3], 0.5, np.random.default_rng(0))
