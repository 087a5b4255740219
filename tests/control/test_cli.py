"""`python main.py core` as a user runs it: real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(90)


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "main.py", "core", *args], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )


def test_core_cli_walks_the_rig_and_stops_cleanly_on_ctrl_c():
    proc = _start("--rig", "healthy", "--speed-fraction", "0.6")
    try:
        deadline = time.monotonic() + 40.0
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "RUNNING" in line and "belt=0.7" in line:
                break
        assert any("RUNNING" in line for line in lines), lines
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "control core stopped after" in err  # the core process logged its clean end
    assert not [p for p in Path("/dev/shm").glob(f"stepsync-{proc.pid}-*")]  # channels removed


def test_core_cli_duration_and_usage_errors():
    proc = _start("--rig", "healthy", "--duration-s", "2", "--rate-hz", "500", "--priority", "0")
    out, err = proc.communicate(timeout=60.0)
    assert proc.returncode == 0, err
    assert "steps=" in out and "rt=no" in out
    bad = subprocess.run([sys.executable, "main.py", "core", "--treadmill", "/dev/null"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2
    usage = subprocess.run([sys.executable, "main.py", "core"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "--rig" in usage.stderr
