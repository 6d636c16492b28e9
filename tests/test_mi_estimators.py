"""The nearest-neighbour MI estimators, the lossy (compress-then-estimate) estimator, the noise
layer and the data with a known MI (ib-lossy-compression): against closed forms, scikit-learn's
estimators, a brute-force loop, and the official code's numbers (tests/fixtures/official_iblossy.json).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import digamma

import stochlearn as sl

FIX = json.loads((Path(__file__).parent / "fixtures" / "official_iblossy.json").read_text())["cases"]


def gauss_pair(n, rho, d=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, d))
    return x, y, -0.5 * d * math.log(1 - rho**2)


def ksg_brute(x, y, k, norm):
    """Kraskov's algorithm 1 written as a plain double loop."""
    n = len(x)
    dist = (lambda a, b: np.abs(a - b).max()) if norm == "chebyshev" else (lambda a, b: np.linalg.norm(a - b))
    total = 0.0
    for i in range(n):
        dx = np.array([dist(x[i], x[j]) if j != i else np.inf for j in range(n)])
        dy = np.array([dist(y[i], y[j]) if j != i else np.inf for j in range(n)])
        eps = np.sort(np.maximum(dx, dy))[k - 1]
        total += digamma((dx < eps).sum() + 1) + digamma((dy < eps).sum() + 1)
    return digamma(k) + digamma(n) - total / n


# --- KSG ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["euclidean", "chebyshev"])
def test_ksg_equals_the_brute_force_loop(norm):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((60, 2)), rng.standard_normal((60, 3))
    y[:, 0] += x[:, 0]
    got = sl.info.ksg_mi(x, y, k=4, norm=norm, standardize=False, block=7)
    assert got == pytest.approx(ksg_brute(x, y, 4, norm), abs=1e-12)


def test_ksg_recovers_the_bivariate_gaussian_and_independence():
    x, y, true = gauss_pair(2000, 0.8)
    assert abs(sl.info.ksg_mi(x, y) - true) < 0.05
    x, y, _ = gauss_pair(2000, 0.0, seed=1)
    assert abs(sl.info.ksg_mi(x, y)) < 0.03


@pytest.mark.parametrize("norm", ["euclidean", "chebyshev"])
def test_ksg_recovers_a_mixed_gaussian_in_three_dimensions(norm):
    xi, eta = sl.data.known_mi.correlated_normal(2000, 3, 3, 1.0, np.random.default_rng(5))
    assert abs(sl.info.ksg_mi(xi, eta, norm=norm) - 1.0) < 0.1


def test_ksg_does_not_change_under_an_affine_rescaling_of_a_coordinate():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((500, 2)), rng.standard_normal((500, 2))
    y += 0.7 * x
    scaled = x * np.array([3.0, -0.25]) + np.array([10.0, -4.0])
    assert abs(sl.info.ksg_mi(x, y) - sl.info.ksg_mi(scaled, y)) < 1e-9


def test_ksg_matches_scikit_learn_in_one_dimension():
    from sklearn.feature_selection import mutual_info_regression

    x, y, _ = gauss_pair(800, 0.6, seed=2)
    ref = mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0)[0]
    assert sl.info.ksg_mi(x, y, k=3) == pytest.approx(ref, abs=1e-6)


def test_ksg_rejects_repeated_points_and_bad_arguments():
    x = np.zeros((10, 1))
    with pytest.raises(ValueError, match="repeated points"):
        sl.info.ksg_mi(np.r_[x, x + 1], np.r_[x, x + 1], k=3, standardize=False)
    with pytest.raises(ValueError, match="k=5 neighbours"):
        sl.info.ksg_mi(np.ones((5, 1)), np.ones((5, 1)))
    with pytest.raises(ValueError, match="same number of rows"):
        sl.info.ksg_mi(np.ones((9, 1)), np.ones((8, 1)))
    with pytest.raises(ValueError, match="norm"):
        sl.info.ksg_mi(np.ones((9, 1)), np.ones((9, 1)), norm="l1")


# --- Ross's estimator for a discrete label --------------------------------------------------------
def test_ross_matches_scikit_learn_in_one_dimension():
    from sklearn.feature_selection import mutual_info_classif

    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 600)
    x = labels[:, None] + rng.standard_normal((600, 1))
    ref = mutual_info_classif(x, labels, n_neighbors=4, random_state=0)[0]
    assert sl.info.ksg_mi_discrete(x, labels, k=4) == pytest.approx(ref, abs=1e-6)


