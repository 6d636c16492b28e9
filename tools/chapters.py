"""The chapters of the book: the toc, their front matter, and md → ipynb conversion.

`_toc.yml` is the single list of chapters; each chapter's front matter (`stochlearn:`) is the single
source of its paper, budget and GPU flag, and of the chapters it builds on (`prerequisites:`, a list
of chapter slugs that come before it in the toc; [] when none), which tools/curriculum_graph.py
draws as the map of the book.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
NOTEBOOKS = BUILD / "notebooks"
REPORTS = BUILD / "reports"
EXECUTED = BUILD / "executed"


@dataclass(frozen=True)
class Chapter:
    slug: str
    path: Path  # the MyST source, chapters/<part>/<slug>.md
    part: str  # chapters/<part>

    @property
    def docname(self) -> str:
        return self.path.relative_to(ROOT).with_suffix("").as_posix()

    @property
    def notebook(self) -> Path:
        return NOTEBOOKS / self.part / f"{self.slug}.ipynb"

    @property
    def meta(self) -> dict[str, Any]:
        return front_matter(self.path).get("stochlearn", {})

    def budget(self, profile: str) -> float | None:
        b = self.meta.get("budget_s", {}).get(profile)
        return float(b) if b is not None else None


def load_toc(root: Path = ROOT) -> dict[str, Any]:
    return yaml.safe_load((root / "_toc.yml").read_text())


def toc_files(root: Path = ROOT) -> list[str]:
    """Every file listed in `_toc.yml` (without suffix), in book order, the root first."""
    toc = load_toc(root)
    files = [toc["root"]]

    def walk(node: dict) -> None:
        for key in ("chapters", "sections"):
            for entry in node.get(key, []) or []:
                if "file" in entry:
                    files.append(entry["file"])
                walk(entry)
        for part in node.get("parts", []) or []:
            walk(part)

    walk(toc)
    return files


def chapters(root: Path = ROOT) -> list[Chapter]:
    """The paper chapters in book order: toc entries under `chapters/` that are not a part's index."""
    out = []
    for f in toc_files(root):
        p = Path(f)
        if p.parts[0] == "chapters" and p.name != "index":
            path = root / p.with_suffix(".md")
            out.append(Chapter(slug=p.name, path=path, part=p.parts[1]))
    return out


def find(slug: str, root: Path = ROOT) -> Chapter:
    for ch in chapters(root):
        if ch.slug == slug:
            return ch
    known = ", ".join(c.slug for c in chapters(root))
    raise SystemExit(f"unknown chapter {slug!r}; the toc lists: {known}")


def front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    end = text.index("\n---", 4)
    return yaml.safe_load(text[4:end]) or {}


def code_cells(text: str) -> list[tuple[str, str]]:
    """(options block, source) of every ```{code-cell} of a MyST notebook's text."""
    return re.findall(r"^```\{code-cell\}[^\n]*\n((?::[^\n]*\n)*)\n?(.*?)^```", text, flags=re.M | re.S)


def _label_text(node: ast.AST) -> str | None:
    """The literal text of a claim label: a string, an f-string's literal parts, or the left-most
    string of a concatenation (``"C4 ..." + suffix``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _label_text(node.left)
    return None


def claim_labels(text: str) -> dict[str, str]:
    """{claim id: label} of every ``claims.check("C<n> ...", ...)`` call in a chapter's code cells."""
    out: dict[str, str] = {}
    for _, src in code_cells(text):
        try:
            tree = ast.parse(src)
        except SyntaxError:  # a cell with IPython syntax holds no claims
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "check"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "claims"
                and node.args
            ):
                label = _label_text(node.args[0])
                m = re.match(r"(C\d+)\b", label or "")
                if m:
                    out[m.group(1)] = label
    return out


def to_notebook(ch: Chapter, out: Path | None = None) -> Path:
    """Write the chapter's generated notebook (see tools/notebooks.py); the .md stays the source."""
    from .notebooks import clean_notebook, write

    return write(clean_notebook(ch), out or ch.notebook)


def library_key(root: Path = ROOT) -> str:
    """A hash of everything besides a chapter's code that its results depend on."""
    h = hashlib.sha256()
    files = sorted((root / "src" / "stochlearn").rglob("*.py")) + [root / "constraints.txt"]
    for f in files:
        if f.exists():
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


if __name__ == "__main__":  # python -m tools.chapters  → lists the chapters of the toc
    for ch in chapters():
        print(f"{ch.slug:<32} {ch.path.relative_to(ROOT)}")
