r"""Claim checks: the assertions that end every chapter.

A chapter tests its paper's headline findings on its own small experiment. Each claim is one or
more *conditions*, a measured value against a threshold, so that the claims table, the seed sweep
and the mutation margins (``make mutations``) can all show the number behind every ✓ or ✗::

    claims = sl.Claims(run)
    claims.check(
        "C1 (paper Fig. 4c) diffGrad ends in the global minimum of F1",
        claims.between("final θ", x, -0.35, -0.25))
    claims.check(
        "C2 (paper Table 1) the large batch generalises worse",
        claims.at_least("SB − LB [pp]", 100 * gap, 1.0),
        detail=f"{n} seeds")
    claims.report()

A claim holds when all its conditions hold. :meth:`Claims.report` renders a ✓/✗ table, publishes
the results as display data of MIME type ``application/vnd.stochlearn.claims+json`` (a list of
``{"claim", "passed", "detail", "conditions", "smoke"}``; the book's status page, the chapter
runner and the mutation margins read it from the executed notebook), and raises an
``AssertionError`` naming every failed claim.

A claim marked ``smoke=True`` only checks that the code ran (the `quick` profile of a chapter
whose experiment needs the `book` budget to show anything); the table says so, and the mutation
test does not expect a smoke claim to fail. Introduced in {ref}`ch-diffgrad`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Claims", "ClaimResult", "Condition", "CLAIMS_MIME", "OPS"]

#: MIME type under which :meth:`Claims.report` publishes its results.
CLAIMS_MIME = "application/vnd.stochlearn.claims+json"

#: The comparisons a condition can make, and how they are printed.
OPS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "in": "∈"}


def _number(value: Any, what: str) -> float:
    """A plain float from a Python/NumPy number or a one-element array or tensor."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"{what} must be a number, got a bool; compare numbers, not truth values"
        )
    if hasattr(value, "numel") and hasattr(value, "item"):  # a torch tensor
        if value.numel() != 1:
            raise ValueError(
                f"{what} must be a single number, got a tensor with {value.numel()} elements"
            )
        value = value.item()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(
                f"{what} must be a single number, got an array with {value.size} elements"
            )
        value = value.item()
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a number, got {type(value).__name__}")
    return float(value)


