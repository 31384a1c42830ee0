"""The course in a real browser: the site `bash setup.sh lite --offline` builds, served on 127.0.0.1,
each notebook opened in headless Chromium and run with JupyterLab's "Run All Cells" command.

For every notebook: no error output; the exercise checks print what the repository's notebook (executed
on CPython, see test_notebooks.py) shows; every drawing is an SVG picture with no hint to install a
program; and no request leaves 127.0.0.1 (each is intercepted; an outside one is recorded and aborted).
The time each notebook takes is recorded as a test property (``--junitxml``) and printed (``-s``).

Every wait has a bound (page load, kernel start, each cell, the whole notebook), and a notebook that
failed fails its other tests at once instead of running again. JupyterLab is driven through its command
API (the test's copy of the site sets ``exposeAppInBrowser``), never by clicking menus a dialog could cover.

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
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [p.relative_to(NOTEBOOK_DIR).as_posix() for p in NOTEBOOKS]
CHROMIUM = "chromium-headless-shell"
# Bounds, in seconds, on a machine where other processes share the two cores.
PAGE_S = 120  # the page loaded and the notebook shown
KERNEL_S = 240  # Pyodide started and the kernel idle
CELL_S = 300  # one cell (the longest, training in notebook 04, took up to about 2 minutes here)
NOTEBOOK_S = 900  # all cells of one notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# The notebook panel JupyterLab shows, once it is there with its cells and its kernel session.
PANEL = "window.jupyterapp?.shell.currentWidget"
READY_JS = f"() => {{ const p = {PANEL}; return !!(p?.sessionContext && p.content?.widgets.length); }}"
KERNEL_JS = f"() => {PANEL}.sessionContext.session?.kernel?.status === 'idle'"
RUN_ALL_JS = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
IMAGES_LOADED_JS = "() => Array.from(document.querySelectorAll('.jp-OutputArea img')).every(i => i.complete)"
# What the page shows of each code cell: source, prompt, outputs (as nbformat), whether an SVG output
# is drawn (JupyterLab shows one as an <img> of the SVG); and the text of any open dialog. Always
# truthy, so that wait_for_function returns it at once.
STATE_JS = f"""() => ({{
  cells: {PANEL}.content.widgets.filter(c => c.model.type === 'code').map(c => ({{
    source: c.model.sharedModel.getSource(),
    prompt: (c.node.querySelector('.jp-InputPrompt') || {{textContent: ''}}).textContent,
    outputs: c.model.outputs.toJSON(),
    svg: Array.from(c.node.querySelectorAll('.jp-OutputArea-output[data-mime-type="image/svg+xml"]'))
      .some(o => {{ const img = o.querySelector('img');
        return o.querySelector('svg') !== null || (img?.complete && img.naturalWidth > 0); }})}})),
  dialogs: Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.textContent.trim())}})"""
ACCEPT_DIALOG_JS = "() => document.querySelector('.jp-Dialog .jp-mod-accept')?.click()"
CHECK_CALL = re.compile(r"\bcheck_\w+\(")
DRAW_CALL = re.compile(r"\bdraw(_backward)?\(")
# Errors of 1e-6 and below, and exact zeros (round-off, finite differences' error), differ between
# WebAssembly's and this machine's floating-point libraries; words, verdicts and larger numbers may not.
ROUND_OFF = re.compile(r"(?<![\d.])(\d(\.\d+)?e-(0[6-9]|[1-9]\d)|0(\.0+)?e[-+]0+)\b")
ERROR_TEXT = re.compile(r"Traceback|Error\b|Warning\b")
DRAW_A_GRAPH = (
    'svg = browser.render_svg("digraph { a -> b }"); print(svg.count("<svg"), "class=\\"node\\"" in svg)'
)
# Keeps the site's first cell (install, load Graphviz) and replaces the others by code cells of the given
# sources.
REPLACE_CELLS_JS = f"""(sources) => {{ const m = {PANEL}.content.model.sharedModel;
  m.deleteCellRange(1, m.cells.length);
  sources.forEach((source, k) => m.insertCell(1 + k, {{cell_type: 'code', source}})); }}"""


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
    # This copy only: JupyterLab publishes itself as window.jupyterapp, so the test can run its commands.
    config_path = out / "jupyter-lite.json"
    config = json.loads(config_path.read_text())
    config["jupyter-config-data"]["exposeAppInBrowser"] = True
    config_path.write_text(json.dumps(config, indent=2))
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
def chromium(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which(CHROMIUM), timeout=PAGE_S * 1000)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def runs(server, chromium):
    """Runs each notebook once (on first use) and keeps what the page showed, or why it failed: a second
    test of a failed notebook fails at once with the same message."""
    done, failed = {}, {}

    def run(name: str) -> dict:
        if name in failed:
            pytest.fail(f"{failed[name]} (seen by an earlier test of {name})")
        if name not in done:
            if not chromium.is_connected():
                pytest.fail(f"{name}: not run, the browser has stopped")
            try:
                done[name] = run_notebook(chromium, server, name)
            except pytest.fail.Exception as e:
                failed[name] = str(e)
                raise
        return done[name]

    return run


class Page:
    """One notebook opened in a fresh browser context, every request routed: those to the site go on,
    any other is recorded and aborted."""

    def __init__(self, chromium, server: str, name: str):
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.timeout_error = PlaywrightTimeout
        self.name, self.server, self.seen, self.outside = name, server, [], []
        # A service worker's requests would escape the interception: block it (the site works without).
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        self.context.set_default_timeout(PAGE_S * 1000)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()

    def _route(self, route):
        url = route.request.url
        self.seen.append(url)
        if url.startswith(self.server):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def close(self):
        self.context.close()

    def wait(self, js: str, seconds: float, what: str):
        try:
            return self.page.wait_for_function(js, timeout=seconds * 1000, polling=500).json_value()
        except self.timeout_error:
            pytest.fail(f"{self.name}: gave up after {seconds:.0f} s waiting for {what}")

    def state(self) -> dict:
        return self.wait(STATE_JS, 30, "the page to answer")

    def open(self) -> float:
        """Opens the notebook; returns the seconds until its kernel was ready."""
        start = time.perf_counter()
        try:
            self.page.goto(f"{self.server}notebooks/index.html?path={self.name}", timeout=PAGE_S * 1000)
        except self.timeout_error:
            pytest.fail(f"{self.name}: the page did not load within {PAGE_S} s")
        self.wait(READY_JS, PAGE_S, "the notebook to show")
        for dialog in self.state()["dialogs"]:  # e.g. a kernel choice: take what it offers
            print(f"{self.name}: accepting a dialog: {dialog[:200]}")
            self.page.evaluate(ACCEPT_DIALOG_JS)
        self.wait(KERNEL_JS, KERNEL_S, "the kernel to be ready")
        return time.perf_counter() - start

    def run_all(self) -> tuple[list[dict], float]:
        """Runs every cell; returns the cells as shown at the end, and the seconds taken. Fails, naming
        the cell, when a cell runs longer than CELL_S or the notebook longer than NOTEBOOK_S."""
        start = time.perf_counter()
        self.page.evaluate(RUN_ALL_JS)
        progress, since = None, start
        while True:
            state = self.state()
            if state["dialogs"]:
                pytest.fail(f"{self.name}: a dialog opened while the cells ran: {state['dialogs'][0][:500]}")
            cells = state["cells"]
            running = [k for k, c in enumerate(cells) if "*" in c["prompt"]]
            if not running and any(re.search(r"\[\d+\]", c["prompt"]) for c in cells):
                seconds = time.perf_counter() - start
                self.wait(IMAGES_LOADED_JS, 30, "the pictures to load")
                return self.state()["cells"], seconds
            now = time.perf_counter()
            if [c["prompt"] for c in cells] != progress:
                progress, since = [c["prompt"] for c in cells], now
            where = f"code cell {running[0]}:\n{cells[running[0]]['source'][:300]}" if running else "no cell"
            if now - since > CELL_S:
                pytest.fail(f"{self.name}: {where}\ndid not finish within {CELL_S} s")
            if now - start > NOTEBOOK_S:
                pytest.fail(f"{self.name}: not done within {NOTEBOOK_S} s; running {where}")
            self.page.wait_for_timeout(1000)


def run_notebook(chromium, server: str, name: str, sources: list[str] | None = None) -> dict:
    """Opens ``name`` and runs all its cells; with ``sources``, the site's first cell and code cells of
    these sources instead of the notebook's own."""
    page = Page(chromium, server, name)
    try:
        kernel_seconds = page.open()
        if sources is not None:
            page.page.evaluate(REPLACE_CELLS_JS, sources)
        cells, seconds = page.run_all()
    finally:
        page.close()
    return {"cells": cells, "seconds": seconds, "kernel_seconds": kernel_seconds, "seen": page.seen,
            "outside": page.outside}  # fmt: skip


