"""Claim checks: the assertions that end every chapter.

A chapter tests its paper's headline findings on its own small experiment::

    claims = sl.Claims(run)
    claims.check("diffGrad ends in the global minimum of F1", abs(x + 0.3) < 0.05, f"x = {x:.3f}")
    claims.report()

:meth:`Claims.report` renders a ✓/✗ table, publishes the results as display data of MIME type
``application/vnd.stochlearn.claims+json`` (a list of ``{"claim", "passed", "detail"}``; the
book's status page and the chapter runner read it from the executed notebook), and raises an
``AssertionError`` naming every failed claim. Introduced in {ref}`ch-diffgrad`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Claims", "ClaimResult", "CLAIMS_MIME"]

#: MIME type under which :meth:`Claims.report` publishes its results.
CLAIMS_MIME = "application/vnd.stochlearn.claims+json"


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "passed": self.passed, "detail": self.detail}


def _as_bool(passed: Any) -> bool:
    if isinstance(passed, (bool, np.bool_)):
        return bool(passed)
    if hasattr(passed, "numel") and hasattr(passed, "item"):  # a one-element torch tensor
        if passed.numel() != 1:
            raise ValueError("`passed` must be a single truth value, got a tensor with several elements")
        return bool(passed.item())
    if isinstance(passed, np.ndarray):
        if passed.size != 1:
            raise ValueError("`passed` must be a single truth value, got an array with several elements")
        return bool(passed.item())
    if isinstance(passed, (int, np.integer)) and passed in (0, 1):
        return bool(passed)
    raise ValueError(f"`passed` must be a bool (the outcome of a comparison), got {type(passed).__name__}")


class Claims:
    """Collect a chapter's claim checks, render them as a table and fail loudly on any ✗."""

    def __init__(self, run: Any = None) -> None:
        self.run = run
        self.results: list[ClaimResult] = []

    def check(self, claim: str, passed: Any, detail: str = "") -> bool:
        """Record one claim; ``passed`` is the outcome of the test, ``detail`` the measured values."""
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError("`claim` must be a non-empty string that states the finding")
        if not isinstance(detail, str):
            raise ValueError(f"`detail` must be a string with the measured values, got {type(detail).__name__}")
        ok = _as_bool(passed)
        self.results.append(ClaimResult(claim.strip(), ok, detail))
        return ok

    @property
    def failed(self) -> list[ClaimResult]:
        return [r for r in self.results if not r.passed]

    def to_json(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.results]

    # --- rendering -------------------------------------------------------------------------
    def _context(self) -> str:
        if self.run is None:
            return ""
        return f"profile {getattr(self.run, 'profile', '?')}, seed {getattr(self.run, 'seed', '?')}"

    def to_text(self) -> str:
        lines = [f"Claim checks ({self._context()})" if self.run is not None else "Claim checks"]
        for r in self.results:
            lines.append(f"  {'✓' if r.passed else '✗'} {r.claim}" + (f"  [{r.detail}]" if r.detail else ""))
        n_ok = len(self.results) - len(self.failed)
        lines.append(f"{n_ok}/{len(self.results)} claims hold")
        return "\n".join(lines)

    def to_html(self) -> str:
        rows = []
        for r in self.results:
            mark, colour = ("✓", "#1b7837") if r.passed else ("✗", "#b2182b")
            rows.append(
                f'<tr><td style="color:{colour};font-weight:bold;text-align:center">{mark}</td>'
                f"<td>{html.escape(r.claim)}</td><td><code>{html.escape(r.detail)}</code></td></tr>"
            )
        n_ok = len(self.results) - len(self.failed)
        caption = f"{n_ok}/{len(self.results)} claims hold" + (f" ({html.escape(self._context())})" if self.run else "")
        return (
            '<table class="stochlearn-claims">'
            f'<caption style="caption-side:bottom">{caption}</caption>'
            "<thead><tr><th></th><th>claim</th><th>measured</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def report(self) -> None:
        """Display the table, publish the JSON results, and raise if any claim failed."""
        if not self.results:
            raise ValueError("no claims were checked: call .check(...) before .report()")
        bundle = {CLAIMS_MIME: self.to_json(), "text/html": self.to_html(), "text/plain": self.to_text()}
        metadata = {CLAIMS_MIME: {"profile": getattr(self.run, "profile", None), "seed": getattr(self.run, "seed", None)}}
        try:
            from IPython import get_ipython
            from IPython.display import display

            in_ipython = get_ipython() is not None
        except ImportError:  # pragma: no cover - IPython is a dependency
            in_ipython = False
        if in_ipython:
            display(bundle, raw=True, metadata=metadata)
        else:
            print(self.to_text())
        if self.failed:
            names = "; ".join(f"{r.claim} [{r.detail}]" for r in self.failed)
            raise AssertionError(f"{len(self.failed)} of {len(self.results)} claims failed: {names}")
