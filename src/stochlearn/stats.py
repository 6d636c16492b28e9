r"""Small statistics for reading experiments: power-law slopes, and more as chapters need them.

A power law :math:`y=c\,x^{a}` is a straight line of slope :math:`a` on log-log axes;
:func:`loglog_slope` fits that line by least squares. Introduced in {ref}`ch-lr-batch-rmt`.
:func:`crossing_point` finds where a measured curve first reaches a level
({ref}`ch-sgd-noise-regimes`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["loglog_slope", "crossing_point"]


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    r"""Least-squares slope :math:`a` of :math:`\log y=a\log x+b`: the exponent of :math:`y\propto x^a`.

    Needs at least two distinct positive ``x`` and positive ``y`` of the same length.
    """
    x, y = (
        np.asarray(x, dtype=float).ravel(),
        np.asarray(y, dtype=float).ravel(),
    )
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same length, got {x.size} and {y.size}"
        )
    if x.size < 2 or np.unique(x).size < 2:
        raise ValueError("need at least two distinct x values")
    if not (
        np.all(np.isfinite(x))
        and np.all(np.isfinite(y))
        and np.all(x > 0)
        and np.all(y > 0)
    ):
        raise ValueError("x and y must be finite and positive")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def crossing_point(x: np.ndarray, y: np.ndarray, level: float) -> float:
    r"""The first :math:`x` at which :math:`y(x)` reaches ``level``, interpolating on log-log axes.

    ``x`` must be positive and increasing, ``y`` positive. Between the last point below ``level``
    and the next point at or above it, the curve is taken to be a power law (a straight line in
    :math:`\log x,\log y`), which is exact for :math:`y=c\,x^a`. Returns ``x[0]`` if
    ``y[0] >= level`` and NaN if ``y`` never reaches it.
    """
    x, y = (
        np.asarray(x, dtype=float).ravel(),
        np.asarray(y, dtype=float).ravel(),
    )
    if x.shape != y.shape or x.size < 1:
        raise ValueError(
            f"x and y must be non-empty and of the same length, got {x.size} and {y.size}"
        )
    if not (
        np.all(np.isfinite(x))
        and np.all(np.isfinite(y))
        and np.all(x > 0)
        and np.all(y > 0)
    ):
        raise ValueError("x and y must be finite and positive")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    if (
        isinstance(level, bool)
        or not isinstance(level, (int, float, np.integer, np.floating))
        or not np.isfinite(level)
        or level <= 0
    ):
        raise ValueError(
            f"level must be a positive finite number, got {level!r}"
        )
    above = np.flatnonzero(y >= level)
    if above.size == 0:
        return float("nan")
    j = int(above[0])
    if j == 0:
        return float(x[0])
    lx, ly = np.log(x[j - 1 : j + 1]), np.log(y[j - 1 : j + 1])
    return float(
        np.exp(
            lx[0] + (np.log(level) - ly[0]) * (lx[1] - lx[0]) / (ly[1] - ly[0])
        )
    )
