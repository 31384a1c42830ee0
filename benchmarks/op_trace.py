"""What a student reads to follow one op end to end: ``z = x * y; z.sum().backward()``.

Runs those two lines under ``sys.settrace`` with default settings and lists every minigrad function that
ran (first call first), its file and its length in source lines (docstring included), then the total.

    .venv/bin/python -m benchmarks.op_trace
"""

from __future__ import annotations

import inspect
import os
import sys

import numpy as np

import minigrad as mg

PACKAGE = os.path.dirname(os.path.abspath(mg.__file__))
# Comprehensions have code objects of their own, but their lines are already counted in the function that
# holds them.
_INLINE = {"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"}


def trace_one_op() -> list[tuple[str, str, int]]:
    """``(function, file relative to the package, source lines)`` for each minigrad function that ran."""
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    y = mg.tensor(np.full((2, 3), 2.0), requires_grad=True)
    seen: dict = {}

    def tracer(frame, event, arg):
        code = frame.f_code
        inside = code.co_filename.startswith(PACKAGE) and code.co_name not in _INLINE
        if event == "call" and inside and code not in seen:
            seen[code] = None
        return None  # no line events: only calls are counted

    sys.settrace(tracer)
    try:
        z = x * y
        z.sum().backward()
    finally:
        sys.settrace(None)
    rows = []
    for code in seen:
        lines, _ = inspect.getsourcelines(code)
        rows.append((code.co_qualname, os.path.relpath(code.co_filename, PACKAGE), len(lines)))
    return rows


def main() -> None:
    rows = trace_one_op()
    width = max(len(name) for name, _, _ in rows)
    for name, path, n in rows:
        print(f"{name:<{width}}  {path:<22} {n:>4}")
    files = len({path for _, path, _ in rows})
    total = sum(n for _, _, n in rows)
    longest = max(rows, key=lambda r: r[2])
    print(f"{len(rows)} functions in {files} files, {total} lines; longest {longest[0]} ({longest[2]} lines)")


if __name__ == "__main__":
    main()
