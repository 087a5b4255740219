"""The real core with the smart insoles of the real rig: events on one clock, toe clearance per
swing against the rig's ground truth, the steady-stride rule, insole silence and the geometry check."""

from __future__ import annotations

import numpy as np
import pytest

from engine.control.layout import AlarmReason, EventKind, GeometryCheck, RunState
from engine.control.prescription import Prescription
from tests.control.helpers import LEG_LENGTH_M, Session, walk_again_on_load_stop

# Measurement tests: a rig starved for more than 20 ms by other real-time work on a shared test
# machine must not stop the walk (the silence rule itself is tested in tests/faults).
MEASURE_SILENCE_S = 0.25


def _ack(session) -> bool:
    """Play the therapist who acknowledges alarms: the stumble guard caps the belt until then."""
    if any(int(a["reason"]) and not int(a["acked"]) for a in session.state()["alarms"]):
        session.writer.ack_alarms()
    return True
pytestmark = pytest.mark.timeout(600)  # up to 3 live runs (walk_again_on_load_stop)


def _match(mine: np.ndarray, truth: list[dict]) -> np.ndarray:
    """Signed time error (s) of each detected event against the nearest true one of its side."""
    out = []
    for row in mine:
        same = [t["t_s"] for t in truth if t["side"] == row["side"]]
        nearest = min(same, key=lambda t: abs(t - row["t_s"]))
        out.append(row["t_s"] - nearest if abs(row["t_s"] - nearest) < 0.25 else np.inf)
    return np.array(out)


def test_events_clearance_and_steady_strides_against_ground_truth():
    # Hemiparetic left: a dropped left foot that barely clears the belt, a sound right leg.
    def live_run() -> tuple:
        # A run the machine's load stopped says nothing about measurement: walk again
        # (tests/control/helpers.py; the insoles' silence stop is tested below, not retried).
        s = Session("hemiparetic-left", seed=7, device_silence_s=MEASURE_SILENCE_S, load_stop_raises=True)
        try:
            s.writer.set_settings(speed_fraction=0.4, guidance=0.2, assist_as_needed=False)
            s.writer.start()
            s.wait_for(lambda st: st["run_state"] == RunState.RUNNING, 5.0)
            s.wait_for(lambda st: _ack(s) and st["steps"] >= 24, 90.0)
            s.writer.set_settings(speed_fraction=0.7)  # the belt speeds up: those strides are not steady
            s.wait_for(lambda st: _ack(s) and st["steps"] >= 44, 90.0)
            # Events first, then the truth: an event detected between the two calls would have
            # no true event yet (seen under load); the truth is windowed to the detections below.
            return s.all_events(), s.all_telemetry(), s.rig.ground_truth(), s.state()
        finally:
            s.close()

    ev, tel, truth, state = walk_again_on_load_stop(live_run)
    assert state["device_ok"] & 8, "insoles live"
    hs = ev[ev["kind"] == EventKind.HEEL_STRIKE]
    t0, t1 = float(hs["t_s"][0]), float(hs["t_s"][-1])

    # Events: every true heel strike and toe off found once, on the host clock, no constant offset.
    for kind, name in ((EventKind.HEEL_STRIKE, "heel_strikes"), (EventKind.TOE_OFF, "toe_offs")):
        mine = ev[ev["kind"] == kind]
        true_events = [t for t in truth[name] if t0 - 0.01 <= t["t_s"] <= t1 + 0.01]
        assert abs(len(mine) - len(true_events)) <= 1, (name, len(mine), len(true_events))
        err = _match(mine, truth[name])
        assert np.all(np.isfinite(err)), f"{name}: a detection with no true event near it"
        assert np.median(np.abs(err)) <= 0.005, (name, np.median(np.abs(err)))
        assert np.percentile(np.abs(err), 95) <= 0.015, (name, np.percentile(np.abs(err), 95))
        # A constant clock offset shifts every event: its estimate is the median signed error (as in
        # bench clinical's event_offset_ms_max_abs), which one late detection cannot move.
        assert abs(np.median(err)) <= 0.002, (name, "constant offset", np.median(err))

    # Step length per leg: heel to heel at contact against the rig's true step, and closer to it
    # than the belt speed x step time stand-in (which cannot see where the feet land).
    steps = ev[ev["kind"] == EventKind.STEP]
    for side in (0, 1):
        mine = steps[steps["side"] == side]
        err, belt_err = [], []
        for row in mine:
            true_step = min((t for t in truth["steps"] if t["side"] == side), key=lambda t: abs(t["t_s"] - row["t_s"]))
            err.append(abs(row["v1"] - true_step["length_m"]))
            v = tel["belt_speed_mps"][np.searchsorted(tel["t_s"], row["t_s"]) - 1]
            belt_err.append(abs(v * row["v2"] - true_step["length_m"]))
        assert np.median(err) <= 0.01 and np.percentile(err, 95) <= 0.03, (side, np.median(err), np.percentile(err, 95))
        assert np.median(err) < np.median(belt_err), (side, np.median(err), np.median(belt_err))

    # Toe clearance per swing, per leg, against the rig's minimum toe clearance of that swing.
    swings = truth["toe_clearance"]
    pairs = {0: [], 1: []}
    for row in steps:
        before = [w for w in swings if w["side"] == row["side"] and 0.0 < row["t_s"] - w["t_s"] < 0.8]
        if before and np.isfinite(row["v3"]):
            pairs[int(row["side"])].append((float(row["v3"]), max(before, key=lambda w: w["t_s"])["clearance_m"]))
    for side in (0, 1):
        got = np.array(pairs[side])
        assert len(got) >= 15, side
        err = np.abs(got[:, 0] - got[:, 1])
        assert np.median(err) <= 0.01 and np.percentile(err, 95) <= 0.025, (side, np.median(err))
    # Foot drop and a sound leg differ. (The dropped foot's own clearance under light guidance
    # was below 5 mm; the reference gait's slow-speed clearance, merged from main at 01:00, lifts
    # it to ~7 mm at this 0.48 m/s, on main as on this branch: what the core must show is the
    # difference, which the truth comparison above checks per leg.)
    drop, sound = np.median(np.array(pairs[0])[:, 0]), np.median(np.array(pairs[1])[:, 0])
    assert drop < 0.5 * sound and sound > drop + 0.005, (drop, sound)

    # Steady strides: none that spans the speed change, most at a constant speed after warm-up.
    strides = ev[ev["kind"] == EventKind.STRIDE]
    t_tel, v_tel = tel["t_s"], tel["belt_speed_mps"]
    steady_const = unsteady_const = spanning = 0
    for row in strides:
        start, end = row["t_s"] - row["v1"], row["t_s"]
        v = v_tel[(t_tel >= start) & (t_tel <= end)]
        if len(v) == 0:
            continue
        changing = v.max() - v.min() > 0.05
        steady = bool(row["code"] & 1)
        if changing:
            spanning += 1
            assert not steady, f"stride ending {end:.2f} spans a speed change yet is marked steady"
        elif end - t0 > 8.0:
            steady_const += steady
            unsteady_const += not steady
    assert spanning >= 1  # the speed change did fall inside some strides
    assert steady_const >= 4 * max(1, unsteady_const), (steady_const, unsteady_const)


