#!/usr/bin/env bash
# Installs the project into ./.venv, then runs the main job or the test suite.
#
#   bash setup.sh run [ARGS...]    train the LSTM; ARGS go to `python -m lstm train`
#   bash setup.sh test [ARGS...]   lint, then run every test; ARGS go to pytest (BROWSER=0: without the
#                                  course in headless Chromium)
#   bash setup.sh lite [--offline] [--out DIR]   build the course as a static site (default dist/lite/)
#   bash setup.sh assign [ARGS...] generate notebooks/ and dist/ from the masters in course/;
#                                  ARGS go to `python -m course assign`
#   bash setup.sh grade [ARGS...]  grade a folder of submitted notebooks; ARGS go to `python -m course grade`
#
# `run` installs what training and the notebooks need (the `notebooks` extra); `test` adds the
# development tools (the `dev` extra: pytest, hypothesis, ruff, ...).
#
# Needs only Python 3.10+ on the PATH (or PYTHON=/path/to/python). On Debian and Ubuntu it installs what is
# missing with apt-get (python3-venv, graphviz), through sudo when not root. The pip install is skipped
# while pyproject.toml is unchanged, so a second run starts at once.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON=${PYTHON:-python3}
VENV=.venv
PY=$VENV/bin/python
STAMP=$VENV/.installed

say() { printf 'setup.sh: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

# Runs a command as root: directly when we are root, else through sudo (never prompting without a terminal).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
    else
        say "not root and no sudo: cannot run '$*'"
        return 1
    fi
}

# The package lists are refreshed once per run; after that fails, later installs give up at once.
apt_lists=
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    [ "$apt_lists" != failed ] || return 1
    if [ -z "$apt_lists" ]; then
        as_root apt-get update -qq || {
            apt_lists=failed
            return 1
        }
        apt_lists=fresh
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# What the browser site needs: its build tools (pinned in lite/requirements.txt) and npm; for the browser
# test also Debian's headless Chromium. Without a browser the test skips, saying why; a build without npm
# fails with a clear message.
ensure_lite_tools() {
    local want
    want=$(sha256sum lite/requirements.txt | cut -d' ' -f1)
    if [ "$(cat "$VENV/.lite-tools" 2>/dev/null)" != "$want" ]; then
        say "installing the browser site's tools (lite/requirements.txt)"
        "$PY" -m pip install --disable-pip-version-check --progress-bar off -q -r lite/requirements.txt
        echo "$want" >"$VENV/.lite-tools"
    fi
    command -v npm >/dev/null 2>&1 || apt_install npm ||
        say "npm is missing and could not be installed: the browser site cannot be built"
}

ensure_browser() {
    command -v chromium-headless-shell >/dev/null 2>&1 && return 0
    say "installing Debian's chromium-headless-shell for the browser test"
    apt_install chromium-headless-shell || say "could not install chromium-headless-shell: the browser test will skip"
}

venv_works() { "$PY" -m pip --version >/dev/null 2>&1; }

ensure_venv() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install Python 3.10 or newer"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        die "$PYTHON is Python $("$PYTHON" -V 2>&1): this project needs 3.10 or newer"
    venv_works && return 0

    rm -rf "$VENV"
    say "creating $VENV with $("$PYTHON" -V 2>&1)"
    "$PYTHON" -m venv "$VENV" && venv_works && return 0

    # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
    rm -rf "$VENV"
    local ver
    ver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    command -v apt-get >/dev/null 2>&1 ||
        die "$PYTHON -m venv failed: install your system's venv package for Python $ver and run again"
    say "venv failed; installing python$ver-venv with apt-get"
    apt_install "python$ver-venv" || apt_install python3-venv ||
        die "could not install python$ver-venv: install it (or your system's venv package) and run again"
    { "$PYTHON" -m venv "$VENV" && venv_works; } ||
        die "$PYTHON -m venv still fails after installing python$ver-venv"
}

# Graphviz's `dot` renders the graph drawings (pdf needs it; svg and png fall back to pip's graphviz-pure).
# Without it everything else works, so a failure only warns.
ensure_dot() {
    command -v dot >/dev/null 2>&1 && return 0
    if command -v apt-get >/dev/null 2>&1; then
        say "installing Graphviz (the dot program) with apt-get"
        apt_install graphviz && return 0
        say "could not install graphviz: drawings use graphviz-pure (no pdf until 'apt-get install graphviz')"
    else
        say "Graphviz's dot program is missing; drawings use graphviz-pure, pdf output needs dot" \
            "(brew install graphviz, dnf install graphviz, pacman -S graphviz, ...)"
    fi
}

# Installs the project with the extra $1 (notebooks or dev). The stamp of an extra records what it was
# installed from; it is redone when pyproject.toml, the interpreter or the checkout's location changed.
# dev includes notebooks, so after `test` a `run` installs nothing.
ensure_installed() {
    local extra=$1 want
    want=$("$PY" -c 'import hashlib, os, sys
h = hashlib.sha256(open("pyproject.toml", "rb").read())
h.update(f"{sys.version}\n{os.getcwd()}".encode())
print(h.hexdigest())')
    if [ -f "$STAMP.$extra" ] && [ "$(cat "$STAMP.$extra")" = "$want" ]; then
        say "dependencies up to date (pyproject.toml unchanged)"
        return 0
    fi
    if [ "$extra" = notebooks ] && [ -f "$STAMP.dev" ] && [ "$(cat "$STAMP.dev")" = "$want" ]; then
        say "dependencies up to date (the test install covers the run)"
        return 0
    fi
    say "installing the project and its $extra dependencies into $VENV (a few minutes the first time)"
    rm -f "$STAMP.$extra"
    "$PY" -m pip install --disable-pip-version-check --progress-bar off -q --upgrade pip
    "$PY" -m pip install --disable-pip-version-check --progress-bar off -q -e ".[$extra]"
    echo "$want" >"$STAMP.$extra"
}

run_tests() {
    export MPLBACKEND=Agg
    # Two test workers on two cores: one BLAS thread each keeps them from fighting over the cores.
    export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    say "ruff check ."
    "$PY" -m ruff check .
    local status=0 select=()
    # The real-browser test (tests/test_browser.py) runs the course in Chromium; BROWSER=0 leaves it out.
    # loadgroup: its tests share one site and one browser, on one worker.
    if [ "${BROWSER:-1}" = 0 ]; then
        say "BROWSER=0: the real-browser test is left out"
        select=(-m "not browser")
    else
        ensure_browser
    fi
    "$PY" -m pytest -n 2 --dist loadgroup "${select[@]}" "$@" || status=$?
    if [ "$status" -eq 5 ]; then
        die "pytest collected no tests: that counts as a failure"
    fi
    return "$status"
}

usage() {
    say "usage: bash setup.sh run|test|assign|grade|lite [ARGS...]"
    exit 2
}

main() {
    [ $# -ge 1 ] || usage
    local cmd=$1
    shift
    case "$cmd" in
        run | test | assign | grade | lite) ;;
        *) usage ;;
    esac
    ensure_venv
    ensure_dot
    case "$cmd" in
        run) ensure_installed notebooks ;;
        test) ensure_installed dev ;;
    esac
    case "$cmd" in
        run) exec "$PY" -m lstm train "$@" ;;
        test)
            ensure_lite_tools
            run_tests "$@"
            ;;
        assign | grade) exec "$PY" -m course "$cmd" "$@" ;;
        lite)
            ensure_lite_tools
            exec "$PY" lite/build.py "$@"
            ;;
    esac
}

main "$@"
