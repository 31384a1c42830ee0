"""The tables of docs/errors.md, read by the tests that run every row's example."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def table_rows(prefix: str) -> dict:
    """{row id: (error class name, message)} of the rows whose id is ``prefix`` and a number (E1, C3, ...)."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(rf"^\| ({prefix}\d+) \|.*?\| `(\w+)` \| `(.*?)` \|", line)
        if m:
            rows[m[1]] = (m[2], m[3].replace("\\|", "|"))
    return rows
