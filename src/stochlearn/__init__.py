"""stochlearn — the small, tested library behind the *Stochastic Learning* book.

Every chapter starts with ``run = sl.setup(profile=profile, seed=seed)`` and ends with
``sl.Claims(run)``; the code a chapter is about lives in a topic module (``sl.optim``,
``sl.nn``, ...) and is shown to the reader with ``sl.show``.
"""

from . import data, exercises, nn, optim, plot, toyfunctions, train
from .claims import CLAIMS_MIME, Claims
from .runtime import PROFILES, Run, progress, quiet, seed_everything, setup
from .show import show

__version__ = "0.1.0"

__all__ = [
    "CLAIMS_MIME", "Claims", "PROFILES", "Run", "data", "exercises", "nn", "optim", "plot", "progress", "quiet",
    "seed_everything", "setup", "show", "toyfunctions", "train", "__version__",
]
