"""The book's plot style and small figure helpers.

One style for every chapter: seaborn's theme with a colour-blind palette, an *opaque white*
background (figures stay readable on the book's dark theme) and sizes that fit the book's text
column. Introduced in {ref}`ch-diffgrad`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt

__all__ = ["use_style", "palette", "COLUMN_WIDTH_IN", "label_panels"]

#: Width of the book's text column in inches at the figure dpi below (about 760 px).
COLUMN_WIDTH_IN = 7.6
_DPI = 100


def palette(n: int = 10) -> list[tuple[float, float, float]]:
    """The book's colour-blind-safe palette (seaborn ``"colorblind"``), ``n`` colours."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    import seaborn as sns

    return list(sns.color_palette("colorblind", n))


def use_style() -> None:
    """Apply the book's style to matplotlib (idempotent; :func:`stochlearn.runtime.setup` calls it)."""
    import seaborn as sns

    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette="colorblind",
        font_scale=0.95,
    )
    matplotlib.rcParams.update(
        {
            "figure.figsize": (COLUMN_WIDTH_IN, COLUMN_WIDTH_IN * 0.55),
            "figure.dpi": _DPI,
            "savefig.dpi": 2 * _DPI,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "savefig.bbox": "tight",
            "figure.constrained_layout.use": True,
            "axes.titlesize": "medium",
            "axes.titleweight": "bold",
            "legend.frameon": True,
            "legend.framealpha": 0.9,
            "lines.linewidth": 1.8,
            "image.cmap": "viridis",
        }
    )
    try:  # crisp figures in notebooks and in the book
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover
        pass


def label_panels(
    axes: Sequence[plt.Axes], labels: str = "abcdefghijklmnopqrstuvwxyz"
) -> None:
    """Write (a), (b), ... in the top-left corner of each panel."""
    axes = list(axes)
    if len(axes) > len(labels):
        raise ValueError(
            f"got {len(axes)} panels but only {len(labels)} labels"
        )
    for ax, lab in zip(axes, labels):
        ax.text(
            0.01,
            0.99,
            f"({lab})",
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontweight="bold",
        )
