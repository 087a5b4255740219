"""What the virtual rig's lateness leaves out of a simulated device's silence
(engine/control/rig_lateness.py): exactly the rig's late gaps since the device's newest frame and a
tick now overdue, unless the rig is halted; never the silence before a late tick (issue 17: that
rule put a cut link's detection 43 ms after the cut). The rig's real tick clock, written here with
chosen tick times; the halted rig is a real stopped process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from devices.sim.rig_clock import RigClockWriter
from engine.control.rig_lateness import RigLateness
from engine.control.starvation import StarvationWatch

TICK_S = 0.002


def _watching(pid: int) -> StarvationWatch:
    watch = StarvationWatch()
    watch.watch(pid)
    return watch


@pytest.fixture
def clock():
    writer = RigClockWriter()
    try:
        yield writer
    finally:
        writer.close()


def test_a_late_gap_is_left_out_only_of_the_silence_of_devices_heard_before_it(clock):
    t = time.monotonic()
    lateness = RigLateness(os.getpid(), _watching(os.getpid()), max_s=0.5)
    assert lateness.available
    for _ in range(5):
        t += TICK_S
        clock.mark(t)
    lateness.frames_read(tm=1, exo=1, ins=1)
    assert lateness.late_s("exo", t + 0.001, cycle=0) == pytest.approx(0.0, abs=1e-9)
    t += 0.042  # the rig held 40 ms past its next tick
    clock.mark(t)
    assert lateness.late_s("exo", t + 0.001, cycle=1) == pytest.approx(0.040, abs=1e-6)
    # A device heard after the late gap: nothing of it is left out of its silence.
    lateness.frames_read(tm=0, exo=0, ins=1)
    assert lateness.late_s("ins", t + 0.001, cycle=2) == pytest.approx(0.0, abs=1e-9)
    assert lateness.late_s("tm", t + 0.001, cycle=3) == pytest.approx(0.040, abs=1e-6)


def test_wake_up_jitter_is_not_lateness(clock):
    t = time.monotonic()
    lateness = RigLateness(os.getpid(), _watching(os.getpid()), max_s=0.5)
    clock.mark(t)
    lateness.frames_read(tm=0, exo=1, ins=0)
    for gap_s in (0.0029, 0.0011, 0.0028, 0.0012) * 5:  # late and early ticks, none 1 ms late
        t += gap_s
        clock.mark(t)
    assert lateness.late_s("exo", t + 0.0005, cycle=0) == 0.0


def test_a_tick_overdue_now_is_left_out_while_the_rig_runs_but_not_once_it_is_halted(clock):
    t = time.monotonic()
    clock.mark(t)
    # (its own session: nothing sent to this test's process group reaches it; it says when it
    # sleeps, so the stop finds it asleep rather than starting up)
    child = subprocess.Popen([sys.executable, "-c", "import time; print('asleep', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert child.stdout.readline().strip() == b"asleep"
        lateness = RigLateness(os.getpid(), _watching(child.pid), max_s=0.5)
        lateness.frames_read(tm=0, exo=1, ins=0)
        # Asleep (not halted): a tick 10 ms overdue is the rig late by 8 ms beyond its period.
        assert lateness.late_s("exo", t + 0.010, cycle=0) == pytest.approx(0.008, abs=1e-6)
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10.0
        while not _watching(child.pid).halted() and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(f"/proc/{child.pid}/stat", "rb") as f:
            stat = f.read()
        assert lateness.watch.halted(), f"the stopped child does not read as halted: {stat!r}"
        # Stopped: its devices have failed; nothing overdue is excused (asked again 5 cycles on).
        assert lateness.late_s("exo", t + 0.012, cycle=5) == 0.0
        # The cap holds whatever the clock says.
        t += 2.0
        clock.mark(t)
        assert lateness.late_s("exo", t, cycle=6) == pytest.approx(0.5)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)


def test_no_clock_no_lateness():
    lateness = RigLateness(0, _watching(0), max_s=0.5)
    assert not lateness.available
    lateness.frames_read(tm=1, exo=1, ins=1)
    assert lateness.late_s("tm", time.monotonic() + 1.0, cycle=0) == 0.0
