"""The course in a real browser: the site `bash setup.sh lite --offline` builds, served on 127.0.0.1,
each notebook opened in headless Chromium and run with "Run All Cells".

For every notebook: no error output; the exercise checks print what the repository's notebook (executed
on CPython, see test_notebooks.py) shows; every drawing is an SVG picture with no hint to install a
program; and no request leaves 127.0.0.1 (each is intercepted; an outside one is recorded and aborted).
The time each notebook takes is recorded as a test property (``--junitxml``) and printed (``-s``).

Needs Debian's ``chromium-headless-shell`` and PyPI's ``playwright`` (``bash setup.sh test`` installs
both); skipped, with the reason, where they cannot be installed.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [p.relative_to(NOTEBOOK_DIR).as_posix() for p in NOTEBOOKS]
CHROMIUM = "chromium-headless-shell"
NOTEBOOK_TIMEOUT_MS = 600_000

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# Each code cell as the page shows it: its source, prompt and outputs (mime type, text, has an <svg>).
CELLS_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(cell => ({
  source: Array.from(cell.querySelectorAll('.jp-InputArea-editor .cm-line'))
    .map(l => l.textContent).join('\\n'),
  prompt: (cell.querySelector('.jp-InputPrompt') || {textContent: ''}).textContent,
  outputs: Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(o => ({
    mime: o.dataset.mimeType || '', text: o.textContent, svg: o.querySelector('svg') !== null}))}))"""
# Run All is done when a cell has run and none is waiting or running ("[*]").
DONE_JS = """() => {
  const p = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
    .map(e => e.textContent);
  return p.some(t => /\\[\\d+\\]/.test(t)) && !p.some(t => t.includes('*')); }"""