def text_of(outputs: list[dict], stream: str) -> str:
    """The text a cell printed to ``stream`` (stdout or stderr), from nbformat outputs."""
    return "".join(
        "".join(o["text"]) for o in outputs if o.get("output_type") == "stream" and o["name"] == stream
    )


def stored_code_cells(name: str) -> list[dict]:
    notebook = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def assert_ran_cleanly(name: str, cells: list[dict]) -> None:
    """Every cell ran and shows no error, else an AssertionError naming the first cell that did not."""
    for k, cell in enumerate(cells):
        ran = re.search(r"\[\d+\]", cell["prompt"])
        assert ran, f"{name}: code cell {k} did not run: {cell['source'][:80]}"
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert not errors, f"{name}: code cell {k} raised {errors[0]['ename']}: {errors[0]['evalue'][:2000]}"
        stderr = text_of(cell["outputs"], "stderr")
        assert not ERROR_TEXT.search(stderr), f"{name}: code cell {k} shows an error:\n{stderr[:2000]}"


@pytest.mark.parametrize("name", IDS)
def test_notebook_runs_in_the_browser(runs, name, record_property):
    result = runs(name)
    record_property("browser_seconds", round(result["seconds"], 1))
    record_property("kernel_seconds", round(result["kernel_seconds"], 1))
    seconds, start = result["seconds"], result["kernel_seconds"]
    print(f"{name}: {seconds:.1f} s in the browser, after {start:.1f} s to start the kernel")
    assert result["outside"] == [], f"{name}: requests left 127.0.0.1"
    # the interception saw the kernel's own requests (made in a worker), so it would see an outside one
    assert any(url.endswith("static/pyodide/pyodide.asm.wasm") for url in result["seen"])
    cells = result["cells"]
    stored = stored_code_cells(name)
    assert len(cells) == len(stored) + 1, f"{name}: the page has {len(cells)} code cells"
    assert_ran_cleanly(name, cells)
    for k, (cell, repo) in enumerate(zip(cells[1:], stored), start=1):
        if CHECK_CALL.search("".join(repo["source"])):
            shown = text_of(cell["outputs"], "stdout")
            expected = text_of(repo["outputs"], "stdout")
            assert ROUND_OFF.sub("<round-off>", shown) == ROUND_OFF.sub("<round-off>", expected), (
                f"{name}: exercise check in code cell {k}"
            )


