"""Grading a folder of submitted notebooks with the autograders `course.assign` wrote, without Docker.

Each submission is a student notebook (its metadata names its assignment, as the generated notebooks do);
otter-grader runs it in a fresh kernel of this interpreter and then runs the assignment's tests, public
and hidden. The scores go to a CSV with one row per submission and one column per question.
"""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.assign import CourseError
from minigrad.files import atomic_write


@dataclass
class Graded:
    """One submission's result: per question (score, possible), and the failing tests' messages."""

    file: str
    assignment: str
    scores: dict[str, tuple[float, float]]
    failures: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(s for s, _ in self.scores.values())

    @property
    def possible(self) -> float:
        return sum(p for _, p in self.scores.values())


def assignment_of(path: Path) -> str:
    """The assignment a submitted notebook belongs to, from its metadata."""
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as e:
        raise CourseError(f"{path}: not a readable notebook ({e})") from e
    name = nb.metadata.get("otter", {}).get("assignment_name")
    if not name:
        raise CourseError(f"{path}: names no assignment in its metadata (otter.assignment_name): is it a "
                          "student notebook of the course?")  # fmt: skip
    return name


def grade_submission(path: Path, autograders: Path) -> Graded:
    """Run the notebook at ``path`` and its assignment's tests (public and hidden)."""
    from otter.api import grade_submission as otter_grade  # imported here: otter is slow to import

    name = assignment_of(path)
    zip_path = autograders / f"{name}.zip"
    if not zip_path.is_file():
        raise CourseError(f"{path}: no autograder {zip_path} for its assignment {name!r}: run "
                          "`bash setup.sh assign` first")  # fmt: skip
    with contextlib.redirect_stderr(io.StringIO()):
        results = otter_grade(str(path), str(zip_path), quiet=True)
    scores, failures = {}, {}
    for question, result in results.results.items():
        scores[question] = (float(result.score), float(result.possible))
        messages = [r.message for r in result.test_case_results if not r.passed]
        if messages:
            failures[question] = messages
    return Graded(path.name, name, scores, failures)


def grade_folder(submissions: Path, autograders: Path, csv_path: Path | None, say=print) -> list[Graded]:
    """Grade every ``*.ipynb`` in ``submissions`` (in name order); write the scores to ``csv_path``:
    columns file, assignment, one per question (in the order met), total, possible."""
    if not submissions.is_dir():
        raise CourseError(f"{submissions}: not a folder of submitted notebooks")
    paths = sorted(submissions.glob("*.ipynb"))
    if not paths:
        raise CourseError(f"{submissions}: holds no .ipynb file to grade")
    graded = []
    for path in paths:
        g = grade_submission(path, autograders)
        say(f"{g.file}: {g.total:g} / {g.possible:g}  "
            + ", ".join(f"{q} {s:g}/{p:g}" for q, (s, p) in g.scores.items()))  # fmt: skip
        for question, messages in g.failures.items():
            for message in messages:
                say(f"    {question}: " + message.strip().splitlines()[-1])
        graded.append(g)
    if csv_path is not None:
        atomic_write(csv_path, scores_csv(graded))
    return graded


def scores_csv(graded: list[Graded]) -> str:
    questions = list(dict.fromkeys(q for g in graded for q in g.scores))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "assignment", *questions, "total", "possible"])
    for g in graded:
        cells = [f"{g.scores[q][0]:g}" if q in g.scores else "" for q in questions]
        writer.writerow([g.file, g.assignment, *cells, f"{g.total:g}", f"{g.possible:g}"])
    return out.getvalue()
