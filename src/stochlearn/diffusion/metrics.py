r"""Sample-quality metrics for generative models of toy data with known modes.

* :func:`mode_blur_ratio` :math:`=\mathbb E_{\mathbf x}\big[\min_k\|\mathbf x-\mathbf c_k\|^2\big]/(d\,s^2)`:
  1 for perfect samples of a mixture with well-separated modes of std :math:`s`, above 1 for
  samples that are too noisy (blurred), below 1 for over-concentrated samples;
* :func:`mode_balance`: the largest over the smallest number of samples assigned to a mode
  (1 = balanced, ``inf`` = a mode is missing);
* :func:`sliced_wasserstein`: POT's Monte-Carlo sliced Wasserstein-2 distance between samples.

Introduced in {ref}`ch-score-sde`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "mode_blur_ratio",
    "mode_balance",
    "mode_counts",
    "sliced_wasserstein",
]


def _as_points(x, name: str = "x") -> Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(x.shape)}")
    return x


def _nearest(x: Tensor, centers: Tensor) -> tuple[Tensor, Tensor]:
    x, centers = _as_points(x), _as_points(centers, "centers")
    if x.shape[1] != centers.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} dimensions but the centers have {centers.shape[1]}"
        )
    d2 = torch.cdist(x, centers).pow(2)
    return d2.min(dim=1)


def mode_blur_ratio(x, centers, std: float) -> float:
    r"""Mean squared distance to the nearest mode centre, over :math:`d\,s^2` (1 for perfect samples)."""
    if (
        isinstance(std, bool)
        or not isinstance(std, (int, float))
        or not std > 0
    ):
        raise ValueError(f"std must be a number > 0, got {std!r}")
    d2, _ = _nearest(x, centers)
    if not torch.isfinite(d2).all():
        return float("inf")
    return float(d2.mean() / (torch.as_tensor(centers).shape[1] * std**2))


def mode_counts(x, centers) -> Tensor:
    """How many samples have each centre as their nearest one (shape ``(K,)``)."""
    _, k = _nearest(x, centers)
    return torch.bincount(k, minlength=torch.as_tensor(centers).shape[0])


def mode_balance(x, centers) -> float:
    """Largest over smallest mode count (1 = balanced; ``inf`` if a mode gets no sample)."""
    c = mode_counts(x, centers).double()
    return float("inf") if c.min() == 0 else float(c.max() / c.min())


def sliced_wasserstein(a, b, n_projections: int = 50, seed: int = 0) -> float:
    """Sliced Wasserstein-2 distance between two point clouds (POT's ``ot.sliced_wasserstein_distance``)."""
    import ot

    a, b = _as_points(a, "a").numpy(), _as_points(b, "b").numpy()
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have the same dimension, got {a.shape[1]} and {b.shape[1]}"
        )
    if (
        isinstance(n_projections, bool)
        or not isinstance(n_projections, int)
        or n_projections < 1
    ):
        raise ValueError(
            f"n_projections must be a positive integer, got {n_projections!r}"
        )
    return float(
        ot.sliced_wasserstein_distance(
            a, b, n_projections=n_projections, seed=np.random.RandomState(seed)
        )
    )
