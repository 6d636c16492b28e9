r"""Forward SDEs of score-based generative models (Song et al., 2021), and their reverses.

A forward SDE :math:`\mathrm d\mathbf x = \mathbf f(\mathbf x,t)\,\mathrm dt + g(t)\,\mathrm d\mathbf w`,
:math:`t\in[0,T]`, turns data into noise. The SDEs here are *affine*, so the transition kernel is
Gaussian, :math:`p_{0t}(\mathbf x_t\mid\mathbf x_0)=\mathcal N\big(a(t)\,\mathbf x_0,\ \sigma(t)^2 I\big)`,
and :meth:`SDE.marginal_prob` returns its mean and standard deviation in closed form.

* :class:`VESDE` (variance exploding, the continuous limit of SMLD/NCSN): :math:`\mathbf f=0`,
  :math:`\sigma(t)=\sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t`,
  :math:`g(t)=\sigma(t)\sqrt{2\log(\sigma_{\max}/\sigma_{\min})}`.
* :class:`VPSDE` (variance preserving, the continuous limit of DDPM):
  :math:`\mathbf f=-\tfrac12\beta(t)\mathbf x`, :math:`g=\sqrt{\beta(t)}`,
  :math:`\beta(t)=\beta_{\min}+t(\beta_{\max}-\beta_{\min})`.
* :class:`subVPSDE`: the VP drift with :math:`g^2=\beta(t)\,(1-e^{-2\int_0^t\beta})`.

The reverse-time SDE (Anderson, 1982) needs only the score :math:`\nabla_{\mathbf x}\log p_t`,

.. math::

    \mathrm d\mathbf x = \big[\mathbf f(\mathbf x,t) - g(t)^2\,\nabla_{\mathbf x}\log p_t(\mathbf x)\big]\mathrm dt
    + g(t)\,\mathrm d\bar{\mathbf w},

and the *probability-flow ODE* :math:`\frac{\mathrm d\mathbf x}{\mathrm dt}=\mathbf f-\tfrac12 g^2\nabla\log p_t`
has the same marginals (:meth:`SDE.reverse`). Defaults and conventions follow the official
``sde_lib.py`` of ``yang-song/score_sde_pytorch``; tensors are batches ``x`` of shape ``(B, ...)``
and times ``t`` of shape ``(B,)``. Introduced in {ref}`ch-score-sde`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = [
    "SDE",
    "VESDE",
    "VPSDE",
    "subVPSDE",
    "ReverseSDE",
    "TorchSDE",
    "ScoreFn",
    "bcast",
]

#: A score function ``score_fn(x, t)``: a batch ``x`` of shape ``(B, ...)``, times ``t`` of shape ``(B,)``.
ScoreFn = Callable[[Tensor, Tensor], Tensor]


def bcast(v: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-sample vector ``v`` of shape ``(B,)`` to broadcast against ``x`` of shape ``(B, ...)``."""
    if not isinstance(v, Tensor) or not isinstance(x, Tensor):
        raise TypeError(
            f"bcast expects two tensors, v of shape (B,) and x of shape (B, ...), "
            f"got {type(v).__name__} and {type(x).__name__}"
        )
    if v.dim() > x.dim():
        raise ValueError(
            f"v must have at most as many dimensions as x, "
            f"got shapes {tuple(v.shape)} and {tuple(x.shape)}"
        )
    return v.reshape(v.shape + (1,) * (x.dim() - v.dim()))


