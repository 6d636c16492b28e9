r"""Ghost Batch Normalization (Hoffer, Hubara and Soudry, 2017).

A large batch :math:`B_L` is cut into "ghost" batches :math:`G` of :math:`|B_S|` rows, and every
row is normalised with the statistics of its own ghost batch:

.. math::

    \hat x_i = \frac{x_i-\mu_{G(i)}}{\sqrt{\sigma^2_{G(i)}+\epsilon}}, \qquad
    \mu_G = \frac{1}{|B_S|}\sum_{j\in G} x_j, \qquad
    \sigma^2_G = \frac{1}{|B_S|}\sum_{j\in G}(x_j-\mu_G)^2,

followed by BatchNorm's affine map :math:`\gamma\hat x_i+\beta`. Statistics are per channel (per
feature for 1-d inputs, over the batch and spatial positions for images). The running averages
used at evaluation are updated once per ghost batch, in order, exactly as if the ghost batches had
been fed one after the other (the official code forwards the chunks separately), so in eval mode a
ghost layer is an ordinary BatchNorm. Introduced in {ref}`ch-ghost-batchnorm`.

**Conventions.** The paper defines ghost batches by their size :math:`|B_S|`: we cut consecutive
chunks of ``ghost_batch_size`` rows, the last one smaller (``convention="paper"``, the default).
The official code (``main_gbn.py``) fixes their *number* instead, ``x.chunk(batch_size //
mini_batch_size)``, so 100 rows with ghost batches of 32 become ``[34, 34, 32]`` rather than
``[32, 32, 32, 4]``, and it keeps that number for the short last batch of an epoch
(``convention="official"``, with ``num_chunks`` the official count; by default
``n // ghost_batch_size`` of the batch at hand). The two agree whenever the batch is a multiple
of the ghost size. ``tests/test_official_fixtures.py`` checks both against numbers from the official code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "GhostBatchNorm1d",
    "GhostBatchNorm2d",
    "ghost_batch_norm",
    "ghost_sizes",
    "replace_bn_with_ghost",
]


def _check_ghost_size(ghost_batch_size: Any) -> int:
    if (
        isinstance(ghost_batch_size, bool)
        or not isinstance(ghost_batch_size, int)
        or ghost_batch_size < 1
    ):
        raise ValueError(
            f"ghost_batch_size must be a positive integer, got {ghost_batch_size!r}"
        )
    return ghost_batch_size


CONVENTIONS = ("paper", "official")


def _check_convention(convention: Any, num_chunks: Any) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be 'paper' (chunks of ghost_batch_size rows) or 'official' "
            f"(a fixed number of chunks, as the official main_gbn.py), got {convention!r}"
        )
    if num_chunks is not None:
        if (
            isinstance(num_chunks, bool)
            or not isinstance(num_chunks, int)
            or num_chunks < 1
        ):
            raise ValueError(
                f"num_chunks must be None or a positive integer, got {num_chunks!r}"
            )
        if convention != "official":
            raise ValueError(
                "num_chunks fixes the number of ghost batches of the official convention: "
                "pass convention='official' with it"
            )


def ghost_sizes(
    n: int,
    ghost_batch_size: int,
    values_per_row: int = 1,
    convention: str = "paper",
    num_chunks: int | None = None,
) -> list[int]:
    r"""Sizes of the ghost batches that :func:`ghost_batch_norm` cuts ``n`` rows into.

    ``convention="paper"``: consecutive chunks of ``ghost_batch_size`` rows, the last one smaller
    when ``n`` is not a multiple (as ``x.split(ghost_batch_size)`` does). ``"official"``: what
    ``x.chunk(num_chunks)`` gives (chunks of :math:`\lceil n/k\rceil` rows, the last smaller, at
    most :math:`k` of them), with :math:`k` = ``num_chunks`` or, by default,
    ``max(1, n // ghost_batch_size)``. A last chunk holding a single value per channel (one row
    of a 1-d input) cannot be normalised, so it joins the chunk before it.
    """
    g = _check_ghost_size(ghost_batch_size)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    _check_convention(convention, num_chunks)
    if convention == "official":
        k = num_chunks if num_chunks is not None else max(1, n // g)
        g = -(-n // k)  # torch.chunk: ⌈n/k⌉ rows per chunk
    sizes = [g] * (n // g) + ([n % g] if n % g else [])
    if len(sizes) > 1 and sizes[-1] * values_per_row == 1:
        last = sizes.pop()
        sizes[-1] += last
    return sizes


def _normalise_chunks(xc: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """Normalise ``xc`` of shape (K, m, C, *S) over each chunk's rows and positions.

    Returns the normalised rows ``(K·m, C, *S)`` and the (detached) means and biased
    variances of every chunk and channel, each of shape ``(K, C)``.
    """
    dims = [1, *range(3, xc.dim())]
    mu = xc.mean(dims, keepdim=True)  # μ_G, one per ghost batch and channel
    centred = xc - mu
    var = centred.square().mean(
        dims, keepdim=True
    )  # σ²_G (biased, as in BatchNorm)
    x_hat = centred * torch.rsqrt(var + eps)  # (x − μ_G) / √(σ²_G + ε)
    k, c = xc.shape[0], xc.shape[2]
    return (
        x_hat.flatten(0, 1),
        mu.reshape(k, c).detach(),
        var.reshape(k, c).detach(),
    )


def ghost_batch_norm(
    x: Tensor,
    ghost_batch_size: int,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: Tensor | None = None,
    convention: str = "paper",
    num_chunks: int | None = None,
) -> Tensor:
    r"""Training-mode Ghost BatchNorm of ``x``, shape ``(N, C, *S)``.

    Each ghost batch of ``ghost_batch_size`` rows is normalised with its own
    statistics. The result equals ``torch.cat([F.batch_norm(c, running_mean,
    running_var, weight, bias, True, momentum, eps) for c in chunks])``,
    running buffers included (updated in place, once per ghost batch), but
    all full ghost batches are normalised in one vectorised pass.
    ``momentum=None`` gives BatchNorm's cumulative average. ``convention``
    and ``num_chunks`` choose how the batch is cut (:func:`ghost_sizes`).
    """
    if not isinstance(x, Tensor) or x.dim() < 2 or 0 in x.shape:
        raise ValueError(
            "x must be a non-empty tensor of shape (N, C, ...), "
            f"got {_shape(x)}"
        )
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {x.dtype}")
    per_row = x[0, 0].numel()  # values per channel in one row (1, or H·W)
    # 1. cut the batch into ghost batches of |B_S| rows (the last may differ)
    sizes = ghost_sizes(
        x.shape[0], ghost_batch_size, per_row, convention, num_chunks
    )
    if sizes[0] * per_row < 2:
        raise ValueError(
            "each ghost batch needs more than one value per "
            "channel: use a larger ghost_batch_size"
        )
    g, k = sizes[0], sizes.count(sizes[0])
    chunks = [x[: k * g].reshape(k, g, *x.shape[1:])]  # (K, |B_S|, C, *S)
    if k < len(sizes):  # the last ghost batch, of another size
        chunks.append(x[k * g :].unsqueeze(0))
    # 2. normalise every ghost batch with its own mean and variance
    normed = [_normalise_chunks(c, eps) for c in chunks]
    out = torch.cat([x_hat for x_hat, _, _ in normed])
    # 3. BatchNorm's affine map γ·x̂ + β
    shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    # 4. running statistics: one BatchNorm update per ghost batch, in order
    if running_mean is not None and running_var is not None:
        mu = torch.cat([m for _, m, _ in normed])
        n_g = per_row * torch.tensor(sizes, dtype=x.dtype, device=x.device)
        var = torch.cat([v for _, _, v in normed])
        var = var * (n_g / (n_g - 1)).unsqueeze(1)  # unbiased, as BatchNorm
        _update_running(running_mean, mu, momentum, num_batches_tracked)
        _update_running(running_var, var, momentum, num_batches_tracked)
    if num_batches_tracked is not None:
        num_batches_tracked.add_(len(sizes))
    return out


def _shape(x: Any) -> Any:
    return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__


@torch.no_grad()
def _update_running(
    buf: Tensor, stats: Tensor, momentum: float | None, tracked: Tensor | None
) -> None:
    """Apply ``buf ← (1−m)·buf + m·s_j`` for every ghost batch j in order, in closed form."""
    k = stats.shape[0]
    stats = stats.to(buf.dtype)
    if (
        momentum is None
    ):  # cumulative average over every ghost batch seen so far
        seen = float(tracked) if tracked is not None else 0.0
        buf.mul_(seen / (seen + k)).add_(stats.sum(0) / (seen + k))
        return
    m = float(momentum)
    decay = (1 - m) ** torch.arange(
        k - 1, -1, -1, dtype=buf.dtype, device=buf.device
    )
    buf.mul_((1 - m) ** k).add_(m * (decay.unsqueeze(1) * stats).sum(0))


class _GhostMixin:
    """Shared constructor and forward of the 1-d and 2-d ghost layers."""

    ghost_batch_size: int

    def __init__(
        self,
        num_features: int,
        ghost_batch_size: int = 32,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        convention: str = "paper",
        num_chunks: int | None = None,
    ) -> None:
        _check_bn_args(num_features, eps, momentum)
        _check_convention(convention, num_chunks)
        super().__init__(
            num_features,
            eps,
            momentum,
            affine,
            track_running_stats,
            device,
            dtype,
        )
        self.ghost_batch_size = _check_ghost_size(ghost_batch_size)
        self.convention, self.num_chunks = convention, num_chunks

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        one = (
            len(
                ghost_sizes(
                    x.shape[0],
                    self.ghost_batch_size,
                    1,
                    self.convention,
                    self.num_chunks,
                )
            )
            == 1
        )
        if not self.training or one:
            return super().forward(
                x
            )  # eval mode, or one ghost batch: plain BatchNorm
        tracking = self.track_running_stats and self.running_mean is not None
        return ghost_batch_norm(
            x,
            self.ghost_batch_size,
            self.running_mean if tracking else None,
            self.running_var if tracking else None,
            self.weight,
            self.bias,
            self.momentum,
            self.eps,
            self.num_batches_tracked if tracking else None,
            self.convention,
            self.num_chunks,
        )

    def extra_repr(self) -> str:
        official = (
            f", convention='official', num_chunks={self.num_chunks}"
            if self.convention == "official"
            else ""
        )
        return f"{super().extra_repr()}, ghost_batch_size={self.ghost_batch_size}{official}"


class GhostBatchNorm1d(_GhostMixin, nn.BatchNorm1d):
    """BatchNorm whose training statistics are computed per ghost batch of ``ghost_batch_size`` rows.

    Input ``(N, C)`` or ``(N, C, L)``. In eval mode it is identical to :class:`torch.nn.BatchNorm1d`
    (same parameters, buffers and state_dict keys), and so is a training batch of at most
    ``ghost_batch_size`` rows. Introduced in {ref}`ch-ghost-batchnorm`.
    """


class GhostBatchNorm2d(_GhostMixin, nn.BatchNorm2d):
    """Ghost BatchNorm for images ``(N, C, H, W)``: statistics per ghost batch over rows and positions.

    In eval mode it is identical to :class:`torch.nn.BatchNorm2d`. Introduced in
    {ref}`ch-ghost-batchnorm`.
    """


def _check_bn_args(num_features: Any, eps: Any, momentum: Any) -> None:
    if (
        isinstance(num_features, bool)
        or not isinstance(num_features, int)
        or num_features < 1
    ):
        raise ValueError(
            f"num_features must be a positive integer (the number of channels), got {num_features!r}"
        )
    if (
        isinstance(eps, bool)
        or not isinstance(eps, (int, float))
        or not eps > 0
    ):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    if momentum is not None and (
        isinstance(momentum, bool)
        or not isinstance(momentum, (int, float))
        or not 0.0 <= momentum <= 1.0
    ):
        raise ValueError(
            f"momentum must be None or a number in [0, 1], got {momentum!r}"
        )


def _ghost_version(
    bn: nn.Module,
    ghost_batch_size: int,
    convention: str,
    num_chunks: int | None,
) -> nn.Module:
    cls = (
        GhostBatchNorm2d if isinstance(bn, nn.BatchNorm2d) else GhostBatchNorm1d
    )
    ref = bn.weight if bn.weight is not None else bn.running_mean
    kw = {} if ref is None else dict(device=ref.device, dtype=ref.dtype)
    ghost = cls(
        bn.num_features,
        ghost_batch_size,
        bn.eps,
        bn.momentum,
        bn.affine,
        bn.track_running_stats,
        **kw,
        convention=convention,
        num_chunks=num_chunks,
    )
    ghost.load_state_dict(bn.state_dict())
    ghost.train(bn.training)
    return ghost


def replace_bn_with_ghost(
    model: nn.Module,
    ghost_batch_size: int,
    convention: str = "paper",
    num_chunks: int | None = None,
) -> nn.Module:
    """Recursively swap every ``BatchNorm1d``/``BatchNorm2d`` of ``model`` for its Ghost version.

    Parameters and buffers are copied, so the model's eval-mode output is unchanged; layers that
    are already ghost layers get the new ``ghost_batch_size`` (and convention). The model is
    changed in place and returned (a bare BatchNorm module is returned as a new ghost layer).
    ``convention="official"`` with ``num_chunks = batch_size // ghost_batch_size`` cuts batches
    as the official code does (see the module's notes on conventions).
    """
    g = _check_ghost_size(ghost_batch_size)
    _check_convention(convention, num_chunks)
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    if isinstance(model, (GhostBatchNorm1d, GhostBatchNorm2d)):
        model.ghost_batch_size, model.convention, model.num_chunks = (
            g,
            convention,
            num_chunks,
        )
        return model
    if isinstance(model, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _ghost_version(model, g, convention, num_chunks)
    for name, child in model.named_children():
        new = replace_bn_with_ghost(child, g, convention, num_chunks)
        if new is not child:
            setattr(model, name, new)
    return model
