"""Clean Jupyter notebooks from the MyST chapters: for Colab, Binder, downloads and courses.

    python -m tools.notebooks            → _build/notebooks/<part>/<slug>.ipynb   (solutions included)
    python -m tools.notebooks --student  → _build/student/<part>/<slug>.ipynb     (solutions stubbed)

A generated notebook
- has plain Markdown that renders in Jupyter and Colab: MyST directives become headings, quotes
  and lists; roles become text and links (citations point at the paper, cross-references at the
  published book); `(label)=` targets disappear; images get absolute URLs;
- starts with a cell that installs `stochlearn` from the repository, in Colab only;
- carries `accelerator: GPU` metadata when the chapter's front matter says `gpu: true`.

A student notebook replaces, in every cell tagged `solution`, what the student is asked to write
(function bodies, the exercise's top-level code) by `raise NotImplementedError`, and nothing else
raises; the self-check cells (tag `check`) stay. `tools/assignments.py` writes the same regions as
nbgrader solution regions. The repository URL is read from `_config.yml`, nowhere else.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
from functools import lru_cache
from pathlib import Path

import nbformat
import yaml

from .chapters import BUILD, ROOT, Chapter, chapters

STUDENT = BUILD / "student"
COLAB_TAG = "colab-install"


@lru_cache(maxsize=1)
def repository() -> dict[str, str]:
    """Repository URL, branch, the published book's URL and raw-file URL, from `_config.yml`."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = cfg["repository"]["url"].rstrip("/")
    branch = cfg["repository"].get("branch", "main")
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", url)
    if not m:
        raise ValueError(f"repository.url in _config.yml must be a GitHub URL, got {url!r}")
    org, repo = m.groups()
    return {
        "url": url,
        "branch": branch,
        "book": f"https://{org}.github.io/{repo}",
        "raw": f"https://raw.githubusercontent.com/{org}/{repo}/{branch}",
        "colab": f"https://colab.research.google.com/github/{org}/{repo}/blob/notebooks",
    }


def notebook_relpath(ch: Chapter) -> str:
    """Where a chapter's notebook lives in _build/notebooks and on the `notebooks` branch."""
    return f"{ch.part}/{ch.slug}.ipynb"


# --- bibliography -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _bib() -> dict[str, dict[str, str]]:
    from pybtex.database import parse_file

    out = {}
    for key, entry in parse_file(str(ROOT / "book" / "references.bib")).entries.items():
        people = entry.persons.get("author", [])
        last = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
        who = last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2 else f"{last[0]} et al."
        title = entry.fields.get("title", "").replace("{", "").replace("}", "")
        out[key] = {
            "who": who,
            "year": entry.fields.get("year", ""),
            "title": title,
            "url": entry.fields.get("url", ""),
            "authors": ", ".join(last),
        }
    return out


def _cite(keys: str, textual: bool) -> str:
    parts = []
    for key in [k.strip() for k in keys.split(",") if k.strip()]:
        # a `:keyprefix:` chapter cites "prefix-key" (see tests/test_contract.py)
        e = _bib().get(key) or _bib().get(key.split("-", 1)[-1])
        if e is None:
            parts.append(key)
            continue
        text = f"{e['who']} ({e['year']})" if textual else f"{e['who']}, {e['year']}"
        parts.append(f"[{text}]({e['url']})" if e["url"] else text)
    return "; ".join(parts) if textual else f"({'; '.join(parts)})"


# --- MyST → Markdown -------------------------------------------------------------------------------

_LABELS: dict[str, tuple[str, str]] = {}  # label → (page URL, title), filled lazily from the chapters


def _label(label: str) -> tuple[str, str] | None:
    if not _LABELS:
        for ch in chapters():
            if not ch.path.exists():
                continue
            text = ch.path.read_text(encoding="utf-8")
            for lab, title in re.findall(r"^\(([\w-]+)\)=[ \t]*\n#+\s+(.+)$", text, flags=re.M):
                anchor = "" if lab == f"ch-{ch.slug}" else f"#{lab}"
                _LABELS[lab] = (f"{repository()['book']}/{ch.docname}.html{anchor}", title.strip())
    return _LABELS.get(label)


def _role(name: str, content: str, docname: str) -> str:
    text, target = content, content
    m = re.fullmatch(r"(.*?)\s*<([^>]+)>", content, flags=re.S)
    if m:
        text, target = m.group(1), m.group(2)
    if name in ("cite", "cite:p", "cite:ps"):
        return _cite(target, textual=False)
    if name in ("cite:t", "cite:ts"):
        return _cite(target, textual=True)
    if name == "math":
        return f"${content}$"
    if name == "ref":
        found = _label(target)
        if found is None:
            return text
        url, title = found
        return f"[{text if m else title}]({url})"
    if name == "doc":
        page = (Path(docname).parent / target).as_posix() if not target.startswith("/") else target.lstrip("/")
        return f"[{text}]({repository()['book']}/{page}.html)"
    return text


_FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    flags=re.M | re.S,
)


