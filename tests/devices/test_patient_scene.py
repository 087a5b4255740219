"""The simulated patient sees the scene: foot placement, crossing, capacity, curbs, lane, truth."""

from __future__ import annotations

import statistics

import pytest

from devices.sim.norms import NORMS
from devices.sim.patient import ExoDrive, PatientModel, simulate
from devices.sim.profiles import load_profile, profile_names
from tests.devices.gait_numbers import cadence_spm, mean_step_length, steps_after, stride_cv_pct

BOX = {"kind": "box", "at_m": 8.0, "depth_m": 0.3, "height_m": 0.15}


def walk(profile: str, obstacles, seed: int = 3, metres: float = 14.0, boost=(0.0, 0.0), perceive=True):
    p = load_profile(profile)
    speed = p.comfortable_speed_mps
    return simulate(p, seed, speed, metres / speed, obstacles=obstacles, perceive=perceive,
                    drive=ExoDrive(clearance_boost=boost)).ground_truth()


def last_strike_before(truth: dict, x_m: float) -> dict:
    return [h for h in truth["heel_strikes"] if h["heel_x_m"] < x_m][-1]


def test_perception_changes_foot_placement_before_an_obstacle():
    seen = walk("healthy", [BOX])
    blind = walk("healthy", [BOX], perceive=False)
    foot_m = 0.05 + 0.18  # heel to toe of the healthy profile
    # The patient who sees the box takes off with the toe near its preferred distance (0.22 m)...
    toe_gap_seen = BOX["at_m"] - (last_strike_before(seen, BOX["at_m"])["heel_x_m"] + foot_m)
    assert 0.12 <= toe_gap_seen <= 0.32
    # ...by changing the last steps: they differ from the blind walker's, who walks on as usual.
    seen_steps = [s["length_m"] for s in seen["steps"] if 5.5 < s["heel_x_m"] < BOX["at_m"]]
    blind_steps = [s["length_m"] for s in blind["steps"] if 5.5 < s["heel_x_m"] < BOX["at_m"]]
    assert seen_steps != blind_steps
    seen_box = seen["obstacles"][0]
    blind_box = blind["obstacles"][0]
    assert seen_box["outcome"] == "cleared" and seen_box["margin_m"] > 0.02
    assert blind_box["outcome"] in ("touched", "tripped")
    # Both legs crossed: the lead first, then the trail.
    assert {leg["role"] for leg in seen_box["legs"].values()} == {"lead", "trail"}
    # The lead clearance follows the published non-linear rise (Chen 1991: ~64 mm at 25 mm,
    # about 10 cm over tall obstacles), not the level-walking 1.3 cm.
    lead = next(leg for leg in seen_box["legs"].values() if leg["role"] == "lead")
    assert 0.05 <= lead["margin_m"] <= 0.16


def test_a_slow_walker_keeps_its_trail_foot_back_from_an_obstacle_and_lands_closer_past_it():
    """Slow and older walkers land closer past an obstacle (Chen 1991; Said 2001) but keep their
    trail foot's distance before it (Said 2001, stroke: no significant reduction in pre-obstacle
    distance; Chen 1991: the obstacle further forward in an older adult's crossing step); a trail
    foot placed closer catches the obstacle (Chou & Draganich 1998). frail-older walks 0.6 m/s with
    steps well under the 0.65 m at which the model's landing distance starts to shrink; the
    4 cm bar (Said 2001's height) leaves the crossing step room to spare. The model used to
    shrink the take-off distance with the step too: its trail toe took off 0.15-0.175 m before
    the bar, under 0.8 x its preferred 0.25 m."""
    profile = load_profile("frail-older")
    bar = {"kind": "box", "at_m": 6.0, "depth_m": 0.05, "height_m": 0.04}
    foot_m = profile.heel_to_ankle_m + profile.foot_length_m
    for seed in (1, 2, 3):
        truth = walk("frail-older", [bar], seed=seed, metres=9.0)
        trail_toe_gap_m = bar["at_m"] - (last_strike_before(truth, bar["at_m"])["heel_x_m"] + foot_m)
        assert 0.8 * profile.take_off_distance_m <= trail_toe_gap_m <= 0.35, (seed, trail_toe_gap_m)
        landing = next(h for h in truth["heel_strikes"] if h["heel_x_m"] > bar["at_m"])
        landing_m = landing["heel_x_m"] - (bar["at_m"] + bar["depth_m"])
        assert 0.0 < landing_m < 0.8 * profile.landing_distance_m, (seed, landing_m)
        assert truth["obstacles"][0]["outcome"] == "cleared"


