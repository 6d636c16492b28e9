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

__all__ = [
    "RF_ACTIVATIONS",
    "random_features",
    "ridge_readout",
    "sample_uniform_box",
]


def _relu(t: np.ndarray) -> np.ndarray:
    return np.maximum(t, 0.0)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    from scipy.special import expit  # overflow-safe

    return expit(t)


#: Activations for :func:`random_features`, by name.
RF_ACTIVATIONS = {"sigmoid": _sigmoid, "tanh": np.tanh, "relu": _relu}


def sample_uniform_box(
    n_features: int, dim: int, lam: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    r"""Hidden parameters drawn iid from :math:`U[-\lambda,\lambda]`.

    Returns ``(A, b)``: ``A`` of shape ``(n_features, dim)`` (the weights
    :math:`a_j`), ``b`` of shape ``(n_features,)`` (the biases :math:`b_j`).
    The bandlimited setting: every hidden parameter lies in
    :math:`[-\lambda,\lambda]`.
    """
    for name, v in (("n_features", n_features), ("dim", dim)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if (
        isinstance(lam, bool)
        or not isinstance(lam, (int, float, np.floating))
        or not np.isfinite(lam)
        or lam <= 0
    ):
        raise ValueError(f"lam must be a positive number, got {lam!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. run.rng())"
        )
    A = rng.uniform(-lam, lam, size=(n_features, dim))
    b = rng.uniform(-lam, lam, size=n_features)
    return A, b


def random_features(X, A, b, activation: str = "sigmoid") -> np.ndarray:
    r"""The feature matrix :math:`H_{ij}=\sigma(a_j^\top x_i-b_j)`, ``(n, N)``.

    ``X`` is ``(n, d)`` (or ``(n,)`` for 1-D inputs), ``A`` is ``(N, d)``,
    ``b`` is ``(N,)``; ``activation`` is a key of :data:`RF_ACTIVATIONS`.
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
