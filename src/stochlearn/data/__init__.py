"""Offline datasets for the chapters.

Everything here works without a network: data that ships with scikit-learn, or generators.
Larger datasets (CIFAR-10) have optional loaders that read a local copy, download it only when
asked to and a network exists, and always verify the archive's checksum. Introduced in
{ref}`ch-diffgrad`. The synthetic slab datasets of Shah et al. (2020) live in
:mod:`stochlearn.data.slabs`, the pairs with a known mutual information of Butakov et al. (2024)
in :mod:`stochlearn.data.known_mi`, two Dirichlet classes on the sphere in
:mod:`stochlearn.data.dirichlet`, one-dimensional regression targets in
:mod:`stochlearn.data.regression1d`, sets of query and key tokens in
:mod:`stochlearn.data.token_sets`, permutations of binary vectors in
:mod:`stochlearn.data.permutations`, Gaussian classes on a ring with a known posterior in
:mod:`stochlearn.data.mixtures`.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "slabs",
    "augment",
    "known_mi",
    "dirichlet",
    "regression1d",
    "token_sets",
    "permutations",
    "mixtures",
    "Split",
    "digits_split",
    "digits_parity",
    "make_depleted_sign",
    "make_feature_noise_patches",
    "add_opposing_signal",
    "data_dir",
    "file_digest",
    "download",
    "cifar10",
    "CIFAR10_CLASSES",
]

ENV_DATA = "STOCHLEARN_DATA"


class Split(NamedTuple):
    """A train/test split as tensors: features ``float32``, labels ``int64``."""

    X_train: Tensor
    X_test: Tensor
    y_train: Tensor
    y_test: Tensor

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(torch.cat([self.y_train, self.y_test]).max()) + 1


def digits_split(
    test_size: float = 0.3, seed: int = 0, flat: bool = True
) -> Split:
    """scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes), pixels scaled to [0, 1].

    The split is stratified by class, so both halves keep the class proportions, and depends only
    on ``seed`` (``random_state`` of :func:`sklearn.model_selection.train_test_split`). With
    ``flat=False`` images have shape ``(n, 1, 8, 8)`` for convolutional nets.
    """
    if (
        not isinstance(test_size, (int, float))
        or isinstance(test_size, bool)
        or not 0.0 < test_size < 1.0
    ):
        raise ValueError(
            f"test_size must be a fraction in (0, 1), got {test_size!r}"
        )
    if (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer))
        or seed < 0
    ):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=int(seed)
    )
    if not flat:
        Xtr, Xte = Xtr.reshape(-1, 1, 8, 8), Xte.reshape(-1, 1, 8, 8)
    return Split(
        torch.from_numpy(Xtr),
        torch.from_numpy(Xte),
        torch.from_numpy(ytr).long(),
        torch.from_numpy(yte).long(),
    )


def digits_parity(
    P: int, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""The digits as a parity task: ``P`` training images, the other ``1797 - P`` for testing.

    Labels are :math:`+1` for even digits and :math:`-1` for odd ones (the official code's
    ``mnist_parity`` on scikit-learn's 8×8 digits). Pixels are standardised with one mean and one
    standard deviation over all pixels, so that :math:`\mathbb E\lVert x\rVert^2=64`. The
    training points are a random subset fixed by ``seed``. Returns float32
    ``(X_train, y_train, X_test, y_test)``. Introduced in {ref}`ch-sgd-noise-regimes`.
    """
    if (
        isinstance(P, bool)
        or not isinstance(P, (int, np.integer))
        or not 2 <= P <= 1787
    ):
        raise ValueError(
            f"P must be an integer in [2, 1787] (10 digits are kept for testing), got {P!r}"
        )
    if (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer))
        or seed < 0
    ):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    from sklearn.datasets import load_digits

    X, digit = load_digits(return_X_y=True)
    X = ((X - X.mean()) / X.std()).astype(np.float32)
    y = np.where(digit % 2 == 0, 1.0, -1.0).astype(np.float32)
    perm = np.random.default_rng(int(seed)).permutation(len(X))
    tr, te = perm[:P], perm[P:]
    t = torch.from_numpy
    return t(X[tr]), t(y[tr]), t(X[te]), t(y[te])


