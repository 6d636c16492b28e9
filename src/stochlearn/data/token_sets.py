r"""Sets of tokens on the sphere, and permutation-invariant targets on them.

An input is a query token :math:`x_0` and :math:`N` key tokens :math:`x_1,\dots,x_N`, all drawn
uniformly from the unit sphere :math:`S^{d-1}`; a target of the form
:math:`\frac1N\sum_iF(x_0,x_i)` does not change when the keys are permuted. With the similarity
:math:`s_i=\sqrt d\,\langle x_0,x_i\rangle` (about standard normal for large :math:`d`):

* :func:`bilinear_target`: :math:`\frac1N\sum_i s_i\,\sqrt d\langle\beta,x_i\rangle`;
* :func:`exp_similarity_target`: :math:`\frac1N\sum_i e^{s_i}`, a function of the
  query–key similarities only.

Introduced in {ref}`ch-random-feature-attention`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bilinear_target", "exp_similarity_target", "query_key_sets"]


def query_key_sets(
    n: int, n_keys: int, dim: int, rng: np.random.Generator
) -> np.ndarray:
    r"""``n`` sets of a query and ``n_keys`` keys, iid uniform on :math:`S^{d-1}`: ``(n, N + 1, d)``."""
    for name, v in (("n", n), ("n_keys", n_keys), ("dim", dim)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if dim < 2:
        raise ValueError("dim must be at least 2")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. run.rng())"
        )
    X = rng.standard_normal((n, n_keys + 1, dim))
    return X / np.linalg.norm(X, axis=2, keepdims=True)


def _sets(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3 or X.shape[1] < 2 or not np.all(np.isfinite(X)):
        raise ValueError("X must be a finite (n, N + 1, d) array with N >= 1")
    return X


def _similarity(X: np.ndarray) -> np.ndarray:
    return np.sqrt(X.shape[2]) * np.einsum("nd,nid->ni", X[:, 0], X[:, 1:])


def bilinear_target(X, beta) -> np.ndarray:
    r""":math:`\frac1N\sum_i s_i\,\sqrt d\langle\beta,x_i\rangle`, for a unit vector :math:`\beta`."""
    X = _sets(X)
    beta = np.asarray(beta, dtype=np.float64)
    if beta.shape != (X.shape[2],) or not np.isclose(np.linalg.norm(beta), 1):
        raise ValueError(f"beta must be a unit vector of length {X.shape[2]}")
    proj = np.sqrt(X.shape[2]) * X[:, 1:] @ beta
    return (_similarity(X) * proj).mean(1)


def exp_similarity_target(X) -> np.ndarray:
    r""":math:`\frac1N\sum_ie^{s_i}`, with :math:`s_i=\sqrt d\langle x_0,x_i\rangle`."""
    return np.exp(_similarity(_sets(X))).mean(1)
