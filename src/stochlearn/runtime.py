"""Profiles, seeding, threads and devices: the first call of every chapter.

Every chapter starts with::

    run = sl.setup(profile=profile, seed=seed)
    steps = run.pick(quick=200, book=2_000, full=20_000)

``setup`` resolves the *profile* (``quick`` for CI smoke runs, ``book`` for the published
book, ``full`` for paper-scale runs on a GPU), seeds every random number generator, chooses
a thread count and a device, and sets the book's plot style. Introduced in {ref}`ch-diffgrad`.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "PROFILES",
    "Run",
    "setup",
    "seed_everything",
    "resolve_profile",
    "quiet",
    "progress",
]

#: The three profiles every chapter supports, from cheapest to most expensive.
PROFILES: tuple[str, ...] = ("quick", "book", "full")

#: Environment variables read by :func:`setup` (documented in the book's "How to use" page).
ENV_PROFILE = "STOCHLEARN_PROFILE"
ENV_DEVICE = "STOCHLEARN_DEVICE"
ENV_THREADS = "STOCHLEARN_THREADS"
ENV_QUIET = "STOCHLEARN_QUIET"

T = TypeVar("T")


def resolve_profile(profile: str | None = None) -> str:
    """Return the active profile: the argument, else ``$STOCHLEARN_PROFILE``, else ``"book"``.

    Raises
    ------
    ValueError
        If the profile is not one of :data:`PROFILES`.
    """
    if profile is None or profile == "":
        profile = os.environ.get(ENV_PROFILE) or "book"
    if not isinstance(profile, str) or profile.strip().lower() not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r}: expected one of {', '.join(map(repr, PROFILES))} "
            f"(set by the `profile` parameter or the {ENV_PROFILE} environment variable)"
        )
    return profile.strip().lower()


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    Also asks cuDNN for deterministic kernels, so that a rerun with the same seed gives the same
    numbers on the same machine.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def quiet() -> bool:
    """True when progress bars should stay silent: under CI, or when ``$STOCHLEARN_QUIET`` is set."""
    flag = os.environ.get(ENV_QUIET, "")
    if flag.strip().lower() in {"0", "false", "no"}:
        return False
    return bool(flag) or bool(os.environ.get("CI"))


def progress(iterable: Iterable[T], **kwargs: Any) -> Iterable[T]:
    """Wrap ``iterable`` in a ``tqdm.auto`` progress bar that is disabled when :func:`quiet`."""
    with (
        warnings.catch_warnings()
    ):  # without ipywidgets tqdm.auto warns, then falls back to text bars
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    kwargs.setdefault("disable", quiet())
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)


def _default_threads(profile: str) -> int:
    env = os.environ.get(ENV_THREADS)
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(
                f"{ENV_THREADS} must be a positive integer, got {env!r}"
            ) from None
        if n < 1:
            raise ValueError(
                f"{ENV_THREADS} must be a positive integer, got {env!r}"
            )
        return n
    cores = os.cpu_count() or 1
    # quick and book run small models: a second thread gains little and stalls badly when the
    # other core is busy (measured 6-12x slower on a loaded 2-core machine); the book build
    # gets its parallelism from running chapters side by side. full uses every core.
    return {"quick": 1, "book": 1, "full": cores}[profile]


def _resolve_device(
    device: str | torch.device | None, profile: str
) -> torch.device:
    if device is None or device == "":
        device = os.environ.get(ENV_DEVICE) or None
    if device is None:
        # Small models are faster (and bitwise reproducible) on the CPU; only `full` goes to a GPU.
        wanted = "cuda" if profile == "full" else "cpu"
    else:
        wanted = str(device)
    try:
        dev = torch.device(wanted)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        if device is not None:
            warnings.warn(
                f"device {wanted!r} requested but CUDA is not available: using the CPU",
                stacklevel=3,
            )
        dev = torch.device("cpu")
    if dev.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(
            f"unsupported device {dev}: expected 'cpu', 'cuda' or 'mps'"
        )
    return dev


@dataclass(frozen=True)
class Run:
    """What :func:`setup` decided: the profile, the seed, the device and the thread count."""

    profile: str
    seed: int
    device: torch.device
    threads: int = 1

    @property
    def runs_paper_scale(self) -> bool:
        """Whether the chapter's *At paper scale* cell runs.

        It runs at ``full`` with the paper's sizes, and at ``quick`` with tiny sizes, so that
        CI exercises its code path and it cannot rot; the ``book`` profile skips it.
        """
        return self.profile in ("quick", "full")

    def pick(self, *, quick: T, book: T, full: T) -> T:
        """Return the value for the active profile, e.g. ``run.pick(quick=2, book=15, full=100)``."""
        return {"quick": quick, "book": book, "full": full}[self.profile]

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh CPU ``torch.Generator`` seeded with ``seed + offset`` (for explicit, local RNG use)."""
        if (
            isinstance(offset, bool)
            or not isinstance(offset, (int, np.integer))
            or offset < 0
        ):
            raise ValueError(
                f"offset must be a non-negative integer, got {offset!r}"
            )
        return torch.Generator().manual_seed(self.seed + int(offset))

    def rng(self, offset: int = 0) -> np.random.Generator:
        """A fresh NumPy ``Generator`` seeded with ``seed + offset``."""
        if (
            isinstance(offset, bool)
            or not isinstance(offset, (int, np.integer))
            or offset < 0
        ):
            raise ValueError(
                f"offset must be a non-negative integer, got {offset!r}"
            )
        return np.random.default_rng(self.seed + int(offset))


def setup(
    profile: str | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> Run:
    """Prepare a chapter run and return its :class:`Run`.

    * ``profile``: ``"quick"``, ``"book"`` or ``"full"``; ``None`` reads ``$STOCHLEARN_PROFILE``,
      falling back to ``"book"``.
    * ``seed``: seeds Python, NumPy and torch (CPU and CUDA) through :func:`seed_everything`.
    * ``device``: ``None`` means ``$STOCHLEARN_DEVICE`` if set, else CUDA for ``full`` when a GPU is
      present and the CPU otherwise; a requested but missing GPU falls back to the CPU with a warning.

    Threads: 1 for ``quick`` and ``book`` (small models; the book build runs chapters side by
    side instead), all cores for ``full``; ``$STOCHLEARN_THREADS`` overrides. The limit holds
    for torch and for the BLAS libraries behind NumPy, SciPy and scikit-learn (through
    threadpoolctl, where installed): two chapters side by side, each with a BLAS that spins up a
    thread per core, ran up to five times slower.
    The book's plot style (:func:`stochlearn.plot.use_style`) is applied too.
    """
    prof = resolve_profile(profile)
    seed_everything(seed)
    threads = _default_threads(prof)
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except (
        ImportError
    ):  # scikit-learn brings it; without it BLAS keeps its own default
        pass
    else:
        threadpool_limits(limits=threads)
    dev = _resolve_device(device, prof)
    from .plot import use_style

    use_style()
    return Run(profile=prof, seed=int(seed), device=dev, threads=threads)
