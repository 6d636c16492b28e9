r"""Neural processes: a conditional NP and the martingale posterior NP.

A **conditional neural process** (CNP, Garnelo et al. 2018) encodes each context pair
:math:`(x_i,y_i)` into :math:`r_i=h(x_i,y_i)`, pools :math:`r=\frac1n\sum_i r_i`, and decodes
a Gaussian for every target input, :math:`p(y\mid x,Z_c)=\mathcal N(\mu(r,x),\sigma(r,x)^2)`
with :math:`\sigma=0.1+0.9\,\mathrm{softplus}(\cdot)` (:class:`CNP`).

The **martingale posterior NP** (MPNP, Lee et al. 2023) adds a generator of *pseudo contexts*
:math:`Z'=\{(x'_j,y'_j)\}_{j\le M}=g(\epsilon,Z_c)`, :math:`\epsilon\sim\mathcal N(0,I)`: an
imputation of future data from a predictive rule, as in the martingale posterior of Fong,
Holmes and Walker; as in the paper, the generator may return representations of pseudo
contexts instead of points. The prediction is decoded from the pooled representation of
:math:`Z_c\cup Z'`, and the randomness of :math:`Z'` is the model's uncertainty about the
function. It is trained on the marginal likelihood over :math:`K` draws and on the plain CNP
likelihood (:meth:`MPNP.loss`),

.. math::
   \mathcal L=-\log\frac1K\sum_{k=1}^K p\big(Y\mid X,Z_c\cup Z'^{(k)}\big)
   \;-\;\log p(Y\mid X,Z_c),

each divided by the number of target points (:class:`MPNP`). Tasks are functions drawn from a
Gaussian process with random length scale and scale (:func:`gp_task_sampler`), with the exact
GP posterior as the reference (:func:`gp_oracle_loglik`). Introduced in
{ref}`ch-martingale-posterior-np`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Normal

from ._validate import integer, number
from .nn.models import mlp

__all__ = [
    "CNP",
    "MPNP",
    "NPTasks",
    "gp_oracle_loglik",
    "gp_task_sampler",
    "logmeanexp",
    "train_np",
]


def logmeanexp(x: Tensor, dim: int) -> Tensor:
    r""":math:`\log\frac1K\sum_k e^{x_k}` along ``dim``, computed as
    ``logsumexp`` minus :math:`\log K`, so that it is exact for
    :math:`|x|` in the thousands."""
    if not isinstance(x, Tensor) or x.ndim == 0 or x.numel() == 0:
        raise ValueError("x must be a non-empty tensor with at least one axis")
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


@dataclass
class NPTasks:
    """A batch of regression tasks: context ``xc`` ``(B, n, 1)``, ``yc``
    ``(B, n, 1)``, targets ``xt``, ``yt`` ``(B, m, 1)`` (disjoint from the
    context), and each task's GP ``lengthscale`` and ``scale`` ``(B,)``."""

    xc: Tensor
    yc: Tensor
    xt: Tensor
    yt: Tensor
    lengthscale: Tensor
    scale: Tensor

    @property
    def x(self) -> Tensor:
        """Context and target inputs, context first, ``(B, n + m, 1)``."""
        return torch.cat([self.xc, self.xt], 1)

    @property
    def y(self) -> Tensor:
        """Context and target outputs, context first, ``(B, n + m, 1)``."""
        return torch.cat([self.yc, self.yt], 1)


def _range(r, name: str, positive: bool = True) -> tuple[float, float]:
    if not (isinstance(r, (tuple, list)) and len(r) == 2):
        raise ValueError(f"{name} must be a pair (low, high)")
    lo, hi = (number(v, name, positive) for v in r)
    if not lo <= hi:
        raise ValueError(f"{name} must have low <= high")
    return lo, hi


