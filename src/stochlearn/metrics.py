r"""Measurements of a training run: how far the weights travel, and which growth law fits.

Hoffer, Hubara and Soudry (2017) track the distance of the weights from their initialisation,
:math:`d_t=\lVert w_t-w_0\rVert_2`, during the first, high-learning-rate phase of training, and
find that it grows like :math:`\log t` ("ultra-slow diffusion") rather than like the
:math:`\sqrt t` of a random walk on a flat landscape. :func:`param_distance` measures
:math:`d_t` and :func:`compare_growth_fits` compares the candidate laws. Introduced in
{ref}`ch-ghost-batchnorm`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["param_distance", "snapshot_params", "compare_growth_fits", "r_squared"]


def snapshot_params(model: nn.Module) -> list[Tensor]:
    """A detached copy of every parameter of ``model``: the reference :math:`w_0` for :func:`param_distance`."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [p.detach().clone() for p in model.parameters()]


@torch.no_grad()
def param_distance(model: nn.Module, ref_params: Iterable[Tensor]) -> float:
    r"""L2 distance of the flattened parameters to a reference copy, :math:`\lVert w-w_0\rVert_2`.

    ``ref_params`` lists tensors in the order of ``model.parameters()`` (see
    :func:`snapshot_params`). Buffers (BatchNorm running statistics) are not parameters and are
    not counted.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    params, refs = list(model.parameters()), list(ref_params)
    if len(params) != len(refs):
        raise ValueError(f"the model has {len(params)} parameter tensors but {len(refs)} references were given")
    total = torch.zeros((), dtype=torch.float64)
    for p, r in zip(params, refs):
        if p.shape != r.shape:
            raise ValueError(f"parameter shape {tuple(p.shape)} does not match its reference {tuple(r.shape)}")
        total += float((p.detach() - r.to(p.device)).double().pow(2).sum())
    return float(total.sqrt())


def r_squared(y: np.ndarray, y_hat: np.ndarray) -> float:
    r"""Coefficient of determination :math:`1-\sum(y-\hat y)^2/\sum(y-\bar y)^2`."""
    try:
        y, y_hat = np.asarray(y, float).ravel(), np.asarray(y_hat, float).ravel()
    except (TypeError, ValueError):
        raise ValueError("y and y_hat must be arrays of numbers") from None
    if y.shape != y_hat.shape or y.size < 2:
        raise ValueError(f"y and y_hat must have the same length (at least 2), got {y.size} and {y_hat.size}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(y_hat))):
        raise ValueError("y and y_hat must be finite")
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        raise ValueError("y is constant: R² is undefined")
    return 1.0 - float(np.sum((y - y_hat) ** 2)) / ss_tot


def compare_growth_fits(t: np.ndarray, d: np.ndarray) -> dict[str, float]:
    r"""R² of three growth laws fitted to :math:`d(t)`: :math:`a+b\log t`, :math:`a+b\sqrt t` and :math:`a\,t^c`.

    The first two are least-squares fits in :math:`d`; the power law is fitted as a straight line
    in :math:`(\log t,\log d)` (needs :math:`d>0`) and its R² is computed on :math:`d` too, so the
    three are comparable. Returns ``r2_log``, ``r2_sqrt``, ``r2_power``, the coefficients
    ``log_a, log_b, sqrt_a, sqrt_b, power_a`` and the exponent ``power_c`` (0.5 for a random walk,
    close to 0 for ultra-slow, logarithmic growth).
    """
    t, d = np.asarray(t, float).ravel(), np.asarray(d, float).ravel()
    if t.shape != d.shape or t.size < 3:
        raise ValueError(f"t and d must have the same length (at least 3), got {t.size} and {d.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(d))):
        raise ValueError("t and d must be finite")
    if np.any(t <= 0):
        raise ValueError("t must be positive (log t and √t are fitted)")
    out: dict[str, float] = {}
    for name, feature in (("log", np.log(t)), ("sqrt", np.sqrt(t))):
        A = np.column_stack([np.ones_like(t), feature])
        (a, b), *_ = np.linalg.lstsq(A, d, rcond=None)
        out[f"r2_{name}"] = r_squared(d, a + b * feature)
        out[f"{name}_a"], out[f"{name}_b"] = float(a), float(b)
    if np.all(d > 0):
        c, log_a = np.polyfit(np.log(t), np.log(d), 1)
        out["r2_power"] = r_squared(d, np.exp(log_a) * t**c)
        out["power_a"], out["power_c"] = float(np.exp(log_a)), float(c)
    else:
        out["r2_power"] = out["power_a"] = out["power_c"] = float("nan")
    return out
