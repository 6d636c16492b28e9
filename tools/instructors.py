"""The table of the instructors' page: per chapter, its exercises, its times and what it assumes.

    python -m tools.instructors   → book/_generated/instructors.md (included by book/instructors.md)

One row per chapter of the toc: its exercises (how many, how many autograded check cells, their
points in the nbgrader assignment), the wall time of its last run at `quick` and `book` (from
`_build/reports/`, else "not run yet") and its budget at `full`, and what it assumes: the
chapters it builds on (`prerequisites` in its front matter), the optional packages it needs
(`requires`) and whether `full` wants a GPU. `make book` writes it with the status page.
"""

from __future__ import annotations

from .chapters import ROOT, Chapter, chapters
from .report import load_reports

OUT = ROOT / "book" / "_generated" / "instructors.md"


def _time(reports: dict, slug: str, profile: str, ch: Chapter) -> str:
    rep = reports.get((slug, profile))
    budget = ch.budget(profile)
    if rep is None:
        return f"not run yet (budget {budget:g} s)" if budget else "not run yet"
    return f"{rep['wall_s']:.0f} s"


def exercise_counts(ch: Chapter) -> tuple[int, int, int]:
    """(exercises, check cells, points) of the chapter's nbgrader assignment."""
    from .assignments import assignment_notebook

    nb = assignment_notebook(ch)
    exercises = sum(c.source.count("### Exercise: ") for c in nb.cells if c.cell_type == "markdown")
    graded = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return exercises, len(graded), sum(m["points"] for m in graded)


def render() -> str:
    reports = {(r["slug"], r["profile"]): r for r in load_reports() if r.get("seed") == 0}
    by_slug = {ch.slug: ch for ch in chapters()}
    rows = [
        "| chapter | exercises (autograded cells, points) | quick, 1 core | book, 2 cores | full | builds on | needs |",
        "|---|---|---|---|---|---|---|",
    ]
    for ch in chapters():
        n_ex, n_checks, points = exercise_counts(ch)
        prereq = ", ".join(f"{{ref}}`ch-{p}`" for p in ch.meta.get("prerequisites", []) if p in by_slug) or "—"
        needs = [f"`{r}`" for r in ch.meta.get("requires", [])]
        full = ch.budget("full")
        full_text = (f"budget {full:g} s" if full else "—") + (", GPU" if ch.meta.get("gpu") else "")
        rows.append(
            f"| {{ref}}`ch-{ch.slug}` | {n_ex} ({n_checks}, {points}) | "
            f"{_time(reports, ch.slug, 'quick', ch)} | {_time(reports, ch.slug, 'book', ch)} | "
            f"{full_text} | {prereq} | {', '.join(needs) or 'the core install'} |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(), encoding="utf-8")
    print(OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
