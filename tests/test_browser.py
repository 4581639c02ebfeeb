"""Load every page of the built book in headless Chromium, offline, and check what a reader sees.

The book is served from ``_build/html`` on 127.0.0.1. For every page:

- no request goes to any host other than the local server, and no request fails;
- no raw TeX is left in the visible text (MathJax typeset the math);
- every embedded widget view was rendered by the widget manager;
- every image loaded;
- nothing was logged to the console as an error.

One widget slider is then moved with the keyboard and the page must show a different view.
Needs ``make book`` first (``make test`` does it) and Debian's chromium (``make browser``).

Robust on a busy machine: the test never waits a fixed time. It waits for conditions (the page's
``document.readyState``, MathJax's start-up promise, every widget view drawn, every image
complete) under one generous limit, `LIMIT_MS` (``COURSE_BROWSER_LIMIT_S``, default 180 s), which
only bounds how long a broken page can hang the test. Every failed request, HTTP error and
console error is reported with its URL.
"""

from __future__ import annotations

import functools
import os
import http.server
import re
import shutil
import threading
import urllib.parse

import pytest

from conftest import BUILD_HTML

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Upper bound of every wait, in ms: generous, because a loaded 2-core machine is slow.
LIMIT_MS = int(float(os.environ.get("COURSE_BROWSER_LIMIT_S", "180")) * 1000)
REDIRECT = re.compile(r'http-equiv="Refresh"\s+content="0;\s*url=([^"]+)"', re.IGNORECASE)
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
# TeX that MathJax should have consumed: $...$ with a TeX command or sub/superscript, $$, \( \[, \begin{
RAW_TEX = re.compile(r"\$\$|\\\(|\\\[|\\begin\{|\$[^$\n]*(\\[a-zA-Z]+|[_^])[^$\n]*\$")

