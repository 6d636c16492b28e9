r"""Prior-data fitted networks: a transformer that learns a posterior predictive from simulated data.

A PFN (Müller et al. 2022) is trained on datasets drawn from a prior: for a dataset
:math:`D=\{(x_i,y_i)\}` and a held-out query :math:`(x,y)` it minimises
:math:`-\log q_\theta(y\mid x,D)`, whose minimiser over all :math:`q` is the posterior predictive
:math:`p(y\mid x,D)`. Two ingredients make it work:

* the output is a *bar distribution* (:class:`BarDistribution`): a softmax over :math:`B` buckets
  with borders :math:`b_0<\dots<b_B` (quantiles of prior samples, :func:`borders_from_samples`),
  density :math:`q(y)=p_k/(b_{k+1}-b_k)` in bucket :math:`k`;
* the model is a transformer encoder without positional encodings (:class:`PFNTransformer`): a
  training pair is embedded as :math:`E_x(x_i)+E_y(y_i)`, a query as :math:`E_x(x)`, and the
  attention mask (:func:`pfn_attention_mask`) lets every position attend to all training
  positions and each query, in addition, to itself only, so that queries do not see each other.

Used by the Part III chapter on prior-fitted networks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._validate import integer

__all__ = [
    "BarDistribution",
    "PFNTransformer",
    "borders_from_samples",
    "pfn_attention_mask",
    "train_pfn",
]


def borders_from_samples(
    y_samples, n_buckets: int, margin: float = 1.0
) -> Tensor:
    """``n_buckets + 1`` bucket borders at the quantiles of ``y_samples``, so
    that each bucket holds about the same prior mass; the outer borders are
    moved ``margin`` beyond the smallest and largest sample."""
    y = torch.as_tensor(y_samples, dtype=torch.float64).reshape(-1)
    n_buckets = integer(n_buckets, "n_buckets", 2)
    if y.numel() < n_buckets or not torch.isfinite(y).all():
        raise ValueError("need at least n_buckets finite samples")
    if not margin >= 0:
        raise ValueError("margin must be non-negative")
    q = torch.quantile(
        y, torch.linspace(0, 1, n_buckets + 1, dtype=torch.float64)
    )
    q[0], q[-1] = y.min() - margin, y.max() + margin
    if not (q[1:] > q[:-1]).all():
        raise ValueError(
            "the samples give repeated borders: too few distinct values"
        )
    return q.float()


class BarDistribution:
    r"""A piecewise-constant density on ``borders`` (``(B + 1,)``, increasing),
    parameterised by logits ``(..., B)``. Targets outside
    :math:`[b_0,b_B]` are clamped to the edge buckets."""

    def __init__(self, borders) -> None:
        b = torch.as_tensor(borders, dtype=torch.float32).reshape(-1)
        if (
            b.numel() < 3
            or not torch.isfinite(b).all()
            or not (b[1:] > b[:-1]).all()
        ):
            raise ValueError(
                "borders must be at least 3 increasing finite numbers"
            )
        self.borders = b
        self.widths = b[1:] - b[:-1]

    @property
    def n_buckets(self) -> int:
        return self.widths.numel()

    def _check(self, logits: Tensor) -> Tensor:
        if not isinstance(logits, Tensor) or logits.shape[-1] != self.n_buckets:
            raise ValueError(f"logits must end in {self.n_buckets} buckets")
        return logits

    def bucket(self, y: Tensor) -> Tensor:
        """The bucket index of each target."""
        idx = (
            torch.searchsorted(self.borders.to(y), y.contiguous(), right=True)
            - 1
        )
        return idx.clamp(0, self.n_buckets - 1)

    def nll(self, logits: Tensor, y: Tensor) -> Tensor:
        r""":math:`-\log q(y)=-\log p_k+\log w_k` for each target
        (the shape of ``y``)."""
        logits = self._check(logits)
        y = torch.as_tensor(y, dtype=logits.dtype)
        if y.shape != logits.shape[:-1]:
            raise ValueError(
                "y must have the shape of logits without its last axis"
            )
        k = self.bucket(y)
        logp = torch.log_softmax(logits, -1).gather(-1, k[..., None])[..., 0]
        return -logp + self.widths.to(logits).log()[k]

    def mean(self, logits: Tensor) -> Tensor:
        p = torch.softmax(self._check(logits), -1)
        mid = (self.borders[1:] + self.borders[:-1]).to(p) / 2
        return (p * mid).sum(-1)

    def cdf(self, logits: Tensor, y: Tensor) -> Tensor:
        """:math:`Q(y)`, linear inside each bucket."""
        p = torch.softmax(self._check(logits), -1)
        y = torch.as_tensor(y, dtype=p.dtype)
        k = self.bucket(y)
        below = torch.cumsum(p, -1) - p
        left = self.borders.to(p)[k]
        frac = ((y - left) / self.widths.to(p)[k]).clamp(0, 1)
        return (
            below.gather(-1, k[..., None])[..., 0]
            + frac * p.gather(-1, k[..., None])[..., 0]
        )

    def quantile(self, logits: Tensor, q: float) -> Tensor:
        """The ``q``-quantile (``0 < q < 1``) of each distribution."""
        if not 0 < q < 1:
            raise ValueError("q must lie in (0, 1)")
        p = torch.softmax(self._check(logits), -1)
        cum = torch.cumsum(p, -1)
        k = (cum < q).sum(-1, keepdim=True).clamp(max=self.n_buckets - 1)
        before = (cum.gather(-1, k) - p.gather(-1, k))[..., 0]
        pk = p.gather(-1, k)[..., 0].clamp_min(1e-12)
        left = self.borders.to(p)[k[..., 0]]
        return left + (q - before) / pk * self.widths.to(p)[k[..., 0]]


def pfn_attention_mask(n_train: int, n_query: int) -> Tensor:
    """The ``(n, n)`` additive attention mask of a PFN, ``n = n_train +
    n_query``, rows attending to columns: 0 where allowed (every column of a
    training position, and each query's own column), ``-inf`` elsewhere."""
    n_train = integer(n_train, "n_train")
    n_query = integer(n_query, "n_query", 0)
    n = n_train + n_query
    mask = torch.full((n, n), float("-inf"))
    mask[:, :n_train] = 0.0
    idx = torch.arange(n_train, n)
    mask[idx, idx] = 0.0
    return mask


class PFNTransformer(nn.Module):
    """A transformer encoder over a set of training pairs and queries, without
    positional encodings, that returns bar-distribution logits for each query.

    ``forward(x_tr, y_tr, x_te)`` takes ``(batch, n, x_dim)``, ``(batch, n)``
    and ``(batch, m, x_dim)`` and returns ``(batch, m, n_buckets)``.
    """

    def __init__(
        self,
        d_model: int = 64,
        n_layers: int = 3,
        n_heads: int = 4,
        n_buckets: int = 100,
        x_dim: int = 1,
        d_ff: int = 128,
    ) -> None:
        d_model, n_layers = (
            integer(d_model, "d_model"),
            integer(n_layers, "n_layers"),
        )
        n_heads, n_buckets = (
            integer(n_heads, "n_heads"),
            integer(n_buckets, "n_buckets", 2),
        )
        x_dim, d_ff = integer(x_dim, "x_dim"), integer(d_ff, "d_ff")
        if d_model % n_heads:
            raise ValueError("d_model must be a multiple of n_heads")
        super().__init__()
        self.enc_x = nn.Linear(x_dim, d_model)
        self.enc_y = nn.Linear(1, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, d_ff, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, n_layers, enable_nested_tensor=False
        )
        self.head = nn.Linear(d_model, n_buckets)

    def forward(self, x_tr: Tensor, y_tr: Tensor, x_te: Tensor) -> Tensor:
        for name, t, nd in (
            ("x_tr", x_tr, 3),
            ("y_tr", y_tr, 2),
            ("x_te", x_te, 3),
        ):
            if not isinstance(t, Tensor) or t.ndim != nd:
                raise ValueError(f"{name} must be a tensor with {nd} axes")
        if x_tr.shape[:2] != y_tr.shape or x_te.shape[0] != x_tr.shape[0]:
            raise ValueError(
                "x_tr (b, n, d), y_tr (b, n) and x_te (b, m, d) disagree"
            )
        train = self.enc_x(x_tr) + self.enc_y(y_tr[..., None])
        query = self.enc_x(x_te)
        n, m = x_tr.shape[1], x_te.shape[1]
        mask = pfn_attention_mask(n, m).to(train)
        h = self.encoder(torch.cat([train, query], 1), mask=mask)
        return self.head(h[:, n:])


def train_pfn(
    model: PFNTransformer,
    bar: BarDistribution,
    prior_sampler,
    steps: int,
    seq_len: int,
    batch: int,
    lr: float = 1e-3,
    min_train: int = 1,
    max_train: int | None = None,
    generator: torch.Generator | None = None,
) -> list[float]:
    r"""Train ``model`` on datasets from ``prior_sampler(batch, seq_len)``
    (``(x, y)``, shapes ``(batch, seq_len, x_dim)`` and ``(batch, seq_len)``):
    each step draws a split position :math:`n` uniformly in
    ``[min_train, max_train]`` (default ``seq_len - 1``), uses the first
    :math:`n` points as training set and the rest as queries, and takes an
    Adam step on the mean bar-distribution NLL of the queries, with a
    one-cycle learning-rate schedule (10 % warm-up, peak ``lr``). Returns the
    loss of every step."""
    steps, seq_len = integer(steps, "steps"), integer(seq_len, "seq_len", 2)
    batch, min_train = integer(batch, "batch"), integer(min_train, "min_train")
    max_train = (
        seq_len - 1 if max_train is None else integer(max_train, "max_train")
    )
    if not min_train <= max_train < seq_len:
        raise ValueError("need 1 <= min_train <= max_train < seq_len")
    if not lr > 0:
        raise ValueError("lr must be positive")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=steps, pct_start=0.1
    )
    from .runtime import progress

    model.train()
    losses = []
    for _ in progress(range(steps), desc="PFN", unit="step"):
        x, y = prior_sampler(batch, seq_len)
        n = int(
            torch.randint(min_train, max_train + 1, (1,), generator=generator)
        )
        logits = model(x[:, :n], y[:, :n], x[:, n:])
        loss = bar.nll(logits, y[:, n:]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses
