"""The tests' one rule for a live run that the machine's load stopped (tests/control/helpers.py):
what counts as a load stop, walking again at most three times, and a real session stopped so."""

from __future__ import annotations

import numpy as np
import pytest

from engine.control import layout
from engine.control.layout import AlarmReason, RunState
from tests.control.helpers import (
    LOAD_STOP_TRIES,
    LoadStop,
    Session,
    load_stop_alarms,
    walk_again_on_load_stop,
)

pytestmark = pytest.mark.timeout(120)


def _state(run_state: RunState, *raised: AlarmReason) -> np.ndarray:
    state = np.zeros((), dtype=layout.STATE_DTYPE)
    state["run_state"] = run_state
    for slot, reason in enumerate(raised):
        state["alarms"][slot]["reason"] = reason
    return state


def test_a_load_stop_is_a_stop_with_load_alarms_and_no_other_stop_reason():
    assert load_stop_alarms(_state(RunState.STOPPING, AlarmReason.INSOLES_SILENT)) == ["INSOLES_SILENT"]
    assert load_stop_alarms(_state(RunState.STOPPED, AlarmReason.EXO_SILENT, AlarmReason.LOOP_OVERRUNS)) == [
        "EXO_SILENT", "LOOP_OVERRUNS"]
    # A low alarm beside it changes nothing; a stop reason that no load causes does.
    assert load_stop_alarms(_state(RunState.STOPPED, AlarmReason.HEART_RATE_HIGH, AlarmReason.UI_HEARTBEAT_LOST)) \
        == ["UI_HEARTBEAT_LOST"]
    assert load_stop_alarms(_state(RunState.STOPPED, AlarmReason.TREADMILL_SILENT, AlarmReason.HARDWARE_ESTOP)) == []
    assert load_stop_alarms(_state(RunState.STOPPED, AlarmReason.EXO_SILENT, AlarmReason.EXO_FAULT)) == []
    assert load_stop_alarms(_state(RunState.STOPPED, AlarmReason.STOP_REQUEST)) == []
    # A frozen sensor is load only beside silence (no frames for 150 ms look frozen).
    assert load_stop_alarms(_state(RunState.STOPPED, AlarmReason.SENSOR_FROZEN)) == []
    assert load_stop_alarms(_state(RunState.STOPPED, AlarmReason.EXO_SILENT, AlarmReason.SENSOR_FROZEN)) == [
        "EXO_SILENT", "SENSOR_FROZEN"]
    # A session still walking (an alarm raised and cleared, no stop) is not stopped at all.
    assert load_stop_alarms(_state(RunState.RUNNING, AlarmReason.INSOLES_SILENT)) == []


def test_walking_again_ends_at_the_first_run_without_a_load_stop_and_fails_after_three():
    runs = []

    def stopped_twice() -> str:
        runs.append(1)
        if len(runs) < 3:
            raise LoadStop(["INSOLES_SILENT"])
        return "walked"

    assert walk_again_on_load_stop(stopped_twice) == "walked" and len(runs) == 3
    runs.clear()

    def always_stopped() -> None:
        runs.append(1)
        raise LoadStop(["TREADMILL_SILENT"])

    with pytest.raises(AssertionError, match="in a row stopped on a load alarm"):
        walk_again_on_load_stop(always_stopped)
    assert len(runs) == LOAD_STOP_TRIES

    def fails_for_its_own_reason() -> None:  # anything else is the test's own failure: no retry
        runs.append(1)
        raise AssertionError("step length off")

    runs.clear()
    with pytest.raises(AssertionError, match="step length off"):
        walk_again_on_load_stop(fails_for_its_own_reason)
    assert len(runs) == 1


def test_a_live_session_the_machine_stops_raises_load_stop():
    # The rig held 0.7 s (past the 0.5 s for which a late rig is excused): every device silent,
    # the core stops the belt, and wait_for says so at once instead of timing out.
    s = Session("healthy", seed=2, load_stop_raises=True)
    try:
        s.writer.set_settings(speed_fraction=0.5, guidance=0.3, assist_as_needed=False)
        s.writer.start()
        s.wait_for(lambda st: st["belt_speed_mps"] > 0.3, 10.0)
        s.rig.lag(700.0)
        with pytest.raises(LoadStop) as stop:
            s.wait_for(lambda st: st["steps"] > 10_000, 20.0)
        assert {"TREADMILL_SILENT", "EXO_SILENT"} & set(stop.value.alarms)
    finally:
        s.close()
