"""Gait measurement accuracy of the real core process against the virtual rig's ground truth.

Targets (issue 3): heel-strike/toe-off timing error at most 10 ms median, step length error at
most 2 cm median, for at least two patient profiles.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.control.layout import EventKind, RunState
from tests.control.helpers import Session, walk_again_on_load_stop

pytestmark = pytest.mark.timeout(300)  # up to 3 live runs (walk_again_on_load_stop)


def _nearest_errors(mine: np.ndarray, truth: list[dict], key: str | None = None) -> np.ndarray:
    """Per detected event: error against the ground-truth event of the same side nearest in time."""
    errors = []
    for row in mine:
        same_side = [t for t in truth if t["side"] == row["side"]]
        best = min(same_side, key=lambda t: abs(t["t_s"] - row["t_s"]))
        if abs(best["t_s"] - row["t_s"]) > 0.25:
            errors.append(np.inf)  # a detection with no true event near it
        elif key is None:
            errors.append(row["t_s"] - best["t_s"])
        else:
            errors.append(row["v1"] - best[key])
    return np.array(errors)


def _ack(session) -> bool:
    """Acknowledge any unacknowledged alarm, as the therapist at the rig does."""
    if any(int(a["reason"]) and not int(a["acked"]) for a in session.state()["alarms"]):
        session.writer.ack_alarms()
    return True


# The rig scatters each landing by step_length_cv (healthy 2 %, hemiparetic 4 %), which no sensor
# sees: the floor of the median step-length error is about 0.95 * cv * step length. Each profile
# walks at a speed typical for it (hemiparetic gait is slow, ~0.5 m/s).
@pytest.mark.parametrize("profile, speed_fraction", [("healthy", 0.9), ("hemiparetic-right", 0.45)])
def test_events_and_step_lengths_match_ground_truth(profile, speed_fraction):
    def live_run() -> tuple:
        # A run the machine's load stopped (device silence, overruns: CI failed so once) says
        # nothing about measurement: walk again (tests/control/helpers.py).
        s = Session(profile, seed=5, load_stop_raises=True)
        try:
            s.writer.set_settings(speed_fraction=speed_fraction, guidance=0.2, assist_as_needed=False)
            s.writer.start()
            s.wait_for(lambda st: st["run_state"] == RunState.RUNNING, 5.0)
            # A therapist acknowledges alarms as they come (the stumble guard caps the belt until
            # then: false STUMBLE alarms in simulated walking are issue 13's, in test_stumble_core).
            s.wait_for(lambda st: _ack(s) and st["steps"] >= 20, 45.0)
            # Events first, then the truth: a heel strike detected between the two calls would
            # have no true event yet (seen under load); the truth is windowed to the detections.
            return s.all_events(), s.rig.ground_truth()
        finally:
            s.close()

    ev, truth = walk_again_on_load_stop(live_run)
    t_first = float(ev["t_s"][ev["kind"] == EventKind.HEEL_STRIKE][0])
    t_last = float(ev["t_s"][ev["kind"] == EventKind.HEEL_STRIKE][-1])
    for kind, name in ((EventKind.HEEL_STRIKE, "heel_strikes"), (EventKind.TOE_OFF, "toe_offs")):
        mine = ev[ev["kind"] == kind]
        true_events = [t for t in truth[name] if t_first - 0.01 <= t["t_s"] <= t_last + 0.01]
        # Every true event in the window was detected once (no misses, no doubles)...
        assert abs(len(mine) - len(true_events)) <= 1, (name, len(mine), len(true_events))
        errors = _nearest_errors(mine, truth[name])
        assert np.all(np.isfinite(errors)), f"{name}: spurious detections"
        # ...within 10 ms median.
        assert np.median(np.abs(errors)) <= 0.010, (name, np.median(np.abs(errors)))
    steps = ev[ev["kind"] == EventKind.STEP]
    assert len(steps) >= 16
    length_errors = _nearest_errors(steps, truth["steps"], "length_m")
    assert np.all(np.isfinite(length_errors))
    assert np.median(np.abs(length_errors)) <= 0.02, np.median(np.abs(length_errors))
    if profile.startswith("hemiparetic"):
        # The asymmetry itself is measured: shorter steps on one side, like the ground truth.
        true_left = np.mean([t["length_m"] for t in truth["steps"] if t["side"] == 0])
        true_right = np.mean([t["length_m"] for t in truth["steps"] if t["side"] == 1])
        mine_left = float(np.mean(steps["v1"][steps["side"] == 0]))
        mine_right = float(np.mean(steps["v1"][steps["side"] == 1]))
        # Measured against the truth, not a fixed size: the simulated patient's asymmetry is a
        # model setting (2.7 cm with this seed's model since the patient-model merges, 5+ before).
        assert np.sign(mine_left - mine_right) == np.sign(true_left - true_right)
        assert abs((mine_left - mine_right) - (true_left - true_right)) <= 0.01, (
            mine_left, mine_right, true_left, true_right)
        assert abs(true_left - true_right) > 0.01  # there is an asymmetry to measure
