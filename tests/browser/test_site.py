"""The built site, checked as a reader's browser sees it (headless Chromium, offline).

Run after `make book` (`make browser`): serves _build/html on localhost and opens the intro,
the first chapter and the status page in Debian's Chromium through Playwright.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tools.chapters import ROOT, chapters

SITE = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FIRST = chapters()[0]
PAGES = {
    "intro": "book/intro.html",
    FIRST.slug: f"{FIRST.docname}.html",
    "status": "book/status.html",
    "instructors": "book/instructors.html",
}

pytestmark = pytest.mark.skipif(not (SITE / "index.html").exists(), reason="build the book first (make book)")


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def _open(browser, server, path):
    page = browser.new_page()
    problems, external = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server) else None)
    page.goto(f"{server}/{path}", wait_until="load")
    page.wait_for_timeout(1500)  # MathJax and the theme's scripts run after load
    return page, problems, external


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_offline_without_errors(browser, server, name):
    page, problems, external = _open(browser, server, PAGES[name])
    assert page.title(), "the page has no title"
    assert not problems, problems
    assert not external, f"the page fetched from outside the site (it must work offline): {external}"
    page.close()


def test_chapter_has_figures_math_and_claims(browser, server):
    page, problems, _ = _open(browser, server, PAGES[FIRST.slug])
    page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0", timeout=20_000)
    assert page.locator("mjx-container").count() > 10, "math is not typeset"
    sizes = page.eval_on_selector_all(".cell_output img", "els => els.map(e => e.naturalWidth)")
    assert len(sizes) >= 3 and all(w > 100 for w in sizes), f"figures missing or broken: {sizes}"
    rows = page.locator("table.stochlearn-claims tbody tr")
    assert rows.count() >= 3, "the claims table is missing"
    assert "claims hold" in page.locator("table.stochlearn-claims caption").inner_text()
    assert not problems, problems
    page.close()


def test_intro_shows_the_map_with_a_link_to_every_chapter(browser, server):
    page, problems, _ = _open(browser, server, PAGES["intro"])
    svg = page.locator("svg.sl-map")
    assert svg.count() == 1 and svg.bounding_box()["height"] > 300, "the map of the book is missing"
    links = page.eval_on_selector_all(  # SVG links are relative: resolve them against the page
        "svg.sl-map a.sl-map-node", "els => els.map(e => new URL(e.href.baseVal, document.baseURI).href)"
    )
    want = [f"{server}/{ch.docname}.html" for ch in chapters()]
    assert sorted(links) == sorted(want), (links, want)
    for url in links:
        assert (SITE / urlsplit(url).path.lstrip("/")).exists(), url
    # the labels stay readable in the dark theme: the text colour differs from the node's fill
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    fill, text = page.evaluate("""() => {
        const n = document.querySelector('svg.sl-map a.sl-map-node');
        return [getComputedStyle(n.querySelector('rect')).fill, getComputedStyle(n.querySelector('text')).fill];
    }""")
    assert fill != text, (fill, text)
    assert not problems, problems
    page.close()


def test_status_page_lists_every_chapter(browser, server):
    page, _, _ = _open(browser, server, PAGES["status"])
    text = page.locator("main").inner_text()
    for ch in chapters():
        assert ch.slug in text, f"{ch.slug} is missing from the status page"
    assert "✓" in text
    page.close()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(a[key])


@functools.cache
def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return p


def test_every_internal_link_resolves():
    broken = []
    for page in SITE.rglob("*.html"):
        if page.relative_to(SITE).parts[0] in ("_static", "_sources"):  # theme templates, not pages
            continue
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("//", "mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(SITE)} → {link}")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
                broken.append(f"{page.relative_to(SITE)} → {link} (no such anchor)")
    assert not broken, "\n".join(sorted(set(broken))[:40])


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_intro_has_the_map_of_the_book(browser, server, mode):
    """The intro page draws the curriculum (tools/curriculum_graph.py): every chapter of the toc is
    a node that links to its page, and the nodes' text stands out from their fill in both themes."""
    page = browser.new_page()
    page.add_init_script(f"localStorage.setItem('theme', '{mode}'); localStorage.setItem('mode', '{mode}');")
    page.goto(f"{server}/{PAGES['intro']}", wait_until="load")
    assert page.evaluate("document.documentElement.dataset.theme") == mode
    assert page.locator("svg.sl-map").count() == 1, "the map of the book is missing from the intro"
    assert page.locator("svg.sl-map .sl-map-group").count() == 7, "the map shows one group per part"
    links = dict(
        page.eval_on_selector_all(
            "svg.sl-map a.sl-map-node",
            "els => els.map(e => [e.dataset.slug, e.href.baseVal || e.getAttribute('href')])",
        )
    )
    for ch in chapters():
        assert ch.slug in links, f"{ch.slug} is not a node of the map"
        target = (SITE / PAGES["intro"]).parent / unquote(urlsplit(links[ch.slug]).path)
        assert target.resolve() == (SITE / f"{ch.docname}.html").resolve(), f"{ch.slug} links to {links[ch.slug]}"
    colours = page.evaluate("""() => { const n = document.querySelector('svg.sl-map a.sl-map-node');
        const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).map(Number);
                           return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        return [lum(getComputedStyle(n.querySelector('text')).fill),
                lum(getComputedStyle(n.querySelector('rect')).fill)]; }""")
    assert abs(colours[0] - colours[1]) > 100, f"node text and fill too alike in the {mode} theme: {colours}"
    page.close()
