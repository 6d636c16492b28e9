"""CI's time, stage by stage, and what the whole curriculum would cost.

    python -m tools.ci_times run STAGE [--fixed] -- CMD ...   run CMD, record its wall time
    python -m tools.ci_times add STAGE SECONDS [--fixed]      record a time measured elsewhere
    python -m tools.ci_times table [--chapters 58]            the table that ends the CI log
    python -m tools.ci_times reset                            start a new record

Each `run` appends one line to `_build/ci-times.jsonl` and exits with the command's status. A
stage grows with the number of chapters unless it is marked `--fixed`: the install, nbgrader
grading one chapter, and the browser check of a fixed set of pages. The unit tests, the lint and
the Sphinx build grow, as each chapter brings its library code, tests and pages (their start-up
time is counted as growing too). The table divides the growing stages by today's number of
chapters, the per-chapter cost, and extrapolates to the whole curriculum: fixed + chapters ×
per-chapter cost, against CI's bound of 50 minutes on 2 cores (issue 11).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from .chapters import BUILD, chapters

TIMES = BUILD / "ci-times.jsonl"
#: The whole curriculum, and the bound CI must keep it under (seconds, on 2 cores).
CURRICULUM, BOUND_S = 58, 50 * 60


def record(stage: str, seconds: float, fixed: bool, rc: int) -> None:
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    with TIMES.open("a") as f:
        f.write(json.dumps({"stage": stage, "seconds": round(seconds, 1), "fixed": fixed, "rc": rc}) + "\n")


def load() -> list[dict]:
    return [json.loads(ln) for ln in TIMES.read_text().splitlines() if ln.strip()] if TIMES.exists() else []


def table(rows: list[dict], n_chapters: int, target: int = CURRICULUM) -> str:
    """The per-stage table, the per-chapter cost and the extrapolation to ``target`` chapters."""
    if n_chapters < 1:
        raise ValueError("n_chapters must be at least 1")
    fixed = sum(r["seconds"] for r in rows if r["fixed"])
    growing = sum(r["seconds"] for r in rows if not r["fixed"])
    total = fixed + growing
    out = [
        f"{'stage':<34} {'seconds':>8} {'share':>6}  {'per chapter':>11}",
        f"{'-' * 34} {'-' * 8} {'-' * 6}  {'-' * 11}",
    ]
    for r in rows:
        per = "fixed" if r["fixed"] else f"{r['seconds'] / n_chapters:.1f} s"
        flag = "" if r["rc"] == 0 else f"  (exit {r['rc']})"
        out.append(f"{r['stage']:<34} {r['seconds']:8.1f} {r['seconds'] / max(total, 1e-9):6.0%}  {per:>11}{flag}")
    per_chapter = growing / n_chapters
    projected = fixed + target * per_chapter
    out += [
        f"{'-' * 34} {'-' * 8} {'-' * 6}  {'-' * 11}",
        f"{'total':<34} {total:8.1f}",
        f"per-chapter cost: {per_chapter:.1f} s ({n_chapters} chapters, growing stages); fixed: {fixed:.0f} s",
        f"extrapolated to {target} chapters: {fixed:.0f} + {target} x {per_chapter:.1f} = {projected:.0f} s"
        f" = {projected / 60:.1f} min (bound {BOUND_S / 60:.0f} min: "
        f"{'within' if projected <= BOUND_S else 'OVER'})",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("stage")
    run.add_argument("--fixed", action="store_true", help="does not grow with the number of chapters")
    add = sub.add_parser("add")
    add.add_argument("stage")
    add.add_argument("seconds", type=float)
    add.add_argument("--fixed", action="store_true")
    tab = sub.add_parser("table")
    tab.add_argument("--chapters", type=int, default=CURRICULUM)
    sub.add_parser("reset")
    argv = sys.argv[1:] if argv is None else list(argv)
    # what follows `--` is the command, whatever it looks like; argparse sees only what precedes it
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if args.cmd == "reset":
        TIMES.unlink(missing_ok=True)
        return 0
    if args.cmd == "add":
        record(args.stage, args.seconds, args.fixed, 0)
        return 0
    if args.cmd == "table":
        print(table(load(), len(chapters()), args.chapters))
        return 0
    if not command:
        ap.error("run needs a command after --")
    t0 = time.perf_counter()
    rc = subprocess.call(command)
    record(args.stage, time.perf_counter() - t0, args.fixed, rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