def gp_task_sampler(
    batch: int,
    n_points: int = 50,
    x_range: tuple[float, float] = (-2.0, 2.0),
    lengthscale: tuple[float, float] = (0.1, 0.6),
    scale: tuple[float, float] = (0.1, 1.0),
    noise: float = 0.02,
    n_ctx: tuple[int, int] = (3, 47),
    generator: torch.Generator | None = None,
) -> NPTasks:
    r"""``batch`` tasks from a GP prior with the RBF kernel: per task a
    length scale :math:`\ell\sim U(\text{lengthscale})` and a scale
    :math:`s\sim U(\text{scale})` (kernel :math:`s^2e^{-d^2/2\ell^2}`), inputs
    uniform on ``x_range``, observation noise of standard deviation
    ``noise``. The ranges are those of the co-authors' JAX framework
    (yuneg11/Neural-Process-Family), which draws the context size per task;
    here one context size :math:`n\sim U\{n_{ctx}\}` is drawn per batch, as
    in juho-lee/bnp, and :math:`m\sim U\{3,\dots,\text{n\_points}-n\}`
    targets."""
    batch, n_points = integer(batch, "batch"), integer(n_points, "n_points", 6)
    lo, hi = (integer(v, "n_ctx", 1) for v in n_ctx)
    if not (len(n_ctx) == 2 and lo <= hi <= n_points - 3):
        raise ValueError("need 1 <= n_ctx[0] <= n_ctx[1] <= n_points - 3")
    x_lo, x_hi = x_range
    if not (isinstance(x_lo, (int, float)) and isinstance(x_hi, (int, float))):
        raise ValueError("x_range must be two numbers")
    if not (math.isfinite(x_lo) and math.isfinite(x_hi) and x_lo < x_hi):
        raise ValueError("x_range must be finite with low < high")
    ell_r, s_r = _range(lengthscale, "lengthscale"), _range(scale, "scale")
    noise = number(noise, "noise", positive=False)

    def uniform(lo, hi, *shape):
        u = torch.rand(*shape, generator=generator, dtype=torch.float64)
        return lo + (hi - lo) * u

    n = int(torch.randint(lo, hi + 1, (1,), generator=generator))
    m = int(torch.randint(3, n_points - n + 1, (1,), generator=generator))
    ell, s = uniform(*ell_r, batch), uniform(*s_r, batch)
    x = uniform(x_lo, x_hi, batch, n + m, 1)
    from .gp import gp_prior_batch

    x, y = gp_prior_batch(
        batch,
        n + m,
        lengthscale=ell,
        outputscale=s**2,
        noise=noise**2,
        generator=generator,
        x=x,
    )
    y = y[..., None]
    return NPTasks(x[:, :n], y[:, :n], x[:, n:], y[:, n:], ell, s)


def gp_oracle_loglik(
    xc, yc, xt, yt, lengthscale, scale, noise: float = 0.02
) -> Tensor:
    r"""The exact GP posterior predictive log-density of each target,
    :math:`\log\mathcal N(y_t;\mu_t,\sigma_t^2+\sigma_\epsilon^2)`, with each
    task's true kernel: ``(B, m)``. Shapes as in :class:`NPTasks`; one
    :func:`stochlearn.gp.gaussian_posterior` per task."""
    from .gp import gaussian_posterior, rbf_kernel

    noise = number(noise, "noise")
    xc, yc, xt, yt = (
        torch.as_tensor(a, dtype=torch.float64) for a in (xc, yc, xt, yt)
    )
    if xc.ndim != 3 or yc.shape != xc.shape[:2] + (1,) or xt.ndim != 3:
        raise ValueError("need xc, yc (B, n, 1) and xt, yt (B, m, 1)")
    if yt.shape != xt.shape[:2] + (1,) or xt.shape[0] != xc.shape[0]:
        raise ValueError("need xc, yc (B, n, 1) and xt, yt (B, m, 1)")
    ell, s = (
        torch.as_tensor(a, dtype=torch.float64) for a in (lengthscale, scale)
    )
    x = torch.cat([xc, xt], 1)
    K = rbf_kernel(x, x, ell, s**2).numpy()
    n, out = xc.shape[1], []
    for b in range(x.shape[0]):
        mean, cov = gaussian_posterior(
            K[b, :n, :n],
            K[b, n:, :n],
            K[b, n:, n:],
            yc[b, :, 0].numpy(),
            noise**2,
        )
        var = torch.as_tensor(cov.diagonal() + noise**2)
        out.append(
            Normal(torch.as_tensor(mean), var.sqrt()).log_prob(yt[b, :, 0])
        )
    return torch.stack(out)


def _mlp(d_in: int, d: int, d_out: int, depth: int) -> nn.Sequential:
    """``depth`` linear layers ``d_in → d → … → d → d_out`` with ReLUs."""
    return mlp([d_in] + [d] * (depth - 1) + [d_out])


def _check_xy(x: Tensor, y: Tensor, name: str, x_dim: int, y_dim: int) -> None:
    ok = (
        isinstance(x, Tensor)
        and isinstance(y, Tensor)
        and x.ndim == 3
        and x.shape[-1] == x_dim
        and y.shape == x.shape[:2] + (y_dim,)
    )
    if not ok:
        raise ValueError(
            f"{name}: need x (B, n, {x_dim}) and y (B, n, {y_dim})"
        )