def _references(keys: list[str]) -> str:
    """A plain list of the works a chapter cites, in order of first citation."""
    lines = []
    for key in dict.fromkeys(keys):
        e = _bib().get(key)
        if e:
            link = f" <{e['url']}>" if e["url"] else ""
            lines.append(f"- {e['authors']} ({e['year']}). *{e['title']}*.{link}")
    return "\n".join(lines)


def _directive(name: str, arg: str, body: str, cited: list[str]) -> str:
    options = {}
    lines = body.split("\n")
    while lines and re.match(r"^:[\w-]+:", lines[0]):
        k, _, v = lines.pop(0)[1:].partition(":")
        options[k.strip()] = v.strip()
    body = "\n".join(lines).strip("\n")
    if name in ("admonition", "note", "tip", "important", "warning", "caution", "hint", "seealso", "attention"):
        title = arg.strip() or name.capitalize()
        quoted = "\n".join(f"> {ln}" if ln else ">" for ln in body.split("\n"))
        return f"> **{title}**\n>\n{quoted}"
    if name == "exercise":
        return f"### Exercise: {arg.strip()}\n\n{body}"
    if name in ("solution-start", "solution"):
        return "#### Solution" + (f"\n\n{body}" if body else "")
    if name == "solution-end":
        return ""
    if name == "bibliography":
        return _references(cited)
    if name in ("figure", "image"):
        return f"![{options.get('alt', '')}]({arg.strip()})" + (f"\n\n*{body}*" if body else "")
    if name == "math":
        return f"$$\n{body}\n$$"
    if name in ("code-block", "code"):
        return f"```{arg.strip()}\n{body}\n```"
    return body


def myst_to_markdown(text: str, docname: str, cited: list[str] | None = None) -> str:
    """Turn a MyST Markdown cell into plain (Jupyter/Colab) Markdown.

    ``cited`` lists the citation keys of the whole chapter, for its ``{bibliography}``.
    """
    cited = cited or []
    text = re.sub(r"^\([\w-]+\)=[ \t]*\n", "", text, flags=re.M)  # label targets
    prev = None
    while prev != text:  # innermost directives first, until none is left
        prev = text
        text = _FENCE.sub(lambda m: _directive(m["name"], m["arg"], m["body"], cited), text)
    text = re.sub(r"\{([\w:]+)\}`([^`]*)`", lambda m: _role(m.group(1), m.group(2), docname), text)
    text = re.sub(
        r"!\[([^\]]*)\]\((?!https?://|data:)([^)\s]+)\)",
        lambda m: f"![{m.group(1)}]({repository()['raw']}/{(Path(docname).parent / m.group(2)).as_posix()})",
        text,
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- notebooks ------------------------------------------------------------------------------------


def colab_cell() -> nbformat.NotebookNode:
    src = (
        "# In Colab, install the book's library first (elsewhere this cell does nothing).\n"
        "import sys\n\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "stochlearn @ git+{repository()["url"]}@{repository()["branch"]}"\n'
    )
    return nbformat.v4.new_code_cell(src, metadata={"tags": [COLAB_TAG]})


def clean_notebook(ch: Chapter) -> nbformat.NotebookNode:
    """The generated notebook of a chapter: plain Markdown, a Colab install cell, GPU metadata."""
    import jupytext

    nb = jupytext.read(ch.path, fmt="md:myst")
    cited = [
        k.strip()
        for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]*)`", ch.path.read_text(encoding="utf-8"))
        for k in keys.split(",")
    ]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = myst_to_markdown(cell.source, ch.docname, cited)
    nb.cells = [c for c in nb.cells if c.cell_type != "markdown" or c.source.strip()]
    nb.cells.insert(0, colab_cell())
    meta = ch.meta
    nb.metadata.pop("jupytext", None)
    nb.metadata["stochlearn"] = {**meta, "slug": ch.slug}
    nb.metadata["colab"] = {"name": f"{ch.slug}.ipynb", "provenance": []}
    if meta.get("gpu"):
        nb.metadata["accelerator"] = "GPU"
        nb.metadata["colab"]["gpuType"] = "T4"
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids: same source, same notebook
        cell.id = f"{ch.slug}-{i}"
    return nb


#: nbgrader's delimiters of a solution region (its defaults); tools/assignments.py writes them.
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_regions(src: str) -> list[tuple[int, int, str, str | None]]:
    """The parts of a solution cell that a student writes: ``(first, last, indent, function)``
    line ranges (1-based, inclusive) in ``src``; ``function`` names the function whose body the
    range is, or is None for top-level code.

    A function's body after its docstring is a region, and so is each method body of a class; a
    run of other top-level statements is one region. Comment lines right above a region's first
    statement belong to it (they are hints). Imports, signatures and docstrings stay given. What
    a region replaces is exactly what the student is asked to write, so a stub raises only there
    (nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` model).
    """
    lines = src.splitlines()
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return [(1, len(lines), "", None)] if lines else []
    regions: list[tuple[int, int, str, str | None]] = []

    def with_comments(first: int, floor: int) -> int:
        while first - 1 > floor and lines[first - 2].lstrip().startswith("#"):
            first -= 1
        return first

    def body_region(node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        doc = ast.get_docstring(node) is not None
        body = node.body[1:] if doc else node.body
        if not body:
            return
        if body[0].lineno == node.lineno:
            raise ValueError(f"a solution's function {node.name!r} needs its body on lines of its own")
        first = with_comments(body[0].lineno, node.body[0].end_lineno if doc else node.lineno)
        line = lines[body[0].lineno - 1]
        regions.append((first, node.end_lineno, line[: len(line) - len(line.lstrip())], node.name))

    run: list[ast.stmt] = []
    previous_end = 0

    def close_run() -> None:
        if run:
            regions.append((with_comments(run[0].lineno, previous_end), run[-1].end_lineno, "", None))
            run.clear()

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            close_run()
            body_region(node)
        elif isinstance(node, ast.ClassDef) and any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in node.body
        ):
            close_run()
            for n in node.body:
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    body_region(n)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            close_run()
        else:
            run.append(node)
            continue
        previous_end = node.end_lineno
    close_run()
    return sorted(regions)


def mark_solutions(src: str, notes: str = "") -> str:
    """``src`` with each solution region between nbgrader's delimiters; ``notes`` (the solution's
    prose) goes into the first region as comments."""
    lines = src.splitlines()
    regions = solution_regions(src)
    for k, (first, last, indent, _) in enumerate(reversed(regions)):
        lines.insert(last, indent + END_SOLUTION)
        if notes and k == len(regions) - 1:
            lines[first - 1 : first - 1] = [f"{indent}# {ln}".rstrip() for ln in notes.strip().splitlines()]
        lines.insert(first - 1, indent + BEGIN_SOLUTION)
    return "\n".join(lines)


def stub_header(label: str) -> str:
    """The one line at the top of a stub cell that says what to do with it."""
    end = "" if label[-1:] in ".?!" else "."
    return f"# Exercise: {label}{end} Replace each `raise NotImplementedError` below with your code."


def clear_solutions(src: str, label: str) -> str:
    """The student's stub of a solution cell: every region of :func:`solution_regions` becomes
    ``# YOUR CODE HERE`` and a ``raise NotImplementedError`` naming the exercise, under a one-line
    header; the rest of the cell (signatures, docstrings, imports) stays as it is."""
    lines = src.splitlines()
    for first, last, indent, function in reversed(solution_regions(src)):
        msg = f"exercise {label!r}: " + (f"write the body of {function}" if function else "write this part")
        lines[first - 1 : last] = [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({msg!r})"]
    return "\n".join([stub_header(label), *lines])


def _exercise_label(cell: nbformat.NotebookNode, label: str) -> str:
    found = re.findall(r"^### Exercise: (.*)$", cell.source, flags=re.M)
    return found[-1].strip() if found else label


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Solutions stubbed out (cells tagged `solution`, see :func:`clear_solutions`), the
    solutions' prose removed, self-checks (tag `check`) kept."""
    nb = nbformat.from_dict(nb)  # a deep copy
    label = "?"
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            label = _exercise_label(cell, label)
            cell.source = cell.source.split("#### Solution")[0].rstrip()  # the solution's prose goes too
            if not cell.source:
                continue
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and "solution" in tags:
            cell.source = clear_solutions(cell.source, label)
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    nb.cells = cells
    nb.metadata["stochlearn"]["student"] = True
    return nb