def test_ross_sees_independence_and_ten_separated_classes():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, 2000)
    assert abs(sl.info.ksg_mi_discrete(rng.standard_normal((2000, 2)), labels)) < 0.03
    centres = 20 * rng.standard_normal((10, 2))
    x = centres[labels] + rng.standard_normal((2000, 2))
    assert sl.info.ksg_mi_discrete(x, labels) > 0.95 * math.log(10)


def test_ross_leaves_out_singleton_classes():
    rng = np.random.default_rng(7)
    labels = np.r_[rng.integers(0, 2, 300), 5]
    x = rng.standard_normal((301, 1)) + labels[:, None]
    assert sl.info.ksg_mi_discrete(x, labels) == pytest.approx(sl.info.ksg_mi_discrete(x[:-1], labels[:-1]))


# --- the Gaussian closed form ---------------------------------------------------------------------
def test_gaussian_mi_closed_forms():
    assert sl.info.gaussian_mi(1.0, 1.0, 0.8) == pytest.approx(-0.5 * math.log(1 - 0.64))
    # independent blocks add up; a scale change of X changes nothing
    S = np.diag([1.0, 2.0])
    C = np.diag([0.5, 0.3])
    both = sl.info.gaussian_mi(S, S, C)
    assert both == pytest.approx(sl.info.gaussian_mi(1.0, 1.0, 0.5) + sl.info.gaussian_mi(2.0, 2.0, 0.3))
    assert sl.info.gaussian_mi(9 * S, S, 3 * C) == pytest.approx(both)
    with pytest.raises(ValueError, match="positive definite"):
        sl.info.gaussian_mi(1.0, 1.0, 1.5)


# --- Kozachenko–Leonenko ---------------------------------------------------------------------------
def test_kl_entropy_of_a_gaussian_and_its_exact_scale_equivariance():
    rng = np.random.default_rng(8)
    cov = np.array([[2.0, 0.6], [0.6, 0.5]])
    x = rng.multivariate_normal([0, 0], cov, 4000)
    true = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov))
    assert abs(sl.info.kl_entropy(x, k=3) - true) < 0.05
    A = np.array([[3.0, 1.0], [0.0, -0.5]])
    shifted = sl.info.kl_entropy(x @ A.T, k=3)
    assert shifted == pytest.approx(sl.info.kl_entropy(x, k=3) + math.log(abs(np.linalg.det(A))), abs=1e-9)


def test_kl_mi_recovers_a_gaussian_pair():
    x, y, true = gauss_pair(3000, 0.8, d=2, seed=9)
    assert abs(sl.info.kl_mi(x, y, k=3) - true) < 0.1


@pytest.mark.parametrize("case", ["A_gauss_1d_rho0.8", "B_gauss_2d_rho0.8"])
def test_kl_mi_reproduces_the_official_estimator(case):
    c = FIX[case]
    r = c["result_k5"]  # for d <= 4 the official weights are [1, 0, 0, 0, 0]: the first neighbour
    X, Y = np.array(c["X"]), np.array(c["Y"])
    kw = dict(k=1, convention="official")
    assert sl.info.kl_entropy(X, **kw) == pytest.approx(r["H_X"], abs=1e-9)
    assert sl.info.kl_entropy(np.c_[X, Y], **kw) == pytest.approx(r["H_XY"], abs=1e-9)
    assert sl.info.kl_mi(X, Y, **kw) == pytest.approx(r["mi"], abs=1e-9)
    # the textbook ψ(n) instead of log(n - 1) moves the MI by ψ(n) - log(n - 1) only
    n = len(X)
    assert sl.info.kl_mi(X, Y, k=1) - r["mi"] == pytest.approx(digamma(n) - math.log(n - 1), abs=1e-9)


def test_kl_entropy_and_discrete_mi_reproduce_the_official_estimator():
    e = FIX["E_entropy_1d_std_normal"]
    assert sl.info.kl_entropy(np.array(e["Z"]), k=1, convention="official") == pytest.approx(e["result"]["H"], abs=1e-9)
    d = FIX["D_cont_disc_2d_3classes"]
    L, y = np.array(d["L"]), np.array(d["y"])
    got = sl.info.kl_mi_discrete(L, y, k=1, convention="official")
    assert got == pytest.approx(d["result_k5"]["mi"], abs=1e-9)


