r"""A Bayesian MLP whose Gaussian weight prior has learnable per-layer standard deviations.

Layer :math:`\ell` computes :math:`h\mapsto hW_\ell/\sqrt{n_{\ell-1}}+b_\ell` with
:math:`W_\ell\sim\mathcal N(0,s_{w,\ell}^2)` and :math:`b_\ell\sim\mathcal N(0,s_{b,\ell}^2)`
entrywise, and :math:`s=\mathrm{softplus}(\rho)` for unconstrained parameters :math:`\rho`, one
for the weights and one for the biases of each layer, as the official
``GaussianLinearReparameterization`` (``prior_per='layer'``, ``scaled_variance=True``) of Tran et
al. Because a draw is :math:`W=s\,\varepsilon` with :math:`\varepsilon\sim\mathcal N(0,1)`, the
functions it gives are differentiable in :math:`\rho` (the reparameterisation trick), which is
what lets a prior be fitted to a target distribution over functions. Introduced in
{ref}`ch-functional-priors`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._validate import feature_matrix, integer

__all__ = ["PriorBNN"]

_ACTS = {"tanh": torch.tanh, "relu": torch.relu, "erf": torch.erf}


def _inv_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class PriorBNN(nn.Module):
    r"""The prior of an MLP ``sizes[0] → … → sizes[-1]`` with ``act`` between
    layers, weight and bias standard deviations learnable per layer.

    ``init_w`` and ``init_b`` are the initial :math:`s_w, s_b`, one number
    for all layers or one per layer (the softplus
    is inverted so that they hold exactly; the official code initialises the
    raw parameter at 1, which is :math:`s=\mathrm{softplus}(1)\approx1.31`).
    :meth:`sample_functions` draws ``n`` networks and evaluates them at ``x``;
    :meth:`apply` evaluates given flat parameter vectors :math:`\theta`
    (weights before the :math:`1/\sqrt{n_{\mathrm{in}}}` scaling), one per row,
    and :meth:`prior_std_vector` gives the prior standard deviation of every
    entry of :math:`\theta`, for the log prior of a sampler.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        act: str = "tanh",
        init_w: float | Sequence[float] = 1.0,
        init_b: float | Sequence[float] = 1.0,
    ) -> None:
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError("sizes must list at least two layer widths")
        sizes = [integer(s, "every size") for s in sizes]
        if act not in _ACTS:
            raise ValueError(f"act must be one of {sorted(_ACTS)}, got {act!r}")
        n_layers = len(sizes) - 1
        per_layer = {}
        for name, v in (("init_w", init_w), ("init_b", init_b)):
            vals = list(v) if isinstance(v, (list, tuple)) else [v] * n_layers
            if len(vals) != n_layers or any(
                isinstance(u, bool)
                or not isinstance(u, (int, float))
                or not u > 0
                for u in vals
            ):
                raise ValueError(
                    f"{name} must be a positive number or one per layer, got {v!r}"
                )
            per_layer[name] = vals
        super().__init__()
        self.sizes, self.act = sizes, act
        self.rho_w = nn.Parameter(
            torch.tensor([_inv_softplus(u) for u in per_layer["init_w"]])
        )
        self.rho_b = nn.Parameter(
            torch.tensor([_inv_softplus(u) for u in per_layer["init_b"]])
        )

    @property
    def stds(self) -> tuple[Tensor, Tensor]:
        """The per-layer standard deviations :math:`(s_w, s_b)`."""
        return (
            nn.functional.softplus(self.rho_w),
            nn.functional.softplus(self.rho_b),
        )

    @property
    def n_params(self) -> int:
        return sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def _check_x(self, x: Tensor) -> Tensor:
        return feature_matrix(x, self.sizes[0]).to(self.rho_w.dtype)

    def _forward(self, x: Tensor, layers) -> Tensor:
        """``layers``: per layer (W (n, a, b), bias (n, 1, b)); returns (n, M, out)."""
        h = x.expand(layers[0][0].shape[0], *x.shape)
        for i, (W, b) in enumerate(layers):
            h = h @ W / math.sqrt(W.shape[1]) + b
            if i < len(layers) - 1:
                h = _ACTS[self.act](h)
        return h

    def sample_functions(
        self, x: Tensor, n: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` draws of the network at the inputs ``x`` ``(M, d)``: shape
        ``(n, M)`` for one output (``(n, M, out)`` otherwise), differentiable
        in the prior's parameters."""
        x = self._check_x(x)
        n = integer(n, "n")
        s_w, s_b = self.stds
        layers = []
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            eps_w = torch.randn(n, a, b, generator=generator, dtype=x.dtype)
            eps_b = torch.randn(n, 1, b, generator=generator, dtype=x.dtype)
            layers.append((s_w[i] * eps_w, s_b[i] * eps_b))
        out = self._forward(x, layers)
        return out[..., 0] if out.shape[-1] == 1 else out

    def unflatten(self, theta: Tensor):
        """Per layer ``(W, b)`` from flat ``theta`` ``(chains, n_params)``."""
        if not isinstance(theta, Tensor) or theta.ndim != 2:
            raise ValueError("theta must be a (chains, n_params) tensor")
        if theta.shape[1] != self.n_params:
            raise ValueError(f"theta must have {self.n_params} columns")
        layers, i = [], 0
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            W = theta[:, i : i + a * b].reshape(-1, a, b)
            i += a * b
            layers.append((W, theta[:, i : i + b].reshape(-1, 1, b)))
            i += b
        return layers

    def apply(self, theta: Tensor, x: Tensor) -> Tensor:
        """The networks with flat parameters ``theta`` ``(chains, n_params)``
        at ``x`` ``(M, d)``: ``(chains, M)`` for one output."""
        x = self._check_x(x).to(theta.dtype)
        out = self._forward(x, self.unflatten(theta))
        return out[..., 0] if out.shape[-1] == 1 else out

    def prior_std_vector(self) -> Tensor:
        """The prior standard deviation of every entry of ``theta``, in the
        order of :meth:`unflatten` (no gradient)."""
        s_w, s_b = (s.detach() for s in self.stds)
        parts = []
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            parts += [s_w[i].expand(a * b), s_b[i].expand(b)]
        return torch.cat(parts)
