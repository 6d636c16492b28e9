r"""The Gaussian-process kernels of wide ReLU networks on arbitrary inputs.

For a layer :math:`h^{(\ell+1)}=W\,\mathrm{relu}(h^{(\ell)})+b` with
:math:`W_{ij}\sim\mathcal N(0,\sigma_w^2/n)` and :math:`b_i\sim\mathcal N(0,\sigma_b^2)`, the
preactivations of an infinitely wide network are Gaussian with covariance

.. math::
   K^{(1)}(x,x')=\sigma_w^2\,\frac{x\cdot x'}{d}+\sigma_b^2,\qquad
   K^{(\ell+1)}=\sigma_w^2\,\mathbb E[\mathrm{relu}(u)\,\mathrm{relu}(u')]+\sigma_b^2,

and the expectation over :math:`(u,u')\sim\mathcal N(0,K^{(\ell)})` is the arc-cosine kernel
of order 1 (Cho and Saul, 2009),
:math:`\frac{\sqrt{K_{xx}K_{x'x'}}}{2\pi}\,(\sin\theta+(\pi-\theta)\cos\theta)` with
:math:`\cos\theta=K_{xx'}/\sqrt{K_{xx}K_{x'x'}}`. Introduced in {ref}`ch-permutation-learning`.
"""

from __future__ import annotations

import numpy as np

from .._validate import finite_array as _finite
from .._validate import integer
from .deep import dual

__all__ = ["nngp_relu", "relu_expectations"]


def relu_expectations(K12, K11, K22) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\mathbb E[\mathrm{relu}(u)\mathrm{relu}(u')]` and :math:`\mathbb E[\mathbb 1_{u>0}\mathbb 1_{u'>0}]`.

    ``(u, u')`` is centred Gaussian with variances ``K11``, ``K22`` (broadcast against
    ``K12``) and covariance ``K12``; the second value, :math:`(\pi-\theta)/2\pi`, is what the
    NTK of a ReLU layer multiplies by.
    """
    K12, K11, K22 = (
        _finite(a, n) for a, n in ((K12, "K12"), (K11, "K11"), (K22, "K22"))
    )
    if np.any(K11 < 0) or np.any(K22 < 0):
        raise ValueError("the variances K11 and K22 must be non-negative")
    scale = np.sqrt(K11 * K22)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.clip(np.where(scale > 0, K12 / scale, 0.0), -1.0, 1.0)
    xi, dxi = dual("relu")  # normalised so that xi(1) = 1 = 2 E[relu(g)^2]
    return scale * xi(rho) / 2, dxi(rho) / 2


def nngp_relu(
    X1,
    X2,
    depth: int = 2,
    var_w: float = 2.0,
    var_b: float = 0.1,
    last_var: float = 1.0,
) -> np.ndarray:
    r"""Covariance of :math:`f(x)=\sum_j v_j\,\mathrm{relu}(h^{(\mathrm{depth})}_j(x))` at infinite width.

    ``depth`` hidden ReLU layers, weights :math:`\mathcal N(0,\sigma_w^2/\text{fan-in})`,
    biases :math:`\mathcal N(0,\sigma_b^2)`; the readout :math:`v_j\sim\mathcal N(0,
    \text{last\_var}/n)` has **no bias**. ``X1`` ``(n1, d)``, ``X2`` ``(n2, d)``.
    """
    X1, X2 = (np.atleast_2d(_finite(X, n)) for X, n in ((X1, "X1"), (X2, "X2")))
    if X1.ndim != 2 or X1.shape[1] != X2.shape[1]:
        raise ValueError("X1 and X2 must be (n1, d) and (n2, d) arrays")
    depth = integer(depth, "depth")
    if not (var_w > 0 and var_b >= 0 and last_var > 0):
        raise ValueError("need var_w > 0, var_b >= 0, last_var > 0")
    d = X1.shape[1]
    K = var_w * X1 @ X2.T / d + var_b
    k1 = var_w * (X1**2).sum(1) / d + var_b
    k2 = var_w * (X2**2).sum(1) / d + var_b
    for layer in range(depth):
        E, _ = relu_expectations(K, k1[:, None], k2[None, :])
        e1, e2 = k1 / 2, k2 / 2  # E relu(u)^2 = Var(u) / 2
        if layer == depth - 1:
            return last_var * E
        K, k1, k2 = var_w * E + var_b, var_w * e1 + var_b, var_w * e2 + var_b
    raise AssertionError("unreachable")
