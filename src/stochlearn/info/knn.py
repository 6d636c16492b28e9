r"""Nearest-neighbour estimators of mutual information between continuous variables, and the
closed form for jointly Gaussian ones.

The Kraskov–Stögbauer–Grassberger estimator (Kraskov et al., 2004, their first algorithm) reads
the mutual information off distances to neighbours. For every sample :math:`i` let
:math:`\varepsilon_i` be the distance to its :math:`k`-th nearest neighbour in the joint space,
with the distance :math:`\max(\lVert x_i-x_j\rVert,\lVert y_i-y_j\rVert)`, and let
:math:`n_x(i)` and :math:`n_y(i)` count the other samples closer than :math:`\varepsilon_i`
in :math:`x` alone and in :math:`y` alone. Then, in nats,

.. math::

    \hat I(X;Y) = \psi(k) + \psi(n) - \big\langle \psi(n_x+1) + \psi(n_y+1) \big\rangle,

with :math:`\psi` the digamma function. Ross (2014) gives the analogue for a discrete
:math:`Y` (:func:`ksg_mi_discrete`), which the information plane needs for :math:`I(T;Y)`.

The paper of {ref}`ch-ib-lossy-compression` (Butakov et al., 2024) estimates entropies instead,
with the Kozachenko–Leonenko estimator (:func:`kl_entropy`), and forms
:math:`I(X;Y)=H(X)+H(Y)-H(X,Y)` (:func:`kl_mi`) and
:math:`I(X;Y)=H(X)-\sum_y p(y)H(X\mid Y=y)` for a discrete :math:`Y` (:func:`kl_mi_discrete`).

All are computed from dense distance matrices, in blocks of rows: :math:`O(n^2)` time, memory
:math:`O(\text{block}\cdot n)`, and fast in any dimension (a k-d tree is not, above ten or so).

Introduced in {ref}`ch-ib-lossy-compression`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import digamma
from torch import Tensor

from ._checks import _as_tensor, _check_labels

_NORMS = {"euclidean": 2.0, "chebyshev": math.inf}


def _as_samples(a, name: str) -> Tensor:
    """``a`` as a float64 tensor of shape (n, d); a 1-D array is one column."""
    t = _as_tensor(a, name)
    if t.dim() == 1:
        t = t[:, None]
    if t.dim() != 2 or 0 in t.shape:
        raise ValueError(
            f"{name} must have shape (n,) or (n, d) with n, d >= 1, got {tuple(t.shape)}"
        )
    if t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold real numbers, got {t.dtype}")
    t = t.double()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def _standardize(t: Tensor) -> Tensor:
    """Each coordinate centred and scaled to unit standard deviation (a constant one is only
    centred): the estimate then does not depend on the units of the coordinates."""
    t = t - t.mean(0)
    sd = t.std(0)
    return t / torch.where(sd > 0, sd, torch.ones_like(sd))


def _check_k(k, n: int, what: str = "samples") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if n <= k:
        raise ValueError(f"k={k} neighbours need more than {k} {what}, got {n}")
    return int(k)


def _check_options(norm: str, block: int) -> float:
    if norm not in _NORMS:
        raise ValueError(
            f"norm must be 'euclidean' or 'chebyshev' (within x and within y), got {norm!r}"
        )
    if (
        isinstance(block, bool)
        or not isinstance(block, (int, np.integer))
        or block < 1
    ):
        raise ValueError(f"block must be a positive integer, got {block!r}")
    return _NORMS[norm]


def _no_ties(eps: Tensor) -> None:
    if bool((eps <= 0).any()):
        raise ValueError(
            "some samples coincide with their k-th neighbour (repeated points): the estimator "
            "needs continuous data; add a little noise or remove the duplicates"
        )


def ksg_mi(
    x,
    y,
    k: int = 5,
    *,
    norm: str = "euclidean",
    standardize: bool = True,
    block: int = 1024,
) -> float:
    r"""The KSG estimate of :math:`I(X;Y)` in nats (Kraskov et al., alg. 1).

    ``x`` has shape ``(n, dx)`` and ``y`` shape ``(n, dy)`` (or ``(n,)``), as
    NumPy arrays or tensors, one sample per row. With :math:`\varepsilon_i`
    the distance from sample :math:`i` to its ``k``-th nearest neighbour under
    :math:`\max(\lVert x_i-x_j\rVert,\lVert y_i-y_j\rVert)`, and
    :math:`n_x(i)`, :math:`n_y(i)` the numbers of *other* samples strictly
    closer than :math:`\varepsilon_i` in :math:`x` and in :math:`y`,

    .. math::

        \hat I = \psi(k) + \psi(n)
                 - \tfrac1n\textstyle\sum_i\big[\psi(n_x(i)+1)
                 + \psi(n_y(i)+1)\big].

    ``norm`` is the distance within ``x`` and within ``y``: ``"euclidean"``
    (the default) or ``"chebyshev"`` (the largest coordinate difference, as in
    Kraskov et al. and scikit-learn's ``mutual_info_regression``; the two agree
    in one dimension). With ``standardize`` each coordinate is first centred
    and scaled to unit variance, so that rescaling a coordinate changes
    nothing. The estimate is not clipped: for independent variables it
    scatters around 0 and can be slightly negative. Repeated points (a zero
    :math:`\varepsilon_i`) raise a ``ValueError``.

    Time :math:`O(n^2(d_x+d_y))`, memory :math:`O(\text{block}\cdot n)`.
    """
    p = _check_options(norm, block)
    xt, yt = _as_samples(x, "x"), _as_samples(y, "y")
    n = xt.shape[0]
    if yt.shape[0] != n:
        raise ValueError(
            f"x and y need the same number of rows, got {n} and {yt.shape[0]}"
        )
    k = _check_k(k, n)
    if standardize:
        xt, yt = _standardize(xt), _standardize(yt)
    nx = torch.empty(n, dtype=torch.float64)
    ny = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, block):
        rows = torch.arange(start, min(start + block, n))
        dx = torch.cdist(xt[rows], xt, p=p)
        dy = torch.cdist(yt[rows], yt, p=p)
        dx[torch.arange(len(rows)), rows] = (
            math.inf
        )  # a sample is not its own neighbour
        dy[torch.arange(len(rows)), rows] = math.inf
        eps = torch.kthvalue(torch.maximum(dx, dy), k, dim=1).values  # ε_i
        _no_ties(eps)
        nx[rows] = (dx < eps[:, None]).sum(1).double()  # n_x(i)
        ny[rows] = (dy < eps[:, None]).sum(1).double()  # n_y(i)
    return float(
        digamma(k)
        + digamma(n)
        - np.mean(digamma(nx.numpy() + 1) + digamma(ny.numpy() + 1))
    )


def ksg_mi_discrete(
    x,
    labels,
    k: int = 5,
    *,
    norm: str = "euclidean",
    standardize: bool = True,
    block: int = 1024,
) -> float:
    r"""Ross's (2014) estimate of :math:`I(X;Y)` in nats, for continuous ``x`` and discrete ``labels``.

    ``x`` has shape ``(n, d)`` (or ``(n,)``), ``labels`` holds ``n`` integer labels. For
    sample :math:`i` of a class with :math:`N_{y_i}` samples, :math:`d_i` is the distance to
    its :math:`k_i`-th nearest neighbour *of the same class* (:math:`k_i=\min(k, N_{y_i}-1)`),
    and :math:`m_i` the number of other samples of *any* class within :math:`d_i`. Then

    .. math::

        \hat I = \psi(n) + \langle\psi(k_i)\rangle - \langle\psi(N_{y_i})\rangle
                 - \langle\psi(m_i)\rangle .

    Samples whose class has a single member are left out (they have no neighbour), as in
    scikit-learn's ``mutual_info_classif``, which computes the same estimate with the
    Euclidean norm. ``norm``,
    ``standardize`` and ``block`` are as in :func:`ksg_mi`.
    """
    p = _check_options(norm, block)
    xt = _as_samples(x, "x")
    yt = _check_labels(labels, xt.shape[0])
    counts = torch.bincount(yt)
    keep = counts[yt] > 1
    xt, yt = xt[keep], yt[keep]
    n = xt.shape[0]
    if n < 2:
        raise ValueError(
            "ksg_mi_discrete needs at least one class with two or more samples"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if standardize:
        xt = _standardize(xt)
    n_class = counts[yt].double()  # N_{y_i}
    k_i = torch.clamp(n_class - 1, max=int(k))  # k_i
    m = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, block):
        rows = torch.arange(start, min(start + block, n))
        d = torch.cdist(xt[rows], xt, p=p)
        d[torch.arange(len(rows)), rows] = math.inf
        same = yt[rows][:, None] == yt[None, :]
        d_same = torch.where(same, d, torch.full_like(d, math.inf))
        # the k_i-th smallest same-class distance: sort once, pick per row
        d_k = torch.sort(d_same, dim=1).values.gather(
            1, (k_i[rows].long() - 1)[:, None]
        )[:, 0]
        _no_ties(d_k)
        m[rows] = (
            (d <= d_k[:, None]).sum(1).double()
        )  # m_i, the k_i-th neighbour included
    return float(
        digamma(n)
        + np.mean(digamma(k_i.numpy()))
        - np.mean(digamma(n_class.numpy()))
        - np.mean(digamma(m.numpy()))
    )


def gaussian_mi(Sxx, Syy, Sxy) -> float:
    r"""Mutual information of jointly Gaussian :math:`X` and :math:`Y` (nats), from covariances.

    With :math:`\Sigma_{xx}` (``(dx, dx)``), :math:`\Sigma_{yy}` (``(dy, dy)``) and the
    cross-covariance :math:`\Sigma_{xy}=\operatorname{Cov}(X,Y)` (``(dx, dy)``),

    .. math::

        I(X;Y) = \tfrac12\Big(\log\det\Sigma_{xx} + \log\det\Sigma_{yy}
                 - \log\det\begin{pmatrix}\Sigma_{xx}&\Sigma_{xy}\\
                 \Sigma_{xy}^\top&\Sigma_{yy}\end{pmatrix}\Big).

    Scalars are accepted for one-dimensional variables: two unit-variance variables with
    correlation :math:`\rho` give :math:`-\tfrac12\log(1-\rho^2)`. The joint covariance must be
    symmetric positive definite.
    """
    mats = []
    for name, a in (("Sxx", Sxx), ("Syy", Syy), ("Sxy", Sxy)):
        t = _as_tensor(a, name)
        if t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers")
        t = t.double()
        if t.dim() == 0:
            t = t.reshape(1, 1)
        if t.dim() != 2 or 0 in t.shape:
            raise ValueError(
                f"{name} must be a matrix (or a scalar), got shape {tuple(t.shape)}"
            )
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        mats.append(t)
    sxx, syy, sxy = mats
    dx, dy = sxx.shape[0], syy.shape[0]
    if sxx.shape != (dx, dx) or syy.shape != (dy, dy) or sxy.shape != (dx, dy):
        raise ValueError(
            f"shapes must be Sxx (dx, dx), Syy (dy, dy), Sxy (dx, dy); got {tuple(sxx.shape)}, "
            f"{tuple(syy.shape)}, {tuple(sxy.shape)}"
        )
    joint = torch.cat([torch.cat([sxx, sxy], 1), torch.cat([sxy.T, syy], 1)], 0)
    if not torch.allclose(joint, joint.T, rtol=1e-10, atol=1e-12):
        raise ValueError("Sxx and Syy must be symmetric")
    logdets = []
    for m in (sxx, syy, joint):
        chol, info = torch.linalg.cholesky_ex(m)
        if int(info) != 0:
            raise ValueError("the joint covariance must be positive definite")
        logdets.append(2 * torch.log(torch.diagonal(chol)).sum())
    return float(0.5 * (logdets[0] + logdets[1] - logdets[2]))


# --------------------------------------------------------------------------------------------
# Kozachenko–Leonenko entropies (the estimator of Butakov et al.'s official code)
# --------------------------------------------------------------------------------------------
def _check_convention(convention) -> None:
    if convention not in ("paper", "official"):
        raise ValueError(
            "convention must be 'paper' (psi(n), the Kozachenko-Leonenko estimator) or "
            f"'official' (log(n - 1), VanessB/Information-v3), got {convention!r}"
        )


def _kth_neighbour_distance(t: Tensor, k: int, block: int) -> Tensor:
    """Euclidean distance from every row of ``t`` to its ``k``-th nearest other row."""
    n = t.shape[0]
    r = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, block):
        rows = torch.arange(start, min(start + block, n))
        d = torch.cdist(t[rows], t)
        d[torch.arange(len(rows)), rows] = math.inf
        r[rows] = torch.kthvalue(d, k, dim=1).values
    return r


def kl_entropy(
    x,
    k: int = 1,
    *,
    whiten: bool = True,
    convention: str = "paper",
    block: int = 1024,
) -> float:
    r"""The Kozachenko–Leonenko estimate of the entropy :math:`H(X)` in nats.

    ``x`` has shape ``(n, d)`` (or ``(n,)``). With :math:`r_i` the Euclidean
    distance from sample :math:`i` to its ``k``-th nearest neighbour and
    :math:`V_d=\pi^{d/2}/\Gamma(d/2+1)` the volume of the unit ball,

    .. math::

        \hat H = \psi(n) - \psi(k) + \log V_d + \frac dn\sum_i \log r_i .

    With ``whiten`` the samples are first mapped to unit covariance,
    :math:`x\mapsto\hat\Sigma^{-1/2}x` (:math:`\hat\Sigma` the sample
    covariance), and :math:`\tfrac12\log\det\hat\Sigma` is added back: the
    estimate then moves under a linear map :math:`A` exactly as the entropy
    does, by :math:`\log\lvert\det A\rvert`, and the neighbours are found in
    a space where no direction dominates. The official code of Butakov et al.
    does this (``EntropyEstimator(rescale=True)``); for :math:`d\le 4` its
    ``KLFunctional`` uses the first neighbour only, ``k=1`` here, and
    ``convention="official"`` replaces :math:`\psi(n)` by its
    :math:`\log(n-1)`.
    """
    _check_convention(convention)
    if (
        isinstance(block, bool)
        or not isinstance(block, (int, np.integer))
        or block < 1
    ):
        raise ValueError(f"block must be a positive integer, got {block!r}")
    t = _as_samples(x, "x")
    n, d = t.shape
    k = _check_k(k, n)
    shift = 0.0
    if whiten:
        if n <= d:
            raise ValueError(
                f"whitening {d} coordinates needs more than {d} samples, "
                f"got {n}"
            )
        cov = torch.cov(t.T).reshape(d, d)  # ddof = 1, as np.cov
        chol, info = torch.linalg.cholesky_ex(cov)
        if int(info) != 0:
            raise ValueError(
                "the sample covariance is singular (a constant or repeated "
                "coordinate): "
                "whitening needs it positive definite; compress the data first"
            )
        # x ↦ L⁻¹x keeps the distances of x ↦ Σ^{-1/2}x (the maps differ by a
        # rotation)
        t = torch.linalg.solve_triangular(
            chol, (t - t.mean(0)).T, upper=False
        ).T
        shift = float(torch.log(torch.diagonal(chol)).sum())  # ½ log det Σ̂
    r = _kth_neighbour_distance(t, k, block)
    _no_ties(r)
    log_vd = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)
    lead = math.log(n - 1) if convention == "official" else float(digamma(n))
    return float(lead - digamma(k) + log_vd + d * torch.log(r).mean() + shift)


def kl_mi(
    x,
    y,
    k: int = 1,
    *,
    whiten: bool = True,
    convention: str = "paper",
    block: int = 1024,
) -> float:
    r""":math:`\hat I(X;Y)=\hat H(X)+\hat H(Y)-\hat H(X,Y)` in nats, three :func:`kl_entropy` estimates.

    ``x`` has shape ``(n, dx)``, ``y`` shape ``(n, dy)``; each entropy is whitened on its own
    (as in the official ``MutualInfoEstimator``). Unlike :func:`ksg_mi`, the three estimates use
    three different neighbourhoods, so their biases do not cancel: the estimate is poorer at
    small ``n``, which is why Kraskov et al. proposed theirs.
    """
    xt, yt = _as_samples(x, "x"), _as_samples(y, "y")
    if yt.shape[0] != xt.shape[0]:
        raise ValueError(
            f"x and y need the same number of rows, got {xt.shape[0]} and {yt.shape[0]}"
        )
    kw = dict(k=k, whiten=whiten, convention=convention, block=block)
    return (
        kl_entropy(xt, **kw)
        + kl_entropy(yt, **kw)
        - kl_entropy(torch.cat([xt, yt], 1), **kw)
    )


def kl_mi_discrete(
    x,
    labels,
    k: int = 1,
    *,
    whiten: bool = True,
    convention: str = "paper",
    block: int = 1024,
) -> float:
    r""":math:`\hat I(X;Y)=\hat H(X)-\sum_y\hat p(y)\,\hat H(X\mid Y=y)` in nats, for discrete ``labels``.

    Each conditional entropy is a :func:`kl_entropy` of the samples of one class (whitened on
    its own), weighted by the class frequency :math:`\hat p(y)`, as in the official
    ``MutualInfoEstimator(Y_is_discrete=True)``. Every class needs more than ``k`` samples
    (and, with ``whiten``, more than ``d``).
    """
    xt = _as_samples(x, "x")
    yt = _check_labels(labels, xt.shape[0])
    kw = dict(k=k, whiten=whiten, convention=convention, block=block)
    n = xt.shape[0]
    h = kl_entropy(xt, **kw)
    for c in torch.unique(yt):
        members = yt == c
        h -= float(members.sum()) / n * kl_entropy(xt[members], **kw)
    return h
