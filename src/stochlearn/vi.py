r"""Variational inference: the Kullback–Leibler divergence between Gaussians.

For :math:`q=\mathcal N(m_q,\Sigma_q)` and :math:`p=\mathcal N(m_p,\Sigma_p)` on
:math:`\mathbb R^n`,

.. math::
   D_{\mathrm{KL}}(q\,\|\,p)=\tfrac12\Big[\operatorname{tr}(\Sigma_p^{-1}\Sigma_q)-n
   +(m_p-m_q)^\top\Sigma_p^{-1}(m_p-m_q)+\log\det\Sigma_p-\log\det\Sigma_q\Big],

computed from Cholesky factors (:func:`gaussian_kl`), differentiable in both arguments.
Introduced in {ref}`ch-deep-kernel-machines`, where it keeps each layer's Gram matrix close to
the kernel of the layer below.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["gaussian_kl"]


def _chol(A: Tensor, name: str) -> Tensor:
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info != 0).any()):
        raise ValueError(f"{name} is not positive definite")
    return L


def gaussian_kl(
    cov_q: Tensor,
    cov_p: Tensor,
    mean_q: Tensor | None = None,
    mean_p: Tensor | None = None,
    chol_q: Tensor | None = None,
) -> Tensor:
    r""":math:`D_{\mathrm{KL}}(q\,\|\,p)` of two Gaussians; means 0 if omitted.

    :math:`q=\mathcal N(m_q,\Sigma_q)`, :math:`p=\mathcal N(m_p,\Sigma_p)`;
    ``cov_q`` and ``cov_p`` are ``(n, n)`` and positive definite. Pass
    ``chol_q`` (a lower Cholesky factor of ``cov_q``) when you have it,
    to skip one factorisation.
    """
    if not all(isinstance(a, Tensor) for a in (cov_q, cov_p)):
        raise ValueError("cov_q and cov_p must be torch tensors")
    if (
        cov_q.ndim != 2
        or cov_q.shape != cov_p.shape
        or cov_q.shape[0] != cov_q.shape[1]
    ):
        raise ValueError(
            "cov_q and cov_p must be square matrices of the same shape"
        )
    n = cov_q.shape[0]
    Lp = _chol(cov_p, "cov_p")
    Lq = _chol(cov_q, "cov_q") if chol_q is None else chol_q
    # tr(Σp⁻¹ Σq) = ‖Lp⁻¹ Lq‖²_F
    trace = torch.linalg.solve_triangular(Lp, Lq, upper=False).square().sum()
    logdet_p = 2 * torch.log(torch.diagonal(Lp)).sum()
    logdet_q = 2 * torch.log(torch.diagonal(Lq).abs()).sum()
    maha = cov_q.new_zeros(())
    if mean_q is not None or mean_p is not None:
        zero = cov_q.new_zeros(n)
        d = (zero if mean_p is None else mean_p) - (
            zero if mean_q is None else mean_q
        )
        maha = (
            torch.linalg.solve_triangular(Lp, d[:, None], upper=False)
            .square()
            .sum()
        )
    return 0.5 * (trace - n + maha + logdet_p - logdet_q)
