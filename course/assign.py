"""From the masters in course/ to what students, graders and instructors get.

A master is a notebook ``course/NN_topic.ipynb``. One whose first cell is a raw ``# ASSIGNMENT CONFIG``
cell is an otter-grader assignment: its exercises are questions (``# BEGIN QUESTION`` ... ``# END
QUESTION``), each answer cell holds the solution (``# BEGIN SOLUTION NO PROMPT`` ... ``# END SOLUTION``)
and then the student's stub, in a string whose first line ends in ``# BEGIN PROMPT`` and last line in
``# END PROMPT`` (the stub keeps ``raise NotImplementedError``), and its tests (``# BEGIN TESTS``) call
the checks of `lstm.exercises`, public ones and ``# HIDDEN`` ones. Any other master is a plain notebook,
handed out as it is.

For each master, `generate` returns:

- the student notebook: the master without solutions or tests (otter assign's ``student/``);
- the solutions notebook: the master with the solutions and without the stubs, markers or tests;
- the autograder (otter assign's zip of the tests, public and hidden), for `course.grade`.

`assign_all` writes them to ``notebooks/NN_topic.ipynb`` (the student notebook, executed in a kernel so
that it is stored with its outputs), ``dist/student/``, ``dist/solutions/NN_topic_solutions.ipynb`` and
``dist/autograder/NN_topic.zip``. Generation is deterministic: the same masters give the same notebooks.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

import minigrad as mg
from course.execute import execute, merge_streams
from minigrad.files import atomic_write

COURSE = Path(__file__).resolve().parent
ROOT = COURSE.parent
CONFIG_MARK = "# ASSIGNMENT CONFIG"
# Lines of an answer cell that only the master needs: the markers, and the student's stub.
SOLUTION_MARKS = ("# BEGIN SOLUTION NO PROMPT", "# BEGIN SOLUTION", "# END SOLUTION")
PROMPT_BEGIN, PROMPT_END = '""" # BEGIN PROMPT', '""" # END PROMPT'


class CourseError(mg.MinigradError):
    """A master could not be turned into an assignment, or a notebook could not be run or graded."""


@dataclass
class Generated:
    """What one master gives: ``autograder`` is the zip's bytes, None for a plain notebook."""

    name: str
    student: nbformat.NotebookNode
    solutions: nbformat.NotebookNode
    autograder: bytes | None


def masters(folder: Path = COURSE) -> list[Path]:
    """The masters: every ``NN_topic.ipynb`` in ``folder``, in course order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def is_assignment(nb: nbformat.NotebookNode) -> bool:
    return bool(nb.cells) and nb.cells[0].cell_type == "raw" and nb.cells[0].source.startswith(CONFIG_MARK)


def generate(master: Path) -> Generated:
    """The student notebook, the solutions and the autograder of ``master`` (see the module docstring);
    the notebooks are not executed."""
    name = master.stem
    nb = _read(master)
    if not is_assignment(nb):
        return Generated(name, _tidy(nb, name), _tidy(copy.deepcopy(nb), name), None)
    with tempfile.TemporaryDirectory(prefix="assign-") as tmp:
        out = Path(tmp) / "out"
        run = subprocess.run(
            [sys.executable, "-m", "otter", "assign", "--no-run-tests", "--no-pdfs", str(master), str(out)],
            capture_output=True, text=True, cwd=tmp,
        )  # fmt: skip
        if run.returncode != 0:
            said = (run.stderr.strip() or run.stdout.strip()).splitlines()
            raise CourseError(f"{master.name}: otter assign failed: {said[-1] if said else run.returncode}")
        student = _read(out / "student" / master.name)
        solutions = _read(out / "autograder" / master.name)
        (zip_path,) = (out / "autograder").glob("*.zip")
        autograder = zip_path.read_bytes()
    for cell in solutions.cells:
        if cell.cell_type == "code":
            cell.source = _without_stub(cell.source)
    return Generated(name, _tidy(student, name), _tidy(solutions, name), autograder)


def _read(path: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError) as e:  # nbformat's read errors are ValueErrors
        raise CourseError(f"{path}: not a readable notebook ({e})") from e


def _without_stub(source: str) -> str:
    """An answer cell as the solutions show it: the solution, without the markers and the stub."""
    kept, in_prompt = [], False
    for line in source.split("\n"):
        text = line.strip()
        if text == PROMPT_BEGIN:
            in_prompt = True
        elif text == PROMPT_END:
            in_prompt = False
        elif not in_prompt and text not in SOLUTION_MARKS:
            kept.append(line)
    return "\n".join(kept)


def _tidy(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """No outputs, and cell ids that depend only on the cell's place, so that generating twice gives the
    same file."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    for k, cell in enumerate(nb.cells):
        cell.id = f"nb{name[:2]}-{k:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def assign_all(dist: Path, notebooks: Path, run: bool = True, only: list[str] | None = None,
               say=print) -> list[Generated]:  # fmt: skip
    """Generate every master (or those whose name starts with one of ``only``) and write what they give:
    ``notebooks/NN_topic.ipynb`` executed in a kernel (unless ``run`` is false: then it is not written),
    and under ``dist``: ``student/NN_topic.ipynb``, ``solutions/NN_topic_solutions.ipynb`` and
    ``autograder/NN_topic.zip``."""
    chosen = [m for m in masters() if not only or any(m.stem.startswith(o) for o in only)]
    if not chosen:
        raise CourseError(f"no master in {COURSE} matches {only}: the masters are "
                          f"{[m.stem for m in masters()]}")  # fmt: skip
    done = []
    for master in chosen:
        g = generate(master)
        if run:
            failure = execute(g.student, notebooks)
            if failure is not None:
                raise CourseError(f"{master.name}: the student notebook does not run: {failure}")
            g.student.metadata.language_info = {"name": "python"}  # not the version that ran it
            merge_streams(g.student)
            atomic_write(notebooks / f"{g.name}.ipynb", nbformat.writes(g.student) + "\n")
        atomic_write(dist / "student" / f"{g.name}.ipynb", nbformat.writes(g.student) + "\n")
        atomic_write(dist / "solutions" / f"{g.name}_solutions.ipynb", nbformat.writes(g.solutions) + "\n")
        if g.autograder is not None:
            atomic_write(dist / "autograder" / f"{g.name}.zip", g.autograder)
        say(f"{master.name}: " + ", ".join(
            ([f"notebooks/{g.name}.ipynb (run)"] if run else [])
            + ["student", "solutions"] + (["autograder"] if g.autograder is not None else [])))  # fmt: skip
        done.append(g)
    return done
