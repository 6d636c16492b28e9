r"""Markov chain Monte Carlo for posteriors over parameters: Hamiltonian Monte Carlo, and
the stochastic-gradient steps SGLD, pSGLD and SGHMC.

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

import numpy as np
import torch
from torch import Tensor

from ._validate import finite_array, integer, number
from .runtime import progress

__all__ = ["hmc", "psgld_step", "rhat", "sghmc_step", "sgld_step"]


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


# Stochastic-gradient MCMC ---------------------------------------------------
#
# The three steps below take ``grad``, an estimate of the gradient of the log
# posterior (for a minibatch of B of N points,
# :math:`\nabla\log p(\theta)+\frac NB\sum_{i\in B}\nabla\log p(x_i\mid\theta)`),
# and leave :math:`p(\theta\mid\mathcal D)^{1/T}` invariant as the step goes to
# zero. ``theta`` may hold many chains as rows; every operation is elementwise.
# Introduced in {ref}`ch-sgmcmc-potentials`.


def _noise_like(theta: Tensor, generator) -> Tensor:
    """Standard Gaussian noise of ``theta``'s shape, dtype and device."""
    return torch.randn(
        theta.shape, generator=generator, dtype=theta.dtype, device=theta.device
    )


def _check_step(theta, grad, lr, temperature) -> None:
    if not (isinstance(theta, Tensor) and isinstance(grad, Tensor)):
        raise ValueError("theta and grad must be tensors")
    if theta.shape != grad.shape or not theta.is_floating_point():
        raise ValueError("theta and grad must be float tensors of one shape")
    number(lr, "lr")
    number(temperature, "temperature", positive=False)


def sgld_step(
    theta: Tensor,
    grad: Tensor,
    lr: float,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""One step of stochastic-gradient Langevin dynamics (Welling and Teh,
    2011) at temperature :math:`T`:

    .. math:: \theta\leftarrow\theta+\frac\epsilon2\,\widehat{\nabla\log p}(\theta)
       +\sqrt{\epsilon T}\,\xi,\qquad\xi\sim\mathcal N(0,I).
    """
    _check_step(theta, grad, lr, temperature)
    xi = _noise_like(theta, generator)
    return theta + 0.5 * lr * grad + (lr * temperature) ** 0.5 * xi


def psgld_step(
    theta: Tensor,
    grad: Tensor,
    state: Tensor | None,
    lr: float,
    temperature: float = 1.0,
    alpha: float = 0.99,
    eps: float = 1e-5,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""One step of preconditioned SGLD (Li et al., 2016) with the RMSprop
    preconditioner :math:`G=1/(\varepsilon+\sqrt V)`,
    :math:`V\leftarrow\alpha V+(1-\alpha)\,\widehat{\nabla\log p}^{\,2}`:

    .. math:: \theta\leftarrow\theta
       +\frac\epsilon2\,G\odot\widehat{\nabla\log p}(\theta)
       +\sqrt{\epsilon TG}\odot\xi .

    The correction term :math:`\Gamma` of the paper is left out, as in its
    experiments; the preconditioner's fluctuations then bias the samples,
    less the slower :math:`V` moves compared with the chain (on a Gaussian
    whose chains relax in about 200 steps, the variance came out about 40 %
    too large at ``alpha=0.99`` and about 10 % at ``0.999``:
    ``tests/test_mcmc.py``). ``state`` is :math:`V` (``None`` on the first step,
    which starts it at the squared gradient); returns ``(theta, state)``.
    """
    _check_step(theta, grad, lr, temperature)
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must lie in [0, 1), got {alpha!r}")
    number(eps, "eps")
    V = grad**2 if state is None else alpha * state + (1 - alpha) * grad**2
    G = 1 / (eps + V.sqrt())
    xi = _noise_like(theta, generator)
    return theta + 0.5 * lr * G * grad + (lr * temperature * G).sqrt() * xi, V


def sghmc_step(
    theta: Tensor,
    momentum: Tensor,
    grad: Tensor,
    lr: float,
    friction: float = 0.05,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""One step of stochastic-gradient Hamiltonian Monte Carlo (Chen et al.,
    2014) in its "SGD with momentum" form, with learning rate :math:`\eta`,
    friction :math:`\alpha` and no estimate of the gradient noise
    (:math:`\hat\beta=0`):

    .. math:: v\leftarrow(1-\alpha)\,v+\eta\,\widehat{\nabla\log p}(\theta)
       +\sqrt{2\alpha\eta T}\,\xi,\qquad\theta\leftarrow\theta+v .

    ``momentum`` is :math:`v` (start it at zero); returns ``(theta, momentum)``.
    """
    _check_step(theta, grad, lr, temperature)
    if not isinstance(momentum, Tensor) or momentum.shape != theta.shape:
        raise ValueError("momentum must be a tensor of theta's shape")
    if not 0 < friction <= 1:
        raise ValueError(f"friction must lie in (0, 1], got {friction!r}")
    xi = _noise_like(theta, generator)
    v = (
        (1 - friction) * momentum
        + lr * grad
        + (2 * friction * lr * temperature) ** 0.5 * xi
    )
    return theta + v, v


def rhat(chains) -> np.ndarray:
    r"""The split-:math:`\hat R` of Gelman et al. (2013) for draws
    ``(C, S, ...)`` of :math:`C` chains with :math:`S` draws each, for every
    entry of ``...``.

    Each chain is cut into two halves, giving :math:`m=2C` sequences of
    :math:`n=\lfloor S/2\rfloor` draws with means :math:`\bar\theta_j` and
    variances :math:`s_j^2`; with :math:`W=\overline{s_j^2}` and
    :math:`B=n\,\mathrm{Var}_j(\bar\theta_j)`,

    .. math:: \hat R=\sqrt{\frac{\frac{n-1}nW+\frac1nB}{W}} .

    Close to 1 when every chain has explored the same distribution; above
    about 1.01-1.1 the chains disagree, and the spread of any one of them
    understates the posterior's. Introduced in {ref}`ch-sgmcmc-potentials`.
    """
    x = finite_array(chains, "chains")
    if x.ndim < 2 or x.shape[1] < 4:
        raise ValueError(
            f"chains must be (C, S, ...) with S >= 4 draws, got {x.shape}"
        )
    n = x.shape[1] // 2
    halves = np.concatenate([x[:, :n], x[:, n : 2 * n]], axis=0)
    W = halves.var(axis=1, ddof=1).mean(axis=0)
    B = n * halves.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(((n - 1) / n * W + B / n) / W)
