"""Rendering: DOT text to a picture, with whichever Graphviz this machine has, and the object `draw` returns.

`layout` tries, in order: the Graphviz program ``dot`` on the PATH; the ``graphviz-pure`` program that
pip installs with minigrad (looked up on the PATH and in this Python's scripts folder, which a Jupyter
kernel's PATH often lacks); under Pyodide (Python in the browser) a WebAssembly Graphviz
(`minigrad.viz.browser`). Only when none is there does a drawing show its DOT text instead, with a hint
that fits the platform. Nothing here imports the ``graphviz`` Python package.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from minigrad.errors import FileError
from minigrad.files import atomic_write
from minigrad.viz.errors import DrawingError, GraphvizError, GraphvizNotFoundError, RenderTimeoutError

DEFAULT_TIMEOUT = 60.0  # seconds
FORMATS = ("svg", "png", "pdf", "dot", "gv")
ENGINES = ("dot", "neato", "fdp", "sfdp", "circo", "twopi")
MIN_SCALE = 0.6  # the smallest scale at which Graphviz may shrink a picture to fit the page
PURE = "graphviz-pure"  # pip's Graphviz: the dot program, without pdf output
BROWSER_GRAPHVIZ = (16, 1)  # the Graphviz of @viz-js/viz 3.31.0, which the browser site ships (lite/build.py)


def _pure_program() -> str | None:
    exe = shutil.which(PURE)
    if exe is None:
        scripts = sysconfig.get_path("scripts")
        for name in (PURE, PURE + ".exe"):
            if scripts and os.path.isfile(os.path.join(scripts, name)):
                return os.path.join(scripts, name)
    return exe


def _program(engine: str, format: str = "svg") -> str | None:
    """The program `layout` runs: the system's Graphviz, else graphviz-pure (which writes no pdf)."""
    exe = shutil.which(engine)
    if exe is None and format != "pdf":
        exe = _pure_program()
    return exe


def _install_hint() -> str:
    if sys.platform == "emscripten":
        return "in the browser minigrad.viz.browser renders drawings; it could not be loaded"
    pip = f"'pip install {PURE}' (minigrad installs it by default)"
    if sys.platform == "win32":
        return f"run {pip}, or install Graphviz with 'winget install graphviz'"
    if sys.platform == "darwin":
        return f"run {pip}, or install Graphviz with 'brew install graphviz'"
    return f"run {pip}, or install Graphviz with 'sudo apt-get install graphviz' (Debian/Ubuntu)"


_VERSION = re.compile(r"[Gg]raphviz (?:version )?(\d+)\.(\d+)")
_versions: dict = {}  # program -> its version, asked once


def parse_version(text: str) -> tuple[int, int] | None:
    """(major, minor) from what ``dot -V`` prints: "dot - graphviz version 2.43.0 (0)", or
    "graphviz-pure - graphviz-pure version 0.2.2 (Rust port of Graphviz 16.1.0)"."""
    m = _VERSION.findall(text)
    return (int(m[-1][0]), int(m[-1][1])) if m else None


def graphviz_version(engine: str = "dot") -> tuple[int, int] | None:
    """The version of the Graphviz `layout` would use, None when there is none or it does not say."""
    exe = _program(engine)
    if exe is None:
        return BROWSER_GRAPHVIZ if sys.platform == "emscripten" else None
    if exe not in _versions:
        try:
            out = subprocess.run([exe, "-V"], capture_output=True, timeout=10)
            _versions[exe] = parse_version((out.stderr + out.stdout).decode("utf-8", "replace"))
        except (OSError, subprocess.TimeoutExpired):
            _versions[exe] = None
    return _versions[exe]


def layout(
    source: str, format: str = "svg", *, engine: str = "dot", timeout: float | None = DEFAULT_TIMEOUT,
    n_nodes: int | None = None,
) -> bytes:  # fmt: skip
    """Lay out DOT ``source`` and return the picture in ``format`` ("svg", "png", "pdf"), trying the
    renderers of the module docstring in order.

    Raises GraphvizNotFoundError when there is none (pdf needs the real ``dot``), RenderTimeoutError past
    ``timeout`` seconds (the process is killed), GraphvizError when the renderer fails.
    """
    _check(format, engine)
    exe = _program(engine, format)
    if exe is not None:
        return _run([exe, f"-K{engine}", f"-T{format}"], source, timeout, n_nodes)
    if sys.platform == "emscripten" and format == "svg":
        from minigrad.viz import browser

        return browser.render_svg(source).encode("utf-8")
    if format == "pdf":
        raise GraphvizNotFoundError(
            f"render: pdf output needs the Graphviz program `{engine}`, which is not on the PATH; "
            f"{_install_hint().split(', or ')[-1]}; or write svg or png"
        )
    raise GraphvizNotFoundError(
        f"render: no Graphviz to lay out drawings ({engine} and {PURE} are missing): {_install_hint()}; "
        "mg.viz.to_dot() gives the DOT text without it"
    )


