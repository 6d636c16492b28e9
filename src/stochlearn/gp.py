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
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ._validate import check_rng, integer
from ._validate import finite_array as _finite

__all__ = ["gaussian_posterior", "sample_gaussian"]


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
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float))
        or not noise >= 0
    ):
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")
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
