"""sl.mcmc.hmc: many chains at once, on a correlated Gaussian whose moments are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stochlearn as sl


def test_hmc_recovers_the_mean_and_covariance_of_a_correlated_gaussian():
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    prec = torch.linalg.inv(cov)

    def log_prob(theta):
        d = theta - mu
        return -0.5 * ((d @ prec) * d).sum(1)

    init = torch.zeros(16, 2, dtype=torch.float64)
    samples, stats = sl.mcmc.hmc(
        log_prob,
        init,
        n_iter=2300,
        burn=300,
        n_leapfrog=10,
        step=0.1,
        thin=2,
        generator=torch.Generator().manual_seed(0),
        return_stats=True,
    )
    assert samples.shape == (1000, 16, 2)
    flat = samples.reshape(-1, 2).numpy()
    assert np.allclose(flat.mean(0), mu.numpy(), atol=0.06)
    assert np.allclose(np.cov(flat.T), cov.numpy(), atol=0.08)
    rate = stats["accept_rate"].numpy()
    assert np.all((rate > 0.55) & (rate < 0.95))  # adapted towards 0.75


def test_hmc_rejects_bad_arguments_and_a_wrong_log_prob_shape():
    init = torch.zeros(3, 2)
    with pytest.raises(ValueError):
        sl.mcmc.hmc(lambda t: -t.pow(2).sum(1), init, n_iter=10, burn=10)
    with pytest.raises(ValueError):
        sl.mcmc.hmc(lambda t: -t.pow(2).sum(), init, n_iter=10, burn=2)
    with pytest.raises(ValueError):
        sl.mcmc.hmc(lambda t: -t.pow(2).sum(1), init[0], n_iter=10, burn=2)
