r"""diffGrad (Dubey et al., 2019): Adam with a friction coefficient from the change of the gradient.

With Adam's moments :math:`m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t`, :math:`v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2`
and their bias corrections :math:`\hat m_t=m_t/(1-\beta_1^t)`, :math:`\hat v_t=v_t/(1-\beta_2^t)`,
diffGrad (eqs. 17-20 of the paper) multiplies each coordinate's step by the *diffGrad friction
coefficient* (DFC)

.. math::

    \xi_{t,i} = \frac{1}{1+e^{-|g_{t-1,i}-g_{t,i}|}} \in [0.5, 1), \qquad
    \theta_{t+1,i} = \theta_{t,i} - \alpha\,\xi_{t,i}\,\frac{\hat m_{t,i}}{\sqrt{\hat v_{t,i}}+\epsilon},

with :math:`g_0 = 0`. Introduced in {ref}`ch-diffgrad`.

**Conventions.** The paper adds :math:`\epsilon` to :math:`\sqrt{\hat v_t}`, as written above
(``convention="paper"``, the default). The official code (``diffGrad_v2.py``) adds it to the
uncorrected :math:`\sqrt{v_t}` and folds both bias corrections into the step size,
:math:`\alpha\sqrt{1-\beta_2^t}/(1-\beta_1^t)`, which is the same update with
:math:`\epsilon/\sqrt{1-\beta_2^t}` in place of :math:`\epsilon` (``convention="official"``). The
two agree exactly when :math:`\epsilon=0`; ``tests/test_official_fixtures.py`` checks both against numbers
from the official code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor

__all__ = ["DiffGrad", "diffgrad_friction"]


def diffgrad_friction(g_prev: Tensor, g: Tensor) -> Tensor:
    r"""Elementwise diffGrad friction :math:`\xi = 1/(1+e^{-|g_{t-1}-g_t|})`.

    It lies in :math:`[0.5, 1)`: exactly 0.5 where the gradient did not
    change, close to 1 where it changed by much more than 1. It is symmetric
    in its arguments and depends on the *absolute* size of the change, so it
    is not invariant to rescaling the loss.
    """
    if not isinstance(g_prev, Tensor) or not isinstance(g, Tensor):
        raise ValueError("diffgrad_friction expects two tensors")
    if g_prev.shape != g.shape:
        raise ValueError(
            f"gradient shapes differ: {tuple(g_prev.shape)} vs {tuple(g.shape)}"
        )
    if not (g_prev.is_floating_point() and g.is_floating_point()):
        raise ValueError(
            "gradients must be floating-point tensors, "
            f"got {g_prev.dtype} and {g.dtype}"
        )
    return torch.sigmoid((g_prev - g).abs())


class DiffGrad(torch.optim.Optimizer):
    r"""Adam with per-parameter friction :math:`\xi=\mathrm{sigmoid}(|g_{t-1}-g_t|)` (Dubey et al. 2019).

    Parameters are those of :class:`torch.optim.Adam`, plus ``convention``: ``"paper"`` (ε added to
    :math:`\sqrt{\hat v_t}`, eq. 20) or ``"official"`` (ε added to :math:`\sqrt{v_t}`, as in the
    official ``diffGrad_v2.py``). ``weight_decay`` is an L2 penalty added to
    the gradient before the moments, as in the official code; the previous gradient used by the
    friction is this penalised gradient. The state of each parameter holds ``step``, ``exp_avg``
    (:math:`m_t`), ``exp_avg_sq`` (:math:`v_t`), ``previous_grad`` (:math:`g_{t}`, a *copy*, so
    that in-place zeroing of ``.grad`` cannot alias it: the bug of the authors' first release) and
    ``friction`` (the last :math:`\xi`, for inspection).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        convention: str = "paper",
    ) -> None:
        if not (
            isinstance(lr, (int, float)) and lr >= 0.0 and math.isfinite(lr)
        ):
            raise ValueError(
                f"invalid learning rate {lr!r}: expected a finite number >= 0"
            )
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(
                f"betas must be a pair (beta1, beta2), got {betas!r}"
            )
        for i, b in enumerate(betas):
            if not (isinstance(b, (int, float)) and 0.0 <= b < 1.0):
                raise ValueError(
                    f"invalid beta{i + 1} {b!r}: expected 0 <= beta < 1"
                )
        if not (isinstance(eps, (int, float)) and eps >= 0.0):
            raise ValueError(f"invalid eps {eps!r}: expected a number >= 0")
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0.0):
            raise ValueError(
                f"invalid weight_decay {weight_decay!r}: expected a number >= 0"
            )
        if convention not in ("paper", "official"):
            raise ValueError(
                f"convention must be 'paper' (ε on √v̂, eq. 20) or 'official' (ε on √v, "
                f"as in the official diffGrad_v2.py), got {convention!r}"
            )
        if isinstance(params, Tensor) or not isinstance(params, Iterable):
            raise ValueError(
                "params must be an iterable of tensors or of parameter-group dicts, "
                f"such as model.parameters(); got {type(params).__name__}"
            )
        params = list(params)
        if not params or not all(isinstance(p, (Tensor, dict)) for p in params):
            raise ValueError(
                "params must be a non-empty iterable of tensors or of parameter-group dicts"
            )
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            convention=convention,
        )
        super().__init__(params, defaults)

    def friction(
        self, previous_grad: Tensor, grad: Tensor, denom: Tensor
    ) -> Tensor:
        r"""The friction :math:`\xi_t` applied to the step; variants of the DFC override this one method.

        ``denom`` is :math:`\sqrt{\hat v_t}+\epsilon`, unused by the paper's DFC but available to
        scale-aware variants.
        """
        return diffgrad_friction(previous_grad, grad)

    def remember(self, grad: Tensor) -> Tensor:
        """What is kept as :math:`g_{t-1}` for the next step: a copy, never an alias of ``p.grad``."""
        return grad.clone()

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One diffGrad step for every parameter (eqs. 17-20 of the paper)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(
                        "DiffGrad does not support sparse gradients"
                    )
                grad = p.grad
                # L2 penalty, added before the moments
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    state["previous_grad"] = torch.zeros_like(p)  # g_0 = 0
                m, v = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                t = state["step"]

                m.mul_(beta1).add_(grad, alpha=1 - beta1)  # m_t
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v_t
                bias1, bias2 = 1 - beta1**t, 1 - beta2**t
                eps = group["eps"]
                # official: ε on √v_t, i.e. ε/√(1 − β2^t) on √v̂_t
                if group.get("convention", "paper") == "official":
                    eps = eps / math.sqrt(bias2)
                denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)  # √v̂_t + ε

                xi = self.friction(state["previous_grad"], grad, denom)  # ξ_t
                state["previous_grad"] = self.remember(
                    grad
                )  # a copy, never p.grad
                state["friction"] = xi

                # θ ← θ − α ξ_t m̂_t / (√v̂_t + ε), with m̂_t = m_t / (1 − β1^t)
                p.addcdiv_(m * xi, denom, value=-group["lr"] / bias1)
        return loss
