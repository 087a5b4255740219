"""The virtual rig's tick clock (devices/sim/rig_clock.py): what the core reads is what the rig
wrote, the file carries the project's segment name, and a killed rig's file is swept."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

from devices.sim.rig_clock import RigClockReader, RigClockWriter
from engine.control.shm import sweep_stale_segments


def test_the_core_reads_the_tick_the_rig_wrote_and_close_removes_the_file():
    writer = RigClockWriter()
    try:
        assert os.path.basename(writer.path).startswith(f"stepsync-{os.getpid()}-")
        reader = RigClockReader(os.getpid())
        assert reader.available
        writer.mark(1234.5678)
        assert abs(reader.last_tick_s() - 1234.5678) < 1e-6
        writer.mark(1234.6)
        assert abs(reader.last_tick_s() - 1234.6) < 1e-6
        reader.close()
    finally:
        writer.close()
    assert not os.path.exists(writer.path)
    # No clock (real devices, pid 0, or a rig without one): NaN, which is never "late".
    assert math.isnan(RigClockReader(0).last_tick_s())


def test_a_killed_rigs_clock_is_swept_at_the_next_start():
    code = ("import sys, time; from devices.sim.rig_clock import RigClockWriter; "
            "w = RigClockWriter(); print(w.path, flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    path = child.stdout.readline().strip()
    assert os.path.exists(path)
    assert os.path.basename(path) not in sweep_stale_segments()  # its rig is alive: kept
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    deadline = time.monotonic() + 5.0
    while os.path.exists(path) and time.monotonic() < deadline:
        sweep_stale_segments()
        time.sleep(0.05)
    assert not os.path.exists(path)