STARTED_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
  .some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))"""
CHECK_CALL = re.compile(r"\bcheck_\w+\(")
DRAW_CALL = re.compile(r"\bdraw(_backward)?\(")
# Errors of 1e-6 and below, and exact zeros (round-off, finite differences' error), differ between
# WebAssembly's and this machine's floating-point libraries; words, verdicts and larger numbers may not.
ROUND_OFF = re.compile(r"(?<![\d.])(\d(\.\d+)?e-(0[6-9]|[1-9]\d)|0(\.0+)?e[-+]0+)\b")
ERROR_TEXT = re.compile(r"Traceback|Error\b|Warning\b")
DRAW_A_GRAPH = (
    'svg = browser.render_svg("digraph { a -> b }"); print(svg.count("<svg"), "class=\\"node\\"" in svg)'
)


def _lite_build():
    spec = importlib.util.spec_from_file_location("lite_build", ROOT / "lite" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"no browser: Debian's {CHROMIUM} is not installed (bash setup.sh test installs it)")
    pytest.importorskip("playwright", reason="playwright is not installed (bash setup.sh test installs it)")
    out = tmp_path_factory.mktemp("site")
    _lite_build().build(out, offline=True)
    return out


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm"}

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def runs(server, chromium):
    """Runs each notebook once (on first use) and keeps what the page showed."""
    done = {}

    def run(name: str) -> dict:
        if name not in done:
            done[name] = run_notebook(chromium, server, name)
        return done[name]

    return run


def run_notebook(chromium, server: str, name: str) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen, outside = [], []
    # A service worker's requests would escape the interception: block it (the site works without).
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    page = context.new_page()

    def route(r):
        seen.append(r.request.url)
        if r.request.url.startswith(server):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    try:
        page.goto(f"{server}notebooks/index.html?path={name}")
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=120_000)
        start = time.perf_counter()
        run_all(page, PlaywrightTimeout)
        try:
            page.wait_for_function(DONE_JS, timeout=NOTEBOOK_TIMEOUT_MS, polling=500)
        except PlaywrightTimeout:
            running = [c for c in page.evaluate(CELLS_JS) if "*" in c["prompt"]]
            where = running[0]["source"][:300] if running else "no cell is running"
            limit = NOTEBOOK_TIMEOUT_MS // 1000
            pytest.fail(f"{name}: Run All did not finish in {limit} s; running:\n{where}")
        seconds = time.perf_counter() - start
        cells = page.evaluate(CELLS_JS)
    finally:
        context.close()
    return {"cells": cells, "seconds": seconds, "seen": seen, "outside": outside}


def run_all(page, timeout_error) -> None:
    """Run > Run All Cells, until a cell is queued: a click while the page is still busy starting can
    be lost."""
    for _ in range(3):
        page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
        page.locator('li[data-command="runmenu:run-all"]').click()
        try:
            page.wait_for_function(STARTED_JS, timeout=60_000, polling=500)
            return
        except timeout_error:
            page.keyboard.press("Escape")  # close the menu if it is still open
    pytest.fail("Run All Cells did not start a cell in three tries")


def stored_code_cells(name: str) -> list[dict]:
    notebook = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def stdout_of(outputs: list[dict]) -> str:
    return "".join(
        "".join(o["text"]) for o in outputs if o.get("output_type") == "stream" and o["name"] == "stdout"
    )


@pytest.mark.parametrize("name", IDS)
def test_notebook_runs_in_the_browser(runs, name, record_property):
    result = runs(name)
    record_property("browser_seconds", round(result["seconds"], 1))
    print(f"{name}: {result['seconds']:.1f} s in the browser")
    assert result["outside"] == [], f"{name}: requests left 127.0.0.1"
    # the interception saw the kernel's own requests (made in a worker), so it would see an outside one
    assert any(url.endswith("static/pyodide/pyodide.asm.wasm") for url in result["seen"])
    cells = result["cells"]
    stored = stored_code_cells(name)
    assert len(cells) == len(stored) + 1, f"{name}: the page has {len(cells)} code cells"
    for k, cell in enumerate(cells):
        assert re.search(r"\[\d+\]", cell["prompt"]), (
            f"{name}: code cell {k} did not run: {cell['source'][:80]}"
        )
        for out in cell["outputs"]:
            bad = "stderr" in out["mime"] and ERROR_TEXT.search(out["text"])
            assert not bad, f"{name}: code cell {k} shows an error:\n{out['text'][:2000]}"
    for k, (cell, repo) in enumerate(zip(cells[1:], stored), start=1):
        if CHECK_CALL.search("".join(repo["source"])):
            shown = "".join(o["text"] for o in cell["outputs"] if o["mime"].endswith("stdout"))
            expected = stdout_of(repo["outputs"])
            assert ROUND_OFF.sub("<round-off>", shown) == ROUND_OFF.sub("<round-off>", expected), (
                f"{name}: exercise check in code cell {k}"
            )


@pytest.mark.parametrize("name", IDS)
def test_every_drawing_is_svg(runs, name):
    cells = runs(name)["cells"]
    for k, cell in enumerate(cells):
        if DRAW_CALL.search(cell["source"]):
            assert any(o["svg"] for o in cell["outputs"]), f"{name}: drawing in code cell {k} is not an SVG"
        for out in cell["outputs"]:
            assert "apt-get" not in out["text"], f"{name}: code cell {k} tells to install a program"


def test_render_svg_in_the_browser(server, chromium):
    # minigrad.viz.browser in the kernel: the site's first cell loads Graphviz, a second cell draws.
    page = chromium.new_page()
    try:
        page.goto(f"{server}notebooks/index.html?path={IDS[0]}")
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        cells.first.wait_for(timeout=120_000)
        cells.first.locator(".jp-InputPrompt").click()
        page.keyboard.press("b")  # a new cell below the first
        page.keyboard.press("Enter")
        page.keyboard.type(DRAW_A_GRAPH)
        page.keyboard.press("Escape")
        page.keyboard.press("ArrowUp")
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        second = cells.nth(1)
        second.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).wait_for(
            timeout=NOTEBOOK_TIMEOUT_MS
        )
        shown = second.locator(".jp-OutputArea-output").all_text_contents()
    finally:
        page.close()
    assert shown == ["1 True\n"]
