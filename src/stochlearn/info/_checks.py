"""Argument checks shared by the estimators of :mod:`stochlearn.info`."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


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
