r"""Exact Gaussian-process posteriors, and draws from them.

With a prior :math:`f\sim\mathcal{GP}(0,k)` and observations :math:`Y=f(X)+\varepsilon`,
:math:`\varepsilon\sim\mathcal N(0,\sigma^2I)`, the posterior at test inputs :math:`X_*` is
Gaussian,

.. math::
   \mu_*=K_{*X}(K_{XX}+\sigma^2I)^{-1}Y,\qquad
   \Sigma_*=K_{**}-K_{*X}(K_{XX}+\sigma^2I)^{-1}K_{X*},

computed through a Cholesky factor (:func:`gaussian_posterior`). Several outputs (the columns
of :math:`Y`) share the kernel and are independent given it. Introduced in
{ref}`ch-permutation-learning`, where an infinitely wide trained network is a draw from such a
posterior.

**Scale mixtures.** With an unknown scale :math:`s` of the whole kernel, noise included,
:math:`Y\mid s\sim\mathcal N(0,s\tilde K)` with :math:`\tilde K=K+\varepsilon I`, and a prior
:math:`s\sim\mathrm{InvGamma}(\alpha,\beta)`, the posterior of :math:`s` is
:math:`\mathrm{InvGamma}(\alpha+N/2,\beta+q/2)` with :math:`N` the number of scalar targets and
:math:`q=\sum_c y_c^\top\tilde K^{-1}y_c`, and each test output is Student-t,

.. math:: y_*\mid Y\sim t_{2\alpha+N}\Big(K_{*X}\tilde K^{-1}y,\;
   \frac{2\beta+q}{2\alpha+N}\big(k_{**}-K_{*X}\tilde K^{-1}K_{X*}+\varepsilon\big)\Big)

(:func:`student_t_posterior`, as the official code of Lee et al. 2022 computes it). Any other
prior on :math:`s` is handled by self-normalised importance sampling with the prior as proposal
(:func:`scale_mixture_is_posterior`). Introduced in {ref}`ch-scale-mixture-nngp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ._validate import check_rng, integer, number
from ._validate import finite_array as _finite

__all__ = [
    "ScaleMixturePosterior",
    "blr_posterior",
    "gaussian_posterior",
    "gp_prior_batch",
    "rbf_kernel",
    "sample_gaussian",
    "scale_mixture_is_posterior",
    "student_t_posterior",
]


def gaussian_posterior(
    K_train, K_test_train, K_test, Y, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    r"""Posterior mean ``(n*, c)`` (``(n*,)`` for a vector ``Y``), covariance.

    ``K_train``: ``(n, n)``; ``K_test_train``: ``(n*, n)``; ``K_test``:
    ``(n*, n*)``; ``Y``: ``(n,)`` or ``(n, c)``. ``noise`` is
    :math:`\sigma^2`, 0 for interpolation (``K_train`` must then be
    positive definite). The covariance is ``(n*, n*)``.
    """
    K, Ks, Kss, Y = (
        _finite(a, name)
        for a, name in (
            (K_train, "K_train"),
            (K_test_train, "K_test_train"),
            (K_test, "K_test"),
            (Y, "Y"),
        )
    )
    if K.ndim != 2 or Ks.ndim != 2 or Kss.ndim != 2 or Y.ndim not in (1, 2):
        raise ValueError(
            "need 2-d kernel matrices and Y of shape (n,) or (n, c)"
        )
    n = K.shape[0]
    if (
        K.shape != (n, n)
        or Ks.shape[1:] != (n,)
        or Kss.shape != (Ks.shape[0],) * 2
    ):
        raise ValueError(
            "need K_train (n, n), K_test_train (n*, n), K_test (n*, n*)"
        )
    if Y.shape[0] != n:
        raise ValueError(f"Y must be (n,) or (n, c) with n = {n}")
    number(noise, "noise", positive=False)
    try:
        factor = cho_factor(K + noise * np.eye(n), lower=True)
    except np.linalg.LinAlgError as err:
        raise ValueError("K_train + noise I is not positive definite") from err
    mean = Ks @ cho_solve(factor, Y)
    cov = Kss - Ks @ cho_solve(factor, Ks.T)
    return mean, (cov + cov.T) / 2


def sample_gaussian(
    mean, cov, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    r"""``n_samples`` draws of :math:`\mu+\Sigma^{1/2}z`: shape ``(n_samples, *mean.shape)``.

    ``mean`` is ``(n*,)`` or ``(n*, c)``; with columns, each column is drawn independently
    with the shared covariance ``cov`` ``(n*, n*)``. The square root comes from an
    eigendecomposition with round-off negative eigenvalues set to 0, so a singular posterior
    (test points on the training set) is fine.
    """
    mean, cov = _finite(mean, "mean"), _finite(cov, "cov")
    if mean.ndim not in (1, 2) or cov.shape != (mean.shape[0],) * 2:
        raise ValueError("need mean (n*,) or (n*, c) and cov (n*, n*)")
    n_samples = integer(n_samples, "n_samples")
    check_rng(rng)
    w, V = np.linalg.eigh((cov + cov.T) / 2)
    root = V * np.sqrt(np.clip(w, 0.0, None))
    z = rng.standard_normal((int(n_samples), *mean.shape))
    if mean.ndim == 1:
        return mean + z @ root.T
    return mean + root @ z  # (n*, n*) @ (s, n*, c), batched over draws


def _unit_posterior(K_train, K_test_train, k_test_diag, Y, eps):
    """The NNGP posterior at unit scale: mean, marginal variance (noise
    included), q and N."""
    K, Ks, kss, Y = (
        _finite(a, name)
        for a, name in (
            (K_train, "K_train"),
            (K_test_train, "K_test_train"),
            (k_test_diag, "k_test_diag"),
            (Y, "Y"),
        )
    )
    n = K.shape[0] if K.ndim == 2 else -1
    if (
        K.shape != (n, n)
        or Ks.ndim != 2
        or Ks.shape[1] != n
        or kss.shape != (Ks.shape[0],)
        or Y.ndim not in (1, 2)
        or Y.shape[0] != n
    ):
        raise ValueError(
            "need K_train (n, n), K_test_train (n*, n), k_test_diag (n*,) "
            "and Y (n,) or (n, c)"
        )
    number(eps, "eps", positive=False)
    try:
        factor = cho_factor(K + eps * np.eye(n), lower=True)
    except np.linalg.LinAlgError as err:
        raise ValueError("K_train + eps I is not positive definite") from err
    alpha_y = cho_solve(factor, Y)
    mean = Ks @ alpha_y
    var = kss - np.einsum("ij,ji->i", Ks, cho_solve(factor, Ks.T)) + eps
    return mean, np.maximum(var, 1e-300), float((Y * alpha_y).sum()), Y.size


def student_t_posterior(
    K_train, K_test_train, k_test_diag, Y, eps: float, alpha: float, beta: float
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""``(mean, scale2, dof)`` of the Student-t posterior predictive of a
    scale mixture :math:`\int\mathcal{GP}(0,sK)\,d\,\mathrm{InvGamma}(s;
    \alpha,\beta)` (the module's equation): ``mean`` ``(n*,)`` or
    ``(n*, c)``, ``scale2`` ``(n*,)`` (shared by the outputs, noise
    :math:`\varepsilon` included), ``dof`` :math:`=2\alpha+N`. ``K_train`` is
    the kernel at unit scale (``last_var=1``), ``eps`` the noise (jitter) at
    unit scale. For :math:`\alpha=\beta\to\infty` the scale tends to 1 and
    the t to the Gaussian NNGP posterior.
    """
    number(alpha, "alpha")
    number(beta, "beta")
    mean, var, q, N = _unit_posterior(
        K_train, K_test_train, k_test_diag, Y, eps
    )
    dof = 2 * alpha + N
    return mean, (2 * beta + q) / dof * var, float(dof)


