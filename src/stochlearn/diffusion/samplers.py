r"""Samplers of score-based models: predictor–corrector (PC) and the probability-flow ODE.

**PC sampling** (Song et al., 2021, Alg. 1–5). From :math:`\mathbf x\sim p_T`, walk the time grid
``linspace(T, eps, n_steps)``; at each time run ``n_corrector`` Langevin *corrector* steps

.. math::

    \mathbf x \leftarrow \mathbf x + \epsilon\,\mathbf s_\theta(\mathbf x,t) + \sqrt{2\epsilon}\,\mathbf z,
    \qquad \epsilon = 2\alpha_i\Big(r\,\frac{\overline{\|\mathbf z\|}}{\overline{\|\mathbf s_\theta\|}}\Big)^2

(:math:`r` = ``snr``, bars = means over the batch), then one *predictor* step of the reverse SDE:
Euler–Maruyama,
:math:`\mathbf x\leftarrow\mathbf x-[\mathbf f-g^2\mathbf s_\theta]\Delta t+g\sqrt{\Delta t}\,\mathbf z`,
or reverse diffusion, the reverse of the forward discretisation. The last step returns the
noise-free mean (the official ``denoise=True``).

**Probability-flow ODE sampling** integrates :math:`\mathrm d\mathbf x/\mathrm dt=\mathbf f-\tfrac12g^2\mathbf s_\theta`
from :math:`T` down to ``eps`` with ``torchdiffeq`` and counts the score evaluations (NFE).

Every routine takes ``score_fn(x, t)`` with ``t`` of shape ``(batch,)`` and an optional
``torch.Generator``. Introduced in {ref}`ch-score-sde`.

**Conventions.** The reverse-diffusion predictor and the VP corrector use the discrete noise level
of their step. By default (``convention="paper"``) it is the continuous schedule at the step's time
:math:`t`, :math:`\sigma(t)` or :math:`\beta_i=\beta(t)\Delta t`; the official ``sampling.py``
looks it up in a table of :math:`N` levels at the index :math:`\lfloor t(N-1)/T\rfloor`, a level
that lags :math:`t` by up to one step (``convention="official"``, see :meth:`SDE.discretize`).
Euler–Maruyama steps and the score are evaluated at :math:`t` in both. ``tests/test_official_fixtures.py``
checks both against numbers from the official code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ._checks import (
    _check_batch_x,
    _check_callable,
    _check_number,
    _check_pos_int,
    _check_sde,
    _check_tensor,
    _check_times,
)
from .sde import SDE, ScoreFn, _check_convention, bcast

__all__ = [
    "pc_sample",
    "ode_sample",
    "langevin_step",
    "langevin_step_size",
    "euler_maruyama_step",
    "reverse_diffusion_step",
    "PREDICTORS",
    "CORRECTORS",
    "time_grid",
]

#: A hook applied after every predictor and corrector step: ``project(x, x_mean, t) -> (x, x_mean)``
#: (inpainting replaces the observed coordinates here).
Project = Callable[[Tensor, Tensor, Tensor], "tuple[Tensor, Tensor]"]


def _randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def _batch_norm_mean(v: Tensor) -> Tensor:
    return v.reshape(v.shape[0], -1).norm(dim=-1).mean()


def time_grid(sde: SDE, n_steps: int, eps: float, device=None) -> Tensor:
    """The PC sampler's times ``linspace(T, eps, n_steps)`` (float64, as in the official code)."""
    _check_sde(sde)
    _check_pos_int(n_steps, "n_steps")
    _check_number(eps, "eps")
    return torch.linspace(
        sde.T, eps, n_steps, dtype=torch.float64, device=device
    )


# --- predictors -------------------------------------------------------------------------------------


def euler_maruyama_step(
    x: Tensor,
    t: Tensor,
    sde: SDE,
    score_fn: ScoreFn,
    dt: float,
    generator: torch.Generator | None = None,
    convention: str = "paper",
) -> tuple[Tensor, Tensor]:
    r"""One Euler–Maruyama step of the reverse SDE from :math:`t` to
    :math:`t-\Delta t`; returns ``(x, x_mean)``.

    Both conventions evaluate the continuous SDE at :math:`t` (``convention``
    is accepted for a uniform interface)."""
    _check_convention(convention)
    _check_batch_x(x)
    _check_times(t, x)
    _check_sde(sde)
    _check_callable(score_fn, "score_fn")
    _check_number(dt, "dt", positive=True)
    drift, diffusion = sde.reverse(score_fn).sde(x, t)
    x_mean = x - drift * dt
    return (
        x_mean
        + bcast(diffusion, x) * math.sqrt(dt) * _randn_like(x, generator),
        x_mean,
    )


