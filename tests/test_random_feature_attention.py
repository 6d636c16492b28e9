"""Random-feature attention (sl.kernels.rfa_features, sample_qk_weights), the ridge fit with a
penalty chosen on a validation split (sl.kernels.ridge_cv) and the token-set targets
(sl.data.token_sets)."""

from __future__ import annotations

import numpy as np
import pytest

import stochlearn as sl

K = sl.kernels
T = sl.data.token_sets


def _loop_features(X, W, value_bias=True):
    n, n1, d = X.shape
    out = []
    for x in X:
        row = []
        for Wm in W:
            acc = np.zeros(d + value_bias)
            for xi in x[1:]:
                v = np.r_[xi, 1.0] if value_bias else xi
                acc += max(x[0] @ Wm @ xi, 0.0) * v
            row.append(acc / (n1 - 1))
        out.append(np.concatenate(row))
    return np.array(out)


def test_tokens_are_unit_and_uncorrelated():
    X = T.query_key_sets(4000, 5, 6, np.random.default_rng(0))
    assert X.shape == (4000, 6, 6) and np.allclose(np.linalg.norm(X, axis=2), 1)
    assert abs(np.einsum("nd,nd->n", X[:, 0], X[:, 1]).mean()) < 0.02
    # √d⟨x0, xi⟩ has variance 1 for tokens uniform on the sphere
    s = np.sqrt(6) * np.einsum("nd,nid->ni", X[:, 0], X[:, 1:])
    assert s.var() == pytest.approx(1.0, rel=0.05)


def test_rfa_features_equal_a_loop_and_ignore_the_order_of_keys():
    rng = np.random.default_rng(1)
    X = T.query_key_sets(3, 4, 5, rng)
    W = K.sample_qk_weights(6, 5, 0.5, rng)
    for vb in (True, False):
        F = K.rfa_features(X, W, value_bias=vb)
        assert F.shape == (3, 6 * (5 + vb))
        assert np.allclose(F, _loop_features(X, W, vb), atol=1e-12)
    perm = X[:, [0, 3, 1, 4, 2]]  # the query stays first
    assert np.allclose(K.rfa_features(perm, W), K.rfa_features(X, W), atol=1e-14)
    with pytest.raises(ValueError):
        K.rfa_features(X[:, :1], W)


def test_qk_weights_have_the_stated_mean():
    W = K.sample_qk_weights(20_000, 4, 1.5, np.random.default_rng(2))
    assert W.shape == (20_000, 4, 4)
    assert np.allclose(W.mean(0), 1.5 * 2 * np.eye(4), atol=0.03)  # μ √d I with √4 = 2
    assert W.std(0) == pytest.approx(np.ones((4, 4)), abs=0.03)
    with pytest.raises(ValueError, match="mean_scale"):
        K.sample_qk_weights(2, 4, float("nan"), np.random.default_rng(0))


def test_ridge_cv_learns_a_linear_target_and_not_noise():
    rng = np.random.default_rng(3)
    F, Ft = rng.normal(size=(400, 20)), rng.normal(size=(300, 20))
    w = rng.normal(size=20)
    y, yt = F @ w + 0.01 * rng.normal(size=400), Ft @ w
    mse, lam = K.ridge_cv(F, y, Ft, yt, np.logspace(-8, 2, 11), np.random.default_rng(0))
    assert mse < 0.01 and lam <= 1e-3
    noise, noise_t = rng.normal(size=400), rng.normal(size=300)
    mse, lam = K.ridge_cv(F, noise, Ft, noise_t, np.logspace(-8, 2, 11), np.random.default_rng(0))
    assert mse == pytest.approx(1.0, abs=0.1) and lam >= 1.0  # pure noise: the largest penalties
    # one penalty: equals a direct ridge fit on the standardised features
    Z, Zt = (F - F.mean(0)) / F.std(0), (Ft - F.mean(0)) / F.std(0)
    c = np.linalg.solve(Z.T @ Z + 0.5 * 400 * np.eye(20), Z.T @ (y - y.mean()))
    direct = np.mean((Zt @ c + y.mean() - yt) ** 2) / yt.var()
    assert K.ridge_cv(F, y, Ft, yt, [0.5], np.random.default_rng(0))[0] == pytest.approx(direct)
    with pytest.raises(ValueError, match="lambdas"):
        K.ridge_cv(F, y, Ft, yt, [0.0], np.random.default_rng(0))


def test_targets():
    rng = np.random.default_rng(4)
    X = T.query_key_sets(5, 3, 4, rng)
    beta = np.array([1.0, 0, 0, 0])
    s = 2 * np.einsum("nd,nid->ni", X[:, 0], X[:, 1:])
    assert np.allclose(T.bilinear_target(X, beta), (s * 2 * X[:, 1:, 0]).mean(1))
    assert np.allclose(T.exp_similarity_target(X), np.exp(s).mean(1))
    perm = X[:, [0, 2, 3, 1]]
    assert np.allclose(T.exp_similarity_target(perm), T.exp_similarity_target(X))
    with pytest.raises(ValueError, match="unit"):
        T.bilinear_target(X, np.ones(4))