class CNP(nn.Module):
    r"""A conditional neural process: an MLP encoder of context pairs, mean
    pooling, and an MLP decoder of :math:`(r,x)` to a Gaussian with
    :math:`\sigma=\sigma_{\min}+(1-\sigma_{\min})\,\mathrm{softplus}(\cdot)`."""

    def __init__(
        self,
        x_dim: int = 1,
        y_dim: int = 1,
        d: int = 64,
        depth: int = 3,
        min_sigma: float = 0.1,
    ) -> None:
        super().__init__()
        self.x_dim, self.y_dim = (
            integer(x_dim, "x_dim"),
            integer(y_dim, "y_dim"),
        )
        d, depth = integer(d, "d"), integer(depth, "depth", 2)
        self.min_sigma = number(min_sigma, "min_sigma")
        if not self.min_sigma < 1:
            raise ValueError("min_sigma must be below 1")
        self.d = d
        self.encoder = _mlp(x_dim + y_dim, d, d, depth)
        self.decoder = _mlp(d + x_dim, d, 2 * y_dim, depth)

    def encode(self, x: Tensor, y: Tensor) -> Tensor:
        """Per-point representations :math:`r_i=h(x_i,y_i)`: ``(..., n, d)``."""
        return self.encoder(torch.cat([x, y], -1))

    def rep(self, xc: Tensor, yc: Tensor) -> Tensor:
        """The pooled context representation :math:`r`: ``(B, d)``."""
        _check_xy(xc, yc, "context", self.x_dim, self.y_dim)
        return self.encode(xc, yc).mean(-2)

    def decode(self, r: Tensor, xt: Tensor) -> Normal:
        """The predictive at ``xt`` ``(..., m, x_dim)`` given ``r``
        ``(..., d)``: a ``Normal`` with batch shape ``(..., m, y_dim)``."""
        h = torch.cat([r[..., None, :].expand(*xt.shape[:-1], self.d), xt], -1)
        mu, raw = self.decoder(h).chunk(2, -1)
        sigma = self.min_sigma + (1 - self.min_sigma) * nn.functional.softplus(
            raw
        )
        return Normal(mu, sigma)

    def loglik(self, xc: Tensor, yc: Tensor, xt: Tensor, yt: Tensor) -> Tensor:
        r""":math:`\frac1m\log p(Y_t\mid X_t,Z_c)`, summed over output
        dimensions: ``(B,)``."""
        return CNP.point_loglik(self, xc, yc, xt, yt).mean(-1)

    def loss(self, xc, yc, xt, yt, K: int = 1) -> Tensor:
        """The training loss: minus the mean of :meth:`loglik` over tasks
        (``K`` is ignored)."""
        return -self.loglik(xc, yc, xt, yt).mean()

    def point_loglik(self, xc, yc, xt, yt, K: int = 1) -> Tensor:
        """The log predictive density of each target point: ``(B, m)``."""
        _check_xy(xt, yt, "target", self.x_dim, self.y_dim)
        return self.decode(self.rep(xc, yc), xt).log_prob(yt).sum(-1)


