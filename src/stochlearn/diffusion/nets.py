r"""A small time-conditioned score network for vectors: :class:`TimeMLP`.

With an SDE attached, the network is a score model
:math:`\mathbf s_\theta(\mathbf x,t)=\mathrm{MLP}\big(\mathbf x/c(t),\ \gamma(\log\sigma_t)\big)/\sigma_t`:

* the noise level enters through random Fourier features
  :math:`\gamma(c)=[\sin 2\pi Wc,\ \cos 2\pi Wc]`, :math:`W\sim\mathcal N(0,s^2)` fixed
  (the official NCSN++ conditions on :math:`\log\sigma_t` the same way, with :math:`s=16`; a
  small MLP learns much better with smooth features, :math:`s=0.1` by default, as
  :math:`\log\sigma_t` spans only about ten units);
* the output is divided by :math:`\sigma_t` (``scale_by_std``, as the official ``get_score_fn`` does
  for VP models), so the MLP only has to predict :math:`-\mathbf z`, an O(1) target at every
  noise level, and the score has the right :math:`1/\sigma_t` size near :math:`t\to0`;
* the input is divided by :math:`c(t)=\sqrt{a(t)^2s_{\rm data}^2+\sigma_t^2}`, the std of
  :math:`\mathbf x_t` (a choice of ours, not the paper's: it keeps a plain MLP's inputs O(1)
  when :math:`\sigma_t` spans four decades).

Without an SDE it is a plain MLP of :math:`(\mathbf x, \gamma(t))` (for noise-prediction models).
Introduced in {ref}`ch-score-sde`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .sde import SDE, bcast

__all__ = ["TimeMLP", "FourierFeatures"]


class FourierFeatures(nn.Module):
    r"""Random Fourier features :math:`[\sin 2\pi Wc,\cos 2\pi Wc]` of a scalar :math:`c`,
    :math:`W\sim\mathcal N(0,s^2)` fixed."""

    def __init__(
        self,
        n: int = 16,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"scale must be a number > 0, got {scale!r}")
        self.register_buffer("W", torch.randn(n, generator=generator) * scale)

    def forward(self, c: Tensor) -> Tensor:
        proj = 2 * math.pi * c[:, None] * self.W[None, :]
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


class TimeMLP(nn.Module):
    r"""MLP score network conditioned on :math:`\log\sigma_t` by Fourier features; output divided by :math:`\sigma_t`.

    ``TimeMLP(dim, hidden, depth, n_fourier, sde=sde)`` maps ``(x, t)`` with ``x`` of shape
    ``(B, dim)`` (or ``(B, ...)`` with ``dim`` elements) and ``t`` of shape ``(B,)`` to the score,
    same shape as ``x``. ``depth`` hidden layers of width ``hidden`` with SiLU; ``data_std`` is the
    data's per-coordinate std used to scale the input.
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 128,
        depth: int = 3,
        n_fourier: int = 16,
        *,
        sde: SDE | None = None,
        scale_by_std: bool = True,
        data_std: float = 1.0,
        fourier_scale: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("dim", dim), ("hidden", hidden), ("depth", depth)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(
                    f"{name} must be a positive integer, got {v!r}"
                )
        if sde is not None and not isinstance(sde, SDE):
            raise ValueError(
                f"sde must be an SDE or None, got {type(sde).__name__}"
            )
        if not isinstance(data_std, (int, float)) or not data_std > 0:
            raise ValueError(f"data_std must be a number > 0, got {data_std!r}")
        self.dim, self.sde, self.data_std = dim, sde, float(data_std)
        self.scale_by_std = bool(scale_by_std) and sde is not None
        self.embed = FourierFeatures(n_fourier, fourier_scale, generator)
        layers: list[nn.Module] = []
        width = dim + 2 * n_fourier
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if t.shape != x.shape[:1]:
            raise ValueError(
                f"t must have shape (batch,) = {tuple(x.shape[:1])}, got {tuple(t.shape)}"
            )
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.dim:
            raise ValueError(
                f"expected {self.dim} features per sample, got {flat.shape[1]}"
            )
        if self.sde is None:
            return self.net(torch.cat([flat, self.embed(t)], dim=-1)).reshape(
                x.shape
            )
        sigma = self.sde.std(t)
        c_in = torch.sqrt(
            (self.sde.mean_scale(t) * self.data_std) ** 2 + sigma**2
        )
        h = self.net(
            torch.cat(
                [flat / c_in[:, None], self.embed(torch.log(sigma))], dim=-1
            )
        )
        if self.scale_by_std:
            h = h / bcast(sigma, h)
        return h.reshape(x.shape)
