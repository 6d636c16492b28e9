"""A map of the book: the curriculum drawn as a graph, generated from the chapters' front matter.

    python -m tools.curriculum_graph   → book/_generated/curriculum.html (book/intro.md includes it)

The book's Sphinx extension (book/_ext/stochlearn_book.py) writes the same file when a build starts
(`builder-inited`), so a plain `jupyter-book build .` draws the map from the current front matter.

- **Groups** are the parts of `_toc.yml` whose pages live under `chapters/<part>/`, labelled with
  the toc caption and linked to the part's index page.
- **Nodes** are the part's chapters in reading order, each labelled with its short title (the
  front matter's optional `stochlearn.short_title`, else the page title up to its first colon) and
  linked to its page. The chapters planned for the part but not yet written (the curriculum, as
  `book/references.bib` lists it, one `% <slug>` comment per paper under a `% Part …` header) are
  drawn as small grey circles, so that the map shows the whole curriculum's shape.
- **Arrows** go from each of a chapter's `prerequisites` (front matter, chapter slugs) to the chapter:
  "read that one first".

The drawing is plain inline SVG (no script, no network); its colours are CSS classes that
book/_static/stochlearn.css styles with the theme's variables, so it follows the light and dark
themes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .chapters import ROOT, front_matter, load_toc

OUT = ROOT / "book" / "_generated" / "curriculum.html"
PAGE = "book/intro"  # the page that includes the map; its links are relative to it

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}


@dataclass(frozen=True)
class Node:
    slug: str
    title: str  # the short title drawn in the node
    docname: str  # chapters/<part>/<slug>
    part: str  # chapters/<part>
    prerequisites: tuple[str, ...] = ()
    paper: str = ""  # the paper's title (the node's tooltip)


@dataclass
class Group:
    part: str  # the folder under chapters/
    caption: str  # the toc caption, "Part I — The noise in SGD"
    docname: str  # the part's index page
    nodes: list[Node] = field(default_factory=list)
    planned: list[tuple[str, str]] = field(default_factory=list)  # (slug, paper title), not yet written


@dataclass
class Graph:
    groups: list[Group]
    edges: list[tuple[str, str]]  # (prerequisite, chapter)

    @property
    def nodes(self) -> list[Node]:
        return [n for g in self.groups for n in g.nodes]


# ---------------------------------------------------------------------------------------------
# Reading the toc, the front matter and the planned curriculum


def planned_chapters(root: Path = ROOT) -> dict[int, list[tuple[str, str]]]:
    """{part number: [(slug, paper title), ...]} of the whole curriculum, from the `% Part <roman> --`
    headers and `% <slug>` comments of book/references.bib, in curriculum order."""
    bib = root / "book" / "references.bib"
    out: dict[int, list[tuple[str, str]]] = {}
    if not bib.exists():
        return out
    part = 0
    for m in re.finditer(
        r"^% Part ([IVX]+)\b[^\n]*|^% ([a-z0-9-]+)\n@\w+\{[^,]*,(.*?)^\}",
        bib.read_text(encoding="utf-8"),
        flags=re.M | re.S,
    ):
        if m.group(1):
            part = _ROMAN.get(m.group(1), part + 1)
            out.setdefault(part, [])
        elif part:
            t = re.search(r"^\s*title\s*=\s*\{(.*)\},?\s*$", m.group(3), flags=re.M)
            title = re.sub(r"[{}]|\\.", "", t.group(1)) if t else m.group(2)
            out[part].append((m.group(2), title))
    return out


def _page_title(path: Path) -> str:
    """The page's `# ` heading (outside code blocks)."""
    fence = False
    for line in path.read_text(encoding="utf-8").split("\n---", 1)[-1].splitlines():
        if line.startswith(("```", "~~~")):
            fence = not fence
        elif not fence and line.startswith("# "):
            return line[2:].strip()
    return path.stem


def short_title(path: Path, meta: dict) -> str:
    if meta.get("short_title"):
        return str(meta["short_title"])
    return _page_title(path).split(":", 1)[0].strip()