# Visible text of the page, minus code, scripts and typeset math.
VISIBLE_PROSE_JS = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, mjx-container, .MathJax, textarea')
      .forEach(e => e.remove());
  return body.innerText;
}"""


#: Requests the server answered with an error, as "URL (HTTP status)". The server's own record
#: also catches what the browser does not report to Playwright (its automatic /favicon.ico).
SERVER_ERRORS: list[str] = []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def log_request(self, code="-", size="-"):
        if str(code).isdigit() and int(code) >= 400:
            host, port = self.server.server_address[:2]
            SERVER_ERRORS.append(f"http://{host}:{port}{self.path} (HTTP {code})")


@pytest.fixture(scope="module")
def server():
    if not (BUILD_HTML / "index.html").exists():
        pytest.fail(f"{BUILD_HTML}/index.html is missing: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(BUILD_HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: run `make browser` (Debian package chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
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
        context.set_default_timeout(LIMIT_MS)
        context.set_default_navigation_timeout(LIMIT_MS)
        yield context
        context.close()


def all_pages() -> list[str]:
    """Every HTML page of the build (index.html at least, so a missing build fails, not skips)."""
    return sorted({"index.html"} | set(str(p.relative_to(BUILD_HTML)) for p in BUILD_HTML.rglob("*.html")
                  if "_static" not in p.parts and "_sources" not in p.parts))


def console_error(message) -> str:
    """A console error with the URL (and line) it came from: Chromium's text of a failed load,
    "Failed to load resource: ... 404 (File not found)", does not name the resource."""
    location = message.location or {}
    where = location.get("url") or "(no URL)"
    if location.get("lineNumber"):
        where += f":{location['lineNumber']}"
    return f"{message.text} [at {where}]"


def open_page(browser, url: str, relpath: str = ""):
    """Open ``url``, record its traffic and console, and wait for math, widgets and images.

    A redirect page (the build's root index.html) is followed to its target first.
    """
    SERVER_ERRORS.clear()
    page = browser.new_page()
    record = {"requests": [], "failed": [], "errors": [], "server": SERVER_ERRORS}
    page.on("request", lambda r: record["requests"].append(r.url))
    page.on("requestfailed", lambda r: record["failed"].append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and record["failed"].append(f"{r.url} (HTTP {r.status})"))
    page.on("console", lambda m: m.type == "error" and record["errors"].append(console_error(m)))
    page.on("pageerror", lambda e: record["errors"].append(f"page error: {e} [at {page.url}]"))
    page.goto(url, wait_until="load")
    redirect = REDIRECT.search((BUILD_HTML / relpath).read_text(encoding="utf-8")) if relpath else None
    if redirect:
        target = urllib.parse.urljoin(url, redirect.group(1))
        page.wait_for_url(target, wait_until="load")
    page.wait_for_function("() => document.readyState === 'complete'")
    page.wait_for_function(
        "() => !window.MathJax || !MathJax.startup || !MathJax.startup.promise ? true :"
        " MathJax.startup.promise.then(() => true)")
    n_views = page.locator(WIDGET_VIEW).count()
    if n_views:
        page.wait_for_function(
            f"n => Array.from(document.querySelectorAll('.widget-subarea'))"
            f".filter(e => e.children.length && e.getBoundingClientRect().height > 0).length >= n",
            arg=n_views)
    # Scroll through the page so lazily loaded images load, then wait for them.
    page.evaluate("() => document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    # No wait for "networkidle" (500 ms without traffic, a timing heuristic that timed out under
    # load): the conditions above are what the assertions need.
    return page, record, n_views


@pytest.mark.parametrize("relpath", all_pages())
def test_page_renders_offline(server, browser, relpath):
    page, record, n_views = open_page(browser, f"{server}/{relpath}", relpath)
    if page.url != f"{server}/{relpath}":  # a redirect page: check the page it leads to
        target = urllib.parse.urlsplit(page.url).path.lstrip("/")
        shown, relpath = f"{relpath} (redirected to {target})", target
    else:
        shown = relpath
    try:
        foreign = [u for u in record["requests"]
                   if urllib.parse.urlsplit(u).scheme not in ("data", "blob")
                   and urllib.parse.urlsplit(u).hostname != "127.0.0.1"]
        assert not foreign, f"{shown}: requests left 127.0.0.1: {foreign}"
        assert not record["failed"], f"{shown}: failed requests: {record['failed']}"
        assert not record["server"], f"{shown}: the server answered errors: {record['server']}"

        prose = page.evaluate(VISIBLE_PROSE_JS)
        leftover = RAW_TEX.search(prose)
        assert leftover is None, f"{shown}: raw TeX left in the text: {leftover.group(0)!r}"
        n_math = page.locator("mjx-container").count()
        html = (BUILD_HTML / relpath).read_text(encoding="utf-8")
        if 'class="math' in html:
            assert n_math > 0, f"{shown}: the page has math but MathJax typeset none of it"

        rendered = page.evaluate(
            "() => Array.from(document.querySelectorAll('.widget-subarea'))"
            ".filter(e => e.children.length && e.getBoundingClientRect().height > 0).length")
        assert rendered == n_views, f"{shown}: {rendered} of {n_views} widgets rendered"

        broken = page.evaluate(
            "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => i.src.slice(0, 120))")
        assert not broken, f"{shown}: images that did not load: {broken}"
        assert not record["errors"], f"{shown}: console errors: {record['errors']}"
    finally:
        page.close()


def test_a_widget_slider_responds_in_the_static_page(server, browser):
    """Move the first widget slider with the keyboard; the view below it must change."""
    pages = [p for p in all_pages()
             if "jupyter-widgets" in (BUILD_HTML / p).read_text(encoding="utf-8")]
    assert pages, "no page of the book embeds a widget"
    page, record, _ = open_page(browser, f"{server}/{pages[0]}", pages[0])
    try:
        handle = page.locator(".widget-subarea .noUi-handle").first
        handle.wait_for()
        # What the view next to the slider shows: its text and the pixels of its images.
        visible_view = """() => {
          const slider = document.querySelector('.widget-subarea .noUi-handle').closest('.widget-slider');
          const view = slider.nextElementSibling;
          const pixels = Array.from(view.querySelectorAll('img')).map(img => {
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            c.getContext('2d').drawImage(img, 0, 0);
            return c.toDataURL().length + ':' + c.toDataURL().slice(-64);
          });
          return view.innerText + '|' + pixels.join(',');
        }"""
        readout = page.locator(".widget-subarea .widget-readout").first
        before_view, before_readout = page.evaluate(visible_view), readout.inner_text()
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"before => ({visible_view})() !== before", arg=before_view)
        assert readout.inner_text() != before_readout
        assert page.evaluate(visible_view) != before_view
        assert not record["errors"], f"console errors after moving the slider: {record['errors']}"
    finally:
        page.close()
