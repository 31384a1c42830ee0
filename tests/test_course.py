"""The course's generator and grader (`course.assign`, `course.grade`): the student notebooks in notebooks/
are what the masters in course/ give, the solutions pass every public and hidden test, and grading a
folder of submissions gives the expected scores, with a wrong answer's failure naming the gate that
`lstm.compare` names.

Grading runs each submission from top to bottom in a kernel (as `python -m course grade` does), so these
tests take a while: each is its own test, so that ``pytest -n 2`` runs two at once.
"""

from __future__ import annotations

import nbformat
import pytest

from course import assign, grade
from course.assign import CourseError
from lstm import compare

ROOT = assign.ROOT
MASTERS = assign.masters()
ASSIGNMENTS = [m for m in MASTERS if assign.is_assignment(nbformat.read(m, as_version=4))]


def _questions(master) -> list[str]:
    nb = nbformat.read(master, as_version=4)
    return [c.source.split("name:")[1].split()[0] for c in nb.cells
            if c.cell_type == "raw" and c.source.startswith("# BEGIN QUESTION")]  # fmt: skip


def test_every_notebook_has_a_master_and_the_exercises_are_assignments():
    stored = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert stored == [m.name for m in MASTERS], "every notebook in notebooks/ is generated from course/"
    for master in MASTERS:
        nbformat.validate(nbformat.read(master, as_version=4))  # Jupyter opens it without complaint
    assert [m.name[:2] for m in ASSIGNMENTS] == ["01", "03", "04", "05"]
    assert {m.stem: _questions(m) for m in ASSIGNMENTS} == {
        "01_autograd_from_scratch": ["silu"],
        "03_hand_derived_gradients": ["step_backward", "bptt_backward"],
        "04_training_with_bptt": ["truncated_backward"],
        "05_gradient_flow": ["cell_path_gradient"],
    }


def _without_outputs(nb) -> str:
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb)


@pytest.mark.parametrize("master", MASTERS, ids=[m.stem for m in MASTERS])
def test_generation_is_deterministic_and_the_stored_notebook_is_up_to_date(master):
    first, second = assign.generate(master), assign.generate(master)
    assert nbformat.writes(first.student) == nbformat.writes(second.student)
    assert nbformat.writes(first.solutions) == nbformat.writes(second.solutions)
    stored = nbformat.read(ROOT / "notebooks" / master.name, as_version=4)
    stored.metadata.pop("language_info", None)
    first.student.metadata.pop("language_info", None)
    assert _without_outputs(stored) == _without_outputs(first.student), (
        f"notebooks/{master.name} is not what course/{master.name} gives: run `bash setup.sh assign`"
    )


@pytest.mark.parametrize("master", ASSIGNMENTS, ids=[m.stem for m in ASSIGNMENTS])
def test_the_student_notebook_has_no_solution_and_every_exercise_says_not_done_yet(master):
    nb = nbformat.read(ROOT / "notebooks" / master.name, as_version=4)
    sources = "\n".join(c.source for c in nb.cells)
    assert "raise NotImplementedError" in sources
    for mark in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN PROMPT", "BEGIN TESTS", "HIDDEN"):
        assert mark not in sources, f"{master.name}: the student notebook shows {mark!r}"
    said = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    not_done = [text for text in said if "NOT DONE YET" in text]
    assert len(not_done) == len(_questions(master)), said
    assert not any("PASS" in text for text in said)


def test_solutions_show_no_stub_and_no_marker():
    g = assign.generate(ROOT / "course" / "03_hand_derived_gradients.ipynb")
    sources = "\n".join(c.source for c in g.solutions.cells if c.cell_type == "code")
    assert "df = dc_total * cache.c_prev" in sources
    for mark in ("NotImplementedError", "BEGIN SOLUTION", "END SOLUTION", "PROMPT"):
        assert mark not in sources


def _write(nb, path):
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def _assignment_in(tmp_path, master):
    """Generate ``master`` into tmp_path: (the generated notebooks, the autograder folder)."""
    g = assign.generate(master)
    autograders = tmp_path / "autograder"
    autograders.mkdir()
    (autograders / f"{g.name}.zip").write_bytes(g.autograder)
    return g, autograders


