"""stochlearn — the small, tested library behind the *Stochastic Learning* book.

Every chapter starts with ``run = sl.setup(profile=profile, seed=seed)`` and ends with
``sl.Claims(run)``; the code a chapter is about lives in a topic module (``sl.optim``,
``sl.nn``, ``sl.diffusion``, ...) and is shown to the reader with ``sl.show``.

Topic modules are imported on first use (``sl.diffusion`` imports ``stochlearn.diffusion``
when a chapter first touches it), so that ``import stochlearn`` stays fast and optional
dependencies are only needed by the chapters that use them.
"""

from __future__ import annotations

import importlib
from typing import Any

from .claims import CLAIMS_MIME, Claims
from .runtime import PROFILES, Run, progress, quiet, seed_everything, setup
from .show import show

__version__ = "0.1.0"

#: Topic modules, loaded lazily on attribute access.
SUBMODULES = (
    "binary",
    "bo",
    "continual",
    "coresets",
    "criticality",
    "curvature",
    "data",
    "diffusion",
    "dkm",
    "ensembles",
    "estimators",
    "evolution",
    "exercises",
    "gan",
    "gp",
    "hyper",
    "info",
    "kernels",
    "landscape",
    "local",
    "mcmc",
    "memory",
    "metrics",
    "nn",
    "np",
    "optim",
    "pfn",
    "potentials",
    "plot",
    "priors",
    "prototypes",
    "regimes",
    "rl",
    "rmt",
    "schedules",
    "stats",
    "toyfunctions",
    "train",
    "uncertainty",
    "vi",
)

__all__ = [
    "CLAIMS_MIME",
    "Claims",
    "PROFILES",
    "Run",
    "progress",
    "quiet",
    "seed_everything",
    "setup",
    "show",
    "__version__",
    *SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'stochlearn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SUBMODULES))
