r"""Random-feature networks: frozen random hidden parameters, a linear readout.

A *random net* draws the hidden parameters :math:`(a_j,b_j)` of a shallow network once, from a
fixed distribution, freezes them, and fits only the output weights:

.. math::

    g_N(x)=\sum_{j=1}^{N}c_j\,\sigma\big(a_j^\top x-b_j\big).

With the hidden parameters in a bounded box :math:`[-\lambda,\lambda]^{d+1}` (*bandlimited*
random weights), the network can approximate only functions whose frequency content the
features reach (Li, Sonoda, Cao, Wang and Liang, 2023). Introduced in
{ref}`ch-bandlimited-random-weights`.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_rng, integer

__all__ = [
    "RF_ACTIVATIONS",
    "random_features",
    "rfa_features",
    "ridge_cv",
    "ridge_readout",
    "sample_qk_weights",
    "sample_uniform_box",
]


def _relu(t: np.ndarray) -> np.ndarray:
    return np.maximum(t, 0.0)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    from scipy.special import expit  # overflow-safe

    return expit(t)


#: Activations for :func:`random_features`, by name.
RF_ACTIVATIONS = {"sigmoid": _sigmoid, "tanh": np.tanh, "relu": _relu}


def _check_counts(**counts) -> None:
    for name, v in counts.items():
        integer(v, name)


def sample_uniform_box(
    n_features: int, dim: int, lam: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    r"""Hidden parameters drawn iid from :math:`U[-\lambda,\lambda]`.

    Returns ``(A, b)``: ``A`` of shape ``(n_features, dim)`` (the weights
    :math:`a_j`), ``b`` of shape ``(n_features,)`` (the biases :math:`b_j`).
    The bandlimited setting: every hidden parameter lies in
    :math:`[-\lambda,\lambda]`.
    """
    _check_counts(n_features=n_features, dim=dim)
    if (
        isinstance(lam, bool)
        or not isinstance(lam, (int, float, np.floating))
        or not np.isfinite(lam)
        or lam <= 0
    ):
        raise ValueError(f"lam must be a positive number, got {lam!r}")
    check_rng(rng)
    A = rng.uniform(-lam, lam, size=(n_features, dim))
    b = rng.uniform(-lam, lam, size=n_features)
    return A, b


def random_features(X, A, b, activation: str = "sigmoid") -> np.ndarray:
    r"""The feature matrix :math:`H_{ij}=\sigma(a_j^\top x_i-b_j)`, ``(n, N)``.

    ``X`` is ``(n, d)`` (or ``(n,)`` for 1-D inputs), ``A`` is ``(N, d)``,
    ``b`` is ``(N,)``; ``activation`` is a key of ``RF_ACTIVATIONS``.
    """
    X = np.asarray(X, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if (
        X.ndim != 2
        or A.ndim != 2
        or A.shape[1] != X.shape[1]
        or b.shape != (len(A),)
    ):
        raise ValueError("X must be (n, d), A (N, d) and b (N,)")
    if activation not in RF_ACTIVATIONS:
        names = sorted(RF_ACTIVATIONS)
        raise ValueError(
            f"activation must be one of {names}, got {activation!r}"
        )
    return RF_ACTIVATIONS[activation](X @ A.T - b)


def ridge_readout(
    H, y, rel_reg: float = 1e-10, abs_reg: float | None = None
) -> np.ndarray:
    r"""Output weights by ridge regression through the SVD of ``H``.

    :math:`c=V\,\mathrm{diag}\big(s_k/(s_k^2+\alpha)\big)\,U^\top y` for
    :math:`H=USV^\top`, the minimiser of
    :math:`\lVert Hc-y\rVert^2+\alpha\lVert c\rVert^2`. The penalty is
    :math:`\alpha=\text{rel\_reg}\cdot s_{\max}^2` unless ``abs_reg`` gives
    it directly; :math:`\alpha=0` is the minimum-norm least-squares solution.
    Directions with :math:`s_k` below rounding,
    :math:`\epsilon\max(n,N)\,s_{\max}`, are dropped (as
    ``numpy.linalg.lstsq`` does). A larger :math:`\alpha` bounds the output
    norm :math:`\lVert c\rVert` more tightly.
    """
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if H.ndim != 2 or y.shape != (H.shape[0],) or H.size == 0:
        raise ValueError("H must be (n, N) and y (n,)")
    reg = rel_reg if abs_reg is None else abs_reg
    if (
        isinstance(reg, bool)
        or not isinstance(reg, (int, float))
        or not reg >= 0
    ):
        raise ValueError(f"the penalty must be a number >= 0, got {reg!r}")
    U, s, Vt = np.linalg.svd(H, full_matrices=False)
    alpha = rel_reg * s[0] ** 2 if abs_reg is None else abs_reg
    kept = s > np.finfo(np.float64).eps * max(H.shape) * s[0]
    gain = np.where(kept, s / (s**2 + alpha + ~kept), 0.0)
    return Vt.T @ (gain * (U.T @ y))


# --------------------------------------------------------------------------------------------
# random-feature attention (Fu, Guo, Bai and Mei, 2023)
# --------------------------------------------------------------------------------------------
def sample_qk_weights(
    n_heads: int, dim: int, mean_scale: float, rng: np.random.Generator
) -> np.ndarray:
    r"""Frozen query–key products :math:`W_m=G_m+\mu\sqrt d\,I`, ``(M, d, d)``.

    :math:`G_m` has iid :math:`\mathcal N(0,1)` entries; ``mean_scale``
    :math:`\mu=0` gives zero-mean random attention, :math:`\mu>0` shifts the
    mean along the identity, so that the score :math:`x_0^\top W_mx_i` of unit
    tokens tracks their similarity :math:`\sqrt d\langle x_0,x_i\rangle`.
    """
    _check_counts(n_heads=n_heads, dim=dim)
    if (
        isinstance(mean_scale, bool)
        or not isinstance(mean_scale, (int, float))
        or not np.isfinite(mean_scale)
    ):
        raise ValueError(
            f"mean_scale must be a finite number, got {mean_scale!r}"
        )
    check_rng(rng)
    G = rng.standard_normal((n_heads, dim, dim))
    return G + mean_scale * np.sqrt(dim) * np.eye(dim)


def rfa_features(X, W, value_bias: bool = True) -> np.ndarray:
    r"""Random-feature attention, the features of a layer of frozen heads.

    :math:`\phi_m=\frac1N\sum_i\mathrm{relu}(x_0^\top W_mx_i)\,\tilde x_i`.
    ``X`` is ``(n, N + 1, d)``: a query token ``X[:, 0]`` and ``N`` keys
    ``X[:, 1:]``; ``W`` is ``(M, d, d)``. One attention head per :math:`W_m`
    with frozen query–key product and a trainable value vector
    :math:`v_m`: the model :math:`\sum_m\langle v_m,\phi_m(X)\rangle` is linear
    in the values, and ``rfa_features`` returns the ``(n, M (d + 1))``
    matrix of the :math:`\phi_m`, with :math:`\tilde x_i=[x_i;1]` (or
    :math:`x_i` without ``value_bias``). Invariant to permuting the keys.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    if (
        X.ndim != 3
        or X.shape[1] < 2
        or W.ndim != 3
        or W.shape[1:] != (X.shape[2],) * 2
    ):
        raise ValueError("X must be (n, N + 1, d) with N >= 1 and W (M, d, d)")
    q, keys = X[:, 0], X[:, 1:]
    scores = np.einsum("na,mab,nib->nmi", q, W, keys)  # x_0ᵀ W_m x_i
    att = np.maximum(scores, 0.0) / keys.shape[1]
    if value_bias:
        keys = np.concatenate([keys, np.ones(keys.shape[:2] + (1,))], axis=2)
    phi = np.einsum("nmi,nid->nmd", att, keys)
    return phi.reshape(len(X), -1)


