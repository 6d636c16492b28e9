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

For :math:`\mathrm{erf}` the expectation is Williams's (1997) arcsine kernel,

.. math:: \mathbb E[\mathrm{erf}(u)\,\mathrm{erf}(u')]=\frac2\pi\arcsin
   \frac{2K_{xx'}}{\sqrt{(1+2K_{xx})(1+2K_{x'x'})}} ,

used by :func:`nngp_erf`. Both give the covariance of the readout :math:`f=\sum_jv_j\phi(h_j)`
with :math:`v_j\sim\mathcal N(0,\text{last\_var}/n)` and no readout bias: a prior on
``last_var`` then scales the whole kernel (the scale mixtures of {ref}`ch-scale-mixture-nngp`).
"""

from __future__ import annotations

import numpy as np

from .._validate import finite_array as _finite
from .._validate import integer, number
from .deep import dual

__all__ = [
    "erf_expectations",
    "nngp_erf",
    "nngp_gpytorch_kernel",
    "nngp_relu",
    "relu_expectations",
]


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


def erf_expectations(K12, K11, K22) -> np.ndarray:
    r""":math:`\mathbb E[\mathrm{erf}(u)\mathrm{erf}(u')]` for centred Gaussian
    ``(u, u')`` with variances ``K11``, ``K22`` and covariance ``K12``
    (broadcast): :math:`\frac2\pi\arcsin\big(2K_{12}/\sqrt{(1+2K_{11})(1+2K_{22})}\big)`.
    """
    K12, K11, K22 = (
        _finite(a, n) for a, n in ((K12, "K12"), (K11, "K11"), (K22, "K22"))
    )
    if np.any(K11 < 0) or np.any(K22 < 0):
        raise ValueError("the variances K11 and K22 must be non-negative")
    r = 2 * K12 / np.sqrt((1 + 2 * K11) * (1 + 2 * K22))
    return 2 / np.pi * np.arcsin(np.clip(r, -1.0, 1.0))


def _nngp(
    X1, X2, depth, var_w, var_b, last_var, expect, expect_diag, diag=False
):
    X1, X2 = (np.atleast_2d(_finite(X, n)) for X, n in ((X1, "X1"), (X2, "X2")))
    if X1.shape[-1] != X2.shape[-1]:
        raise ValueError("X1 and X2 must be (..., n1, d) and (..., n2, d)")
    if diag and X1.shape != X2.shape:
        raise ValueError("diag=True needs X1 and X2 of the same shape")
    depth = integer(depth, "depth")
    if not (var_w > 0 and var_b >= 0 and last_var > 0):
        raise ValueError("need var_w > 0, var_b >= 0, last_var > 0")
    d = X1.shape[-1]
    cross = (X1 * X2).sum(-1) if diag else X1 @ np.swapaxes(X2, -1, -2)
    K = var_w * cross / d + var_b
    k1 = var_w * (X1**2).sum(-1) / d + var_b
    k2 = var_w * (X2**2).sum(-1) / d + var_b
    for layer in range(depth):
        E = (
            expect(K, k1, k2)
            if diag
            else expect(K, k1[..., :, None], k2[..., None, :])
        )
        if layer == depth - 1:
            return last_var * E
        e1, e2 = expect_diag(k1), expect_diag(k2)
        K, k1, k2 = var_w * E + var_b, var_w * e1 + var_b, var_w * e2 + var_b
    raise AssertionError("unreachable")


def nngp_relu(
    X1,
    X2,
    depth: int = 2,
    var_w: float = 2.0,
    var_b: float = 0.1,
    last_var: float = 1.0,
    last_bias_var: float = 0.0,
) -> np.ndarray:
    r"""Covariance of :math:`f(x)=\sum_j v_j\,\mathrm{relu}(h^{(\mathrm{depth})}_j(x))+c` at infinite width.

    ``depth`` hidden ReLU layers, weights :math:`\mathcal N(0,\sigma_w^2/\text{fan-in})`,
    biases :math:`\mathcal N(0,\sigma_b^2)`; the readout :math:`v_j\sim\mathcal N(0,
    \text{last\_var}/n)` has by default **no bias** (:math:`c\sim\mathcal N(0,
    \text{last\_bias\_var})`). The infinite-width BNN of {ref}`ch-bnn-bayesopt` treats the
    readout as a layer like the others: ``last_var=var_w``, ``last_bias_var=var_b``. ``X1``
    ``(n1, d)``, ``X2`` ``(n2, d)``, or batches ``(..., n, d)`` that broadcast.
    """
    K = _nngp(X1, X2, depth, var_w, var_b, last_var, *_EXPECT["relu"])
    return K + number(last_bias_var, "last_bias_var", positive=False)


def nngp_erf(
    X1,
    X2,
    depth: int = 2,
    var_w: float = 2.0,
    var_b: float = 0.1,
    last_var: float = 1.0,
    last_bias_var: float = 0.0,
) -> np.ndarray:
    r"""As :func:`nngp_relu`, for ``depth`` hidden layers with the activation
    :math:`\mathrm{erf}` (:func:`erf_expectations`). Introduced in
    {ref}`ch-scale-mixture-nngp`.
    """
    K = _nngp(X1, X2, depth, var_w, var_b, last_var, *_EXPECT["erf"])
    return K + number(last_bias_var, "last_bias_var", positive=False)


_GPYTORCH_KERNEL = None


def nngp_gpytorch_kernel(
    activation: str = "relu",
    depth: int = 2,
    var_w: float = 2.0,
    var_b: float = 0.1,
    last_var: float = 1.0,
    last_bias_var: float = 0.0,
):
    """The NNGP of :func:`nngp_relu` or :func:`nngp_erf` as a GPyTorch
    ``Kernel``, for GPyTorch's and BoTorch's models and likelihoods, on
    ``(..., n, d)`` inputs. Wrap it in ``gpytorch.kernels.ScaleKernel`` to
    learn ``last_var`` as its ``outputscale``. The kernel has no trainable
    parameters of its own and no gradient with respect to its inputs (it is
    computed in NumPy). GPyTorch is imported on the first call. Introduced in
    {ref}`ch-scale-mixture-nngp`.
    """
    global _GPYTORCH_KERNEL
    if activation not in _EXPECT:
        raise ValueError(
            f"activation must be 'relu' or 'erf', got {activation!r}"
        )
    integer(depth, "depth")
    number(var_w, "var_w")
    number(var_b, "var_b", positive=False)
    number(last_var, "last_var")
    number(last_bias_var, "last_bias_var", positive=False)
    if _GPYTORCH_KERNEL is None:
        import gpytorch
        import torch

        class NNGPKernel(gpytorch.kernels.Kernel):
            """The NNGP of a wide ReLU or erf network (stochlearn.kernels)."""

            is_stationary = False

            def __init__(self, name, *args, **kwargs):
                super().__init__(**kwargs)
                self.name, self.args = name, args

            def forward(self, x1, x2, diag=False, **params):
                a = x1.detach().cpu().double().numpy()
                b = x2.detach().cpu().double().numpy()
                depth, var_w, var_b, last_var, last_bias_var = self.args
                expect, expect_diag = _EXPECT[self.name]
                k = _nngp(
                    a,
                    b,
                    depth,
                    var_w,
                    var_b,
                    last_var,
                    expect,
                    expect_diag,
                    diag,
                )
                return torch.as_tensor(
                    k + last_bias_var, dtype=x1.dtype, device=x1.device
                )

        _GPYTORCH_KERNEL = NNGPKernel
    return _GPYTORCH_KERNEL(
        activation, depth, var_w, var_b, last_var, last_bias_var
    )


_EXPECT = {  # the cross expectation, and the diagonal E phi(u)^2 of Var(u)
    "relu": (lambda K, a, b: relu_expectations(K, a, b)[0], lambda k: k / 2),
    "erf": (
        erf_expectations,
        lambda k: 2 / np.pi * np.arcsin(2 * k / (1 + 2 * k)),
    ),
}
