"""The prescription's heart-rate limit raises HEART_RATE_HIGH in the real core from the rig's
heart-rate sensor, and a limit above the patient's heart rate raises nothing."""

from __future__ import annotations

from engine.control import layout
from engine.control.prescription import Prescription
from tests.control.helpers import LEG_LENGTH_M, Session

HIGH = int(layout.AlarmReason.HEART_RATE_HIGH)


def _raised(session: Session) -> list[int]:
    events = session.all_events()
    return [int(e["code"]) for e in events if int(e["kind"]) == int(layout.EventKind.ALARM_RAISED)]


def test_heart_rate_above_the_prescribed_limit_raises_the_alarm():
    leg = LEG_LENGTH_M["healthy"]
    # The simulated healthy patient rests at about 70 bpm: a 60 bpm limit is exceeded at once.
    session = Session("healthy", rx=Prescription(leg_length_l_m=leg, leg_length_r_m=leg, max_heart_rate_bpm=60.0))
    try:
        state = session.wait_for(lambda s: any(int(a["reason"]) == HIGH and a["active"] for a in s["alarms"]), 30.0)
        assert 60.0 < float(state["heart_rate_bpm"])
        assert HIGH in _raised(session)
        assert int(state["run_state"]) != int(layout.RunState.STOPPING), "a medium alarm: no stop"
    finally:
        session.close()


def test_no_alarm_below_the_limit_or_without_one():
    leg = LEG_LENGTH_M["healthy"]
    for limit in (0.0, 200.0):
        session = Session("healthy", rx=Prescription(leg_length_l_m=leg, leg_length_r_m=leg, max_heart_rate_bpm=limit))
        try:
            session.wait_for(lambda s: float(s["heart_rate_bpm"]) > 0, 30.0)
            session.run_for(1.0)
            assert HIGH not in _raised(session), limit
        finally:
            session.close()
