r"""Gaussian class mixtures with a known Bayes posterior.

:func:`ring_mixture` draws :math:`K` equally likely classes, class :math:`c` an isotropic
Gaussian :math:`\mathcal N(\mu_c,\sigma^2I_2)` with its mean on a circle,
:math:`\mu_c=r(\cos\frac{2\pi c}K,\sin\frac{2\pi c}K)`. The classes overlap, so even the best
classifier errs, and :func:`ring_posterior` gives that classifier's probabilities exactly:
:math:`p(c\mid x)=\mathrm{softmax}_c\big(-\lVert x-\mu_c\rVert^2/2\sigma^2\big)`.
Introduced in {ref}`ch-utility-probability-duality`.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_rng, finite_array, integer

__all__ = ["ring_means", "ring_mixture", "ring_posterior"]


def _check(n_classes, radius, sigma) -> None:
    integer(n_classes, "n_classes", lo=2)
    for name, v in (("radius", radius), ("sigma", sigma)):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not 0 < v < np.inf
        ):
            raise ValueError(f"{name} must be a positive number, got {v!r}")


def ring_means(n_classes: int = 5, radius: float = 1.2) -> np.ndarray:
    """The class means, ``(n_classes, 2)``, evenly spaced on a circle of ``radius``."""
    _check(n_classes, radius, 1.0)
    angle = 2 * np.pi * np.arange(n_classes) / n_classes
    return radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def ring_mixture(
    n: int,
    rng: np.random.Generator,
    n_classes: int = 5,
    radius: float = 1.2,
    sigma: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``(n, 2)`` and their labels ``(n,)``, classes equally likely."""
    _check(n_classes, radius, sigma)
    n = integer(n, "n")
    check_rng(rng)
    y = rng.integers(n_classes, size=n)
    X = ring_means(n_classes, radius)[y] + sigma * rng.standard_normal((n, 2))
    return X, y


def ring_posterior(
    X, n_classes: int = 5, radius: float = 1.2, sigma: float = 0.8
) -> np.ndarray:
    r"""The Bayes posterior :math:`p(c\mid x)`, ``(n, n_classes)``.

    Each row sums to 1.
    """
    _check(n_classes, radius, sigma)
    X = finite_array(X, "X")
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError("X must be an (n, 2) array")
    d2 = ((X[:, None, :] - ring_means(n_classes, radius)[None]) ** 2).sum(-1)
    logit = -d2 / (2 * sigma**2)
    logit -= logit.max(1, keepdims=True)
    p = np.exp(logit)
    return p / p.sum(1, keepdims=True)
