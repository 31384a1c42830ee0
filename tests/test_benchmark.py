"""benchmarks/lstm_step.py times the same computation in every row: each implementation's first training
step is checked against A's (loss and update of every parameter) before anything is timed. These tests
run that check on small problems, and show that it catches a row that computes something else."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import lstm_step as bench


@pytest.fixture(autouse=True)
def small_sizes(monkeypatch):
    monkeypatch.setitem(bench.SIZES, "small", (3, 4, 5, 6))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_row_computes_the_same_step_as_a(dtype):
    p = bench.make_problem("small", dtype)
    steps = {k: cls(p) for k, cls in bench.implementations().items()}
    bench.check_agreement(p, steps)  # exits with a message on any disagreement
    for _ in range(3):  # and keeps agreeing after a few updates
        losses = {k: s.step() for k, s in steps.items()}
        assert np.allclose(list(losses.values()), losses["A"], rtol=1e-4 if dtype == "float32" else 1e-10)


def test_a_row_that_computes_something_else_is_stopped_before_timing():
    class Wrong(bench.HoistedNumpyStep):
        label = "wrong"

        def lstm(self, params):
            h_T, backward = super().lstm(params)
            return h_T, lambda dh: {**backward(dh), "bias_hh": np.zeros(4 * self.p.H)}

    p = bench.make_problem("small", "float64")
    with pytest.raises(SystemExit, match=r"wrong disagrees with A at small float64: the update of bias_hh"):
        bench.check_agreement(p, {"A": bench.FastNumpyStep(p), "wrong": Wrong(p)})


def test_the_report_has_every_row_and_the_load(tmp_path):
    out = tmp_path / "results.md"
    text = bench.run(["small"], ["float64"], repeats=2, out_path=out, variant=True)
    assert out.read_text() == text
    for cls in bench.implementations().values():
        assert f"| {cls.label} |" in text
    assert "| minigrad, primitive ops, freed memory kept |" in text
    assert "load average after the rounds" in text and "Load average at the end" in text
