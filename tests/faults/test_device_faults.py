"""Device faults while walking, on the real rig, core and recorder: link cut, corrupted bytes,
a stalled device, a frozen sensor, the hardware e-stop."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from engine.control.layout import ALARM_TEXT, AlarmReason, Priority, RunState
from engine.render.alarms import active_alarms
from tests.faults.harness import core_stall_ms, first_event, records_lost

pytestmark = pytest.mark.timeout(90)

SILENCE_LIMIT_MS = 20.0 + 2.0  # device_silence_s plus the cycle that sees it (and one of jitter)
# The most a detection may leave out of a link's silence (the host not reading, the virtual rig not
# sending): the devices' own watchdog period, as long as a device tolerates a silent host.
LEFT_OUT_MAX_MS = 100.0
# The alarm event carries it as float32 (layout.EVENT_DTYPE's v2): the cap itself, 0.1 s, reads
# back as 100.0000015 ms (a fresh-clone run failed on exactly that, the core at its cap).
LEFT_OUT_MAX_READ_MS = float(np.float32(LEFT_OUT_MAX_MS / 1000.0)) * 1000.0


def _assert_in_time(detection_ms: float, limit_ms: float, stall_ms: float, alarm: dict) -> float:
    """The alarm came within limit_ms (+5 ms of slack) of running time after the fault: the core's
    own wake-up lateness and what the alarm says it left out of the silence (the host not
    reading, the virtual rig not sending; docs/control.md), never more than the devices' own
    watchdog period. Returns the time left out (ms)."""
    left_out_ms = alarm["v2"] * 1000.0
    assert 0.0 <= left_out_ms <= LEFT_OUT_MAX_READ_MS, left_out_ms
    assert detection_ms <= limit_ms + 5.0 + stall_ms + left_out_ms, (detection_ms, stall_ms, left_out_ms)
    return left_out_ms


def _still_for(stack, seconds: float) -> float:
    """Highest belt speed the rig reports over this time (device-side truth)."""
    top = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        top = max(top, abs(float(stack.rig.status()["treadmill"]["belt_speed_mps"])))
        time.sleep(0.02)
    return top


@pytest.mark.parametrize("device, reason, bit", [("treadmill", AlarmReason.TREADMILL_SILENT, 1),
                                                 ("exoskeleton", AlarmReason.EXO_SILENT, 2)])
def test_link_cut_while_walking_stops_alarms_records_and_waits_for_the_therapist(stack, reliability, device,
                                                                                  reason, bit):
    s = stack
    s.walk(0.6)
    s.rig.inject("cut", device)
    state = s.wait_for(lambda st: st["run_state"] in (RunState.STOPPING, RunState.STOPPED), 2.0)
    shown = active_alarms(state)
    assert shown and shown[0].priority == Priority.HIGH
    assert ALARM_TEXT[reason] in [a.text for a in shown]
    still_s = s.wait_belt_still()
    # Without treadmill frames the core cannot see the belt stand: it waits SILENT_STOP_S (4 s).
    s.wait_for(lambda st: st["run_state"] == RunState.STOPPED, 6.0)
    cut_s = s.injection_time_s("cut")

    # While the link is down nothing moves, whatever the therapist presses.
    s.controller.ack_alarms(s.state())
    s.controller.rearm()
    s.controller.start()
    assert _still_for(s, 0.8) < 0.02
    assert s.state()["run_state"] != RunState.RUNNING
    # Link back: still nothing until the therapist acknowledges and re-arms.
    s.rig.inject("restore", device)
    s.wait_for(lambda st: st["device_ok"] & bit, 3.0)
    s.controller.start()
    assert _still_for(s, 0.5) < 0.02
    s.controller.ack_alarms(s.state())
    s.controller.rearm()
    s.wait_for(lambda st: st["run_state"] == RunState.IDLE, 3.0)
    s.walk(0.5, min_speed_mps=0.3)

    stats = s.stop_recorder()
    telemetry, events = s.records()
    alarm = first_event(events, "alarm_raised", int(reason), after_s=cut_s)
    assert alarm is not None and alarm["priority"] == "high"
    detection_ms = (alarm["t_s"] - cut_s) * 1000.0
    stall_ms = core_stall_ms(telemetry, cut_s, alarm["t_s"])
    # The 20 ms count time the host was awake to read and the virtual rig to send: the core
    # says in the alarm how much it left out (its stalls, its reader's blind time, the rig's
    # lateness; docs/control.md), never more than a blink of the host.
    _assert_in_time(detection_ms, SILENCE_LIMIT_MS, stall_ms, alarm)
    # Recording went on through the stop and the restart, without a gap.
    assert telemetry["t_s"][-1] > still_s + 1.0
    lost = records_lost(telemetry, stats)
    assert lost == 0
    reliability.record(f"{device} link cut while walking", "detect <= 20 ms; controlled stop; restart only after ack + re-arm",
                       detection_ms, (still_s - cut_s) * 1000.0, lost,
                       "belt stayed still through start/re-arm presses while cut")


@pytest.mark.parametrize("fraction", [0.01, 0.10])
def test_corrupted_bytes_are_rejected_and_counted_and_control_follows_the_rule(stack, reliability, fraction):
    s = stack
    s.walk(0.6)
    before = int(s.state()["frames_bad"])
    s.rig.inject("corrupt", "all", fraction=fraction)
    end = time.monotonic() + 2.5
    saw_link_alarm = False
    while time.monotonic() < end:
        st = s.state()
        saw_link_alarm |= AlarmReason.LINK_ERRORS in [int(a["reason"]) for a in st["alarms"]]
        time.sleep(0.01)
    s.rig.inject("corrupt", "all", fraction=0.0)
    assert s.core.is_alive()
    st = s.state()
    bad = int(st["frames_bad"]) - before
    assert bad > 50, bad  # rejected frames are counted
    assert saw_link_alarm, "more than 50 bad frames a second must raise LINK_ERRORS"
    stopped = int(st["run_state"]) != RunState.RUNNING
    stats = s.stop_recorder()
    telemetry, events = s.records()
    raised = {e["reason"] for e in events if e["kind"] == "alarm_raised"}
    if stopped:
        # docs/control.md: a device silent for 20 ms (no valid frame) stops; bad frames alone do not.
        # (the insoles too: 1 % of their bytes corrupted spoils many of their long frames)
        assert raised & {"treadmill_silent", "exo_silent", "insoles_silent", "treadmill_watchdog", "exo_watchdog"}, raised
    # Nothing corrupted got through: every stored value is physical.
    assert np.all(np.isfinite(telemetry["hip_rad"])) and np.all(np.abs(telemetry["hip_rad"]) < 2.0)
    assert np.all(np.abs(telemetry["knee_rad"]) < 2.5)
    assert np.all((telemetry["belt_speed_mps"] > -0.05) & (telemetry["belt_speed_mps"] < s.rx.max_speed_mps + 0.05))
    lost = records_lost(telemetry, stats)
    assert lost == 0
    reliability.record(f"{fraction:.0%} corrupted bytes on every link", "no crash; bad frames counted; stop only by the silence rule",
                       None, None, lost,
                       f"{bad} bad frames in 2.5 s; {'stopped: ' + ', '.join(sorted(raised)) if stopped else 'kept walking'}")


@pytest.mark.parametrize("fault, reason, limit_ms", [("stall", AlarmReason.EXO_SILENT, SILENCE_LIMIT_MS),
                                                     ("freeze", AlarmReason.SENSOR_FROZEN, 150.0 + 4.0)])
def test_stalled_device_or_frozen_sensor_is_detected_in_time_and_stops(stack, reliability, fault, reason, limit_ms):
    s = stack
    s.walk(0.6)
    s.rig.inject(fault, "exoskeleton")
    s.wait_for(lambda st: st["run_state"] in (RunState.STOPPING, RunState.STOPPED), 2.0)
    still_s = s.wait_belt_still()
    at_s = s.injection_time_s(fault)
    state = s.wait_for(lambda st: st["run_state"] == RunState.STOPPED, 3.0)
    assert reason in [int(a["reason"]) for a in state["alarms"]]
    stats = s.stop_recorder()
    telemetry, events = s.records()
    alarm = first_event(events, "alarm_raised", int(reason), after_s=at_s)
    assert alarm is not None and alarm["priority"] == "high"
    detection_ms = (alarm["t_s"] - at_s) * 1000.0
    stall_ms = core_stall_ms(telemetry, at_s, alarm["t_s"])  # a core the host stalled reacts that late
    if fault == "freeze":
        # The rig freezes the values it sends from its next frame; the core may have seen that
        # value already up to one exoskeleton frame (2 ms) before: allow that.
        assert detection_ms <= limit_ms + stall_ms, (detection_ms, stall_ms)
    else:
        # Silence counts time the host could receive and the virtual rig send (as for a cut
        # link): on this VM a quiet run left out 16.5 ms (reader passes begun late, the rig 6 ms
        # late), said in the alarm and never more than the devices' watchdog period.
        _assert_in_time(detection_ms, limit_ms, stall_ms, alarm)
    lost = records_lost(telemetry, stats)
    assert lost == 0
    reliability.record(f"exoskeleton {'stalls' if fault == 'stall' else 'sensor frozen'}",
                       "detect <= 20 ms" if fault == "stall" else "detect <= 150 ms",
                       detection_ms, (still_s - at_s) * 1000.0, lost)


@pytest.mark.parametrize("how", ["SIGSTOP", "SIGKILL"])
def test_rig_frozen_or_killed_while_walking_is_caught_within_the_silence_limit(stack, reliability, how):
    """Every device falls silent at once (a frozen device process, or its ports closed): the
    core's port reader never waits on the kernel for bytes that were never sent, so only the
    host's own stalls are left out and the stop follows 20 ms of running time after the fault."""
    s = stack
    s.walk(0.6)
    pid = s.rig.pid
    fault_s = time.monotonic()  # CLOCK_MONOTONIC, the clock the core stamps its events with
    os.kill(pid, signal.SIGSTOP if how == "SIGSTOP" else signal.SIGKILL)
    try:
        s.wait_for(lambda st: st["run_state"] in (RunState.STOPPING, RunState.STOPPED), 2.0)
    finally:
        if how == "SIGSTOP":
            os.kill(pid, signal.SIGKILL)  # a frozen rig is not trusted to come back
    stats = s.stop_recorder()
    telemetry, events = s.records()
    raised = [first_event(events, "alarm_raised", int(r), after_s=fault_s)
              for r in (AlarmReason.TREADMILL_SILENT, AlarmReason.EXO_SILENT)]
    assert all(a is not None and a["priority"] == "high" for a in raised), raised
    first = min(raised, key=lambda a: a["t_s"])
    first_s = first["t_s"]
    detection_ms = (first_s - fault_s) * 1000.0
    stall_ms = core_stall_ms(telemetry, fault_s, first_s)
    # As for a cut link: the 20 ms count time the core and its port reader were running (CI,
    # loaded: a stall of the core 14.9 ms after the last frame restarted them, and on this VM
    # reader passes begin up to 17 ms late); the alarm says how much was left out, never more
    # than the devices' own watchdog period.
    _assert_in_time(detection_ms, SILENCE_LIMIT_MS, stall_ms, first)
    assert float(telemetry["belt_speed_cmd_mps"][-1]) < float(telemetry["belt_speed_cmd_mps"].max())
    lost = records_lost(telemetry, stats)
    assert lost == 0
    reliability.record(f"rig {how} while walking", "detect <= 20 ms; controlled stop", detection_ms, None, lost)