@dataclass(frozen=True)
class ScaleMixturePosterior:
    r"""A posterior predictive :math:`\sum_iw_i\,\mathcal N(\mu,s_iv)`: the
    unit-scale mean ``mean`` and variance ``var`` (``(n*,)``), the scales
    ``scales`` and their self-normalised weights ``weights``. ``logpdf(y)``
    is the log density of each scalar test target; ``ess`` the effective
    sample size :math:`1/\sum_iw_i^2`."""

    mean: np.ndarray
    var: np.ndarray
    scales: np.ndarray
    weights: np.ndarray

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights**2))

    def logpdf(self, y) -> np.ndarray:
        """Log predictive density of each entry of ``y`` (shaped like ``mean``)."""
        y = _finite(y, "y")
        if y.shape != self.mean.shape:
            raise ValueError(
                f"y must have the shape of mean, {self.mean.shape}"
            )
        var = self.var if y.ndim == 1 else self.var[:, None]
        r2 = (y - self.mean) ** 2
        keep = self.weights > 0
        logw, sc = np.log(self.weights[keep]), self.scales[keep]
        out = np.full(y.shape, -np.inf)
        for i in range(0, sc.size, 256):  # chunks bound the memory
            s = sc[i : i + 256].reshape(-1, *([1] * y.ndim))
            lp = logw[i : i + 256].reshape(s.shape) - 0.5 * (
                np.log(2 * np.pi * s * var) + r2 / (s * var)
            )
            out = np.logaddexp(out, np.logaddexp.reduce(lp, axis=0))
        return out


