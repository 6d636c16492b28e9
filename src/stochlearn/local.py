r"""Layer-local learning: each layer trained from its own target, forward only.

Backpropagation sends the output's error back through every layer, so it must
keep every layer's activation until the backward pass reaches it. **Target
projection** gives each hidden layer :math:`i` a target of its own instead, a
fixed random projection of the one-hot label,

.. math:: s_i = P_i\,y^* ,\qquad P_i\in\mathbb R^{h_i\times C}
   \ \text{drawn once and frozen},

and trains the layer on a local loss :math:`J_i=\ell(a_i,s_i)`, its input
treated as a constant. Direct Random Target Projection (DRTP, Frenkel et al.
2021) uses the signal :math:`s_i` itself, the local "loss"
:math:`-\langle s_i,a_i\rangle`; tpSGD (Lomnitz et al. 2022) allows any loss.
With :math:`a_i=\tanh(z_i)`, :math:`z_i=W_ia_{i-1}` and the squared error to
:math:`\tanh(s_i)`,

.. math:: \nabla_{W_i}J_i=\bigl[(a_i-\tanh s_i)\odot(1-a_i^2)\bigr]
   \,a_{i-1}^\top .

Each layer can be updated, and its activations freed, right after its own
forward step: the memory of a step no longer grows with the depth. The local
losses and the scale of the targets are our reading of the paper, whose body
and code we could not read. Introduced in {ref}`ch-tpsgd`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "LOSSES",
    "TargetProjection",
    "local_loss",
    "tpsgd_step",
    "tpsgd_rnn_step",
]

#: The local losses, squared and absolute error to tanh(P y*), DRTP's
#: signal, and the cross-entropy of the layer read out through P (ours).
LOSSES = ("mse", "l1", "drtp", "ce_proj")


def _positive_int(name: str, v: object, least: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
    return v


class TargetProjection(nn.Module):
    r"""Fixed random projections :math:`P_i\in\mathbb R^{h_i\times C}`.

    ``widths`` are the hidden widths :math:`h_1,\dots,h_L`. Each :math:`P_i`
    has i.i.d. :math:`N(0, \text{scale}^2)` entries from a generator seeded
    with ``seed``, is a buffer (no gradient) and never changes.
    ``proj[i]`` is :math:`P_i` (counting from 0).
    """

    def __init__(
        self,
        widths: Sequence[int],
        n_classes: int,
        scale: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(widths, (list, tuple)) or not widths:
            raise ValueError(
                f"widths must be a non-empty list of hidden "
                f"widths, got {widths!r}"
            )
        widths = [_positive_int("a width", w) for w in widths]
        self.n_classes = _positive_int("n_classes", n_classes, 2)
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float))
            or not scale > 0
        ):
            raise ValueError(f"scale must be positive, got {scale!r}")
        gen = torch.Generator().manual_seed(int(seed))
        for i, w in enumerate(widths):
            P = scale * torch.randn(w, n_classes, generator=gen)
            self.register_buffer(f"P{i}", P)
        self.n_layers = len(widths)

    def __getitem__(self, i: int) -> Tensor:
        if not -self.n_layers <= i < self.n_layers:
            raise IndexError(
                f"layer {i} out of range for {self.n_layers} hidden layers"
            )
        return getattr(self, f"P{i % self.n_layers}")

    def __len__(self) -> int:
        return self.n_layers


def local_loss(a: Tensor, y: Tensor, P: Tensor, kind: str = "mse") -> Tensor:
    r"""A hidden layer's local loss for its activations ``a`` (batch mean).

    With the projected label :math:`s=Py^*` of each example:

    - ``"mse"``: :math:`\tfrac12\|a-\tanh s\|^2`, the target squashed into
      tanh's range (our choice); gradient :math:`(a-\tanh s)/B`;
    - ``"l1"``: :math:`\|a-\tanh s\|_1`;
    - ``"drtp"``: :math:`-\langle s,a\rangle`, whose gradient
      :math:`-s/B` is DRTP's learning signal;
    - ``"ce_proj"``: the cross-entropy of the class scores :math:`P^\top a`,
      the layer read out through its own projection (our variant).
    """
    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")
    if not isinstance(a, Tensor) or a.dim() != 2:
        raise ValueError("a must be a (batch, width) tensor of activations")
    if not isinstance(P, Tensor) or P.dim() != 2 or P.shape[0] != a.shape[1]:
        raise ValueError(
            f"P must have shape (width, n_classes), width {a.shape[1]}"
        )
    if (
        not isinstance(y, Tensor)
        or y.dtype != torch.long
        or y.shape != (a.shape[0],)
        or int(y.min()) < 0
        or int(y.max()) >= P.shape[1]
    ):
        raise ValueError("y must hold one class label per row of a")
    s = F.one_hot(y, P.shape[1]).to(a.dtype) @ P.T  # P y*, one row each
    B = a.shape[0]
    if kind == "mse":
        return 0.5 * ((a - torch.tanh(s)) ** 2).sum() / B
    if kind == "l1":
        return (a - torch.tanh(s)).abs().sum() / B
    if kind == "drtp":
        return -(s * a).sum() / B
    return F.cross_entropy(a @ P, y)


def tpsgd_step(
    layers: Sequence[nn.Module],
    x: Tensor,
    y: Tensor,
    proj: TargetProjection,
    kind: str = "mse",
    act: Callable[[Tensor], Tensor] = torch.tanh,
    train_hidden: bool = True,
) -> dict[str, float]:
    r"""The gradients of one tpSGD mini-batch step, layer by layer.

    ``layers`` are the hidden layers and then the output layer; their
    parameters receive ``.grad``, and the caller's optimiser steps. Hidden
    layer :math:`i` computes :math:`a_i=\text{act}(W_ia_{i-1})` on its
    *detached* input, takes the local loss against :math:`P_iy^*` and
    backpropagates it into its own parameters only; the output layer is
    trained on the cross-entropy of its logits, on a detached input too. No
    graph spans two layers, so each layer's activations can be freed when
    its step is done. ``train_hidden=False`` leaves the hidden layers
    untouched (random features). Returns every layer's loss.
    """
    if not isinstance(proj, TargetProjection) or len(layers) != len(proj) + 1:
        raise ValueError(
            "need a TargetProjection and one hidden layer per "
            "projection, then the output layer"
        )
    losses = {}
    h = x
    for i, layer in enumerate(layers[:-1]):
        a = act(layer(h.detach()))
        if train_hidden:
            loss = local_loss(a, y, proj[i], kind)
            loss.backward()  # reaches this layer's weights, nothing else
            losses[f"layer {i + 1}"] = float(loss.detach())
        h = a.detach()  # the next layer sees a constant
    out = F.cross_entropy(layers[-1](h), y)
    out.backward()
    losses["output"] = float(out.detach())
    return losses


def tpsgd_rnn_step(
    cell: nn.RNNCell,
    head: nn.Module,
    x_seq: Tensor,
    y: Tensor,
    P: Tensor,
    kind: str = "ce_proj",
) -> dict[str, float]:
    r"""The gradients of one tpSGD step for a recurrent cell, without BPTT.

    ``x_seq`` is ``(batch, T, d)``. At each step
    :math:`h_t=\text{cell}(x_t, h_{t-1})` with the previous state
    *detached*; the local loss of :math:`h_t` against :math:`Py^*` (the
    sequence's label), divided by :math:`T`, is backpropagated into the cell
    only. The read-out ``head`` is trained on the cross-entropy of the last
    state, detached. Our reading of the paper's recurrent extension.
    """
    if not isinstance(x_seq, Tensor) or x_seq.dim() != 3:
        raise ValueError("x_seq must be a (batch, time, features) tensor")
    if not isinstance(cell, nn.RNNCellBase):
        raise ValueError("cell must be a torch.nn recurrent cell")
    B, T = x_seq.shape[:2]
    h = x_seq.new_zeros(B, cell.hidden_size)
    total = 0.0
    for t in range(T):
        h = cell(x_seq[:, t], h.detach())  # no gradient through time
        loss = local_loss(h, y, P, kind) / T
        loss.backward()
        total += float(loss.detach())
    out = F.cross_entropy(head(h.detach()), y)
    out.backward()
    return {"local": total, "output": float(out.detach())}
