"""Honest session summaries: aggregates (median and IQR per leg, counts), paretic / non-paretic
legs, stride-time CV over steady strides only, no risk class from a belt set-point."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.control.layout import EVENT_DTYPE, TELEMETRY_DTYPE, EventKind, RunState
from engine.records import metrics as gm
from engine.records.store import Store
from engine.records.summary import finalize_summary
from tests.records.synthetic import write_session


def test_summary_is_aggregates_not_the_last_stride(db_path):
    with Store(db_path) as store:
        sid = write_session(store, 120.0, seed=5, stall=None)  # demo-hemiparetic: right leg affected
        steps = store.steps(sid)
        right = [s["step_length_m"] for s in steps if s["side"] == 1]
        # One last, odd right step (a stumble at the stop): the last-stride value a live panel shows.
        last = max(s["cycle"] for s in steps) + 10
        ev = np.zeros(1, dtype=EVENT_DTYPE)
        ev["cycle"], ev["t_s"], ev["kind"], ev["side"] = last, steps[-1]["t_s"] + 0.01, int(EventKind.STEP), 1
        ev["v1"], ev["v2"], ev["v3"] = 0.05, 0.9, 0.0
        store.add_core_events(sid, ev)
        summary = finalize_summary(store, sid, {"gait_speed_mps": 0.25, "symmetry_index_pct": 40.6, "score": 7})
    assert "gait_speed_mps" not in summary and "symmetry_index_pct" not in summary and summary["score"] == 7
    gait = summary["gait"]
    assert gait["paretic"] == "right" and gait["non_paretic"] == "left"
    leg = gait["legs"]["right"]
    assert leg["role"] == "paretic" and gait["legs"]["left"]["role"] == "non-paretic"
    assert leg["steps"] == len(right) + 1
    q1, q3 = np.percentile(right + [0.05], [25, 75])
    assert leg["step_length_median_m"] == pytest.approx(float(np.median(right + [0.05])))
    assert leg["step_length_iqr_m"] == pytest.approx(float(q3 - q1))
    assert leg["step_length_median_m"] > 0.2, "a median, not the last step"
    assert gait["steps"] == len(steps) + 1
    assert gait["speed_class"] is None and "no self-selected speed" in gait["speed_class_note"]
    for value in gait.values():
        assert not (isinstance(value, float) and math.isnan(value)), "JSON-safe: null, not NaN"


def _steady_fixture():
    """60 s at 1 kHz: belt commanded 1.0 m/s, a slow-down 20-25 s (a yield), an obstacle at 40 s.
    Left strides every 1.10 s +/- 1 % (alternating), 1.5 s in the slow-down."""
    n = 60_000
    tel = np.zeros(n, dtype=TELEMETRY_DTYPE)
    tel["t_s"] = 100.0 + np.arange(n) / 1000.0
    tel["cycle"] = np.arange(n) + 1
    t = tel["t_s"] - 100.0
    tel["run_state"] = int(RunState.RUNNING)
    cmd = np.where((t >= 20.0) & (t < 25.0), 0.4, 1.0)
    tel["belt_speed_cmd_mps"] = cmd
    tel["belt_speed_mps"] = cmd
    strides, at, i = [], 100.5, 0
    while at < 159.0:
        slow = 120.0 <= at < 125.0
        duration = 1.5 if slow else 1.1 * (1.01 if i % 2 else 0.99)
        at += duration
        strides.append({"cycle": int((at - 100.0) * 1000), "t_s": at, "side": 0, "stride_time_s": duration,
                        "stance_fraction": 0.6, "stride_length_m": 1.1})
        i += 1
    events = [{"kind": "obstacle_outcome", "t_s": 140.0, "outcome": "cleared"}]
    return tel, strides, events


def test_steady_strides_rule():
    tel, strides, events = _steady_fixture()
    steady = gm.steady_strides(strides, tel, events)
    for stride, ok in zip(strides, steady, strict=True):
        start, end = stride["t_s"] - stride["stride_time_s"] - 100.0, stride["t_s"] - 100.0
        in_warm_up = start < gm.WARM_UP_S + 0.001
        in_yield = start < 25.0 and end > 20.0
        near_obstacle = start <= 40.0 <= end + stride["stride_time_s"]
        assert ok == (not (in_warm_up or in_yield or near_obstacle)), (start, end)
    m = gm.session_metrics(tel, [], strides, events)
    # Steady strides alternate 1.089 / 1.111 s: CV about 1.0 %; with the slow-down strides ~10 %.
    assert m["stride_cv_l_pct"] == pytest.approx(1.0, abs=0.1)
    assert gm._cv_pct([s["stride_time_s"] for s in strides]) > 5.0


def test_a_recorded_steady_flag_wins():
    tel, strides, events = _steady_fixture()
    strides[5]["steady"] = 1  # the core said so (inside the warm-up by the recorded rule)
    strides[30]["steady"] = 0
    steady = gm.steady_strides(strides, tel, events)
    assert steady[5] is True and steady[30] is False


def test_speed_class_only_from_a_self_selected_speed(db_path):
    with Store(db_path) as store:
        sid = write_session(store, 30.0, seed=2, stall=None)
        before = finalize_summary(store, sid)["gait"]
        t = float(store.telemetry(sid)["t_s"][-1])
        store.add_event(sid, "self_selected_speed", t, speed_mps=0.55)
        after = finalize_summary(store, sid)["gait"]
    assert before["speed_class"] is None and before["belt_speed_mean_mps"] > 0
    assert after["self_selected_speed_mps"] == 0.55 and after["speed_class"] == "limited community"


def test_the_cores_steady_flag_is_stored_and_used(db_path):
    """STRIDE code bit 1 (the core's steady-state judgement) survives the records and decides."""
    from engine.control.layout import STRIDE_STEADY

    with Store(db_path) as store:
        sid = write_session(store, 60.0, seed=3, stall=None)
        strides = store.strides(sid)
        assert strides  # the simulated clip carries the real core's own steady judgement
        rule = gm.steady_strides(strides, store.telemetry(sid), store.events(sid))
        # A core that judged every third stride steady.
        ev = np.zeros(len(strides), dtype=EVENT_DTYPE)
        for i, s in enumerate(strides):
            ev[i] = (s["cycle"], s["t_s"], int(EventKind.STRIDE), s["side"], STRIDE_STEADY if i % 3 == 0 else 0,
                     s["stride_time_s"], s["stance_fraction"], s["stride_length_m"])
        sid2 = store.start_session("demo-hemiparetic", "sidewalk-test", {}, {})
        store.add_telemetry_chunk(sid2, store.telemetry(sid))
        store.add_core_events(sid2, ev)
        flagged = store.strides(sid2)
        assert [s["steady"] for s in flagged] == [i % 3 == 0 for i in range(len(strides))]
        assert [s["flags"] for s in flagged][:3] == [1, 0, 0]
        used = gm.steady_strides(flagged, store.telemetry(sid2), [])
    assert used == [i % 3 == 0 for i in range(len(strides))] != rule