def ridge_cv(
    F_train,
    y_train,
    F_test,
    y_test,
    lambdas,
    rng: np.random.Generator,
    val_frac: float = 0.2,
) -> tuple[float, float]:
    r"""Ridge regression with the penalty chosen on a validation split.

    Standardises the features (with the training statistics) and centres the
    targets; fits on a random ``1 - val_frac`` of the training set for every
    penalty :math:`\lambda n` in ``lambdas`` (times the number of fitting
    points), keeps the one with the smallest validation error, refits on the
    whole training set, and returns ``(normalised test MSE, chosen
    penalty)``: the MSE divided by the variance of ``y_test`` (1 for
    predicting the mean). One eigendecomposition of :math:`F^\top F` per fit
    serves every penalty.
    """
    F = np.asarray(F_train, dtype=np.float64)
    Ft = np.asarray(F_test, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    yt = np.asarray(y_test, dtype=np.float64)
    if (
        F.ndim != 2
        or Ft.ndim != 2
        or F.shape[1] != Ft.shape[1]
        or y.shape != (len(F),)
        or yt.shape != (len(Ft),)
        or len(F) < 5
        or len(Ft) < 2
    ):
        raise ValueError(
            "expected F_train (n, p) with n >= 5, y_train (n,), F_test (m, p), y_test (m,)"
        )
    lams = np.asarray(lambdas, dtype=np.float64).ravel()
    if len(lams) == 0 or not np.all(np.isfinite(lams)) or (lams <= 0).any():
        raise ValueError("lambdas must be positive numbers")
    if not isinstance(val_frac, float) or not 0 < val_frac < 1:
        raise ValueError(
            f"val_frac must be a number in (0, 1), got {val_frac!r}"
        )
    check_rng(rng)
    mu, sd = F.mean(0), F.std(0) + 1e-12
    F, Ft = (F - mu) / sd, (Ft - mu) / sd
    ym = y.mean()

    def path(A, b):
        """c(λ) for every λ from one eigendecomposition of AᵀA."""
        s2, V = np.linalg.eigh(A.T @ A)
        r = V.T @ (A.T @ (b - ym))
        return lambda lam: V @ (r / (np.maximum(s2, 0.0) + lam * len(A)))

    idx = rng.permutation(len(F))
    n_val = max(1, int(val_frac * len(F)))
    val, fit = idx[:n_val], idx[n_val:]
    coef = path(F[fit], y[fit])
    errs = [np.mean((F[val] @ coef(lam) + ym - y[val]) ** 2) for lam in lams]
    best = float(lams[int(np.argmin(errs))])
    c = path(F, y)(best)
    return float(np.mean((Ft @ c + ym - yt) ** 2) / yt.var()), best
