r"""The binned estimator of the information plane (Shwartz-Ziv and Tishby, 2017).

For a *deterministic* network on :math:`n` equiprobable, distinct inputs, each unit's activation
is discretised into equal-width bins; the layer becomes a discrete variable :math:`\hat T` with
:math:`I(X;\hat T)=H(\hat T)` and :math:`I(\hat T;Y)=H(\hat T)+H(Y)-H(\hat T,Y)`, in bits, with
plug-in entropies over the rows of the binned activations.

Introduced in {ref}`ch-information-plane`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ._checks import _as_tensor, _check_bins, _check_labels


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
