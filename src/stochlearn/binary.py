r"""Networks with binary weights trained in field space: the mean-field (Ising) posterior,
its KL divergence, and the Gaussian-field approximation of a pre-activation.

Weights :math:`w_i\in\{-1,+1\}` have no useful gradient, so one trains instead the fields
:math:`h_i` of a factorised distribution

.. math:: q_h(w)=\prod_i\frac{e^{h_iw_i}}{2\cosh h_i},\qquad
   m_i=\mathbb E[w_i]=\tanh h_i,\quad \mathrm{Var}[w_i]=1-m_i^2 .

For a wide layer the pre-activation :math:`u=\frac1{\sqrt N}\sum_iw_ix_i` is nearly Gaussian
(the **Gaussian-field approximation**), with mean :math:`\mu=\frac1{\sqrt N}\sum_im_ix_i` and
variance :math:`\sigma^2=\frac1N\sum_i(1-m_i^2)x_i^2`, so a perceptron's probability of the
label :math:`y=\pm1` is :math:`P(y\,u>0)=\Phi(y\mu/\sigma)`
(:func:`gaussian_field_loglik`). Continual learning by variational Bayes pulls the fields
towards those of the previous task through :math:`\mathrm{KL}(q_h\,\|\,q_{h'})`
(:func:`ising_kl`), whose gradient :math:`(h_i-h_i')(1-m_i^2)` makes confident weights rigid.
Introduced in {ref}`ch-statmech-continual`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._validate import feature_matrix, float_tensor

__all__ = ["MeanFieldBinaryMLP", "gaussian_field_loglik", "ising_kl"]


def _log_cosh(h: Tensor) -> Tensor:
    """log cosh h without overflow: |h| + log(1 + e^{-2|h|}) - log 2."""
    a = h.abs()
    return a + torch.nn.functional.softplus(-2 * a) - math.log(2)


def ising_kl(h: Tensor, h_prior: Tensor) -> Tensor:
    r""":math:`\mathrm{KL}(q_h\,\|\,q_{h'})` between two factorised :math:`\pm1`
    distributions, summed over the last axis:

    .. math:: \sum_i\big[(h_i-h_i')\tanh h_i-\log\cosh h_i+\log\cosh h_i'\big].

    Its gradient in :math:`h_i` is :math:`(h_i-h_i')(1-\tanh^2h_i)`. ``h`` and
    ``h_prior`` broadcast against each other.
    """
    h, hp = float_tensor(h, "h"), float_tensor(h_prior, "h_prior")
    if h.ndim < 1:
        raise ValueError("h must have at least one axis (the weights)")
    try:
        terms = (h - hp) * torch.tanh(h) - _log_cosh(h) + _log_cosh(hp)
    except RuntimeError as err:
        raise ValueError("h and h_prior must broadcast together") from err
    return terms.sum(-1)


def gaussian_field_loglik(h: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r"""The log-probability :math:`\log\Phi(y\mu/\sigma)` that a binary
    perceptron with fields ``h`` ``(N,)`` gives input ``x`` ``(P, N)`` the
    label ``y`` ``(P,)`` (:math:`\pm1`), under the Gaussian-field
    approximation: :math:`\mu=\frac1{\sqrt N}\sum_im_ix_i`,
    :math:`\sigma^2=\frac1N\sum_i(1-m_i^2)x_i^2`, :math:`m=\tanh h`.
    Returns ``(P,)``; computed with ``torch.special.log_ndtr`` so that it
    stays finite deep in the tail.
    """
    h, x, y = (float_tensor(t, n) for t, n in ((h, "h"), (x, "x"), (y, "y")))
    if h.ndim != 1 or x.ndim != 2 or x.shape[1] != h.shape[0]:
        raise ValueError("need h (N,) and x (P, N)")
    if y.shape != x.shape[:1]:
        raise ValueError("y must be (P,), one label +-1 per input")
    N = h.shape[0]
    m = torch.tanh(h)
    mu = x @ m / math.sqrt(N)
    var = (x**2) @ (1 - m**2) / N
    return torch.special.log_ndtr(y * mu / var.clamp_min(1e-12).sqrt())


class MeanFieldBinaryMLP(torch.nn.Module):
    r"""A multilayer network of binary weights, trained through their fields.

    Layer :math:`\ell` has fields :math:`\theta_\ell` ``(out, in)``; its weights
    are :math:`\pm1` with means :math:`m=\tanh\theta` and variances
    :math:`1-m^2`. In :meth:`forward` each pre-activation is drawn from its
    Gaussian-field approximation, :math:`z=\mu+\sigma\varepsilon` with
    :math:`\mu=a\,m^\top/\sqrt{n_{\mathrm{in}}}`,
    :math:`\sigma^2=a^2(1-m^2)^\top/n_{\mathrm{in}}` and
    :math:`\varepsilon\sim\mathcal N(0,1)` (the local reparameterisation of
    the authors' ``Bayesian-Permuated.py``), with ReLU between layers and
    logits at the end. :meth:`sign_forward` is the deterministic binary
    network :math:`w=\mathrm{sign}(\theta)` that one would deploy;
    :meth:`kl` is :func:`ising_kl` summed over all layers. Fields start at
    :math:`\mathcal N(0,1)`, as in the authors' code.
    """

    def __init__(self, sizes, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError("sizes must list at least two layer widths")
        if any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1
            for s in sizes
        ):
            raise ValueError(f"sizes must be positive integers, got {sizes!r}")
        self.sizes = list(sizes)
        self.fields = torch.nn.ParameterList(
            torch.nn.Parameter(torch.randn(b, a, generator=generator))
            for a, b in zip(sizes[:-1], sizes[1:])
        )

    def _check(self, x: Tensor) -> Tensor:
        return feature_matrix(x, self.sizes[0]).to(self.fields[0].dtype)

    def forward(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        a = self._check(x)
        for i, theta in enumerate(self.fields):
            m = torch.tanh(theta)
            n_in = theta.shape[1]
            mu = a @ m.T / math.sqrt(n_in)
            sd = ((a**2) @ (1 - m**2).T / n_in).clamp_min(1e-12).sqrt()
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
            a = mu + sd * eps
            if i < len(self.fields) - 1:
                a = torch.relu(a)
        return a

    @torch.no_grad()
    def sign_forward(self, x: Tensor) -> Tensor:
        """Logits of the binary network with weights sign(fields)."""
        a = self._check(x)
        for i, theta in enumerate(self.fields):
            a = a @ torch.sign(theta).T / math.sqrt(theta.shape[1])
            if i < len(self.fields) - 1:
                a = torch.relu(a)
        return a

    def kl(self, prior: list[Tensor] | None) -> Tensor:
        """KL to the fields ``prior`` (one tensor per layer; None: all zero,
        the uniform distribution over the binary weights)."""
        if prior is not None and len(prior) != len(self.fields):
            raise ValueError("prior must hold one field tensor per layer")
        return sum(
            ising_kl(
                t.flatten(),
                (torch.zeros_like(t) if prior is None else p).flatten(),
            )
            for t, p in zip(self.fields, prior or [None] * len(self.fields))
        )