def reverse_diffusion_step(
    x: Tensor,
    t: Tensor,
    sde: SDE,
    score_fn: ScoreFn,
    dt: float,
    generator: torch.Generator | None = None,
    convention: str = "paper",
) -> tuple[Tensor, Tensor]:
    r"""One reverse-diffusion step :math:`\mathbf x\leftarrow\mathbf x-\mathbf f_i+G_i^2\mathbf s+G_i\mathbf z`
    (the reverse of :meth:`SDE.discretize`, with its ``convention``); returns ``(x, x_mean)``."""
    _check_convention(convention)
    _check_batch_x(x)
    _check_times(t, x)
    _check_sde(sde)
    _check_callable(score_fn, "score_fn")
    _check_number(dt, "dt", positive=True)
    f, G = sde.reverse(score_fn).discretize(x, t, dt, convention)
    x_mean = x - f
    return x_mean + bcast(G, x) * _randn_like(x, generator), x_mean


PREDICTORS = {
    "euler_maruyama": euler_maruyama_step,
    "reverse_diffusion": reverse_diffusion_step,
}


# --- the Langevin corrector -------------------------------------------------------------------------


def langevin_step_size(
    score: Tensor, noise: Tensor, snr: float, alpha: Tensor
) -> Tensor:
    r"""The official step-size rule :math:`\epsilon=2\alpha\,
    (r\,\overline{\|\mathbf z\|}/\overline{\|\mathbf s\|})^2`,
    with norms averaged over the batch; shape ``(B,)`` like ``alpha``."""
    _check_batch_x(score, "score")
    _check_batch_x(noise, "noise")
    if noise.shape != score.shape:
        raise ValueError(
            "noise must have the shape of score, "
            f"{tuple(score.shape)}, got {tuple(noise.shape)}"
        )
    _check_number(snr, "snr", positive=True)
    _check_tensor(alpha, "alpha", floating=True)
    if alpha.dim() > 1 or (
        alpha.dim() == 1 and alpha.shape[0] not in (1, score.shape[0])
    ):
        raise ValueError(
            "alpha must be a scalar or of shape (batch,) = "
            f"({score.shape[0]},), got {tuple(alpha.shape)}"
        )
    return (
        2
        * alpha
        * (snr * _batch_norm_mean(noise) / _batch_norm_mean(score)) ** 2
    )


def langevin_step(
    x: Tensor,
    t: Tensor,
    sde: SDE,
    score_fn: ScoreFn,
    snr: float,
    dt: float,
    generator: torch.Generator | None = None,
    convention: str = "paper",
) -> tuple[Tensor, Tensor]:
    r"""One Langevin corrector step at fixed :math:`t`:
    :math:`\mathbf x+\epsilon\mathbf s+\sqrt{2\epsilon}\,\mathbf z`
    (:math:`\alpha_i` of the step size from :meth:`SDE.corrector_alpha`
    with ``convention``)."""
    _check_convention(convention)
    score = score_fn(x, t)
    noise = _randn_like(x, generator)
    eps = langevin_step_size(
        score, noise, snr, sde.corrector_alpha(t, dt, convention)
    )
    x_mean = x + bcast(eps, x) * score
    return x_mean + bcast(torch.sqrt(2 * eps), x) * noise, x_mean


CORRECTORS = {"langevin": langevin_step}


# --- the PC sampler ---------------------------------------------------------------------------------


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise ValueError(
            f"shape must be a sequence of positive integers, got {shape!r}"
        ) from None
    if not shape or any(s < 1 for s in shape):
        raise ValueError(
            f"shape must be a sequence of positive integers (batch first), got {shape!r}"
        )
    return shape


def _check_eps(eps: float, sde: SDE) -> float:
    if (
        isinstance(eps, bool)
        or not isinstance(eps, (int, float))
        or not 0 < eps < sde.T
    ):
        raise ValueError(f"eps must be a number in (0, T={sde.T}), got {eps!r}")
    return float(eps)


@torch.no_grad()
def _initial_state(sde, shape, x_init, generator, dtype, device) -> Tensor:
    """Where a sampler starts: a draw from the prior, or the given ``x_init`` (conditional use)."""
    if x_init is None:
        return sde.prior_sampling(
            shape, generator=generator, dtype=dtype, device=device
        )
    _check_tensor(x_init, "x_init")
    if tuple(x_init.shape) != shape:
        raise ValueError(
            f"x_init must have shape {shape}, got {tuple(x_init.shape)}"
        )
    return x_init.to(device=device, dtype=dtype)