def scale_mixture_is_posterior(
    K_train, K_test_train, k_test_diag, Y, eps: float, scales
) -> ScaleMixturePosterior:
    r"""The posterior predictive of :math:`\int\mathcal{GP}(0,sK)\,dH(s)` for
    any scale prior :math:`H`, from ``scales`` drawn from it: self-normalised
    importance sampling with the prior as proposal, weights
    :math:`w_i\propto\mathcal N(Y;0,s_i\tilde K)\propto
    s_i^{-N/2}e^{-q/(2s_i)}` (as the official ``classification.py`` does for
    the Burr-XII prior). Arguments as for :func:`student_t_posterior`.
    """
    sc = _finite(scales, "scales")
    if sc.ndim != 1 or np.any(sc <= 0):
        raise ValueError("scales must be a 1-d array of positive numbers")
    mean, var, q, N = _unit_posterior(
        K_train, K_test_train, k_test_diag, Y, eps
    )
    logw = -0.5 * N * np.log(sc) - 0.5 * q / sc
    w = np.exp(logw - logw.max())
    return ScaleMixturePosterior(mean, var, sc, w / w.sum())


def _per_task(v, name: str, batch: int):
    """A positive float, or a ``(batch,)`` tensor of positive numbers, as a
    float64 tensor of shape ``(batch, 1, 1)``."""
    import torch

    if isinstance(v, torch.Tensor):
        t = v.detach().to(torch.float64).reshape(-1)
        if t.shape != (batch,) or not (torch.isfinite(t) & (t > 0)).all():
            raise ValueError(
                f"{name} must be a positive number or {batch} positive numbers"
            )
        return t[:, None, None]
    return torch.full((batch, 1, 1), number(v, name), dtype=torch.float64)


def rbf_kernel(x1, x2, lengthscale=0.2, outputscale=1.0):
    r"""The RBF kernel :math:`k(x,x')=\sigma_f^2\exp(-\lVert x-x'\rVert^2/(2\ell^2))`
    between ``x1`` ``(batch, n, d)`` and ``x2`` ``(batch, m, d)``: ``(batch,
    n, m)``, float64. ``lengthscale`` :math:`\ell` and ``outputscale``
    :math:`\sigma_f^2` are positive numbers or ``(batch,)`` tensors, one per
    dataset."""
    import torch

    x1, x2 = (torch.as_tensor(x, dtype=torch.float64) for x in (x1, x2))
    if (
        x1.ndim != 3
        or x2.ndim != 3
        or x1.shape[::2] != x2.shape[::2]
        or not (torch.isfinite(x1).all() and torch.isfinite(x2).all())
    ):
        raise ValueError("need finite x1 (batch, n, d) and x2 (batch, m, d)")
    b = x1.shape[0]
    ell, s2 = (
        _per_task(lengthscale, "lengthscale", b),
        _per_task(outputscale, "outputscale", b),
    )
    d2 = (x1[:, :, None, :] - x2[:, None, :, :]).pow(2).sum(-1)
    return s2 * torch.exp(-d2 / (2 * ell**2))


