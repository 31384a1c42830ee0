"""Each task's headline metric and trivial baseline: what `train` compares a run with."""

import numpy as np
import pytest

from lstm.tasks import TASKS, AddingProblem, EmbeddedReber, make_task
from lstm.tasks.reber import grammar_logits

SMALL = {"adding": {"T": 22}, "reber": {"n_train": 32, "n_test": 32}}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_the_baseline_does_not_beat_itself_and_names_its_predictor(name):
    task = make_task(name, **SMALL.get(name, {}))
    baseline = task.baseline()
    assert task.headline in baseline
    assert not task.beats(baseline, baseline)
    assert len(task.baseline_name.split()) >= 3


def test_adding_the_mean_predictor_is_beaten_by_the_right_answer_and_not_by_a_wrong_constant():
    task = AddingProblem(22)
    baseline = task.baseline()
    assert baseline["error_rate"] == pytest.approx(0.84, abs=0.02)  # the figure the issue measured

    def exact(x):  # the sum of the two marked values, as the target defines it
        marked = (x[..., 1] == 1.0) * x[..., 0]
        return 0.5 + marked.sum(axis=1, keepdims=True) / 4

    assert task.beats(task.evaluate(exact), baseline)
    assert task.evaluate(exact)["error_rate"] == 0.0
    assert not task.beats(task.evaluate(lambda x: np.full((len(x), 1), 0.6)), baseline)


def test_reber_memory_beats_the_memoryless_grammar_and_higher_is_better():
    task = EmbeddedReber(n_train=32, n_test=32)
    remembering = task.evaluate(lambda x: np.nan_to_num(grammar_logits(x), neginf=-50.0))
    assert remembering["fraction_correct"] == 1.0 and task.baseline()["fraction_correct"] == 0.0
    assert task.beats(remembering, task.baseline())
    assert not task.beats(task.baseline(), remembering)
