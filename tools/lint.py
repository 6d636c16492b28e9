"""The lint: the code, the chapters' code cells and the workflows, checked offline.

    python -m tools.lint          (make lint; the first stage of make test)
    python -m tools.lint --fix    applies what ruff can fix, in the code and in the chapters' .md

It runs, in order, and prints each step's name and time:

1. `ruff check` and `ruff format --check` over src/, tools/ and tests/, with `[tool.ruff]` of
   pyproject.toml (120 columns; pycodestyle, pyflakes, isort, pyupgrade): the bugs pyflakes
   finds (undefined and unused names) and one layout, so that a diff shows a change, not a style.
2. The same on the code cells of every chapter of `_toc.yml`, at 79 columns: readers see this code,
   in the book, on Colab and on a phone. The MyST notebook is read with jupytext and written, code
   cells only, to a temporary .ipynb that ruff checks as a notebook: each cell on its own (an
   import in a later cell, IPython magics such as `%pip`, a `;` that hides a cell's output, and
   `display` are what they are in Jupyter), which a single py:percent file does not give: there,
   isort merges the imports of adjacent cells and the formatter drops the `;`. Every finding is
   reported at its line of the chapter's .md. `--fix` writes the fixed cells back into the .md,
   replacing the lines of each cell's code and nothing else (front matter, Markdown and cell
   options stay byte for byte).
3. The workflows against GitHub's workflow schema (check-jsonschema's vendored copy, no network).
4. zizmor's offline audit of the workflows: any medium or high finding fails. A finding that is
   accepted is suppressed in .github/zizmor.yml with the reason next to it.

Every step runs even when an earlier one failed, so one run shows everything; the exit status is
non-zero when any step failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from .chapters import ROOT, Chapter, chapters

CODE = ["src", "tools", "tests"]
# On top of pyproject.toml's [tool.ruff]. A chapter names a small formula or a plot helper with a
# lambda in one line (`smooth = lambda y: ...`) next to where it is used; E731 would turn each into
# a three-line def, which reads worse in a notebook, so chapters allow it.
CHAPTER_SETTINGS = ["line-length = 79", "lint.extend-ignore = ['E731']"]
WORKFLOWS = ROOT / ".github" / "workflows"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
ZIZMOR_FAIL = {13, 14}  # zizmor's exit status for a medium (13) or high (14) finding
FENCE = "```{code-cell}"


# --- running the tools ----------------------------------------------------------------------------


def tool(name: str) -> str:
    """The executable `name` of this interpreter's environment (.venv/bin), else the one on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name) or name