def test_a_leg_below_capacity_trips_without_boost_and_clears_with_enough_boost():
    """Moderate left hemiparesis: the paretic (left) leg lifts its foot 6 cm at most; a 9 cm box
    is beyond it. The clearance boost of the exoskeleton on that leg makes up the difference."""
    box = [{"kind": "box", "at_m": 6.0, "depth_m": 0.1, "height_m": 0.09}]
    profile = load_profile("hemiparetic-left")
    assert profile.max_toe_clearance_m[0] < 0.09 < profile.max_toe_clearance_m[1]
    plain = walk("hemiparetic-left", box, metres=9.0)
    boosted = walk("hemiparetic-left", box, metres=9.0, boost=(1.0, 0.0))
    paretic_plain = plain["obstacles"][0]["legs"]["left"]
    paretic_boosted = boosted["obstacles"][0]["legs"]["left"]
    assert paretic_plain["outcome"] == "tripped"
    assert any(t["side"] == 0 and t["obstacle"] == 0 for t in plain["trips"])
    assert paretic_boosted["outcome"] == "cleared" and paretic_boosted["margin_m"] > 0.0
    assert not any(t["side"] == 0 for t in boosted["trips"])
    # the sound leg clears it either way
    assert plain["obstacles"][0]["legs"]["right"]["outcome"] == "cleared"


def test_a_trip_perturbs_the_next_steps():
    truth = walk("healthy", [BOX], perceive=False)
    trip = truth["trips"][0]
    before = [s["length_m"] for s in truth["steps"] if s["t_s"] < trip["t_s"]][-4:]
    after = [s["length_m"] for s in truth["steps"] if s["t_s"] > trip["t_s"]][1:3]
    assert statistics.mean(after) < statistics.mean(before)
    assert trip["penetration_m"] > 0.015 and trip["side"] in (0, 1)


def test_curb_down_lowers_the_landing_foot_and_curb_up_raises_it():
    curbs = [{"kind": "curb_down", "at_m": 6.0, "depth_m": 0.3, "height_m": 0.12},
             {"kind": "curb_up", "at_m": 12.0, "depth_m": 0.3, "height_m": 0.12}]
    truth = walk("healthy", curbs, metres=17.0)
    for h in truth["heel_strikes"]:
        if h["heel_x_m"] < 6.3:
            assert h["heel_z_m"] == pytest.approx(0.0)
        elif 6.31 < h["heel_x_m"] < 12.0:
            assert h["heel_z_m"] == pytest.approx(-0.12)  # on the road, 12 cm lower
        elif h["heel_x_m"] > 12.01:
            assert h["heel_z_m"] == pytest.approx(0.0)  # back up on the sidewalk
    assert sum(1 for h in truth["heel_strikes"] if 6.31 < h["heel_x_m"] < 12.0) >= 4
    assert [o["outcome"] for o in truth["obstacles"]] == ["cleared", "cleared"]


def test_an_obstacle_outside_the_lane_is_walked_past():
    beside = [{"kind": "box", "at_m": 8.0, "depth_m": 0.3, "height_m": 0.15, "lateral_m": 1.2}]
    truth = walk("healthy", beside)
    nothing = walk("healthy", [])
    assert truth["obstacles"][0]["outcome"] == "passed" and not truth["obstacles"][0]["in_lane"]
    assert truth["crossings"] == [] and truth["trips"] == []
    # the patient did not change a single step for it
    assert [s["length_m"] for s in truth["steps"]] == [s["length_m"] for s in nothing["steps"]]
    # while the same box in the lane does change them
    inside = walk("healthy", [dict(beside[0], lateral_m=0.1)])
    assert [s["length_m"] for s in inside["steps"]] != [s["length_m"] for s in nothing["steps"]]


