r"""Mutual-information estimators and the information plane of a network.

The information plane (Shwartz-Ziv and Tishby, 2017) places every layer :math:`T` of a network
at the point :math:`(I(X;T),\,I(T;Y))`. For a *deterministic* network on :math:`n` equiprobable,
distinct inputs :math:`x_1,\dots,x_n` with labels :math:`y_i`, the paper discretises each unit's
activation into equal-width bins; the layer then becomes a discrete variable :math:`\hat T`, and

.. math::

    I(X;\hat T) = H(\hat T), \qquad
    I(\hat T;Y) = H(\hat T) - \sum_y p(y)\,H(\hat T\mid Y=y)
               = H(\hat T) + H(Y) - H(\hat T, Y),

all in bits, with plug-in (empirical) entropies :math:`H=-\sum p\log_2 p` over the rows of the
binned activations. :math:`H(\hat T\mid X)=0` because :math:`\hat T` is a function of :math:`X`.

The module holds

* the estimators: :func:`bin_codes`, :func:`entropy_of_rows`, :func:`discrete_mi` and
  :func:`binned_mi` (the paper's estimator, vectorised over stacked layers);
* the gradient signal-to-noise ratio of the paper's "drift" and "diffusion" phases:
  :func:`gradient_mean_std` and :func:`gradient_snr`;
* the paper's 12-bit task, :func:`twelve_bit_task`, and a log-spaced checkpoint grid,
  :func:`log_epochs`;
* a trainer for many small MLPs at once, :func:`train_mlp_ensemble`, which records what the
  information plane needs (parameters at checkpoints, per-batch gradient statistics).

Introduced in {ref}`ch-information-plane`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ICOSAHEDRON",
    "EnsembleRun",
    "bin_codes",
    "binned_mi",
    "discrete_mi",
    "entropy_of_rows",
    "gradient_mean_std",
    "gradient_snr",
    "log_epochs",
    "mlp_ensemble_backward",
    "mlp_ensemble_forward",
    "train_mlp_ensemble",
    "twelve_bit_task",
]


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------
def _as_tensor(a, name: str) -> Tensor:
    if isinstance(a, Tensor):
        return a.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(a))
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{name} must be an array or a tensor, got {type(a).__name__}"
        ) from None


def _check_bins(n_bins: int, lo: float, hi: float) -> None:
    if (
        isinstance(n_bins, bool)
        or not isinstance(n_bins, (int, np.integer))
        or n_bins < 1
    ):
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(
            v, (int, float, np.floating, np.integer)
        ):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
    if not float(lo) < float(hi):
        raise ValueError(
            f"the bin range needs lo < hi, got lo={lo!r}, hi={hi!r}"
        )


def _check_labels(y, n: int) -> Tensor:
    yt = _as_tensor(y, "y")
    if yt.dim() != 1 or yt.shape[0] != n:
        raise ValueError(
            f"y must be a 1-D array of {n} labels (one per row of T), got shape {tuple(yt.shape)}"
        )
    if yt.is_floating_point():
        if not torch.all(yt == yt.round()):
            raise ValueError("y must hold integer class labels")
    elif yt.dtype == torch.bool:
        yt = yt.long()
    elif yt.is_complex():
        raise ValueError("y must hold integer class labels")
    yt = yt.long()
    if n and int(yt.min()) < 0:
        raise ValueError("class labels must be non-negative integers")
    return yt


# --------------------------------------------------------------------------------------------
# entropies and mutual information of discrete rows
# --------------------------------------------------------------------------------------------
def _row_ids(A: Tensor) -> Tensor:
    """Dense integer ids of the rows of a 2-D integer tensor (equal rows get equal ids)."""
    if A.dim() == 1:
        A = A[:, None]
    return torch.unique(A, dim=0, return_inverse=True)[1]


def _run_entropies(sorted_flat: Tensor, span: int, B: int, n: int) -> Tensor:
    r"""Plug-in entropies (bits) of ``B`` samples of size ``n`` stored as one sorted vector.

    Sample ``r``'s values were shifted by ``r * span`` before sorting, so runs of equal values
    never cross samples. With the counts :math:`c_k` of the runs of a sample,
    :math:`H=\log_2 n-\frac1n\sum_k c_k\log_2 c_k`.
    """
    new = torch.ones_like(sorted_flat, dtype=torch.bool)
    new[1:] = sorted_flat[1:] != sorted_flat[:-1]
    counts = torch.bincount(torch.cumsum(new, 0) - 1).double()
    run_sample = torch.div(sorted_flat[new], span, rounding_mode="floor")
    clogc = torch.zeros(B, dtype=torch.float64).index_add_(
        0, run_sample, torch.xlogy(counts, counts)
    )
    return (math.log2(n) - clogc / (n * math.log(2))).clamp_min(
        0.0
    )  # no -1e-16 for a constant


def _entropies(
    keys: Tensor, labels: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """Entropies of the rows of ``keys`` (``(B, n)``, int64) and, given labels, of (key, label)."""
    B, n = keys.shape
    C = 1 if labels is None else int(labels.max()) + 1
    keys = keys - keys.amin(
        dim=1, keepdim=True
    )  # non-negative; entropies do not change
    span_t = int(keys.max()) + 1
    if (
        span_t * C * B >= 2**62
    ):  # shifted keys would overflow: dense ids per sample first
        keys = torch.stack(
            [torch.unique(k, return_inverse=True)[1] for k in keys]
        )
        span_t = int(keys.max()) + 1
    joint = keys if labels is None else keys * C + labels
    shifted = joint + (span_t * C) * torch.arange(B)[:, None]
    srt = torch.sort(shifted.flatten())[
        0
    ]  # sorted by sample, then by key, then by label
    h_t = _run_entropies(torch.div(srt, C, rounding_mode="floor"), span_t, B, n)
    h_ty = None if labels is None else _run_entropies(srt, span_t * C, B, n)
    return h_t, h_ty


def entropy_of_rows(A) -> float:
    r"""Plug-in entropy :math:`H=-\sum_a \hat p(a)\log_2\hat p(a)` (bits) of the rows of ``A``.

    ``A`` is a discrete array of shape ``(n,)`` or ``(n, d)``; each row is one observation and
    :math:`\hat p` the empirical distribution of the distinct rows. ``n`` distinct rows give
    :math:`\log_2 n`, a constant array gives 0.
    """
    At = _as_tensor(A, "A")
    if At.dim() not in (1, 2) or 0 in At.shape:
        raise ValueError(
            f"A must be a non-empty array of shape (n,) or (n, d), got {tuple(At.shape)}"
        )
    if At.is_floating_point() and not torch.isfinite(At).all():
        raise ValueError("A contains NaN or infinite values")
    return float(_entropies(_row_ids(At)[None])[0][0])


def discrete_mi(A, B) -> float:
    r"""Plug-in mutual information :math:`I(A;B)=H(A)+H(B)-H(A,B)` (bits) of paired discrete rows.

    ``A`` and ``B`` have the same number of rows (observations); use it when the inputs repeat,
    where :func:`binned_mi`'s shortcut :math:`I(X;T)=H(T)` does not apply.
    """
    At, Bt = _as_tensor(A, "A"), _as_tensor(B, "B")
    if (
        At.dim() not in (1, 2)
        or Bt.dim() not in (1, 2)
        or 0 in At.shape[1:]
        or 0 in Bt.shape[1:]
    ):
        raise ValueError("A and B must have shape (n,) or (n, d) with d >= 1")
    if At.shape[0] != Bt.shape[0] or At.shape[0] == 0:
        raise ValueError(
            f"A and B need the same, non-zero number of rows, got {At.shape[0]} and {Bt.shape[0]}"
        )
    a, b = _row_ids(At), _row_ids(Bt)
    h_a, h_ab = _entropies(a[None], b)
    return float(h_a[0]) + entropy_of_rows(b) - float(h_ab[0])


def _check_convention(convention) -> None:
    if convention not in ("paper", "official"):
        raise ValueError(
            f"convention must be 'paper' (n_bins equal bins on [lo, hi]) or 'official' (the edges "
            f"np.linspace(lo, hi, n_bins) of ravidziv/IDNNs), got {convention!r}"
        )


def bin_codes(
    T,
    n_bins: int = 30,
    lo: float = -1.0,
    hi: float = 1.0,
    convention: str = "paper",
) -> Tensor:
    r"""The bin of every activation; an ``int64`` tensor of ``T``'s shape.

    ``convention="paper"`` (the paper's text: "30 equal bins"): ``n_bins`` equal-width bins cover
    ``[lo, hi]``, bin :math:`\lfloor n_\text{bins}(t-\text{lo})/(\text{hi}-\text{lo})\rfloor`;
    values outside the range go to the first or last bin, and ``hi`` itself to the last one.

    ``convention="official"`` (``ravidziv/IDNNs``, ``information_process.py``): the ``n_bins``
    numbers ``np.linspace(lo, hi, n_bins)``, rounded to float32, are *edges*, and a value is
    digitised with ``np.digitize``. That makes ``n_bins - 1`` equal intervals plus a cell of its
    own for a value at ``hi`` or above (a unit saturated at exactly 1.0 in float32); the official
    code also puts values below ``lo`` into that cell (its index ``-1`` wraps around). With
    ``n_bins=30`` the official grid is therefore close to the paper's grid with 29 bins, and the
    two estimates differ by up to about a bit on a layer whose values straddle a bin edge.
    """
    _check_bins(n_bins, lo, hi)
    _check_convention(convention)
    Tt = _as_tensor(T, "T")
    if not Tt.is_floating_point():
        Tt = Tt.double()
    if not torch.isfinite(Tt).all():
        raise ValueError("T contains NaN or infinite values")
    if convention == "official":
        if int(n_bins) < 2:
            raise ValueError("the official convention needs n_bins >= 2 edges")
        edges = torch.from_numpy(
            np.linspace(float(lo), float(hi), int(n_bins)).astype(np.float32)
        ).double()
        codes = torch.bucketize(
            Tt.double(), edges, right=True
        )  # = np.digitize: edges[i-1] <= t < edges[i]
        return torch.where(
            codes == 0, int(n_bins), codes
        )  # below lo: the official index -1 wraps to hi
    width = (float(hi) - float(lo)) / int(n_bins)
    codes = torch.floor((Tt.double() - float(lo)) / width)
    return codes.clamp_(0, int(n_bins) - 1).long()


def binned_mi(
    T,
    y,
    n_bins: int = 30,
    lo: float = -1.0,
    hi: float = 1.0,
    convention: str = "paper",
):
    r"""The paper's binned estimate of :math:`I(X;T)` and :math:`I(T;Y)` (bits).

    ``T`` holds the layer's activations, one row per input, for ``n``
    *distinct, equiprobable* inputs (all :math:`2^{12}` patterns of the
    paper's task); ``y`` holds their integer labels. Each unit is binned with
    :func:`bin_codes` (``n_bins`` bins on ``[lo, hi]``); for the binned rows
    :math:`\hat T`,

    .. math::

        I(X;\hat T)=H(\hat T),\qquad I(\hat T;Y)=H(\hat T)+H(Y)-H(\hat T,Y).

    ``T`` of shape ``(n, d)`` gives two floats; a stack of layers of shape
    ``(..., n, d)`` with the same labels (e.g. ``(replicas, n, d)``) gives two
    float64 arrays of shape ``...``. For ReLU layers pass ``lo=0`` and ``hi``
    = the largest activation. ``convention`` chooses the paper's equal bins
    or the official code's edges (:func:`bin_codes`).
    """
    Tt = _as_tensor(T, "T")
    if Tt.dim() < 2 or Tt.shape[-2] == 0 or Tt.shape[-1] == 0:
        raise ValueError(
            "T must have shape (n, d) or (..., n, d) with n, "
            f"d >= 1, got {tuple(Tt.shape)}"
        )
    batch_shape, (n, d) = Tt.shape[:-2], Tt.shape[-2:]
    yt = _check_labels(y, n)
    codes = bin_codes(Tt, n_bins, lo, hi, convention).reshape(-1, n, d)
    # official codes run from 1 to n_bins
    n_codes = int(n_bins) + (convention == "official")
    if d * math.log2(n_codes) < 62:  # a row's bins = digits of one integer
        radix = n_codes ** torch.arange(d, dtype=torch.int64)
        keys = (codes * radix).sum(-1)
    else:  # too many units for an int64: dense row ids, layer by layer
        keys = torch.stack([_row_ids(c) for c in codes])
    h_t, h_ty = _entropies(keys, yt)  # H(T), H(T,Y): one sort for all
    h_y = _entropies(yt[None])[0]
    i_xt, i_ty = h_t, (h_t + h_y - h_ty).clamp_min(0.0)
    if not batch_shape:
        return float(i_xt[0]), float(i_ty[0])
    return (
        i_xt.reshape(batch_shape).numpy(),
        i_ty.reshape(batch_shape).numpy(),
    )


# --------------------------------------------------------------------------------------------
# gradient signal-to-noise ratio (drift vs diffusion)
# --------------------------------------------------------------------------------------------
def gradient_mean_std(grads: Tensor) -> tuple[Tensor, Tensor]:
    r"""Norms of the mean and of the standard deviation of mini-batch gradients.

    ``grads`` has shape ``(K, ..., P)``: the flattened gradients
    :math:`g_1..g_K` of the mini-batches of one epoch (for each of ``...``
    networks or layers). Returns :math:`\lVert\bar g\rVert` and
    :math:`\lVert\sigma_g\rVert=\sqrt{\operatorname{tr}\,\mathrm{Cov}(g)}`,
    each of shape ``...``, with :math:`\bar g=\frac1K\sum_k g_k` and
    :math:`\sigma_g^2=\frac1K\sum_k (g_k-\bar g)^2` (the population
    covariance, as in the official code).
    """
    if not isinstance(grads, Tensor):
        raise ValueError("grads must be a tensor of shape (K, ..., P)")
    if grads.dim() < 2 or grads.shape[0] < 2 or grads.shape[-1] < 1:
        raise ValueError(
            "grads needs shape (K, ..., P) with K >= 2 "
            "mini-batches and P >= 1 parameters, "
            f"got {tuple(grads.shape)}"
        )
    if not grads.is_floating_point():
        raise ValueError(
            f"grads must be a floating-point tensor, got {grads.dtype}"
        )
    mean = grads.mean(0)  # ḡ
    std = (grads - mean).pow(2).mean(0).sqrt()  # σ_g, coordinate-wise
    return mean.norm(dim=-1), std.norm(dim=-1)


def gradient_snr(grads: Tensor) -> Tensor:
    r"""Gradient signal-to-noise ratio :math:`\lVert\bar g\rVert/\lVert\sigma_g\rVert` (see :func:`gradient_mean_std`).

    Above 1 the mini-batch gradients agree (the paper's *drift* phase); below 1 their
    fluctuations dominate (*diffusion*). Identical gradients give ``inf``.
    """
    mean, std = gradient_mean_std(grads)
    return mean / std


# --------------------------------------------------------------------------------------------
# the paper's task and checkpoint grid
# --------------------------------------------------------------------------------------------
_PHI = (1 + 5**0.5) / 2
#: The 12 vertices of a regular icosahedron (unit vectors), in the order of the bits of the
#: official data file ``data/var_u.mat`` (recovered from its labels: vertices i and j are
#: neighbours exactly when they co-occur most often among the positive patterns).
ICOSAHEDRON: np.ndarray = np.array(
    [
        (0, 1, _PHI),
        (1, _PHI, 0),
        (0, 1, -_PHI),
        (-1, _PHI, 0),
        (_PHI, 0, -1),
        (0, -1, _PHI),
        (1, -_PHI, 0),
        (-1, -_PHI, 0),
        (-_PHI, 0, -1),
        (0, -1, -_PHI),
        (-_PHI, 0, 1),
        (_PHI, 0, 1),
    ]
) / math.sqrt(1 + _PHI**2)


def twelve_bit_task() -> tuple[Tensor, Tensor]:
    r"""The paper's task: all :math:`2^{12}` binary inputs and a rotation-invariant label.

    Each bit :math:`x_i` marks a vertex :math:`v_i` of an icosahedron (:data:`ICOSAHEDRON`,
    "12 uniformly distributed points on a sphere"), and

    .. math::

        y = \Theta\big(f(x)-\theta\big),\qquad
        f(x) = \sum_{i,j} x_i x_j\,(v_i\cdot v_j - 0.35) + 7\sum_i x_i
             = \Big\lVert\sum_i x_i v_i\Big\rVert^2 + 7s - 0.35s^2,\quad \theta=32.23,

    with :math:`s=\sum_i x_i`: a quadratic function of :math:`x` that only depends on the
    angles between the marked points, so it is invariant under the rotations and reflections
    of the icosahedron. The paper does not publish its :math:`f`; this one reproduces all 4096
    labels of the official ``data/var_u.mat`` exactly (:math:`p(y=1)=0.517`). Row :math:`i` of
    ``X`` is the binary expansion of :math:`i`, most significant bit first, as in that file.

    Returns ``X`` (``float32``, shape ``(4096, 12)``) and ``y`` (``int64``, shape ``(4096,)``).
    """
    i = np.arange(4096)[:, None]
    X = ((i >> (11 - np.arange(12))) & 1).astype(np.float64)
    s = X.sum(1)
    f = ((X @ ICOSAHEDRON) ** 2).sum(1) + 7 * s - 0.35 * s**2
    y = (f > 32.23).astype(np.int64)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def log_epochs(epochs: int, n: int) -> np.ndarray:
    """About ``n`` distinct epochs in ``1..epochs``, evenly spaced in log scale (both ends included).

    The paper samples the information plane on such a grid, so that the short fitting phase
    is resolved as well as the long compression phase.
    """
    for name, v in (("epochs", epochs), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    grid = np.unique(np.round(np.logspace(0, np.log10(epochs), n)).astype(int))
    return grid[(grid >= 1) & (grid <= epochs)]


# --------------------------------------------------------------------------------------------
# many small MLPs trained at once
# --------------------------------------------------------------------------------------------
_ACTIVATIONS = ("tanh", "relu")


def _act(z: Tensor, activation: str) -> Tensor:
    if (
        activation == "tanh"
    ):  # tanh(z) = 2σ(2z) − 1, several times faster than torch.tanh on CPU
        return torch.sigmoid(2 * z).mul_(2).sub_(1)
    return torch.relu(z)


def _act_grad(h: Tensor, activation: str) -> Tensor:
    if activation == "tanh":
        return 1 - h * h
    return (h > 0).to(h.dtype)


def _check_ensemble(params: Sequence[Tensor], x: Tensor, name: str) -> None:
    """Cheap shape checks of the batched-MLP layout (this runs on every mini-batch)."""
    if (
        not isinstance(params, (list, tuple))
        or len(params) < 2
        or len(params) % 2
    ):
        raise ValueError(
            "params must be a list [W_1, b_1, ..., W_L, b_L] of tensors"
        )
    if not all(
        isinstance(p, Tensor) and p.dim() == 3 and p.is_floating_point()
        for p in params
    ):
        raise ValueError(
            "every W_l must have shape (R, out, in) and every b_l (R, out, 1), floating point"
        )
    if not isinstance(x, Tensor) or x.dim() != 3 or not x.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor of shape (R, in, B)"
        )
    if x.shape[1] != params[0].shape[2]:
        raise ValueError(
            f"{name} has {x.shape[1]} input units but W_1 expects {params[0].shape[2]}"
        )


def mlp_ensemble_forward(
    params: Sequence[Tensor], x: Tensor, activation: str = "tanh"
) -> list[Tensor]:
    r"""Forward pass of :math:`R` MLPs at once, in the layout ``(replica, unit, example)``.

    ``params`` is ``[W_1, b_1, ..., W_L, b_L]`` with ``W_l`` of shape ``(R, out, in)`` and
    ``b_l`` of shape ``(R, out, 1)``; ``x`` has shape ``(R, in, B)``. Returns
    ``[x, h_1, ..., h_{L-1}, z_L]``: the hidden activations :math:`h_l=\phi(W_l h_{l-1}+b_l)` and
    the output logits :math:`z_L`.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {_ACTIVATIONS}, got {activation!r}"
        )
    _check_ensemble(params, x, "x")
    hs = [x]
    L = len(params) // 2
    for k in range(L):
        z = torch.baddbmm(params[2 * k + 1], params[2 * k], hs[-1])
        hs.append(_act(z, activation) if k < L - 1 else z)
    return hs


def mlp_ensemble_backward(
    params: Sequence[Tensor],
    hs: Sequence[Tensor],
    y: Tensor,
    activation: str = "tanh",
    out: Sequence[Tensor] | None = None,
) -> list[Tensor]:
    r"""Gradients of :math:`\sum_r \mathrm{CE}_r` (each replica's mean cross-entropy) by backpropagation.

    ``hs`` comes from :func:`mlp_ensemble_forward`, ``y`` has shape ``(R, B)``. With
    :math:`\delta_L=(\mathrm{softmax}(z_L)-\mathrm{onehot}(y))/B`, :math:`\nabla W_l=\delta_l h_{l-1}^\top`,
    :math:`\nabla b_l=\sum_b\delta_l` and :math:`\delta_{l-1}=(W_l^\top\delta_l)\odot\phi'(h_{l-1})`.
    Written out by hand because autograd's overhead dominates for networks this small; the unit
    tests check it against autograd. ``out`` (tensors shaped like ``params``) receives the result.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {_ACTIVATIONS}, got {activation!r}"
        )
    if not isinstance(hs, (list, tuple)) or not hs:
        raise ValueError(
            "hs must be the list that mlp_ensemble_forward returned for these params"
        )
    _check_ensemble(params, hs[0], "hs[0]")
    if len(hs) != len(params) // 2 + 1:
        raise ValueError(
            f"hs must hold {len(params) // 2 + 1} tensors for these params, got {len(hs)}"
        )
    if not isinstance(y, Tensor) or y.dtype != torch.long or y.dim() != 2:
        raise ValueError(
            "y must be an int64 tensor of class labels with shape (R, B)"
        )
    L = len(params) // 2
    grads = (
        list(out) if out is not None else [torch.empty_like(p) for p in params]
    )
    p = torch.softmax(hs[-1], dim=1)
    onehot = torch.zeros_like(p).scatter_(1, y[:, None, :], 1.0)
    delta = (p - onehot).div_(y.shape[1])
    for k in range(L - 1, -1, -1):
        torch.bmm(delta, hs[k].transpose(1, 2), out=grads[2 * k])
        torch.sum(delta, dim=2, keepdim=True, out=grads[2 * k + 1])
        if k > 0:
            delta = torch.bmm(params[2 * k].transpose(1, 2), delta).mul_(
                _act_grad(hs[k], activation)
            )
    return grads


@dataclass
class EnsembleRun:
    """What :func:`train_mlp_ensemble` recorded at each checkpoint epoch, for ``R`` replicas.

    ``grad_mean`` and ``grad_std`` (shape ``(K, L, R)``) are :func:`gradient_mean_std` of each
    weight matrix over the mini-batches of the checkpoint epoch; ``train_acc`` and ``test_acc``
    have shape ``(K, R)``; ``params[k]`` are the parameters after checkpoint ``k``.
    """

    sizes: tuple[int, ...]
    activation: str
    epochs: np.ndarray
    params: list[list[Tensor]]
    grad_mean: np.ndarray
    grad_std: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    train_idx: Tensor

    @property
    def replicas(self) -> int:
        return int(self.train_idx.shape[0])

    @torch.no_grad()
    def layers(self, k: int, X: Tensor) -> list[Tensor]:
        """Activations at checkpoint ``k`` on inputs ``X`` (``(n, in)``): every hidden layer and the
        softmax output, each of shape ``(R, n, units)``."""
        if not -len(self.epochs) <= k < len(self.epochs):
            raise ValueError(
                f"checkpoint index {k} out of range for {len(self.epochs)} checkpoints"
            )
        P = [p.to(X.device) for p in self.params[k]]
        x = X.T.to(P[0].dtype)[None].expand(self.replicas, -1, -1)
        hs = mlp_ensemble_forward(P, x, self.activation)
        out = hs[1:-1] + [torch.softmax(hs[-1], dim=1)]
        return [h.transpose(1, 2).cpu() for h in out]


def _truncated_normal(
    shape: tuple[int, ...], std: float, generator: torch.Generator
) -> Tensor:
    """Normal draws redrawn until within two standard deviations (TensorFlow's truncated_normal)."""
    w = torch.randn(shape, generator=generator)
    while True:
        bad = w.abs() > 2
        if not bad.any():
            return w * std
        w[bad] = torch.randn(int(bad.sum()), generator=generator)


def train_mlp_ensemble(
    X: Tensor,
    y: Tensor,
    sizes: Sequence[int],
    *,
    replicas: int,
    epochs: int,
    checkpoints: Sequence[int],
    activation: str = "tanh",
    lr: float = 4e-4,
    batch_size: int = 512,
    train_frac: float = 0.8,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> EnsembleRun:
    """Train ``replicas`` independent MLPs ``sizes[0] → … → sizes[-1]`` with Adam and cross-entropy.

    The official code's recipe: weights drawn from a normal truncated at two standard deviations
    with std :math:`1/\\sqrt{\\text{fan-in}}`, zero biases, Adam with learning rate ``lr``,
    mini-batches of ``batch_size``. Every replica has its own initialisation, its own random
    training subset (a fraction ``train_frac`` of the rows of ``X``, the rest is its test set) and
    its own batch order (a fresh permutation each epoch). At each epoch in ``checkpoints`` the
    parameters, the accuracies and the mean/std of the mini-batch gradients of every weight matrix
    are recorded. All replicas run as one batched network; ``generator`` makes the run repeatable.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {_ACTIVATIONS}, got {activation!r}"
        )
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(
            f"sizes must list at least two positive layer widths, got {sizes!r}"
        )
    for name, v in (
        ("replicas", replicas),
        ("epochs", epochs),
        ("batch_size", batch_size),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not (isinstance(lr, (int, float)) and 0 < lr < math.inf):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not (isinstance(train_frac, (int, float)) and 0 < train_frac <= 1):
        raise ValueError(f"train_frac must be in (0, 1], got {train_frac!r}")
    if not isinstance(X, Tensor) or X.dim() != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"X must be a tensor of shape (n, {sizes[0]})")
    if (
        not isinstance(y, Tensor)
        or y.shape != (X.shape[0],)
        or y.dtype != torch.long
    ):
        raise ValueError(
            "y must be an int64 tensor with one label per row of X"
        )
    if int(y.min()) < 0 or int(y.max()) >= sizes[-1]:
        raise ValueError(
            f"labels must lie in 0..{sizes[-1] - 1} (the output width)"
        )
    ck = sorted({int(c) for c in checkpoints})
    if not ck or ck[0] < 1 or ck[-1] > epochs:
        raise ValueError(f"checkpoints must be epochs in 1..{epochs}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    dev = torch.device(device)
    R, n, L = int(replicas), X.shape[0], len(sizes) - 1
    n_train = max(1, int(round(train_frac * n)))
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(R)])
    train_idx, test_idx = perms[:, :n_train], perms[:, n_train:]

    # all parameters in one flat tensor, so that one Adam step updates them all
    shapes = [
        s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((R, b, a), (R, b, 1))
    ]
    numels = [math.prod(s) for s in shapes]
    flat = torch.zeros(sum(numels), device=dev)
    flat.grad = torch.zeros_like(flat)
    params = [t.view(s) for t, s in zip(torch.split(flat, numels), shapes)]
    grads = [t.view(s) for t, s in zip(torch.split(flat.grad, numels), shapes)]
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = _truncated_normal((R, a, b), 1 / math.sqrt(a), g)
        params[2 * k].copy_(w.transpose(1, 2))
    try:
        opt = torch.optim.Adam([flat], lr=lr, fused=True)
    except (
        RuntimeError,
        TypeError,
    ):  # pragma: no cover - older torch without fused CPU Adam
        opt = torch.optim.Adam([flat], lr=lr)

    X_dev, y_dev = X.to(dev), y.to(dev)
    n_test = n - n_train
    rec = {"params": [], "gm": [], "gs": [], "tr": [], "te": []}
    for epoch in range(1, epochs + 1):
        order = train_idx[:, torch.randperm(n_train, generator=g)].to(dev)
        Xe = (
            X_dev.index_select(0, order.reshape(-1))
            .view(R, n_train, -1)
            .transpose(1, 2)
        )
        ye = y_dev[order]  # Xe: (R, in, n_train), this epoch's batch order
        record = epoch in ck
        batch_grads = []
        for i in range(0, n_train, batch_size):
            hs = mlp_ensemble_forward(
                params, Xe[:, :, i : i + batch_size], activation
            )
            mlp_ensemble_backward(
                params, hs, ye[:, i : i + batch_size], activation, out=grads
            )
            if record:
                batch_grads.append(
                    [grads[2 * k].reshape(R, -1).clone() for k in range(L)]
                )
            opt.step()
        if record:
            if len(batch_grads) >= 2:
                stats = [
                    gradient_mean_std(
                        torch.stack([bg[k] for bg in batch_grads])
                    )
                    for k in range(L)
                ]
                gm = torch.stack([s[0] for s in stats]).cpu().numpy()
                gs = torch.stack([s[1] for s in stats]).cpu().numpy()
            else:  # one mini-batch per epoch: no fluctuation to measure
                gm = gs = np.full((L, R), np.nan)
            with torch.no_grad():
                logits = mlp_ensemble_forward(
                    params, X_dev.T[None].expand(R, -1, -1), activation
                )[-1]
                correct = (logits.argmax(1) == y_dev).float().cpu()
            rec["params"].append([p.detach().clone().cpu() for p in params])
            rec["gm"].append(gm)
            rec["gs"].append(gs)
            rec["tr"].append(
                torch.gather(correct, 1, train_idx).mean(1).numpy()
            )
            rec["te"].append(
                torch.gather(correct, 1, test_idx).mean(1).numpy()
                if n_test
                else np.full(R, np.nan)
            )
    return EnsembleRun(
        sizes=sizes,
        activation=activation,
        epochs=np.array(ck),
        params=rec["params"],
        grad_mean=np.array(rec["gm"]),
        grad_std=np.array(rec["gs"]),
        train_acc=np.array(rec["tr"]),
        test_acc=np.array(rec["te"]),
        train_idx=train_idx,
    )