def pc_sample(
    score_fn: ScoreFn,
    sde: SDE,
    shape: Sequence[int],
    n_steps: int | None = None,
    *,
    predictor: str | None = "euler_maruyama",
    corrector: str | None = None,
    snr: float = 0.16,
    n_corrector: int = 1,
    eps: float = 1e-3,
    denoise: bool = True,
    generator: torch.Generator | None = None,
    x_init: Tensor | None = None,
    project: Project | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    return_nfe: bool = False,
    convention: str = "paper",
) -> Tensor | tuple[Tensor, int]:
    r"""Predictor–corrector sampler of Song et al. (2021), Alg. 1–5.

    ``n_steps`` time steps (default ``sde.N``) on ``linspace(T, eps, n_steps)`` with step
    :math:`\Delta t=T/n` as in the official sampler; at each, ``n_corrector`` Langevin steps
    (``corrector='langevin'``) and one ``predictor`` step (``'euler_maruyama'`` or
    ``'reverse_diffusion'``; ``None`` for corrector-only sampling). Returns the last step's
    noise-free mean if ``denoise`` (and the number of score evaluations if ``return_nfe``).
    ``x_init`` replaces the prior draw; ``project(x, x_mean, t)`` is applied after each update
    (conditional sampling, inpainting). With a corrector or the reverse-diffusion predictor on a
    VP SDE, ``n_steps`` must exceed :math:`\beta_{\max}T`, or the factor :math:`1-\beta_i` of
    their steps is not positive and the step would be zero or NaN: a ``ValueError`` says so.
    ``convention`` chooses the paper's or the official code's discrete noise levels (see the
    module's notes on conventions).
    """
    _check_convention(convention)
    _check_callable(score_fn, "score_fn")
    _check_sde(sde)
    shape = _check_shape(shape)
    n_steps = sde.N if n_steps is None else n_steps
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if predictor is not None and predictor not in PREDICTORS:
        raise ValueError(
            f"unknown predictor {predictor!r}: expected one of {sorted(PREDICTORS)} or None"
        )
    if corrector is not None and corrector not in CORRECTORS:
        raise ValueError(
            f"unknown corrector {corrector!r}: expected one of {sorted(CORRECTORS)} or None"
        )
    if predictor is None and corrector is None:
        raise ValueError("need a predictor, a corrector or both")
    if isinstance(snr, bool) or not isinstance(snr, (int, float)) or snr <= 0:
        raise ValueError(f"snr must be a number > 0, got {snr!r}")
    if (
        isinstance(n_corrector, bool)
        or not isinstance(n_corrector, int)
        or n_corrector < 1
    ):
        raise ValueError(
            f"n_corrector must be a positive integer, got {n_corrector!r}"
        )
    eps = _check_eps(eps, sde)
    dt, times = sde.T / n_steps, time_grid(sde, n_steps, eps)
    if corrector is not None or predictor == "reverse_diffusion":
        # VP: both use 1 − β_i = 1 − β(t)Δt (the corrector's α_i, and √(1 − β_i) in the
        # reverse-diffusion step), which must stay positive on the whole grid
        alpha = sde.corrector_alpha(times, dt, convention)
        if not bool((alpha > 0).all()):
            raise ValueError(
                f"1 − β(t)Δt, the step factor of the Langevin corrector and of the reverse-diffusion "
                f"predictor, reaches {float(alpha.min()):.2f} ≤ 0 with n_steps={n_steps}: their steps "
                "are zero or NaN there; use more steps (a VP SDE needs n_steps > β_max·T)"
            )
    x = _initial_state(sde, shape, x_init, generator, dtype, device)
    x_mean, nfe = x, 0
    for t_i in times:
        t = torch.full(shape[:1], float(t_i), dtype=dtype, device=x.device)
        if corrector is not None:
            for _ in range(n_corrector):
                x, x_mean = CORRECTORS[corrector](
                    x, t, sde, score_fn, snr, dt, generator, convention
                )
                if project is not None:
                    x, x_mean = project(x, x_mean, t)
            nfe += n_corrector
        if predictor is not None:
            x, x_mean = PREDICTORS[predictor](
                x, t, sde, score_fn, dt, generator, convention
            )
            if project is not None:
                x, x_mean = project(x, x_mean, t)
            nfe += 1
    out = x_mean if denoise else x
    return (out, nfe) if return_nfe else out


# --- the probability-flow ODE sampler ---------------------------------------------------------------

ADAPTIVE = ("dopri5", "dopri8", "bosh3", "adaptive_heun", "fehlberg2")
FIXED = ("euler", "midpoint", "heun2", "heun3", "rk4")


