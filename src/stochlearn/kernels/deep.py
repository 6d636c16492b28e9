r"""Infinitely wide *and* deep networks on the sphere: dual activations, deep kernels, and the
classical rules that kernel regression with them becomes.

On the unit sphere the infinite-width recursions act on inner products through the *dual
activation* :math:`\xi(\rho)=\mathbb E[\phi(u)\phi(v)]` (:func:`dual`, :func:`deep_nngp`,
:func:`deep_ntk`, and the log-domain :func:`deep_kernel_table` for thousands of layers);
infinitely deep kernels turn kernel regression into classical rules (:func:`kernel_classifier`,
:func:`singular_kernel_classifier`, :func:`monomial_deep_logscore`,
:func:`deep_kernel_logscore`), the subject of {ref}`ch-wide-deep-optimality` (Radhakrishnan,
Belkin and Uhler, 2022).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DUALS",
    "KernelTable",
    "deep_kernel_logscore",
    "deep_kernel_matrix",
    "deep_kernel_table",
    "deep_nngp",
    "deep_ntk",
    "dual",
    "kernel_classifier",
    "monomial_deep_logscore",
    "singular_exponent",
    "singular_kernel_classifier",
]


# --------------------------------------------------------------------------------------------
# dual activations and infinitely deep kernels on the sphere (wide-deep-optimality)
# --------------------------------------------------------------------------------------------
def _poly(coefs: dict[int, float]):
    def xi(r):
        return sum(c * r**k for k, c in coefs.items())

    def dxi(r):
        return sum(k * c * r ** (k - 1) for k, c in coefs.items())

    return xi, dxi


_ARCSIN_23 = math.asin(2 / 3)

#: Dual activations :math:`\xi(\rho)=\mathbb E[\phi(u)\phi(v)]` (``corr(u, v) = ρ``, normalised
#: so that :math:`\xi(1)=1`) and their derivatives, as in the official code of Radhakrishnan,
#: Belkin and Uhler (``uhlerlab/inf_depth_ntks``, ``models.py``). ``"sine_<a>"`` and
#: ``"monomial_<k>"`` are read by :func:`dual`.
DUALS: dict[str, tuple[Callable, Callable]] = {
    "relu": (
        lambda r: (r * (math.pi - np.arccos(r)) + np.sqrt(1 - r**2)) / math.pi,
        lambda r: (math.pi - np.arccos(r)) / math.pi,
    ),
    "erf": (
        lambda r: np.arcsin(2 * r / 3) / _ARCSIN_23,
        lambda r: (2 / 3) / np.sqrt(1 - 4 * r**2 / 9) / _ARCSIN_23,
    ),
    "2d_opt": _poly({7: 0.5, 1: 0.5}),
    "3d_opt": _poly({3: 0.5, 1: 0.5}),
    "5d_opt": _poly({3: 0.25, 2: 0.5, 1: 0.25}),
    "9d_opt": _poly({3: 1 / 16, 2: 7 / 8, 1: 1 / 16}),
}


def dual(name: str) -> tuple[Callable, Callable]:
    r"""The dual activation :math:`\xi` and its derivative :math:`\xi'` named ``name``.

    Names: the keys of ``DUALS``, ``"sine_<a>"`` (:math:`\sinh(a\rho)/\sinh a`, the dual of
    :math:`\sin`-type activations with parameter :math:`a`) and ``"monomial_<k>"``
    (:math:`\rho^k`, the dual of the :math:`k`-th normalised Hermite polynomial).
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")
    if name in DUALS:
        return DUALS[name]
    kind, _, param = name.partition("_")
    try:
        value = float(param)
    except ValueError:
        value = float("nan")
    if kind == "sine" and math.isfinite(value) and value > 0:
        a = value
        return (
            lambda r: np.sinh(a * r) / math.sinh(a),
            lambda r: a * np.cosh(a * r) / math.sinh(a),
        )
    if kind == "monomial" and value == int(value) and value >= 1:
        k = int(value)
        return (lambda r: r**k, lambda r: k * r ** (k - 1))
    raise ValueError(
        f"unknown dual activation {name!r}: use one of {sorted(DUALS)}, 'sine_<a>' (a > 0) "
        "or 'monomial_<k>' (k >= 1)"
    )


def _check_depth(depth) -> int:
    if (
        isinstance(depth, bool)
        or not isinstance(depth, (int, np.integer))
        or depth < 0
    ):
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    return int(depth)


