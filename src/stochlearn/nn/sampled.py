r"""Layers whose backward pass keeps less: a sampled linear layer, a mask ReLU.

:class:`SampledLinear` is a drop-in for ``nn.Linear`` (Liu et al. 2023,
WTA-CRS). Its forward output and its input gradient are exactly those of
``nn.Linear``; for the weight gradient :math:`G^\top X` it saves only
``budget`` of the rows of its input, chosen and weighted by
:func:`stochlearn.estimators.sample_rows`, so that the weight gradient is an
unbiased estimate (modes ``"uniform"``, ``"crs"``, ``"wta"``; ``"topk"`` is
the biased deterministic variant, ``"exact"`` is ``nn.Linear``). In eval
mode, without grad, or with ``budget=1`` it is ``nn.Linear``.

The sampling probabilities :math:`p_i\propto\|x_i\|\,\|g_i\|` need the output
gradient :math:`g_i`, which the forward pass does not have. The official code
keeps, for every training example, the norm of its output gradient from its
previous visit: set ``n_cache`` to the training set's size and give each
batch's example indices to :func:`set_sample_ids` before its forward pass
(they are used once), and the layer reads and writes that cache; it needs
one input row per example (the official code keeps one norm per token
position). Until an example's norm is known,
:math:`p_i\propto\|x_i\|`. :func:`refresh_grad_norms` instead measures the
current norms with an extra exact forward and backward pass (an oracle for
comparisons: it costs the memory the layer saves). Introduced in
{ref}`ch-wta-crs`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..estimators import METHODS, crs_probabilities, sample_rows

__all__ = ["SampledLinear", "MaskReLU", "set_sample_ids", "refresh_grad_norms"]

MODES = ("exact", *METHODS)


class _SampledLinearFn(torch.autograd.Function):
    """Exact forward and input gradient; weight gradient from sampled rows."""

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        idx: Tensor,
        scale: Tensor,
        layer: SampledLinear,
        ids: Tensor | None,
    ) -> Tensor:
        # keep only the k sampled rows, already multiplied by their weights
        rows = x[idx] * scale[:, None].to(x.dtype)
        ctx.save_for_backward(rows, idx, weight)
        ctx.layer, ctx.ids, ctx.has_bias = layer, ids, bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple:
        rows, idx, weight = ctx.saved_tensors
        grad_x = grad_out @ weight if ctx.needs_input_grad[0] else None
        grad_w = grad_out[idx].T @ rows  # sum_t scale_t g_t x_t^T
        grad_b = grad_out.sum(0) if ctx.has_bias else None
        ctx.layer._remember(ctx.ids, grad_out)
        return grad_x, grad_w, grad_b, None, None, None, None


class SampledLinear(nn.Linear):
    r"""``nn.Linear`` whose backward keeps only ``budget`` of its input rows.

    All leading dimensions of the input count as rows (a batch of tokens is
    fine). With :math:`k=\lfloor\text{budget}\cdot n\rfloor` (at least 1) of
    the :math:`n` rows kept, the weight gradient is
    :math:`\sum_t \mathrm{scale}_t\,g_{i_t}x_{i_t}^\top`; the bias and input
    gradients are exact. ``generator`` (an attribute, ``None`` by default)
    drives the sampling; by default the global torch generator does, so
    that :func:`stochlearn.runtime.seed_everything` fixes it. A layer whose
    weight does not require grad (frozen) is plain ``nn.Linear``. ``mix``
    blends the uniform distribution into :math:`p` (see
    :func:`stochlearn.estimators.crs_probabilities`; not in the paper).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        mode: str = "wta",
        budget: float = 0.3,
        n_cache: int = 0,
        mix: float = 0.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        for name, size in (
            ("in_features", in_features),
            ("out_features", out_features),
        ):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(
                    f"{name} must be a positive integer, got {size!r}"
                )
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if (
            isinstance(budget, bool)
            or not isinstance(budget, (int, float))
            or not 0 < budget <= 1
        ):
            raise ValueError(
                f"budget must be a fraction in (0, 1], got {budget!r}"
            )
        if (
            isinstance(n_cache, bool)
            or not isinstance(n_cache, int)
            or n_cache < 0
        ):
            raise ValueError(
                f"n_cache must be a non-negative integer, got {n_cache!r}"
            )
        super().__init__(
            in_features, out_features, bias, device=device, dtype=dtype
        )
        if (
            isinstance(mix, bool)
            or not isinstance(mix, (int, float))
            or not 0 <= mix <= 1
        ):
            raise ValueError(f"mix must be a fraction in [0, 1], got {mix!r}")
        self.mode, self.budget, self.mix = mode, float(budget), float(mix)
        self.register_buffer(
            "grad_norm_cache", torch.zeros(n_cache, device=device)
        )
        self.sample_ids: Tensor | None = None
        self.grad_norms: Tensor | None = None
        self.generator: torch.Generator | None = None

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, mode={self.mode!r}, budget={self.budget}"
        )

    def _known_grad_norms(
        self, n: int, fresh: Tensor | None, ids: Tensor | None
    ) -> Tensor | None:
        """This batch's ||g_i||: fresh if given, else cached, else None."""
        if fresh is not None:
            if fresh.shape != (n,):
                raise ValueError(
                    f"grad_norms must hold one norm per row "
                    f"({n}), got shape {tuple(fresh.shape)}"
                )
            return fresh
        if ids is not None and self.grad_norm_cache.numel():
            if ids.numel() != n:
                raise ValueError(
                    f"the cache holds one norm per example: "
                    f"give one id per input row ({n} rows, "
                    f"{ids.numel()} ids)"
                )
            g = self.grad_norm_cache[ids]
            if float(g.sum()) > 0:
                return g
        return None  # the official fallback: p proportional to ||x_i||

    def _remember(self, ids: Tensor | None, grad_out: Tensor) -> None:
        if ids is not None and self.grad_norm_cache.numel():
            norms = grad_out.detach().norm(dim=1)
            self.grad_norm_cache[ids] = norms.to(self.grad_norm_cache.dtype)

    def forward(self, x: Tensor) -> Tensor:
        # the batch's fresh norms and example ids are used once, then dropped
        fresh, self.grad_norms = self.grad_norms, None
        ids, self.sample_ids = self.sample_ids, None
        n = x.numel() // x.shape[-1] if x.dim() > 0 and x.shape[-1] else 0
        k = min(n, max(1, int(self.budget * n)))
        if (
            not self.training
            or self.mode == "exact"
            or k == n
            or not torch.is_grad_enabled()
            or not self.weight.requires_grad
        ):  # nothing to estimate
            return F.linear(x, self.weight, self.bias)
        x2 = x.reshape(n, x.shape[-1])  # every leading index is a row
        ids = None if ids is None else ids.reshape(-1)
        p = crs_probabilities(
            x2, self._known_grad_norms(n, fresh, ids), mix=self.mix
        )
        idx, scale = sample_rows(p, k, self.mode, self.generator)
        out = _SampledLinearFn.apply(
            x2, self.weight, self.bias, idx, scale, self, ids
        )
        return out.reshape(*x.shape[:-1], self.out_features)


