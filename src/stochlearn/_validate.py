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
