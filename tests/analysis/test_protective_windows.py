"""Which stretches of a recorded session the gait findings leave out (engine/analysis/session_data.py)."""

from __future__ import annotations

from engine.analysis.session_data import protective_windows


def _event(t_s: float, kind: str, reason: str | None = None) -> dict:
    # as Store.events returns them (rig, parkinsonian seed 1 of bench findings)
    e = {"t_s": t_s, "kind": kind, "side": -1, "code": 24 if reason == "stumble" else 1, "data": {}}
    if reason:
        e["reason"] = reason
    return e


def test_a_balance_loss_response_is_left_out_like_a_stumble_response():
    # engine/control/balance_loss.py answers with the stumble's response and its STUMBLE alarm;
    # the belt crawls at the protective fraction until the alarm is acknowledged
    events = [
        _event(1.0, "alarm_raised", "heart_rate_silent"), _event(6.0, "alarm_acked", "heart_rate_silent"),
        _event(22.246, "balance_loss"), _event(22.246, "alarm_raised", "stumble"),
        _event(27.25, "alarm_acked", "stumble"),
        _event(40.0, "stumble"), _event(40.0, "alarm_raised", "stumble"), _event(45.0, "alarm_acked", "stumble"),
        _event(60.0, "balance_loss"), _event(60.0, "alarm_raised", "stumble"),
    ]
    assert protective_windows(events, 150.0) == [(22.246, 27.25), (40.0, 45.0), (60.0, 150.0)]


def test_an_acknowledged_other_alarm_does_not_end_a_response():
    events = [_event(10.0, "balance_loss"), _event(12.0, "alarm_acked", "heart_rate_silent"),
              _event(15.0, "alarm_acked", "stumble")]
    assert protective_windows(events, 100.0) == [(10.0, 15.0)]
