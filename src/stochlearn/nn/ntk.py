r"""A fully connected network in the NTK parametrisation, as in the official code of Sclocchi et al.

Introduced in {ref}`ch-sgd-noise-regimes`. Weights are drawn :math:`\mathcal N(0,1)` and the
scale sits in the forward pass: a hidden layer computes
:math:`z\mapsto\phi(Wz/\sqrt{n_{\rm in}})` with the activation normalised so that
:math:`\mathbb E_{g\sim\mathcal N(0,1)}\phi(g)^2=1`, and the output is :math:`w\cdot z/h` (no
biases). With the :math:`1/h` output scale the network at initialisation is close to zero and,
trained through :math:`\alpha[f(w,x)-f(w_0,x)]` (:mod:`stochlearn.regimes`), it is lazy for
large :math:`\alpha` and learns features for small :math:`\alpha`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from .models import ACTIVATIONS

__all__ = ["NTKMLP", "activation_scale"]


def activation_scale(act: str) -> float:
    r""":math:`c=\sqrt{\mathbb E\,\phi(g)^2}`, :math:`g\sim\mathcal N(0,1)`, by 80-point Gauss–Hermite quadrature.

    ``relu`` gives :math:`1/\sqrt2`, ``tanh`` about 0.6278.
    """
    if act not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {act!r}: expected one of {sorted(ACTIVATIONS)}"
        )
    if act == "relu":  # exact; the kink defeats quadrature's accuracy
        return 1.0 / math.sqrt(2.0)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    with torch.no_grad():
        phi = ACTIVATIONS[act]()(torch.from_numpy(nodes)).numpy()
    return float(math.sqrt((weights * phi**2).sum() / math.sqrt(2 * math.pi)))


class NTKMLP(nn.Module):
    r"""Bias-free MLP, ``depth`` hidden layers of width ``width``, NTK-scaled.

    Weights are :math:`\mathcal N(0,1)`; a hidden layer computes
    :math:`\phi(Wz/\sqrt{n_{\rm in}})/c` with :math:`c` from
    :func:`activation_scale`, and the output is :math:`w\cdot z/h`.
    ``forward`` maps ``(n, d_in)`` (or images, flattened) to ``(n,)``.
    """

    def __init__(
        self, d_in: int, width: int = 64, depth: int = 3, act: str = "relu"
    ) -> None:
        super().__init__()
        for name, v in (("d_in", d_in), ("width", width), ("depth", depth)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.scale = activation_scale(act)  # checks act
        self.act = ACTIVATIONS[act]()
        self.d_in, self.width, self.depth = d_in, width, depth
        sizes = [d_in] + [width] * depth
        self.hidden = nn.ParameterList(
            nn.Parameter(torch.randn(b, a)) for a, b in zip(sizes, sizes[1:])
        )
        self.readout = nn.Parameter(torch.randn(width))

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim < 1:
            raise ValueError("x must be a tensor of shape (n, d_in)")
        z = x.reshape(x.shape[0], -1)
        if z.shape[1] != self.d_in:
            raise ValueError(f"expected {self.d_in} features, got {z.shape[1]}")
        for W in self.hidden:
            z = self.act(z @ W.T / math.sqrt(z.shape[1])) / self.scale
        return z @ self.readout / self.width
