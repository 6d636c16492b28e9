"""Run one chapter with papermill and write its report.

    python -m tools.run_chapter diffgrad --profile book --seed 0

Writes the executed notebook to `_build/executed/<slug>-<profile>-<seed>.ipynb` and the report
(wall time, claims, budget) to `_build/reports/<slug>-<profile>-<seed>.json`. Exits non-zero when the
chapter raises (a failed claim raises), or when it overruns its declared budget by more than 50 %.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from stochlearn.runtime import PROFILES

from .chapters import find, to_notebook
from .report import BUDGET_TOLERANCE, executed_path, write_report


def run(slug: str, profile: str, seed: int, timeout: int | None = None, quiet: bool = True) -> dict:
    import nbformat
    import papermill as pm

    ch = find(slug)
    out = executed_path(slug, profile, seed)
    src = to_notebook(ch, out.with_suffix(".source.ipynb"))  # a private copy: parallel runs do not race
    budget = ch.budget(profile)
    if timeout is None:  # never wait forever, and never kill a run that is merely slow
        timeout = int(max(600, 4 * budget)) if budget else 3600
    os.environ.setdefault("STOCHLEARN_QUIET", "1")
    os.environ["STOCHLEARN_CHAPTER"] = slug  # named by the network guard's message
    error = None
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(src),
            str(out),
            parameters={"profile": profile, "seed": seed},
            kernel_name="python3",
            execution_timeout=timeout,
            progress_bar=not quiet,
            cwd=str(ch.path.parent),
        )
    except pm.PapermillExecutionError as err:
        error = f"{err.ename}: {err.evalue}"
    wall = time.perf_counter() - t0
    src.unlink(missing_ok=True)
    nb = nbformat.read(out, as_version=4) if out.exists() else None
    return write_report(ch, profile, seed, wall, nb, error)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("slug")
    ap.add_argument("--profile", default="book", choices=PROFILES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=None, help="per-cell execution timeout in seconds")
    args = ap.parse_args(argv)
    rep = run(args.slug, args.profile, args.seed, args.timeout)
    for c in rep["claims"]:
        print(f"  {'✓' if c['passed'] else '✗'} {c['claim']}  [{c['detail']}]")
    budget = f" (budget {rep['budget_s']:g} s)" if rep["budget_s"] else ""
    print(f"{rep['slug']} · {rep['profile']} · seed {rep['seed']}: {rep['wall_s']:.1f} s{budget}")
    status = 0
    if rep["error"]:
        print(f"FAILED: {rep['error']}", file=sys.stderr)
        status = 1
    elif not rep["claims"]:
        print("FAILED: the chapter published no claim results (is `claims.report()` missing?)", file=sys.stderr)
        status = 1
    if rep["over_budget"]:
        print(
            f"FAILED: {rep['wall_s']:.1f} s is more than {BUDGET_TOLERANCE:g} × the {rep['profile']} budget of "
            f"{rep['budget_s']:g} s",
            file=sys.stderr,
        )
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