def test_hardware_estop_shows_pauses_and_nothing_restarts_by_itself(stack, reliability):
    s = stack
    s.walk(0.6)
    s.rig.inject("estop", "treadmill", pressed=True)
    state = s.wait_for(lambda st: AlarmReason.HARDWARE_ESTOP in [int(a["reason"]) for a in st["alarms"]], 2.0)
    shown = active_alarms(state)
    assert shown[0].text == ALARM_TEXT[AlarmReason.HARDWARE_ESTOP] and shown[0].priority == Priority.HIGH
    assert state["estop"] or s.wait_for(lambda st: st["estop"], 1.0)["estop"]
    still_s = s.wait_belt_still()
    at_s = s.injection_time_s("estop")
    s.wait_for(lambda st: st["run_state"] == RunState.STOPPED, 3.0)
    # Released: nothing restarts by itself, and a start without re-arm does nothing.
    s.rig.inject("estop", "treadmill", pressed=False)
    assert _still_for(s, 0.6) < 0.02
    s.controller.start()
    assert _still_for(s, 0.6) < 0.02
    assert s.state()["run_state"] == RunState.STOPPED
    stats = s.stop_recorder()
    telemetry, events = s.records()
    alarm = first_event(events, "alarm_raised", int(AlarmReason.HARDWARE_ESTOP), after_s=at_s)
    assert alarm is not None
    lost = records_lost(telemetry, stats)
    assert lost == 0
    reliability.record("hardware e-stop pressed on the treadmill", "shown (high); stopped; no restart by itself",
                       (alarm["t_s"] - at_s) * 1000.0, (still_s - at_s) * 1000.0, lost,
                       "firmware brakes at its e-stop deceleration")
