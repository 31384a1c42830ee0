"""The core reads in one sitting: following ``z = x * y; z.sum().backward()`` end to end, with default
settings, runs few minigrad functions, each short (measured by benchmarks/op_trace.py with sys.settrace).

The guards and fast paths live in modules of their own; a change that pulls them back into the path of
every op, or grows one function of the core past a screen, fails here."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "op_trace.py"
MAX_TOTAL = 148  # source lines of every function that runs, docstrings included (355 before the split)
MAX_FUNCTION = 40


@pytest.fixture(scope="module")
def rows():
    spec = importlib.util.spec_from_file_location("op_trace", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.trace_one_op()


def _table(rows) -> str:
    return "\n".join(f"{name} ({path}): {n} lines" for name, path, n in rows)


def test_the_trace_sees_the_op_the_recording_and_the_walk(rows):
    names = {name for name, _, _ in rows}
    for expected in ("Function.apply", "new_node", "Mul.forward", "Mul.backward", "Sum.backward", "Walk.run",
                     "Walk.apply_node", "Walk.deliver", "Walk.accumulate"):
        assert expected in names, _table(rows)
    assert all(n > 0 for _, _, n in rows)


def test_one_op_end_to_end_is_short(rows):
    total = sum(n for _, _, n in rows)
    assert total <= MAX_TOTAL, f"{total} lines run for one op (at most {MAX_TOTAL}):\n{_table(rows)}"


def test_no_function_on_the_path_is_longer_than_a_screen(rows):
    long = [(name, path, n) for name, path, n in rows if n > MAX_FUNCTION]
    assert not long, f"longer than {MAX_FUNCTION} lines:\n{_table(long)}"


def test_no_guard_runs_by_default(rows):
    # The in-place check, anomaly mode, error translation and mg.grad's walk run only when needed.
    files = {path for _, path, _ in rows}
    assert not files & {"versions.py", "anomaly.py", "translate.py", "saved.py", "walks.py"}, _table(rows)
