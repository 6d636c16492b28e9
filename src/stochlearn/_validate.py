"""Argument checks shared by several topic modules (private)."""

from __future__ import annotations

import numpy as np


def finite_array(a, name: str) -> np.ndarray:
    """``a`` as a float64 array; a ``ValueError`` unless it is non-empty and finite."""
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers") from err
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty array of finite numbers")
    return a


def float_tensor(t, name: str):
    """``t`` itself; a ``ValueError`` unless it is a floating-point ``torch.Tensor``."""
    import torch

    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise ValueError(f"{name} must be a float tensor")
    return t


def feature_matrix(x, n_features: int, name: str = "x"):
    """``x`` itself; a ``ValueError`` unless it is a ``torch.Tensor`` of shape
    ``(n, n_features)``."""
    import torch

    if (
        not isinstance(x, torch.Tensor)
        or x.ndim != 2
        or x.shape[1] != n_features
    ):
        raise ValueError(f"{name} must be a tensor of shape (n, {n_features})")
    return x


def integer(v, name: str, lo: int = 1) -> int:
    """``v`` as an ``int``; a ``ValueError`` unless it is an integer (not a bool) ``>= lo``."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        what = "a positive integer" if lo == 1 else f"an integer >= {lo}"
        raise ValueError(f"{name} must be {what}, got {v!r}")
    return int(v)


def number(v, name: str, positive: bool = True) -> float:
    """``v`` as a ``float``; a ``ValueError`` unless it is an ``int`` or
    ``float`` (not a bool) that is ``> 0`` (``positive``) or ``>= 0``."""
    ok = (
        not isinstance(v, bool)
        and isinstance(v, (int, float))
        and (v > 0 if positive else v >= 0)
    )
    if not ok:
        what = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {what} number, got {v!r}")
    return float(v)


def check_rng(rng) -> None:
    """A ``ValueError`` unless ``rng`` is a NumPy ``Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. run.rng())"
        )
