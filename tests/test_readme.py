"""The README's promises: its example runs and says what it prints; its two set-up commands are the ones
setup.sh and CI implement."""

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_ten_line_example_runs_and_prints_what_it_says():
    code = re.search(r"## Ten-line example\s+```python\n(.*?)```", README, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README example", "exec"), namespace)
    assert out.getvalue().strip() == "(16, 4)"
    dot = namespace["mg"].viz.to_dot(namespace["h_T"], scope="*/t4/forget_gate")
    assert "forget_gate" in dot and "sigmoid" in dot and "input_gate" not in dot


def test_the_quick_start_is_exactly_two_commands_and_ci_runs_the_test_one():
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", README, re.S).group(1)
    assert block.strip().splitlines() == ["bash setup.sh run", "bash setup.sh test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec bash setup.sh test" in ci
