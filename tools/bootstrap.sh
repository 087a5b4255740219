#!/usr/bin/env bash
# Bootstrap everything `make run`, `make test` and `make bench` need on a fresh machine:
# Debian packages (only when missing, and only when we can install them) and the .venv.
# Idempotent and quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
want_apt="${1:-test}"

# OpenGL on Mesa llvmpipe (bench render, optional GL tests) and a virtual X server for window tests.
APT_PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri xvfb"
missing=""
for p in $APT_PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing Debian packages:$missing" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >&2 \
            || echo "bootstrap: could not install$missing; GL benchmarks fall back to software" >&2
    else
        echo "bootstrap: optional Debian packages missing:$missing (not root; continuing)" >&2
    fi
fi

# The clinic server (issue 14): `make test` starts a throwaway PostgreSQL from Debian's initdb and
# pg_ctl (engine/records/pg_local.py), so the tests need the server package, not a running service.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing Debian package: postgresql" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
        # Tests and benches start their own throwaway servers; the packaged cluster is not needed.
        (command -v systemctl >/dev/null && systemctl disable --now postgresql) >/dev/null 2>&1 || true
    else
        echo "bootstrap: PostgreSQL server missing: run as root once (apt-get install postgresql); clinic tests need it" >&2
    fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q -e ".[test,bench]"

# The headless view's native flip thread (issue 17): optional, rebuilt when its source changed.
if [ ! -e engine/render/libtimed_flip.so ] || [ engine/render/timed_flip.c -nt engine/render/libtimed_flip.so ]; then
    # never fatal: without it the UI flips from its main thread (engine/render/timed_flip.py)
    bash tools/build_timed_flip.sh \
        || echo "bootstrap: the native flip thread did not build; headless frames are flipped by the UI's main thread" >&2
fi
