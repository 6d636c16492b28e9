"""Assignments in nbgrader's format: one source notebook per chapter, for instructors.

    python -m tools.assignments [slug ...]   → _build/assignments/source/<slug>/<slug>.ipynb
                                               (make assignments)

The folder `_build/assignments` is an nbgrader course directory: copy `source/<slug>/` into a
course's `source/` folder and run `nbgrader generate_assignment <slug>` to get the version that
students receive. In a chapter's source notebook

- each cell tagged `solution` is an nbgrader *autograded answer* cell: what the student writes
  (function bodies, the exercise's top-level code: :func:`tools.notebooks.solution_regions`) sits
  between `### BEGIN SOLUTION` and `### END SOLUTION`, and the solution's prose from the book goes
  into the first region as comments, so that it is hidden from students too;
- each cell tagged `check` is a locked *autograder test* cell worth one point per
  `sl.exercises.check(...)` it makes;
- every other cell is left as it is (students may read and rerun it).

The regions are the same as those of the student notebooks (`make student`), which nbgrader's
release reproduces, with nbgrader's own stub text. `tests/test_assignments.py` generates the
release with nbgrader and autogrades a full solution and an untouched release.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

from .chapters import BUILD, ROOT, Chapter, chapters
from .notebooks import clean_notebook, mark_solutions, write

ASSIGNMENTS = BUILD / "assignments"
CHECK_CALL = re.compile(r"\bsl\.exercises\.check\(")


def _nbgrader(
    grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False, points: int | None = None
) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return meta


def points_of(check_source: str) -> int:
    """A check cell's points: one per self-check it makes."""
    n = len(CHECK_CALL.findall(check_source))
    if n == 0:
        raise ValueError("a check cell must call sl.exercises.check(...) at least once")
    return n


def assignment_notebook(ch: Chapter) -> nbformat.NotebookNode:
    """The chapter's notebook as an nbgrader source notebook (see the module docstring)."""
    nb = clean_notebook(ch)
    cells = []
    notes = ""
    n_solution = n_check = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown" and "#### Solution" in cell.source:
            cell.source, _, notes = cell.source.partition("#### Solution")
            cell.source = cell.source.rstrip()
            notes = notes.strip()
            if not cell.source:
                continue
        elif cell.cell_type == "code" and "solution" in tags:
            n_solution += 1
            cell.source = mark_solutions(cell.source, notes)
            notes = ""
            cell.metadata["nbgrader"] = _nbgrader(f"{ch.slug}-solution-{n_solution}", solution=True)
        elif cell.cell_type == "code" and "check" in tags:
            n_check += 1
            cell.metadata["nbgrader"] = _nbgrader(
                f"{ch.slug}-check-{n_check}", grade=True, locked=True, points=points_of(cell.source)
            )
        cells.append(cell)
    if not n_solution or not n_check:
        raise ValueError(f"{ch.slug}: an assignment needs solution and check cells")
    nb.cells = cells
    nb.metadata["stochlearn"]["assignment"] = True
    return nb


def source_path(ch: Chapter, root: Path = ASSIGNMENTS) -> Path:
    """Where nbgrader looks for a chapter's source notebook in the course directory ``root``."""
    return root / "source" / ch.slug / f"{ch.slug}.ipynb"


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("slugs", nargs="*", help="only these chapters (default: every chapter of the toc)")
    args = ap.parse_args(argv)
    out = [
        write(assignment_notebook(ch), source_path(ch)) for ch in chapters() if not args.slugs or ch.slug in args.slugs
    ]
    for p in out:
        print(p.relative_to(ROOT))
    return out


if __name__ == "__main__":
    main()
