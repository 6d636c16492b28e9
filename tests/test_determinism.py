"""Determinism: a chapter run twice at quick with the same seed gives identical results.

Compares the claim results (with their measured details) and every printed or displayed value of
the two runs (text outputs, tables); figures are compared by their presence, not their bytes.
"""

import re
from functools import lru_cache

import nbformat
import pytest

from tools.chapters import chapters
from tools.notebooks import QUICK_ENV, clean_notebook, execute
from tools.report import claims_of

CHAPTERS = chapters()
ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _run(ch):
    return execute(clean_notebook(ch), ch.path.parent, {**QUICK_ENV, "STOCHLEARN_THREADS": "1"})


@lru_cache(maxsize=None)
def _first_run(slug):
    """One quick run per chapter, shared by the tests of this module (xdist keeps a module on one
    worker with --dist loadscope)."""
    return _run(next(c for c in CHAPTERS if c.slug == slug))


def _record(nb: nbformat.NotebookNode) -> list:
    """Each code cell's outputs as comparable records.

    The kernel flushes stdout on a timer, so one ``print`` sequence can arrive as one stream
    output or as several, depending on load. A cell's stdout is therefore compared as one text,
    joined in order; display outputs are compared one by one.
    """
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        stdout = ""
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and o.name == "stdout":
                stdout += o.text
            elif o.output_type in ("execute_result", "display_data"):
                data = o.get("data", {})
                kind = "image" if "image/png" in data else "text"
                text = "" if kind == "image" else ADDRESS.sub("", str(data.get("text/plain", "")))
                out.append((i, kind, text))
        if stdout:
            out.append((i, "stdout", ADDRESS.sub("", stdout)))
    return out


def test_record_ignores_how_stdout_is_chunked():
    """Two runs that printed the same text in differently sized chunks give the same record."""
    cell = lambda *texts: nbformat.v4.new_code_cell(outputs=[  # noqa: E731
        nbformat.v4.new_output("stream", name="stdout", text=t) for t in texts])
    one = nbformat.v4.new_notebook(cells=[cell("a\nb\n")])
    two = nbformat.v4.new_notebook(cells=[cell("a", "\nb\n")])
    other = nbformat.v4.new_notebook(cells=[cell("a\nc\n")])
    assert _record(one) == _record(two)
    assert _record(one) != _record(other)


@pytest.mark.chapter
@pytest.mark.parametrize("ch", CHAPTERS, ids=[c.slug for c in CHAPTERS])
def test_same_seed_same_results(ch):
    first, second = _first_run(ch.slug), _run(ch)
    c1, c2 = claims_of(first), claims_of(second)
    assert c1 == c2, f"the claim results differ between two identical runs: {c1} != {c2}"
    a, b = _record(first), _record(second)
    diffs = [(x, y) for x, y in zip(a, b) if x != y]
    assert len(a) == len(b) and not diffs, f"outputs differ between two runs with the same seed: {diffs[:3]}"


@pytest.mark.chapter
@pytest.mark.parametrize("ch", CHAPTERS, ids=[c.slug for c in CHAPTERS])
def test_every_claim_shows_its_numbers(ch):
    """Each claim is made of conditions (a value against a threshold), so that the table, the seed
    sweep and `make mutations` can show the number behind every ✓ and ✗."""
    claims = claims_of(_first_run(ch.slug))
    assert claims, "the chapter published no claims table"
    bare = [c["claim"][:60] for c in claims if not c.get("conditions")]
    assert not bare, f"claims without conditions (use claims.at_least(...) and its siblings): {bare}"
