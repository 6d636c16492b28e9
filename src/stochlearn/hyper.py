r"""Hypernetworks and their magnitude-invariant parametrization (MIP).

A hypernetwork :math:`h_\phi` maps a hyperparameter :math:`\gamma` to the
weights :math:`\theta=h_\phi(\gamma)` of a primary network. With
(leaky-)ReLU layers and zero biases, as at initialisation, every layer is
positively homogeneous, so

.. math:: h_\phi(\alpha\gamma)=\alpha\,h_\phi(\gamma)\quad(\alpha\ge 0),
   \qquad \lVert\theta(\gamma)\rVert\propto\lVert\gamma\rVert :

a small :math:`\gamma` gives near-zero primary weights, vanishing signals
and gradients. Gonzalez Ortiz, Guttag and Dalca's MIP makes two changes: it encodes
the input on a circle, :math:`E(\gamma)=[\cos(\pi\gamma/2),
\sin(\pi\gamma/2)]` (unit norm for every :math:`\gamma\in[0,1]`), and it
predicts an additive change to independent learnable weights,

.. math:: \theta(\gamma)=\theta_0+\Delta\theta_\phi\bigl(E(\gamma)\bigr).

Layout and initialisation follow the official ``hyperlight`` package:
:math:`\theta_0` is the output layer's bias; hidden layers are
Kaiming-normal with fan-out, each primary tensor's block of output rows is
initialised on its own, and :math:`\theta_0` like a primary network
(Kaiming-normal, zero biases). Introduced in {ref}`ch-hypernetwork-mip`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

__all__ = ["ENCODINGS", "encode", "HyperNet"]

#: The input encodings of hyperlight (none, the circle, and [γ, 1 − γ]).
ENCODINGS = (None, "cos|sin", "z|1-z")


def encode(gamma: Tensor, mode: str | None = "cos|sin") -> Tensor:
    """Encode ``gamma`` (``(..., k)``, entries in [0, 1]) for a hypernetwork.

    ``"cos|sin"`` gives ``[cos(πγ/2), sin(πγ/2)]`` (all cosines, then all
    sines, as hyperlight), of squared norm ``k`` for every ``γ``;
    ``"z|1-z"`` gives ``[γ, 1 − γ]``, whose norm varies; ``None`` is ``γ``.
    """
    if (
        not isinstance(gamma, Tensor)
        or not gamma.is_floating_point()
        or gamma.ndim == 0
    ):
        raise ValueError("gamma must be a floating-point tensor (..., k)")
    if mode not in ENCODINGS:
        raise ValueError(f"mode must be one of {ENCODINGS}, got {mode!r}")
    if mode is None:
        return gamma
    if bool(((gamma < 0) | (gamma > 1)).any()):
        warnings.warn(
            "gamma outside [0, 1]: the encoding is no longer one-to-one there",
            stacklevel=2,
        )
    if mode == "z|1-z":
        return torch.cat([gamma, 1 - gamma], dim=-1)
    angle = math.pi * gamma / 2
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)


class HyperNet(nn.Module):
    """A leaky-ReLU MLP from ``gamma`` to the tensors of a primary network.

    ``targets`` maps parameter names to shapes (``{n: p.shape for n, p in
    primary.named_parameters()}``); :meth:`forward` returns a dict of
    tensors for :func:`torch.func.functional_call`. ``encoding=None,
    residual=False`` is the default hypernetwork, ``"cos|sin", True`` is
    MIP, and the two mixed are its ablations.
    """

    def __init__(
        self,
        in_dim: int,
        targets: Mapping[str, Sequence[int]],
        hidden: Sequence[int] = (16, 64, 128),
        encoding: str | None = "cos|sin",
        residual: bool = True,
        negative_slope: float = 0.01,
    ):
        super().__init__()
        if (
            isinstance(in_dim, bool)
            or not isinstance(in_dim, int)
            or in_dim < 1
        ):
            raise ValueError(f"in_dim must be a positive int, got {in_dim!r}")
        if not isinstance(targets, Mapping) or not targets:
            raise ValueError("targets must map parameter names to shapes")
        if encoding not in ENCODINGS:
            raise ValueError(
                f"encoding must be one of {ENCODINGS}, got {encoding!r}"
            )
        self.in_dim, self.encoding, self.residual = in_dim, encoding, residual
        self.shapes = {n: torch.Size(s) for n, s in targets.items()}
        sizes = [in_dim * (1 if encoding is None else 2), *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(negative_slope)]
        self.body = nn.Sequential(*layers)
        n_out = sum(s.numel() for s in self.shapes.values())
        self.out = nn.Linear(sizes[-1], n_out)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """hyperlight's initialisation (see the module docstring)."""
        for layer in self.body:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(
                    layer.weight, mode="fan_out", nonlinearity="leaky_relu"
                )
                nn.init.zeros_(layer.bias)
        theta0, start = [], 0
        for name, shape in self.shapes.items():
            rows = self.out.weight[start : start + shape.numel()]
            nn.init.kaiming_normal_(
                rows, mode="fan_out", nonlinearity="leaky_relu"
            )
            start += shape.numel()
            init = torch.zeros(shape)
            if self.residual and name.endswith("weight") and len(shape) > 1:
                nn.init.kaiming_normal_(init, nonlinearity="leaky_relu")
            theta0.append(init.flatten())
        self.out.bias.copy_(torch.cat(theta0))  # θ0, or zeros by default

    def forward(self, gamma: Tensor) -> dict[str, Tensor]:
        """The primary network's tensors for one ``gamma`` of shape
        ``(in_dim,)``: ``θ0 + Δθ(E(γ))`` for MIP, ``h(γ)`` by default."""
        if gamma.shape != (self.in_dim,):
            raise ValueError(
                f"gamma must have shape ({self.in_dim},), "
                f"got {tuple(gamma.shape)}"
            )
        flat = self.out(self.body(encode(gamma, self.encoding)))
        out, start = {}, 0
        for name, shape in self.shapes.items():
            out[name] = flat[start : start + shape.numel()].view(shape)
            start += shape.numel()
        return out
