r"""Exact likelihoods of score-based models by the probability-flow ODE.

The probability-flow ODE
:math:`\mathrm d\mathbf x/\mathrm dt=\tilde{\mathbf f}_\theta(\mathbf x,t)=\mathbf f-\tfrac12g^2\mathbf s_\theta`
is a continuous normalising flow, so the instantaneous change of variables gives

.. math::

    \log p_0(\mathbf x_0) = \log p_T(\mathbf x_T)
        + \int_0^T \nabla\!\cdot\tilde{\mathbf f}_\theta(\mathbf x_t,t)\,\mathrm dt,

integrating :math:`\mathbf x` and the log-density jointly from ``eps`` to :math:`T`. The divergence is
exact (one backward pass per dimension, for small dimensions) or Hutchinson–Skilling's unbiased
estimate :math:`\mathbb E_{\boldsymbol\epsilon}[\boldsymbol\epsilon^\top\nabla\tilde{\mathbf f}\,\boldsymbol\epsilon]`
with a Rademacher or Gaussian probe held fixed along the trajectory, as in the official
``likelihood.py``. Introduced in {ref}`ch-score-sde`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import (
    _check_batch_x,
    _check_callable,
    _check_sde,
    _check_tensor,
    _check_times,
)
from .samplers import ode_solve
from .sde import SDE, ScoreFn

__all__ = [
    "pf_ode_nll",
    "exact_divergence",
    "hutchinson_divergence",
    "bits_per_dim",
    "pf_ode_drift",
]


def pf_ode_drift(sde: SDE, score_fn: ScoreFn, x: Tensor, t: Tensor) -> Tensor:
    r"""The probability-flow drift :math:`\mathbf f(\mathbf x,t)-\tfrac12 g(t)^2\mathbf s(\mathbf x,t)`."""
    _check_sde(sde)
    _check_callable(score_fn, "score_fn")
    _check_batch_x(x)
    _check_times(t, x)
    return sde.reverse(score_fn, probability_flow=True).sde(x, t)[0]


def _check_out(out, x: Tensor) -> None:
    if (
        not isinstance(out, Tensor)
        or out.dim() < 1
        or out.shape[0] != x.shape[0]
    ):
        raise ValueError(
            f"fn(x, t) must return a tensor of shape (B, ...) with B = {x.shape[0]}, "
            f"got {type(out).__name__} {tuple(getattr(out, 'shape', ()))}"
        )


def exact_divergence(fn, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(fn(x, t), div)`` with :math:`\nabla\!\cdot\mathrm{fn}` by one backward pass per dimension."""
    _check_callable(fn, "fn")
    _check_batch_x(x)
    _check_tensor(t, "t")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = fn(x, t)
        _check_out(out, x)
        flat_out, div = (
            out.reshape(out.shape[0], -1),
            torch.zeros(x.shape[0], dtype=x.dtype, device=x.device),
        )
        for i in range(flat_out.shape[1]):
            g = torch.autograd.grad(
                flat_out[:, i].sum(), x, retain_graph=i < flat_out.shape[1] - 1
            )[0]
            div = div + g.reshape(g.shape[0], -1)[:, i]
    return out.detach(), div.detach()


_exact_divergence = (
    exact_divergence  # pf_ode_nll's argument of the same name shadows it
)


def hutchinson_divergence(
    fn, x: Tensor, t: Tensor, probe: Tensor
) -> tuple[Tensor, Tensor]:
    r"""``(fn(x, t), est)`` with the Hutchinson–Skilling estimate
    :math:`\boldsymbol\epsilon^\top(\nabla\mathrm{fn})\boldsymbol\epsilon`."""
    _check_callable(fn, "fn")
    _check_batch_x(x)
    _check_tensor(t, "t")
    _check_tensor(probe, "probe", floating=True)
    if probe.shape != x.shape:
        raise ValueError(
            f"probe must have the shape of x, {tuple(x.shape)}, got {tuple(probe.shape)}"
        )
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = fn(x, t)
        _check_out(out, x)
        g = torch.autograd.grad((out * probe).sum(), x)[0]
    return out.detach(), (g * probe).reshape(x.shape[0], -1).sum(-1).detach()