def make_depleted_sign(
    P: int,
    d: int,
    chi: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Points whose density vanishes at the decision boundary as :math:`|x_1|^\chi`;
    labels :math:`y=\mathrm{sign}(x_1)`.

    The first coordinate has density :math:`\rho(x_1)\propto|x_1|^{\chi}e^{-x_1^2/2}`, drawn
    as a random sign times :math:`\sqrt{2G}` with :math:`G\sim\mathrm{Gamma}((\chi+1)/2)`;
    the other :math:`d-1` coordinates are :math:`\mathcal N(0,1)`. :math:`\chi=0` is the standard
    Gaussian; larger :math:`\chi` leaves fewer points near the boundary :math:`x_1=0`. As
    ``depleted_sign`` in the official code of Sclocchi et al. Introduced in
    {ref}`ch-sgd-noise-regimes`. Returns ``X`` of shape ``(P, d)`` and ``y`` of shape ``(P,)``.
    """
    for name, v in (("P", P), ("d", d)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if (
        isinstance(chi, bool)
        or not isinstance(chi, (int, float, np.integer, np.floating))
        or not np.isfinite(chi)
        or chi <= -1
    ):
        raise ValueError(f"chi must be a finite number > -1, got {chi!r}")
    rng = (
        rng
        if isinstance(rng, np.random.Generator)
        else np.random.default_rng(rng)
    )
    X = rng.standard_normal((P, d))
    x1 = np.sqrt(2.0 * rng.gamma((float(chi) + 1.0) / 2.0, size=P))
    X[:, 0] = np.where(rng.random(P) < 0.5, -x1, x1)
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    return X, y


def make_feature_noise_patches(
    n: int,
    d: int = 200,
    rho: float = 0.5,
    weak_norm: float = 0.4,
    strong_norm: float = 2.0,
    noise_std: float = 0.25,
    strong: bool = True,
    generator: torch.Generator | int | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Feature–noise patches: a weak feature everywhere, a strong one in some.

    Each example has three patches of dimension ``d`` and a label
    :math:`y=\pm1` (a fair coin):

    .. math:: x=\bigl[\,y\,v,\;\; b\,y\,u,\;\; \xi\,\bigr],\qquad
       v=\text{weak\_norm}\cdot e_1,\quad u=\text{strong\_norm}\cdot e_2,\quad
       b\sim\mathrm{Bernoulli}(\rho),

    and :math:`\xi\sim\mathcal N(0,\text{noise\_std}^2)` on coordinates
    :math:`3..d` (zero on :math:`e_1, e_2`: noise is orthogonal to both
    features). ``strong=False`` sets :math:`b=0` for every example: the
    weak-feature-only test data of Lu et al. (2024). Returns float32 ``X`` of
    shape ``(n, 3, d)``, ``y`` of shape ``(n,)`` and the boolean
    ``has_strong`` (:math:`b=1`). Our construction of the paper's data model;
    introduced in {ref}`ch-benign-oscillation`.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 3:
        raise ValueError(f"d must be an integer >= 3, got {d!r}")
    if not 0.0 <= float(rho) <= 1.0:
        raise ValueError(f"rho must be in [0, 1], got {rho!r}")
    for name, v in (
        ("weak_norm", weak_norm),
        ("strong_norm", strong_norm),
        ("noise_std", noise_std),
    ):
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
    gen = (
        generator
        if isinstance(generator, torch.Generator)
        else torch.Generator().manual_seed(
            int(generator)
            if generator is not None
            else int(torch.randint(2**31, ()))
        )
    )
    n = int(n)
    y = torch.randint(0, 2, (n,), generator=gen).float() * 2 - 1
    b = torch.rand(n, generator=gen) < float(rho)
    if not strong:
        b = torch.zeros(n, dtype=torch.bool)
    X = torch.zeros(n, 3, int(d))
    X[:, 0, 0] = y * float(weak_norm)
    X[:, 1, 1] = torch.where(b, y * float(strong_norm), 0.0)
    X[:, 2, 2:] = float(noise_std) * torch.randn(n, int(d) - 2, generator=gen)
    return X, y, b


def add_opposing_signal(
    X: Tensor,
    y: Tensor,
    classes: Sequence[int] = (3, 8),
    frac: float = 0.15,
    magnitude: float = 12.0,
    k: int = 4,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    r"""Plant an *opposing signal*: one large feature shared by several classes.

    Appends ``k`` columns to ``X``. For each class ``classes[j]`` a random
    ``int(frac * n_j)`` of its examples (group ``j + 1``) get the value
    ``magnitude`` in every new column; all other entries are zero:

    .. math:: \tilde x_i=\bigl[\,x_i,\; c\,\mathbb 1[i\in G]\,\mathbf 1_k\bigr],
       \qquad G=G_1\cup G_2\cup\dots

    With two classes the same large feature says "class a" in group 1 and
    "class b" in group 2: the two groups' gradients along it oppose each
    other, a planted version of the opposing signals of Rosenfeld and
    Risteski (2024) (a reviewer's example: sky behind planes and behind
    boats). One class gives a large feature
    that opposes nothing (a control). Returns ``X_aug`` of shape
    ``(n, d + k)`` and ``group`` (int64: 0 for the rest, ``j + 1`` for the
    examples planted in ``classes[j]``). The draw uses a local generator
    seeded with ``seed``. Introduced in {ref}`ch-opposing-signals`.
    """
    if not isinstance(X, Tensor) or X.dim() != 2 or not X.is_floating_point():
        raise ValueError("X must be a 2-D floating-point tensor (n, d)")
    if (
        not isinstance(y, Tensor)
        or y.dim() != 1
        or y.dtype != torch.long
        or y.shape[0] != X.shape[0]
    ):
        raise ValueError("y must be an int64 tensor of shape (n,) matching X")
    if (
        not isinstance(classes, (list, tuple))
        or not classes
        or any(
            isinstance(c, bool) or not isinstance(c, (int, np.integer))
            for c in classes
        )
        or len(set(int(c) for c in classes)) != len(classes)
    ):
        raise ValueError(
            f"classes must be a non-empty list of distinct "
            f"class labels, got {classes!r}"
        )
    if not (isinstance(frac, (int, float)) and 0.0 < float(frac) <= 1.0):
        raise ValueError(f"frac must be in (0, 1], got {frac!r}")
    if not (isinstance(magnitude, (int, float)) and np.isfinite(magnitude)):
        raise ValueError(
            f"magnitude must be a finite number, got {magnitude!r}"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    gen = torch.Generator().manual_seed(int(seed))
    group = torch.zeros(X.shape[0], dtype=torch.long)
    for j, c in enumerate(classes):
        members = torch.nonzero(y.cpu() == int(c)).flatten()
        n_pick = int(float(frac) * members.numel())
        if n_pick == 0:
            raise ValueError(
                f"class {c} has {members.numel()} examples: "
                f"frac={frac} of them picks none"
            )
        order = torch.randperm(members.numel(), generator=gen)
        group[members[order[:n_pick]]] = j + 1
    extra = torch.zeros(X.shape[0], int(k), dtype=X.dtype, device=X.device)
    extra[group.to(X.device) > 0] = float(magnitude)
    return torch.cat([X, extra], dim=1), group


# --- optional downloads ---------------------------------------------------------------------------


def data_dir() -> Path:
    """Where optional datasets live: ``$STOCHLEARN_DATA``, else ``~/.cache/stochlearn``."""
    return Path(
        os.environ.get(ENV_DATA) or Path.home() / ".cache" / "stochlearn"
    ).expanduser()


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``"sha256"`` or ``"md5"``), read in chunks."""
    if algorithm not in {"sha256", "md5"}:
        raise ValueError(
            f"unknown checksum algorithm {algorithm!r}: expected 'sha256' or 'md5'"
        )
    if not isinstance(
        path, (str, os.PathLike)
    ):  # open(0) would read standard input
        raise ValueError(f"path must be a file path, got {type(path).__name__}")
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike,
    checksum: str,
    algorithm: str = "sha256",
    timeout: float = 60,
) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right checksum is already there.

    The file is written under a temporary name and moved into place only once its checksum
    matches. Raises ``RuntimeError`` with a clear message when there is no network, and
    ``ValueError`` when the checksum does not match.
    """
    dest = Path(dest)
    if dest.exists() and file_digest(dest, algorithm) == checksum:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout) as resp,
            open(tmp, "wb") as out,
        ):  # noqa: S310
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            f"could not download {url} ({err}). Without a network, place the file at {dest} by hand."
        ) from None
    got = file_digest(tmp, algorithm)
    if got != checksum:
        tmp.unlink(missing_ok=True)
        raise ValueError(
            f"checksum mismatch for {url}: expected {algorithm} {checksum}, got {got}"
        )
    tmp.replace(dest)
    return dest


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#: The publisher gives an MD5 sum for the archive, so that is what we verify.
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_CIFAR_DIR = "cifar-10-batches-bin"
_CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
_CIFAR_TEST = ["test_batch.bin"]


def _read_cifar_bin(paths: list[Path]) -> tuple[Tensor, Tensor]:
    rows = []
    for p in paths:
        raw = np.fromfile(p, dtype=np.uint8)
        if raw.size % 3073:
            raise ValueError(
                f"{p} is not a CIFAR-10 binary batch (size {raw.size} is not a multiple of 3073)"
            )
        rows.append(raw.reshape(-1, 3073))
    data = np.concatenate(rows)
    y = torch.from_numpy(data[:, 0].astype(np.int64))
    if int(y.max()) > 9:
        raise ValueError("CIFAR-10 labels must be in 0..9")
    X = torch.from_numpy(
        data[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    )
    return X, y


def cifar10(
    root: str | os.PathLike | None = None,
    download_ok: bool = False,
    md5: str = CIFAR10_MD5,
) -> Split:
    """CIFAR-10 (binary version) as a :class:`Split` of ``(n, 3, 32, 32)`` images in [0, 1].

    Looks for ``<root>/cifar-10-batches-bin/``, else for the archive ``<root>/cifar-10-binary.tar.gz``
    (checksum verified, then extracted), else downloads it when ``download_ok`` is true. ``root``
    defaults to :func:`data_dir`. The binary format needs no unpickling.
    """
    root = Path(root) if root is not None else data_dir()
    folder = root / _CIFAR_DIR
    if not all((folder / f).exists() for f in _CIFAR_TRAIN + _CIFAR_TEST):
        archive = root / "cifar-10-binary.tar.gz"
        if not archive.exists():
            if not download_ok:
                raise FileNotFoundError(
                    f"CIFAR-10 not found under {root}. Pass download_ok=True (needs a network), or put "
                    f"cifar-10-binary.tar.gz there, or set ${ENV_DATA}."
                )
            download(CIFAR10_URL, archive, md5, algorithm="md5")
        got = file_digest(archive, "md5")
        if got != md5:
            raise ValueError(
                f"checksum mismatch for {archive}: expected md5 {md5}, got {got}"
            )
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(root, filter="data")
    X_train, y_train = _read_cifar_bin([folder / f for f in _CIFAR_TRAIN])
    X_test, y_test = _read_cifar_bin([folder / f for f in _CIFAR_TEST])
    return Split(X_train, X_test, y_train, y_test)


# the data sets' own modules, after the helpers they import from here
from . import (  # noqa: E402
    augment,  # image augmentations; torch only
    dirichlet,  # two Dirichlet classes on the sphere; NumPy and SciPy
    known_mi,  # pairs with a known mutual information; NumPy and SciPy
    mixtures,  # Gaussian classes on a ring, with their posterior; NumPy only
    permutations,  # permutations of binary vectors; NumPy only
    regression1d,  # 1-D regression targets; NumPy only
    slabs,  # the slab datasets; NumPy and torch only
    token_sets,  # query and key tokens on the sphere; NumPy only
)
