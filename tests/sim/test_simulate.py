"""`simulate`: the real control core on a simulated clock, deterministic, and true to a live run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.control import layout
from engine.records.store import Store
from engine.sim.session import SimOptions, run_simulation, sim_prescription

ROOT = Path(__file__).resolve().parents[2]
SCENE = """extends: base-sidewalk.yaml
id: sim-test
title: Simulation test
description: a few obstacles
difficulty: gentle
route_length_m: 40
assistance:
  guidance: 0.2
obstacles:
  - {kind: box, at_m: 5, height_m: 0.08, depth_m: 0.2}
  - {kind: cable, at_m: 9}
  - {kind: box, at_m: 11, height_m: 0.15, depth_m: 0.3, lateral_m: 1.4}
  - {kind: uneven_paving, at_m: 13, height_m: 0.02, depth_m: 0.6}
"""


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    from engine.scene.loader import SCENES_DIR

    folder = tmp_path_factory.mktemp("scenes")
    (folder / "base-sidewalk.yaml").write_text((Path(SCENES_DIR) / "base-sidewalk.yaml").read_text())
    (folder / "sim-test.yaml").write_text(SCENE)
    return folder


def test_same_seed_gives_the_same_session_twice(tmp_path, scenes):
    results = []
    for name in ("a", "b"):
        db = tmp_path / f"{name}.db"
        result = run_simulation(SimOptions(scene="sim-test", profile="hemiparetic-left", duration_s=12.0, seed=7,
                                           db=db, scenes_dir=scenes))
        with Store(db) as store:
            telemetry = store.telemetry(result.session_id)
            events = store.events(result.session_id)
        results.append((result, telemetry, events))
    (ra, ta, ea), (rb, tb, eb) = results
    assert ra.outcome == rb.outcome == "completed"
    assert len(ta) > 12_000 and len(ta) == len(tb)
    for name in ta.dtype.names:  # every record, every value (NaN where NaN)
        assert np.array_equal(ta[name], tb[name], equal_nan=ta[name].dtype.kind == "f"), name
    assert ea == eb
    assert ra.truth == rb.truth
    other = run_simulation(SimOptions(scene="sim-test", profile="hemiparetic-left", duration_s=12.0, seed=8,
                                      db=None, scenes_dir=scenes))
    assert other.truth["steps"] != ra.truth["steps"]


def test_simulate_command_writes_a_simulated_session_and_truth(tmp_path, scenes):
    db, truth_path = tmp_path / "s.db", tmp_path / "truth.json"
    result = subprocess.run(
        [sys.executable, "main.py", "-q", "simulate", "--scene", "sim-test", "--scenes-dir", str(scenes),
         "--patient-profile", str(ROOT / "devices/sim/patients/parkinsonian.yaml"), "--duration-s", "10",
         "--seed", "3", "--db", str(db), "--truth", str(truth_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "x real time" in result.stdout
    truth = json.loads(truth_path.read_text())
    with Store(db) as store:
        (session,) = store.list_sessions("sim-parkinsonian")
        assert session["simulated"] and session["outcome"] == "completed"
        steps = store.steps(session["id"])
        telemetry = store.telemetry(session["id"])
    assert np.all(np.diff(telemetry["cycle"].astype(np.int64)) == 1)
    assert truth["profile"] == "parkinsonian" and truth["session_id"] == session["id"]
    assert len(truth["steps"]) > 10
    assert abs(len(steps) - len(truth["steps"])) <= 3  # the core counted about the steps walked


def test_a_simulated_session_shows_no_alarm_while_its_devices_are_well(tmp_path, scenes):
    """The simulated drivers open as the live ones do (the device's answer to the handshake is its
    first frame): a session on a well rig records no alarm, and a heart-rate sensor that does fall
    silent is still reported (before, "heart-rate sensor silent" opened every simulated session,
    its report and every demo history, the driver never having heard the sensor at the first cycle)."""
    db = tmp_path / "well.db"
    result = run_simulation(SimOptions(scene="sim-test", profile="healthy", duration_s=8.0, seed=2, db=db,
                                       scenes_dir=scenes))
    with Store(db) as store:
        events = store.events(result.session_id)
    assert result.outcome == "completed" and len(events) > 20
    assert [e for e in events if e["kind"] == "alarm_raised"] == []

    silenced: dict = {}

    def silence_heart_rate(t_s: float, core, rig) -> None:
        if t_s >= 2.0 and not silenced:
            silenced["last_s"] = t_s - (core.t_s - core.hr.last_rx_s)  # its last reading (1 Hz)
            rig.hr.send_status = lambda *args, **kwargs: None  # the sensor says nothing more
        if not silenced.get("alarm_s") and core.alarms.is_active(layout.AlarmReason.HEART_RATE_SILENT):
            silenced["alarm_s"] = t_s

    run_simulation(SimOptions(scene="sim-test", profile="healthy", duration_s=8.0, seed=2, db=None,
                              scenes_dir=scenes, probe=silence_heart_rate))
    # reported once its last reading is older than the core's 3 s limit (the probe runs every 10 ms)
    assert 1.0 < silenced["last_s"] <= 2.0 and 3.0 < silenced["alarm_s"] - silenced["last_s"] <= 3.02, silenced


def test_simulate_refuses_an_unknown_profile(tmp_path):
    result = subprocess.run(
        [sys.executable, "main.py", "-q", "simulate", "--scene", "grocery-first-visit", "--patient-profile", "zombie",
         "--duration-s", "5", "--db", str(tmp_path / "x.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "unknown patient profile 'zombie'" in result.stderr


@pytest.mark.parametrize("flag, value, message", [
    ("--duration-s", "nan", "--duration-s must be a positive number of seconds, not nan"),
    ("--duration-s", "inf", "--duration-s must be a positive number of seconds, not inf"),
    ("--duration-s", "0", "--duration-s must be a positive number of seconds, not 0.0"),
    ("--guidance", "2", "--guidance must be within 0..1, not 2.0"),
    ("--guidance", "-0.1", "--guidance must be within 0..1, not -0.1"),
    ("--truth", "TMP", "is a folder; give a file path"),
    ("--truth", "TMP/no/such/t.json", "its folder does not exist; give a file path"),
])
def test_simulate_refuses_a_setting_out_of_range_by_name(tmp_path, flag, value, message):
    db = tmp_path / "x.db"
    args = {"--duration-s": "5", flag: value.replace("TMP", str(tmp_path))}
    result = subprocess.run(
        [sys.executable, "main.py", "-q", "simulate", "--scene", "grocery-first-visit", "--patient-profile", "healthy",
         "--db", str(db), *[x for k, v in args.items() for x in (k, v)]],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not db.exists()  # refused before anything is written


@pytest.mark.parametrize("what, message", [("folder", "is a folder, not a records database"),
                                           ("text", "is not a StepSync records database")])
def test_simulate_refuses_a_db_that_is_no_records_file_and_leaves_it(tmp_path, what, message):
    db = tmp_path / "records"
    if what == "folder":
        db.mkdir()
    else:
        db.write_text("notes, not a database\n")
    result = subprocess.run(
        [sys.executable, "main.py", "-q", "simulate", "--scene", "grocery-first-visit", "--patient-profile", "healthy",
         "--duration-s", "5", "--db", str(db)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and f"simulate: --db: {db} {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (list(db.iterdir()) == [] if what == "folder" else db.read_text() == "notes, not a database\n")


# Tolerance between a live run and a simulation of the same seed: the live rig ticks on the real
# clock (jitter, a start a few ms later), so the same patient walks the same plan with slightly
# different timing. Over the same stretch of route the number of steps agrees within 2 and the
# true outcome of every in-lane obstacle is the same except at most one close call.
STEP_TOLERANCE = 2
OBSTACLE_MISMATCH_ALLOWED = 1
STRETCH_M = (2.0, 14.0)


def _steps_in(truth: dict) -> int:
    return sum(1 for s in truth["steps"] if STRETCH_M[0] <= s["heel_x_m"] < STRETCH_M[1])


def _outcomes(truth: dict) -> dict:
    return {o["obstacle"]: o["outcome"] for o in truth["obstacles"] if o["at_m"] < STRETCH_M[1] - 1.0}


@pytest.mark.timeout(300)
def test_simulate_and_a_live_run_of_the_same_seed_agree(scenes):
    from devices.sim.profiles import load_profile
    from engine.scene.loader import find_scene
    from engine.scene.timeline import scene_to_timeline
    from tests.control.helpers import LoadStop, Session, load_stop_alarms, walk_again_on_load_stop

    profile = load_profile("healthy")
    rx = sim_prescription(profile)
    speed_fraction = profile.comfortable_speed_mps / rx.max_speed_mps
    scene = find_scene("sim-test", scenes)
    target_m = STRETCH_M[1] + 2.0

    def live_run() -> dict:
        # A loaded machine can stop a live session on its own (device silence, overruns): that
        # run says nothing about the patient; walk again (tests/control/helpers.py).
        live = Session("healthy", seed=4, rx=rx, load_stop_raises=True)
        try:
            live.rig.show_scene(scene)
            live.writer.load_timeline(scene_to_timeline(scene), float(scene.route_length_m), 1.0)
            live.writer.set_settings(speed_fraction=speed_fraction, guidance=0.2, assist_as_needed=False)
            live.writer.start()
            live.wait_for(lambda st: st["run_state"] == layout.RunState.RUNNING, 10.0)
            state = live.wait_for(lambda st: st["s_m"] >= target_m
                                  or st["run_state"] in (layout.RunState.STOPPED, layout.RunState.IDLE), 180.0)
            if float(state["s_m"]) < target_m:
                stopped_on = load_stop_alarms(state)
                if stopped_on:
                    raise LoadStop(stopped_on)
                raised = [layout.AlarmReason(int(a["reason"])).name for a in state["alarms"] if a["reason"]]
                raise AssertionError(f"the live session stopped for another reason: {raised}")
            return live.rig.ground_truth()
        finally:
            live.close()

    live_truth = walk_again_on_load_stop(live_run)
    simulated = run_simulation(SimOptions(scene="sim-test", profile="healthy", duration_s=16.0, seed=4, db=None,
                                          scenes_dir=scenes,
                                          settings={"speed_fraction": speed_fraction, "guidance": 0.2,
                                                    "assist_as_needed": False}))
    sim_truth = simulated.truth
    assert abs(_steps_in(live_truth) - _steps_in(sim_truth)) <= STEP_TOLERANCE, (
        _steps_in(live_truth), _steps_in(sim_truth))
    live_out, sim_out = _outcomes(live_truth), _outcomes(sim_truth)
    assert set(live_out) == set(sim_out) and len(sim_out) >= 3
    mismatches = [i for i in sim_out if sim_out[i] != live_out[i]]
    assert len(mismatches) <= OBSTACLE_MISMATCH_ALLOWED, (live_out, sim_out)
    assert sim_out[2] == live_out[2] == "passed"  # the box beside the lane