class _MaskReLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        mask = x > 0
        ctx.save_for_backward(mask)  # one byte per element, not four
        return x * mask

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Tensor:
        (mask,) = ctx.saved_tensors
        return grad_out * mask


class MaskReLU(nn.Module):
    """ReLU that saves a ``bool`` mask for backward, not its float output."""

    def forward(self, x: Tensor) -> Tensor:
        return _MaskReLUFn.apply(x)


def _sampled_layers(model: nn.Module) -> list[SampledLinear]:
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    return [m for m in model.modules() if isinstance(m, SampledLinear)]


def set_sample_ids(model: nn.Module, ids: Tensor | None) -> None:
    """Tell every :class:`SampledLinear` which examples the next batch holds.

    ``ids`` are indices into the training set (``None``: unknown); the
    layers read and write their gradient-norm cache at these indices.
    """
    if ids is not None and (
        not isinstance(ids, Tensor)
        or ids.dtype not in (torch.int64, torch.int32)
    ):
        raise ValueError(
            "ids must be an integer tensor of example indices, or None"
        )
    for layer in _sampled_layers(model):
        size = layer.grad_norm_cache.numel()
        if ids is not None and size and int(ids.max()) >= size:
            raise ValueError(f"an id is beyond the cache of {size} examples")
        layer.sample_ids = ids


def refresh_grad_norms(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> None:
    r"""Give every :class:`SampledLinear` the current :math:`\|g_i\|`.

    One exact forward and backward pass on ``(X, y)`` (the parameters'
    ``.grad`` are left as they are); each layer uses the norms in its next
    forward. This is the oracle that the cached norms approximate: it
    defeats the memory saving and is meant for comparisons only.
    """
    layers = _sampled_layers(model)
    outs: dict[SampledLinear, Tensor] = {}
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out: outs.__setitem__(mod, out)
        )
        for m in layers
    ]
    modes = [m.mode for m in layers]
    try:
        for m in layers:
            m.mode = "exact"
        with torch.enable_grad():
            loss = loss_fn(model(X), y)
            grads = torch.autograd.grad(loss, [outs[m] for m in layers])
    finally:
        for h in hooks:
            h.remove()
        for m, mode in zip(layers, modes):
            m.mode = mode
    for m, g in zip(layers, grads):
        m.grad_norms = g.reshape(-1, m.out_features).norm(dim=1).detach()
