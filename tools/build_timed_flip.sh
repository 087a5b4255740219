#!/usr/bin/env bash
# Build the native flip thread (engine/render/timed_flip.c) where a C compiler exists; without it
# the UI flips frames from its main thread (engine/render/timed_flip.py). Usage: [OUTPUT.so]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-engine/render/libtimed_flip.so}"
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null; then
    echo "bootstrap: no C compiler: headless frames are flipped by the UI's main thread" >&2
    exit 0
fi
"$cc" -O2 -Wall -shared -fPIC -o "$out" engine/render/timed_flip.c -lpthread
