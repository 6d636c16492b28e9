r"""Kernels of infinitely wide networks: Gaussian expectations and the layer-to-layer recursion.

In the infinite-width limit, the preactivations of an MLP with weights
:math:`W^{(\ell)}_{ij}\sim\mathcal N(0,C_W/n_{\ell-1})` and biases :math:`\mathcal N(0,C_b)`
are Gaussian, and their variance on one input, the kernel :math:`K^{(\ell)}`, follows

.. math::

    K^{(\ell+1)} = C_b + C_W\,\big\langle\sigma(z)^2\big\rangle_{K^{(\ell)}},\qquad
    \langle f(z)\rangle_K = \mathbb E_{z\sim\mathcal N(0,K)}[f(z)],

(Roberts, Yaida and Hanin, *The Principles of Deep Learning Theory*, ch. 4). The expectations
are computed by Gauss–Hermite quadrature. Introduced in {ref}`ch-deep-learning-theory`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["ACTIVATIONS", "gaussian_expectation", "kernel_recursion"]

#: Activation functions by name (NumPy), for :func:`kernel_recursion`.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "linear": lambda z: z,
}


def _activation(act) -> Callable[[np.ndarray], np.ndarray]:
    if callable(act):
        return act
    if act not in ACTIVATIONS:
        raise ValueError(
            f"act must be one of {sorted(ACTIVATIONS)} or a callable, got {act!r}"
        )
    return ACTIVATIONS[act]


def _check_quad(n_quad) -> int:
    if (
        isinstance(n_quad, bool)
        or not isinstance(n_quad, (int, np.integer))
        or not 2 <= n_quad <= 300
    ):
        # NumPy's hermegauss returns NaN weights from about 380 points on
        raise ValueError(
            f"n_quad must be an integer in [2, 300], got {n_quad!r}"
        )
    return int(n_quad)


def gaussian_expectation(f, K, n_quad: int = 101) -> np.ndarray:
    r""":math:`\langle f(z)\rangle_K=\mathbb E_{z\sim\mathcal N(0,K)}[f(z)]`, for one or many variances.

    Gauss–Hermite quadrature (probabilists' weight :math:`e^{-x^2/2}`, NumPy's
    ``hermegauss``): :math:`\langle f\rangle_K\approx\sum_k w_k f(\sqrt K x_k)/\sqrt{2\pi}`,
    exact for polynomials of degree below :math:`2\,\text{n\_quad}`. ``K`` is a number or an
    array of variances :math:`\ge 0`; the result has its shape.
    """
    if not callable(f):
        raise ValueError("f must be a callable acting elementwise on arrays")
    n_quad = _check_quad(n_quad)
    K = np.asarray(K, dtype=np.float64)
    if not np.all(np.isfinite(K)) or np.any(K < 0):
        raise ValueError("the variances K must be finite and >= 0")
    x, w = np.polynomial.hermite_e.hermegauss(n_quad)
    z = np.sqrt(K)[..., None] * x  # (..., n_quad)
    return (np.asarray(f(z), dtype=np.float64) * w).sum(-1) / math.sqrt(
        2 * math.pi
    )


def kernel_recursion(
    act,
    C_W: float,
    C_b: float,
    K1: float,
    depth: int,
    n_quad: int = 101,
) -> np.ndarray:
    r"""Infinite-width kernels :math:`K^{(\ell)}` up to ``depth``, one input.

    :math:`K^{(1)}=` ``K1`` (for an input :math:`x\in\mathbb R^{n_0}`,
    :math:`K^{(1)}=C_b+C_W\lVert x\rVert^2/n_0`), then
    :math:`K^{(\ell+1)}=C_b+C_W\langle\sigma(z)^2\rangle_{K^{(\ell)}}`, the
    expectation from :func:`gaussian_expectation`. ``act`` is ``"relu"``,
    ``"tanh"``, ``"linear"`` or a callable. At criticality the kernel neither
    explodes nor vanishes exponentially: ReLU with :math:`C_W=2,\ C_b=0` keeps
    it constant, tanh with :math:`C_W=1,\ C_b=0` lets it decay only as
    :math:`1/(2\ell)`.
    """
    sigma = _activation(act)
    for name, v in (("C_W", C_W), ("C_b", C_b), ("K1", K1)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)):
            raise ValueError(f"{name} must be a number, got {v!r}")
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
    if (
        isinstance(depth, bool)
        or not isinstance(depth, (int, np.integer))
        or depth < 1
    ):
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    K = np.empty(int(depth))
    K[0] = K1
    for layer in range(1, int(depth)):
        second = gaussian_expectation(
            lambda z: sigma(z) ** 2, K[layer - 1], n_quad
        )
        K[layer] = C_b + C_W * float(second)
    return K
