"""Reports of chapter runs: wall time and claim results, read from the executed notebook."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import nbformat

from stochlearn.claims import CLAIMS_MIME

from .chapters import EXECUTED, REPORTS, Chapter, library_key

#: A run fails its budget when it takes more than this many times the declared seconds.
BUDGET_TOLERANCE = 1.5


def over_budget(wall_s: float, budget_s: float | None) -> bool:
    return budget_s is not None and wall_s > BUDGET_TOLERANCE * budget_s


def claims_of(nb: nbformat.NotebookNode) -> list[dict[str, Any]] | None:
    """The claim results that `sl.Claims.report()` published in an executed notebook, or None."""
    found = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if CLAIMS_MIME in data:
                found = data[CLAIMS_MIME]
    return found


def error_of(nb: nbformat.NotebookNode) -> str | None:
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                return f"{out.get('ename')}: {out.get('evalue')}"
    return None


def report_path(slug: str, profile: str, seed: int, reports: Path = REPORTS) -> Path:
    """The report of one run (tools/run_chapter.py, tools/seeds.py, the book build)."""
    return reports / f"{slug}-{profile}-{seed}.json"


def executed_path(slug: str, profile: str, seed: int, executed: Path = EXECUTED) -> Path:
    """The executed notebook of one run, beside its report."""
    return executed / f"{slug}-{profile}-{seed}.ipynb"


def write_report(
    ch: Chapter, profile: str, seed: int, wall_s: float, nb: nbformat.NotebookNode | None, error: str | None = None
) -> dict[str, Any]:
    claims = claims_of(nb) if nb is not None else None
    error = error or (error_of(nb) if nb is not None else None)
    budget = ch.budget(profile)
    rep = {
        "slug": ch.slug,
        "part": ch.part,
        "profile": profile,
        "seed": seed,
        "wall_s": round(wall_s, 2),
        "budget_s": budget,
        "over_budget": over_budget(wall_s, budget),
        "claims": claims or [],
        "claims_passed": bool(claims) and all(c["passed"] for c in claims),
        "error": error,
        "ok": error is None and bool(claims) and all(c["passed"] for c in claims),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "library_key": library_key(),  # which stochlearn and pins gave these numbers
    }
    path = report_path(ch.slug, profile, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, ensure_ascii=False))
    return rep


def load_reports() -> list[dict[str, Any]]:
    """Reports of single runs (not the seed summaries)."""
    paths = (
        sorted(p for p in REPORTS.glob("*.json") if not p.name.endswith(("-seeds.json", "-mutations.json")))
        if REPORTS.exists()
        else []
    )
    return [json.loads(p.read_text()) for p in paths]


def _summaries(suffix: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The reports `<slug>-<profile>-<suffix>.json` by (slug, profile)."""
    out = {}
    for p in sorted(REPORTS.glob(f"*-{suffix}.json")) if REPORTS.exists() else []:
        rep = json.loads(p.read_text())
        out[rep["slug"], rep["profile"]] = rep
    return out


def load_mutation_reports() -> dict[tuple[str, str], dict[str, Any]]:
    """Mutation margins (tools/mutate.py) by (slug, profile)."""
    return _summaries("mutations")


def load_seed_reports() -> dict[tuple[str, str], dict[str, Any]]:
    """Seed-robustness summaries (tools/seeds.py) by (slug, profile)."""
    return _summaries("seeds")
