r"""The slab datasets of Shah et al. (2020): features of graded simplicity.

Every coordinate of an input is drawn independently given a balanced label
:math:`y\in\{0,1\}`, and every one of them predicts the label perfectly. A
**linear** coordinate (``"lin"``) is :math:`z=(2y-1)\,(m+(1-m)u)`,
:math:`u\sim U[0,1]`: one threshold at 0 separates the classes with margin
:math:`m`. A **k-slab** coordinate (``"slab3"``, ``"slab5"``, ``"slab7"``)
cuts :math:`[-1,1]` into :math:`k` slabs of width

.. math:: w_k=\frac{2-2(k-1)m}{k},

separated by gaps of :math:`2m`, whose labels alternate outwards from a
class-0 slab at the centre; a point is drawn in one of its class's slabs, with
a random sign. Slab :math:`j\ge1` covers
:math:`|z|\in[(j-\tfrac12)w_k+2mj,\,(j+\tfrac12)w_k+2mj]`. A classifier needs
:math:`k-1` thresholds to use a k-slab coordinate and one to use the linear
one: that count is the paper's measure of simplicity. ``"noise"`` coordinates
are uniform on :math:`[0,1]` and carry no information about the label.

The slab probabilities follow the official generator
(``generate_ub_linslab_data_diffmargin_v2`` in
``harshays/simplicitybiaspitfalls``): in a 5-slab the class-0 points sit in the
centre with probability 3/4, in a 7-slab the class-1 points sit in the inner
slabs with probability 7/8 and the class-0 points in the centre with
probability 1/2.

The observed input is :math:`\tilde x=zR` for a random orthogonal :math:`R`, so
that no input axis is a feature by itself. Whether a trained model uses a set
:math:`S` of features is tested by **S-randomization**: rotate back, permute
the :math:`S` coordinates across the examples (one permutation for all of
them), and rotate again (:func:`randomize_coordinates`). The model's AUC falls
to 1/2 if it relies on :math:`S` alone, and stays at 1 if it ignores
:math:`S`. Introduced in {ref}`ch-simplicity-bias`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "FEATURES",
    "SlabData",
    "slab_width",
    "slab_label",
    "make_slab_dataset",
    "randomize_coordinates",
    "shift_feature",
    "random_rotation",
]

#: The feature kinds a slab dataset is built from.
FEATURES = ("lin", "slab3", "slab5", "slab7", "noise")

# P(slab j | y) for the slabs j = 0 (centre), 1, 2, ... of a k-slab, as in the
# official code.
_SLAB_PROBS = {
    3: {0: [1.0, 0.0], 1: [0.0, 1.0]},
    5: {0: [0.75, 0.0, 0.25], 1: [0.0, 1.0, 0.0]},
    7: {0: [0.5, 0.0, 0.5, 0.0], 1: [0.0, 7 / 8, 0.0, 1 / 8]},
}


@dataclass(frozen=True)
class SlabData:
    """A slab dataset: rotated inputs ``X`` (float32), labels ``y`` (int64),
    the rotation ``R`` (float64), the feature kinds ``spec`` and the margin.

    ``Z`` gives the inputs in the standard (feature) basis, :math:`XR^\\top`.
    """

    X: Tensor
    y: Tensor
    R: np.ndarray
    spec: tuple[str, ...]
    margin: float

    @property
    def Z(self) -> np.ndarray:
        """The features before the rotation, float64, shape ``(n, d)``."""
        return self.X.double().numpy() @ self.R.T


def _check_margin(k: int, margin: float) -> None:
    if isinstance(k, bool) or k not in _SLAB_PROBS:
        raise ValueError(f"k must be 3, 5 or 7 slabs, got {k!r}")
    top = 1 / (k - 1)
    if (
        isinstance(margin, bool)
        or not isinstance(margin, (int, float))
        or not 0 < margin < top
    ):
        raise ValueError(
            f"margin must lie in (0, {top:.3g}) for a {k}-slab, got {margin!r}"
        )


def slab_width(k: int, margin: float) -> float:
    r"""Width :math:`w_k=(2-2(k-1)m)/k` of each slab of a k-slab coordinate."""
    _check_margin(k, margin)
    return (2 - 2 * (k - 1) * margin) / k


def slab_label(z: np.ndarray | Tensor, k: int, margin: float) -> np.ndarray:
    r"""Closed-form Bayes label of one k-slab coordinate: its slab's label.

    The thresholds sit in the middle of the gaps, at
    :math:`|z|=(j-\tfrac12)w_k+(2j-1)m` for :math:`j=1,\dots,(k-1)/2`; the
    label is the number of thresholds below :math:`|z|`, mod 2.
    """
    w = slab_width(k, margin)
    z = np.abs(np.asarray(z, dtype=np.float64))
    cuts = np.array(
        [
            (j - 0.5) * w + (2 * j - 1) * margin
            for j in range(1, (k - 1) // 2 + 1)
        ]
    )
    return (np.searchsorted(cuts, z) % 2).astype(np.int64)


def _sample_slab(
    y: np.ndarray, k: int, margin: float, rng: np.random.Generator
) -> np.ndarray:
    """One k-slab coordinate for the labels ``y``."""
    w = slab_width(k, margin)
    n = len(y)
    j = np.empty(n, dtype=np.int64)  # the slab of each point, 0 = centre
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        probs = _SLAB_PROBS[k][label]
        j[idx] = rng.choice(len(probs), size=len(idx), p=probs)
    u = rng.uniform(size=n)
    sign = rng.choice([-1.0, 1.0], size=n)
    # slab j >= 1 covers |z| in [(j - 1/2) w + 2 m j, (j + 1/2) w + 2 m j]
    start = np.where(j == 0, 0.0, (j - 0.5) * w + 2 * margin * j)
    length = np.where(j == 0, w / 2, w)
    return sign * (start + length * u)


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal ``d × d`` matrix (QR of a Gaussian matrix)."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {rng!r}")
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _is_fraction(p: object) -> bool:
    return (
        not isinstance(p, bool) and isinstance(p, (int, float)) and 0 <= p <= 1
    )


def make_slab_dataset(
    n: int,
    spec: Sequence[str],
    margin: float = 0.1,
    lin_noise: float = 0.0,
    rotate: bool = True,
    seed: int = 0,
) -> SlabData:
    r"""Sample LMS / MS slab data (Shah et al. 2020), randomly rotated.

    ``spec`` lists one feature kind per coordinate, from :data:`FEATURES`:
    LMS-5 in :math:`d=50` is ``["lin"] + ["slab5"] * 49``, MS-(5,7) is
    ``["slab5"] + ["slab7"] * 49``. ``lin_noise`` is the fraction of points
    whose linear coordinate is redrawn uniformly on :math:`[-m, m]` (the
    official ``corrupt_lin_margin``): the linear feature alone then predicts
    the label with accuracy :math:`1-\mathrm{lin\_noise}/2` (the paper's
    :math:`\hat{\mathrm L}`MS datasets), while every slab stays fully
    predictive. With ``rotate=False`` the rotation is the identity.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if (
        isinstance(spec, str)
        or not isinstance(spec, Sequence)
        or len(spec) == 0
    ):
        raise ValueError(
            f"spec must be a non-empty list of feature kinds, got {spec!r}"
        )
    bad = [s for s in spec if s not in FEATURES]
    if bad:
        raise ValueError(
            f"unknown feature kinds {bad}: expected some of {FEATURES}"
        )
    if not _is_fraction(lin_noise):
        raise ValueError(
            f"lin_noise must be a fraction in [0, 1], got {lin_noise!r}"
        )
    for kind in set(spec) - {"lin", "noise"}:
        _check_margin(int(kind[4:]), margin)
    _check_margin(3, margin)  # 0 < m < 1/2, also for the linear coordinate
    if not isinstance(rotate, bool):
        raise ValueError(f"rotate must be True or False, got {rotate!r}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    Z = np.empty((n, len(spec)))
    noisy = rng.choice(n, size=int(round(n * lin_noise)), replace=False)
    for col, kind in enumerate(spec):
        if kind == "lin":
            u = rng.uniform(size=n)
            Z[:, col] = (2 * y - 1) * (margin + (1 - margin) * u)
            Z[noisy, col] = rng.uniform(-margin, margin, size=len(noisy))
        elif kind == "noise":
            Z[:, col] = rng.uniform(size=n)
        else:
            Z[:, col] = _sample_slab(y, int(kind[4:]), margin, rng)
    d = len(spec)
    R = random_rotation(d, rng) if rotate else np.eye(d)
    X = torch.tensor(Z @ R, dtype=torch.float32)
    return SlabData(
        X, torch.tensor(y, dtype=torch.int64), R, tuple(spec), float(margin)
    )


def _is_index(c: object, d: int) -> bool:
    return (
        not isinstance(c, bool)
        and isinstance(c, (int, np.integer))
        and 0 <= c < d
    )


def _rotation_for(
    X: Tensor, R: np.ndarray | Tensor, dtype: torch.dtype | None
) -> Tensor:
    """``R`` as a tensor, after checking that it fits the inputs ``X``."""
    if not isinstance(X, Tensor) or X.dim() != 2:
        raise ValueError(
            f"X must be a 2-D tensor of inputs, got {type(X).__name__}"
        )
    R = torch.as_tensor(np.asarray(R), dtype=dtype)
    d = X.shape[1]
    if R.shape != (d, d):
        raise ValueError(
            f"R must be a {d} x {d} rotation, got shape {tuple(R.shape)}"
        )
    return R


def randomize_coordinates(
    X: Tensor, R: np.ndarray | Tensor, coords: Sequence[int], seed: int = 0
) -> Tensor:
    r"""Permute chosen features across the examples (S-randomization).

    :math:`\tilde x^{(S)}=\Pi_S(\tilde xR^\top)\,R`: rotate back to the
    features, apply one random permutation of the examples to all features in
    ``S = coords`` at once, and rotate again, as the official
    ``get_randomized_loader`` does. The :math:`S` features keep their joint
    distribution but lose their link to the label and to the other
    features. The permutation is ``torch.randperm(n)`` from a generator
    seeded with ``seed``. Returns a tensor of ``X``'s dtype.
    """
    R = _rotation_for(X, R, torch.float64)
    d = X.shape[1]
    coords = list(coords)
    if any(not _is_index(c, d) for c in coords):
        raise ValueError(
            f"coords must be feature indices in [0, {d}), got {coords!r}"
        )
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(X.shape[0], generator=gen)
    Z = X.double() @ R.T  # the features
    Z[:, coords] = Z[perm][:, coords]
    return (Z @ R).to(X.dtype)


def shift_feature(
    X: Tensor, R: np.ndarray | Tensor, feature: int, amount: Tensor | float
) -> Tensor:
    r"""Move inputs along one feature's direction in input space.

    Feature :math:`j` of :math:`\tilde x=zR` lies along the row
    :math:`r_j=e_jR` of :math:`R`, so :math:`\tilde x+a\,r_j` changes
    :math:`z_j` by :math:`a` and leaves every other feature as it is.
    ``amount`` is one number or one per example (shape ``(n,)``).
    """
    R = _rotation_for(X, R, X.dtype if isinstance(X, Tensor) else None)
    d = X.shape[1]
    if not _is_index(feature, d):
        raise ValueError(
            f"feature must be an index in [0, {d}), got {feature!r}"
        )
    a = torch.as_tensor(amount, dtype=X.dtype)
    if a.dim() > 1 or (a.dim() == 1 and a.shape[0] != X.shape[0]):
        raise ValueError(
            f"amount must be a number or one per example, "
            f"got shape {tuple(a.shape)}"
        )
    if not torch.isfinite(a).all():
        raise ValueError("amount must be finite")
    direction = R[feature]  # e_j R, a unit vector
    return X + (a[:, None] if a.dim() == 1 else a) * direction