def _probe(x: Tensor, kind: str, generator: torch.Generator | None) -> Tensor:
    if kind == "rademacher":
        return (torch.randint(0, 2, x.shape, generator=generator) * 2 - 1).to(x)
    if kind == "gaussian":
        return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(
            x.device
        )
    raise ValueError(
        f"unknown Hutchinson probe {kind!r}: expected 'rademacher' or 'gaussian'"
    )


def pf_ode_nll(
    score_fn: ScoreFn,
    sde: SDE,
    x: Tensor,
    *,
    exact_divergence: bool | None = None,
    hutchinson: str = "rademacher",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    eps: float = 1e-5,
    method: str = "dopri5",
    n_steps: int | None = None,
    generator: torch.Generator | None = None,
    state_dtype: torch.dtype = torch.float64,
    return_latent: bool = False,
) -> tuple[Tensor, int] | tuple[Tensor, int, Tensor]:
    r"""Negative log-likelihood (nats per sample, shape ``(B,)``) of ``x`` by the probability-flow ODE,
    and the number of drift evaluations.

    ``exact_divergence=None`` uses the exact divergence when a sample has at most 8 dimensions and
    Hutchinson's estimator (``'rademacher'`` or ``'gaussian'`` probe, one per sample) otherwise.
    As in the official code, ``x`` is taken as the state at time ``eps`` and the ODE is solved in
    ``state_dtype`` (float64) with the score evaluated in ``x``'s dtype. With ``return_latent``
    the latent :math:`\mathbf x_T` (the flow's encoding of ``x``) is returned third.
    """
    _check_callable(score_fn, "score_fn")
    _check_sde(sde)
    if not isinstance(x, Tensor) or x.dim() < 2:
        raise ValueError(
            "x must be a batch tensor of shape (B, ...) with at least 2 dimensions"
        )
    _check_batch_x(x)
    if (
        isinstance(eps, bool)
        or not isinstance(eps, (int, float))
        or not 0 < eps < sde.T
    ):
        raise ValueError(f"eps must be in (0, T={sde.T}), got {eps!r}")
    if hutchinson not in ("rademacher", "gaussian"):
        raise ValueError(
            f"unknown Hutchinson probe {hutchinson!r}: expected 'rademacher' or 'gaussian'"
        )
    shape, dtype, n = tuple(x.shape), x.dtype, x.shape[0]
    dim = x[0].numel()
    exact = dim <= 8 if exact_divergence is None else bool(exact_divergence)
    probe = None if exact else _probe(x, hutchinson, generator)
    nfe = 0

    def drift(xx: Tensor, tt: Tensor) -> Tensor:
        return pf_ode_drift(sde, score_fn, xx, tt)

    def func(t: Tensor, state: Tensor) -> Tensor:
        nonlocal nfe
        nfe += 1
        xs = state[:, :dim].reshape(shape).to(dtype)
        tt = torch.full((n,), float(t), dtype=dtype, device=x.device)
        if exact:
            d, div = _exact_divergence(drift, xs, tt)
        else:
            d, div = hutchinson_divergence(drift, xs, tt, probe)
        if not (torch.isfinite(d).all() and torch.isfinite(div).all()):
            raise FloatingPointError(
                f"the probability-flow drift or its divergence is not finite at t={float(t):.3g}"
            )
        return torch.cat([d.reshape(n, -1), div[:, None]], dim=1).to(
            state.dtype
        )

    state0 = torch.cat(
        [x.reshape(n, -1), torch.zeros(n, 1, dtype=dtype, device=x.device)], 1
    ).to(state_dtype)
    state1 = ode_solve(
        func,
        state0,
        eps,
        sde.T,
        method=method,
        rtol=rtol,
        atol=atol,
        n_steps=n_steps,
    )
    z, delta_logp = state1[:, :dim].reshape(shape), state1[:, dim]
    nll = -(sde.prior_logp(z) + delta_logp)
    if return_latent:
        return nll.to(dtype), nfe, z.to(dtype)
    return nll.to(dtype), nfe


def bits_per_dim(nll_nats: Tensor, dim: int, offset: float = 0.0) -> Tensor:
    r"""Bits per dimension :math:`\mathrm{nll}/(d\ln 2)+\mathrm{offset}`.

    For data rescaled from :math:`K` discrete levels (dequantised pixels :math:`(v+u)/K`) to
    :math:`[-1,1]`, the bits per dimension of the pixels are obtained with
    ``offset = log2(K/2)``: the Jacobian of the rescaling, per dimension.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    return nll_nats / (dim * math.log(2.0)) + offset