def _entries(node: dict) -> list[str]:
    files = []
    for key in ("chapters", "sections"):
        for entry in node.get(key, []) or []:
            if "file" in entry:
                files.append(entry["file"])
            files += _entries(entry)
    return files


def read_graph(root: Path = ROOT) -> Graph:
    """The curriculum graph of the book at ``root``.

    Raises ValueError when a chapter's `prerequisites` is not a list, or names a page that is not
    a chapter of the toc, or names the chapter itself.
    """
    toc = load_toc(root)
    plan = planned_chapters(root)
    groups: list[Group] = []
    for part in toc.get("parts", []) or []:
        files = _entries(part)
        folders = {Path(f).parts[1] for f in files if Path(f).parts[0] == "chapters" and len(Path(f).parts) == 3}
        if not folders:
            continue  # "Getting started", "Back matter": not parts of the curriculum
        if len(folders) > 1:
            raise ValueError(f"toc part {part.get('caption')!r} mixes chapter folders: {sorted(folders)}")
        folder = folders.pop()
        g = Group(part=folder, caption=str(part.get("caption", folder)), docname=f"chapters/{folder}/index")
        for f in files:
            p = Path(f)
            if p.parts[0] != "chapters" or p.name == "index":
                continue
            path = root / p.with_suffix(".md")
            meta = front_matter(path).get("stochlearn", {}) or {}
            pre = meta.get("prerequisites", [])
            if not isinstance(pre, list) or not all(isinstance(s, str) for s in pre):
                raise ValueError(f"{p.name}: stochlearn.prerequisites must be a list of chapter slugs, not {pre!r}")
            g.nodes.append(
                Node(
                    slug=p.name,
                    title=short_title(path, meta),
                    docname=p.as_posix(),
                    part=folder,
                    prerequisites=tuple(pre),
                    paper=str((meta.get("paper") or {}).get("title", "")),
                )
            )
        m = re.match(r"(\d+)-", folder)
        written = {n.slug for n in g.nodes}
        g.planned = [(s, t) for s, t in plan.get(int(m.group(1)) if m else -1, []) if s not in written]
        groups.append(g)
    graph = Graph(groups=groups, edges=[])
    slugs = [n.slug for n in graph.nodes]
    for n in graph.nodes:
        for p in n.prerequisites:
            if p == n.slug:
                raise ValueError(f"{n.slug}: a chapter cannot be its own prerequisite")
            if p not in slugs:
                raise ValueError(
                    f"{n.slug}: prerequisite {p!r} is not a chapter of _toc.yml "
                    f"(the toc's chapters are: {', '.join(slugs)})"
                )
            graph.edges.append((p, n.slug))
    return graph


# ---------------------------------------------------------------------------------------------
# Drawing

W = 720  # the SVG's user units: about the px of the book's content column, so text keeps its size
MARGIN = 6  # around each part's box
PAD = 14  # inside a part's box
COLS = 3
LANE_W = 18  # at the right of the nodes: the lane of arrows that skip rows or parts
GAP_X, GAP_Y = 20, 26
NODE_W = int((W - 2 * (MARGIN + PAD) - LANE_W - (COLS - 1) * GAP_X) / COLS)
NODE_H = 42
LANE_X = MARGIN + PAD + COLS * NODE_W + (COLS - 1) * GAP_X + 6
HEAD_SIZE, NODE_SIZE, SMALL_SIZE = 15, 13, 12
DOT_R, DOT_STEP = 5.5, 16


def _text_width(s: str, size: float) -> float:
    """A rough width of ``s`` in a sans-serif font (no font metrics at build time)."""
    wide = sum(c.isupper() or c in "mwMW—" for c in s)
    return size * (0.54 * len(s) + 0.2 * wide)


def _wrap(s: str, size: float, width: float, max_lines: int) -> list[str]:
    lines: list[str] = []
    for word in s.split():
        if lines and _text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(",;:") + "…"
    return lines


@dataclass
class _Box:
    x: float
    y: float
    row: int
    col: int
    group: int

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2

    @property
    def bottom(self) -> float:
        return self.y + NODE_H


