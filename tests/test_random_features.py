"""Random-feature networks (sl.kernels.random_features) and the 1-D targets
(sl.data.regression1d) of the bandlimited-random-weights chapter."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import stochlearn as sl

K = sl.kernels
R = sl.data.regression1d


def test_uniform_box_is_bounded_and_centred():
    A, b = K.sample_uniform_box(20_000, 3, 2.5, np.random.default_rng(0))
    assert A.shape == (20_000, 3) and b.shape == (20_000,)
    assert np.abs(A).max() <= 2.5 and np.abs(b).max() <= 2.5
    assert np.abs(A.mean(0)).max() < 0.05 and abs(b.mean()) < 0.05
    assert A.var() == pytest.approx(2.5**2 / 3, rel=0.03)  # U[-λ, λ] has variance λ²/3
    with pytest.raises(ValueError, match="lam"):
        K.sample_uniform_box(5, 1, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_features"):
        K.sample_uniform_box(0, 1, 1.0, np.random.default_rng(0))


def test_features_equal_a_loop_and_stay_in_range():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (7, 2))
    A, b = K.sample_uniform_box(5, 2, 50.0, rng)
    for name, act in [
        ("sigmoid", lambda t: 1 / (1 + np.exp(-t))),
        ("tanh", np.tanh),
        ("relu", lambda t: max(t, 0.0)),
    ]:
        H = K.random_features(X, A, b, name)
        loop = np.array([[act(A[j] @ X[i] - b[j]) for j in range(5)] for i in range(7)])
        assert H.shape == (7, 5) and np.allclose(H, loop)
    H = K.random_features(np.linspace(0, 1, 11), A[:, :1], b, "sigmoid")  # 1-D input
    assert H.shape == (11, 5) and np.all((H >= 0) & (H <= 1))
    big = K.random_features(np.array([0.0, 1.0]), np.array([[1e4]]), np.array([0.0]))
    assert np.all(np.isfinite(big))  # no overflow warning turned into nan
    with pytest.raises(ValueError, match="activation"):
        K.random_features(X, A, b, "gelu")


def test_ridge_readout_against_solve_sklearn_and_lstsq():
    rng = np.random.default_rng(2)
    H = rng.normal(size=(30, 30))
    y = rng.normal(size=30)
    assert np.allclose(K.ridge_readout(H, y, rel_reg=0.0), np.linalg.solve(H, y))
    H = rng.normal(size=(40, 25))
    y = rng.normal(size=40)
    s_max = np.linalg.svd(H, compute_uv=False)[0]
    for rel in (1e-4, 1e-2, 1.0):
        ref = Ridge(alpha=rel * s_max**2, fit_intercept=False, solver="svd").fit(H, y).coef_
        assert np.allclose(K.ridge_readout(H, y, rel_reg=rel), ref, atol=1e-10)
        assert np.allclose(K.ridge_readout(H, y, abs_reg=rel * s_max**2), ref, atol=1e-10)
    low_rank = H[:, :5] @ rng.normal(size=(5, 25))  # rank 5: α = 0 is the minimum-norm solution
    c = K.ridge_readout(low_rank, y, abs_reg=0.0)
    assert np.allclose(c, np.linalg.lstsq(low_rank, y, rcond=None)[0], atol=1e-8)


def test_a_larger_penalty_gives_a_smaller_output_norm():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 200)
    A, b = K.sample_uniform_box(300, 1, 20.0, rng)
    H = K.random_features(x, A, b)
    norms = [np.linalg.norm(K.ridge_readout(H, R.sine_1d(x, 3), rel)) for rel in (1e-14, 1e-10, 1e-6, 1e-2)]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    with pytest.raises(ValueError, match="penalty"):
        K.ridge_readout(H, x, rel_reg=-1.0)
    with pytest.raises(ValueError):
        K.ridge_readout(H, x[:-1])


def test_targets():
    x = np.linspace(0, 1, 100_001)
    p = R.peaks_1d(x)
    peaks = [x[i] for i in range(1, len(x) - 1) if p[i] > p[i - 1] and p[i] > p[i + 1]]
    assert peaks == pytest.approx([0.25, 0.4, 0.5], abs=2e-3)
    assert R.sine_1d(np.array([0.0, 0.025, 0.5]), 10) == pytest.approx([0, 1, 0], abs=1e-12)
    with pytest.raises(ValueError):
        R.sine_1d(x, 0)
