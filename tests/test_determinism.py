"""Determinism and the student notebook: two runs of each chapter at quick with the same seed.

The first run is the one nbval made in `make test`: tools/pytest_budget.py keeps it as
`_build/executed/<slug>-quick-0.ipynb`, with its report. When it is missing or stale (other code
cells or another library key), this module executes the chapter itself. The second run is the
chapter's *student* notebook (solutions stubbed), so one execution serves two checks:

- determinism: every code cell before the exercises prints and displays the same as in the first
  run, and the claims come out the same (figures are compared by their presence, not their
  bytes);
- the student notebook raises only inside the exercises, as a student finds it: a stub raises
  `NotImplementedError` only where there is top-level code to write, a stub of functions only
  defines them, and every check cell fails while the exercise is untouched.

Both are nightly checks (`make nightly-checks NAME=<slug>` runs nbval and then this module for one
chapter; the README says what runs where, and why): per landing, `make test` executes each chapter
once at quick.
"""

import re
from functools import cache

import nbformat
import pytest

from tools.chapters import chapters, library_key
from tools.notebooks import QUICK_ENV, clean_notebook, execute, solution_regions, student_notebook
from tools.report import claims_of, executed_path, report_path

pytestmark = pytest.mark.nightly

CHAPTERS = chapters()
IDS = [c.slug for c in CHAPTERS]
ADDRESS = re.compile(r" at 0x[0-9a-f]+")
ENV = {**QUICK_ENV, "STOCHLEARN_THREADS": "1"}


def _code(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


@cache
def _first_run(slug: str) -> nbformat.NotebookNode:
    """nbval's run of `make test` when it is there and current, else a fresh run."""
    import json

    ch = next(c for c in CHAPTERS if c.slug == slug)
    nb, done, rep = clean_notebook(ch), executed_path(slug, "quick", 0), report_path(slug, "quick", 0)
    if done.exists() and rep.exists() and json.loads(rep.read_text()).get("library_key") == library_key():
        kept = nbformat.read(done, as_version=4)
        if _code(kept) == _code(nb):
            return kept
    return execute(nb, ch.path.parent, ENV)


@cache
def _student_run(slug: str) -> nbformat.NotebookNode:
    ch = next(c for c in CHAPTERS if c.slug == slug)
    return execute(student_notebook(clean_notebook(ch)), ch.path.parent, ENV, allow_errors=True)


def _exercise_cell(cell: nbformat.NotebookNode) -> bool:
    return bool({"solution", "check"} & set(cell.metadata.get("tags", [])))


def _record(nb: nbformat.NotebookNode) -> dict[str, list]:
    """The outputs of each code cell before the exercises, by cell id, as comparable records.

    The kernel flushes stdout on a timer, so one ``print`` sequence can arrive as one stream
    output or as several, depending on load. A cell's stdout is therefore compared as one text,
    joined in order; display outputs are compared one by one.
    """
    out = {}
    for cell in nb.cells:
        if _exercise_cell(cell):
            break
        if cell.cell_type != "code":
            continue
        stdout, rec = "", []
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and o.name == "stdout":
                stdout += o.text
            elif o.output_type in ("execute_result", "display_data"):
                data = o.get("data", {})
                kind = "image" if "image/png" in data else "text"
                rec.append((kind, "" if kind == "image" else ADDRESS.sub("", str(data.get("text/plain", "")))))
        if stdout:
            rec.append(("stdout", ADDRESS.sub("", stdout)))
        out[cell.get("id")] = rec
    return out


def test_record_ignores_how_stdout_is_chunked_and_stops_at_the_exercises():
    """Two runs that printed the same text in differently sized chunks give the same record."""

    def nb(*texts, exercise=""):
        cells = [
            nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text=t) for t in texts])
        ]
        cells.append(
            nbformat.v4.new_code_cell(
                metadata={"tags": ["solution"]},
                outputs=[nbformat.v4.new_output("stream", name="stdout", text=exercise)],
            )
        )
        for i, c in enumerate(cells):
            c.id = f"c{i}"
        return nbformat.v4.new_notebook(cells=cells)

    assert _record(nb("a\nb\n")) == _record(nb("a", "\nb\n")) == _record(nb("a\nb\n", exercise="other"))
    assert _record(nb("a\nb\n")) != _record(nb("a\nc\n"))


@pytest.mark.chapter
@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_same_seed_same_results(ch):
    first, second = _first_run(ch.slug), _student_run(ch.slug)
    c1, c2 = claims_of(first), claims_of(second)
    assert c1, "the chapter published no claims table"
    assert c1 == c2, f"the claim results differ between two identical runs: {c1} != {c2}"
    a, b = _record(first), _record(second)
    assert a.keys() == b.keys()
    diffs = [(k, a[k], b[k]) for k in a if a[k] != b[k]]
    assert not diffs, f"outputs differ between two runs with the same seed: {diffs[:3]}"


@pytest.mark.chapter
@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_student_notebook_raises_only_inside_the_exercises(ch):
    st = _student_run(ch.slug)
    for cell in st.cells:
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        errors = [(o.ename, o.evalue[:160]) for o in cell.get("outputs", []) if o.output_type == "error"]
        if "solution" in tags:
            top_level = any(fn is None for *_, fn in solution_regions(cell.source))
            assert bool(errors) == top_level, (
                f"a stub must raise exactly when it has top-level code to write: {cell.source[:200]!r} {errors}"
            )
            assert all(e == "NotImplementedError" for e, _ in errors), errors
        elif "check" in tags:
            assert errors, f"a check passed on the untouched exercise: {cell.source[:200]!r}"
            assert all(e in {"NotImplementedError", "ExerciseNotDone"} for e, _ in errors), errors
        else:
            assert not errors, f"an error outside the exercises: {errors}"