def deep_nngp(rho, name: str, depth: int) -> np.ndarray:
    r"""The NNGP kernel of an infinitely wide MLP of ``depth`` layers.

    On the unit sphere: :math:`\Sigma^{(0)}=\rho=\langle x,x'\rangle`,
    :math:`\Sigma^{(\ell)}=\xi(\Sigma^{(\ell-1)})`, clipped to :math:`[-1,1]`
    at every step (as the official ``nngp_kernel``). ``rho`` is an array of
    inner products of unit vectors.
    """
    xi, _ = dual(name)
    s = np.clip(np.asarray(rho, dtype=np.float64), -1, 1)
    for _ in range(_check_depth(depth)):
        s = np.clip(xi(s), -1, 1)
    return s


def deep_ntk(rho, name: str, depth: int, normalize: bool = True) -> np.ndarray:
    r"""The NTK of an infinitely wide MLP of ``depth`` layers on the unit sphere.

    :math:`\Theta^{(0)}=\Sigma^{(0)}=\rho`, then
    :math:`\Theta^{(\ell)}=\Sigma^{(\ell)}+\Theta^{(\ell-1)}\,\xi'(\Sigma^{(\ell-1)})` (the
    official ``ntk_kernel``). Its diagonal grows as :math:`\sum_j\xi'(1)^j`; with ``normalize``
    every step divides by the diagonal's value, so that deep kernels do not overflow (a
    classifier's sign does not change).
    """
    xi, dxi = dual(name)
    s = np.clip(np.asarray(rho, dtype=np.float64), -1, 1)
    k = s.copy()
    inv = 1.0  # 1 / the diagonal of the previous layer
    d1 = float(dxi(np.float64(1.0)))
    for _ in range(_check_depth(depth)):
        s_new = xi(s)
        if (
            normalize
        ):  # Θ/D with D_ℓ = 1 + D_{ℓ-1} ξ'(1), never forming D itself
            c = 1.0 / (inv + d1)  # D_{ℓ-1} / D_ℓ
            k = s_new * (c * inv) + c * k * dxi(s)
            inv = c * inv
        else:
            k = s_new + k * dxi(s)
        s = s_new
    return k


# --------------------------------------------------------------------------------------------
# very deep kernels, tabulated in the log domain
# --------------------------------------------------------------------------------------------
_TINY = (
    1e-100  # below this |Σ|, ξ(Σ) = ξ'(0) Σ to double precision (when ξ(0) = 0)
)


@dataclass(frozen=True)
class KernelTable:
    r"""A deep kernel tabulated in the log domain: ``sign · exp(log_abs)`` at ``t``.

    Made by :func:`deep_kernel_table`. The grid ``t`` is :math:`\log(1-\rho)` for
    :math:`\rho\ge0` and :math:`-\log(1+\rho)` for :math:`\rho<0`, from :math:`\log 10^{-15}`
    to :math:`-\log 10^{-15}`: fine near :math:`\rho=\pm1`, where deep kernels change fastest.
    """

    name: str
    depth: int
    kind: str
    t: np.ndarray
    log_abs: np.ndarray
    sign: np.ndarray

    def log_abs_at(self, one_minus_rho) -> tuple[np.ndarray, np.ndarray]:
        """``(log|K|, sign K)`` at ``1 − ρ`` (interpolated in ``t``; 0 gives ρ = 1)."""
        e = np.clip(np.asarray(one_minus_rho, dtype=np.float64), 0.0, 2.0)
        with np.errstate(divide="ignore"):
            t = np.where(e <= 1, np.log(e), -np.log(2 - e))
        la = np.interp(t, self.t, self.log_abs)
        sg = np.where(np.interp(t, self.t, self.sign) >= 0, 1.0, -1.0)
        at_one = e <= 0  # the same point: the normalised kernel is 1
        return np.where(at_one, 0.0, la), np.where(at_one, 1.0, sg)


def _signed_logaddexp(la, sa, lb, sb):
    """log|a + b| and sign(a + b) from the logs and signs of a and b."""
    from scipy.special import logsumexp

    out, sign = logsumexp(
        np.stack([la, lb]), axis=0, b=np.stack([sa, sb]), return_sign=True
    )
    return out, np.where(sign == 0, 1.0, sign)