def _run(cmd: list[str], source: str, timeout: float | None, n_nodes: int | None) -> bytes:
    name = f"{Path(cmd[0]).stem} {cmd[-1]}"
    try:
        proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:  # run() has killed the process
        size = f"{n_nodes} nodes" if n_nodes is not None else "the graph"
        raise RenderTimeoutError(
            f"render: `{name}` did not finish laying out {size} within {timeout:g} s; draw less "
            "(scope=..., collapse=[...], rolled=True) or pass a longer timeout="
        ) from None
    except OSError as e:
        raise GraphvizError(f"render: could not run `{name}` ({e.strerror or e})") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise GraphvizError(f"render: `{name}` failed (exit {proc.returncode}): {err}")
    return proc.stdout


def _check(format: str, engine: str) -> None:
    if format not in FORMATS:
        raise DrawingError(f"render: unknown format {format!r}; one of {', '.join(FORMATS)}")
    if engine not in ENGINES:
        raise DrawingError(f"render: unknown engine {engine!r}; one of {', '.join(ENGINES)}")


def svg_size(svg: str) -> tuple[float, float, float]:
    """The width and height in px (1 pt = 4/3 px) of an SVG Graphviz wrote, and the scale it applied."""
    m = re.search(r'<svg width="([\d.]+)(pt|px)?" height="([\d.]+)(pt|px)?"', svg)
    if m is None:
        raise DrawingError("svg_size: no <svg width=... height=...> in the picture")
    unit = 4 / 3 if m.group(2) in (None, "pt") else 1.0
    s = re.search(r'<g id="graph0" class="graph" transform="scale\(([\d.]+)', svg)
    return float(m.group(1)) * unit, float(m.group(3)) * unit, float(s.group(1)) if s else 1.0


_SIZE = re.compile(r'size="([\d.]+),([\d.]+)"')


def _is_drawing(path: Path) -> bool:
    """Does the file at ``path`` hold a picture or DOT text (what a drawing may replace)?"""
    with open(path, "rb") as f:
        head = f.read(512).lstrip()
    return head.startswith((b"\x89PNG", b"%PDF", b"<svg", b"digraph", b"graph", b"strict")) or (
        head.startswith(b"<?xml") and b"<svg" in head
    ) or head.startswith(b"<!-- Generated by graphviz")  # fmt: skip


def check_target(path: Path, force: bool) -> None:
    """Refuse, with a FileError, to replace an existing file that is not a drawing (unless ``force``)."""
    if path.is_file() and not path.is_symlink() and not force and not _is_drawing(path):
        raise FileError(
            f"{path}: exists and is not a drawing (svg, png, pdf or DOT text); refusing to replace it: "
            "name another file, or pass force=True (--force on the command line)"
        )


def _palette(png: bytes) -> bytes:
    """The PNG with a palette of 64 colours, a quarter of the size (a notebook stores every picture
    twice, as SVG and PNG); unchanged where Pillow (which matplotlib brings) is missing."""
    try:
        from PIL import Image
    except ImportError:
        return png
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64).save(out, format="PNG", optimize=True)
    return out.getvalue()


