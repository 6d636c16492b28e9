"""A pytest plugin for the nbval run of the chapters: per-chapter wall time against its budget.

    pytest -p tools.pytest_budget --nbval-lax -n 2 --dist loadscope _build/notebooks

Adds up the durations of every cell of a notebook (setup, call and teardown, so kernel start-up
counts), prints a table, writes a `quick` report per chapter to `_build/reports/`, and fails the
session when a chapter takes more than 1.5 × the budget of its profile (`quick` by default).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

_times: dict[str, float] = defaultdict(float)
_failed: dict[str, str] = {}


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
    from .report import BUDGET_TOLERANCE, over_budget, write_report

    profile = os.environ.get("STOCHLEARN_PROFILE", "quick")
    by_slug = {ch.slug: ch for ch in chapters()}
    over = []
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
            write_report(ch, profile, 0, wall, None, err)
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line("")
        tr.write_sep("=", f"chapter wall times ({profile} profile, slowest first)")
        for r in rows:
            tr.write_line(r)
    if over:
        if tr is not None:
            tr.write_line(f"chapters over budget: {', '.join(over)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