def deep_kernel_table(
    name: str, depth: int, kind: str = "nngp", n_grid: int = 20_000
) -> KernelTable:
    r"""The depth-``depth`` NNGP or normalised NTK, tabulated in logs.

    The recursions of :func:`deep_nngp` and :func:`deep_ntk`, run on a grid
    of ``n_grid`` values of :math:`t\approx\log(1-\rho)` (:class:`KernelTable`;
    fine near :math:`\rho=\pm1`, where deep kernels are singular) for
    :math:`\log|\Sigma|` and :math:`\log|\Theta/D|`, so that kernels of
    thousands of layers, below :math:`10^{-300}` away from :math:`\rho=1`, do
    not underflow. Cost :math:`O(\text{n\_grid}\cdot L)`, whatever the number
    of points. Linear interpolation is accurate to about :math:`10^{-3}`
    (relative) except within a grid cell of a sign change of the kernel (at
    :math:`\rho=0` for odd duals), where only the absolute error is small.
    """
    xi, dxi = dual(name)
    depth = _check_depth(depth)
    if kind not in ("nngp", "ntk"):
        raise ValueError(f"kind must be 'nngp' or 'ntk', got {kind!r}")
    if isinstance(n_grid, bool) or not isinstance(n_grid, int) or n_grid < 2:
        raise ValueError(f"n_grid must be an integer >= 2, got {n_grid!r}")
    t = np.linspace(math.log(1e-15), -math.log(1e-15), n_grid)
    s = np.where(t <= 0, 1 - np.exp(t), np.exp(-t) - 1)  # Σ^(0) = ρ
    ls, ss = np.log(np.abs(s)), np.sign(s)  # log|Σ|, sign Σ
    lk, sk = ls.copy(), ss.copy()  # log|Θ/D|, sign
    vanishes = float(xi(np.float64(0.0))) == 0.0
    log_d0 = math.log(abs(float(dxi(np.float64(0.0)))) or 1e-300)
    d1 = float(dxi(np.float64(1.0)))
    log_D = 0.0  # log D_ℓ, D_ℓ = 1 + ξ'(1) D_{ℓ-1}: Θ's value at ρ = 1
    for _ in range(depth):
        tiny = vanishes & (ls < math.log(_TINY))
        with np.errstate(divide="ignore"):
            ls_dxi = np.where(tiny, log_d0, np.log(np.abs(dxi(s))))
            s_dxi = np.where(tiny, 1.0, np.sign(dxi(s)))
            s_new = np.clip(xi(s), -1, 1)
            ls_new = np.where(tiny, ls + log_d0, np.log(np.abs(s_new)))
        ss = np.where(tiny, ss, np.sign(s_new))
        if kind == "ntk":  # Θ_ℓ / D_ℓ = (Σ_ℓ + Θ_{ℓ-1} ξ'(Σ_{ℓ-1})) / D_ℓ
            log_D_new = float(np.logaddexp(0.0, log_D + math.log(d1)))
            lk, sk = _signed_logaddexp(
                ls_new - log_D_new,
                ss,
                lk + ls_dxi + log_D - log_D_new,
                sk * s_dxi,
            )
            log_D = log_D_new
        s, ls = np.where(tiny, 0.0, s_new), ls_new
    if kind == "nngp":
        lk, sk = ls, ss
    return KernelTable(name, depth, kind, t, lk, sk)


def _sq_dist(X1: np.ndarray, X2: np.ndarray) -> np.ndarray:
    """‖x − x'‖² between the rows, from the differences (exact for close pairs)."""
    return ((X1[:, None, :] - X2[None, :, :]) ** 2).sum(-1)


def deep_kernel_matrix(X1, X2, table: KernelTable) -> np.ndarray:
    r"""The tabulated deep kernel between the rows of ``X1`` and ``X2`` (unit vectors).

    Values below :math:`10^{-308}` underflow to 0: for kernels that vanish away from
    :math:`\rho=1` use :func:`deep_kernel_logscore`.
    """
    A, _, B = _train_test(X1, np.ones(len(np.atleast_2d(X1))), X2)
    if not isinstance(table, KernelTable):
        raise ValueError("table must be a KernelTable (deep_kernel_table)")
    la, sg = table.log_abs_at(0.5 * _sq_dist(A, B))  # 1 − ρ on the sphere
    return sg * np.exp(la)


