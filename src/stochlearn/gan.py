r"""Wasserstein distances between two samples: a Lipschitz critic, and the exact reference.

The 1-Wasserstein distance between distributions :math:`p` and :math:`q` has the
Kantorovich–Rubinstein dual form

.. math:: W_1(p,q)=\sup_{\lVert\phi\rVert_L\le1}\ \mathbb E_p[\phi(f)]-\mathbb E_q[\phi(f)],

a supremum over 1-Lipschitz functions. A neural *critic* :math:`\phi` (:class:`LipschitzCritic`)
trained to maximise the difference estimates it, the Lipschitz constraint kept softly by the
gradient penalty of WGAN-GP (Gulrajani et al. 2017), :math:`\lambda\,\mathbb E_{\hat f}
(\lVert\nabla\phi(\hat f)\rVert-1)^2` at random interpolates :math:`\hat f` of the two samples
(:func:`gradient_penalty`, :func:`critic_w1`). For two finite samples the distance is also an
optimal-transport problem that POT solves exactly (:func:`exact_w1`). Introduced in
{ref}`ch-functional-priors`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._validate import integer

__all__ = ["LipschitzCritic", "critic_w1", "exact_w1", "gradient_penalty"]


class LipschitzCritic(nn.Module):
    """The critic of the official code: ``dim → hidden → hidden → 1`` with
    softplus activations, weights initialised Xavier-normal and biases
    standard normal (:meth:`reset`)."""

    def __init__(self, dim: int, hidden: int = 200) -> None:
        dim, hidden = integer(dim, "dim"), integer(hidden, "hidden")
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.Softplus(),
            nn.Linear(hidden, hidden),
            nn.Softplus(),
            nn.Linear(hidden, 1),
        )
        self.reset()

    def reset(self, generator: torch.Generator | None = None) -> None:
        for m in self.net:
            if isinstance(m, nn.Linear):
                fan_in, fan_out = m.weight.shape[1], m.weight.shape[0]
                std = (2.0 / (fan_in + fan_out)) ** 0.5
                with torch.no_grad():
                    m.weight.copy_(
                        std * torch.randn(m.weight.shape, generator=generator)
                    )
                    m.bias.copy_(torch.randn(m.bias.shape, generator=generator))

    def forward(self, f: Tensor) -> Tensor:
        return self.net(f)[..., 0]


def _check_pair(a: Tensor, b: Tensor) -> None:
    for name, t in (("a", a), ("b", b)):
        if (
            not isinstance(t, Tensor)
            or t.ndim != 2
            or not t.is_floating_point()
        ):
            raise ValueError(f"{name} must be a float tensor of shape (n, dim)")
    if a.shape[1] != b.shape[1] or a.shape[0] < 1 or b.shape[0] < 1:
        raise ValueError(
            "a and b must be non-empty samples of the same dimension"
        )


def gradient_penalty(
    critic: nn.Module,
    a: Tensor,
    b: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    r""":math:`\mathbb E(\lVert\nabla\phi(\hat f)\rVert_2-1)^2` at
    :math:`\hat f=u\,a+(1-u)\,b`, :math:`u\sim U(0,1)` per pair of rows
    (``a`` and ``b``: ``(n, dim)`` with the same ``n``), differentiable in
    the critic's parameters."""
    _check_pair(a, b)
    if a.shape != b.shape:
        raise ValueError("a and b must have the same shape")
    u = torch.rand((a.shape[0], 1), generator=generator, dtype=a.dtype)
    x = (u * a.detach() + (1 - u) * b.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()


def critic_w1(
    a: Tensor,
    b: Tensor,
    steps: int = 200,
    lr: float = 0.01,
    penalty: float = 10.0,
    critic: LipschitzCritic | None = None,
    generator: torch.Generator | None = None,
) -> tuple[float, LipschitzCritic]:
    r"""The dual estimate :math:`\mathbb E_a\phi-\mathbb E_b\phi` after
    ``steps`` Adagrad steps (learning rate ``lr``, as the official code) on
    :math:`-(\mathbb E_a\phi-\mathbb E_b\phi)+\lambda\cdot` penalty, with a
    fresh critic unless one is given. Returns the estimate on the full
    samples and the critic."""
    _check_pair(a, b)
    steps = integer(steps, "steps")
    if not penalty >= 0 or not lr > 0:
        raise ValueError("need lr > 0 and penalty >= 0")
    critic = critic if critic is not None else LipschitzCritic(a.shape[1])
    opt = torch.optim.Adagrad(critic.parameters(), lr=lr)
    a, b = a.detach().float(), b.detach().float()
    n = min(a.shape[0], b.shape[0])
    for _ in range(steps):
        gap = critic(a).mean() - critic(b).mean()
        loss = -gap + penalty * gradient_penalty(
            critic, a[:n], b[:n], generator
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(critic(a).mean() - critic(b).mean()), critic


def exact_w1(a, b) -> float:
    r""":math:`W_1` between the empirical distributions of two samples
    (``(n, dim)`` and ``(m, dim)``, uniform weights), with the Euclidean cost,
    by exact optimal transport (POT's ``ot.emd2``)."""
    import numpy as np
    import ot

    from ._validate import finite_array

    a, b = (
        finite_array(
            t.detach().cpu().numpy() if isinstance(t, Tensor) else t, n
        )
        for t, n in ((a, "a"), (b, "b"))
    )
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError("a and b must be (n, dim) and (m, dim) arrays")
    cost = ot.dist(a, b, metric="euclidean")
    wa, wb = np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b))
    return float(ot.emd2(wa, wb, cost))
