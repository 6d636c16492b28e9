r"""Two Dirichlet classes on the sphere, with their Bayes classifier (Radhakrishnan, Belkin and
Uhler, 2022, official ``dataset.py``).

Class :math:`+1` draws simplex points :math:`s\sim\mathrm{Dir}(\alpha_1)`, class :math:`-1`
:math:`s\sim\mathrm{Dir}(\alpha_2)`; each point is mapped to the unit sphere by
:math:`x=s/\lVert s\rVert` (a bijection of the simplex onto the positive orthant of the sphere, so
the Bayes rule computed on the simplex is the Bayes rule on the sphere).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dirichlet_sphere", "dirichlet_bayes_classifier"]


def _check_alphas(alpha1, alpha2) -> tuple[np.ndarray, np.ndarray]:
    a1 = np.asarray(alpha1, dtype=np.float64)
    a2 = np.asarray(alpha2, dtype=np.float64)
    if a1.ndim != 1 or a1.shape != a2.shape or len(a1) < 2:
        raise ValueError(
            "alpha1 and alpha2 must be 1-D of the same length >= 2"
        )
    if not (
        np.all(np.isfinite(a1))
        and np.all(np.isfinite(a2))
        and (a1 > 0).all()
        and (a2 > 0).all()
    ):
        raise ValueError("the Dirichlet parameters must be finite and > 0")
    return a1, a2


def _check_prior(prior1) -> float:
    if (
        isinstance(prior1, bool)
        or not isinstance(prior1, (int, float))
        or not 0 < prior1 < 1
    ):
        raise ValueError(f"prior1 must be a number in (0, 1), got {prior1!r}")
    return float(prior1)


def dirichlet_sphere(
    n: int, alpha1, alpha2, prior1: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``n`` labelled points on the sphere: ``(X, y, S)``, shuffled.

    As the official ``get_dirichlet_data``, the class sizes are fixed:
    ``int(n * prior1)`` points of class :math:`+1` from :math:`\mathrm{Dir}(\alpha_1)`, the rest of
    class :math:`-1` from :math:`\mathrm{Dir}(\alpha_2)`. ``X`` (``(n, d)``) holds the points on
    the sphere, ``y`` the labels :math:`\pm1`, ``S`` the simplex points (for
    :func:`dirichlet_bayes_classifier`). The official code draws training and test points in one
    such call and splits the shuffled set, so that the training set's class counts vary: draw
    ``n_train + n_test`` points and split them to do the same. It also redraws the set when two
    points' inner product rounds to 1 or is exactly 0; we do not.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    a1, a2 = _check_alphas(alpha1, alpha2)
    prior1 = _check_prior(prior1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. run.rng())"
        )
    n1 = int(n * prior1)
    S = np.concatenate([rng.dirichlet(a1, n1), rng.dirichlet(a2, n - n1)])
    y = np.concatenate([np.ones(n1), -np.ones(n - n1)])
    order = rng.permutation(n)
    S, y = S[order], y[order]
    return S / np.linalg.norm(S, axis=1, keepdims=True), y, S


def dirichlet_bayes_classifier(S, alpha1, alpha2, prior1: float) -> np.ndarray:
    r"""The Bayes rule: :math:`+1` where the prior-weighted class density is larger.

    That is, where :math:`p_1\,\mathrm{Dir}(s;\alpha_1)>(1-p_1)\,\mathrm{Dir}(s;\alpha_2)`, else
    :math:`-1`.

    ``S`` holds simplex points (rows summing to 1), as returned by :func:`dirichlet_sphere`.
    Ties give :math:`-1`, as in the official code.
    """
    from scipy.stats import dirichlet

    a1, a2 = _check_alphas(alpha1, alpha2)
    prior1 = _check_prior(prior1)
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[1] != len(a1) or len(S) < 1:
        raise ValueError(f"S must have shape (m, {len(a1)})")
    if not np.allclose(S.sum(1), 1) or (S <= 0).any():
        raise ValueError(
            "the rows of S must be points of the open simplex (positive, summing to 1)"
        )
    S = S / S.sum(1, keepdims=True)  # exactly on the simplex for scipy
    p1 = dirichlet.logpdf(S.T, a1) + np.log(prior1)
    p2 = dirichlet.logpdf(S.T, a2) + np.log(1 - prior1)
    return np.where(p1 > p2, 1, -1)
