r"""Curvature of a loss: Hessian-vector products and the top of the Hessian's spectrum.

The Hessian :math:`H=\nabla^2_w L(w)` of a network with :math:`P` parameters is a
:math:`P\times P` matrix that is never formed. What is cheap is its product with a vector, by
differentiating the gradient a second time (Pearlmutter's trick),

.. math::

    H v = \nabla_w\big(\nabla_w L(w)^\top v\big),

at the cost of about two backward passes. :func:`top_hessian_eigs` hands this product to ARPACK's
Lanczos solver (SciPy's :func:`scipy.sparse.linalg.eigsh` on a
:class:`~scipy.sparse.linalg.LinearOperator`), which finds the largest eigenvalues in a few dozen
products. :func:`batch_hessian_top_eig` does this for the Hessian of the mean loss over random
mini-batches :math:`B`,

.. math::

    H_B = \frac{1}{|B|}\sum_{n\in B}\nabla^2_w \ell_n(w),

the matrix whose top eigenvalue limits the stable learning rate of SGD. Introduced in
{ref}`ch-lr-batch-rmt`.

The trace, the sum of all :math:`P` eigenvalues, is a second measure of sharpness.
:func:`hessian_trace` estimates it from the same products with Hutchinson's estimator,
:math:`\operatorname{tr}H=\mathbb E_v[v^\top Hv]` for Rademacher :math:`v` (entries
:math:`\pm1`). Introduced in {ref}`ch-phase-transition-zoo`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "batch_hessian_top_eig",
    "hessian_trace",
    "hvp",
    "param_jacobian",
    "top_hessian_eigs",
]


def _check_params(params: Sequence[Tensor]) -> list[Tensor]:
    if isinstance(params, Tensor) or not isinstance(params, (list, tuple)):
        raise ValueError("params must be a list or tuple of tensors")
    params = list(params)
    if not params:
        raise ValueError("params is empty")
    for p in params:
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise ValueError(
                "every entry of params must be a tensor with requires_grad=True"
            )
    return params


def _check_vec(params: list[Tensor], vec: Sequence[Tensor]) -> list[Tensor]:
    if isinstance(vec, Tensor) or not isinstance(vec, (list, tuple)):
        raise ValueError("vec must be a list or tuple of tensors")
    vec = list(vec)
    if len(vec) != len(params):
        raise ValueError(
            f"vec has {len(vec)} tensors but params has {len(params)}"
        )
    for p, v in zip(params, vec):
        if not isinstance(v, Tensor) or v.shape != p.shape:
            raise ValueError(
                f"vec and params must have the same shapes, got "
                f"{tuple(getattr(v, 'shape', ()))} for a parameter of {tuple(p.shape)}"
            )
    return vec


def _grads(
    loss_fn: Callable[[], Tensor], params: list[Tensor]
) -> tuple[Tensor, ...]:
    """The gradient of ``loss_fn()`` with its graph kept, for differentiating it again."""
    loss = loss_fn()
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError("loss_fn() must return a scalar tensor")
    grads = torch.autograd.grad(
        loss, params, create_graph=True, allow_unused=True
    )
    return tuple(
        torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)
    )


def _hvp_from_grads(
    grads: tuple[Tensor, ...],
    params: list[Tensor],
    vec: list[Tensor],
    retain_graph: bool,
) -> list[Tensor]:
    dot = sum((g * v).sum() for g, v in zip(grads, vec))
    if (
        not dot.requires_grad
    ):  # the gradient is constant: a linear loss has H = 0
        return [torch.zeros_like(p) for p in params]
    hv = torch.autograd.grad(
        dot, params, retain_graph=retain_graph, allow_unused=True
    )
    return [torch.zeros_like(p) if h is None else h for h, p in zip(hv, params)]


def hvp(
    loss_fn: Callable[[], Tensor],
    params: Sequence[Tensor],
    vec: Sequence[Tensor],
) -> list[Tensor]:
    r"""Hessian-vector product :math:`Hv=\nabla_w(\nabla_w L^\top v)` by double backward.

    ``loss_fn()`` takes no argument and returns the scalar loss :math:`L(w)`; ``params`` are
    the tensors :math:`w` (``requires_grad=True``), and ``vec`` is a list of tensors of the
    same shapes. Returns :math:`Hv` as a list shaped like ``params``. Parameters that the loss
    does not depend on get zeros. Introduced in {ref}`ch-lr-batch-rmt`.
    """
    params = _check_params(params)
    vec = _check_vec(params, vec)
    grads = _grads(loss_fn, params)
    return _hvp_from_grads(
        grads, params, [v.detach() for v in vec], retain_graph=False
    )


def top_hessian_eigs(
    loss_fn: Callable[[], Tensor],
    params: Sequence[Tensor],
    k: int = 1,
    tol: float = 1e-3,
    maxiter: int = 200,
    seed: int = 0,
) -> np.ndarray:
    r"""The ``k`` largest eigenvalues of the Hessian of ``loss_fn()``.

    The Hessian is never formed: SciPy's ARPACK Lanczos solver
    (``eigsh(which="LA")``) calls :func:`hvp` through a
    :class:`~scipy.sparse.linalg.LinearOperator` of size :math:`P\times P`,
    in float64 on the CPU. The gradient graph is built once and each product
    differentiates it again. ``tol`` is ARPACK's relative accuracy,
    ``maxiter`` its number of restarts, and ``seed`` fixes its random
    starting vector, so that a rerun gives the same numbers. "Largest" is
    algebraic: a large negative eigenvalue is not reported. Introduced in
    {ref}`ch-lr-batch-rmt`.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    params = _check_params(params)
    n = sum(p.numel() for p in params)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n:
        raise ValueError(
            f"k must be an integer in [1, {n - 1}] for {n} "
            f"parameters, got {k!r}"
        )
    if not tol >= 0:
        raise ValueError(f"tol must be non-negative, got {tol!r}")
    if isinstance(maxiter, bool) or not isinstance(maxiter, int) or maxiter < 1:
        raise ValueError(f"maxiter must be a positive integer, got {maxiter!r}")
    grads = _grads(loss_fn, params)  # with their graph, built once
    sizes = [p.numel() for p in params]

    def matvec(x: np.ndarray) -> np.ndarray:
        flat = torch.as_tensor(np.asarray(x, dtype=np.float64).ravel())
        vec = [
            c.reshape(p.shape).to(p) for c, p in zip(flat.split(sizes), params)
        ]
        hv = _hvp_from_grads(grads, params, vec, retain_graph=True)
        out = torch.cat([h.reshape(-1) for h in hv]).detach()
        return out.to("cpu", torch.float64).numpy()

    op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    vals = eigsh(
        op,
        k=k,
        which="LA",
        tol=tol,
        maxiter=maxiter,
        v0=v0,
        return_eigenvectors=False,
    )
    return np.sort(vals)[::-1].copy()


