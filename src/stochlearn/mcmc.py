r"""Markov chain Monte Carlo for posteriors over parameters: Hamiltonian Monte Carlo.

Hamiltonian Monte Carlo (Duane et al. 1987; Neal 2011) samples a density
:math:`\pi(\theta)\propto e^{\log\pi(\theta)}` by simulating a particle with position
:math:`\theta` and a Gaussian momentum :math:`p\sim\mathcal N(0,I)` under the energy
:math:`H(\theta,p)=-\log\pi(\theta)+\tfrac12\lVert p\rVert^2`. The leapfrog integrator

.. math::
   p\leftarrow p+\tfrac\epsilon2\nabla\log\pi(\theta),\quad
   \theta\leftarrow\theta+\epsilon p,\quad
   p\leftarrow p+\tfrac\epsilon2\nabla\log\pi(\theta)

is run for :math:`L` steps, and the end point is accepted with probability
:math:`\min(1,e^{H_0-H_L})`, which makes :math:`\pi` exactly invariant whatever the step
:math:`\epsilon`. :func:`hmc` runs many chains at once (one row of a tensor each) and adapts
:math:`\epsilon` per chain during burn-in towards an acceptance rate of about 0.75. Introduced in
{ref}`ch-functional-priors`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._validate import integer
from .runtime import progress

__all__ = ["hmc"]


def _grad_log_prob(log_prob: Callable[[Tensor], Tensor], theta: Tensor):
    theta = theta.detach().requires_grad_(True)
    lp = log_prob(theta)
    if not isinstance(lp, Tensor) or lp.shape != theta.shape[:1]:
        raise ValueError(
            "log_prob(theta) must return one log density per chain, shape "
            f"({theta.shape[0]},)"
        )
    (grad,) = torch.autograd.grad(lp.sum(), theta)
    return lp.detach(), grad.detach()


def hmc(
    log_prob: Callable[[Tensor], Tensor],
    init: Tensor,
    n_iter: int,
    burn: int,
    n_leapfrog: int = 10,
    step: float = 0.02,
    adapt: bool = True,
    thin: int = 5,
    target_accept: float = 0.75,
    generator: torch.Generator | None = None,
    return_stats: bool = False,
):
    r"""Hamiltonian Monte Carlo on ``init.shape[0]`` chains at once.

    ``log_prob(theta)`` takes a ``(chains, dim)`` tensor and returns the
    ``(chains,)`` unnormalised log densities (differentiable). ``init`` is the
    ``(chains, dim)`` start. Runs ``n_iter`` iterations of ``n_leapfrog``
    leapfrog steps; during the first ``burn`` the step of each chain is
    adapted (when ``adapt``) by a Robbins–Monro update of its logarithm
    towards ``target_accept``, and those iterations are dropped. Every
    iteration multiplies the step by a uniform jitter in [0.8, 1.2], which
    keeps a fixed trajectory length from returning near its start. Of the rest,
    every ``thin``-th is kept: the result is ``((n_iter - burn) // thin,
    chains, dim)``. With ``return_stats=True`` also returns a dict with the
    acceptance rate of each chain after burn-in and the final steps.
    """
    if not callable(log_prob):
        raise ValueError("log_prob must be callable")
    if (
        not isinstance(init, Tensor)
        or init.ndim != 2
        or not init.is_floating_point()
    ):
        raise ValueError("init must be a float tensor of shape (chains, dim)")
    if not torch.isfinite(init).all() or init.shape[0] < 1 or init.shape[1] < 1:
        raise ValueError("init must be finite and non-empty")
    n_iter = integer(n_iter, "n_iter")
    burn = integer(burn, "burn", 0)
    if burn >= n_iter:
        raise ValueError(f"burn ({burn}) must be below n_iter ({n_iter})")
    n_leapfrog = integer(n_leapfrog, "n_leapfrog")
    thin = integer(thin, "thin")
    for name, v, lo, hi in (
        ("step", step, 0.0, float("inf")),
        ("target_accept", target_accept, 0.0, 1.0),
    ):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not lo < v < hi
        ):
            raise ValueError(
                f"{name} must be a number in ({lo}, {hi}), got {v!r}"
            )
    gen = (
        generator if generator is not None else torch.Generator().manual_seed(0)
    )
    theta = init.detach().clone()
    chains = theta.shape[0]
    log_eps = torch.full((chains, 1), float(step), dtype=theta.dtype).log()
    lp, grad = _grad_log_prob(log_prob, theta)
    if not torch.isfinite(lp).all():
        raise ValueError("log_prob(init) must be finite for every chain")
    kept, accepted = [], torch.zeros(chains, dtype=theta.dtype)
    for it in progress(range(n_iter), desc="HMC", unit="it"):
        jitter = 0.8 + 0.4 * torch.rand(
            (chains, 1), generator=gen, dtype=theta.dtype
        )
        eps = (
            log_eps.exp() * jitter
        )  # breaks the periodic orbits of a fixed path
        p0 = torch.randn(theta.shape, generator=gen, dtype=theta.dtype)
        q, p, g = theta, p0 + 0.5 * eps * grad, grad
        for i in range(n_leapfrog):
            q = q + eps * p
            lp_new, g = _grad_log_prob(log_prob, q)
            p = p + (eps if i < n_leapfrog - 1 else 0.5 * eps) * g
        h0 = -lp + 0.5 * p0.pow(2).sum(1)
        h1 = -lp_new + 0.5 * p.pow(2).sum(1)
        log_a = torch.nan_to_num(h0 - h1, nan=-float("inf")).clamp(max=0.0)
        u = torch.rand(chains, generator=gen, dtype=theta.dtype)
        acc = u.log() < log_a
        theta = torch.where(acc[:, None], q, theta)
        lp = torch.where(acc, lp_new, lp)
        grad = torch.where(acc[:, None], g, grad)
        if it < burn:
            if adapt:
                rate = 1.0 / (it + 1) ** 0.5
                log_eps += rate * (log_a.exp() - target_accept)[:, None]
        else:
            accepted += acc.to(theta.dtype)
            if (it - burn) % thin == thin - 1:
                kept.append(theta.clone())
    samples = torch.stack(kept) if kept else theta.new_zeros((0, *theta.shape))
    if return_stats:
        stats = {
            "accept_rate": accepted / (n_iter - burn),
            "step": log_eps.exp()[:, 0],
        }
        return samples, stats
    return samples
