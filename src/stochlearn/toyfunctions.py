r"""Low-dimensional test functions for optimizers.

The three 1-D non-convex functions of Dubey et al. (2019), eqs. 24-26, introduced in
{ref}`ch-diffgrad`:

.. math::

    F_1(x) &= (x+0.3)^2 \ (x\le 0), \quad (x-0.2)^2 + 0.05 \ (x>0) \\
    F_2(x) &= -40x - 35.15 \ (x\le -0.9), \quad x^3 + x\sin(8x) + 0.85 \ (x>-0.9) \\
    F_3(x) &= x^2 \ (x\le-0.5),\ 0.75+x\ (-0.5<x\le-0.4),\ -7x/8\ (-0.4<x\le0),\
              7x/8\ (0<x\le0.4),\ 0.75-x\ (0.4<x\le0.5),\ x^2\ (x>0.5)

:math:`F_1` has its global minimum at :math:`-0.3` (value 0) and a local one at :math:`0.2`
(value 0.05). :math:`F_2` as printed in the paper jumps slightly at :math:`x=-0.9`
(0.85 from the left, about 0.835 from the right); we keep the printed definition.
All functions are elementwise and differentiable by autograd away from their breakpoints.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["dubey_f1", "dubey_f2", "dubey_f3", "DUBEY_FUNCTIONS"]


def _check(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise ValueError(f"expected a torch tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(
            f"expected a floating-point tensor, got dtype {x.dtype}"
        )
    return x


def dubey_f1(x: Tensor) -> Tensor:
    """:math:`F_1` of Dubey et al. (2019), eq. 24: global minimum at -0.3, local minimum at 0.2."""
    x = _check(x)
    return torch.where(x <= 0, (x + 0.3) ** 2, (x - 0.2) ** 2 + 0.05)


def dubey_f2(x: Tensor) -> Tensor:
    """:math:`F_2` of Dubey et al. (2019), eq. 25 (as printed: a small jump at -0.9)."""
    x = _check(x)
    return torch.where(
        x <= -0.9, -40.0 * x - 35.15, x**3 + x * torch.sin(8 * x) + 0.85
    )


def dubey_f3(x: Tensor) -> Tensor:
    """:math:`F_3` of Dubey et al. (2019), eq. 26: a piecewise-linear valley between two parabolas."""
    x = _check(x)
    out = x**2
    out = torch.where((x > -0.5) & (x <= -0.4), 0.75 + x, out)
    out = torch.where((x > -0.4) & (x <= 0.0), -7.0 * x / 8.0, out)
    out = torch.where((x > 0.0) & (x <= 0.4), 7.0 * x / 8.0, out)
    out = torch.where((x > 0.4) & (x <= 0.5), 0.75 - x, out)
    return out


#: The three functions by name, in the paper's order.
DUBEY_FUNCTIONS = {"F1": dubey_f1, "F2": dubey_f2, "F3": dubey_f3}
