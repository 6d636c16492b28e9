r"""Paired data whose mutual information is known exactly: the tests of an MI estimator.

Butakov et al. (2024) validate their estimator on pairs of high-dimensional variables whose
information is set in advance. A Gaussian pair :math:`(\xi,\eta)` with a prescribed
:math:`I(\xi;\eta)` is mapped, each variable on its own, by an *injective* map into a
high-dimensional space (images of Gaussian bumps or rectangles whose position is the latent);
an injective map does not change the mutual information, so :math:`I(X;Y)=I(\xi;\eta)`.
Introduced in {ref}`ch-ib-lossy-compression`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

__all__ = [
    "correlated_normal",
    "gaussian_bump_images",
    "linear_gaussian_embedding",
]


def _check_int(name: str, v, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _check_positive(name: str, v) -> float:
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or not v > 0
        or not math.isfinite(v)
    ):
        raise ValueError(f"{name} must be a positive number, got {v!r}")
    return float(v)


def correlated_normal(
    n: int,
    dim_x: int,
    dim_y: int,
    mi: float,
    rng: np.random.Generator,
    *,
    mix: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""``n`` samples of a Gaussian pair :math:`(\xi,\eta)` with :math:`I(\xi;\eta)=` ``mi`` nats.

    Both marginals are standard normal. The first :math:`m=\min(d_x,d_y)` coordinates of
    :math:`\xi` and :math:`\eta` form :math:`m` independent pairs, each with correlation

    .. math:: \rho=\sqrt{1-e^{-2I/m}},

    so that each pair carries :math:`-\tfrac12\log(1-\rho^2)=I/m` nats. With ``mix`` a random
    rotation (Haar-distributed) is applied within :math:`\xi` and within :math:`\eta`, which
    spreads the information over all coordinates and leaves it unchanged (as in the official
    ``multivariate_normal_from_MI``). Returns ``(xi, eta)`` of shapes ``(n, dim_x)`` and
    ``(n, dim_y)``.
    """
    n, dim_x, dim_y = (
        _check_int(k, v)
        for k, v in (("n", n), ("dim_x", dim_x), ("dim_y", dim_y))
    )
    if (
        isinstance(mi, bool)
        or not isinstance(mi, (int, float, np.floating))
        or not math.isfinite(mi)
        or mi < 0
    ):
        raise ValueError(f"mi must be a finite number >= 0 (nats), got {mi!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. run.rng())"
        )
    m = min(dim_x, dim_y)
    rho = math.sqrt(-math.expm1(-2.0 * float(mi) / m))
    xi = rng.standard_normal((n, dim_x))
    eta = rng.standard_normal((n, dim_y))
    eta[:, :m] = rho * xi[:, :m] + math.sqrt(1.0 - rho**2) * eta[:, :m]
    if mix:
        from scipy.stats import ortho_group

        if dim_x > 1:
            xi = xi @ ortho_group.rvs(dim_x, random_state=rng)
        if dim_y > 1:
            eta = eta @ ortho_group.rvs(dim_y, random_state=rng)
    return xi, eta


def gaussian_bump_images(z, size: int = 16, width: float = 10.0) -> np.ndarray:
    r"""Images of a Gaussian bump whose centre is set by a 2-D latent: ``(n, size * size)``.

    Each row of ``z`` (shape ``(n, 2)``, any real values) is mapped to a centre
    :math:`\mu=\Phi(z)\in(0,1)^2` by the normal CDF :math:`\Phi` (so a standard normal
    latent gives a uniform centre), and the image is
    :math:`\exp(-w\lVert u-\mu\rVert^2)` on the grid :math:`u\in` ``linspace(0, 1, size)``:math:`^2`
    (the official generator, with :math:`w=10`). The map :math:`z\mapsto` image is injective,
    so pairs of images carry exactly the information of their latents.
    """
    zt = np.asarray(z, dtype=np.float64)
    if zt.ndim != 2 or zt.shape[1] != 2 or zt.shape[0] < 1:
        raise ValueError(f"z must have shape (n, 2), got {zt.shape}")
    if not np.isfinite(zt).all():
        raise ValueError("z contains NaN or infinite values")
    size = _check_int("size", size, 2)
    width = _check_positive("width", width)
    mu = ndtr(zt)  # (n, 2) in (0, 1)
    grid = np.linspace(0.0, 1.0, size)
    gx = np.exp(
        -width * (grid[None, :] - mu[:, :1]) ** 2
    )  # (n, size): the bump is separable
    gy = np.exp(-width * (grid[None, :] - mu[:, 1:]) ** 2)
    return (gy[:, :, None] * gx[:, None, :]).reshape(len(zt), size * size)


def linear_gaussian_embedding(
    n: int,
    dim: int,
    latent_dim: int,
    mi: float,
    sigma: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""A latent Gaussian pair embedded in ``dim`` dimensions with isotropic noise, and its true MI.

    :math:`X=A\xi+\sigma\varepsilon`, :math:`Y=B\eta+\sigma\varepsilon'`, with
    :math:`(\xi,\eta)` from :func:`correlated_normal` (``latent_dim`` coordinates each, ``mi``
    nats, not mixed), :math:`A,B` of shape ``(dim, latent_dim)`` with
    :math:`\mathcal N(0,1/\text{latent\_dim})` entries, and standard normal noise. The noise
    destroys part of the information; the truth is the Gaussian closed form on the population
    covariances :math:`\Sigma_{xx}=AA^\top+\sigma^2I`, :math:`\Sigma_{yy}=BB^\top+\sigma^2I`,
    :math:`\Sigma_{xy}=A\,\rho I\,B^\top`. Returns ``(X, Y, true_mi)``.
    """
    from ..info import gaussian_mi

    dim, latent_dim = (
        _check_int("dim", dim),
        _check_int("latent_dim", latent_dim),
    )
    if latent_dim > dim:
        raise ValueError(f"latent_dim must be <= dim, got {latent_dim} > {dim}")
    sigma = _check_positive("sigma", sigma)
    xi, eta = correlated_normal(n, latent_dim, latent_dim, mi, rng, mix=False)
    A = rng.standard_normal((dim, latent_dim)) / math.sqrt(latent_dim)
    B = rng.standard_normal((dim, latent_dim)) / math.sqrt(latent_dim)
    X = xi @ A.T + sigma * rng.standard_normal((len(xi), dim))
    Y = eta @ B.T + sigma * rng.standard_normal((len(eta), dim))
    rho = math.sqrt(-math.expm1(-2.0 * float(mi) / latent_dim))
    eye = np.eye(dim)
    true = gaussian_mi(
        A @ A.T + sigma**2 * eye, B @ B.T + sigma**2 * eye, rho * A @ B.T
    )
    return X, Y, true
