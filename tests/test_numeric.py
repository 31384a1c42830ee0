"""minigrad.numeric, the one home of numeric checking: central differences against derivatives taken by
hand, the grade of known pairs, and the checkers (gradcheck, check_graph, lstm.compare) reporting the same
relative error for the same pair."""

import numpy as np
import pytest

import minigrad as mg
from lstm import compare, reference
from minigrad import numeric


def test_central_differences_match_derivatives_by_hand():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    g = numeric.central_differences(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-8)  # d/dx x sin x
    assert np.array_equal(x, [[0.3, -1.2], [2.0, 0.7]])  # restored
    some = numeric.central_differences(lambda: float(np.sum(x**3)), x, entries=[3, 0])
    np.testing.assert_allclose(some, [3 * 0.7**2, 3 * 0.3**2], rtol=1e-8)


def test_central_differences_of_a_transposed_array_write_where_loss_reads():
    x = np.arange(6.0).reshape(2, 3).T  # not C-contiguous
    g = numeric.central_differences(lambda: float(np.sum(x * x)), x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8)


def test_directional_difference_is_the_gradient_along_v():
    x = np.array([0.5, -1.0, 2.0])
    v = np.array([1.0, 2.0, -0.5])
    d = numeric.directional_difference(lambda: float(np.sum(np.exp(x))), x, v)
    assert d == pytest.approx(float(np.exp([0.5, -1.0, 2.0]) @ v), rel=1e-8)


@pytest.mark.parametrize(("a", "n", "verdict"), [
    ([1.0, 2.0], [1.0, 2.0], "OK"),
    ([1.0, 2.0], [1.0, 2.01], "WARNING"),  # rel 5.0e-3: within 10 rtol
    ([1.0, 2.0], [1.0, 3.0], "WRONG"),
    ([1e-7, 0.0], [-1e-7, 0.0], "OK"),  # both ~0: atol decides
    ([1.0, np.nan], [1.0, 1.0], "WRONG"),
    ([], [], "SKIPPED"),
])  # fmt: skip
def test_grade_of_known_pairs(a, n, verdict):
    assert numeric.grade(np.array(a), np.array(n), atol=1e-5, rtol=1e-3).verdict == verdict


def test_max_rel_leaves_out_only_entries_both_within_atol_of_zero():
    g = numeric.grade(np.array([1.000005, 1e-9, 3.0]), np.array([1.0, -1e-9, 3.0]), atol=1e-4, rtol=1e-3)
    # entry 0 is within atol of its partner but not ~0: its relative error counts; entry 1 is ~0: left out
    assert g.max_rel == pytest.approx(5e-6 / 1.000005, rel=1e-6)
    assert g.max_abs == pytest.approx(5e-6, rel=1e-6)
    assert g.verdict == "OK"


DELTA = 5e-6  # a backward off by the factor 1 + DELTA: relative error DELTA / (1 + DELTA), below atol


class SlightlyOffDouble(mg.Function):
    """y = 2x, with a backward 2 (1 + DELTA) g."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return 2 * (1 + DELTA) * g


def test_the_checkers_report_the_same_relative_error_for_the_same_pair():
    # gradcheck and check_graph used to report max rel err 0.0 here (entries within atol were left out),
    # while lstm.compare reported 5.0e-06: the same pair, two definitions.
    expected = DELTA / (1 + DELTA)
    x = mg.tensor([0.5, -1.0, 2.0], requires_grad=True, name="x")
    row = mg.check_graph(SlightlyOffDouble.apply(x).sum(), atol=1e-3).rows[0]
    assert (row.verdict, row.max_rel) == ("OK", pytest.approx(expected, rel=1e-4))

    def off(dh, dc, cache):
        dx, dh_prev, dc_prev, grads = reference.lstm_step_backward(dh, dc, cache)
        return (dx * (1 + DELTA), dh_prev * (1 + DELTA), dc_prev * (1 + DELTA),
                {k: v * (1 + DELTA) for k, v in grads.items()})  # fmt: skip

    report = compare.compare_gradients(off, atol=1e-3, check_numeric=False)
    assert report.ok
    whole = [r for r in report.rows if r.gate is None]
    assert [r.max_rel for r in whole] == [pytest.approx(expected, rel=1e-4)] * len(whole)