#: The environment of a CI run at the quick profile.
QUICK_ENV = {"STOCHLEARN_PROFILE": "quick", "STOCHLEARN_QUIET": "1"}


def execute(
    nb: nbformat.NotebookNode,
    cwd: Path | str = ROOT,
    env: dict[str, str] | None = None,
    allow_errors: bool = False,
    timeout: int = 600,
) -> nbformat.NotebookNode:
    """Execute ``nb`` in place with nbclient; the kernel sees ``env`` on top of this process's."""
    from nbclient import NotebookClient

    env = env or {}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(cwd)}},
        ).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", action="store_true", help="write the student notebooks instead")
    ap.add_argument("slugs", nargs="*", help="only these chapters (default: every chapter of the toc)")
    args = ap.parse_args(argv)
    dest = STUDENT if args.student else BUILD / "notebooks"
    out = []
    for ch in chapters():
        if args.slugs and ch.slug not in args.slugs:
            continue
        nb = clean_notebook(ch)
        out.append(write(student_notebook(nb) if args.student else nb, dest / notebook_relpath(ch)))
    for p in out:
        print(p.relative_to(ROOT))
    if not args.slugs:
        for p in prune(dest, out):
            print(f"removed {p.relative_to(ROOT)} (no longer a chapter of the toc)")
    return out


def prune(dest: Path, keep: list[Path]) -> list[Path]:
    """Delete the notebooks under ``dest`` that are not in ``keep``: chapters renamed, moved or
    dropped from the toc would otherwise linger there, be tested by nbval and be published."""
    keep = {p.resolve() for p in keep}
    gone = [p for p in sorted(dest.rglob("*.ipynb")) if p.resolve() not in keep]
    for p in gone:
        p.unlink()
    for d in sorted((d for d in dest.rglob("*") if d.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    return gone


if __name__ == "__main__":
    main()