# --- the lossy estimator ------------------------------------------------------------------------
def test_lossy_estimator_with_pca_reproduces_the_official_one():
    f = FIX["F_lossy_pca_8d"]
    X, Y = np.array(f["X"]), np.array(f["Y"])
    est = sl.info.LossyMIEstimator(
        sl.info.pca_compressor(X, 2),
        sl.info.pca_compressor(Y, 2),
        estimator=sl.info.kl_mi,
        kwargs=dict(k=1, convention="official"),
    )
    assert est.estimate(X, Y) == pytest.approx(f["result_lossy_pca2"]["mi"], abs=1e-8)


def test_lossy_estimator_without_compressors_is_the_estimator_itself():
    x, y, _ = gauss_pair(300, 0.5, d=2, seed=10)
    assert sl.info.LossyMIEstimator().estimate(x, y) == sl.info.ksg_mi(x, y)
    labels = (x[:, 0] > 0).astype(int)
    est = sl.info.LossyMIEstimator(estimator=sl.info.ksg_mi_discrete)
    assert est.estimate(x, labels) == sl.info.ksg_mi_discrete(x, labels)


def test_pca_compression_recovers_the_linear_gaussian_benchmark_where_raw_ksg_fails():
    rng = np.random.default_rng(11)
    X, Y, true = sl.data.known_mi.linear_gaussian_embedding(2000, 256, 2, 1.0, 2.0, rng)
    assert 0.8 < true < 1.0  # the noise destroys some of the latent's 1 nat
    lossy = sl.info.LossyMIEstimator(sl.info.pca_compressor(X, 2), sl.info.pca_compressor(Y, 2))
    assert abs(lossy.estimate(X, Y) - true) < 0.1
    assert sl.info.ksg_mi(X, Y) < true - 0.15


def test_autoencoder_compressor_follows_a_curve_that_pca_cannot_and_is_repeatable():
    t = np.linspace(0, np.pi, 400)  # a half circle in 12 dimensions: a curve, not a line
    rng = np.random.default_rng(12)
    data = np.c_[np.cos(t), np.sin(t)] @ rng.standard_normal((2, 12)) + 0.01 * rng.standard_normal((400, 12))
    pca_mse = ((data - data.mean(0)) ** 2).mean() * (1 - sl.info.pca_compressor(data, 1).explained_variance_ratio.sum())
    c = sl.info.train_autoencoder_compressor(data, 1, epochs=60, generator=torch.Generator().manual_seed(1))
    assert c.mse < 0.05 * pca_mse
    code = c(torch.as_tensor(data))
    assert code.shape == (400, 1) and code.dtype == torch.float64
    again = sl.info.train_autoencoder_compressor(data, 1, epochs=60, generator=torch.Generator().manual_seed(1))
    assert torch.equal(code, again(torch.as_tensor(data)))


# --- the noise layer --------------------------------------------------------------------------------
def test_additive_gaussian_noise_scales():
    torch.manual_seed(0)
    x = torch.full((100_000,), 2.0)
    absolute = sl.nn.AdditiveGaussianNoise(0.3, relative_scale=False)
    assert float((absolute(x) - x).std()) == pytest.approx(0.3, rel=0.05)
    relative = sl.nn.AdditiveGaussianNoise(0.3)
    assert float((relative(x) - x).std()) == pytest.approx(0.6, rel=0.05)
    relative.eval()
    assert torch.equal(relative(x), x)
    relative.enabled_on_inference = True
    assert not torch.equal(relative(x), x)
    with pytest.raises(ValueError, match="sigma"):
        sl.nn.AdditiveGaussianNoise(-1.0)


# --- data with a known MI ---------------------------------------------------------------------------
def test_correlated_normal_carries_the_prescribed_information():
    xi, eta = sl.data.known_mi.correlated_normal(200_000, 3, 2, 1.5, np.random.default_rng(13))
    cov = np.cov(np.c_[xi, eta], rowvar=False)
    got = sl.info.gaussian_mi(cov[:3, :3], cov[3:, 3:], cov[:3, 3:])
    assert got == pytest.approx(1.5, abs=0.02)
    assert np.allclose(cov[:3, :3], np.eye(3), atol=0.02)


def test_bump_images_move_with_the_latent():
    z = np.c_[np.linspace(-2, 2, 9), np.zeros(9)]
    imgs = sl.data.known_mi.gaussian_bump_images(z, size=16).reshape(9, 16, 16)
    cols = imgs.max(1).argmax(1)  # the column of the brightest pixel
    assert (np.diff(cols) >= 0).all() and cols[-1] > cols[0]
    assert imgs.max() <= 1.0 and imgs.min() > 0
    with pytest.raises(ValueError, match="shape"):
        sl.data.known_mi.gaussian_bump_images(np.zeros((3, 3)))
