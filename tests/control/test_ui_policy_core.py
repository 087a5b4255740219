"""The graded UI policy in the real core process against the real rig: a late view is slowed,
not stopped; a frozen view stops at its limit; a dead UI stops at once. Every time compared is
the core's own (its events and telemetry), so a busy test machine cannot fake a pass or a fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from engine.control.core import UI_STARVED_MAX_S
from engine.control.layout import AlarmReason, EventKind, RunState
from engine.control.supervisor import LATE_DECEL_MPS2, VIEW_STALE_MAX_S
from tests.control.helpers import Session

pytestmark = pytest.mark.timeout(120)


class Frames:
    """A patient view stand-in: bumps the frame counter every `period_s` (changeable)."""

    def __init__(self, writer, period_s: float = 0.02) -> None:
        self.writer = writer
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.writer.frame()
            self._stop.wait(self.period_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)


@pytest.fixture
def walking():
    s = Session("healthy", seed=3)
    frames = Frames(s.writer)
    try:
        s.writer.set_settings(speed_fraction=0.8, guidance=0.3, assist_as_needed=False)
        s.writer.start()
        s.wait_for(lambda st: st["run_state"] == RunState.RUNNING, 10.0)
        s.wait_for(lambda st: st["belt_speed_mps"] > 0.6, 20.0)
        yield s, frames
    finally:
        frames.stop()
        s.close()


def _ack(s: Session) -> bool:
    """Acknowledge any unacknowledged alarm, as the therapist at the rig does."""
    if any(int(a["reason"]) and not int(a["acked"]) for a in s.state()["alarms"]):
        s.writer.ack_alarms()
    return True


def _alarms(s: Session, reason: int) -> np.ndarray:
    ev = s.all_events()
    return ev[(ev["kind"] == EventKind.ALARM_RAISED) & (ev["code"] == reason)]


def _stopping_t(s: Session) -> float:
    ev = s.all_events()
    stopping = ev[(ev["kind"] == EventKind.RUN_STATE) & (ev["code"] == RunState.STOPPING)]
    return float(stopping["t_s"][0])


def _lateness_s(s: Session, t_s: float) -> float:
    """The core's lateness at the cycle nearest t_s (a stall of the core itself delays it)."""
    tel = s.all_telemetry()
    i = int(np.argmin(np.abs(tel["t_s"] - t_s)))
    return float(tel["lateness_us"][max(0, i - 2): i + 3].max()) * 1e-6


def test_slow_frames_get_the_graded_response_not_a_stop(walking):
    s, frames = walking
    frames.period_s = 0.3  # alive, but a frame every 300 ms
    late = s.wait_for(lambda st: st["belt_speed_cmd_mps"] < 0.0 or len(_alarms(s, AlarmReason.UI_VIEW_LATE)), 10.0)
    onset_t = float(_alarms(s, AlarmReason.UI_VIEW_LATE)["t_s"][0])
    onset_speed = float(late["belt_speed_cmd_mps"])
    s.run_for(3.0)
    stale = _alarms(s, AlarmReason.UI_VIEW_STALE)
    # A stop is allowed only for a view that really was older than the limit (this process
    # starved for over a second on a busy machine); the core records the age it saw.
    assert all(float(a["v2"]) > VIEW_STALE_MAX_S for a in stale), stale
    if not len(stale):
        st = s.state()
        reasons = [AlarmReason(int(a["reason"])).name for a in st["alarms"] if a["reason"]]
        assert st["run_state"] == RunState.RUNNING, reasons
        assert len(_alarms(s, AlarmReason.UI_HEARTBEAT_LOST)) == 0
        # Slowed gently: at most LATE_DECEL_MPS2, to clearly below the speed at the onset.
        tel = s.all_telemetry()
        part = tel[tel["t_s"] >= onset_t]
        dv = -np.diff(part["belt_speed_cmd_mps"].astype(float))
        dt = np.diff(part["t_s"])
        assert np.all(dv <= LATE_DECEL_MPS2 * dt + 1e-5)
        assert float(st["belt_speed_cmd_mps"]) < onset_speed - 0.15
    # Fresh frames again: the alarm condition clears and the belt returns to its speed. A
    # therapist acknowledges alarms as they come: a (false) STUMBLE caps the belt until then
    # (issue 13's; seen under a CPU hog), which is not what this case is about.
    frames.period_s = 0.02
    s.wait_for(lambda st: _ack(s) and (st["run_state"] != RunState.RUNNING
                                      or st["belt_speed_cmd_mps"] > onset_speed - 0.02), 20.0)


def test_a_frozen_view_of_a_live_ui_stops_at_its_limit(walking):
    s, frames = walking
    frames.stop()  # the liveness beat goes on: a view that does not move at all
    s.wait_for(lambda st: st["run_state"] in (RunState.STOPPING, RunState.STOPPED), 10.0)
    stale = _alarms(s, AlarmReason.UI_VIEW_STALE)
    assert len(stale) == 1, s.all_events()
    last_frame_t = float(stale["t_s"][0]) - float(stale["v2"][0])
    stop_t = _stopping_t(s)
    # No obstacle on this route: the limit is the cap, measured on the core's clock.
    assert VIEW_STALE_MAX_S <= stop_t - last_frame_t <= VIEW_STALE_MAX_S + 0.002 + _lateness_s(s, stop_t)
    assert len(_alarms(s, AlarmReason.UI_HEARTBEAT_LOST)) == 0