def _positive(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _positive_range(
    lo_name: str, lo: float, hi_name: str, hi: float
) -> tuple[float, float]:
    """Two finite numbers with 0 < lo < hi (σ_min < σ_max, β_min < β_max)."""
    lo, hi = _positive(lo_name, lo), _positive(hi_name, hi)
    if not lo < hi:
        raise ValueError(f"need {lo_name} < {hi_name}, got {lo} and {hi}")
    return lo, hi


def _check_convention(convention: str) -> None:
    if convention not in ("paper", "official"):
        raise ValueError(
            f"convention must be 'paper' (the noise level of the continuous schedule at t) or "
            f"'official' (the official code's table at index floor(t(N-1)/T)), got {convention!r}"
        )


def _check_batch(x: Tensor, t: Tensor) -> None:
    if not isinstance(x, Tensor) or not isinstance(t, Tensor):
        raise ValueError("x and t must be tensors")
    if x.dim() < 1 or t.shape != x.shape[:1]:
        raise ValueError(
            f"t must have shape (batch,) = {tuple(x.shape[:1])}, got {tuple(t.shape)}"
        )


class SDE(abc.ABC):
    r"""Forward SDE with a Gaussian transition kernel :math:`\mathcal N(a(t)\mathbf x_0, \sigma(t)^2 I)`.

    Subclasses implement :meth:`sde`, :meth:`mean_scale` (:math:`a(t)`), :meth:`std`
    (:math:`\sigma(t)`), :meth:`prior_sampling` and :meth:`prior_logp`. ``N`` is the number of
    discretisation steps used by default by the samplers, as in the official code.
    """

    T: float = 1.0

    def __init__(self, N: int = 1000) -> None:
        if isinstance(N, bool) or not isinstance(N, int) or N < 1:
            raise ValueError(f"N must be a positive integer, got {N!r}")
        self.N = N

    # --- the forward process -----------------------------------------------------------------
    @abc.abstractmethod
    def sde(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Drift ``f(x, t)`` (shape of ``x``) and diffusion ``g(t)`` (shape ``(B,)``)."""

    @abc.abstractmethod
    def mean_scale(self, t: Tensor) -> Tensor:
        r"""The factor :math:`a(t)` of the kernel's mean :math:`a(t)\mathbf x_0`."""

    @abc.abstractmethod
    def std(self, t: Tensor) -> Tensor:
        r"""The kernel's standard deviation :math:`\sigma(t)`."""

    def marginal_prob(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        r"""Mean :math:`a(t)\mathbf x_0` and std :math:`\sigma(t)` (shape ``(B,)``) of
        :math:`p_{0t}(\cdot\mid\mathbf x_0)`."""
        _check_batch(x0, t)
        return bcast(self.mean_scale(t), x0) * x0, self.std(t)

    def perturb(
        self, x0: Tensor, t: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        r"""Draw :math:`\mathbf x_t = a(t)\mathbf x_0 + \sigma(t)\mathbf z`; returns ``(x_t, z, std)``."""
        mean, std = self.marginal_prob(x0, t)
        z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(
            x0.device
        )
        return mean + bcast(std, x0) * z, z, std

    # --- the prior ---------------------------------------------------------------------------
    @abc.abstractmethod
    def prior_sampling(
        self,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """A batch from the prior :math:`p_T` (the distribution the reverse process starts from)."""

    @abc.abstractmethod
    def prior_logp(self, z: Tensor) -> Tensor:
        """Log-density of the prior at each sample of the batch ``z``, shape ``(B,)``."""

    # --- discretisations ---------------------------------------------------------------------
    # Conventions. The paper's discrete noise levels σ_i and β_i are those of the continuous
    # schedule at the step's time t (convention="paper", the default). The official code
    # (sde_lib.py) tabulates them on N levels and looks them up at the index ⌊t(N−1)/T⌋, which
    # lags t by up to one level (convention="official"); N is the number of sampler steps, T/dt.
    def discretize(
        self,
        x: Tensor,
        t: Tensor,
        dt: float | None = None,
        convention: str = "paper",
    ) -> tuple[Tensor, Tensor]:
        r"""One step of the forward process, :math:`\mathbf x_{t+\Delta t}=\mathbf x_t+\mathbf f_i+G_i\mathbf z`.

        Euler–Maruyama by default: :math:`\mathbf f_i=\mathbf f\,\Delta t`, :math:`G_i=g\sqrt{\Delta t}`;
        ``dt`` defaults to ``1/N``. Subclasses use the SMLD and DDPM discretisations instead
        (``convention`` chooses how they find the discrete noise level of ``t``).
        """
        _check_convention(convention)
        dt = self._dt(dt)
        drift, diffusion = self.sde(x, t)
        return drift * dt, diffusion * math.sqrt(dt)

    def corrector_alpha(
        self, t: Tensor, dt: float | None = None, convention: str = "paper"
    ) -> Tensor:
        r"""The factor :math:`\alpha_i` of the Langevin corrector's step size (1 for VE, :math:`1-\beta_i` for VP)."""
        _check_convention(convention)
        return torch.ones_like(t)

    def _dt(self, dt: float | None) -> float:
        if dt is None:
            return self.T / self.N
        return _positive("dt", dt)

    def official_index(
        self, t: Tensor, dt: float | None = None
    ) -> tuple[Tensor, int]:
        r"""The official code's level index :math:`\lfloor t(N-1)/T\rfloor` of ``t`` and the number
        of levels :math:`N=T/\Delta t` (``sde_lib.py``: ``(t * (N - 1) / T).long()``)."""
        n_levels = max(1, round(self.T / self._dt(dt)))
        return (t * (n_levels - 1) / self.T).long(), n_levels

    # --- derived processes -------------------------------------------------------------------
    def reverse(
        self, score_fn: ScoreFn, probability_flow: bool = False
    ) -> ReverseSDE:
        r"""The reverse-time SDE, or with ``probability_flow=True`` the probability-flow ODE."""
        if not callable(score_fn):
            raise ValueError("score_fn must be callable as score_fn(x, t)")
        return ReverseSDE(self, score_fn, probability_flow)

    def as_torchsde(self, shape: Sequence[int] | None = None) -> TorchSDE:
        """This forward SDE as an object that :func:`torchsde.sdeint` accepts (diagonal Itô noise)."""
        return TorchSDE(self, shape)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def _params(self) -> dict:
        return {"N": self.N}


class VESDE(SDE):
    r"""Variance-exploding SDE: :math:`\mathrm d\mathbf x=\sqrt{\mathrm d[\sigma^2(t)]/\mathrm dt}\,\mathrm d\mathbf w`.

    :math:`\sigma(t)=\sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t`, so
    :math:`p_{0t}=\mathcal N(\mathbf x_0,\sigma(t)^2 I)` (strictly, the kernel's variance is
    :math:`\sigma(t)^2-\sigma_{\min}^2`; like the paper we use :math:`\sigma(t)^2`) and the prior is
    :math:`\mathcal N(0,\sigma_{\max}^2 I)`. Choose :math:`\sigma_{\max}` about the largest distance
    between two data points (Song & Ermon, 2020).
    """

    def __init__(
        self, sigma_min: float = 0.01, sigma_max: float = 50.0, N: int = 1000
    ) -> None:
        super().__init__(N)
        self.sigma_min, self.sigma_max = _positive_range(
            "sigma_min", sigma_min, "sigma_max", sigma_max
        )
        self.log_ratio = math.log(self.sigma_max / self.sigma_min)

    def _params(self) -> dict:
        return {
            "sigma_min": self.sigma_min,
            "sigma_max": self.sigma_max,
            "N": self.N,
        }

    def sde(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        _check_batch(x, t)
        return torch.zeros_like(x), self.std(t) * math.sqrt(2 * self.log_ratio)

    def mean_scale(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def std(self, t: Tensor) -> Tensor:
        return self.sigma_min * torch.exp(t * self.log_ratio)

    def prior_sampling(
        self, shape, generator=None, dtype=torch.float32, device=None
    ) -> Tensor:
        return (
            self.sigma_max
            * torch.randn(tuple(shape), generator=generator, dtype=dtype)
        ).to(device)

    def prior_logp(self, z: Tensor) -> Tensor:
        d = z[0].numel()
        return -0.5 * d * math.log(2 * math.pi * self.sigma_max**2) - z.reshape(
            z.shape[0], -1
        ).pow(2).sum(-1) / (2 * self.sigma_max**2)

    def discretize(
        self,
        x: Tensor,
        t: Tensor,
        dt: float | None = None,
        convention: str = "paper",
    ) -> tuple[Tensor, Tensor]:
        r"""SMLD (NCSN) discretisation: :math:`\mathbf f_i=0`, :math:`G_i=\sqrt{\sigma(t)^2-\sigma(t-\Delta t)^2}`,
        with :math:`\sigma(t-\Delta t)=0` once :math:`t-\Delta t\le 0` (the official code's last step).

        ``convention="official"``: :math:`\sigma_i` and :math:`\sigma_{i-1}` from the official table
        ``exp(linspace(log σ_min, log σ_max, N))`` at the index :math:`i=\lfloor t(N-1)\rfloor`."""
        _check_convention(convention)
        if convention == "official":
            i, n = self.official_index(t, dt)
            sigmas = torch.exp(
                torch.linspace(
                    math.log(self.sigma_min),
                    math.log(self.sigma_max),
                    n,
                    dtype=t.dtype,
                    device=t.device,
                )
            )
            prev = torch.where(
                i == 0, torch.zeros_like(t), sigmas[(i - 1).clamp_min(0)]
            )
            return torch.zeros_like(x), torch.sqrt(sigmas[i] ** 2 - prev**2)
        dt = self._dt(dt)
        prev = torch.where(t - dt <= 0, torch.zeros_like(t), self.std(t - dt))
        return torch.zeros_like(x), torch.sqrt(self.std(t) ** 2 - prev**2)


class VPSDE(SDE):
    r"""Variance-preserving SDE:
    :math:`\mathrm d\mathbf x=-\tfrac12\beta(t)\mathbf x\,\mathrm dt+\sqrt{\beta(t)}\,\mathrm d\mathbf w`.

    With :math:`B(t)=\int_0^t\beta=\beta_{\min}t+\tfrac12 t^2(\beta_{\max}-\beta_{\min})`:
    :math:`a(t)=e^{-B(t)/2}`, :math:`\sigma(t)^2=1-e^{-B(t)}`, prior :math:`\mathcal N(0,I)`.
    ``std`` uses ``-expm1(-B)``: the naive ``1 - exp(-B)`` loses its precision in float32 as
    :math:`t\to0` (at :math:`t=10^{-6}` it is 9 % off) and cancels to exactly 0 at
    :math:`t=10^{-7}`, and a score divided by :math:`\sigma(t)=0` turns an ODE solver's error
    estimate into NaN ("underflow in dt").
    """

    def __init__(
        self, beta_min: float = 0.1, beta_max: float = 20.0, N: int = 1000
    ) -> None:
        super().__init__(N)
        self.beta_min, self.beta_max = _positive_range(
            "beta_min", beta_min, "beta_max", beta_max
        )

    def _params(self) -> dict:
        return {
            "beta_min": self.beta_min,
            "beta_max": self.beta_max,
            "N": self.N,
        }

    def beta(self, t: Tensor) -> Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def integrated_beta(self, t: Tensor) -> Tensor:
        r""":math:`B(t)=\int_0^t\beta(s)\,\mathrm ds`."""
        return self.beta_min * t + 0.5 * t**2 * (self.beta_max - self.beta_min)

    def sde(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        _check_batch(x, t)
        beta = self.beta(t)
        return -0.5 * bcast(beta, x) * x, torch.sqrt(beta)

    def mean_scale(self, t: Tensor) -> Tensor:
        return torch.exp(-0.5 * self.integrated_beta(t))

    def std(self, t: Tensor) -> Tensor:
        return torch.sqrt(-torch.expm1(-self.integrated_beta(t)))

    def prior_sampling(
        self, shape, generator=None, dtype=torch.float32, device=None
    ) -> Tensor:
        return torch.randn(tuple(shape), generator=generator, dtype=dtype).to(
            device
        )

    def prior_logp(self, z: Tensor) -> Tensor:
        d = z[0].numel()
        return -0.5 * d * math.log(2 * math.pi) - 0.5 * z.reshape(
            z.shape[0], -1
        ).pow(2).sum(-1)

    def discrete_beta(
        self, t: Tensor, dt: float | None = None, convention: str = "paper"
    ) -> Tensor:
        r"""The DDPM noise level :math:`\beta_i` of the step at ``t``: :math:`\beta(t)\Delta t`
        (``"paper"``), or the official table ``linspace(β_min/N, β_max/N, N)`` at the index
        :math:`\lfloor t(N-1)\rfloor`, that is :math:`\beta(t')/N` at the grid time :math:`t'\le t`
        (``"official"``)."""
        _check_convention(convention)
        if convention == "official":
            i, n = self.official_index(t, dt)
            betas = torch.linspace(
                self.beta_min / n,
                self.beta_max / n,
                n,
                dtype=t.dtype,
                device=t.device,
            )
            return betas[i]
        return self.beta(t) * self._dt(dt)

    def discretize(
        self,
        x: Tensor,
        t: Tensor,
        dt: float | None = None,
        convention: str = "paper",
    ) -> tuple[Tensor, Tensor]:
        r"""DDPM discretisation with :math:`\beta_i=\beta(t)\Delta t`:
        :math:`\mathbf f_i=(\sqrt{1-\beta_i}-1)\mathbf x`, :math:`G_i=\sqrt{\beta_i}` (needs :math:`\beta_i<1`;
        ``convention`` as in :meth:`VPSDE.discrete_beta`)."""
        beta_i = self.discrete_beta(t, dt, convention)
        if bool((beta_i >= 1).any()):
            raise ValueError(
                f"the DDPM discretisation needs beta(t)*dt < 1, got {float(beta_i.max()):.3g}: "
                f"use more steps (more than beta_max = {self.beta_max:g})"
            )
        return (bcast(torch.sqrt(1 - beta_i), x) - 1) * x, torch.sqrt(beta_i)

    def corrector_alpha(
        self, t: Tensor, dt: float | None = None, convention: str = "paper"
    ) -> Tensor:
        return 1 - self.discrete_beta(t, dt, convention)


class subVPSDE(VPSDE):
    r"""Sub-VP SDE: the VP drift with :math:`g(t)^2=\beta(t)\big(1-e^{-2B(t)}\big)`.

    Its kernel has :math:`a(t)=e^{-B(t)/2}` and :math:`\sigma(t)=1-e^{-B(t)}`, a variance below
    the VP one at every :math:`t` (the paper's choice for likelihoods).
    """

    def sde(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        drift, _ = super().sde(x, t)
        return drift, torch.sqrt(
            self.beta(t) * -torch.expm1(-2 * self.integrated_beta(t))
        )

    def std(self, t: Tensor) -> Tensor:
        return -torch.expm1(-self.integrated_beta(t))

    def discretize(
        self,
        x: Tensor,
        t: Tensor,
        dt: float | None = None,
        convention: str = "paper",
    ) -> tuple[Tensor, Tensor]:
        """Euler–Maruyama, as in the official code (both conventions)."""
        return SDE.discretize(self, x, t, dt, convention)


class ReverseSDE:
    r"""The reverse-time SDE
    :math:`\mathrm d\mathbf x=[\mathbf f-g^2\mathbf s]\mathrm dt
    +g\,\mathrm d\bar{\mathbf w}`,
    or with ``probability_flow`` the ODE
    :math:`\mathrm d\mathbf x/\mathrm dt=\mathbf f-\tfrac12 g^2\mathbf s`.

    ``sde(x, t)`` returns the drift (for the time running backwards from
    ``T`` to 0, to be used with a *negative* ``dt``) and the diffusion (zero
    for the ODE); ``discretize`` is the reverse of the forward SDE's
    discretisation (the *reverse-diffusion* predictor).
    """

    def __init__(
        self, forward: SDE, score_fn: ScoreFn, probability_flow: bool = False
    ) -> None:
        if not isinstance(forward, SDE):
            raise TypeError(
                "forward must be an SDE (VESDE, VPSDE, subVPSDE, "
                f"...), got {type(forward).__name__}"
            )
        if not callable(score_fn):
            raise TypeError(
                "score_fn must be callable as score_fn(x, t), "
                f"got {type(score_fn).__name__}"
            )
        self.forward = forward
        self.score_fn = score_fn
        self.probability_flow = bool(probability_flow)
        self.N, self.T = forward.N, forward.T

    @property
    def weight(self) -> float:
        """The weight of :math:`g^2\\mathbf s` in the drift: 1 for the SDE,
        1/2 for the probability-flow ODE."""
        return 0.5 if self.probability_flow else 1.0

    def sde(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        drift, diffusion = self.forward.sde(x, t)
        drift = (
            drift - bcast(diffusion**2, x) * self.score_fn(x, t) * self.weight
        )
        return drift, (
            torch.zeros_like(diffusion) if self.probability_flow else diffusion
        )

    def discretize(
        self,
        x: Tensor,
        t: Tensor,
        dt: float | None = None,
        convention: str = "paper",
    ) -> tuple[Tensor, Tensor]:
        f, G = self.forward.discretize(x, t, dt, convention)
        rev_f = f - bcast(G**2, x) * self.score_fn(x, t) * self.weight
        return rev_f, torch.zeros_like(G) if self.probability_flow else G


class TorchSDE(torch.nn.Module):
    """A forward :class:`SDE` in the interface of :func:`torchsde.sdeint`: ``f(t, y)`` and ``g(t, y)``.

    ``torchsde`` integrates states of shape ``(batch, state_size)``; give ``shape`` (the shape of
    one sample, e.g. ``(1, 8, 8)``) to simulate images, which are then flattened. The noise is
    diagonal and Itô, as for every SDE of this module.
    """

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, sde: SDE, shape: Sequence[int] | None = None) -> None:
        super().__init__()
        if not isinstance(sde, SDE):
            raise ValueError(f"expected an SDE, got {type(sde).__name__}")
        self.sde, self.shape = sde, None if shape is None else tuple(shape)

    def _unflat(self, y: Tensor) -> Tensor:
        return (
            y if self.shape is None else y.reshape((y.shape[0],) + self.shape)
        )

    def f(self, t: Tensor, y: Tensor) -> Tensor:
        drift, _ = self.sde.sde(self._unflat(y), t.expand(y.shape[0]).to(y))
        return drift.reshape(y.shape)

    def g(self, t: Tensor, y: Tensor) -> Tensor:
        _, diffusion = self.sde.sde(self._unflat(y), t.expand(y.shape[0]).to(y))
        return bcast(diffusion, y).expand_as(y)