def _path(points: list[tuple[float, float]], r: float = 6) -> str:
    """An orthogonal polyline with rounded corners."""
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (x0, y0), (x1, y1), (x2, y2) in zip(points, points[1:], points[2:]):
        l1, l2 = abs(x1 - x0) + abs(y1 - y0), abs(x2 - x1) + abs(y2 - y1)
        k = min(r, l1 / 2, l2 / 2)
        ax = x1 - k * ((x1 > x0) - (x1 < x0)) if l1 else x1
        ay = y1 - k * ((y1 > y0) - (y1 < y0)) if l1 else y1
        bx = x1 + k * ((x2 > x1) - (x2 < x1)) if l2 else x1
        by = y1 + k * ((y2 > y1) - (y2 < y1)) if l2 else y1
        d += f" L{ax:.1f},{ay:.1f} Q{x1:.1f},{y1:.1f} {bx:.1f},{by:.1f}"
    return d + f" L{points[-1][0]:.1f},{points[-1][1]:.1f}"


def _route(s: _Box, t: _Box, lane: int) -> list[tuple[float, float]]:
    """Arrow from prerequisite ``s`` to chapter ``t`` through the gaps between the nodes."""
    if s.group == t.group and s.row == t.row and t.col == s.col + 1:  # side by side
        y = s.y + NODE_H / 2
        return [(s.x + NODE_W, y), (t.x, y)]
    off = 6 * (lane % 3 - 1)  # edges that share a gap are drawn a little apart
    gutter = s.bottom + GAP_Y / 2 + off
    if s.group == t.group and t.row == s.row + 1:  # the next row: through the gap between them
        if abs(s.cx - t.cx) < 1:
            return [(s.cx, s.bottom), (t.cx, t.y)]
        return [(s.cx + off, s.bottom), (s.cx + off, gutter), (t.cx + off, gutter), (t.cx + off, t.y)]
    if s.group == t.group and t.row == s.row:  # the same row: under it and back up
        return [(s.cx + off, s.bottom), (s.cx + off, gutter), (t.cx + off, gutter), (t.cx + off, t.bottom)]
    x = LANE_X + 5 * (lane % 3)  # farther: down the right-hand lane
    above = t.y - 9 + off / 3
    return [
        (s.cx + off, s.bottom),
        (s.cx + off, gutter),
        (x, gutter),
        (x, above),
        (t.cx + off, above),
        (t.cx + off, t.y),
    ]


