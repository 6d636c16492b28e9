"""Build the HTML book: execute the chapters in parallel into the execution cache, then build.

    python -m tools.build_book [--jobs N] [--no-build]

1. The cache (`_build/.jupyter_cache`, the one `_config.yml` names) is keyed on the chapters'
   code cells by Jupyter Book, and here also on a hash of `src/stochlearn` and `constraints.txt`:
   when that hash changes the cache is cleared, so a library change re-executes every chapter.
2. Chapters missing from the cache run in parallel (one process per core, at the `book`
   profile), exactly as Jupyter Book would run them, and go into the cache with their reports.
   A chapter whose book run at seed 0 is already in `_build/executed` (the nightly matrix's
   `make seeds` leaves it there), with a passing report made with the same library key and the
   same code cells, is not run again: its outputs go into the cache as they are.
3. The status page and the instructors' table are generated from the reports, and
   `jupyter-book build . -W -n --keep-going` builds the site from the cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

from .chapters import EXECUTED, REPORTS, ROOT, Chapter, chapters, front_matter, library_key
from .notebooks import COLAB_TAG
from .report import executed_path, report_path

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CACHE = ROOT / CONFIG["execute"]["cache"]
KEY_FILE = CACHE / "stochlearn.key"


def _read_like_myst_nb(path: Path):
    """The notebook exactly as myst-nb reads a MyST source (so the cache hashes agree)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), MdParserConfig(), add_source_map=True)


def _timeout(ch: Chapter) -> int:
    fm = front_matter(ch.path).get("mystnb", {}) or {}
    return int(fm.get("execution_timeout", CONFIG["execute"]["timeout"]))


def _execute(path: str, timeout: int, threads: int):
    """Run in a worker process: execute one chapter at the book profile."""
    from jupyter_cache.executors.utils import single_nb_execution

    os.environ.update(STOCHLEARN_PROFILE="book", STOCHLEARN_QUIET="1", STOCHLEARN_THREADS=str(threads))
    nb = _read_like_myst_nb(Path(path))
    t0 = time.perf_counter()
    result = single_nb_execution(
        nb, cwd=str(Path(path).parent), allow_errors=False, timeout=timeout, meta_override=True
    )
    wall = time.perf_counter() - t0
    return nb, wall, (result.exc_string if result.err is not None else None)


#: Cells of a generated notebook that are not in the MyST source myst-nb reads.
_NOT_IN_SOURCE = {"injected-parameters", COLAB_TAG}


def adopt_executed(ch: Chapter, nb, executed: Path = EXECUTED, reports: Path = REPORTS) -> float | None:
    """Graft the chapter's executed book run at seed 0 onto ``nb``, the notebook myst-nb reads
    from the chapter, and return the run's wall time; leave ``nb`` alone and return None unless
    the run passed, with the current library key, on exactly the chapter's current code cells."""
    import json

    import nbformat

    run, rep = executed_path(ch.slug, "book", 0, executed), report_path(ch.slug, "book", 0, reports)
    if not (run.exists() and rep.exists()):
        return None
    report = json.loads(rep.read_text())
    if not report.get("ok") or report.get("library_key") != library_key():
        return None
    done = [
        c
        for c in nbformat.read(run, as_version=4).cells
        if c.cell_type == "code" and not _NOT_IN_SOURCE & set(c.get("metadata", {}).get("tags", []))
    ]
    code = [c for c in nb.cells if c.cell_type == "code"]
    if len(code) != len(done) or any(a.source.strip() != b.source.strip() for a, b in zip(code, done)):
        return None
    for a, b in zip(code, done):
        a.outputs, a.execution_count = b.outputs, b.get("execution_count")
    return float(report["wall_s"])


def check_cache_key() -> None:
    key = library_key()
    if CACHE.exists() and (not KEY_FILE.exists() or KEY_FILE.read_text().strip() != key):
        print(f"library or constraints changed (key {key}): clearing {CACHE.relative_to(ROOT)}")
        shutil.rmtree(CACHE)
    CACHE.mkdir(parents=True, exist_ok=True)
    KEY_FILE.write_text(key + "\n")