def deep_kernel_logscore(
    X_train, y_train, X_test, table: KernelTable
) -> np.ndarray:
    r"""The infinitely deep kernel classifier: the sign of a vote.

    :math:`\operatorname{sign}\sum_iy_iK(x,x_i)`. For a kernel that vanishes
    away from :math:`\rho=1` (``table`` from :func:`deep_kernel_table` at
    great depth), :math:`K(X,X)\approx I` and kernel regression reduces to
    this sum, evaluated in the log domain. :math:`1-\rho=\lVert x-x_i\rVert^2/2`
    for unit vectors, computed from the differences to keep close pairs exact.
    """
    Xtr, y, Xte = _train_test(X_train, y_train, X_test)
    if not isinstance(table, KernelTable):
        raise ValueError("table must be a KernelTable (deep_kernel_table)")
    la, sg = table.log_abs_at(0.5 * _sq_dist(Xte, Xtr))  # 1 − ρ
    from scipy.special import logsumexp

    # sign Σ_i y_i K(x, x_i) = sign Σ_i (y_i sign K) exp(log|K|)
    _, sign = logsumexp(la, axis=1, b=y[None, :] * sg, return_sign=True)
    return np.where(sign >= 0, 1, -1)


# --------------------------------------------------------------------------------------------
# classifiers: kernel regression and its infinitely deep limits
# --------------------------------------------------------------------------------------------
def _labels_pm1(y, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n,) or not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError(f"y_train must hold {n} labels in {{-1, +1}}")
    return y


