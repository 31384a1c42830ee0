"""Drawing in the browser: DOT -> SVG with Graphviz compiled to WebAssembly, under Pyodide.

A browser has no ``dot`` program to run. The course's site (``bash setup.sh lite``) ships the npm
package @viz-js/viz (Graphviz in WebAssembly) as ``static/viz/viz-global.js``; its first notebook cell
loads it once::

    from minigrad.viz import browser
    await browser.load()                     # fetches the script, starts Graphviz
    svg = browser.render_svg("digraph { a -> b }")

`render_svg` is synchronous, as drawing is: loading is the one step that has to wait (the WebAssembly
module compiles asynchronously), so it is done once, up front, by `load`.
"""

from __future__ import annotations

import sys

from minigrad.errors import MinigradError
from minigrad.viz import GraphvizError

SITE_SCRIPT = "static/viz/viz-global.js"  # where the site serves @viz-js/viz, from its root
_viz = None  # the loaded Viz instance (a JavaScript object), once `load` has run


class BrowserGraphvizError(GraphvizError, MinigradError):
    """Graphviz in WebAssembly is not available (not in a browser, or not loaded), or could not render."""


def in_browser() -> bool:
    """True under Pyodide (Python compiled to WebAssembly), where drawings use `render_svg`."""
    return sys.platform == "emscripten"


def _require_browser(who: str) -> None:
    if not in_browser():
        raise BrowserGraphvizError(
            f"{who}: Graphviz in WebAssembly runs only in the browser (Pyodide); "
            "elsewhere drawings are rendered by the Graphviz program dot"
        )


def site_root(worker_url: str) -> str:
    """The site's root URL, from the URL of the script the kernel runs in (under ``<root>/extensions/``)."""
    head, sep, _ = worker_url.partition("/extensions/")
    if not sep:
        raise BrowserGraphvizError(
            f"load: cannot tell the site's root from {worker_url!r}; pass the URL of viz-global.js"
        )
    return head + "/"


async def load(url: str | None = None) -> None:
    """Fetch @viz-js/viz's script and start Graphviz, once. ``url``: where viz-global.js is (default:
    the course site's copy). Raises BrowserGraphvizError when the script cannot be fetched or run."""
    global _viz
    _require_browser("load")
    if _viz is not None:
        return
    import js
    from pyodide.code import run_js
    from pyodide.http import pyfetch

    url = url or site_root(str(js.location.href)) + SITE_SCRIPT
    try:
        response = await pyfetch(url)
    except Exception as e:  # a network failure surfaces as an OSError or a JsException
        raise BrowserGraphvizError(f"load: could not fetch Graphviz (WebAssembly) from {url}: {e}") from e
    if not response.ok:
        raise BrowserGraphvizError(f"load: could not fetch Graphviz (WebAssembly) from {url}: "
                                   f"HTTP {response.status}")  # fmt: skip
    run_js(await response.string())  # defines the global Viz
    _viz = await run_js("Viz.instance()")


def render_svg(source: str) -> str:
    """The SVG picture of the DOT text ``source``, laid out by Graphviz in WebAssembly (see `load`).

    Raises BrowserGraphvizError outside the browser, before `load`, or with Graphviz's own messages when
    the DOT text has an error.
    """
    _require_browser("render_svg")
    if _viz is None:
        raise BrowserGraphvizError(
            "render_svg: Graphviz (WebAssembly) is not loaded yet: run `await minigrad.viz.browser.load()` "
            "once first (the course's first cell does)"
        )
    import js
    from pyodide.ffi import to_js

    options = to_js({"format": "svg"}, dict_converter=js.Object.fromEntries)
    result = _viz.render(source, options)
    if result.status != "success":
        messages = "; ".join(str(e.message).strip() for e in result.errors) or "no message"
        raise BrowserGraphvizError(f"render_svg: Graphviz could not lay out the drawing: {messages}")
    return str(result.output)
