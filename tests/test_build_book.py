"""The book build takes a chapter's executed nightly run into the cache only when it is the same run.

A run is adopted when it passed, was made with the current library key and ran exactly the
chapter's current code cells; otherwise the chapter is executed again.
"""

import json

import nbformat
import pytest

from tools.build_book import _read_like_myst_nb, adopt_executed
from tools.chapters import chapters, library_key
from tools.notebooks import clean_notebook

CH = chapters()[0]


def _fake_run(tmp_path, ok=True, key=None, edit=None):
    """A papermill-like executed notebook of CH (with its injected-parameters cell) and its report."""
    nb = clean_notebook(CH)
    i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(
        i + 1, nbformat.v4.new_code_cell('profile = "book"\nseed = 0', metadata={"tags": ["injected-parameters"]})
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    for k, c in enumerate(code):
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {k}\n")]
    if edit:
        code[-1].source += "\nprint('changed')"
    (tmp_path / "executed").mkdir()
    (tmp_path / "reports").mkdir()
    nbformat.write(nb, tmp_path / "executed" / f"{CH.slug}-book-0.ipynb")
    report = {"ok": ok, "wall_s": 12.5, "library_key": key or library_key()}
    (tmp_path / "reports" / f"{CH.slug}-book-0.json").write_text(json.dumps(report))
    return tmp_path / "executed", tmp_path / "reports"


def test_adopts_a_passing_run_of_the_same_code(tmp_path):
    nb = _read_like_myst_nb(CH.path)
    wall = adopt_executed(CH, nb, *_fake_run(tmp_path))
    outs = [c.outputs[0].text for c in nb.cells if c.cell_type == "code"]
    assert wall == 12.5
    # the colab-install and injected-parameters cells are not in the MyST source: skipped
    assert outs[0] == "cell 1\n" and outs[1] == "cell 3\n"
    assert all(o.startswith("cell ") for o in outs)


@pytest.mark.parametrize(
    "bad", [dict(ok=False), dict(key="0" * 16), dict(edit=True)], ids=["failed run", "other library", "other code"]
)
def test_refuses_a_run_that_is_not_the_same(tmp_path, bad):
    nb = _read_like_myst_nb(CH.path)
    assert adopt_executed(CH, nb, *_fake_run(tmp_path, **bad)) is None
    assert not any(c.get("outputs") for c in nb.cells)  # nothing grafted


def test_nothing_to_adopt(tmp_path):
    assert adopt_executed(CH, _read_like_myst_nb(CH.path), tmp_path, tmp_path) is None