class _Counted:
    """The probability-flow drift as a torchdiffeq right-hand side that counts its calls and fails loudly."""

    def __init__(
        self,
        sde: SDE,
        score_fn: ScoreFn,
        shape: tuple[int, ...],
        dtype: torch.dtype,
    ) -> None:
        self.rsde, self.shape, self.dtype, self.nfe = (
            sde.reverse(score_fn, probability_flow=True),
            shape,
            dtype,
            0,
        )

    def __call__(self, t: Tensor, x: Tensor) -> Tensor:
        self.nfe += 1
        xs = x.to(self.dtype)
        drift = self.rsde.sde(
            xs,
            torch.full(
                self.shape[:1], float(t), dtype=self.dtype, device=x.device
            ),
        )[0]
        if not torch.isfinite(drift).all():
            raise FloatingPointError(
                f"the probability-flow drift is not finite at t={float(t):.3g}: is the score divided by "
                f"a zero std (integrate to eps > 0), or does the model overflow?"
            )
        return drift.to(x.dtype)


def ode_solve(
    func: Callable[[Tensor, Tensor], Tensor],
    y0: Tensor,
    t0: float,
    t1: float,
    *,
    method: str,
    rtol: float,
    atol: float,
    n_steps: int | None = None,
    first_step: float | None = None,
) -> Tensor:
    """Integrate ``dy/dt = func(t, y)`` from ``t0`` to ``t1`` with torchdiffeq; return ``y(t1)``.

    Every evaluation of ``func`` stays inside ``[min(t0, t1), max(t0, t1)]`` (see the comment below).
    """
    from torchdiffeq import odeint

    if method not in ADAPTIVE + FIXED:
        raise ValueError(
            f"unknown ODE method {method!r}: expected one of {ADAPTIVE + FIXED}"
        )
    for name, v in (("rtol", rtol), ("atol", atol)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"{name} must be a number > 0, got {v!r}")
    if method in FIXED:
        if (
            isinstance(n_steps, bool)
            or not isinstance(n_steps, int)
            or n_steps < 1
        ):
            raise ValueError(
                f"the fixed-step method {method!r} needs n_steps (a positive integer), got {n_steps!r}"
            )
        options = {"step_size": abs(t1 - t0) / n_steps}
    else:
        # torchdiffeq's default first step is 0.01·|y|/|f|: for the VP SDE the probability-flow drift
        # almost vanishes at t = T (the prior is the exact marginal), so that step leaves [eps, T],
        # beta(t) < 0 there, sqrt gives NaN and the solver dies with "underflow in dt nan".
        # A first step of 1 % of the interval, and steps that land on t1 instead of overshooting it
        # (torchdiffeq otherwise steps past t1 and interpolates), keep every evaluation in [eps, T].
        options = {
            "first_step": first_step
            if first_step is not None
            else 0.01 * abs(t1 - t0),
            "step_t": torch.tensor([t1], dtype=torch.float64, device=y0.device),
        }
    ts = torch.tensor([t0, t1], dtype=torch.float64, device=y0.device)
    try:
        return odeint(
            func, y0, ts, rtol=rtol, atol=atol, method=method, options=options
        )[-1]
    except (
        AssertionError
    ) as err:  # torchdiffeq's "underflow in dt": say what to do about it
        raise FloatingPointError(
            f"the adaptive solver {method!r} failed ({err}); the step size collapses when the drift "
            f"is non-finite or extremely stiff: integrate to a larger eps, loosen rtol/atol, or use a "
            f"fixed-step method such as method='heun2' with n_steps"
        ) from err


@torch.no_grad()
def ode_sample(
    score_fn: ScoreFn,
    sde: SDE,
    shape: Sequence[int],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    n_steps: int | None = None,
    eps: float = 1e-3,
    denoise: bool = False,
    generator: torch.Generator | None = None,
    x_init: Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    state_dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, int]:
    r"""Sample by integrating the probability-flow ODE :math:`\dot{\mathbf x}=\mathbf f-\tfrac12g^2\mathbf s_\theta`
    from :math:`T` to ``eps`` with torchdiffeq; returns ``(x, nfe)``.

    Adaptive methods (``'dopri5'``, the default, with ``rtol``/``atol``) or fixed-step ones
    (``'heun2'``, ``'rk4'``, ... with ``n_steps``). The ODE state is kept in ``state_dtype``
    (float64, like the official scipy solver) while the score is evaluated in ``dtype``.
    ``denoise`` adds the official final reverse-diffusion step without noise at ``eps``.
    """
    _check_callable(score_fn, "score_fn")
    _check_sde(sde)
    shape = _check_shape(shape)
    eps = _check_eps(eps, sde)
    x = _initial_state(sde, shape, x_init, generator, dtype, device)
    func = _Counted(sde, score_fn, shape, dtype)
    x = ode_solve(
        func,
        x.to(state_dtype),
        sde.T,
        eps,
        method=method,
        rtol=rtol,
        atol=atol,
        n_steps=n_steps,
    ).to(dtype)
    nfe = func.nfe
    if denoise:
        t = torch.full(shape[:1], eps, dtype=dtype, device=x.device)
        _, x = reverse_diffusion_step(
            x, t, sde, score_fn, sde.T / sde.N, generator
        )
        nfe += 1
    return x, nfe