def run(cmd: Sequence[str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in the repository root; its output goes to ours unless captured."""
    return subprocess.run(list(cmd), cwd=ROOT, text=True, capture_output=capture, check=False)


def ruff(*args: str, chapter: bool = False) -> list[str]:
    """A ruff command line: for the code, the settings ruff finds (pyproject.toml, and src/ruff.toml
    for the library, whose code the chapters show at 80 columns); for the chapters' notebooks,
    pyproject.toml's with the chapters' on top."""
    if not chapter:
        return [tool("ruff"), *args]
    overrides = [f"--config={s}" for s in CHAPTER_SETTINGS]
    return [tool("ruff"), *args, f"--config={ROOT / 'pyproject.toml'}", *overrides]


# --- the chapters' code cells ---------------------------------------------------------------------


@dataclass
class ChapterCode:
    """A chapter's code cells, written to `notebook`; cell i's code is at lines `starts[i]`, ... of
    the .md (0-based), `lengths[i]` lines long."""

    chapter: Chapter
    notebook: Path
    starts: list[int]
    lengths: list[int]

    @property
    def md(self) -> str:
        return self.chapter.path.relative_to(ROOT).as_posix()

    def md_line(self, cell: int, row: int) -> int:
        """The 1-based line of the .md at 1-based `row` of 1-based code cell `cell`."""
        return self.starts[cell - 1] + row


def split(source: str) -> list[str]:
    return source.split("\n") if source else []


def locate(lines: list[str], sources: list[str]) -> list[int]:
    """The 0-based line of the .md where each code cell's source starts (after its fence and
    options), found by matching the source jupytext read to the text."""
    starts, i = [], 0
    for source in sources:
        while not lines[i].startswith(FENCE):
            i += 1
        want = split(source)
        j = i + 1
        while lines[j : j + len(want)] != want and not lines[j].startswith("```"):
            j += 1
        if lines[j : j + len(want)] != want:
            raise SystemExit(f"tools.lint: cannot find code cell {len(starts) + 1} at line {i + 1}")
        starts.append(j)
        i = j + len(want)
    return starts


def export(ch: Chapter, folder: Path) -> ChapterCode:
    """Write the chapter's code cells to `folder`/<part>/<slug>.ipynb, a Python notebook."""
    sources = [c.source for c in jupytext.read(ch.path, fmt="md:myst").cells if c.cell_type == "code"]
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = folder / ch.part / f"{ch.slug}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    starts = locate(ch.path.read_text(encoding="utf-8").split("\n"), sources)
    return ChapterCode(ch, path, starts, [len(split(s)) for s in sources])


def export_all(folder: Path) -> dict[Path, ChapterCode]:
    codes = [export(ch, folder) for ch in chapters()]
    return {c.notebook.resolve(): c for c in codes}


def report_findings(stdout: str, codes: dict[Path, ChapterCode]) -> int:
    """Print ruff's JSON findings at their chapter lines; the number of findings."""
    findings = json.loads(stdout or "[]")
    for f in findings:
        code = codes[Path(f["filename"]).resolve()]
        cell, loc = f.get("cell") or 1, f["location"]
        fix = " [*]" if (f.get("fix") or {}).get("applicability") == "safe" else ""
        where = f"{code.md}:{code.md_line(cell, loc['row'])}:{loc['column']}"
        print(f"{where}: {f['code']}{fix} {f['message']} (code cell {cell})")
    return len(findings)


def check_chapters(codes: dict[Path, ChapterCode], fix: bool = False) -> bool:
    files = [str(p) for p in codes]
    args = ["check", "--output-format=json", *(["--fix"] if fix else []), *files]
    res = run(ruff(*args, chapter=True), capture=True)
    if res.returncode not in (0, 1):
        print(res.stderr, file=sys.stderr)
        return False
    if fix:  # the lines move when the cells are formatted: the checks that follow report them
        n = len(json.loads(res.stdout or "[]"))
        print(f"ruff check --fix: {n} finding(s) left in the chapters' code cells, for a hand edit")
    else:
        n = report_findings(res.stdout, codes)
        print(f"ruff check: {n} finding(s) in the chapters' code cells")
    return n == 0


def format_chapters(codes: dict[Path, ChapterCode], fix: bool = False) -> bool:
    files = [str(p) for p in codes]
    if fix:
        return run(ruff("format", *files, chapter=True)).returncode == 0
    res = run(ruff("format", "--check", "--output-format=json", *files, chapter=True), capture=True)
    if res.returncode not in (0, 1):
        print(res.stderr, file=sys.stderr)
        return False
    n = report_findings(res.stdout, codes)  # one per chapter, at its first cell that would change
    print(f"ruff format --check: {n} chapter(s) would be reformatted (python -m tools.lint --fix)")
    return n == 0


def write_back(code: ChapterCode) -> bool:
    """Replace each code cell's lines of the .md by the notebook's (fixed) cell; True if changed."""
    cells = nbformat.read(code.notebook, as_version=4).cells
    if len(cells) != len(code.starts):
        raise SystemExit(f"tools.lint: {code.md}: ruff changed the number of code cells")
    text = code.chapter.path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for start, length, cell in reversed(list(zip(code.starts, code.lengths, cells))):
        lines[start : start + length] = split(cell.source)
    new = "\n".join(lines)
    if new != text:
        code.chapter.path.write_text(new, encoding="utf-8")
    return new != text


# --- the steps ------------------------------------------------------------------------------------


def ruff_check() -> bool:
    return run(ruff("check", "--output-format=concise", *CODE)).returncode == 0


def ruff_format_check() -> bool:
    return run(ruff("format", "--check", "--output-format=concise", *CODE)).returncode == 0


def chapters_lint() -> bool:
    with tempfile.TemporaryDirectory(prefix="lint-") as tmp:
        codes = export_all(Path(tmp))
        checked = check_chapters(codes)
        formatted = format_chapters(codes)
    return checked and formatted


def workflow_schema() -> bool:
    files = sorted(str(p.relative_to(ROOT)) for p in WORKFLOWS.glob("*.y*ml"))
    return run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files]).returncode == 0


def zizmor() -> bool:
    config = ["--config", str(ZIZMOR_CONFIG)] if ZIZMOR_CONFIG.exists() else []
    res = run([tool("zizmor"), "--offline", "--no-progress", *config, str(WORKFLOWS.relative_to(ROOT))])
    if res.returncode in ZIZMOR_FAIL:
        print("zizmor: a medium or high finding: fix it, or suppress it in .github/zizmor.yml with the reason")
    return res.returncode in (0, 10, 11, 12)  # none; unknown, informational or low severity at worst


def fix_code() -> bool:
    fixed = run(ruff("check", "--fix", "--output-format=concise", *CODE)).returncode == 0
    return run(ruff("format", *CODE)).returncode == 0 and fixed


def fix_chapters() -> bool:
    with tempfile.TemporaryDirectory(prefix="lint-") as tmp:
        codes = export_all(Path(tmp))
        checked = check_chapters(codes, fix=True)
        formatted = format_chapters(codes, fix=True)
        changed = [c.md for c in codes.values() if write_back(c)]
    print(f"rewrote the code cells of {len(changed)} chapter(s): {', '.join(changed) or '-'}")
    return checked and formatted


Step = tuple[str, Callable[[], bool]]

CHECKS: list[Step] = [
    ("ruff check: src tools tests", ruff_check),
    ("ruff format --check: src tools tests", ruff_format_check),
    ("ruff check + format --check: the chapters' code cells (79 columns)", chapters_lint),
    ("check-jsonschema: .github/workflows against GitHub's workflow schema", workflow_schema),
    ("zizmor --offline: .github/workflows", zizmor),
]
FIXES: list[Step] = [
    ("ruff check --fix + ruff format: src tools tests", fix_code),
    ("ruff check --fix + ruff format: the chapters' code cells, written back", fix_chapters),
]


def run_steps(steps: list[Step]) -> list[str]:
    """Run every step, printing its name, result and time; the names of those that failed."""
    failed = []
    for name, step in steps:
        print(f"==> {name}", flush=True)
        t0 = time.perf_counter()
        ok = step()
        print(f"<== {'ok' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s: {name}\n", flush=True)
        if not ok:
            failed.append(name)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.lint", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fix", action="store_true", help="apply ruff's fixes and layout first, then check")
    args = ap.parse_args(argv)
    if args.fix:
        run_steps(FIXES)  # what is left shows in the checks that follow
    failed = run_steps(CHECKS)
    for name in failed:
        print(f"lint FAILED: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
