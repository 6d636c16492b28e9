r"""Randomized estimates of a matrix product: column-row sampling and WTA-CRS.

The weight gradient of a linear layer :math:`Y=XW^\top+b` on a batch of
:math:`n` rows is a sum of :math:`n` outer products,

.. math:: \nabla_W=G^\top X=\sum_{i=1}^n g_i x_i^\top ,
   \qquad G=\partial L/\partial Y ,

so the backward pass needs every row :math:`x_i` of the layer's input.
**Column-row sampling** (CRS) keeps only :math:`k<n` of them: draw
:math:`i_1,\dots,i_k` i.i.d. from a distribution :math:`p` and use
:math:`\widehat\nabla_W=\sum_t g_{i_t}x_{i_t}^\top/(k\,p_{i_t})`, unbiased for
any :math:`p` that is positive where :math:`g_ix_i^\top\ne0`, and of least
variance for :math:`p_i\propto\lVert x_i\rVert\,\lVert g_i\rVert`. **WTA-CRS**
(Liu et al. 2023) keeps the :math:`c` most probable pairs, the winners
:math:`C`, exactly, and samples the other :math:`k-c` from the rest with the
renormalised :math:`q_j=p_j/(1-P_C)`, :math:`P_C=\sum_{i\in C}p_i`:

.. math:: \widehat\nabla_W=\sum_{i\in C}g_ix_i^\top
   +\frac1{k-c}\sum_{t=1}^{k-c}\frac{g_{j_t}x_{j_t}^\top}{q_{j_t}} ,

still unbiased, and of lower variance than CRS when :math:`p` is
concentrated. The size of :math:`C` follows the official code's rule
(:func:`wta_split`). Introduced in {ref}`ch-wta-crs`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "METHODS",
    "crs_probabilities",
    "wta_split",
    "sample_rows",
    "estimate_product",
    "estimator_relmse",
]

#: The sampling methods, three unbiased ones and the biased top-k.
METHODS = ("uniform", "crs", "wta", "topk")


def _rows(name: str, A: Tensor) -> Tensor:
    if (
        not isinstance(A, Tensor)
        or A.dim() != 2
        or A.shape[0] == 0
        or not A.is_floating_point()
    ):
        raise ValueError(
            f"{name} must be a non-empty 2-D float tensor (one row "
            f"per example), got "
            f"{getattr(A, 'shape', type(A).__name__)}"
        )
    if not torch.isfinite(A.detach()).all():  # detached: nothing is saved
        raise ValueError(f"{name} must be finite")
    return A


def _check_k(k: int, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, {n}], got {k!r}")
    return k


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_p(p: Tensor) -> Tensor:
    if (
        not isinstance(p, Tensor)
        or p.dim() != 1
        or p.numel() == 0
        or not torch.isfinite(p).all()
        or (p < 0).any()
        or abs(float(p.sum()) - 1) > 1e-4
    ):
        raise ValueError(
            "p must be a 1-D tensor of probabilities that sum to 1"
        )
    return p


def crs_probabilities(
    X: Tensor, G: Tensor | None = None, eps: float = 1e-12, mix: float = 0.0
) -> Tensor:
    r"""The optimal CRS probabilities, :math:`p_i\propto\|x_i\|\,\|g_i\|`.

    ``X`` is ``(n, d)``. ``G`` is either the ``(n, o)`` output gradient or
    already the ``(n,)`` vector of its row norms; without it
    :math:`p_i\propto\lVert x_i\rVert`. The official code adds a small
    ``eps`` so that no row has probability 0; so do we. ``mix`` blends in
    the uniform distribution, :math:`p\leftarrow(1-\text{mix})\,p+\text{mix}/n`
    (a "defensive" mixture that bounds every weight :math:`1/(kp_i)` by
    :math:`n/(k\,\text{mix})`; not in the paper).
    """
    if (
        isinstance(mix, bool)
        or not isinstance(mix, (int, float))
        or not 0 <= mix <= 1
    ):
        raise ValueError(f"mix must be a fraction in [0, 1], got {mix!r}")
    w = _rows("X", X).detach().norm(dim=1)
    if G is not None:
        if not isinstance(G, Tensor) or not torch.isfinite(G.detach()).all():
            raise ValueError(
                "G must be a finite tensor: the output "
                "gradient or its row norms"
            )
        g = G.detach().norm(dim=1) if G.dim() == 2 else G.detach()
        if g.shape != w.shape:
            raise ValueError(
                f"G must have one row (or norm) per row of X, "
                f"got {tuple(G.shape)}"
            )
        w = w * g.to(w.dtype).abs()
    w = w.double() + eps
    p = (1 - mix) * w / w.sum() + mix / len(w)
    return p.to(X.dtype)


def wta_split(p: Tensor, k: int) -> int:
    r"""Size :math:`c=|C|` of the winner set, by the official rule.

    With :math:`P_c` the mass of the :math:`c` largest probabilities, the
    official ``k_adaptive`` picks the :math:`c\in\{1,\dots,k-1\}` that
    minimises :math:`(1-P_c)/(k-c)`, and :math:`c=0` (plain CRS) when
    :math:`1/k` is smaller still. Since :math:`(1-P_c)^2\le1-P_c`, the test
    :math:`(1-P_c)/(k-c)<1/k`, that is :math:`P_c>c/k`, is a sufficient
    condition for the leading variance term of WTA-CRS,
    :math:`(1-P_c)^2Z^2/(k-c)`, to be below CRS's :math:`Z^2/k`
    (:math:`Z=\sum_i\lVert x_i\rVert\lVert g_i\rVert`). The rule minimises
    that looser bound, not the leading term, so it keeps fewer winners
    than the leading term would.
    """
    p = _check_p(p)
    k = _check_k(k, p.numel())
    if k == 1:
        return 0
    top = torch.sort(p.double(), descending=True).values[: k - 1]
    c = torch.arange(1, k, dtype=torch.float64)
    score = (1 - torch.cumsum(top, 0)).clamp_min(0) / (k - c)
    best = int(torch.argmin(score))
    return 0 if 1 / k < float(score[best]) else best + 1


def sample_rows(
    p: Tensor,
    k: int,
    method: str = "wta",
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Indices and weights of a sampled estimate of :math:`\sum_i g_ix_i^\top`.

    Returns ``(idx, scale)``, ``k`` of each (fewer for ``"wta"`` only if
    the winners hold all the mass), such that
    :math:`\sum_t \mathrm{scale}_t\,g_{\mathrm{idx}_t}x_{\mathrm{idx}_t}^\top`
    estimates the sum:

    - ``"uniform"``: rows drawn uniformly with replacement, weight
      :math:`n/k`;
    - ``"crs"``: rows drawn from :math:`p` with replacement, weight
      :math:`1/(kp_i)`;
    - ``"wta"``: the :math:`c` winners (:func:`wta_split`) with weight 1,
      and :math:`k-c` rows drawn from :math:`q_j=p_j/(1-P_C)` outside them,
      weight :math:`1/((k-c)\,q_j)`;
    - ``"topk"``: the :math:`k` most probable rows with weight 1
      (deterministic and biased).
    """
    p, method = _check_p(p), _check_method(method)
    n = p.numel()
    k = _check_k(k, n)
    pd = p.double()
    ones = torch.ones(k, dtype=torch.float64, device=p.device)
    if method == "uniform":
        idx = torch.randint(0, n, (k,), generator=generator, device=p.device)
        return idx, (ones * n / k).to(p.dtype)
    if method == "crs":
        idx = torch.multinomial(pd, k, replacement=True, generator=generator)
        return idx, (1 / (k * pd[idx])).to(p.dtype)
    order = torch.argsort(pd, descending=True, stable=True)
    if method == "topk":
        return order[:k], ones.to(p.dtype)
    c = wta_split(p, k)
    winners = order[:c]
    rest = pd.clone()
    rest[winners] = 0.0
    mass = float(rest.sum())  # 1 - P_C
    if mass <= 0:  # the winners hold all the mass: nothing left to sample
        return winners, ones[:c].to(p.dtype)
    drawn = torch.multinomial(
        rest / mass, k - c, replacement=True, generator=generator
    )
    q = rest[drawn] / mass
    scale = torch.cat([ones[:c], 1 / ((k - c) * q)])
    return torch.cat([winners, drawn]), scale.to(p.dtype)