def _train_test(
    X_train, y_train, X_test
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X_train`` (n, d), its labels ±1 and ``X_test`` (m, d), checked, as float64 arrays."""
    Xtr = np.asarray(X_train, dtype=np.float64)
    Xte = np.asarray(X_test, dtype=np.float64)
    if (
        Xtr.ndim != 2
        or Xte.ndim != 2
        or Xtr.shape[1] != Xte.shape[1]
        or len(Xtr) < 1
    ):
        raise ValueError("X_train and X_test must be (n, d) and (m, d)")
    y = _labels_pm1(y_train, len(Xtr))
    return Xtr, y, Xte


def kernel_classifier(
    K_train, y_train, K_test, unit_diagonal: bool = True
) -> np.ndarray:
    r"""The sign of the kernel-regression interpolant.

    :math:`\operatorname{sign}\big(y^\top K(X,X)^{-1}K(X,x)\big)`: ``K_train``
    is ``(n, n)``, ``y_train`` holds labels :math:`\pm1`, ``K_test`` is
    ``(n, m)``; returns ``m`` labels, a score of exactly 0 counting as
    :math:`+1`. With ``unit_diagonal`` the diagonal of ``K_train`` is set to
    1 first, as the official ``solve_kr`` does for NNGP kernels (whose
    diagonal is 1 up to rounding).
    """
    Kt = np.array(K_train, dtype=np.float64)
    Ks = np.asarray(K_test, dtype=np.float64)
    n = Kt.shape[0] if Kt.ndim == 2 else -1
    if (
        Kt.ndim != 2
        or Kt.shape != (n, n)
        or Ks.ndim != 2
        or Ks.shape[0] != n
        or n < 1
    ):
        raise ValueError("K_train must be (n, n) and K_test (n, m)")
    y = _labels_pm1(y_train, n)
    if unit_diagonal:
        np.fill_diagonal(Kt, 1.0)
    try:
        alpha = np.linalg.solve(Kt, y)
    except np.linalg.LinAlgError:
        raise ValueError("K_train is singular") from None
    return np.where(alpha @ Ks >= 0, 1, -1)


def singular_kernel_classifier(
    X_train, y_train, X_test, alpha: float
) -> np.ndarray:
    r"""The singular-kernel rule, :math:`\operatorname{sign}\sum_i y_i w_i`.

    Weights :math:`w_i=\lVert x-x_i\rVert^{-\alpha}`. With :math:`\alpha=d` in
    :math:`\mathbb R^d` (or :math:`d-1` on the sphere :math:`S^{d-1}`), the
    Hilbert-kernel estimate of Devroye et al., which is consistent: its
    error tends to the Bayes error (the official ``devroye_classifier``). As
    :math:`\alpha\to\infty` it becomes the 1-nearest-neighbour rule.
    Computed in the log domain (a test point on a training point takes its
    label); a score of 0 gives :math:`+1`.
    """
    Xtr, y, Xte = _train_test(X_train, y_train, X_test)
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float))
        or not alpha > 0
    ):
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    d2 = _sq_dist(Xte, Xtr)
    with np.errstate(divide="ignore"):
        logw = (
            -0.5 * alpha * np.log(d2)
        )  # log ‖x − x_i‖^{-α}; +inf on a training point
    return _sign_of_log_scores(logw, y)


def _sign_of_log_scores(logw: np.ndarray, y: np.ndarray) -> np.ndarray:
    """sign(Σ_{y=+1} e^{logw} − Σ_{y=−1} e^{logw}), row by row, without overflow."""
    from scipy.special import logsumexp

    with np.errstate(invalid="ignore"):
        pos = logsumexp(np.where(y > 0, logw, -np.inf), axis=1)
        neg = logsumexp(np.where(y < 0, logw, -np.inf), axis=1)
    inf_pos = np.isposinf(logw) & (y > 0)
    inf_neg = np.isposinf(logw) & (y < 0)
    on_pos, on_neg = inf_pos.any(1), inf_neg.any(1)  # on a training point
    pos = np.where(on_pos, np.inf, pos)
    neg = np.where(on_neg, np.inf, neg)
    both = on_pos & on_neg  # duplicated training points with both labels
    return np.where(both, 1, np.where(pos >= neg, 1, -1))


def monomial_deep_logscore(
    X_train, y_train, X_test, k: int, depth: int
) -> np.ndarray:
    r"""The infinitely deep :math:`\rho^k` NNGP classifier, computed in the log domain.

    The depth-``depth`` NNGP of the dual :math:`\xi(\rho)=\rho^k` is :math:`\rho^{k^L}`, which
    underflows to 0 in floating point long before the limit. For such a kernel
    :math:`K(X,X)\approx I`, so kernel regression reduces to
    :math:`\operatorname{sign}\sum_iy_i\rho_i^{k^L}`, evaluated here as log-sum-exp of
    :math:`k^L\log\rho_i` per class (points with :math:`\rho_i\le0` contribute nothing for
    even powers' logs; odd :math:`k` keeps the sign, and those terms are negligible). As
    :math:`L\to\infty` the largest :math:`\rho_i`, the nearest neighbour, wins: the 1-NN rule.
    """
    Xtr, y, Xte = _train_test(X_train, y_train, X_test)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    depth = _check_depth(depth)
    rho = np.clip(Xte @ Xtr.T, -1, 1)
    with np.errstate(divide="ignore"):
        logw = float(k) ** depth * np.log(np.where(rho > 0, rho, 0.0))
    return _sign_of_log_scores(logw, y)


def singular_exponent(name: str, kind: str = "nngp") -> float:
    r"""The exponent :math:`\alpha` of the singular kernel that a deep net's classifier becomes.

    Near :math:`\rho=1` the depth-:math:`L` NNGP of a dual with :math:`\xi(0)=0` and
    :math:`\xi'(0)<1<\xi'(1)` behaves, relative to far points, like :math:`(1-\rho)^{-\alpha/2}`
    with :math:`\alpha=2\log(1/\xi'(0))/\log\xi'(1)` (1, 2, 4, 8 for ``2d_opt`` … ``9d_opt``,
    the :math:`d-1` of the sphere :math:`S^{d-1}` they are designed for); the NTK at finite
    depth adds 2 for close pairs. (Our derivation from the recursion, checked numerically in the
    chapter.) :math:`\xi'(0)=0` gives ``inf``, the 1-nearest-neighbour limit; a dual with
    :math:`\xi(0)>0` (an activation with non-zero mean, such as ReLU) has no singular limit
    (its deep kernel tends to a constant off the diagonal: majority vote), and raises.
    """
    xi, dxi = dual(name)
    if kind not in ("nngp", "ntk"):
        raise ValueError(f"kind must be 'nngp' or 'ntk', got {kind!r}")
    x0 = float(xi(np.float64(0.0)))
    d0, d1 = float(dxi(np.float64(0.0))), float(dxi(np.float64(1.0)))
    if not (x0 == 0 and 0 <= d0 < 1 < d1):
        raise ValueError(
            f"{name}: the rule needs ξ(0) = 0 and 0 <= ξ'(0) < 1 < ξ'(1), got ξ(0) = {x0:g}, "
            f"ξ'(0) = {d0:g}, ξ'(1) = {d1:g}"
        )
    if d0 == 0:  # the 1-nearest-neighbour limit
        return math.inf
    alpha = 2 * math.log(1 / d0) / math.log(d1)
    return alpha + (2 if kind == "ntk" else 0)
