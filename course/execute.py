"""Running a notebook from top to bottom in a fresh kernel, as a student would: the one runner that both
`course.assign` (to store the student notebooks with their outputs) and the notebook tests use.

The kernel is ipykernel's built-in ``python3`` kernel spec, which starts the interpreter running this code
(``sys.executable``), so the notebook imports minigrad and lstm from where the caller does; it runs in the
notebook's folder, as in Jupyter, with a time limit for the whole notebook.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets import default

NOTEBOOK_TIMEOUT = 300  # seconds for a whole notebook; each is written to run in well under a minute
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class ThisInterpreterKernelManager(AsyncKernelManager):
    """Starts ipykernel's own ``python3`` kernel spec, which runs ``sys.executable``: a ``python3`` spec
    installed in a user's or another environment's Jupyter folders would otherwise take precedence."""

    @default("kernel_spec_manager")
    def _native_kernel_only(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: float = NOTEBOOK_TIMEOUT) -> str | None:
    """Execute ``nb`` in place (its outputs and execution counts are replaced) in a fresh kernel whose
    working folder is ``folder``; return None, or what went wrong: the failing cell's index, the error
    and its traceback."""
    deadline = time.monotonic() + timeout
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        kernel_name="python3",
        kernel_manager_class=ThisInterpreterKernelManager,
        # the time left for the whole notebook, given to each cell in turn
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        resources={"metadata": {"path": str(folder)}},
        record_timing=False,
        on_cell_start=on_cell_start,
    )
    # A kernel picks matplotlib's inline backend only when MPLBACKEND is unset (the test suite sets Agg),
    # and the notebooks run as they do for a student, with their figures stored. One BLAS thread: the
    # notebooks' matrices are small, and their printed digits then repeat from run to run.
    saved = {name: os.environ.get(name) for name in ("MPLBACKEND", *ONE_THREAD)}
    os.environ.pop("MPLBACKEND", None)
    os.environ.update(dict.fromkeys(ONE_THREAD, "1"))
    try:
        client.execute()
    except CellExecutionError as e:
        return f"cell {current['index']} raised {e.ename}: {e.evalue}\n\n{ANSI.sub('', str(e))}"
    except CellTimeoutError:
        return f"did not finish within {timeout:g} s (stopped in cell {current['index']})"
    except DeadKernelError as e:
        return f"the kernel died in cell {current['index']}: {e}"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return None


def run_notebook(path: Path, timeout: float = NOTEBOOK_TIMEOUT) -> str | None:
    """Execute the notebook at ``path`` in its folder without saving it; see `execute`."""
    return execute(nbformat.read(path, as_version=4), path.parent, timeout)


def merge_streams(nb: nbformat.NotebookNode) -> None:
    """Join each cell's consecutive outputs to the same stream: how a kernel splits printed text into
    messages depends on timing, and a stored notebook should not."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.outputs:
            last = merged[-1] if merged else None
            if (output.output_type == "stream" and last is not None and last.output_type == "stream"
                    and last.name == output.name):  # fmt: skip
                last.text += output.text
            else:
                merged.append(output)
        cell.outputs = merged


def printed(nb: nbformat.NotebookNode) -> list[list[str]]:
    """Per code cell, the text it printed and the plain text of what it showed (images left out)."""
    merge_streams(nb)
    return [[o.text if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
             for o in cell.outputs if o.output_type != "display_data" or "text/plain" in o.get("data", {})]
            for cell in nb.cells if cell.cell_type == "code"]  # fmt: skip
