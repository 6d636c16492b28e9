r"""Fitting a weight prior so that the functions it induces match a target process.

Tran et al. (2022) choose the hyper-parameters :math:`\psi` of a BNN's weight prior by matching
the distribution of its function values at measurement points :math:`X_M` to a target
process, a Gaussian process, in 1-Wasserstein distance:

.. math:: \min_\psi\ \sup_{\lVert\phi\rVert_L\le1}
   \mathbb E_{p_{\mathrm{nn}}(f_M;\psi)}[\phi(f_M)]-\mathbb E_{p_{\mathrm{gp}}(f_M)}[\phi(f_M)] .

Each outer iteration draws new measurement points, re-initialises a Lipschitz critic and trains
it (:func:`stochlearn.gan.critic_w1`) on fresh samples, then takes one RMSprop step on
:math:`\psi` along the gradient of the critic's estimate, which flows through reparameterised
BNN samples (:class:`stochlearn.nn.PriorBNN`), as the official ``MapperWasserstein.optimize``
does (:func:`fit_prior_wasserstein`). Introduced in {ref}`ch-functional-priors`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._validate import integer
from .gan import LipschitzCritic, critic_w1
from .runtime import progress

__all__ = ["fit_prior_wasserstein"]


def fit_prior_wasserstein(
    bnn,
    gp_sampler: Callable[[Tensor, int], Tensor],
    x_sampler: Callable[[], Tensor],
    outer: int,
    inner: int,
    n_samples: int = 128,
    lr: float = 0.05,
    critic_lr: float = 0.01,
    penalty: float = 10.0,
    generator: torch.Generator | None = None,
) -> list[float]:
    r"""Fit the prior of ``bnn`` (a :class:`~stochlearn.nn.PriorBNN`) to the
    process that ``gp_sampler(X, n)`` draws from (``(n, M)`` function values at
    ``X``), at measurement points ``x_sampler()`` (``(M, d)``, new each outer
    iteration). ``outer`` RMSprop steps (learning rate ``lr``) on the prior's
    parameters, each after ``inner`` critic steps. Returns the dual estimate
    of :math:`W_1` at every outer iteration, before its step.
    """
    outer, inner = integer(outer, "outer"), integer(inner, "inner")
    n_samples = integer(n_samples, "n_samples")
    if not callable(gp_sampler) or not callable(x_sampler):
        raise ValueError("gp_sampler and x_sampler must be callable")
    if not lr > 0 or not critic_lr > 0:
        raise ValueError("lr and critic_lr must be positive")
    opt = torch.optim.RMSprop(bnn.parameters(), lr=lr)
    history = []
    critic = None
    for _ in progress(range(outer), desc="prior", unit="it"):
        X = x_sampler()
        if critic is None:
            critic = LipschitzCritic(X.shape[0])
        critic.reset(generator)
        with torch.no_grad():  # the critic learns on its own fresh samples
            nn_bag = bnn.sample_functions(X, n_samples, generator)
        gp_bag = gp_sampler(X, n_samples).float()
        critic_w1(nn_bag, gp_bag, inner, critic_lr, penalty, critic, generator)
        for p in critic.parameters():
            p.requires_grad_(False)
        f_nn = bnn.sample_functions(X, n_samples, generator)
        f_gp = gp_sampler(X, n_samples).float()
        w1 = critic(f_nn.float()).mean() - critic(f_gp).mean()
        opt.zero_grad()
        w1.backward()
        opt.step()
        for p in critic.parameters():
            p.requires_grad_(True)
        history.append(float(w1.detach()))
    return history
