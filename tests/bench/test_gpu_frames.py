"""The GPU check script runs (quick mode, Mesa llvmpipe through EGL where this machine has it).
It measures a real GPU's frame time; here only that it works is checked, never its speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EGL_PROBE = """
from panda3d.core import load_prc_file_data
load_prc_file_data('', 'window-type offscreen\\nload-display p3headlessgl\\naudio-library-name null\\nwin-size 32 32')
from direct.showbase.ShowBase import ShowBase
base = ShowBase(windowType='offscreen')
print('EGL', base.win is not None)
"""


@pytest.mark.timeout(240)
def test_gpu_frames_quick_draws_every_scene_it_names_in_stereo():
    probe = subprocess.run([sys.executable, "-c", EGL_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if "EGL True" not in probe.stdout:
        pytest.skip("no EGL OpenGL here: " + probe.stderr[-300:])
    from bench.gpu_frames import GOAL_MS, run, shipped_scenes

    figures = run(quick=True)
    scenes = shipped_scenes()[:2]
    assert figures["stereo"] is True and figures["goal_ms"] == GOAL_MS
    for scene in scenes:
        assert figures[f"{scene}_p99_ms"] >= figures[f"{scene}_p50_ms"] > 0.0
    assert figures["worst_p99_ms"] == max(figures[f"{s}_p99_ms"] for s in scenes)
    assert figures["goal_met"] is None  # a quick run at a quarter of the size judges nothing
    assert figures["renderer"]
