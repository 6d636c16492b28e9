"""Generated notebooks (Colab, downloads) and student notebooks, for every chapter of the toc.

The solution version of each notebook is what `make test` executes under nbval (the generated
notebooks in _build/notebooks/), so every self-check passes there; the test below executes the
student version and checks that it fails only in the stubs, with NotImplementedError.
"""

import re

import nbformat
import pytest

from tools.chapters import chapters
from tools.notebooks import COLAB_TAG, QUICK_ENV, clean_notebook, execute, repository, student_notebook

CHAPTERS = chapters()
IDS = [c.slug for c in CHAPTERS]
RAW_MYST = re.compile(r"\{[\w:-]+\}`|^(`{3,}|:{3,})\{|^\([\w-]+\)=\s*$", flags=re.M)


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_generated_notebook_is_plain_jupyter(ch):
    nb = clean_notebook(ch)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert COLAB_TAG in first.metadata["tags"] and "google.colab" in first.source
    assert repository()["url"] in first.source
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert not RAW_MYST.search(cell.source), f"raw MyST left in a Markdown cell:\n{cell.source[:300]}"
            for url in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", cell.source):
                assert url.startswith(("https://", "data:")), f"image path is not absolute: {url}"
    assert (nb.metadata.get("accelerator") == "GPU") == bool(ch.meta.get("gpu"))
    assert nb.metadata["stochlearn"]["slug"] == ch.slug
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_student_notebook_stubs_solutions_and_keeps_checks(ch):
    nb = clean_notebook(ch)
    st = student_notebook(nb)
    sol = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    stubs = [c for c in st.cells if "solution" in c.metadata.get("tags", [])]
    assert sol and len(stubs) == len(sol)
    for stub in stubs:
        assert stub.source.startswith("# Exercise: ") and stub.source.rstrip().endswith(")")
        assert "raise NotImplementedError" in stub.source
        compile(stub.source.replace("%", "#"), "<stub>", "exec")  # stubs are valid Python
    checks = [c.source for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert checks and checks == [c.source for c in st.cells if "check" in c.metadata.get("tags", [])]
    assert not any("#### Solution" in c.source for c in st.cells if c.cell_type == "markdown")


@pytest.mark.chapter
@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_student_notebook_fails_only_in_the_stubs(ch):
    st = execute(student_notebook(clean_notebook(ch)), ch.path.parent, QUICK_ENV, allow_errors=True)
    errors = [(c.metadata.get("tags", []), o.ename, o.evalue[:120]) for c in st.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors, "the student notebook ran without any stub raising"
    for tags, ename, evalue in errors:
        assert ename in {"NotImplementedError", "ExerciseNotDone"}, (ename, evalue)
        assert {"solution", "check"} & set(tags), f"an error outside the exercises: {ename}: {evalue}"
    stub_cells = [c for c in st.cells if "solution" in c.metadata.get("tags", [])]
    assert all(any(o.output_type == "error" for o in c.outputs) for c in stub_cells)


def test_prune_removes_only_notebooks_that_left_the_toc(tmp_path):
    from tools.notebooks import prune

    kept = tmp_path / "01-part" / "kept.ipynb"
    stale = tmp_path / "09-old-part" / "renamed.ipynb"
    other = tmp_path / "01-part" / "README.txt"
    for p in (kept, stale, other):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("{}")
    assert prune(tmp_path, [kept]) == [stale]
    assert kept.exists() and other.exists()
    assert not stale.exists() and not stale.parent.exists()  # the emptied folder goes too
