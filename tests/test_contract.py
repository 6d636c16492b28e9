"""The chapter contract: every chapter in `_toc.yml` carries what the book, CI and readers rely on."""

from __future__ import annotations

import re

import pytest

from tools.chapters import ROOT, chapters, claim_labels, code_cells, front_matter, toc_files

CHAPTERS = chapters()
IDS = [c.slug for c in CHAPTERS]
BIB = (ROOT / "book" / "references.bib").read_text()
BIBKEYS = set(re.findall(r"^@\w+\{([^,\s]+),", BIB, flags=re.M))


def test_there_are_chapters_and_the_slugs_are_unique():
    assert CHAPTERS, "the toc lists no chapter"
    assert len(IDS) == len(set(IDS))


def test_toc_and_files_agree():
    listed = {ROOT / f"{f}.md" for f in toc_files()}
    for f in listed:
        assert f.exists(), f"_toc.yml lists {f.relative_to(ROOT)}, which does not exist"
    on_disk = set((ROOT / "chapters").rglob("*.md"))
    assert not on_disk - listed, (
        f"pages not in _toc.yml: {sorted(p.relative_to(ROOT).as_posix() for p in on_disk - listed)}"
    )
    parts = sorted(p.name for p in (ROOT / "chapters").iterdir() if p.is_dir())
    assert len(parts) == 7, parts
    for part in parts:
        assert ROOT / "chapters" / part / "index.md" in listed, f"part {part} has no index page in the toc"


def test_bibliography_has_all_58_papers():
    chapters_in_bib = re.findall(r"^% ([a-z0-9-]+)\n@", BIB, flags=re.M)
    assert len(chapters_in_bib) == 58, len(chapters_in_bib)


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_front_matter(ch):
    fm = front_matter(ch.path)
    ks = fm.get("kernelspec", {})
    assert ks.get("name") == "python3" and ks.get("language") == "python", "a kernelspec is needed to execute the page"
    meta = fm.get("stochlearn")
    assert meta, "missing the `stochlearn:` front matter"
    paper = meta.get("paper", {})
    for key in ("title", "authors", "year", "arxiv", "code", "bibkey"):
        assert paper.get(key), f"stochlearn.paper.{key} is missing"
    assert re.fullmatch(r"\d{4}\.\d{4,5}", str(paper["arxiv"])), paper["arxiv"]
    # the official code's address, or "none" with a note of what was searched and what is related
    if paper["code"] == "none":
        assert len(str(paper.get("code_note", "")).split()) >= 5, "code: none needs a code_note"
    else:
        assert str(paper["code"]).startswith("https://"), paper["code"]
    assert paper["bibkey"] in BIBKEYS, f"{paper['bibkey']} is not in book/references.bib"
    budget = meta.get("budget_s", {})
    assert 0 < budget.get("quick", 0) <= 20 and 0 < budget.get("book", 0) <= 120, budget
    assert isinstance(meta.get("gpu"), bool)
    assert isinstance(meta.get("requires", []), list)
    mutations = meta.get("mutations")
    assert mutations, "list at least one wrong implementation the claims must catch (stochlearn.mutations)"
    for m in mutations:
        assert m.get("name") and (m.get("code") or m.get("replace")) and m.get("fails"), m


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_every_claim_can_fail(ch):
    """Every claim is failed by a listed wrong implementation, or is declared a `baseline` claim with
    its reason; a claim whose label names the method fails when the method is taken out."""
    labels = claim_labels(ch.path.read_text(encoding="utf-8"))
    assert len(labels) >= 3, f"a chapter checks at least three claims, labelled 'C1 ...', 'C2 ...': {sorted(labels)}"
    mutations = ch.meta.get("mutations", [])
    baseline = ch.meta.get("baseline", {}) or {}
    assert isinstance(baseline, dict), "`baseline` maps a claim id to the reason it cannot fail with the method"
    for cid, why in baseline.items():
        assert cid in labels, f"baseline claim {cid} is not among the chapter's claims {sorted(labels)}"
        assert isinstance(why, str) and len(why.split()) >= 5, f"say in one line why {cid} is a baseline claim"
    failed = set()
    for m in mutations:
        unknown = set(m["fails"]) - set(labels)
        assert not unknown, f"mutation {m['name']!r} lists claims the chapter does not have: {sorted(unknown)}"
        failed |= set(m["fails"])
    uncovered = sorted(set(labels) - failed - set(baseline), key=lambda c: int(c[1:]))
    assert not uncovered, (
        f"no mutation fails {uncovered}: add a wrong implementation that does, or declare "
        "them `baseline` claims (they test the phenomenon, not the method) with the reason"
    )
    removers = [m for m in mutations if m.get("removes")]
    assert removers, (
        "mark the mutation that takes the method out with `removes: [the words that name the "
        "method in the claim labels]`"
    )
    for m in removers:
        for term in m["removes"]:
            named = [
                cid for cid, label in labels.items() if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", label, flags=re.I)
            ]
            missed = sorted(set(named) - set(m["fails"]))
            assert not missed, (
                f"{missed} name {term!r} but the mutation that removes it ({m['name']!r}) does not fail them"
            )


