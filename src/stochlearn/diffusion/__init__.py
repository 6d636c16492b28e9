r"""Score-based generative modelling with SDEs (Song et al., 2021): the library behind {ref}`ch-score-sde`.

* ``sde`` — forward SDEs (:class:`VESDE`, :class:`VPSDE`, :class:`subVPSDE`), their reverse SDE
  and probability-flow ODE, and a ``torchsde`` view;
* ``losses`` — continuous-time denoising score matching, :func:`dsm_loss`;
* ``samplers`` — the predictor–corrector sampler :func:`pc_sample` and the probability-flow
  ODE sampler :func:`ode_sample` (torchdiffeq);
* ``likelihood`` — exact likelihoods by the probability-flow ODE, :func:`pf_ode_nll`;
* ``nets`` — :class:`TimeMLP`, a small time-conditioned score network;
* ``toy2d`` — mixtures with exact densities and exact scores (:class:`GaussianRing`);
* ``metrics`` — mode blur ratio, mode balance, sliced Wasserstein distance.

Every function takes ``score_fn(x, t)`` with ``t`` of shape ``(batch,)`` and explicit
``torch.Generator``\ s, so that later chapters (conditional and spiking diffusion models) can reuse
the samplers with their own score functions and SDEs.
"""

from .likelihood import (
    bits_per_dim,
    exact_divergence,
    hutchinson_divergence,
    pf_ode_drift,
    pf_ode_nll,
)
from .losses import dsm_loss
from .metrics import (
    mode_balance,
    mode_blur_ratio,
    mode_counts,
    sliced_wasserstein,
)
from .nets import FourierFeatures, TimeMLP
from .samplers import (
    CORRECTORS,
    PREDICTORS,
    euler_maruyama_step,
    langevin_step,
    langevin_step_size,
    ode_sample,
    pc_sample,
    reverse_diffusion_step,
    time_grid,
)
from .sde import (
    SDE,
    VESDE,
    VPSDE,
    ReverseSDE,
    ScoreFn,
    TorchSDE,
    bcast,
    subVPSDE,
)
from .toy2d import Checkerboard, GaussianMixture, GaussianRing, two_moons

__all__ = [
    "SDE",
    "VESDE",
    "VPSDE",
    "subVPSDE",
    "ReverseSDE",
    "TorchSDE",
    "ScoreFn",
    "bcast",
    "dsm_loss",
    "pc_sample",
    "ode_sample",
    "langevin_step",
    "langevin_step_size",
    "euler_maruyama_step",
    "reverse_diffusion_step",
    "PREDICTORS",
    "CORRECTORS",
    "time_grid",
    "pf_ode_nll",
    "pf_ode_drift",
    "exact_divergence",
    "hutchinson_divergence",
    "bits_per_dim",
    "TimeMLP",
    "FourierFeatures",
    "GaussianMixture",
    "GaussianRing",
    "Checkerboard",
    "two_moons",
    "mode_blur_ratio",
    "mode_balance",
    "mode_counts",
    "sliced_wasserstein",
]
