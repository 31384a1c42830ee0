"""The drawings stored in the notebooks show without running or trusting them: each has a PNG beside its
SVG (JupyterLab, VS Code and GitHub show an untrusted notebook's PNG, not its SVG)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_stored_drawing_has_a_png_beside_its_svg(path: Path):
    nb = json.loads(path.read_text())
    for k, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/plain", ""))
            if "image/svg+xml" in data or text.startswith("<minigrad drawing"):
                assert "image/png" in data, f"{path.name} cell {k}: a drawing stored without its PNG"
                assert base64.b64decode("".join(data["image/png"]))[:4] == b"\x89PNG"
