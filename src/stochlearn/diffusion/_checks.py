"""Cheap argument checks shared by the diffusion package (clear errors instead of crashes deep in torch)."""

from __future__ import annotations

import math

from torch import Tensor


def _check_callable(fn, name: str) -> None:
    if not callable(fn):
        raise TypeError(
            f"{name} must be callable as {name}(x, t), got {type(fn).__name__}"
        )


def _check_sde(sde, name: str = "sde") -> None:
    from .sde import SDE

    if not isinstance(sde, SDE):
        raise TypeError(
            f"{name} must be an SDE (VESDE, VPSDE, subVPSDE, ...), got {type(sde).__name__}"
        )


def _check_tensor(
    x,
    name: str,
    *,
    min_dim: int = 0,
    floating: bool = False,
    nonempty: bool = False,
) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}"
        )
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}"
        )
    if x.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s), got shape {tuple(x.shape)}"
        )
    if nonempty and x.numel() == 0:
        raise ValueError(
            f"{name} must not be empty, got shape {tuple(x.shape)}"
        )


def _check_times(t, x: Tensor, name: str = "t") -> None:
    """``t`` must be a floating-point tensor of shape ``(batch,)`` matching ``x``."""
    _check_tensor(t, name, floating=True)
    if t.shape != x.shape[:1]:
        raise ValueError(
            f"{name} must have shape (batch,) = {tuple(x.shape[:1])}, got {tuple(t.shape)}"
        )


def _check_batch_x(x, name: str = "x") -> None:
    """``x`` must be a non-empty floating-point batch tensor of shape ``(B, ...)``."""
    _check_tensor(x, name, min_dim=1, floating=True, nonempty=True)


def _check_number(v, name: str, *, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
    if not math.isfinite(v) or (positive and v <= 0):
        raise ValueError(
            f"{name} must be a finite number{' > 0' if positive else ''}, got {v!r}"
        )
    return float(v)


def _check_pos_int(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(
            f"{name} must be a positive integer, got {type(n).__name__}"
        )
    if n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return n
