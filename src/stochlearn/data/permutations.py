r"""Permutations of binary vectors: the training set of standard basis vectors and k-hot tests.

A permutation matrix :math:`P` acts on :math:`x\in\{0,1\}^k\setminus\{0\}` by moving its ones.
The training set is the :math:`k` standard basis vectors :math:`e_i` with targets
:math:`Pe_i`, the test set the :math:`\binom{k}{s}` vectors with :math:`s` ones, normalised to
unit length as the network sees them (the targets stay binary). Semantics of ``dataset.py`` in
the official code of Giapitzakis et al. (2025). Introduced in {ref}`ch-permutation-learning`.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import NamedTuple

import numpy as np

from .._validate import check_rng, integer

__all__ = ["PermutationTask", "khot_inputs", "permutation_task"]


class PermutationTask(NamedTuple):
    """A permutation matrix and its training set: ``X_train = I``, ``Y_train[i] = P e_i``."""

    P: np.ndarray
    X_train: np.ndarray
    Y_train: np.ndarray

    def targets(self, X) -> np.ndarray:
        r"""Binary targets :math:`P\,\mathbb 1[x\neq0]` of (possibly normalised) inputs ``(n, k)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.P.shape[0]:
            raise ValueError(f"X must have shape (n, {self.P.shape[0]})")
        return (X != 0).astype(np.float64) @ self.P.T


def permutation_task(k: int, rng: np.random.Generator) -> PermutationTask:
    """A uniformly random :math:`k\\times k` permutation matrix (rows of :math:`I` shuffled)."""
    k = integer(k, "k", lo=2)
    check_rng(rng)
    P = np.eye(k)[rng.permutation(k)]
    X = np.eye(k)
    return PermutationTask(P, X, X @ P.T)


def khot_inputs(k: int, nnz: int, normalise: bool = True) -> np.ndarray:
    r"""All :math:`\binom{k}{\rm nnz}` binary vectors with ``nnz`` ones, each of norm 1 if ``normalise``."""
    k = integer(k, "k", lo=2)
    if isinstance(nnz, bool) or not isinstance(nnz, (int, np.integer)):
        raise ValueError(f"nnz must be an integer, got {nnz!r}")
    if not 1 <= nnz <= k:
        raise ValueError(f"nnz must lie in [1, k={k}], got {nnz}")
    if math.comb(k, int(nnz)) > 10**6:
        raise ValueError(f"C({k}, {nnz}) is more than 10^6 inputs")
    idx = np.array(list(combinations(range(k), int(nnz))))
    X = np.zeros((len(idx), k))
    np.put_along_axis(X, idx, 1.0, axis=1)
    return X / np.sqrt(nnz) if normalise else X
