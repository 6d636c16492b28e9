r"""Ensembles of independently trained networks, held in one tensor, and their rounded mean.

:class:`BatchedTwoLayerNet` stores :math:`M` two-layer ReLU networks
:math:`f_m(x)=W_2^{(m)}\,\mathrm{relu}(W_1^{(m)}x+b_1^{(m)})+b_2^{(m)}` as ``(M, ·, ·)`` tensors
and evaluates all of them with one batched product. Because the loss of member :math:`m` depends
on its own parameters only, gradient descent on the *sum* of the members' losses
(:func:`train_batched`) takes for every member exactly the step it would take alone: one
training run is :math:`M` independent runs. The ensemble prediction of a binary target is the
sign of the mean, :math:`\hat y=\mathbb 1[\frac1M\sum_mf_m(x)>0]` (:func:`round_ensemble`).
Introduced in {ref}`ch-permutation-learning`. :class:`BatchedMLP` holds :math:`M` deeper
networks with any activation the same way, for the chains of a sampler or the members of a deep
ensemble ({ref}`ch-sgmcmc-potentials`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from ._validate import integer
from .metrics import exact_match_accuracy
from .nn.models import ACTIVATIONS, mlp

__all__ = [
    "BatchedMLP",
    "BatchedTwoLayerNet",
    "cumulative_exact_match",
    "ensemble_complexity",
    "models_needed",
    "round_ensemble",
    "rounding_error",
    "train_batched",
]


class BatchedTwoLayerNet(nn.Module):
    r"""``M`` independent two-layer ReLU nets, initialised as the official ``NTKMLP``.

    Weights of a layer with fan-in :math:`n` are :math:`\mathcal N(0,\sigma_w^2/n)`, biases
    :math:`\mathcal N(0,\sigma_b^2)`; everything is trained. ``forward`` maps ``(n, d_in)`` (the
    same inputs for all members) or ``(M, n, d_in)`` to ``(M, n, d_out)``.
    """

    def __init__(
        self,
        M: int,
        d_in: int,
        width: int,
        d_out: int,
        sigma_w: float = 1.0,
        sigma_b: float = 0.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        sizes = {"M": M, "d_in": d_in, "width": width, "d_out": d_out}
        M, d_in, width, d_out = (integer(v, k) for k, v in sizes.items())
        if not (sigma_w > 0 and sigma_b >= 0):
            raise ValueError("need sigma_w > 0 and sigma_b >= 0")
        shapes = {"W1": (M, width, d_in), "b1": (M, width)}
        shapes |= {"W2": (M, d_out, width), "b2": (M, d_out)}
        for name, shape in shapes.items():
            setattr(self, name, nn.Parameter(torch.empty(shape, dtype=dtype)))
        self.M, self.d_in, self.width, self.d_out = M, d_in, width, d_out
        self.sigma_w, self.sigma_b = float(sigma_w), float(sigma_b)
        self.reset_parameters(generator)

    def reset_parameters(
        self, generator: torch.Generator | None = None
    ) -> None:
        r"""Draw all weights afresh: :math:`\mathcal N(0,\sigma_w^2/\text{fan-in})`, biases
        :math:`\mathcal N(0,\sigma_b^2)`."""
        stds = {
            self.W1: self.sigma_w / math.sqrt(self.d_in),
            self.b1: self.sigma_b,
            self.W2: self.sigma_w / math.sqrt(self.width),
            self.b2: self.sigma_b,
        }
        with torch.no_grad():
            for p, std in stds.items():
                p.copy_(
                    torch.randn(p.shape, generator=generator, dtype=p.dtype)
                    * std
                )

    def forward(self, X: Tensor) -> Tensor:
        if X.ndim == 2:
            X = X.expand(self.M, *X.shape)
        if X.ndim != 3 or X.shape[0] != self.M or X.shape[2] != self.d_in:
            raise ValueError(
                f"X must have shape (n, {self.d_in}) or ({self.M}, n, "
                f"{self.d_in}), got {tuple(X.shape)}"
            )
        H = torch.relu(X @ self.W1.transpose(1, 2) + self.b1[:, None])
        return H @ self.W2.transpose(1, 2) + self.b2[:, None]

    def member(self, m: int) -> nn.Sequential:
        """Member ``m`` as an ordinary ``nn.Sequential`` (a copy of its weights)."""
        if not 0 <= m < self.M:
            raise ValueError(f"m must lie in [0, {self.M}), got {m}")
        first = nn.Linear(self.d_in, self.width)
        second = nn.Linear(self.width, self.d_out)
        with torch.no_grad():
            for layer, W, b in (
                (first, self.W1, self.b1),
                (second, self.W2, self.b2),
            ):
                layer.to(W.dtype)
                layer.weight.copy_(W[m])
                layer.bias.copy_(b[m])
        return nn.Sequential(first, nn.ReLU(), second)


class BatchedMLP(nn.Module):
    r"""``M`` independent MLPs ``sizes[0] → … → sizes[-1]`` with ``act``
    between layers, each layer's weights held as one ``(M, out, in)`` tensor.

    Initialised as ``torch.nn.Linear`` (weights and biases
    :math:`U(-1/\sqrt{\text{fan-in}},1/\sqrt{\text{fan-in}})`), each member
    from its own draw. ``forward`` maps ``(n, d_in)`` (the same inputs for
    all members) or ``(M, n, d_in)`` to ``(M, n, d_out)``. Because member
    :math:`m`'s output depends on its own parameters only, the gradient of a
    sum of per-member losses is every member's own gradient: one optimiser
    step moves all members, as :math:`M` separate steps would.
    """

    def __init__(
        self,
        M: int,
        sizes,
        act: str = "silu",
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        M = integer(M, "M")
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError("sizes must list at least two layer widths")
        sizes = [integer(s, "every size") for s in sizes]
        if act not in ACTIVATIONS:
            raise ValueError(
                f"act must be one of {sorted(ACTIVATIONS)}, got {act!r}"
            )
        self.M, self.sizes, self.act = M, sizes, act
        self.f = ACTIVATIONS[act]()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1 / math.sqrt(a)
            W = (2 * torch.rand(M, b, a, generator=generator) - 1) * bound
            c = (2 * torch.rand(M, b, generator=generator) - 1) * bound
            self.weights.append(nn.Parameter(W.to(dtype)))
            self.biases.append(nn.Parameter(c.to(dtype)))

    def forward(self, X: Tensor) -> Tensor:
        d_in = self.sizes[0]
        if X.ndim == 2:
            X = X.expand(self.M, *X.shape)
        if X.ndim != 3 or X.shape[0] != self.M or X.shape[2] != d_in:
            raise ValueError(
                f"X must have shape (n, {d_in}) or ({self.M}, n, {d_in}), "
                f"got {tuple(X.shape)}"
            )
        H = X
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            H = H @ W.transpose(1, 2) + b[:, None]
            if i < len(self.weights) - 1:
                H = self.f(H)
        return H

    def member(self, m: int) -> nn.Sequential:
        """Member ``m`` as an ordinary ``nn.Sequential`` (a copy of its
        weights)."""
        if not 0 <= m < self.M:
            raise ValueError(f"m must lie in [0, {self.M}), got {m}")
        net = mlp(self.sizes, self.act).to(self.weights[0].dtype)
        linears = [layer for layer in net if isinstance(layer, nn.Linear)]
        with torch.no_grad():
            for layer, W, b in zip(linears, self.weights, self.biases):
                layer.weight.copy_(W[m])
                layer.bias.copy_(b[m])
        return net


def train_batched(
    net: BatchedTwoLayerNet, X: Tensor, Y: Tensor, steps: int, lr: float
) -> np.ndarray:
    r"""Full-batch gradient descent on :math:`\sum_m\mathrm{MSE}_m`.

    :math:`\mathrm{MSE}_m` is the mean over the :math:`n` examples and
    the outputs, as ``torch.nn.functional.mse_loss`` in the official
    ``train_model``. Returns each member's final MSE.
    """
    steps = integer(steps, "steps")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        per_member = ((net(X) - Y) ** 2).mean(dim=(1, 2))
        per_member.sum().backward()
        opt.step()
    with torch.no_grad():
        return ((net(X) - Y) ** 2).mean(dim=(1, 2)).cpu().numpy()


def round_ensemble(preds) -> np.ndarray:
    r""":math:`\mathbb 1[\frac1M\sum_m f_m>0]` for member predictions ``(M, n, k)``: ``(n, k)``."""
    preds = np.asarray(preds, dtype=np.float64)
    if preds.ndim != 3:
        raise ValueError("preds must have shape (M, n, k)")
    return (preds.mean(0) > 0).astype(np.float64)


def cumulative_exact_match(preds, targets) -> np.ndarray:
    r"""Exact-match accuracy of the rounded mean of the first m members.

    ``preds`` is ``(M, n, k)``, ``targets`` binary ``(n, k)``; an input
    counts as right only when all :math:`k` rounded coordinates are.
    Returns ``(M,)``: one accuracy for each :math:`m=1..M`.
    """
    preds = np.asarray(preds, dtype=np.float64)
    targets = np.asarray(targets)
    if preds.ndim != 3 or targets.shape != preds.shape[1:]:
        raise ValueError("need preds (M, n, k) and targets (n, k)")
    sums = np.cumsum(preds, axis=0)  # sign of the sum = sign of the mean
    return exact_match_accuracy(sums > 0, targets)


def models_needed(
    cum_acc, level: float = 1.0, stay: bool = False
) -> int | None:
    """The ensemble size at which the accuracy first reaches ``level`` (as the official code).

    With ``stay=True``, the smallest size after which it never drops below ``level`` again.
    ``None`` when no size qualifies: the count is then larger than ``len(cum_acc)`` (censored),
    not unknown.
    """
    acc = np.asarray(cum_acc, dtype=np.float64)
    if acc.ndim != 1 or len(acc) == 0:
        raise ValueError("cum_acc must be a non-empty 1-d array")
    ok = acc >= level
    if not stay:
        return int(np.argmax(ok)) + 1 if ok.any() else None
    below = np.flatnonzero(~ok)
    if len(below) == 0:
        return 1
    last = int(below[-1])
    return None if last == len(acc) - 1 else last + 2


_ROUNDOFF = 1e-9


def rounding_error(mean, var, targets, M) -> np.ndarray:
    r"""Probability that rounding the mean of M Gaussian members is wrong.

    Member outputs at an input are :math:`\mathcal N(\mu_j,\sigma^2)`,
    independent over the coordinates :math:`j` (as in the Gaussian-process
    limit), so their mean is :math:`\mathcal N(\mu_j,\sigma^2/M)` and the
    input is right with probability
    :math:`\prod_j\Phi(s_j\mu_j\sqrt M/\sigma)`, :math:`s_j=\pm1` for a
    target 1 or 0. ``mean``, ``targets``: ``(n, k)``; ``var``: ``(n,)``;
    returns ``(n,)``. An input with zero variance (a training input,
    fitted exactly) is right when its mean rounds right; means below
    1e-9 and standard deviations below 1e-6 count as round-off zeros.
    """
    from scipy.special import log_ndtr

    mean = np.asarray(mean, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    sign = 2.0 * (np.asarray(targets) > 0.5) - 1.0
    if (
        mean.ndim != 2
        or sign.shape != mean.shape
        or var.shape != mean.shape[:1]
    ):
        raise ValueError("need mean and targets (n, k) and var (n,)")
    if not M > 0:
        raise ValueError(f"M must be positive, got {M!r}")
    sd = np.sqrt(np.clip(var, 0.0, None))[:, None]
    margin = sign * mean
    exact = np.broadcast_to(sd <= 1e3 * _ROUNDOFF, margin.shape)
    # without noise: right if the margin is positive, or 0 on a 0 target
    zero = np.abs(margin) <= _ROUNDOFF
    right = (margin > 0) & ~zero | zero & (sign < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = margin * np.sqrt(M) / np.where(exact, 1.0, sd)
    log_right = np.where(exact, np.where(right, 0.0, -np.inf), log_ndtr(z))
    return -np.expm1(log_right.sum(1))


def ensemble_complexity(
    mean, var, targets, delta: float, counts=None, max_models: int = 10**9
) -> int | float:
    r"""Smallest :math:`M` with :math:`\sum_i c_i\,P(\text{input } i\text{ wrong})\le\delta`.

    With one input this is the exact number of Gaussian members that makes that input right
    with probability :math:`1-\delta`; with several it is the union bound over them, each
    counted ``counts[i]`` times (inputs that share their error probability by symmetry), an
    upper bound on the number that makes *all* of them right. Bisection on :math:`M`;
    ``math.inf`` when more than ``max_models`` are needed (a mean of the wrong sign).
    """
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    c = (
        np.ones(len(mean))
        if counts is None
        else np.asarray(counts, dtype=np.float64)
    )

    def failing(M: int) -> float:
        return float(c @ rounding_error(mean, var, targets, M))

    hi = 1
    while failing(hi) > delta:
        hi *= 2
        if hi > max_models:  # e.g. a margin of the wrong sign
            return math.inf
    lo = hi // 2  # failing(lo) > delta unless hi == 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if failing(mid) <= delta else (mid, hi)
    return hi
