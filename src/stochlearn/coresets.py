r"""Coresets: small weighted subsets that stand in for a data set.

CRAIG (Mirzasoleiman et al. 2020) picks a subset :math:`S` whose gradients
cover those of the whole set. With a similarity :math:`s_{ij}` between
per-example gradients :math:`g_i\in\mathbb R^p`, it maximises the
*facility-location* function

.. math:: F(S)=\sum_{i\in V}\max_{j\in S} s_{ij},\qquad
   s_{ij}=e^{-\lVert g_i-g_j\rVert_2/p}\quad\text{or}\quad
   s_{ij}=d_{\max}-\lVert g_i-g_j\rVert_2 ,

the first the kernel of submodlib's ``metric="euclidean"``, which the
official code of Liu and Mirzasoleiman uses, the second CRAIG's paper. It is
monotone and submodular, so the greedy algorithm (add the element
with the largest gain, :math:`k` times) reaches at least :math:`1-1/e` of
the best value. Each chosen element gets as weight the number of examples
it is the most similar to. Liu and Mirzasoleiman (2022) use such coresets,
per class and on the last layer's gradient proxies
:math:`g_i=\operatorname{softmax}(f(x_i))-e_{y_i}`, to choose which examples
to augment. Introduced in {ref}`ch-data-efficient-augmentation`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .estimators import _check_k as _budget  # k in [1, n], or ValueError

__all__ = [
    "gradient_proxies",
    "similarity",
    "facility_location",
    "craig_per_class",
    "maxloss_subset",
    "random_subset",
]


def _matrix(name: str, G: object) -> Tensor:
    if not isinstance(G, Tensor) or G.ndim != 2 or not G.is_floating_point():
        raise ValueError(f"{name} must be a float tensor (n, d)")
    if not torch.isfinite(G).all():
        raise ValueError(f"{name} must be finite")
    return G


def gradient_proxies(logits: Tensor, y: Tensor) -> Tensor:
    """The cross-entropy's gradient with respect to the logits,
    ``softmax(logits) - onehot(y)``: a cheap stand-in for each example's
    full gradient (the last layer's, up to the features)."""
    logits = _matrix("logits", logits)
    if not isinstance(y, Tensor) or y.shape != logits.shape[:1]:
        raise ValueError("y must be a tensor of one label per row")
    if y.numel() and (y.min() < 0 or y.max() >= logits.shape[1]):
        raise ValueError("labels must lie in [0, n_classes)")
    return logits.softmax(1) - F.one_hot(y.long(), logits.shape[1]).to(
        logits.dtype
    )


def similarity(G: Tensor, kernel: str = "exp") -> Tensor:
    """Pairwise similarities of the rows of ``G`` (n, p): ``"exp"`` is
    ``exp(-d / p)`` (submodlib's, used by the official code), ``"dmax"``
    is ``d_max - d`` (CRAIG's paper); ``d`` the Euclidean distance."""
    G = _matrix("G", G)
    dist = torch.cdist(G, G)
    if kernel == "exp":
        return torch.exp(-dist / G.shape[1])
    if kernel == "dmax":
        return dist.max() - dist
    raise ValueError(f"kernel must be 'exp' or 'dmax', got {kernel!r}")


def facility_location(
    G: Tensor, k: int, kernel: str = "exp"
) -> tuple[Tensor, Tensor]:
    """Greedy facility location on the rows of ``G``: ``k`` indices in the
    order chosen, and their weights: how many rows each is most similar
    to (at least 1, as in the official code; without ties they sum to the
    number of rows). Ties in the gain go to the first index."""
    G = _matrix("G", G)
    k = _budget(k, len(G))
    sim = similarity(G, kernel)
    best = torch.zeros(len(G), dtype=G.dtype)  # max over S of s_ij so far
    chosen: list[int] = []
    for _ in range(k):
        gain = (sim - best[:, None]).clamp(min=0).sum(0)
        gain[chosen] = -1.0  # never twice
        j = int(gain.argmax())
        chosen.append(j)
        best = torch.maximum(best, sim[:, j])
    idx = torch.tensor(chosen)
    nearest = sim[:, idx].argmax(1)
    weights = torch.bincount(nearest, minlength=k).to(G.dtype)
    return idx, weights.clamp(min=1)  # a pick that won no tie counts once


def craig_per_class(
    G: Tensor,
    y: Tensor,
    k: int,
    n_classes: int,
    equal_num: bool = True,
    kernel: str = "exp",
) -> tuple[Tensor, Tensor]:
    """Facility location within each class. ``equal_num`` gives every
    class ``ceil(k / n_classes)`` picks (the official default, which can
    total a little more than ``k``), otherwise a share proportional to its
    size; never more than the class holds."""
    G = _matrix("G", G)
    if not isinstance(y, Tensor) or y.shape != (len(G),):
        raise ValueError("y must hold one label per row of G")
    k = _budget(k, len(G))
    idx, weights = [], []
    for c in range(int(n_classes)):
        members = torch.nonzero(y == c).flatten()
        if len(members) == 0:
            continue
        share = (
            math.ceil(k / n_classes)
            if equal_num
            else max(1, round(k * len(members) / len(G)))
        )
        sel, w = facility_location(G[members], min(share, len(members)), kernel)
        idx.append(members[sel])
        weights.append(w)
    return torch.cat(idx), torch.cat(weights)


def maxloss_subset(logits: Tensor, y: Tensor, k: int) -> Tensor:
    """The ``k`` examples with the largest cross-entropy."""
    logits = _matrix("logits", logits)
    if (
        not isinstance(y, Tensor)
        or y.shape != (len(logits),)
        or y.is_floating_point()
    ):
        raise ValueError(
            "y must be an integer tensor of labels, one per row of logits"
        )
    loss = F.cross_entropy(logits, y.long(), reduction="none")
    return loss.topk(_budget(k, len(loss))).indices


def random_subset(n: int, k: int, generator: torch.Generator) -> Tensor:
    """``k`` distinct indices out of ``n``, uniformly."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError("generator must be a torch.Generator")
    return torch.randperm(n, generator=generator)[: _budget(k, n)]