class MPNP(CNP):
    r"""A martingale posterior neural process: a :class:`CNP` whose context is
    completed by ``n_pseudo`` generated pseudo contexts.

    The generator maps noise :math:`\epsilon_j\sim\mathcal N(0,I)` to queries
    that attend to the context representations (cross-attention), then to
    each other (self-attention, so that the :math:`M` pseudo contexts are
    drawn jointly), and an MLP head returns them. With ``space="rep"`` (the
    default, as the paper's Figure 1 is described) they are representations
    :math:`r'_j`; with ``space="data"`` they are points :math:`(x'_j,y'_j)`,
    :math:`x'` squashed into ``x_range``, encoded by the context encoder.
    Either way they are pooled together with the real representations.
    """

    def __init__(
        self,
        x_dim: int = 1,
        y_dim: int = 1,
        d: int = 64,
        depth: int = 3,
        min_sigma: float = 0.1,
        n_pseudo: int = 20,
        n_heads: int = 4,
        x_range: tuple[float, float] = (-2.0, 2.0),
        space: str = "rep",
    ) -> None:
        super().__init__(x_dim, y_dim, d, depth, min_sigma)
        if space not in ("data", "rep"):
            raise ValueError("space must be 'data' or 'rep'")
        self.space = space
        self.n_pseudo = integer(n_pseudo, "n_pseudo")
        n_heads = integer(n_heads, "n_heads")
        if self.d % n_heads:
            raise ValueError("d must be a multiple of n_heads")
        lo, hi = (float(v) for v in x_range)
        if not lo < hi:
            raise ValueError("x_range must have low < high")
        self.x_lo, self.x_width = lo, hi - lo
        self.noise_mlp = _mlp(self.d, self.d, self.d, 2)
        self.cross = nn.MultiheadAttention(self.d, n_heads, batch_first=True)
        self.self_attn = nn.MultiheadAttention(
            self.d, n_heads, batch_first=True
        )
        out = x_dim + y_dim if space == "data" else self.d
        self.head = _mlp(self.d, self.d, out, 2)

    def generator(
        self, rc: Tensor, K: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """``K`` draws of the pseudo context given the context
        representations ``rc`` ``(B, n, d)``: ``(B, K, M, d)``
        representations, or ``(B, K, M, x_dim + y_dim)`` points
        :math:`(x',y')` with ``space="data"``."""
        K = integer(K, "K")
        B, n, d = rc.shape
        eps = torch.randn(
            B * K, self.n_pseudo, d, generator=generator, device=rc.device
        )
        q = self.noise_mlp(eps)
        ctx = rc.repeat_interleave(K, 0)
        h = q + self.cross(q, ctx, ctx, need_weights=False)[0]
        h = h + self.self_attn(h, h, h, need_weights=False)[0]
        out = self.head(h).reshape(B, K, self.n_pseudo, -1)
        if self.space == "rep":
            return out
        x, y = out.split([self.x_dim, self.y_dim], -1)
        return torch.cat([self.x_lo + self.x_width * torch.sigmoid(x), y], -1)

    def pseudo_reps(
        self, xc: Tensor, yc: Tensor, K: int, generator=None
    ) -> tuple[Tensor, Tensor]:
        """Pooled representations of ``K`` completed contexts
        :math:`Z_c\\cup Z'^{(k)}`, ``(B, K, d)``, and the pseudo contexts
        (:meth:`generator`)."""
        _check_xy(xc, yc, "context", self.x_dim, self.y_dim)
        rc = self.encode(xc, yc)
        z = self.generator(rc, K, generator)
        rp = z if self.space == "rep" else self.encoder(z)  # (B, K, M, d)
        n, M = rc.shape[1], rp.shape[2]
        r = (rc.sum(1)[:, None] + rp.sum(2)) / (n + M)
        return r, z

    def draw_logliks(
        self, xc, yc, xt, yt, K: int = 5, generator=None
    ) -> Tensor:
        r"""The log density of each target under each of ``K`` draws,
        :math:`\log p(y_t\mid x_t,Z_c\cup Z'^{(k)})`: ``(B, K, m)``."""
        _check_xy(xt, yt, "target", self.x_dim, self.y_dim)
        r, _ = self.pseudo_reps(xc, yc, K, generator)
        xt_k = xt[:, None].expand(-1, r.shape[1], -1, -1)
        return self.decode(r, xt_k).log_prob(yt[:, None]).sum(-1)

    def marginal_loglik(
        self, xc, yc, xt, yt, K: int = 5, joint: bool = True, generator=None
    ) -> Tensor:
        r"""With ``joint`` (training), :math:`\frac1m\log\frac1K\sum_k
        p(Y_t\mid X_t,Z_c\cup Z'^{(k)})` per task, ``(B,)``; without, the
        mixture density of each target point :math:`\log\frac1K\sum_k
        p(y_t\mid x_t,Z_c\cup Z'^{(k)})`, ``(B, m)``."""
        lp = self.draw_logliks(xc, yc, xt, yt, K, generator)
        if joint:
            return logmeanexp(lp.sum(-1), 1) / xt.shape[1]
        return logmeanexp(lp, 1)

    def loss(self, xc, yc, xt, yt, K: int = 5) -> Tensor:
        """Minus the marginal likelihood over ``K`` pseudo contexts and minus
        the plain-context likelihood (amortisation), per target point,
        averaged over tasks."""
        marg = self.marginal_loglik(xc, yc, xt, yt, K)
        amort = self.loglik(xc, yc, xt, yt)
        return -(marg + amort).mean()

    def point_loglik(self, xc, yc, xt, yt, K: int = 50) -> Tensor:
        """The mixture density over ``K`` pseudo contexts of each target
        point: ``(B, m)``."""
        return self.marginal_loglik(xc, yc, xt, yt, K, joint=False)


def train_np(
    model: CNP,
    sampler,
    steps: int,
    lr: float = 5e-4,
    K: int = 5,
    callback=None,
    every: int = 100,
) -> list[float]:
    """Adam with cosine decay on ``model.loss`` over tasks from ``sampler()``
    (an :class:`NPTasks`; the loss is taken on all points, context and
    targets, as in the co-authors' code). ``callback(step)`` runs after every
    ``every`` steps. Returns the loss of every step."""
    steps, K, every = (
        integer(steps, "steps"),
        integer(K, "K"),
        integer(every, "every"),
    )
    lr = number(lr, "lr")
    if not isinstance(model, CNP) or not callable(sampler):
        raise ValueError("model must be a CNP or MPNP, sampler a callable")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    from .runtime import progress

    losses = []
    for step in progress(
        range(1, steps + 1), desc=type(model).__name__, unit="step"
    ):
        model.train()
        t = sampler()
        loss = model.loss(t.xc, t.yc, t.x, t.y, K)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if callback is not None and step % every == 0:
            model.eval()
            callback(step)
    model.eval()
    return losses