def test_same_seed_same_walk_with_a_scene():
    scene = [BOX, {"kind": "door_threshold", "at_m": 11.0, "depth_m": 0.12, "height_m": 0.025}]
    a = walk("parkinsonian-freezing", scene, seed=4)
    b = walk("parkinsonian-freezing", scene, seed=4)
    c = walk("parkinsonian-freezing", scene, seed=5)
    assert a == b
    assert a["steps"] != c["steps"]


def test_parkinsonian_freezing_before_doorways_and_obstacles():
    scene = [{"kind": "door_threshold", "at_m": 4.0 + 3.0 * i, "depth_m": 0.12, "height_m": 0.025} for i in range(10)]
    truth = walk("parkinsonian-freezing", scene, seed=2, metres=36.0)
    assert truth["freezing"], "a 35 % chance at ten doorways and the start gave no freeze"
    usual = statistics.median(s["length_m"] for s in truth["steps"] if not s["frozen"])
    for episode in truth["freezing"]:
        assert episode["trigger"] in ("doorway", "obstacle", "start")
        assert 0.3 <= episode["duration_s"] <= 30.0
        # frozen: trembling steps, much shorter than the patient's usual ones. On a running belt
        # they cannot stay a few centimetres long for long: the belt carries the feet back and the
        # harness holds the pelvis, so the feet step to stay under it, about the belt's travel per
        # trembling step (0.22 m at 1 m/s, half the usual step). Below 0.2 m absolute they stayed
        # only while the model let the patient slide 2-11 m back off the treadmill.
        frozen = [s for s in truth["steps"] if episode["t_s"] < s["t_s"] < episode["end_t_s"]]
        if len(frozen) >= 2:
            assert statistics.mean(s["length_m"] for s in frozen) < 0.6 * usual, (episode, usual)
    plain = walk("parkinsonian", scene, seed=2, metres=36.0)
    assert plain["freezing"] == []


def test_intended_speed_is_exposed_and_varies():
    p = load_profile("healthy")
    model = simulate(p, 1, 1.0, 60.0)
    assert model.intended_speed_mps > 0.0
    intents = [i["intended_speed_mps"] for i in model.ground_truth()["intended_speed"]]
    assert len(set(intents)) > 5
    assert abs(statistics.mean(intents) - p.comfortable_speed_mps) < 0.15


def test_foot_state_is_consistent_with_the_feet():
    p = load_profile("healthy")
    model = PatientModel(p, 0)
    t, planted = 0.0, {}
    for _ in range(3000):
        t += 0.002
        model.step(t, 1.2, ExoDrive())
        for side in (0, 1):
            foot = model.foot_state(side)
            length = ((foot.toe_x_m - foot.heel_x_m) ** 2 + (foot.toe_z_m - foot.heel_z_m) ** 2) ** 0.5
            assert length == pytest.approx(((p.foot_length_m + p.heel_to_ankle_m) ** 2) ** 0.5, rel=1e-6)
            if foot.in_contact and foot.heel_z_m <= 1e-9 and foot.toe_z_m <= 1e-9:
                # a flat foot on the belt keeps its route position
                planted.setdefault((side, len(model.heel_strikes)), foot.heel_x_m)
                assert foot.heel_x_m == pytest.approx(planted[(side, len(model.heel_strikes))], abs=1e-9)
        loads = sum(model.foot_state(s).heel_load_n + model.foot_state(s).midfoot_load_n
                    + model.foot_state(s).toe_load_n for s in (0, 1))
        if model.foot_state(0).in_contact or model.foot_state(1).in_contact:
            assert loads == pytest.approx(p.body_mass_kg * 9.81, rel=0.01)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_free_walking_falls_inside_the_published_ranges(name):
    assert name in profile_names()
    p = load_profile(name)
    truth = simulate(p, 11, p.comfortable_speed_mps, 60.0).ground_truth()
    steps = steps_after(truth, 8.0)
    measured = {
        "speed_mps": p.comfortable_speed_mps,
        "cadence_spm": cadence_spm(steps),
        "step_length_m": mean_step_length(steps),
        "stride_cv_pct": stride_cv_pct(truth, 0, 8.0),
    }
    mtc = [w["clearance_m"] * 100.0 for w in truth["toe_clearance"] if w["t_s"] > 8.0]
    measured["mtc_mean_cm"] = statistics.mean(mtc)
    measured["mtc_sd_cm"] = statistics.pstdev(mtc)
    left, right = mean_step_length(steps, 0), mean_step_length(steps, 1)
    measured["step_length_ratio"] = max(left, right) / min(left, right)
    for key, (low, high, source) in NORMS[name].items():
        assert low <= measured[key] <= high, f"{name} {key} {measured[key]:.3f} outside {low}..{high} ({source})"


