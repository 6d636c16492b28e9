"""Run a chapter with a deliberately wrong implementation and report which claims fail.

A chapter's front matter lists `stochlearn.mutations`: each has a `name`, one line of `code` that
breaks the method (inserted right after the `sl.setup(...)` cell) and the claim ids it must make
`fails`. `tests/test_claims_can_fail.py` runs them at the quick profile: a claim check that
cannot fail when the method is wrong does not test the method.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat

from .chapters import Chapter, to_notebook
from .report import claims_of


def run_mutation(ch: Chapter, mutation: dict, profile: str = "quick", seed: int = 0) -> dict[str, bool]:
    """Execute the mutated chapter; return {claim id: passed} from its claims table."""
    import papermill as pm

    with tempfile.TemporaryDirectory() as tmp:
        src = to_notebook(ch, Path(tmp) / f"{ch.slug}.ipynb")
        nb = nbformat.read(src, as_version=4)
        at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "sl.setup(" in c.source)
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(f"# mutation: {mutation['name']}\n{mutation['code']}"))
        nbformat.write(nb, src)
        out = Path(tmp) / "out.ipynb"
        os.environ.setdefault("STOCHLEARN_QUIET", "1")
        try:
            pm.execute_notebook(str(src), str(out), parameters={"profile": profile, "seed": seed},
                                kernel_name="python3", progress_bar=False, cwd=str(ch.path.parent))
        except pm.PapermillExecutionError as err:
            if err.ename != "AssertionError":
                raise RuntimeError(f"mutation {mutation['name']!r} crashed the chapter: {err.ename}: {err.evalue}")
        claims = claims_of(nbformat.read(out, as_version=4)) or []
    return {c["claim"].split()[0]: c["passed"] for c in claims}