def test_insole_silence_stops_the_walk_with_an_alarm_and_a_short_leg_is_flagged():
    leg = LEG_LENGTH_M["healthy"] - 0.08  # a prescription 8 cm shorter than the fitted exoskeleton
    s = Session("healthy", seed=8, rx=Prescription(leg_length_l_m=leg, leg_length_r_m=leg))
    try:
        s.wait_for(lambda st: st["geometry_check"] >= 0, 20.0)
        s.writer.set_settings(speed_fraction=0.6, guidance=0.2)
        s.writer.start()
        s.wait_for(lambda st: st["run_state"] == RunState.RUNNING and st["steps"] >= 4, 60.0)
        s.rig.inject("cut", "insoles")
        st = s.wait_for(lambda st: st["run_state"] == RunState.STOPPED, 20.0)
        st = s.wait_for(lambda st: st["belt_speed_mps"] < 0.02, 20.0)
        ev = s.all_events()
    finally:
        s.close()
    reasons = [int(a["reason"]) for a in st["alarms"]]
    assert AlarmReason.INSOLES_SILENT in reasons
    raised = ev[ev["kind"] == EventKind.ALARM_RAISED]["code"].tolist()
    assert AlarmReason.INSOLES_SILENT in raised and AlarmReason.GEOMETRY_MISMATCH in raised
    checks = ev[ev["kind"] == EventKind.GEOMETRY_CHECK]
    assert len(checks) == 2 and set(checks["code"].tolist()) == {GeometryCheck.MISMATCH}
    assert np.allclose(checks["v3"], 0.08, atol=0.005)  # the exoskeleton's leg is 8 cm longer
    assert int(st["geometry_check"]) == GeometryCheck.MISMATCH