def test_parkinsonian_cadence_is_high_and_steps_short():
    """Fixes what the issue measured: the Parkinsonian cadence was not high."""
    park, healthy = load_profile("parkinsonian"), load_profile("healthy")
    pt = simulate(park, 1, park.comfortable_speed_mps, 40.0).ground_truth()
    ht = simulate(healthy, 1, healthy.comfortable_speed_mps, 40.0).ground_truth()
    assert cadence_spm(steps_after(pt, 5.0)) > cadence_spm(steps_after(ht, 5.0)) + 5.0
    assert mean_step_length(steps_after(pt, 5.0)) < mean_step_length(steps_after(ht, 5.0)) - 0.15


def test_step_length_is_not_belt_speed_times_step_time():
    """Where the feet land is free of the timing: per step the two differ."""
    p = load_profile("hemiparetic-right")
    truth = simulate(p, 2, 0.55, 40.0).ground_truth()
    diffs = [abs(s["length_m"] - 0.55 * s["time_s"]) for s in steps_after(truth, 5.0)]
    assert statistics.median(diffs) > 0.02


def test_profile_files_are_checked_key_by_key(tmp_path):
    good = load_profile("healthy")
    assert "healthy" in good.labels
    bad = tmp_path / "bad.yaml"
    text = (load_profile.__globals__["PATIENTS_DIR"] / "healthy.yaml").read_text()
    bad.write_text(text.replace("thigh_m: 0.45", "thigh_m: 4.5"))
    with pytest.raises(ValueError, match="thigh_m: 4.5 outside"):
        load_profile(str(bad))
    bad.write_text(text.replace("labels: [healthy]", "labels: [zombie]"))
    with pytest.raises(ValueError, match="unknown labels"):
        load_profile(str(bad))
    minimal = tmp_path / "old.yaml"
    minimal.write_text("\n".join(line for line in text.splitlines()
                                 if line.split(":")[0] in {"name", "description", "body_mass_kg", "thigh_m", "shank_m",
                                                           "foot_height_m", "foot_length_m", "walk_ratio_m_per_spm",
                                                           "right_heel_strike_phase", "stance_fraction",
                                                           "hip_amplitude_deg", "knee_swing_peak_deg",
                                                           "swing_dorsiflexion_deg", "joint_stiffness_nm_per_rad",
                                                           "stride_time_cv", "step_length_cv", "hr_rest_bpm",
                                                           "hr_speed_gain_bpm_per_mps2", "hr_max_bpm",
                                                           "fatigue_per_min"}))
    assert load_profile(str(minimal)).mtc_m == (0.013, 0.013)  # optional keys default to a healthy adult


def test_demo_prescriptions_carry_their_simulated_patients_true_leg_lengths():
    """The core checks the exoskeleton's geometry against the prescription at the start; a demo
    patient's prescription must describe the simulated body it drives (within 1 cm)."""
    from engine.records.store import DEMO_PATIENTS

    for code, (_name, name, rx) in DEMO_PATIENTS.items():
        p = load_profile(name)
        true_leg = p.thigh_m + p.shank_m + p.foot_height_m
        assert abs(rx.leg_length_l_m - true_leg) <= 0.01 and abs(rx.leg_length_r_m - true_leg) <= 0.01, code


