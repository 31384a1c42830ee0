"""Rendering with Graphviz: the object `draw` returns, and the ``dot`` program run with a time limit.

`Drawing` is a ``graphviz.Source`` (so ``.source``, ``.save``, ``.render`` and Jupyter display work as
in the graphviz package) whose layout runs go through `run_graphviz`, which adds what the package lacks:
a clear error when ``dot`` is missing and a timeout, because laying out a large graph can take minutes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import graphviz

INSTALL = (
    "install it with `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`conda install -c conda-forge graphviz` (conda), or `winget install graphviz` or the installer from "
    "graphviz.org (Windows)"
)
DEFAULT_TIMEOUT = 60.0  # seconds


class GraphvizError(RuntimeError):
    """Rendering a drawing failed (the program is missing, timed out or reported an error)."""


class GraphvizNotFoundError(GraphvizError, graphviz.ExecutableNotFound):
    """The Graphviz program is not on the PATH. Also a ``graphviz.ExecutableNotFound``."""

    def __init__(self, engine: str = "dot") -> None:
        RuntimeError.__init__(
            self,
            f"Rendering a drawing needs the Graphviz program `{engine}`, which is not on the PATH: "
            f"{INSTALL}; mg.viz.to_dot() gives the DOT text without it.",
        )


class RenderTimeoutError(GraphvizError, TimeoutError):
    """The layout did not finish within the timeout."""


def run_graphviz(
    source: str,
    format: str = "svg",
    *,
    engine: str = "dot",
    timeout: float | None = DEFAULT_TIMEOUT,
    outfile: str | os.PathLike | None = None,
    n_nodes: int | None = None,
) -> bytes:
    """Lay out DOT ``source`` with the Graphviz program ``engine`` and return the output in ``format``
    (or write it to ``outfile`` and return b"").

    Raises GraphvizNotFoundError when the program is not on the PATH, RenderTimeoutError when it runs
    longer than ``timeout`` seconds (the process is killed), GraphvizError when it fails.
    """
    _check(format, engine)
    exe = shutil.which(engine)
    if exe is None:
        raise GraphvizNotFoundError(engine)
    cmd = [exe, f"-T{format}"]
    if outfile is not None:
        cmd += ["-o", os.fspath(outfile)]
    try:
        proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:  # run() has killed the process
        size = f"{n_nodes} nodes" if n_nodes is not None else "the graph"
        raise RenderTimeoutError(
            f"render: Graphviz `{engine}` did not finish laying out {size} within {timeout:g} s; draw less "
            "(scope=..., collapse=[...], rolled=True) or pass a longer timeout="
        ) from None
    except FileNotFoundError:
        raise GraphvizNotFoundError(engine) from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise GraphvizError(f"render: Graphviz `{engine} -T{format}` failed (exit {proc.returncode}): {err}")
    return proc.stdout


def _check(format: str, engine: str) -> None:
    if format not in graphviz.FORMATS:
        raise ValueError(f"render: unknown format {format!r}; Graphviz knows e.g. 'svg', 'png', 'pdf'")
    if engine not in graphviz.ENGINES:
        raise ValueError(f"render: unknown engine {engine!r}; one of {', '.join(sorted(graphviz.ENGINES))}")


class Drawing(graphviz.Source):
    """A drawing of a minigrad graph: a ``graphviz.Source`` holding the DOT text from `to_dot`.

    In Jupyter it shows as SVG; without Graphviz (or when the layout times out) it shows the DOT text
    with a one-line hint instead, never an exception. ``n_nodes`` is the number of nodes drawn and
    ``timeout`` the default time limit, in seconds, of every layout run (None: no limit).
    """

    def __init__(self, source: str, *, n_nodes: int = 0, timeout: float | None = DEFAULT_TIMEOUT, **kwargs):
        kwargs.setdefault("filename", "minigrad.gv")
        kwargs.setdefault("format", "svg")
        super().__init__(source, **kwargs)
        self.n_nodes = n_nodes
        self.timeout = timeout

    def _copy_kwargs(self, **kwargs):
        return super()._copy_kwargs(n_nodes=self.n_nodes, timeout=self.timeout, **kwargs)

    def pipe(
        self,
        format: str | None = None,
        *,
        encoding: str | None = None,
        engine: str | None = None,
        timeout: float | None = None,
        quiet: bool = False,
    ):
        """The drawing laid out in ``format`` (default: ``self.format``), as bytes, or as str when an
        ``encoding`` is given. ``timeout`` overrides ``self.timeout``. (``quiet`` is accepted as by
        graphviz.Source: Graphviz's messages are always captured, and put in the error if it fails.)"""
        data = run_graphviz(
            self.source,
            format or self.format,
            engine=engine or self.engine,
            timeout=self.timeout if timeout is None else timeout,
            n_nodes=self.n_nodes,
        )
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
        engine: str | None = None,
        timeout: float | None = None,
        quiet: bool = False,
        quiet_view: bool = False,
    ) -> str:
        """Write the drawing to a file and return the file's path.

        As in the graphviz package, ``render("lstm", format="png")`` saves the DOT text as ``lstm`` and
        the picture as ``lstm.png``, and ``render(outfile="lstm.png")`` saves ``lstm.gv`` and ``lstm.png``.
        A ``filename`` that already ends in the format (``render("lstm.svg", format="svg")``, or
        ``render("lstm.svg")``) names the picture itself: the DOT text goes to ``lstm.gv``. ``cleanup``
        deletes the DOT file afterwards; ``view`` (or ``quiet_view``) opens the picture. ``timeout``
        overrides ``self.timeout``; ``quiet`` is accepted as by `pipe`.
        """
        if outfile is None and filename is not None:
            suffix = Path(filename).suffix.lstrip(".").lower()
            if suffix in graphviz.FORMATS and (format is None or format == suffix):
                outfile, filename = filename, None
        if outfile is not None:
            outfile = Path(directory or "", outfile)
            format = format or outfile.suffix.lstrip(".").lower() or self.format
            _check(format, engine or self.engine)
            source_path = Path(filename) if filename is not None else outfile.with_suffix(".gv")
            if directory is not None and filename is not None:
                source_path = Path(directory, filename)
            source_path = Path(self.save(os.fspath(source_path), directory=""))
        else:
            format = format or self.format
            _check(format, engine or self.engine)
            source_path = Path(self.save(filename, directory=directory))
            outfile = Path(f"{source_path}.{format}")
        run_graphviz(
            self.source,
            format,
            engine=engine or self.engine,
            timeout=self.timeout if timeout is None else timeout,
            outfile=outfile,
            n_nodes=self.n_nodes,
        )
        if cleanup:
            source_path.unlink()
        if view or quiet_view:
            graphviz.view(os.fspath(outfile), quiet=quiet_view)
        return os.fspath(outfile)

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        try:
            return super()._repr_mimebundle_(include, exclude)
        except Exception as e:  # noqa: BLE001 - a notebook must run on without Graphviz
            hint = str(e).splitlines()[0] if str(e) else type(e).__name__
            return {"text/plain": f"{hint}\n{self.source}"}

    def __repr__(self) -> str:
        return f"<minigrad drawing of {self.n_nodes} nodes: .source is the DOT text, .render(path) a file>"