@pytest.mark.parametrize("name", IDS)
def test_every_drawing_is_svg(runs, name):
    cells = runs(name)["cells"]
    for k, cell in enumerate(cells):
        if DRAW_CALL.search(cell["source"]):
            svgs = ["".join(o.get("data", {}).get("image/svg+xml", "")) for o in cell["outputs"]]
            assert any("<svg" in svg for svg in svgs), f"{name}: drawing in code cell {k} is not an SVG"
            assert cell["svg"], f"{name}: the SVG of code cell {k} is not shown"
        hint = "apt-get" in json.dumps(cell["outputs"])
        assert not hint, f"{name}: code cell {k} tells to install a program"


def test_render_svg_in_the_browser(server, chromium):
    # minigrad.viz.browser in the kernel: the site's first cell loads Graphviz, a second cell draws.
    first, second = run_notebook(chromium, server, IDS[0], [DRAW_A_GRAPH])["cells"]
    assert not [o for o in first["outputs"] if o["output_type"] == "error"]
    assert second["source"] == DRAW_A_GRAPH
    assert text_of(second["outputs"], "stdout") == "1 True\n"


def test_an_error_fails_naming_the_notebook_and_cell(server, chromium):
    cells = run_notebook(chromium, server, IDS[0], ["x = 1", "1 / 0"])["cells"]
    with pytest.raises(AssertionError) as info:
        assert_ran_cleanly(IDS[0], cells)
    # the Pyodide kernel names the class by its repr: <class 'ZeroDivisionError'>
    expected = f"{IDS[0]}: code cell 2 raised <class 'ZeroDivisionError'>: division by zero"
    assert str(info.value).startswith(expected)


def test_a_cell_that_never_ends_fails_naming_it(server, chromium, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CELL_S", 45)
    with pytest.raises(pytest.fail.Exception) as info:
        run_notebook(chromium, server, IDS[0], ["x = 1", "while True:\n    pass"])
    assert str(info.value) == f"{IDS[0]}: code cell 2:\nwhile True:\n    pass\ndid not finish within 45 s"
