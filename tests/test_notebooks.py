"""Generated notebooks (Colab, downloads) and student notebooks, for every chapter of the toc.

The solution version of each notebook is what `make test` executes under nbval (the generated
notebooks in _build/notebooks/), so every self-check passes there. The student version is checked
here without running it; tests/test_determinism.py runs it (nightly) and checks that it raises
only inside the exercises.
"""

import re

import nbformat
import pytest

from tools.chapters import chapters
from tools.notebooks import COLAB_TAG, clean_notebook, repository, student_notebook

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
        assert stub.source.startswith("# Exercise: ") and "raise NotImplementedError" in stub.source
        lines = stub.source.splitlines()
        assert all(
            lines[i - 1].strip() == "# YOUR CODE HERE" for i, ln in enumerate(lines) if ln.strip().startswith("raise")
        ), "a raise outside what the student writes"
        compile(stub.source.replace("%", "#"), "<stub>", "exec")  # stubs are valid Python
    checks = [c.source for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert checks and checks == [c.source for c in st.cells if "check" in c.metadata.get("tags", [])]
    assert not any("#### Solution" in c.source for c in st.cells if c.cell_type == "markdown")


SOLUTION = '''import numpy as np


# a helper comment stays
@np.errstate(all="ignore")
def f(x,
      y):
    """Docstring stays."""
    # a hint goes with the body
    return x + y


class Net:
    scale = 2

    def forward(self, x):
        return x

    def loss(self, x):
        return x * self.scale


# the driver's comment goes too
z = f(1, 2)
print(z)
'''


def test_solution_regions_are_bodies_and_top_level_code():
    from tools.notebooks import solution_regions

    lines = SOLUTION.splitlines()
    regions = solution_regions(SOLUTION)
    got = [("\n".join(lines[a - 1 : b]), indent, fn) for a, b, indent, fn in regions]
    assert got == [
        ("    # a hint goes with the body\n    return x + y", "    ", "f"),
        ("        return x", "        ", "forward"),
        ("        return x * self.scale", "        ", "loss"),
        ("# the driver's comment goes too\nz = f(1, 2)\nprint(z)", "", None),
    ]
    assert solution_regions("x = (") == [(1, 1, "", None)]  # unparsable: the whole cell
    with pytest.raises(ValueError, match="'g' needs its body on lines of its own"):
        solution_regions("def g(): return 1")


def test_stub_raises_only_inside_what_the_student_writes():
    from tools.notebooks import BEGIN_SOLUTION, END_SOLUTION, clear_solutions, mark_solutions

    stub = clear_solutions(SOLUTION, "Ex 1")
    assert stub.splitlines()[0] == "# Exercise: Ex 1. Replace each `raise NotImplementedError` below with your code."
    assert '"""Docstring stays."""' in stub and "# a helper comment stays" in stub and "scale = 2" in stub
    assert "hint" not in stub and "driver" not in stub and "print(z)" not in stub
    raises = [i for i, ln in enumerate(stub.splitlines()) if ln.strip().startswith("raise")]
    assert len(raises) == 4 and all(stub.splitlines()[i - 1].strip() == "# YOUR CODE HERE" for i in raises)
    namespace = {}
    with pytest.raises(NotImplementedError, match="write this part"):
        exec(compile(stub, "<stub>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="write the body of f"):
        namespace["f"](1, 2)  # defined before the top-level part raised
    only_functions = clear_solutions("def g():\n    return 1\n", "Ex 2")
    exec(compile(only_functions, "<stub>", "exec"), {})  # a stub of functions only defines them
    marked = mark_solutions(SOLUTION, notes="Use eq. (3).")
    assert marked.count(BEGIN_SOLUTION) == marked.count(END_SOLUTION) == 4
    assert "    ### BEGIN SOLUTION\n    # Use eq. (3).\n    # a hint goes with the body" in marked
    exec(compile(marked, "<marked>", "exec"), {})  # the marked source still runs as the solution


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