def estimate_product(
    X: Tensor, G: Tensor, idx: Tensor, scale: Tensor
) -> Tensor:
    r"""The sampled estimate of :math:`G^\top X` from :func:`sample_rows`.

    :math:`\sum_t \mathrm{scale}_t\,g_{\mathrm{idx}_t}x_{\mathrm{idx}_t}^\top`.
    """
    X, G = _rows("X", X), _rows("G", G)
    if (
        not isinstance(idx, Tensor)
        or not isinstance(scale, Tensor)
        or idx.dim() != 1
        or scale.shape != idx.shape
        or idx.dtype not in (torch.int64, torch.int32)
        or X.shape[0] != G.shape[0]
        or len(idx) == 0
        or int(idx.min()) < 0
        or int(idx.max()) >= X.shape[0]
    ):
        raise ValueError(
            "idx must index rows of X and G (one per row of "
            "scale), as sample_rows returns them"
        )
    return G[idx].T @ (scale[:, None].to(X.dtype) * X[idx])


def estimator_relmse(
    X: Tensor, G: Tensor, k: int, method: str = "wta", p: Tensor | None = None
) -> float:
    r"""Closed-form relative error of a sampled estimate of :math:`G^\top X`.

    The relative mean squared error is
    :math:`\mathbb E\|\widehat\nabla-\nabla\|_F^2/\|\nabla\|_F^2`.

    For :math:`m` i.i.d. draws from :math:`q` over a set :math:`U` of rows,
    each draw :math:`g_jx_j^\top/q_j` has mean
    :math:`S_U=\sum_{j\in U}g_jx_j^\top`, so the estimate's error is

    .. math:: \frac1m\Bigl(\sum_{j\in U}
              \frac{\lVert g_j\rVert^2\lVert x_j\rVert^2}{q_j}
              -\lVert S_U\rVert_F^2\Bigr):

    ``"uniform"`` is :math:`U` = all rows, :math:`q=1/n`, :math:`m=k`;
    ``"crs"`` is :math:`q=p`; ``"wta"`` is :math:`U` = the rows outside the
    winners, :math:`q_j=p_j/(1-P_C)`, :math:`m=k-c`; ``"topk"`` has no
    variance, only the squared bias :math:`\lVert S_U\rVert_F^2` of the rows
    it leaves out. ``p`` defaults to :func:`crs_probabilities` of ``X``, ``G``.
    """
    X, G = _rows("X", X).double(), _rows("G", G).double()
    if X.shape[0] != G.shape[0]:
        raise ValueError(
            f"X and G need one row per example each, got "
            f"{X.shape[0]} and {G.shape[0]}"
        )
    n = X.shape[0]
    k, method = _check_k(k, n), _check_method(method)
    p = crs_probabilities(X, G) if p is None else _check_p(p).double()
    total = float(((G.T @ X) ** 2).sum())
    if total == 0:
        raise ValueError("G^T X is zero: its relative error is undefined")
    w2 = (X**2).sum(1) * (G**2).sum(1)  # ||g_j||^2 ||x_j||^2
    order = torch.argsort(p, descending=True, stable=True)
    if method == "topk":
        left = order[k:]
        return float(((G[left].T @ X[left]) ** 2).sum()) / total
    if method == "uniform":
        U, q, m = torch.arange(n), torch.full((n,), 1 / n).double(), k
    elif method == "crs":
        U, q, m = torch.arange(n), p, k
    else:
        c = wta_split(p, k)
        U = order[c:]
        mass = float(p[U].sum())
        if mass <= 0:
            return 0.0
        q, m = p / mass, k - c
    S = G[U].T @ X[U]
    return float((w2[U] / q[U]).sum() - (S**2).sum()) / (m * total)