def _expected_seconds(ch: Chapter) -> float:
    """How long a chapter's book run should take: its last report's time, else its budget."""
    import json

    rep = report_path(ch.slug, "book", 0)
    if rep.exists():
        return float(json.loads(rep.read_text()).get("wall_s", 0.0))
    return ch.budget("book") or 0.0


def execute_missing(jobs: int, strict_budget: bool = False) -> list[str]:
    """Execute every chapter that is not in the cache; return the slugs that failed.

    With ``strict_budget`` a chapter over 1.5 x its book budget counts as failed.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    from .report import write_report

    cache = get_cache(str(CACHE))
    todo = []
    for ch in chapters():
        nb = _read_like_myst_nb(ch.path)
        try:
            cache.match_cache_notebook(nb)
            continue
        except KeyError:
            pass
        wall = adopt_executed(ch, nb)
        if wall is None:
            todo.append(ch)
            continue
        cache.cache_notebook_bundle(
            CacheBundleIn(nb, str(ch.path), data={"execution_seconds": wall}), check_validity=False, overwrite=True
        )
        print(
            f"  {ch.slug:<32} taken from {executed_path(ch.slug, 'book', 0).relative_to(ROOT)}"
            f" ({wall:.1f} s when it ran)"
        )
    if not todo:
        print("every chapter is in the execution cache")
        return []
    todo.sort(key=lambda ch: -_expected_seconds(ch))  # longest first: the last to finish is a short one
    jobs = max(1, min(jobs, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    print(f"executing {len(todo)} chapter(s) at the book profile, {jobs} at a time, {threads} thread(s) each")
    failed, times = [], []
    t_all = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_execute, str(ch.path), _timeout(ch), threads): ch for ch in todo}
        for fut in as_completed(futures):
            ch = futures[fut]
            nb, wall, err = fut.result()
            rep = write_report(ch, "book", 0, wall, nb, err.strip().splitlines()[-1] if err else None)
            if err is None:
                cache.cache_notebook_bundle(
                    CacheBundleIn(nb, str(ch.path), data={"execution_seconds": wall}),
                    check_validity=False,
                    overwrite=True,
                )
            else:
                failed.append(ch.slug)
            if strict_budget and rep["over_budget"] and ch.slug not in failed:
                failed.append(ch.slug)
            times.append((wall, ch))
            n_ok = sum(c["passed"] for c in rep["claims"])
            over = "  OVER BUDGET" if rep["over_budget"] else ""
            print(f"  {ch.slug:<32} {wall:6.1f} s  claims {n_ok}/{len(rep['claims'])}{'  FAILED' if err else ''}{over}")
            if err:
                print(err, file=sys.stderr)
    total = time.perf_counter() - t_all
    budgets = sum(ch.budget("book") or 0 for ch in chapters())
    print(
        f"executed in {total:.1f} s; the chapters' book budgets add up to {budgets:.0f} s "
        f"(target: less than {budgets / 1.6:.0f} s)"
    )
    print("slowest chapters:")
    for wall, ch in sorted(times, key=lambda t: -t[0])[:10]:
        print(f"  {ch.slug:<32} {wall:6.1f} s  (budget {ch.budget('book'):g} s)")
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-build", action="store_true", help="execute and write the status page only")
    ap.add_argument(
        "--strict-budget",
        action="store_true",
        help="fail when a chapter takes more than 1.5 x its book budget (the nightly run)",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    check_cache_key()
    failed = execute_missing(args.jobs, args.strict_budget)
    from .instructors import main as write_instructors
    from .notebooks import main as write_notebooks
    from .status import main as write_status

    write_status()
    write_instructors()
    write_notebooks([])  # the Colab/Binder/download buttons point at these
    if failed:
        print(f"chapters failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if args.no_build:
        return 0
    cmd = [sys.executable, "-m", "jupyter_book", "build", str(ROOT), "-W", "-n", "--keep-going"]
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    if jb:
        cmd = [jb, "build", str(ROOT), "-W", "-n", "--keep-going"]
    rc = subprocess.call(cmd, cwd=ROOT)
    print(f"book built in {time.perf_counter() - t0:.1f} s (rc={rc}): {ROOT / '_build' / 'html' / 'index.html'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
