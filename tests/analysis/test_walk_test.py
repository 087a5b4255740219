"""Comfortable/fast-speed protocols: the timed stretch on synthetic bouts, and end to end on the
real core + virtual rig (engine.sim, self-paced) into a real SQLite file that the session
report's metrics read back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.analysis.walk_test import RUN_IN_M, RUN_OUT_M, TIMED_M, protocol_result, trial_speeds


def _bout(t0, speed, course_m, dt=0.01, accel=0.5):
    """A bout: accelerate at `accel`, cruise at `speed` until course_m, then stop."""
    t, s, v = [t0], [0.0], [0.0]
    while s[-1] < course_m:
        nv = min(speed, v[-1] + accel * dt)
        s.append(s[-1] + nv * dt)
        v.append(nv)
        t.append(t[-1] + dt)
    t.append(t[-1] + dt)
    s.append(s[-1])
    v.append(0.0)
    return np.array(t), np.array(s), np.array(v)


def test_timed_stretch_of_each_complete_bout():
    course = RUN_IN_M + TIMED_M + RUN_OUT_M + 1.0
    parts = [_bout(0.0, 1.0, course), _bout(30.0, 1.2, course), _bout(60.0, 1.2, 3.0)]  # last: too short
    t = np.concatenate([p[0] for p in parts])
    s = np.concatenate([p[1] + 100.0 * i for i, p in enumerate(parts)])
    v = np.concatenate([p[2] for p in parts])
    speeds = trial_speeds(t, s, v)
    # accelerating at 0.5 m/s^2 the patient reaches 1.2 m/s within 1.44 m: the timed stretch is
    # at cruise speed (interpolation between 10 ms samples: < 0.2 % error)
    assert speeds == pytest.approx([1.0, 1.2], rel=2e-3)
    res = protocol_result("comfortable", speeds)
    assert res["speed_mps"] == pytest.approx(1.1, rel=2e-3)
    assert protocol_result("fast", [])["speed_mps"] is None
    with pytest.raises(ValueError):
        protocol_result("sprint", speeds)


def test_an_unfinished_bout_is_not_a_trial():
    t, s, v = _bout(0.0, 1.0, 20.0)
    assert trial_speeds(t[:-1], s[:-1], v[:-1] + 0.0) == []  # still walking at the end


@pytest.mark.timeout(600)
def test_comfortable_protocol_on_the_self_paced_belt_is_stored_and_classified(tmp_path):
    from engine.records.metrics import self_selected_speed_mps
    from engine.records.store import Store
    from engine.sim.session import SimOptions, run_simulation

    db = tmp_path / "records.db"
    result = run_simulation(SimOptions(scene="grocery-first-visit", profile="healthy", duration_s=200.0, db=db,
                                       protocol="comfortable"))
    res = result.summary["self_selected_speed"]
    assert len(res["trials_mps"]) == 3
    # the simulated patient's true over-ground speed over the same stretches (not the intent)
    assert res["speed_mps"] == pytest.approx(float(np.mean(res["true_trials_mps"])), abs=0.02)
    store = Store(db)
    try:
        events = store.events(result.session_id)
        speed = self_selected_speed_mps(events)  # what session reports and speed classes use
        assert math.isfinite(speed) and speed == pytest.approx(res["speed_mps"], abs=1e-6)
    finally:
        store.close()
