"""Scale mixtures of NNGPs (Part III): the Student-t posterior and its importance-sampling twin
(sl.gp), their NLLs (sl.uncertainty), the erf NNGP and the GPyTorch wrapper (sl.kernels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

import stochlearn as sl

K_ = sl.kernels.nngp_relu


def _problem(n=30, n_test=12, c=1, seed=0):
    rng = np.random.default_rng(seed)
    X, Xs = rng.standard_normal((n, 3)), rng.standard_normal((n_test, 3))
    Y = np.sin(X[:, np.arange(c) % 3] * (2 + np.arange(c))) + 0.1 * rng.standard_normal((n, c))
    return X, Xs, (Y[:, 0] if c == 1 else Y), rng


def test_student_t_posterior_gaussian_limit_and_large_n_scale():
    X, Xs, Y, rng = _problem()
    args = (K_(X, X), K_(Xs, X), np.diag(K_(Xs, Xs)), Y, 0.05)
    mean, s2, dof = sl.gp.student_t_posterior(*args, alpha=1e6, beta=1e6)
    m_g, cov = sl.gp.gaussian_posterior(args[0], args[1], K_(Xs, Xs), Y, noise=0.05)
    assert np.allclose(mean, m_g)
    y_test = np.sin(Xs[:, 0] * 2)
    nll_t = sl.uncertainty.student_t_nll(y_test, mean, s2, dof)
    nll_g = sl.uncertainty.gaussian_nll(y_test, m_g, np.diag(cov) + 0.05)
    assert nll_t == pytest.approx(nll_g, abs=1e-3)
    # many targets: the inferred scale is q / N (the empirical-Bayes scale)
    X, Xs, Y, _ = _problem(n=400, c=5, seed=1)
    Kt = K_(X, X) + 0.05 * np.eye(400)
    q = float((Y * np.linalg.solve(Kt, Y)).sum())
    mean, s2, dof = sl.gp.student_t_posterior(K_(X, X), K_(Xs, X), np.diag(K_(Xs, Xs)), Y, 0.05, alpha=2.0, beta=2.0)
    _, cov = sl.gp.gaussian_posterior(K_(X, X), K_(Xs, X), K_(Xs, Xs), Y, noise=0.05)
    assert dof == 2 * 2.0 + 2000 and mean.shape == (12, 5)
    assert np.allclose(s2 / (np.diag(cov) + 0.05), q / Y.size, rtol=0.01)
    with pytest.raises(ValueError):
        sl.gp.student_t_posterior(*args, alpha=0.0, beta=1.0)


def test_importance_sampling_reproduces_the_student_t():
    X, Xs, Y, rng = _problem(c=2, seed=2)
    args = (K_(X, X), K_(Xs, X), np.diag(K_(Xs, Xs)), Y, 0.05)
    a, b = 3.0, 2.0
    mean, s2, dof = sl.gp.student_t_posterior(*args, alpha=a, beta=b)
    scales = stats.invgamma(a, scale=b).rvs(20_000, random_state=3)
    post = sl.gp.scale_mixture_is_posterior(*args, scales=scales)
    y_test = np.sin(Xs[:, :2] * 2)
    lp_t = stats.t.logpdf(y_test, df=dof, loc=mean, scale=np.sqrt(s2)[:, None])
    assert np.abs(post.logpdf(y_test) - lp_t).mean() < 0.02
    assert np.allclose(post.mean, mean) and 100 < post.ess <= 20_000
    with pytest.raises(ValueError):
        sl.gp.scale_mixture_is_posterior(*args, scales=-scales)


def test_student_t_nll_matches_scipy_and_shares_the_scale_over_outputs():
    rng = np.random.default_rng(4)
    y, m = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    s2 = rng.uniform(0.5, 2, 5)
    ref = -stats.t.logpdf(y, df=7, loc=m, scale=np.sqrt(s2)[:, None]).mean()
    assert sl.uncertainty.student_t_nll(y, m, s2, 7) == pytest.approx(ref)
    ref_g = -stats.norm.logpdf(y, m, np.sqrt(s2)[:, None]).mean()
    assert sl.uncertainty.gaussian_nll(y, m, s2) == pytest.approx(ref_g)
    with pytest.raises(ValueError):
        sl.uncertainty.student_t_nll(y, m, -s2, 7)


def test_gaussian_posterior_agrees_with_gpytorch_exact_gp():
    gpytorch = pytest.importorskip("gpytorch")
    X, Xs, Y, _ = _problem(seed=5)
    kernel = sl.kernels.nngp_gpytorch_kernel("erf", depth=2, var_w=1.5, var_b=0.2)
    Kf = sl.kernels.nngp_erf
    k = dict(depth=2, var_w=1.5, var_b=0.2)
    Xt, Xst = torch.tensor(X), torch.tensor(Xs)
    assert np.allclose(kernel(Xt, Xst).to_dense().numpy(), Kf(X, Xs, **k))
    assert np.allclose(kernel(Xst, Xst, diag=True).numpy(), np.diag(Kf(Xs, Xs, **k)))

    class GP(gpytorch.models.ExactGP):
        def __init__(self, x, y, lik):
            super().__init__(x, y, lik)
            self.mean_module = gpytorch.means.ZeroMean()
            self.covar_module = kernel

        def forward(self, x):
            return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))

    lik = gpytorch.likelihoods.GaussianLikelihood().double()
    lik.noise = 0.05
    model = GP(Xt, torch.tensor(Y), lik).double().eval()
    with (
        torch.no_grad(),
        gpytorch.settings.fast_computations(False, False, False),
    ):
        pred = model(Xst)
    mean, cov = sl.gp.gaussian_posterior(Kf(X, X, **k), Kf(Xs, X, **k), Kf(Xs, Xs, **k), Y, noise=0.05)
    assert np.allclose(pred.mean.numpy(), mean, atol=1e-6)
    assert np.allclose(pred.covariance_matrix.numpy(), cov, atol=1e-6)
    with pytest.raises(ValueError):
        sl.kernels.nngp_gpytorch_kernel("tanh")


def test_nngp_on_batches_and_with_a_readout_bias():
    rng = np.random.default_rng(6)
    A, B = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 5, 2))
    for fn in (sl.kernels.nngp_relu, sl.kernels.nngp_erf):
        K = fn(A, B, depth=2, var_w=1.5, var_b=0.2)
        assert K.shape == (3, 4, 5)
        assert all(np.allclose(K[i], fn(A[i], B[i], depth=2, var_w=1.5, var_b=0.2)) for i in range(3))
        # a readout bias of variance c adds c to every entry; last_var scales the rest
        K2 = fn(A[0], B[0], depth=2, var_w=1.5, var_b=0.2, last_var=3.0, last_bias_var=0.7)
        assert np.allclose(K2, 3.0 * K[0] + 0.7)
    kernel = sl.kernels.nngp_gpytorch_kernel("relu", 2, 1.5, 0.2, last_var=3.0, last_bias_var=0.7)
    At = torch.tensor(A)
    full = kernel(At, At).to_dense().numpy()
    assert np.allclose(full[1], sl.kernels.nngp_relu(A[1], A[1], 2, 1.5, 0.2, 3.0, 0.7))
    assert np.allclose(kernel(At, At, diag=True).numpy(), np.diagonal(full, axis1=1, axis2=2))
    with pytest.raises(ValueError):
        sl.kernels.nngp_relu(A[0], B[0], last_bias_var=-1.0)
    with pytest.raises(ValueError):
        sl.kernels.nngp_gpytorch_kernel("relu", last_var=0.0)
