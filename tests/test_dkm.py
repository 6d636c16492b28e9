"""Deep kernel machines (sl.dkm) and the Gaussian KL divergence (sl.vi)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

import stochlearn as sl


def _spd(n, seed):
    A = torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return A @ A.T / n + 0.1 * torch.eye(n, dtype=torch.float64)


def test_gaussian_kl_matches_torch_distributions():
    for seed in range(5):
        G, K = _spd(6, seed), _spd(6, 100 + seed)
        m = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        ref = kl_divergence(MultivariateNormal(torch.zeros(6, dtype=torch.float64), G), MultivariateNormal(m, K))
        assert float(sl.vi.gaussian_kl(G, K, mean_p=m)) == pytest.approx(float(ref), abs=1e-8)
        ref0 = kl_divergence(
            MultivariateNormal(torch.zeros(6, dtype=torch.float64), G),
            MultivariateNormal(torch.zeros(6, dtype=torch.float64), K),
        )
        kl = sl.vi.gaussian_kl(G, K, chol_q=torch.linalg.cholesky(G))
        assert float(kl) == pytest.approx(float(ref0), abs=1e-8) and float(kl) > 0
        assert float(sl.vi.gaussian_kl(G, G)) == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match="positive definite"):
        sl.vi.gaussian_kl(_spd(3, 0), -_spd(3, 1))


def test_kernels_of_a_gram_matrix():
    from sklearn.metrics.pairwise import rbf_kernel

    X = np.random.default_rng(0).standard_normal((7, 3))
    G = torch.tensor(X @ X.T)
    K = sl.dkm.se_from_gram(G, lengthscale=1.5)
    assert np.allclose(K.numpy(), rbf_kernel(X, gamma=1 / (2 * 1.5**2)))
    assert torch.linalg.eigvalsh(K).min() > -1e-10
    R = sl.dkm.relu_from_gram(G)
    g = np.diag(X @ X.T)
    ref = 2 * sl.kernels.relu_expectations(X @ X.T, g[:, None], g[None, :])[0]
    assert np.allclose(R.numpy(), ref, atol=1e-6)
    assert np.allclose(np.diag(R.numpy()), g, rtol=1e-5)  # the diagonal is kept
    G0 = sl.dkm.input_gram(X)
    assert np.allclose(G0.numpy(), X @ X.T / 3)


def _regression(seed=0, n=30):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    return X, y, np.arange(n // 2), np.arange(n // 2, n)


def test_at_the_nngp_initialisation_the_objective_is_the_nngp_marginal_likelihood():
    X, y, tr, te = _regression()
    dkm = sl.dkm.DeepKernelMachine(2, "se", nu=5.0, noise_var=0.05).init(X, y[tr], tr)
    t = dkm.terms()
    assert torch.allclose(t["kl"], torch.zeros(2, dtype=torch.float64), atol=1e-8)
    chain = sl.dkm.nngp_chain(sl.dkm.input_gram(X), 2)
    K = sl.dkm.se_from_gram(chain[-1]).numpy()[np.ix_(tr, tr)] + 0.05 * np.eye(len(tr))
    from scipy.stats import multivariate_normal

    ref = multivariate_normal(np.zeros(len(tr)), K).logpdf(y[tr])
    assert dkm.objective() == pytest.approx(ref, abs=1e-6)
    assert np.allclose(dkm.gram(2), chain[-1].numpy())
    # its prediction is the NNGP's
    mean, var = dkm.predict(te)
    Kall = sl.dkm.se_from_gram(chain[-1]).numpy()
    m_ref, c_ref = sl.gp.gaussian_posterior(
        Kall[np.ix_(tr, tr)], Kall[np.ix_(te, tr)], Kall[np.ix_(te, te)], y[tr], noise=0.05
    )
    assert np.allclose(mean, m_ref) and np.allclose(var, np.diag(c_ref))


def test_fitting_raises_the_objective_and_large_nu_stays_at_the_nngp():
    X, y, tr, te = _regression(1)
    G_nngp = sl.dkm.nngp_chain(sl.dkm.input_gram(X), 2)[-1].numpy()
    devs = {}
    for nu in (1.0, 1e4):
        dkm = sl.dkm.DeepKernelMachine(2, "se", nu=nu, noise_var=0.05)
        before = dkm.init(X, y[tr], tr).objective()
        dkm.fit(X, y[tr], tr, max_iter=40)
        assert dkm.objective() > before
        devs[nu] = np.linalg.norm(dkm.gram(2) - G_nngp) / np.linalg.norm(G_nngp)
        assert np.allclose(dkm.gram(1), dkm.gram(1).T)  # a Gram matrix
        assert np.linalg.eigvalsh(dkm.gram(1)).min() > 0
    assert devs[1e4] < 1e-3 < 0.01 < devs[1.0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="nu"):
        sl.dkm.DeepKernelMachine(2, nu=[1.0])
    with pytest.raises(ValueError, match="kernel"):
        sl.dkm.DeepKernelMachine(2, kernel="poly")
    with pytest.raises(ValueError, match="lengthscale"):
        sl.dkm.se_from_gram(torch.eye(2), lengthscale=0)
