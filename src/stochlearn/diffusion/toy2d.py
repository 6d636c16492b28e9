r"""Toy data with known densities and known scores: Gaussian mixtures, the 8-Gaussian ring, and more.

A mixture of isotropic Gaussians :math:`p_0=\sum_k\pi_k\,\mathcal N(\mathbf c_k, s^2I)` stays a
mixture under an affine forward SDE,
:math:`p_t=\sum_k\pi_k\,\mathcal N\big(a(t)\mathbf c_k,(a(t)^2s^2+\sigma_t^2)I\big)`,
so its exact time-dependent score is available: :meth:`GaussianMixture.score_fn` is the "perfect
score network" against which samplers and likelihoods can be tested without any training error.
Introduced in {ref}`ch-score-sde`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .sde import SDE

__all__ = ["GaussianMixture", "GaussianRing", "Checkerboard", "two_moons"]


class GaussianMixture:
    r"""Mixture of isotropic Gaussians :math:`\sum_k\pi_k\mathcal N(\mathbf c_k,s^2I)`, with exact
    ``log_prob`` and scores."""

    def __init__(
        self, centers: Tensor, std: float, weights: Tensor | None = None
    ) -> None:
        centers = torch.as_tensor(centers, dtype=torch.float64)
        if centers.dim() != 2 or centers.shape[0] < 1:
            raise ValueError(
                f"centers must have shape (K, d), got {tuple(centers.shape)}"
            )
        if (
            isinstance(std, bool)
            or not isinstance(std, (int, float))
            or not std > 0
        ):
            raise ValueError(f"std must be a number > 0, got {std!r}")
        if weights is None:
            weights = torch.full(
                (centers.shape[0],), 1.0 / centers.shape[0], dtype=torch.float64
            )
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if (
            weights.shape != centers.shape[:1]
            or (weights < 0).any()
            or abs(float(weights.sum()) - 1) > 1e-6
        ):
            raise ValueError(
                "weights must be K non-negative numbers summing to 1"
            )
        self.centers, self.std, self.weights = centers, float(std), weights

    @property
    def dim(self) -> int:
        return int(self.centers.shape[1])

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """``n`` draws, shape ``(n, d)``."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        k = torch.multinomial(
            self.weights, n, replacement=True, generator=generator
        )
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.centers[k] + self.std * z).to(dtype)

    def _log_components(
        self, x: Tensor, scale: Tensor, var: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Log of π_k N(x; scale·c_k, var·I) per component (B, K), and the differences x - scale·c_k,
        in the dtype of ``x`` (a softmax over components is accurate in float32)."""
        c = self.centers.to(x)
        scale, var = scale.to(x), var.to(x)
        diff = x[:, None, :] - scale[:, None, None] * c[None]
        sq = diff.pow(2).sum(-1)
        logn = (
            -0.5 * sq / var[:, None]
            - 0.5 * self.dim * torch.log(2 * math.pi * var)[:, None]
        )
        return logn + torch.log(self.weights.to(x))[None], diff

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density at ``x`` (shape ``(B, d)``), in float64."""
        x = x.to(torch.float64)
        ones = torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
        logc, _ = self._log_components(x, ones, ones * self.std**2)
        return torch.logsumexp(logc, dim=1)

    def marginal(self, sde: SDE, t: Tensor) -> tuple[Tensor, Tensor]:
        r"""Mean scale :math:`a(t)` and component variance :math:`a^2s^2+\sigma_t^2` of :math:`p_t` (float64)."""
        t = t.to(torch.float64)
        a, sig = sde.mean_scale(t), sde.std(t)
        return a, a**2 * self.std**2 + sig**2

    def log_prob_t(self, x: Tensor, t: Tensor, sde: SDE) -> Tensor:
        """Exact log-density of the perturbed marginal :math:`p_t` at ``x``."""
        a, var = self.marginal(sde, t)
        return torch.logsumexp(self._log_components(x, a, var)[0], dim=1)

    def score(self, x: Tensor, t: Tensor, sde: SDE) -> Tensor:
        r"""Exact score :math:`\nabla_{\mathbf x}\log p_t(\mathbf x)`, in ``x``'s dtype."""
        a, var = self.marginal(sde, t)
        logc, diff = self._log_components(x, a, var)
        w = torch.softmax(logc, dim=1)
        return -(w[:, :, None] * diff).sum(1) / var.to(x)[:, None]

    def score_fn(self, sde: SDE):
        """The exact score as a ``score_fn(x, t)`` for the samplers and likelihoods of this package."""
        return lambda x, t: self.score(x, t, sde)


class GaussianRing(GaussianMixture):
    r"""``n_modes`` equal Gaussians of std ``std`` on a circle of radius ``radius`` (the "8 Gaussians" toy)."""

    def __init__(
        self, n_modes: int = 8, radius: float = 2.0, std: float = 0.15
    ) -> None:
        if (
            isinstance(n_modes, bool)
            or not isinstance(n_modes, int)
            or n_modes < 1
        ):
            raise ValueError(
                f"n_modes must be a positive integer, got {n_modes!r}"
            )
        if not isinstance(radius, (int, float)) or not radius > 0:
            raise ValueError(f"radius must be a number > 0, got {radius!r}")
        angles = (
            2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
        )
        super().__init__(
            radius * torch.stack([torch.cos(angles), torch.sin(angles)], 1), std
        )
        self.radius = float(radius)


class Checkerboard:
    """Uniform density on the 8 dark squares of a 4×4 checkerboard on [-2, 2]² (exact ``log_prob``)."""

    dim = 2

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        u = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 4 - 2
        flip = (torch.floor(u[:, 0] + 2) + torch.floor(u[:, 1] + 2)) % 2 == 1
        u[flip, 0] = torch.where(
            u[flip, 0] < 1, u[flip, 0] + 1, u[flip, 0] - 1
        )  # to the dark neighbour
        return u.to(dtype)

    def log_prob(self, x: Tensor) -> Tensor:
        x = x.to(torch.float64)
        inside = (x.abs() <= 2).all(-1)
        dark = (torch.floor(x[:, 0] + 2) + torch.floor(x[:, 1] + 2)) % 2 == 0
        return torch.where(
            inside & dark,
            torch.tensor(math.log(1 / 8), dtype=torch.float64),
            torch.tensor(-math.inf, dtype=torch.float64),
        )


def two_moons(
    n: int, noise: float = 0.05, generator: torch.Generator | None = None
) -> Tensor:
    """scikit-learn's two moons, centred and scaled to about [-2, 2]² (shape ``(n, 2)``)."""
    from sklearn.datasets import make_moons

    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    X, _ = make_moons(n, noise=noise, random_state=seed)
    X = torch.as_tensor(X, dtype=torch.float32)
    return 1.5 * (X - torch.tensor([0.5, 0.25]))