def hessian_trace(
    loss_fn: Callable[[], Tensor],
    params: Sequence[Tensor],
    n_probe: int = 100,
    seed: int = 0,
) -> float:
    r"""Hutchinson's estimate of :math:`\operatorname{tr}H`, the Hessian of
    ``loss_fn()`` with respect to ``params``.

    .. math:: \operatorname{tr}H\approx\frac1m\sum_{j=1}^m v_j^\top Hv_j,
       \qquad v_j\in\{-1,+1\}^P \text{ uniform},

    unbiased because :math:`\mathbb E[vv^\top]=I`; its variance is
    :math:`\frac2m\sum_{i\ne k}H_{ik}^2`, so a diagonal Hessian is exact for
    any :math:`m`. ``n_probe`` is :math:`m`, ``seed`` fixes the probes. The
    gradient graph is built once. Introduced in {ref}`ch-phase-transition-zoo`.
    """
    from ._validate import integer

    if not callable(loss_fn):
        raise ValueError("loss_fn must be a callable returning the loss")
    params = _check_params(params)
    n_probe = integer(n_probe, "n_probe")
    gen = torch.Generator().manual_seed(integer(seed, "seed", 0))
    grads = _grads(loss_fn, params)  # with their graph, built once
    total = 0.0
    for _ in range(n_probe):
        vec = [
            (torch.randint(0, 2, p.shape, generator=gen) * 2 - 1).to(p)
            for p in params
        ]
        hv = _hvp_from_grads(grads, params, vec, retain_graph=True)
        total += float(sum((h * v).sum() for h, v in zip(hv, vec)))
    return total / n_probe