def test_claim_labels_are_read_from_the_code():
    text = (
        '```{code-cell} ipython3\nclaims = sl.Claims(run)\nclaims.check(\n    "C1 (paper) a "\n'
        '    "b", claims.at_least("x", 1, 0))\nclaims.check(f"C2 {n} seeds", ok)\n'
        'claims.check("C3 c" + (" [q]" if q else ""), ok)\nother.check("C9", ok)\n```\n'
    )
    assert claim_labels(text) == {"C1": "C1 (paper) a b", "C2": "C2  seeds", "C3": "C3 c"}


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_structure(ch):
    text = ch.path.read_text(encoding="utf-8")
    cells = code_cells(text)
    assert cells, "no code cells"
    first_opts, first_src = cells[0]
    assert "parameters" in first_opts, "the first code cell must be tagged `parameters`"
    assert re.search(r"^profile\s*=\s*None", first_src, flags=re.M) and re.search(
        r"^seed\s*=\s*0", first_src, flags=re.M
    )
    src = "\n".join(s for _, s in cells)
    assert "sl.setup(profile=profile, seed=seed)" in src
    assert re.search(r"sl\.Claims\(run\)", src) and "claims.report()" in src, "a Claims report is required"
    assert "sl.show(" in src, "show the library code of the method with sl.show(...)"
    assert f"({'ch-' + ch.slug})=" in text, f"the chapter needs the label (ch-{ch.slug})="
    for heading in (
        "## Claim checks",
        "## At paper scale",
        "## What this small version does not show",
        "## Exercises",
        "## References",
    ):
        assert heading in text, f"missing section {heading!r}"
    assert "```{exercise}" in text and "```{solution-start}" in text
    assert re.search(r":tags: \[solution\]", text) and re.search(r":tags: \[check\]", text)
    # a chapter whose references overlap another chapter's gives its bibliography a `:keyprefix:`
    # (sphinxcontrib-bibtex's cure for duplicate citations) and cites with that prefix
    prefix = re.search(r":keyprefix: (\S+)", text)
    key = (prefix.group(1) if prefix else "") + ch.meta["paper"]["bibkey"]
    assert f"{{cite:p}}`{key}`" in text, "cite the paper"
    assert "{bibliography}" in text
    paper_scale = text.split("## At paper scale", 1)[1].split("\n## ", 1)[0]
    assert "run.runs_paper_scale" in paper_scale, (
        "the At-paper-scale cell must run when run.runs_paper_scale (full, and tiny at quick)"
    )


#: PEP 8's limit. The book's code column (book/_static/stochlearn.css) shows about 83 characters
#: in a 1280-px window before it scrolls sideways, so 79 leaves a margin.
VISIBLE_CODE_WIDTH = 79


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_visible_code_fits_the_page(ch):
    """Code a reader sees without expanding it needs no horizontal scrolling. Figure code in
    `hide-input` cells is exempt: it is folded away on the page."""
    long = [
        line
        for opts, src in code_cells(ch.path.read_text(encoding="utf-8"))
        if "hide-input" not in opts and "remove-input" not in opts
        for line in src.splitlines()
        if len(line) > VISIBLE_CODE_WIDTH
    ]
    assert not long, f"visible code lines over {VISIBLE_CODE_WIDTH} characters: {long}"


#: Library code rendered with sl.show sits in the same column as the code cells (book CSS).
SHOWN_CODE_WIDTH = 80


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_library_code_shown_fits_the_page(ch):
    """Every `sl.show(...)` of a chapter renders source lines within 80 columns."""
    import stochlearn as sl

    ns = {"sl": sl, "D": sl.diffusion}
    long = []
    for _, src in code_cells(ch.path.read_text(encoding="utf-8")):
        for expr in re.findall(r"sl\.show\(([^()]*)\)", src):
            code = sl.show(eval(expr, ns)).code  # noqa: S307 - the chapter's own expression
            long += [f"{expr}: {line}" for line in code.splitlines() if len(line) > SHOWN_CODE_WIDTH]
    assert not long, f"lines of code shown with sl.show over {SHOWN_CODE_WIDTH} characters: {long}"


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_no_download_at_import_or_in_book_profile(ch):
    text = ch.path.read_text(encoding="utf-8")
    for bad in ("urllib.request.urlopen", "requests.get", "wget ", "!pip install"):
        assert bad not in text, f"{bad!r}: chapters are offline by default"


