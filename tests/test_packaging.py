"""The wheel holds every module of both packages, every file of the LSTM's data and stored runs, and
nothing else.

A module that package discovery misses, or a data file that `package-data` in pyproject.toml does
not match, works from the checkout but is missing once installed; these tests catch both.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("minigrad", "lstm")


def expected_files() -> set[str]:
    """Paths, relative to the checkout, of every file the wheel must carry."""
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    for folder in ("data", "runs1997"):
        files += [p for p in (ROOT / "lstm" / folder).rglob("*") if p.is_file()]
    found = {p.relative_to(ROOT).as_posix() for p in files if "__pycache__" not in p.parts}
    return found | {f"{package}/__init__.py" for package in PACKAGES}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # Build from a copy: building in the checkout would leave build/ behind, whose stale files
    # would end up in later wheels.
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / package, src / package, ignore=ignore)
    out = tmp / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    command = [*pip, "wheel", *offline, "-q", "-w", str(out), str(src)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    (path,) = out.glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(wheel.namelist())
    missing = sorted(expected_files() - names)
    assert not missing, f"missing from the wheel: {missing}"
    strays = sorted(n for n in names if n.split("/")[0] not in PACKAGES and ".dist-info/" not in n)
    assert not strays, f"in the wheel but in neither package: {strays}"


def test_wheel_metadata(wheel):
    dist_info = next(n.split("/")[0] for n in wheel.namelist() if ".dist-info/" in n)
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert "minigrad-lstm = lstm.__main__:main" in entry_points
    metadata = wheel.read(f"{dist_info}/METADATA").decode().splitlines()
    requires = [line for line in metadata if line.startswith("Requires-Dist:")]
    assert any(line.startswith("Requires-Dist: numpy") for line in requires)
    # The oracle is optional: a plain install must never pull in torch.
    torch = [line for line in requires if line.split()[1].startswith("torch")]
    assert torch and all('extra == "oracle"' in line for line in torch), torch
