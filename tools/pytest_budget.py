"""A pytest plugin for the nbval run of the chapters: per-chapter wall time against its budget,
and the run kept, so that one execution serves several checks.

    pytest -p tools.pytest_budget --nbval-lax -n 2 --dist loadscope _build/notebooks

Adds up the durations of every cell of a notebook (setup, call and teardown, so kernel start-up
counts), prints a table, and fails the session when a chapter takes more than 1.5 × the budget of
its profile (`quick` by default) or published no claims table. It keeps every cell's outputs as
nbval received them and writes the executed notebook to `_build/executed/<slug>-quick-0.ipynb`
with its report (wall time, claims) beside it in `_build/reports/`: the determinism test
(tests/test_determinism.py) takes it as the first of its two runs instead of running the chapter
again.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

_times: dict[str, float] = defaultdict(float)
_failed: dict[str, str] = {}
_outputs: dict[str, dict[str, list]] = defaultdict(dict)  # notebook path → cell id → outputs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    yield
    cell, outs = getattr(item, "cell", None), getattr(item, "test_outputs", None)
    if cell is not None and outs is not None and "id" in cell:
        _outputs[item.nodeid.split("::")[0]][cell["id"]] = list(outs)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a notebook's last cell, in the process that ran it: write the executed notebook."""
    yield
    path = item.nodeid.split("::")[0]
    if path in _outputs and (nextitem is None or nextitem.nodeid.split("::")[0] != path):
        from .chapters import chapters
        from .notebooks import write
        from .report import executed_path

        if Path(path).stem in {ch.slug for ch in chapters()}:
            profile = os.environ.get("STOCHLEARN_PROFILE", "quick")
            write(_executed(path), executed_path(Path(path).stem, profile, 0))
        del _outputs[path]


def _executed(path: str) -> nbformat.NotebookNode:
    """The notebook at ``path`` with the outputs that nbval received for its cells."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(o) for o in _outputs[path].get(cell.get("id"), [])]
    return nb


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if not path.endswith(".ipynb"):
        return
    _times[path] += report.duration
    if report.failed and path not in _failed:
        _failed[path] = report.nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _times or hasattr(session.config, "workerinput"):  # only the controller reports
        return
    from .chapters import chapters
    from .report import BUDGET_TOLERANCE, executed_path, over_budget, write_report

    profile = os.environ.get("STOCHLEARN_PROFILE", "quick")
    by_slug = {ch.slug: ch for ch in chapters()}
    over, no_claims = [], []
    rows = []
    for path, wall in sorted(_times.items(), key=lambda kv: -kv[1]):
        slug = Path(path).stem
        ch = by_slug.get(slug)
        budget = ch.budget(profile) if ch else None
        flag = ""
        if over_budget(wall, budget):
            over.append(slug)
            flag = f"  OVER {BUDGET_TOLERANCE:g} × budget"
        rows.append(f"  {slug:<32} {wall:7.1f} s   budget {budget if budget is not None else '—'} s{flag}")
        if ch is not None:
            err = f"failed at {_failed[path]}" if path in _failed else None
            done = executed_path(slug, profile, 0)
            rep = write_report(ch, profile, 0, wall, nbformat.read(done, as_version=4) if done.exists() else None, err)
            if not rep["claims"]:
                no_claims.append(slug)
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line("")
        tr.write_sep("=", f"chapter wall times ({profile} profile, slowest first)")
        for r in rows:
            tr.write_line(r)
    if over or no_claims:
        if tr is not None and over:
            tr.write_line(f"chapters over budget: {', '.join(over)}", red=True)
        if tr is not None and no_claims:
            tr.write_line(f"chapters that published no claims table: {', '.join(no_claims)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