SOLVED = [m for m in ASSIGNMENTS if not m.name.startswith("03")]  # 03's solutions: the folder test below


@pytest.mark.parametrize("master", SOLVED, ids=[m.stem for m in SOLVED])
def test_the_solutions_pass_every_public_and_hidden_test(master, tmp_path):
    g, autograders = _assignment_in(tmp_path, master)
    graded = grade.grade_submission(_write(g.solutions, tmp_path / "solved.ipynb"), autograders)
    assert graded.failures == {}
    assert graded.scores == dict.fromkeys(_questions(master), (2.0, 2.0))


PLANTED = ("df = dc_total * cache.c_prev", "df = dc_total * cache.c")  # the forget gate's c_prev missing


def test_grading_a_folder_of_a_correct_a_wrong_and_an_unfinished_submission(tmp_path):
    g, autograders = _assignment_in(tmp_path, ROOT / "course" / "03_hand_derived_gradients.ipynb")
    folder = tmp_path / "submissions"
    folder.mkdir()
    _write(g.solutions, folder / "ada.ipynb")
    _write(g.student, folder / "grace.ipynb")
    wrong = nbformat.from_dict(g.solutions)
    answers = [c for c in wrong.cells if PLANTED[0] in c.source]
    assert len(answers) == 1
    answers[0].source = answers[0].source.replace(*PLANTED)
    _write(wrong, folder / "linus.ipynb")
    csv_path = tmp_path / "scores.csv"

    said = []
    graded = grade.grade_folder(folder, autograders, csv_path, say=said.append)

    assert csv_path.read_text(encoding="utf-8") == (
        "file,assignment,step_backward,bptt_backward,total,possible\n"
        "ada.ipynb,03_hand_derived_gradients,2,2,4,4\n"
        "grace.ipynb,03_hand_derived_gradients,0,0,0,4\n"
        "linus.ipynb,03_hand_derived_gradients,0,2,2,4\n"
    )
    assert said[0] == "ada.ipynb: 4 / 4  step_backward 2/2, bptt_backward 2/2"
    unfinished = graded[1].failures
    assert all("NOT DONE YET" in m for q in ("step_backward", "bptt_backward") for m in unfinished[q])

    # The wrong answer fails the public test and the hidden one, and the hidden one names the gate that
    # lstm.compare names for the same mistake on the hidden test's first problem.
    public, hidden = graded[2].failures["step_backward"]
    namespace = {}
    exec(answers[0].source, {"np": __import__("numpy"), "gate_slices": compare.gate_slices}, namespace)
    report = compare.compare_gradients(namespace["my_step_backward"], input_size=5, hidden_size=3,
                                       batch_size=4, seed=11)  # fmt: skip
    assert report.wrong_gates == ["forget"]
    assert "B=4, I=5, H=3, seed 11: FAIL: forget gate:" in hidden
    for gate in compare.GATES:
        assert (f"{gate} gate" in hidden) == (gate in report.wrong_gates), (gate, hidden)
    assert "FAIL: forget gate:" in public


def test_grading_refuses_what_it_cannot_grade_with_one_message(tmp_path):
    with pytest.raises(CourseError, match=r"^.*empty: holds no \.ipynb file to grade$"):
        (tmp_path / "empty").mkdir()
        grade.grade_folder(tmp_path / "empty", tmp_path, None)
    plain = nbformat.v4.new_notebook()
    path = _write(plain, tmp_path / "plain.ipynb")
    with pytest.raises(CourseError, match=r"plain\.ipynb: names no assignment in its metadata"):
        grade.grade_submission(path, tmp_path)
    plain.metadata["otter"] = {"assignment_name": "03_hand_derived_gradients"}
    _write(plain, path)
    expected = r"no autograder .*\.zip for its assignment '03_hand_derived_gradients': run `bash setup\.sh"
    with pytest.raises(CourseError, match=expected):
        grade.grade_submission(path, tmp_path)
    with pytest.raises(CourseError, match=r"no master in .* matches \['99'\]"):
        assign.assign_all(tmp_path / "dist", tmp_path / "notebooks", run=False, only=["99"])
