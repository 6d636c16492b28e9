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


SG_SIGMA2 = torch.tensor([1.0, 4.0], dtype=torch.float64)  # a Gaussian target with known moments, mean 1


def _run_sg(step, temperature, steps=3000, chains=2000, lr=0.01, alpha=0.999):
    g = torch.Generator().manual_seed(0)
    theta = torch.zeros(chains, 2, dtype=torch.float64)
    aux = None if step != "sghmc" else torch.zeros_like(theta)
    for _ in range(steps):
        grad = -(theta - 1.0) / SG_SIGMA2  # full-batch gradient of log N(1, diag(SG_SIGMA2))
        if step == "sgld":
            theta = sl.mcmc.sgld_step(theta, grad, lr, temperature, generator=g)
        elif step == "psgld":
            theta, aux = sl.mcmc.psgld_step(theta, grad, aux, lr, temperature, alpha=alpha, generator=g)
        else:
            theta, aux = sl.mcmc.sghmc_step(theta, aux, grad, lr, 0.02, temperature, generator=g)
    return theta


@pytest.mark.parametrize(
    "step, kwargs, rtol",
    [
        ("sgld", {}, 0.05),
        ("sghmc", {"lr": 0.005, "steps": 4000}, 0.05),
        # without the correction term Gamma, pSGLD is biased by the fluctuations of its
        # preconditioner; slow ones (alpha = 0.999) keep the bias near 10 % here
        ("psgld", {"steps": 6000}, 0.12),
    ],
)
def test_sg_mcmc_samples_a_gaussian_and_its_tempered_version(step, kwargs, rtol):
    theta = _run_sg(step, 1.0, **kwargs)
    assert torch.allclose(theta.mean(0), torch.ones(2, dtype=torch.float64), atol=0.1)
    assert torch.allclose(theta.var(0), SG_SIGMA2, rtol=rtol)
    cold = _run_sg(step, 0.25, **kwargs)  # p^(1/T): the variance scales with T
    assert torch.allclose(cold.var(0), 0.25 * SG_SIGMA2, rtol=rtol)


def test_psgld_bias_shrinks_as_the_preconditioner_slows():
    fast = _run_sg("psgld", 1.0, steps=3000, alpha=0.99).var(0)
    slow = _run_sg("psgld", 1.0, steps=6000, alpha=0.999).var(0)
    assert ((slow / SG_SIGMA2 - 1).abs() < 0.5 * (fast / SG_SIGMA2 - 1).abs()).all()


def test_sg_mcmc_steps_reject_bad_arguments():
    t = torch.zeros(3, 2)
    with pytest.raises(ValueError):
        sl.mcmc.sgld_step(t, torch.zeros(3), 0.1)
    with pytest.raises(ValueError):
        sl.mcmc.sgld_step(t, t, -0.1)
    with pytest.raises(ValueError):
        sl.mcmc.psgld_step(t, t, None, 0.1, alpha=1.0)
    with pytest.raises(ValueError):
        sl.mcmc.sghmc_step(t, torch.zeros(2), t, 0.1)
    with pytest.raises(ValueError):
        sl.mcmc.sghmc_step(t, t, t, 0.1, friction=0.0)
    # at temperature 0 SGLD is gradient ascent on log p
    assert torch.allclose(sl.mcmc.sgld_step(torch.ones(1), torch.ones(1), 0.2, 0.0), torch.tensor([1.1]))


def test_rhat_is_one_for_agreeing_chains_and_large_for_disagreeing_ones():
    rng = np.random.default_rng(0)
    same = rng.normal(size=(4, 500, 3))
    r = sl.mcmc.rhat(same)
    assert r.shape == (3,) and np.all(np.abs(r - 1) < 0.01)
    shifted = same + np.array([0.0, 0.0, 0.0, 2.0])[:, None, None]
    assert np.all(sl.mcmc.rhat(shifted) > 1.1)
    # a chain that drifts is caught by splitting it in halves
    drift = rng.normal(size=(1, 400)) + np.linspace(0, 3, 400)
    assert sl.mcmc.rhat(drift) > 1.1
    with pytest.raises(ValueError):
        sl.mcmc.rhat(np.zeros((2, 3)))
