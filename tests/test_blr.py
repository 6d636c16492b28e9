"""sl.gp.blr_posterior: sequential updates equal the batch posterior, and the predictive
agrees with a GP with the linear kernel."""

from __future__ import annotations

import numpy as np
import pytest

import stochlearn as sl


def _data(n, d, rng):
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=d) + 0.3 * rng.normal(size=n)


def test_sequential_updates_equal_the_batch_posterior():
    rng = np.random.default_rng(0)
    X, y = _data(90, 3, rng)
    m0, S0 = np.zeros(3), 2.0 * np.eye(3)
    m, S = sl.gp.blr_posterior(X, y, m0, S0, 0.09)
    ms, Ss = m0, S0
    for part in np.array_split(np.arange(90), 3):
        ms, Ss = sl.gp.blr_posterior(X[part], y[part], ms, Ss, 0.09)
    np.testing.assert_allclose(ms, m, atol=1e-10)
    np.testing.assert_allclose(Ss, S, atol=1e-10)


def test_predictive_equals_the_linear_kernel_gp():
    rng = np.random.default_rng(1)
    X, y = _data(30, 2, rng)
    Xs = rng.normal(size=(7, 2))
    S0 = np.array([[1.5, 0.3], [0.3, 0.8]])
    m, S = sl.gp.blr_posterior(X, y, np.zeros(2), S0, 0.2)
    mu, cov = sl.gp.gaussian_posterior(X @ S0 @ X.T, Xs @ S0 @ X.T, Xs @ S0 @ Xs.T, y, 0.2)
    np.testing.assert_allclose(Xs @ m, mu, atol=1e-10)
    np.testing.assert_allclose(Xs @ S @ Xs.T, cov, atol=1e-10)


def test_more_data_shrink_the_posterior_and_bad_input_is_refused():
    rng = np.random.default_rng(2)
    X, y = _data(200, 2, rng)
    _, S_small = sl.gp.blr_posterior(X[:10], y[:10], np.zeros(2), np.eye(2), 0.1)
    _, S_big = sl.gp.blr_posterior(X, y, np.zeros(2), np.eye(2), 0.1)
    assert np.trace(S_big) < np.trace(S_small)
    with pytest.raises(ValueError):
        sl.gp.blr_posterior(X, y[:5], np.zeros(2), np.eye(2), 0.1)
    with pytest.raises(ValueError):
        sl.gp.blr_posterior(X, y, np.zeros(2), -np.eye(2), 0.1)
