r"""Random networks at initialisation: criticality and the nearly-Gaussian preactivations of
finite width (Roberts, Yaida and Hanin, *The Principles of Deep Learning Theory*).

At infinite width the preactivations of every layer are Gaussian with the kernel of
:func:`stochlearn.kernels.kernel_recursion`. At width :math:`n` they are *nearly* Gaussian: the
connected fourth moment of one preactivation is :math:`3V^{(\ell)}/n`, and its excess
kurtosis is

.. math::

    \kappa^{(\ell)}=\frac{\mathbb E[z^4]}{\mathbb E[z^2]^2}-3=\frac{3\,V^{(\ell)}}{n\,(K^{(\ell)})^2},

which grows with depth: for ReLU at criticality :math:`V^{(\ell)}=5(\ell-1)(K^{(\ell)})^2`, so
:math:`\kappa\approx15(\ell-1)/n`, a function of the aspect ratio :math:`r=(\ell-1)/n` alone.
Introduced in {ref}`ch-deep-learning-theory`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "sample_preactivations",
    "excess_kurtosis",
    "predicted_kurtosis",
    "vertex_recursion",
    "backward_signal",
]

_ACTS = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda z: z}


_MAX_GIB = 8.0  # the memory backward_signal may take


def _check(depth, width, n_nets, act, C_W, C_b) -> None:
    for name, v in (("depth", depth), ("width", width), ("n_nets", n_nets)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if act not in _ACTS:
        raise ValueError(f"act must be one of {sorted(_ACTS)}, got {act!r}")
    for name, v in (("C_W", C_W), ("C_b", C_b)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)):
            raise ValueError(f"{name} must be a number, got {v!r}")
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")


def sample_preactivations(
    depth: int,
    width: int,
    n_nets: int,
    act: str = "relu",
    C_W: float = 2.0,
    C_b: float = 0.0,
    x_norm2: float | None = None,
    n0: int = 10,
    generator: torch.Generator | None = None,
    all_layers: bool = False,
) -> Tensor:
    r"""Preactivations of layer ``depth`` of ``n_nets`` random MLPs, one input.

    The MLPs have ``width`` units per hidden layer, weights
    :math:`W^{(\ell)}_{ij}\sim\mathcal N(0,C_W/n_{\ell-1})` and biases
    :math:`\mathcal N(0,C_b)`; the input has :math:`n_0` coordinates and
    squared norm ``x_norm2`` (default :math:`n_0`). Given layer :math:`\ell`,
    the units of layer :math:`\ell+1`, :math:`z_i=\sum_jW_{ij}\sigma(z_j)+b_i`,
    are *exactly* independent Gaussians with variance

    .. math:: C_b+\frac{C_W}{n}\sum_j\sigma\big(z^{(\ell)}_j\big)^2,

    so they are drawn that way: :math:`O(\text{width})` per network and
    layer instead of a matrix product, with the law of networks whose weights
    are drawn (the unit tests check it). Returns a float64 tensor of shape
    ``(n_nets, width)``, or ``(depth, n_nets, width)`` with ``all_layers``.
    """
    _check(depth, width, n_nets, act, C_W, C_b)
    sigma = _ACTS[act]
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    norm2 = float(n0) if x_norm2 is None else float(x_norm2)
    if not math.isfinite(norm2) or norm2 < 0:
        raise ValueError(f"x_norm2 must be finite and >= 0, got {x_norm2!r}")
    var = torch.full((n_nets, 1), C_b + C_W * norm2 / n0, dtype=torch.float64)
    layers = []
    for _ in range(int(depth)):
        eps = torch.randn(n_nets, width, generator=g, dtype=torch.float64)
        z = var.sqrt() * eps
        if all_layers:
            layers.append(z)
        var = C_b + C_W * sigma(z).pow(2).mean(1, keepdim=True)
    return torch.stack(layers) if all_layers else z


def excess_kurtosis(z) -> float:
    r""":math:`\mathbb E[z^4]/\mathbb E[z^2]^2-3`, pooled over all entries of ``z``.

    For zero-mean variables such as the preactivations of a random network (the mean is not
    subtracted). A Gaussian gives 0, a Laplace variable 3.
    """
    try:
        t = torch.as_tensor(np.asarray(z, dtype=np.float64))
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"z must be an array or a tensor of numbers, got {type(z).__name__}"
        ) from None
    if t.numel() < 2 or not torch.isfinite(t).all():
        raise ValueError("z must hold at least two finite numbers")
    m2 = t.pow(2).mean()
    if m2 == 0:
        raise ValueError("z is all zeros: the kurtosis is undefined")
    return float(t.pow(4).mean() / m2**2 - 3)


def vertex_recursion(
    act: str, C_W: float, C_b: float, K1: float, depth: int, n_quad: int = 101
) -> tuple[np.ndarray, np.ndarray]:
    r"""The kernel :math:`K^{(\ell)}` and the four-point vertex :math:`V^{(\ell)}`, one input.

    At leading order in :math:`1/n` (equal widths, Roberts, Yaida and Hanin, ch. 4–5),
    :math:`V^{(1)}=0` and

    .. math::

        V^{(\ell+1)}=\chi_\parallel^2V^{(\ell)}
        +C_W^2\big(\langle\sigma^4\rangle-\langle\sigma^2\rangle^2\big)_{K^{(\ell)}},
        \qquad
        \chi_\parallel=\frac{C_W}{2K^2}\big\langle\sigma(z)^2(z^2-K)\big\rangle_K,

    with the kernel from :func:`stochlearn.kernels.kernel_recursion`. For ReLU at
    criticality :math:`\chi_\parallel=1` and :math:`V^{(\ell)}=5(\ell-1)K^2`. Returns
    ``(K, V)``, arrays of length ``depth``.
    """
    from .kernels.gaussian import (
        _activation,
        gaussian_expectation,
        kernel_recursion,
    )

    K = kernel_recursion(act, C_W, C_b, K1, depth, n_quad)
    sigma = _activation(act)
    V = np.zeros(len(K))
    for layer in range(1, len(K)):
        k = K[layer - 1]
        m2, m4, mz = (
            float(gaussian_expectation(f, k, n_quad))
            for f in (
                lambda z: sigma(z) ** 2,
                lambda z: sigma(z) ** 4,
                lambda z: sigma(z) ** 2 * (z**2 - k),
            )
        )
        chi = C_W * mz / (2 * k**2)
        V[layer] = chi**2 * V[layer - 1] + C_W**2 * (m4 - m2**2)
    return K, V


def predicted_kurtosis(
    depth, width, act: str = "relu", exact: bool = False
) -> np.ndarray:
    r"""The excess kurtosis of a preactivation of layer ``depth`` at criticality, width ``width``.

    At leading order, :math:`\kappa=3V^{(\ell)}/\big(n(K^{(\ell)})^2\big)` from
    :func:`vertex_recursion`: :math:`15(\ell-1)/n` for ReLU (:math:`C_W=2`), and for tanh
    (:math:`C_W=1`, input with :math:`K^{(1)}=1`) a value that tends to :math:`2\ell/n` at
    large depth. With ``exact`` (ReLU only): each layer multiplies the variance of the next
    by an independent factor with mean 1 and second moment :math:`1+5/n`, so
    :math:`\kappa=3\big((1+5/n)^{\ell-1}-1\big)` exactly, close to the log-normal
    :math:`3(e^{5(\ell-1)/n}-1)` of Hanin and Nica. ``depth`` and ``width`` may be arrays.
    """
    try:
        depth = np.asarray(depth, dtype=np.float64)
        width = np.asarray(width, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "depth and width must be numbers or arrays of numbers"
        ) from None
    if not (np.all(np.isfinite(depth)) and np.all(np.isfinite(width))):
        raise ValueError("depth and width must be finite")
    if np.any(depth < 1) or np.any(width < 1):
        raise ValueError("depth and width must be >= 1")
    if act not in ("relu", "tanh"):
        raise ValueError(f"act must be 'relu' or 'tanh', got {act!r}")
    if act == "relu":
        if exact:
            return 3 * np.expm1((depth - 1) * np.log1p(5 / width))
        return 15 * (depth - 1) / width
    if exact:
        raise ValueError("the exact law is known for ReLU only")
    L = int(np.max(depth))
    K, V = vertex_recursion("tanh", 1.0, 0.0, 1.0, L)
    if np.any(depth != np.round(depth)):
        raise ValueError("the tanh vertex needs integer depths")
    ratio = (V / K**2)[depth.astype(int) - 1]
    return 3 * ratio / width


def backward_signal(
    depth: int,
    width: int,
    n_nets: int,
    act: str = "relu",
    C_W: float = 2.0,
    C_b: float = 0.0,
    n0: int = 10,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    r"""Mean squared gradient :math:`\frac1n\lVert\partial\mathcal L/\partial z^{(\ell)}\rVert^2` per layer.

    ``n_nets`` random MLPs with explicit weight matrices (as in
    :func:`sample_preactivations`) are run on the input :math:`x=(1,\dots,1)` and
    differentiated, with autograd, for the loss :math:`\mathcal L=u\cdot z^{(L)}` with a
    random :math:`u\sim\mathcal N(0,I)`. Returns an array of length ``depth`` (layer 1
    first), averaged over the networks: flat at criticality, exponentially growing or
    decaying towards the input otherwise.
    """
    _check(depth, width, n_nets, act, C_W, C_b)
    gib = 8 * depth * n_nets * width * max(width, n0) / 2**30
    if gib > _MAX_GIB:  # autograd keeps every layer's weights
        raise ValueError(
            f"depth × n_nets × width² float64 weights need {gib:.1f} GiB (more than "
            f"{_MAX_GIB}): use fewer networks or a smaller width"
        )
    sigma = _ACTS[act]
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    x = torch.ones(n_nets, n0, 1, dtype=torch.float64)
    zs, h, fan_in = [], x, n0
    for _ in range(int(depth)):
        W = torch.randn(n_nets, width, fan_in, generator=g, dtype=torch.float64)
        b = torch.randn(n_nets, width, 1, generator=g, dtype=torch.float64)
        W.requires_grad_()
        z = (W * math.sqrt(C_W / fan_in)) @ h + math.sqrt(C_b) * b
        z.retain_grad()
        zs.append(z)
        h, fan_in = sigma(z), width
    u = torch.randn(n_nets, width, 1, generator=g, dtype=torch.float64)
    (u * zs[-1]).sum().backward()
    return np.array([float(z.grad.pow(2).mean()) for z in zs])
