"""Every `lstm.X` and `mg.X` the README and the notebooks name works after a plain `import lstm` and
`import minigrad as mg`, and that import stays cheap."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `lstm.compare`, `mg.viz.draw`: not part of a longer name, a path (`minigrad/lstm.py`) or an attribute
NAME = re.compile(r"(?<![\w./])((?:lstm|mg)(?:\.[A-Za-z_]\w*)+)")


def _documents() -> dict[str, str]:
    texts = {"README.md": (ROOT / "README.md").read_text()}
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        texts[str(path.relative_to(ROOT))] = "\n".join("".join(cell["source"]) for cell in cells)
    return texts


def _in_a_fresh_interpreter(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_the_scan_finds_the_names_it_should():
    text = "`lstm.compare` and mg.viz.draw(h), not minigrad/lstm.py nor python -m lstm train"
    assert NAME.findall(text) == ["lstm.compare", "mg.viz.draw"]


def test_every_name_the_readme_and_notebooks_use_works_after_a_plain_import():
    names = {}
    for where, text in _documents().items():
        for name in NAME.findall(text):
            names.setdefault(name, where)
    assert {"lstm.compare", "lstm.LSTM", "mg.gradcheck", "mg.viz.draw"} <= set(names)
    # A fresh interpreter: in this one, other tests' imports would have made every submodule an attribute.
    check = (
        "import sys, lstm, minigrad as mg\n"
        "for name in sys.argv[1:]:\n"
        "    obj = {'lstm': lstm, 'mg': mg}[name.split('.')[0]]\n"
        "    for part in name.split('.')[1:]:\n"
        "        if not hasattr(obj, part):\n"
        "            print(name)\n"
        "            break\n"
        "        obj = getattr(obj, part)\n"
    )
    result = _in_a_fresh_interpreter(check, *sorted(names))
    assert result.returncode == 0, result.stderr
    missing = [f"{name} (in {names[name]})" for name in result.stdout.split()]
    assert not missing, "not reachable after `import lstm` / `import minigrad as mg`: " + ", ".join(missing)


def test_importing_lstm_loads_neither_matplotlib_nor_tqdm():
    result = _in_a_fresh_interpreter(
        "import sys, lstm\n"
        "assert lstm.compare and lstm.plots.smooth and lstm.train.train\n"
        "print(sorted(m for m in ('matplotlib', 'tqdm', 'IPython') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
