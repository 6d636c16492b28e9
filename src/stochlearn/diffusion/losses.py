r"""Continuous-time denoising score matching (Song et al., 2021, eq. 7).

.. math::

    \mathcal L(\theta)=\mathbb E_{t\sim\mathcal U(\epsilon,T)}\,\lambda(t)\,
    \mathbb E_{\mathbf x_0}\mathbb E_{\mathbf x_t\mid\mathbf x_0}
    \big\|\mathbf s_\theta(\mathbf x_t,t)-\nabla_{\mathbf x_t}\log p_{0t}(\mathbf x_t\mid\mathbf x_0)\big\|^2 .

With the Gaussian kernel :math:`\mathbf x_t=a(t)\mathbf x_0+\sigma_t\mathbf z`, the target is
:math:`\nabla\log p_{0t}=-\mathbf z/\sigma_t`; the paper's weighting :math:`\lambda(t)=\sigma_t^2`
gives :math:`\|\sigma_t\mathbf s_\theta+\mathbf z\|^2`, and the likelihood weighting
:math:`\lambda(t)=g(t)^2` (Song et al., 2021b) gives :math:`g^2\|\mathbf s_\theta+\mathbf z/\sigma_t\|^2`.
Like the official ``get_sde_loss_fn(reduce_mean=True)``, the squared error is averaged over the
data dimensions. Introduced in {ref}`ch-score-sde`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import _check_batch_x, _check_callable, _check_sde, _check_tensor
from .sde import SDE, ScoreFn, bcast

__all__ = ["dsm_loss"]


def dsm_loss(
    score_fn: ScoreFn,
    sde: SDE,
    x0: Tensor,
    eps: float = 1e-5,
    weighting: str = "sigma2",
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Denoising score-matching loss, :math:`\mathrm{mean}\,
    \|\sigma_t\mathbf s_\theta(\mathbf x_t,t)+\mathbf z\|^2`.

    ``t`` defaults to :math:`\mathcal U(\epsilon, T)` draws (one per sample,
    from ``generator``); ``weighting`` is ``'sigma2'`` (the paper's) or
    ``'likelihood'``; ``reduction`` ``'mean'`` (a scalar) or ``'none'`` (one
    loss per sample).
    """
    _check_callable(score_fn, "score_fn")
    _check_sde(sde)
    if not isinstance(x0, Tensor) or x0.dim() < 2:
        raise ValueError(
            "x0 must be a batch tensor of shape (B, ...) "
            "with at least 2 dimensions"
        )
    _check_batch_x(x0, "x0")
    if (
        isinstance(eps, bool)
        or not isinstance(eps, (int, float))
        or not 0 <= eps < sde.T
    ):
        raise ValueError(f"eps must be in [0, T={sde.T}), got {eps!r}")
    if weighting not in ("sigma2", "likelihood"):
        raise ValueError(
            f"unknown weighting {weighting!r}: "
            "expected 'sigma2' or 'likelihood'"
        )
    if reduction not in ("mean", "none"):
        raise ValueError(
            f"unknown reduction {reduction!r}: expected 'mean' or 'none'"
        )
    if t is None:
        t = eps + (sde.T - eps) * torch.rand(
            x0.shape[0], generator=generator, dtype=x0.dtype
        ).to(x0.device)
    elif not isinstance(t, Tensor) or t.shape != x0.shape[:1]:
        _check_tensor(t, "t", floating=True)
        raise ValueError(
            "t must have shape (batch,) = "
            f"{tuple(x0.shape[:1])}, got {tuple(t.shape)}"
        )
    xt, z, std = sde.perturb(x0, t, generator)
    score = score_fn(xt, t)
    if weighting == "sigma2":
        err = bcast(std, score) * score + z
        losses = err.pow(2).reshape(x0.shape[0], -1).mean(-1)
    else:
        g2 = sde.sde(torch.zeros_like(x0), t)[1] ** 2
        losses = (score + z / bcast(std, z)).pow(2).reshape(
            x0.shape[0], -1
        ).mean(-1) * g2
    return losses.mean() if reduction == "mean" else losses
