"""The notebooks under notebooks/ (the student notebooks `python -m course assign` generates from the
masters in course/): each one runs from top to bottom in a fresh kernel without an error, and is stored the
way it is published, executed, with small outputs that name no file, folder, machine or memory address of
the computer that ran it.

Each notebook is its own test, so ``pytest -n 2`` runs two at once. The kernel is the ``python3`` kernel
of the interpreter running pytest (ipykernel's built-in kernel spec, which starts ``sys.executable``), so
it imports minigrad and lstm from where the tests do; each notebook runs in its own folder, as in Jupyter,
with a time limit for the whole notebook.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import sys
from pathlib import Path

import nbformat
import pytest

from course.execute import ThisInterpreterKernelManager, execute, printed, run_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [p.relative_to(NOTEBOOK_DIR).as_posix() for p in NOTEBOOKS]

MAX_OUTPUT_BYTES = 200_000
MAX_NOTEBOOK_BYTES = 2_000_000

# Outputs that would differ from machine to machine, or give away where a notebook was run.
ABSOLUTE_PATH = re.compile(r"(?<![\w.<])/(?:work|home|root|tmp|Users)\b|\b[A-Za-z]:\\(?:Users|Windows)\b")
MEMORY_ADDRESS = re.compile(r"0x[0-9a-f]{6,}", re.IGNORECASE)
BINARY = ("image/png", "image/jpeg", "image/gif")  # base64: any letters may occur in it


def test_the_kernel_is_the_interpreter_running_the_tests():
    spec = ThisInterpreterKernelManager(kernel_name="python3").kernel_spec
    assert spec.argv[0] == sys.executable, spec.argv


def test_notebooks_are_found_and_named_by_the_convention():
    assert NOTEBOOKS, f"no notebook in {NOTEBOOK_DIR}"
    for p in NOTEBOOKS:
        rel = p.relative_to(NOTEBOOK_DIR).as_posix()
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", rel), (
            f"{rel}: notebooks are named notebooks/NN_topic.ipynb (generated from course/NN_topic.ipynb)"
        )


def test_readme_links_every_notebook_and_only_existing_ones():
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    links = set(re.findall(r"\]\(([^)\s]+\.ipynb)\)", readme))
    missing = sorted({p.name for p in NOTEBOOKS} - links)
    broken = sorted(link for link in links if not (NOTEBOOK_DIR / link).exists())
    assert not missing, f"notebooks/README.md does not link {missing}"
    assert not broken, f"notebooks/README.md links notebooks that do not exist: {broken}"


# -- running ---


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_without_error(path: Path, monkeypatch):
    # The suite runs with MPLBACKEND=Agg; a kernel picks its inline backend only when it is unset, and
    # the notebooks should run as they do for a student.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(path, as_version=4)
    stored = printed(copy.deepcopy(nb))
    failure = execute(nb, path.parent)
    rel = path.relative_to(NOTEBOOK_DIR).as_posix()
    if failure is not None:
        pytest.fail(f"{rel}: {failure}", pytrace=False)
    # What a fresh run prints is what is stored: `bash setup.sh assign` would change nothing
    fresh = printed(nb)
    changed = [k for k, (a, b) in enumerate(zip(stored, fresh)) if a != b]
    assert not changed, f"{rel}: code cells {changed} print something else than is stored, first:\n" + (
        f"stored: {stored[changed[0]]}\nfresh:  {fresh[changed[0]]}" if changed else "")


def test_the_runner_uses_this_interpreter_and_folder_and_names_the_failing_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("A notebook with a planted error."),
        nbformat.v4.new_code_cell(
            "import pathlib, sys\n"
            f"assert sys.executable == {sys.executable!r}, sys.executable\n"
            f"assert pathlib.Path.cwd().resolve() == pathlib.Path({str(tmp_path.resolve())!r})"
        ),
        nbformat.v4.new_code_cell("raise ValueError('planted')"),
        nbformat.v4.new_code_cell("print('not reached')"),
    ]
    path = tmp_path / "planted.ipynb"
    nbformat.write(nb, str(path))
    failure = run_notebook(path)
    assert failure is not None and failure.startswith("cell 2 raised ValueError: planted"), failure
    assert "raise ValueError('planted')" in failure  # the cell's source is shown


def test_the_runner_stops_a_notebook_that_runs_too_long(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(60)")]
    path = tmp_path / "forever.ipynb"
    nbformat.write(nb, str(path))
    failure = run_notebook(path, timeout=1)
    assert failure == "did not finish within 1 s (stopped in cell 0)", failure


# -- the stored file ---


def _texts(output) -> list[str]:
    """Every piece of text an output holds (not base64-encoded images)."""
    if output.output_type == "stream":
        return [output.text]
    if output.output_type == "error":
        return [output.ename, output.evalue, *output.traceback]
    texts = []
    for mime, value in output.get("data", {}).items():
        if mime in BINARY:
            continue
        texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts


def _hostname_pattern() -> re.Pattern | None:
    # A name as short as "vm" or "ci" would match ordinary words; such names are not looked for.
    host = socket.gethostname().split(".")[0]
    if len(host) < 4 or host.lower() == "localhost":
        return None
    return re.compile(rf"(?<![\w-]){re.escape(host)}(?![\w-])", re.IGNORECASE)


def _problems(nb) -> list[str]:
    checks = [(ABSOLUTE_PATH, "an absolute path"), (MEMORY_ADDRESS, "a memory address")]
    host = _hostname_pattern()
    if host is not None:
        checks.append((host, "the machine's name"))
    problems = []
    code_cells = [(k, c) for k, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for _, c in code_cells]
    if counts != list(range(1, len(code_cells) + 1)):
        problems.append(
            f"execution counts {counts}: save the notebook after running it top to bottom in a fresh kernel "
            "(every code cell executed once, in order)"
        )
    if code_cells and not any(c.outputs for _, c in code_cells):
        problems.append("no code cell has an output: the notebook was saved without its outputs")
    for k, cell in code_cells:
        for output in cell.outputs:
            where = f"cell {k} ({output.output_type})"
            if output.output_type == "error":
                problems.append(f"{where}: saved with an error: {output.ename}: {output.evalue}")
            size = len(json.dumps(output))
            if size > MAX_OUTPUT_BYTES:
                problems.append(f"{where}: an output of {size:,} bytes (at most {MAX_OUTPUT_BYTES:,})")
            for text in _texts(output):
                for pattern, what in checks:
                    m = pattern.search(text)
                    if m:
                        excerpt = text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
                        problems.append(f"{where}: {what}: ...{excerpt}...")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_notebook_is_executed_small_and_anonymous(path: Path):
    rel = path.relative_to(NOTEBOOK_DIR).as_posix()
    size = path.stat().st_size
    assert size <= MAX_NOTEBOOK_BYTES, f"{rel}: {size:,} bytes (at most {MAX_NOTEBOOK_BYTES:,})"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    assert kernel == "python3", f"{rel}: kernelspec name is {kernel!r}, expected 'python3'"
    problems = _problems(nb)
    assert not problems, f"{rel}:\n" + "\n".join(problems)


# -- the checks themselves ---


def _notebook(outputs_per_cell, counts=None):
    nb = nbformat.v4.new_notebook()
    for k, outputs in enumerate(outputs_per_cell):
        cell = nbformat.v4.new_code_cell("print(1)")
        cell.outputs = outputs
        cell.execution_count = k + 1 if counts is None else counts[k]
        nb.cells.append(cell)
    return nb


def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def test_stored_checks_find_what_they_look_for():
    clean = _notebook([[_stream("loss 0.25\n")], []])
    assert _problems(clean) == []
    found = {
        "an absolute path": _notebook([[_stream("saved to /home/ada/run.npz\n")]]),
        "a memory address": _notebook([[_stream("<object at 0x7f3a2c1d9e80>\n")]]),
        "saved with an error": _notebook([[nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                                                   traceback=[])]]),  # fmt: skip
        "execution counts": _notebook([[_stream("a\n")], [_stream("b\n")]], counts=[2, 1]),
        "no code cell has an output": _notebook([[], []]),
        "bytes (at most": _notebook([[_stream("x" * (MAX_OUTPUT_BYTES + 1))]]),
    }
    for what, nb in found.items():
        problems = _problems(nb)
        assert len(problems) == 1 and what in problems[0], (what, problems)
    # an image's base64 text is not searched; the same text as an SVG is
    png = nbformat.v4.new_output("display_data", data={"image/png": "AAAA0x7f3a2c1d9e80AAAA"})
    svg = nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg>/tmp/x 0x7f3a2c1d9e80</svg>"})
    assert _problems(_notebook([[png]])) == []
    found = [p.split(": ")[1] for p in _problems(_notebook([[svg]]))]
    assert found == ["an absolute path", "a memory address"]
    # a relative path, a closing tag and a URL are not absolute paths
    assert _problems(_notebook([[_stream("notebooks/tmp/a.txt </tmp> https://x.org/home/\n")]])) == []


def test_stored_checks_find_the_machines_name(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "lab-pc-17.example.org")
    assert "the machine's name" in _problems(_notebook([[_stream("running on lab-pc-17\n")]]))[0]
    assert _problems(_notebook([[_stream("running on lab-pc-170\n")]])) == []
    monkeypatch.setattr(socket, "gethostname", lambda: "vm")  # too short to look for
    assert _problems(_notebook([[_stream("a vm\n")]])) == []
