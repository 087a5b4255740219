"""The native flip thread (engine/render/timed_flip.py, timed_flip.c), built from its source with
the machine's C compiler: it flips an offscreen frame at the armed time while the main thread
holds the GIL and never calls a flip, and never before that time. In a child process (one
ShowBase per process)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import ctypes, json, sys, time
from pathlib import Path
from engine.render.offscreen import make_offscreen_base
from engine.render.timed_flip import TimedFlip

base = make_offscreen_base((160, 90))
base.graphicsEngine.set_auto_flip(False)
flip = TimedFlip.load(base.graphicsEngine, Path(sys.argv[1]))
keeping_gil = ctypes.PyDLL(None)  # PyDLL: usleep here does not release the GIL
frames = []
for _ in range(5):
    base.graphicsEngine.render_frame()
    drawn = base.win.flip_ready()
    at_s = time.monotonic() + 0.01
    flip.arm(at_s)
    give_up_s = time.monotonic() + 10.0
    while base.win.flip_ready() and time.monotonic() < give_up_s:
        keeping_gil.usleep(1000)
    frames.append({"drawn": drawn, "flipped_meanwhile": not base.win.flip_ready(),
                   "at_s": at_s, "flipped_s": flip.wait_flipped()})
print(json.dumps(frames))
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: the app flips from its main thread (the fallback)")
    path = tmp_path_factory.mktemp("timed_flip") / "libtimed_flip.so"
    subprocess.run(["bash", str(ROOT / "tools" / "build_timed_flip.sh"), str(path)], check=True, cwd=ROOT)
    return path


def test_flips_at_its_time_while_the_main_thread_holds_the_gil(library: Path) -> None:
    out = subprocess.run([sys.executable, "-c", CHILD, str(library)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    frames = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(frames) == 5
    for frame in frames:
        assert frame["drawn"]
        assert frame["flipped_meanwhile"], "not flipped while the main thread kept the GIL"
        assert frame["flipped_s"] is not None
        assert frame["flipped_s"] >= frame["at_s"], "flipped before its time"
