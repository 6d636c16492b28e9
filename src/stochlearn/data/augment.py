r"""Data augmentation for small image batches, random but reproducible.

:func:`random_affine` rotates each image by an angle uniform in
:math:`\pm` ``max_rot_deg``, shifts it by up to ``max_shift`` of its half-width
(``torch.nn.functional.affine_grid`` and ``grid_sample``, zeros outside) and
adds Gaussian noise of standard deviation ``noise``: for the 8×8 digits, a
rotation of 15° and a shift of up to 1.5 pixels. :func:`add_noise` is the
additive perturbation :math:`x+\varepsilon` that Liu and Mirzasoleiman (2022)
take as their model of augmentation. Introduced in
{ref}`ch-data-efficient-augmentation`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["random_affine", "add_noise"]


def _images(x: object) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError("x must be a float tensor of images (N, C, H, W)")
    return x


def add_noise(x: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
    """``x`` plus Gaussian noise of standard deviation ``sigma``."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError("x must be a float tensor")
    if (
        not isinstance(sigma, (int, float))
        or isinstance(sigma, bool)
        or not sigma >= 0
    ):
        raise ValueError(f"sigma must be a number >= 0, got {sigma!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError("generator must be a torch.Generator")
    return x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)


def random_affine(
    x: Tensor,
    generator: torch.Generator,
    max_rot_deg: float = 15.0,
    max_shift: float = 0.375,
    noise: float = 0.1,
) -> Tensor:
    """A random rotation and shift of every image, then Gaussian noise.

    ``max_shift`` is in units of the half-width (``affine_grid``'s
    coordinates run from -1 to 1); with zeros for all three arguments the
    images come back unchanged.
    """
    x = _images(x)
    if not isinstance(generator, torch.Generator):
        raise ValueError("generator must be a torch.Generator")
    if min(max_rot_deg, max_shift, noise) < 0:
        raise ValueError("max_rot_deg, max_shift and noise must be >= 0")
    n = len(x)
    if n == 0:
        return x.clone()
    u = torch.rand(n, 3, generator=generator, dtype=x.dtype) * 2 - 1
    angle = u[:, 0] * math.radians(max_rot_deg)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos, -sin, u[:, 1] * max_shift], 1),
            torch.stack([sin, cos, u[:, 2] * max_shift], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    return add_noise(out, noise, generator)
