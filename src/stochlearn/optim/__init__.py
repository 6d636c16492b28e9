"""Optimizers and samplers introduced by the chapters.

* :class:`DiffGrad`, :func:`diffgrad_friction` — {ref}`ch-diffgrad`.
"""

from .diffgrad import DiffGrad, diffgrad_friction

__all__ = ["DiffGrad", "diffgrad_friction"]
