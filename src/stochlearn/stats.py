r"""Small statistics for reading experiments: power-law slopes, and more as chapters need them.

A power law :math:`y=c\,x^{a}` is a straight line of slope :math:`a` on log-log axes;
:func:`loglog_slope` fits that line by least squares. Introduced in {ref}`ch-lr-batch-rmt`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["loglog_slope"]


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    r"""Least-squares slope :math:`a` of :math:`\log y=a\log x+b`: the exponent of :math:`y\propto x^a`.

    Needs at least two distinct positive ``x`` and positive ``y`` of the same length.
    """
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 2 or np.unique(x).size < 2:
        raise ValueError("need at least two distinct x values")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("x and y must be finite and positive")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
