"""Sphinx glue for the book: launch and download buttons that open the *generated* notebooks.

Colab opens only .ipynb files from a repository, so a chapter's Colab button points at its
generated notebook on the `notebooks` branch (published by the nightly workflow), Binder opens the
generated notebook that `postBuild` writes, and the page's .ipynb download is that same notebook
(from _build/notebooks/, written by `python -m tools.notebooks` before the build).

It also draws the map of the book that the intro page includes (tools/curriculum_graph.py) when a
build starts, from the chapters' front matter as it is then.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

CHAPTER = re.compile(r"^chapters/(?P<part>[^/]+)/(?P<slug>(?!index$)[^/]+)$")


def _retarget(app, pagename, templatename, context, doctree) -> None:
    m = CHAPTER.match(pagename)
    if not m:
        return
    opts = app.config.html_theme_options
    repo = opts.get("repository_url", "").rstrip("/")
    org_repo = repo.removeprefix("https://github.com/")
    nb_path = f"{m['part']}/{m['slug']}.ipynb"
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            if button.get("text") == "Colab":
                button["url"] = f"https://colab.research.google.com/github/{org_repo}/blob/notebooks/{nb_path}"
            elif button.get("text") == "Binder":
                button["url"] = re.sub(r"urlpath=.*$", f"urlpath=lab/tree/_build/notebooks/{nb_path}", button["url"])


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Jupyter Book registers sphinx-thebe's inline configuration script twice, which is a
    JavaScript error (`THEBE_JS_URL` declared twice) on every page; keep the first copy."""
    seen, kept = set(), []
    for js in context.get("script_files", []):
        attrs = tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items()))
        key = (getattr(js, "filename", str(js)) or "", attrs)  # an inline script has None or ""
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def _copy_generated_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    generated = Path(app.srcdir) / "_build" / "notebooks"
    for docname in app.env.found_docs:
        m = CHAPTER.match(docname)
        src = generated / f"{m['part']}/{m['slug']}.ipynb" if m else None
        if src is not None and src.exists():
            dest = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)


_MYST_ROLE = re.compile(r"\{(ref|doc|cite:p|cite:t|math)\}`")
_INTRODUCED = re.compile(r"Introduced in\s+(\{ref\}`[^`]+`(?:\s*(?:and|,)\s*\{ref\}`[^`]+`)*)")


def _docstring_roles(app, what, name, obj, options, lines) -> None:
    """Docstrings are written for `sl.show` in MyST style ({ref}`ch-x`); autodoc reads RST.

    Also: every documented object links to the chapter that introduces it, taken from its own
    docstring or else from its module's ("Introduced in {ref}`ch-...`").
    """
    import inspect
    import sys

    text = "\n".join(lines)
    if what in ("class", "function") and "Introduced in" not in text:
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        found = _INTRODUCED.search(inspect.getdoc(module) or "") if module else None
        if found:
            lines.extend(["", f"Introduced in {found.group(1)}."])
    for i, line in enumerate(lines):
        lines[i] = _MYST_ROLE.sub(lambda m: f":{m.group(1)}:`", line)


def _write_curriculum_graph(app) -> None:
    """book/_generated/curriculum.html, with links relative to the page that includes it."""
    import sys

    root = str(Path(app.srcdir).resolve())
    if root not in sys.path:
        sys.path.insert(0, root)  # the `tools` package of the repository
    from tools import curriculum_graph

    builder = app.builder
    page = curriculum_graph.PAGE

    def uri(docname: str) -> str:
        try:
            return builder.get_relative_uri(page, docname)
        except Exception:  # a builder without pages (linkcheck, latex): the HTML builder's link
            return "../" * page.count("/") + docname + ".html"

    curriculum_graph.write(Path(app.srcdir), uri=uri if builder.format == "html" else None)


def setup(app):
    app.connect("builder-inited", _write_curriculum_graph)
    app.connect("autodoc-process-docstring", _docstring_roles)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _retarget, priority=900)  # after the theme adds its buttons
    app.connect("build-finished", _copy_generated_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