@dataclass(frozen=True)
class Condition:
    """One measured value compared with a threshold: ``value op threshold``.

    ``op`` is one of ``>=``, ``>``, ``<=``, ``<``, ``==`` or ``in`` (then ``threshold`` is a pair
    ``(lo, hi)`` and the test is ``lo <= value <= hi``). :attr:`margin` is the signed distance from
    the threshold in the value's units, positive (or zero, for the non-strict comparisons) when the
    condition holds; a NaN value never holds.
    """

    name: str
    value: float
    op: str
    threshold: float | tuple[float, float]
    fmt: str = ".4g"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(
                "a condition needs a non-empty name that says what is measured"
            )
        if self.op not in OPS:
            raise ValueError(
                f"op must be one of {sorted(OPS)}, got {self.op!r}"
            )
        object.__setattr__(
            self, "value", _number(self.value, f"the value of {self.name!r}")
        )
        if self.op == "in":
            if not (
                isinstance(self.threshold, (tuple, list))
                and len(self.threshold) == 2
            ):
                raise ValueError(
                    f"'in' needs a pair (lo, hi) as its threshold, got {self.threshold!r}"
                )
            lo, hi = (
                _number(t, f"the bounds of {self.name!r}")
                for t in self.threshold
            )
            if not lo <= hi:
                raise ValueError(
                    f"the bounds of {self.name!r} must satisfy lo <= hi, got ({lo}, {hi})"
                )
            object.__setattr__(self, "threshold", (lo, hi))
        else:
            object.__setattr__(
                self,
                "threshold",
                _number(self.threshold, f"the threshold of {self.name!r}"),
            )
        try:
            format(1.0, self.fmt)
        except (ValueError, TypeError):
            raise ValueError(
                f"fmt must be a float format such as '.3f', got {self.fmt!r}"
            ) from None

    @property
    def margin(self) -> float:
        v, t = self.value, self.threshold
        if math.isnan(v):
            return math.nan
        if self.op in (">=", ">"):
            return v - t
        if self.op in ("<=", "<"):
            return t - v
        if self.op == "==":
            return -abs(v - t)
        lo, hi = t
        return min(v - lo, hi - v)

    @property
    def passed(self) -> bool:
        m = self.margin
        if math.isnan(m):
            return False
        return m > 0 if self.op in (">", "<") else m >= 0

    def _fmt(self, x: float) -> str:
        return format(x, self.fmt)

    def threshold_text(self) -> str:
        if self.op == "in":
            lo, hi = self.threshold
            return f"[{self._fmt(lo)}, {self._fmt(hi)}]"
        return self._fmt(self.threshold)

    def text(self) -> str:
        """``name = value op threshold``, e.g. ``gap [pp] = 4.88 ≥ 1``."""
        return f"{self.name} = {self._fmt(self.value)} {OPS[self.op]} {self.threshold_text()}"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (a NaN value or margin becomes None)."""
        thr = list(self.threshold) if self.op == "in" else self.threshold
        finite = lambda x: None if math.isnan(x) else x  # noqa: E731
        return {
            "name": self.name,
            "value": finite(self.value),
            "op": self.op,
            "threshold": thr,
            "passed": self.passed,
            "margin": finite(self.margin),
            "text": self.text(),
        }


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    passed: bool
    detail: str
    conditions: tuple[Condition, ...] = ()
    smoke: bool = False
    note: str = ""  # the chapter's own words in `detail`, after the conditions

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "passed": self.passed,
            "detail": self.detail,
            "conditions": [c.as_dict() for c in self.conditions],
            "smoke": self.smoke,
        }


def _as_bool(passed: Any) -> bool:
    if isinstance(passed, (bool, np.bool_)):
        return bool(passed)
    if hasattr(passed, "numel") and hasattr(
        passed, "item"
    ):  # a one-element torch tensor
        if passed.numel() != 1:
            raise ValueError(
                "`passed` must be a single truth value, got a tensor with several elements"
            )
        return bool(passed.item())
    if isinstance(passed, np.ndarray):
        if passed.size != 1:
            raise ValueError(
                "`passed` must be a single truth value, got an array with several elements"
            )
        return bool(passed.item())
    if isinstance(passed, (int, np.integer)) and passed in (0, 1):
        return bool(passed)
    raise ValueError(
        f"`passed` must be a bool (the outcome of a comparison), got {type(passed).__name__}"
    )


class Claims:
    """Collect a chapter's claim checks, render them as a table and fail loudly on any ✗."""

    def __init__(self, run: Any = None) -> None:
        self.run = run
        self.results: list[ClaimResult] = []

    # --- conditions ------------------------------------------------------------------------
    @staticmethod
    def at_least(
        name: str, value: Any, threshold: Any, fmt: str = ".4g"
    ) -> Condition:
        """``value >= threshold``."""
        return Condition(name, value, ">=", threshold, fmt)

    @staticmethod
    def above(
        name: str, value: Any, threshold: Any, fmt: str = ".4g"
    ) -> Condition:
        """``value > threshold``."""
        return Condition(name, value, ">", threshold, fmt)

    @staticmethod
    def at_most(
        name: str, value: Any, threshold: Any, fmt: str = ".4g"
    ) -> Condition:
        """``value <= threshold``."""
        return Condition(name, value, "<=", threshold, fmt)

    @staticmethod
    def below(
        name: str, value: Any, threshold: Any, fmt: str = ".4g"
    ) -> Condition:
        """``value < threshold``."""
        return Condition(name, value, "<", threshold, fmt)

    @staticmethod
    def between(
        name: str, value: Any, lo: Any, hi: Any, fmt: str = ".4g"
    ) -> Condition:
        """``lo <= value <= hi``."""
        return Condition(name, value, "in", (lo, hi), fmt)

    @staticmethod
    def equals(
        name: str, value: Any, target: Any, fmt: str = ".4g"
    ) -> Condition:
        """``value == target`` exactly (for values that are exact by construction)."""
        return Condition(name, value, "==", target, fmt)

    # --- recording -------------------------------------------------------------------------
    def check(
        self,
        claim: str,
        *conditions: Any,
        detail: str = "",
        smoke: bool = False,
    ) -> bool:
        """Record one claim; it holds when every condition holds.

        ``conditions`` are :class:`Condition` objects (``claims.at_least(...)`` and its siblings);
        ``detail`` adds context to the measured values (seeds, other numbers). The older form
        ``check(claim, passed, detail)`` with a bare truth value is still accepted, but a claim
        without conditions shows no number, and the mutation margins cannot judge it.
        """
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError(
                "`claim` must be a non-empty string that states the finding"
            )
        if not isinstance(smoke, bool):
            raise ValueError(f"`smoke` must be True or False, got {smoke!r}")
        conds = tuple(conditions)
        if conds and all(isinstance(c, Condition) for c in conds):
            ok = all(c.passed for c in conds)
        elif (
            conds
            and not any(isinstance(c, Condition) for c in conds)
            and len(conds) <= 2
        ):
            ok = _as_bool(conds[0])  # check(claim, passed[, detail])
            if len(conds) == 2:
                if detail:
                    raise ValueError(
                        "give `detail` once, positionally or as a keyword"
                    )
                detail = conds[1]
            conds = ()
        elif not conds:
            raise ValueError(
                "a claim needs conditions, e.g. claims.at_least('gap [pp]', gap, 1.0)"
            )
        else:
            raise ValueError(
                "mix no bare truth values with conditions: pass Condition objects only"
            )
        if not isinstance(detail, str):
            raise ValueError(
                f"`detail` must be a string with the measured values, got {type(detail).__name__}"
            )
        note = detail.strip()
        full = " · ".join(
            s for s in ("; ".join(c.text() for c in conds), note) if s
        )
        self.results.append(
            ClaimResult(claim.strip(), ok, full, conds, smoke, note)
        )
        return ok

    @property
    def failed(self) -> list[ClaimResult]:
        return [r for r in self.results if not r.passed]

    def to_json(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.results]

    # --- rendering -------------------------------------------------------------------------
    _SMOKE = (
        "smoke test: this profile checks that the code runs, not the finding"
    )

    def _context(self) -> str:
        if self.run is None:
            return ""
        return f"profile {getattr(self.run, 'profile', '?')}, seed {getattr(self.run, 'seed', '?')}"

    def to_text(self) -> str:
        lines = [
            f"Claim checks ({self._context()})"
            if self.run is not None
            else "Claim checks"
        ]
        for r in self.results:
            detail = " · ".join(
                s for s in (r.detail, self._SMOKE if r.smoke else "") if s
            )
            lines.append(
                f"  {'✓' if r.passed else '✗'} {r.claim}"
                + (f"  [{detail}]" if detail else "")
            )
        n_ok = len(self.results) - len(self.failed)
        lines.append(f"{n_ok}/{len(self.results)} claims hold")
        return "\n".join(lines)

    def to_html(self) -> str:
        rows = []
        for r in self.results:
            mark, colour = ("✓", "#1b7837") if r.passed else ("✗", "#b2182b")
            parts = [
                f"<code>{html.escape(c.text())}</code>" for c in r.conditions
            ]
            parts += [html.escape(r.note)] if r.note else []
            parts += [f"<em>{html.escape(self._SMOKE)}</em>"] if r.smoke else []
            measured = "<br>".join(parts)
            rows.append(
                f'<tr><td style="color:{colour};font-weight:bold;text-align:center">{mark}</td>'
                f"<td>{html.escape(r.claim)}</td><td>{measured}</td></tr>"
            )
        n_ok = len(self.results) - len(self.failed)
        caption = f"{n_ok}/{len(self.results)} claims hold" + (
            f" ({html.escape(self._context())})" if self.run else ""
        )
        return (
            '<table class="stochlearn-claims">'
            f'<caption style="caption-side:bottom">{caption}</caption>'
            "<thead><tr><th></th><th>claim</th><th>measured</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def report(self) -> None:
        """Display the table, publish the JSON results, and raise if any claim failed."""
        if not self.results:
            raise ValueError(
                "no claims were checked: call .check(...) before .report()"
            )
        bundle = {
            CLAIMS_MIME: self.to_json(),
            "text/html": self.to_html(),
            "text/plain": self.to_text(),
        }
        metadata = {
            CLAIMS_MIME: {
                "profile": getattr(self.run, "profile", None),
                "seed": getattr(self.run, "seed", None),
            }
        }
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
            raise AssertionError(
                f"{len(self.failed)} of {len(self.results)} claims failed: {names}"
            )