def render(graph: Graph, uri: Callable[[str], str] | None = None) -> str:
    """The map as an HTML fragment (a <div> holding an inline <svg>).

    ``uri(docname)`` gives a link's URL relative to the including page (default: the HTML
    builder's, for book/intro.html).
    """
    if uri is None:
        depth = PAGE.count("/")
        uri = lambda doc: "../" * depth + doc + ".html"  # noqa: E731
    esc = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    body: list[str] = []
    boxes: dict[str, _Box] = {}
    y = MARGIN
    inner = W - 2 * (MARGIN + PAD)
    for gi, g in enumerate(graph.groups):
        top = y
        n_written, n_total = len(g.nodes), len(g.nodes) + len(g.planned)
        count = f"{n_written} of {n_total} chapters" if n_written else f"coming: {n_total} chapters planned"
        head = _wrap(g.caption, HEAD_SIZE, inner - _text_width(count, SMALL_SIZE) - 16, 3)
        y += PAD + HEAD_SIZE
        parts = [f'<a href="{esc(uri(g.docname))}" class="sl-map-part-link">']
        for i, line in enumerate(head):
            parts.append(
                f'<text x="{MARGIN + PAD}" y="{y + i * (HEAD_SIZE + 4):.0f}" class="sl-map-part-label">'
                f"{esc(line)}</text>"
            )
        parts.append("</a>")
        parts.append(
            f'<text x="{W - MARGIN - PAD}" y="{y:.0f}" text-anchor="end" class="sl-map-count">{esc(count)}</text>'
        )
        y += (len(head) - 1) * (HEAD_SIZE + 4) + 18
        for i, n in enumerate(g.nodes):
            row, col = divmod(i, COLS)
            b = _Box(MARGIN + PAD + col * (NODE_W + GAP_X), y + row * (NODE_H + GAP_Y), row, col, gi)
            boxes[n.slug] = b
            lines = _wrap(n.title, NODE_SIZE, NODE_W - 16, 2)
            ty = b.y + NODE_H / 2 - (len(lines) - 1) * (NODE_SIZE + 2) / 2 + NODE_SIZE * 0.35
            tip = f"{n.title}: {n.paper}" if n.paper and n.paper != n.title else n.title
            parts.append(
                f'<a href="{esc(uri(n.docname))}" class="sl-map-node" data-slug="{esc(n.slug)}">'
                f"<title>{esc(tip)}</title>"
                f'<rect x="{b.x}" y="{b.y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            )
            for k, line in enumerate(lines):
                parts.append(
                    f'<text x="{b.cx:.0f}" y="{ty + k * (NODE_SIZE + 2):.1f}" text-anchor="middle">{esc(line)}</text>'
                )
            parts.append("</a>")
        if g.nodes:
            y += ((len(g.nodes) - 1) // COLS + 1) * (NODE_H + GAP_Y) - GAP_Y + 14
        if g.planned:
            per_row = int((inner - 110) // DOT_STEP)
            for i, (slug, title) in enumerate(g.planned):
                r, c = divmod(i, per_row)
                parts.append(
                    f'<circle cx="{MARGIN + PAD + DOT_R + c * DOT_STEP}" cy="{y + DOT_R + r * DOT_STEP:.0f}" '
                    f'r="{DOT_R}" class="sl-map-planned"><title>planned: {esc(title)} ({esc(slug)})</title></circle>'
                )
            rows = (len(g.planned) - 1) // per_row + 1
            label = f"{len(g.planned)} planned" if g.nodes else "not written yet"
            x = MARGIN + PAD + min(len(g.planned), per_row) * DOT_STEP + 6
            parts.append(f'<text x="{x}" y="{y + DOT_R + SMALL_SIZE * 0.35:.0f}" class="sl-map-count">{label}</text>')
            y += rows * DOT_STEP + 4
        y += PAD - 4
        body.append(
            f'<g class="sl-map-group" data-part="{esc(g.part)}">'
            f'<rect x="{MARGIN}" y="{top}" width="{W - 2 * MARGIN}" height="{y - top:.0f}" rx="10" class="sl-map-box"/>'
            + "".join(parts)
            + "</g>"
        )
        y += MARGIN + 6
    arrows = []
    for lane, (src, dst) in enumerate(graph.edges):
        arrows.append(
            f'<path d="{_path(_route(boxes[src], boxes[dst], lane))}" class="sl-map-edge" '
            f'marker-end="url(#sl-map-arrow)" data-from="{esc(src)}" data-to="{esc(dst)}">'
            f"<title>read {esc(src)} before {esc(dst)}</title></path>"
        )
    height = y - 6
    n_ch = len(graph.nodes)
    n_all = n_ch + sum(len(g.planned) for g in graph.groups)
    summary = (
        f"Map of the book: {len(graph.groups)} parts, {n_ch} of {n_all} chapters written; "
        f"{len(graph.edges)} arrows from a chapter to one that builds on it."
    )
    defs = (
        '<defs><marker id="sl-map-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="sl-map-arrowhead"/>'
        "</marker></defs>"
    )
    svg = (
        f'<svg class="sl-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height:.0f}" '
        f'width="100%" role="group" aria-label="{esc(summary)}"><title>{esc(summary)}</title>{defs}'
        + "\n".join(body)
        + "\n"
        + "\n".join(arrows)
        + "</svg>"
    )
    return f'<div class="sl-map-wrap">\n{svg}\n</div>\n'


def write(root: Path = ROOT, out: Path | None = None, uri: Callable[[str], str] | None = None) -> Path:
    """Write the map; leave the file untouched when it has not changed (so Sphinx does not re-read
    the page that includes it)."""
    out = out or root / OUT.relative_to(ROOT)
    text = render(read_graph(root), uri)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return out


if __name__ == "__main__":
    print(write().relative_to(ROOT))