def test_every_library_module_has_an_api_page():
    import stochlearn

    pkg = ROOT / "src" / "stochlearn"
    for name in stochlearn.SUBMODULES + ("runtime", "claims", "show"):
        if (pkg / f"{name}.py").exists() or (pkg / name).is_dir():
            page = ROOT / "book" / "api" / f"{name}.md"
            assert page.exists(), f"stochlearn.{name} has no API page (book/api/{name}.md)"
            assert f".. automodule:: stochlearn.{name}" in page.read_text()
    index = (ROOT / "book" / "api" / "index.md").read_text()
    for page in (ROOT / "book" / "api").glob("*.md"):
        if page.stem != "index":
            assert f"{{doc}}`{page.stem}`" in index, f"book/api/index.md does not list {page.stem}"


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_prerequisites_are_earlier_chapters_of_the_toc(ch):
    """`prerequisites:` lists the chapters a reader should read first: chapters of the toc, each
    before this one in reading order (so the map of the book has no cycle)."""
    pre = ch.meta.get("prerequisites")
    assert isinstance(pre, list) and all(isinstance(p, str) for p in pre), (
        "stochlearn.prerequisites must be a list of chapter slugs ([] when none)"
    )
    order = [c.slug for c in CHAPTERS]
    for p in pre:
        assert p != ch.slug, "a chapter cannot be its own prerequisite"
        assert p in order, f"prerequisite {p!r} is not a chapter of _toc.yml"
        assert order.index(p) < order.index(ch.slug), f"prerequisite {p!r} comes after {ch.slug} in the toc"


def test_curriculum_graph_has_every_part_chapter_and_arrow(tmp_path):
    from tools.curriculum_graph import read_graph, render

    graph = read_graph()
    assert [n.slug for n in graph.nodes] == IDS
    assert len(graph.groups) == 7 and sum(len(g.nodes) + len(g.planned) for g in graph.groups) == 58
    assert sorted(graph.edges) == sorted((p, c.slug) for c in CHAPTERS for p in c.meta["prerequisites"])
    html = render(graph, uri=lambda doc: f"/{doc}.html")
    for n in graph.nodes:
        assert f'href="/{n.docname}.html"' in html
    for src, dst in graph.edges:
        assert f'data-from="{src}" data-to="{dst}"' in html
    assert html.count('class="sl-map-edge"') == len(graph.edges)

    # a prerequisite that is not a chapter of the toc is a clear error
    import shutil

    for f in ("_toc.yml", "book/references.bib"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / f, tmp_path / f)
    for c in CHAPTERS:
        dest = tmp_path / c.path.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = c.path.read_text(encoding="utf-8")
        if c is CHAPTERS[-1]:
            text = re.sub(r"prerequisites: \[[^\]]*\]", "prerequisites: [no-such-chapter]", text, count=1)
        dest.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="'no-such-chapter' is not a chapter of _toc.yml"):
        read_graph(tmp_path)


def test_status_page_summarises_each_part():
    from tools.curriculum_graph import read_graph
    from tools.status import part_summary

    graph = read_graph()
    first, last = graph.groups[0], graph.groups[-1]
    a, b = first.nodes[0].slug, first.nodes[1].slug
    claims = [{"claim": f"C{i}", "passed": i != 3, "detail": ""} for i in (1, 2, 3)]
    latest = {(a, "book"): {"claims": claims}, (b, "quick"): {"claims": claims}}  # quick runs don't count
    seeds = {
        (a, "book"): {"seeds": [0, 1, 2, 3, 4], "claims": [{"claim": "C1", "held": 5}, {"claim": "C2", "held": 3}]}
    }
    rows = part_summary(latest, seeds, graph)
    assert len(rows) == 2 + len(graph.groups)
    row = rows[2].split(" | ")
    n = len(first.nodes)
    assert row[1] == f"{n} of {n + len(first.planned)}"
    assert row[2] == f"✗ 2/3 (1 of {n} chapters)"
    assert row[3].rstrip(" |") == f"✗ 1/2 (1 of {n} chapters)"
    assert rows[-1].endswith(f"| {len(last.nodes)} of {len(last.nodes) + len(last.planned)} | — | — |")