@pytest.mark.parametrize("name", ["healthy", "hemiparetic-right"])
def test_the_exoskeleton_reads_the_true_leg_and_a_foot_never_jumps(name):
    """A swinging foot, a caught (tripped) one and one dragging on the ground are each forward
    kinematics of the joint angles the exoskeleton's encoders report; guidance pulls the leg
    through its inertia, so no foot jumps (it used to leap up to 0.4 m at toe off)."""
    import math

    from devices.base import JointMode
    from devices.sim import leg_kinematics as lk

    p = load_profile(name)
    ref = (math.radians(10), math.radians(30), math.radians(10), math.radians(30))
    drive = ExoDrive(modes=(JointMode.GUIDANCE,) * 4, stiffness=0.5, ref_angle_rad=ref, clearance_boost=(0.0, 0.5))
    blind_box = [{"kind": "box", "at_m": 4.0, "depth_m": 0.2, "height_m": 0.12}]
    model = PatientModel(p, 2, obstacles=blind_box, perceive=False)  # walks into it: trips
    t, dt = 0.0, 0.002
    worst_fk = worst_move = worst_below = 0.0
    previous = None
    for _ in range(int(14.0 / dt)):
        t += dt
        model.step(t, p.comfortable_speed_mps, drive)
        feet = [(leg.toe, leg.heel) for leg in model.legs]
        for side, leg in enumerate(model.legs):
            if previous is not None:
                worst_move = max(worst_move, math.dist(feet[side][0], previous[side][0]),
                                 math.dist(feet[side][1], previous[side][1]))
            if leg.in_stance:
                continue
            dx, drop = lk.ankle_rel_hip(model.angle_rad[2 * side], model.angle_rad[2 * side + 1], p.thigh_m, p.shank_m)
            worst_fk = max(worst_fk, math.hypot(model.hip_x + dx - leg.ankle_x, model.hip_z - drop - leg.ankle_z))
            if p.knee_flexion_max_deg[side] > 90.0:  # a stiff knee cannot always lift the toe off the ground
                worst_below = max(worst_below, min(leg.g0, leg.g1) - min(leg.toe[1], leg.heel[1]))
        previous = feet
    assert model.trips, "the blind walker must catch its foot on the box"
    assert worst_fk < 1e-6
    assert worst_move < 0.05  # 2 ms: peak swing speeds are ~8 m/s in the belt's frame (1.6 cm)
    assert worst_below < 0.002


@pytest.mark.parametrize("name", ["healthy", "frail-older", "parkinsonian"])
def test_a_foot_never_sinks_below_the_walkway_it_stands_on(name):
    """Down a curb and up onto raised walkways: no point of either foot is ever below the ground
    under it (a landing foot's floor was the lower of take-off and landing ground, so a heel coming
    down on a raised curb sank 2-3.5 cm into it). These walkers clear every curb (no trips)."""
    p = load_profile(name)
    curbs = [{"kind": "curb_down", "at_m": 3.0, "height_m": 0.10}, {"kind": "curb_up", "at_m": 6.0, "height_m": 0.10},
             {"kind": "curb_up", "at_m": 9.0, "height_m": 0.15}, {"kind": "curb_down", "at_m": 12.0, "height_m": 0.15}]
    model = PatientModel(p, 2, obstacles=curbs)
    t, dt, worst = 0.0, 0.002, 0.0
    while t < 15.0 / p.comfortable_speed_mps:
        t += dt
        model.step(t, p.comfortable_speed_mps, ExoDrive())
        for leg in model.legs:
            for x_m, z_m in (leg.heel, leg.toe):
                worst = max(worst, model.walkway.ground_m(x_m) - z_m)
    assert not model.trips
    assert max(h["heel_x_m"] for h in model.heel_strikes) > 13.0  # walked over all four
    assert worst < 0.002