def batch_hessian_top_eig(
    model: nn.Module,
    loss: Callable[[Tensor, Tensor], Tensor],
    X: Tensor,
    y: Tensor,
    batch_size: int,
    n_batches: int = 8,
    seed: int = 0,
    replace: bool = False,
    tol: float = 1e-3,
) -> np.ndarray:
    r""":math:`\lambda_{\max}(H_B)` on ``n_batches`` random mini-batches, the weights unchanged.

    Each batch is ``batch_size`` rows of ``(X, y)`` drawn without replacement (``replace=True``:
    with replacement), from a ``torch.Generator`` seeded with ``seed``; :math:`H_B` is the
    Hessian of ``loss(model(X[b]), y[b])`` (a mean loss) with respect to the model's trainable
    parameters, and its top eigenvalue comes from :func:`top_hessian_eigs`. The model is put in
    eval mode for the measurement (no dropout, BatchNorm's running statistics) and its mode is
    restored. With ``batch_size=len(X)`` every entry is the full-data
    :math:`\lambda_{\max}(H)`. Introduced in {ref}`ch-lr-batch-rmt`.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    if not callable(loss):
        raise ValueError("loss must be a callable loss(output, target)")
    if not (
        isinstance(X, Tensor)
        and isinstance(y, Tensor)
        and X.dim() >= 1
        and y.dim() >= 1
    ):
        raise ValueError(
            "X and y must be tensors with a first (example) dimension"
        )
    n = X.shape[0]
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a positive integer, got {batch_size!r}"
        )
    if not replace and batch_size > n:
        raise ValueError(
            f"batch_size {batch_size} exceeds the {n} rows (use replace=True)"
        )
    if (
        isinstance(n_batches, bool)
        or not isinstance(n_batches, int)
        or n_batches < 1
    ):
        raise ValueError(
            f"n_batches must be a positive integer, got {n_batches!r}"
        )
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
    params = [p for p in model.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(int(seed))
    was_training = model.training
    model.eval()
    out = []
    try:
        for i in range(n_batches):
            if replace:
                idx = torch.randint(n, (batch_size,), generator=gen)
            else:
                idx = torch.randperm(n, generator=gen)[:batch_size]
            xb, yb = X[idx], y[idx]
            out.append(
                top_hessian_eigs(
                    lambda: loss(model(xb), yb),
                    params,
                    k=1,
                    tol=tol,
                    seed=seed + i,
                )[0]
            )
    finally:
        model.train(was_training)
    return np.asarray(out)


def param_jacobian(model: nn.Module, X: Tensor) -> Tensor:
    r"""The Jacobian of all of ``model``'s outputs on ``X`` with respect to
    all its parameters, ``(n * n_out, n_params)``, rows ordered example by
    example (``torch.func.jacrev`` over ``functional_call``, one example at
    a time with ``vmap``). Its singular values are the square roots of the
    eigenvalues of the Gauss–Newton matrix :math:`J^\top J`. Introduced in
    {ref}`ch-data-efficient-augmentation`.
    """
    if not isinstance(model, nn.Module):
        raise ValueError("model must be an nn.Module")
    if not isinstance(X, Tensor) or X.ndim < 2 or not X.is_floating_point():
        raise ValueError("X must be a float tensor (n, ...)")
    from torch.func import functional_call, jacrev, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}

    def out(p: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(model, p, (x[None],))[0].flatten()

    jac = vmap(jacrev(out), in_dims=(None, 0))(params, X)
    n, n_out = len(X), next(iter(jac.values())).shape[1]
    return torch.cat([j.reshape(n * n_out, -1) for j in jac.values()], 1)