def gp_prior_batch(
    batch: int,
    n: int,
    x_dim: int = 1,
    lengthscale=0.2,
    outputscale=1.0,
    noise: float = 0.01,
    generator=None,
    x=None,
):
    r"""``batch`` datasets of ``n`` points from a GP prior with the RBF kernel
    (:func:`rbf_kernel`) plus Gaussian noise of variance ``noise``: ``(x,
    y)`` of shapes ``(batch, n, x_dim)`` and ``(batch, n)`` (torch, float32).
    Inputs are uniform on :math:`[0,1]^{d}` unless ``x`` (``(n, x_dim)`` or
    ``(batch, n, x_dim)``) is given; ``lengthscale`` and ``outputscale`` may
    differ per dataset (``(batch,)`` tensors). The training data of a
    prior-fitted network and of neural processes.
    """
    import torch

    batch, n, x_dim = (
        integer(batch, "batch"),
        integer(n, "n"),
        integer(x_dim, "x_dim"),
    )
    number(noise, "noise", positive=False)
    if batch * n * n * x_dim > 2e8:
        raise ValueError(
            f"batch * n^2 * x_dim = {batch * n * n * x_dim:.2e} is too large "
            "(the kernel matrices would not fit in memory)"
        )
    if x is None:
        xs = torch.rand(
            batch, n, x_dim, generator=generator, dtype=torch.float64
        )
    else:
        xs = torch.as_tensor(x, dtype=torch.float64)
        if xs.ndim == 2:
            xs = xs.expand(batch, *xs.shape)
        if xs.shape != (batch, n, x_dim) or not torch.isfinite(xs).all():
            raise ValueError(
                f"x must be finite, (n, x_dim) or (batch, n, x_dim) = {(batch, n, x_dim)}"
            )
    K = rbf_kernel(xs, xs, lengthscale, outputscale)
    jitter = 1e-6 * _per_task(outputscale, "outputscale", batch)
    K = K + (noise + jitter) * torch.eye(n, dtype=torch.float64)
    L = torch.linalg.cholesky(K)
    z = torch.randn(batch, n, 1, generator=generator, dtype=torch.float64)
    return xs.float(), (L @ z)[..., 0].float()


def blr_posterior(
    X, y, m0, S0, noise_var: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""The posterior :math:`\mathcal N(m,S)` of Bayesian linear regression,
    :math:`y=Xw+\varepsilon`, :math:`\varepsilon\sim\mathcal N(0,\sigma^2I)`,
    under the prior :math:`w\sim\mathcal N(m_0,S_0)`:

    .. math:: S=\big(S_0^{-1}+X^\top X/\sigma^2\big)^{-1},\qquad
       m=S\big(S_0^{-1}m_0+X^\top y/\sigma^2\big).

    Because the posterior is again Gaussian, it can serve as the prior of the
    next batch of data, and updating batch by batch gives exactly the
    posterior of all data at once (the linear-Gaussian case of the
    sequential Bayes of {ref}`ch-sequential-bayes-cl`). It is the
    weight-space view of a GP with the kernel :math:`xS_0x'^\top`.
    ``X`` ``(n, d)``, ``y`` ``(n,)``, ``m0`` ``(d,)``, ``S0`` ``(d, d)``.
    """
    X, y = _finite(X, "X"), _finite(y, "y")
    m0, S0 = _finite(m0, "m0"), _finite(S0, "S0")
    if X.ndim != 2 or y.shape != X.shape[:1]:
        raise ValueError("need X (n, d) and y (n,)")
    d = X.shape[1]
    if m0.shape != (d,) or S0.shape != (d, d):
        raise ValueError(f"need m0 ({d},) and S0 ({d}, {d})")
    noise_var = number(noise_var, "noise_var")
    try:
        P0 = cho_solve(cho_factor(S0, lower=True), np.eye(d))
        P = P0 + X.T @ X / noise_var
        factor = cho_factor(P, lower=True)
    except np.linalg.LinAlgError as err:
        raise ValueError("S0 must be symmetric positive definite") from err
    S = cho_solve(factor, np.eye(d))
    m = cho_solve(factor, P0 @ m0 + X.T @ y / noise_var)
    return m, (S + S.T) / 2