def test_a_dead_ui_process_stops_the_belt_at_once(walking):
    s, _ = walking
    ui = subprocess.Popen(["sleep", "60"])
    try:
        s.writer.set_ui_pid(ui.pid)
        s.run_for(0.2)
        ui.kill()
        killed_t = time.monotonic()  # after the kill: a delay here only makes the bound looser
        s.wait_for(lambda st: st["run_state"] in (RunState.STOPPING, RunState.STOPPED), 5.0)
    finally:
        ui.kill()
        ui.wait()
    lost = _alarms(s, AlarmReason.UI_HEARTBEAT_LOST)
    assert len(lost) == 1
    stop_t = _stopping_t(s)
    # The liveness beat (this process's thread) goes on: the core saw the process exit (pidfd,
    # polled every 10 cycles) and stopped within 100 ms of it, on its own clock.
    assert stop_t - killed_t <= 0.100 + _lateness_s(s, stop_t)
    assert float(lost["v2"][0]) < 0.098 or stop_t - killed_t < 0.05


_SPIN_UI = "while True: pass"  # a UI stand-in whose main thread always wants the CPU
# A busy loop that holds one CPU for `hold_s`: prints when it runs and, at the end, the time it let
# go (time.monotonic(), the core's clock). Normal priority: a real-time hog would starve the
# kernel's tty worker too, and the devices' bytes with it (a device-silence stop, not this case).
_HOG = (
    "import sys, time\n"
    "print('holding', flush=True)\n"
    "end = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end: pass\n"
    "print(time.monotonic(), flush=True)\n"
)


def _state(pid: int) -> str:
    stat = open(f"/proc/{pid}/stat").read()
    return stat[stat.rindex(")") + 2]


def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _other_cpu(s: Session) -> int:
    """A CPU other than the core's (the core pins itself to one)."""
    core_cpus = os.sched_getaffinity(s.core.pid)
    others = sorted(os.sched_getaffinity(0) - core_cpus)
    if len(core_cpus) != 1 or not others:
        pytest.skip("needs the core pinned to one CPU and another CPU for the UI")
    return others[0]


def _idle_ui(cpu: int) -> subprocess.Popen:
    """The UI stand-in on `cpu` at SCHED_IDLE: any busy process there leaves it runnable and
    (nearly) without the CPU, which is what a UI on a loaded machine goes through."""
    def setup():
        os.sched_setaffinity(0, {cpu})
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    return subprocess.Popen([sys.executable, "-c", _SPIN_UI], preexec_fn=setup)


def _starve(s: Session, ui: subprocess.Popen, cpu: int, hold_s: float) -> tuple[float, float]:
    """Stop the liveness beat while a hog takes the UI's CPU; (last beat, the hog's end). The UI
    goes back to normal scheduling after the hog."""
    hog = subprocess.Popen([sys.executable, "-c", _HOG, str(hold_s)], stdout=subprocess.PIPE, text=True,
                           preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        assert hog.stdout.readline().strip() == "holding"  # the UI has (nearly) no CPU from here on
        last_beat_s = s.heartbeat.stop()
        end_s = float(hog.stdout.readline())
        if ui.poll() is None:
            os.sched_setscheduler(ui.pid, os.SCHED_OTHER, os.sched_param(0))
    finally:
        hog.kill()
        hog.wait()
    return last_beat_s, end_s


def _beat_stops_while_starved(s: Session, sigstop: bool) -> tuple[float, float]:
    """A UI stand-in (SIGSTOPped first, if asked) whose beat stops while a hog takes its CPU;
    waits for the stop; returns (last beat, the hog's end)."""
    cpu = _other_cpu(s)
    ui = _idle_ui(cpu)
    try:
        s.writer.set_ui_pid(ui.pid)
        s.run_for(0.2)
        if sigstop:
            # Not runnable: never excused. (A starved process acts on SIGSTOP only when it next
            # runs, and is runnable until then: wait until it is stopped.)
            ui.send_signal(signal.SIGSTOP)
            assert wait_until(lambda: _state(ui.pid) == "T", 30.0)
        last_beat_s, hog_end_s = _starve(s, ui, cpu, hold_s=0.5)
        # After the hog the UI has its CPU back but never beats again: a live, hung-looking UI.
        s.wait_for(lambda st: st["run_state"] in (RunState.STOPPING, RunState.STOPPED), 10.0)
    finally:
        ui.kill()
        ui.wait()
    return last_beat_s, hog_end_s


def test_a_starved_ui_is_not_taken_for_a_dead_one(walking):
    s, _ = walking
    last_beat_s, hog_end_s = _beat_stops_while_starved(s, sigstop=False)
    lost = _alarms(s, AlarmReason.UI_HEARTBEAT_LOST)
    assert len(lost) == 1
    stop_t = _stopping_t(s)
    # Not stopped while it was starved (a dead or hung UI: 100 ms after the last beat)...
    assert stop_t - last_beat_s > 0.3 and stop_t > hog_end_s - 0.05, (stop_t - last_beat_s, stop_t - hog_end_s)
    # ...and never later than the cap on what starvation excuses.
    assert stop_t - last_beat_s <= UI_STARVED_MAX_S + 0.100 + _lateness_s(s, stop_t)


def test_a_stopped_ui_is_stopped_for_even_while_its_cpu_is_taken(walking):
    s, _ = walking
    last_beat_s, _ = _beat_stops_while_starved(s, sigstop=True)
    stop_t = _stopping_t(s)
    assert len(_alarms(s, AlarmReason.UI_HEARTBEAT_LOST)) == 1
    assert stop_t - last_beat_s <= 0.100 + _lateness_s(s, stop_t)
