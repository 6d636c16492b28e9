r"""Potential-energy surfaces, forces from autograd, and Boltzmann averages.

A (neural-network) potential assigns an energy :math:`U(x)` to a configuration :math:`x`; the
forces are :math:`F=-\nabla_xU`, and at temperature :math:`k_BT` the configurations follow the
Boltzmann density

.. math:: p(x)=\frac{e^{-U(x)/k_BT}}{Z},\qquad Z=\int e^{-U(x)/k_BT}\,dx,

so that an observable :math:`O` has the thermal average
:math:`\langle O\rangle=\int O(x)\,p(x)\,dx`. In one dimension both integrals are computed on a
grid (trapezoidal rule) instead of by molecular dynamics. Introduced in
{ref}`ch-sgmcmc-potentials`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.integrate import trapezoid
from torch import Tensor

from ._validate import finite_array, float_tensor, integer, number

__all__ = [
    "boltzmann_grid_sample",
    "boltzmann_observable",
    "double_well",
    "energy_force",
    "force_matching_loglik",
]


def double_well(x: Tensor, a: float = 2.0, tilt: float = 0.3) -> Tensor:
    r"""The tilted double well :math:`U(x)=a\,(x^2-1)^2+\text{tilt}\cdot x`:
    two minima near :math:`x=\pm1` separated by a barrier of height about
    :math:`a` at :math:`x=0`; a positive ``tilt`` lifts the right well.
    Elementwise on a tensor ``x``."""
    float_tensor(x, "x")
    number(a, "a")
    if isinstance(tilt, bool) or not isinstance(tilt, (int, float)):
        raise ValueError(f"tilt must be a number, got {tilt!r}")
    return a * (x**2 - 1) ** 2 + tilt * x


def energy_force(
    fn: Callable[[Tensor], Tensor], x: Tensor, create_graph: bool = True
) -> tuple[Tensor, Tensor]:
    r"""Energies :math:`U=f(x)` and forces :math:`F=-\partial U/\partial x`
    by automatic differentiation.

    ``x`` has shape ``(..., d)`` (one configuration per row) and ``fn(x)``
    one energy per row, shape ``(...)`` or ``(..., 1)``. Each energy must
    depend on its own row only (true of a network applied row by row; a
    batch of networks needs one copy of the inputs per network, so that
    the forces of different networks are not summed). With
    ``create_graph=True`` the forces stay differentiable in the network's
    parameters, which force matching needs. Returns ``(U, F)``, ``U`` of
    shape ``(...)`` and ``F`` of ``x``'s shape.
    """
    if not callable(fn):
        raise ValueError("fn must be a callable that maps x to energies")
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.ndim < 1:
        raise ValueError("x must be a float tensor of shape (..., d)")
    x = x.detach().requires_grad_(True)
    U = fn(x)
    if not isinstance(U, Tensor):
        raise ValueError("fn(x) must return a tensor")
    if U.shape == x.shape[:-1] + (1,):
        U = U.squeeze(-1)
    if U.shape != x.shape[:-1]:
        raise ValueError(
            f"fn(x) must return one energy per row of x, shape "
            f"{tuple(x.shape[:-1])}, got {tuple(U.shape)}"
        )
    (dU,) = torch.autograd.grad(U.sum(), x, create_graph=create_graph)
    return U, -dU


def force_matching_loglik(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    U: Tensor,
    F: Tensor,
    sigma_U: float,
    sigma_F: float,
) -> Tensor:
    r"""The Gaussian log-likelihood of reference energies and forces,

    .. math:: \log p(\mathcal D\mid\theta)=\sum_i\log\mathcal N\big(U_i\mid
       U_\theta(x_i),\sigma_U^2\big)+\sum_{i,k}\log\mathcal N\big(F_{ik}\mid
       F_{\theta,k}(x_i),\sigma_F^2\big),

    with :math:`F_\theta=-\nabla_xU_\theta` from :func:`energy_force`
    (differentiable in :math:`\theta`), as ``init_likelihood`` of the
    authors' ``chemtrain`` (there the scales are sampled too; here they
    are fixed). ``x`` is ``(..., n, d)``, ``U`` ``(..., n)`` and ``F``
    ``(..., n, d)``; the sum runs over the last ``n`` configurations, so a
    batch of networks (``...`` = members) gets one log-likelihood each.
    """
    for name, t in (("x", x), ("U", U), ("F", F)):
        float_tensor(t, name)
    if x.ndim < 2 or F.shape != x.shape or U.shape != x.shape[:-1]:
        raise ValueError(
            "need x (..., n, d), U (..., n) and F (..., n, d), got "
            f"{tuple(x.shape)}, {tuple(U.shape)}, {tuple(F.shape)}"
        )
    s_U, s_F = number(sigma_U, "sigma_U"), number(sigma_F, "sigma_F")
    U_hat, F_hat = energy_force(fn, x)
    log2pi = math.log(2 * math.pi)
    ll_U = -0.5 * ((U - U_hat) / s_U) ** 2 - math.log(s_U) - 0.5 * log2pi
    ll_F = -0.5 * ((F - F_hat) / s_F) ** 2 - math.log(s_F) - 0.5 * log2pi
    return ll_U.sum(-1) + ll_F.sum((-2, -1))


def _boltzmann_density(U_values, x_grid, kT) -> tuple[np.ndarray, np.ndarray]:
    """The normalised density e^{-U/kT}/Z on the grid, for each row of U."""
    x = finite_array(x_grid, "x_grid")
    U = finite_array(U_values, "U_values")
    if x.ndim != 1 or len(x) < 3 or not np.all(np.diff(x) > 0):
        raise ValueError("x_grid must be an increasing 1-D grid of >= 3 points")
    if U.shape[-1:] != x.shape:
        raise ValueError(
            f"U_values must end in the grid's length {len(x)}, got {U.shape}"
        )
    kT = number(kT, "kT")
    w = np.exp(-(U - U.min(-1, keepdims=True)) / kT)
    return w / trapezoid(w, x, axis=-1)[..., None], x


def boltzmann_observable(U_values, x_grid, kT: float, O_values) -> np.ndarray:
    r"""The Boltzmann average :math:`\langle O\rangle=\int O\,e^{-U/k_BT}dx
    \big/\int e^{-U/k_BT}dx` by the trapezoidal rule on ``x_grid``.

    ``U_values`` are the energies on the grid, ``(..., G)`` (one row per
    posterior sample or ensemble member), ``O_values`` the observable there,
    ``(G,)`` or of ``U_values``' shape. Returns an array of shape ``(...)``.
    """
    p, x = _boltzmann_density(U_values, x_grid, kT)
    obs = finite_array(O_values, "O_values")
    if obs.shape[-1:] != x.shape:
        raise ValueError(f"O_values must end in the grid's length {len(x)}")
    return trapezoid(p * obs, x, axis=-1)


def boltzmann_grid_sample(
    U_fn: Callable[[Tensor], Tensor],
    kT: float,
    n: int,
    grid: tuple[float, float, int] = (-2.2, 2.2, 2001),
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""``n`` configurations drawn from :math:`e^{-U/k_BT}/Z` on the interval
    ``grid = (lo, hi, points)``: the density is evaluated on the grid, a cell
    is chosen with probability proportional to its trapezoid mass, and the
    point is placed uniformly inside it (exact as the grid gets finer).
    A stand-in for snapshots of a molecular-dynamics run. Returns ``(n,)``.
    """
    if not callable(U_fn):
        raise ValueError("U_fn must be a callable that maps x to energies")
    n = integer(n, "n")
    if not (isinstance(grid, tuple) and len(grid) == 3):
        raise ValueError("grid must be a tuple (lo, hi, points)")
    lo, hi, points = grid
    points = integer(points, "grid points", lo=3)
    if not lo < hi:
        raise ValueError(f"grid needs lo < hi, got {grid!r}")
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    with torch.no_grad():
        U = U_fn(x)
    p, _ = _boltzmann_density(U.numpy(), x.numpy(), kT)
    mass = torch.as_tensor(0.5 * (p[1:] + p[:-1]))
    cell = torch.multinomial(mass, n, replacement=True, generator=generator)
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    h = (hi - lo) / (points - 1)
    return x[cell] + u * h