class Drawing:
    """A drawing of a minigrad graph: its DOT text (``.source``) and the ways to show it.

    In Jupyter it shows as SVG and PNG (the PNG is what a notebook opened without being trusted
    shows); without a renderer, or past the timeout, it shows its DOT text with a one-line hint, never an
    exception. A picture wider than the page is shrunk to it, but never below MIN_SCALE (text must stay
    legible): such a picture is drawn wider, and its repr says so. ``n_nodes`` is the number of nodes
    drawn and ``timeout`` the time limit, in seconds, of every layout run (None: no limit).
    """

    def __init__(self, source: str, *, n_nodes: int = 0, timeout: float | None = DEFAULT_TIMEOUT,
                 format: str = "svg", engine: str = "dot") -> None:  # fmt: skip
        self.source, self.n_nodes, self.timeout = source, n_nodes, timeout
        self.format, self.engine = format, engine
        self._fitted: str | None = None  # the source at a scale no smaller than MIN_SCALE
        self._svg: bytes | None = None
        self.natural_width: float | None = None  # px, known after the first layout

    def fitted_source(self) -> str:
        """The DOT text to lay out: ``source``, or, when the page width would shrink it below
        MIN_SCALE, with its size raised so that it is drawn at MIN_SCALE."""
        if self._fitted is None:
            svg = layout(self.source, "svg", engine=self.engine, timeout=self.timeout, n_nodes=self.n_nodes)
            width, _, scale = svg_size(svg.decode("utf-8"))
            self.natural_width = width / scale
            self._fitted, self._svg = self.source, svg
            m = _SIZE.search(self.source)
            if scale < MIN_SCALE and m is not None:
                inches = self.natural_width * MIN_SCALE / 96 + 0.01
                self._fitted = self.source.replace(m.group(), f'size="{inches:.3f},{m.group(2)}"', 1)
                self._svg = None
        return self._fitted

    @property
    def too_wide(self) -> bool:
        """Is the picture wider than the page at the smallest legible scale? (Lays it out once.)"""
        return self.fitted_source() is not self.source

    def pipe(self, format: str | None = None, *, encoding: str | None = None, timeout: float | None = None):
        """The drawing laid out in ``format`` (default: ``self.format``), as bytes, or as str when an
        ``encoding`` is given. ``timeout`` overrides ``self.timeout``."""
        format = format or self.format
        _check(format, self.engine)
        if format in ("dot", "gv"):
            data = self.source.encode("utf-8")
        else:
            source = self.fitted_source()
            data = self._svg if format == "svg" and self._svg is not None and timeout is None else None
            if data is None:
                t = self.timeout if timeout is None else timeout
                data = layout(source, format, engine=self.engine, timeout=t, n_nodes=self.n_nodes)
        return data.decode(encoding) if encoding is not None else data

    def render(
        self,
        filename: str | os.PathLike | None = None,
        directory: str | os.PathLike | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        *,
        outfile: str | os.PathLike | None = None,
        timeout: float | None = None,
        force: bool = False,
    ) -> str:
        """Write the drawing to exactly the file named and return its path; nothing else is written.

        ``render("forget.svg")`` writes forget.svg; ``render("lstm", format="png")`` writes lstm.png (the
        extension is added only to a name without one). The format is ``format``, else the file's
        extension, else ``self.format``; "dot" writes the DOT text. An existing file that is not a
        drawing is not replaced unless ``force``. ``directory`` is joined in front; ``outfile`` is another
        name for ``filename``; ``cleanup`` is accepted and does nothing (no DOT file is written);
        ``view`` opens the picture.
        """
        name = outfile if outfile is not None else filename
        if name is None:
            name = "minigrad"
        path = Path(directory or "", name)
        suffix = path.suffix.lstrip(".").lower()
        if format is None:
            format = suffix if suffix in FORMATS else self.format
        _check(format, self.engine)
        if not path.suffix:
            path = path.with_name(f"{path.name}.{format}")
        elif suffix in FORMATS and suffix != format and {suffix, format} != {"dot", "gv"}:
            raise DrawingError(
                f"render: {path} ends in .{suffix} but format={format!r}; name a .{format} file"
            )
        check_target(path, force)
        atomic_write(path, self.pipe(format, timeout=timeout))
        if view:
            import graphviz  # only to open the file with the system's viewer

            graphviz.view(os.fspath(path))
        return os.fspath(path)

    def save(self, filename: str | os.PathLike, *, force: bool = False) -> str:
        """Write the DOT text to ``filename`` (as ``render(filename, format="dot")``)."""
        return self.render(filename, format="dot", force=force)

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        try:
            bundle = {"image/svg+xml": self.pipe("svg", encoding="utf-8")}
            if sys.platform != "emscripten":
                bundle["image/png"] = base64.b64encode(_palette(self.pipe("png"))).decode("ascii")
        except GraphvizError as e:  # a notebook must run on without Graphviz, or past a timeout
            return {"text/plain": f"{e}\n{self.source}"}
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        text = f"<minigrad drawing of {self.n_nodes} nodes: .source is the DOT text, .render(path) a file>"
        if self._fitted is not None and self._fitted is not self.source:
            text += (
                f"\nThis picture is {self.natural_width * MIN_SCALE:.0f} px wide at the smallest legible "
                "scale, wider than the page: draw part of it with scope='...', one time step with "
                "rolled=True, or fold scopes with collapse=[...]"
            )
        return text
