r"""One-dimensional regression targets on :math:`[0,1]`, for random-feature networks.

``sine_1d`` is :math:`\sin(2\pi kx)`, whose frequency :math:`k` is the target's complexity;
``peaks_1d`` is the three-bump function of the randomized-learning literature (Tyukin and
Prokhorov, 2009; Wang and Li, 2017),

.. math::

    f(x)=0.2e^{-(10x-4)^2}+0.5e^{-(80x-40)^2}+0.3e^{-(80x-20)^2},

a wide bump at 0.4 and two narrow ones at 0.5 and 0.25. Introduced in
{ref}`ch-bandlimited-random-weights`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["peaks_1d", "sine_1d"]


def _x(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    return x


def sine_1d(x, k: float) -> np.ndarray:
    r""":math:`\sin(2\pi kx)`: ``k`` periods on :math:`[0,1]`."""
    if (
        isinstance(k, bool)
        or not isinstance(k, (int, float))
        or not (k > 0 and np.isfinite(k))
    ):
        raise ValueError(f"k must be a positive finite number, got {k!r}")
    arg = 2 * np.pi * k * _x(x)
    if not np.all(np.isfinite(arg)):
        raise ValueError("k·x overflows: use moderate k and x")
    return np.sin(arg)


def peaks_1d(x) -> np.ndarray:
    r"""The three-bump target, with peaks at 0.25, 0.4 and 0.5 (see the module)."""
    x = _x(x)
    with np.errstate(over="ignore"):  # far from the peaks exp(-inf) = 0
        return (
            0.2 * np.exp(-((10 * x - 4) ** 2))
            + 0.5 * np.exp(-((80 * x - 40) ** 2))
            + 0.3 * np.exp(-((80 * x - 20) ** 2))
        )
