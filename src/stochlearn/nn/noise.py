r"""Layers that inject noise: a stochastic network whose mutual informations are finite.

For a deterministic layer :math:`L=f(X)` of a continuous input the information :math:`I(X;L)`
is infinite (or, on a finite data set, the entropy of the inputs), whatever the network has
learnt. Goldfeld et al. (2019) add Gaussian noise, :math:`L=f(X)+\sigma Z`, which makes it a
finite, meaningful quantity. Introduced in {ref}`ch-ib-lossy-compression`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["AdditiveGaussianNoise"]


class AdditiveGaussianNoise(nn.Module):
    r"""Additive Gaussian noise, of a fixed or a relative scale.

    The output is :math:`x+\sigma\varepsilon`, or :math:`x+\sigma x\varepsilon`
    with ``relative_scale``.

    :math:`\varepsilon\sim\mathcal N(0,I)` is drawn afresh on every call, from
    PyTorch's global generator (seeded by ``sl.setup``). With
    ``relative_scale`` (the default of the official ``AdditiveGaussianNoise``
    of Butakov et al.) each unit's noise is proportional to its value, a fixed
    noise-to-signal ratio; otherwise its standard deviation is ``sigma``
    (Goldfeld et al.'s noisy network). The noise is on in training mode, and
    in evaluation mode only with ``enabled_on_inference`` (the official
    classifiers turn it on, so that the informations are measured on the same
    stochastic network that is trained).
    """

    def __init__(
        self,
        sigma: float = 0.1,
        *,
        relative_scale: bool = True,
        enabled_on_inference: bool = False,
    ) -> None:
        super().__init__()
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, (int, float))
            or not math.isfinite(sigma)
            or sigma < 0
        ):
            raise ValueError(
                f"sigma must be a finite number >= 0, got {sigma!r}"
            )
        self.sigma = float(sigma)
        self.relative_scale = bool(relative_scale)
        self.enabled_on_inference = bool(enabled_on_inference)

    def forward(self, x: Tensor) -> Tensor:
        if self.sigma == 0 or not (self.training or self.enabled_on_inference):
            return x
        scale = self.sigma * x if self.relative_scale else self.sigma
        return x + scale * torch.randn_like(x)

    def extra_repr(self) -> str:
        return (
            f"sigma={self.sigma}, relative_scale={self.relative_scale}, "
            f"enabled_on_inference={self.enabled_on_inference}"
        )
