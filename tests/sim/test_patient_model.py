"""The simulated patient's remaining defects of issue 10 (docs/patients.md): who leads over a curb
down, the trip response against the outcome rule, a foot that lands across a curb's lip, how fast
a heel comes down and lands, and a foot held up by the exoskeleton's guidance at its planned
landing. Real model runs (devices/sim/patient.py, offline at the rig's 2 ms tick) and real
simulated sessions (engine.sim: the core, the rig's firmware and this patient)."""

from __future__ import annotations

import pytest

from devices.sim.patient import TRIP_PENETRATION_M, simulate
from devices.sim.profiles import load_profile, profile_names


@pytest.mark.parametrize("name", profile_names())
def test_the_lead_leg_at_a_curb_down_is_the_one_that_steps_down_first(name):
    # a deep stone: a foot often lands on it first and the other steps down past it; the truth
    # must name the leg that stepped down first lead, and only that one
    p = load_profile(name)
    for depth_m in (0.3, 0.5, 0.8):
        curb = {"kind": "curb_down", "at_m": 6.0, "depth_m": depth_m, "height_m": 0.12}
        for seed in (1, 2, 3):
            model = simulate(p, seed, p.comfortable_speed_mps, 9.0 / p.comfortable_speed_mps, obstacles=[curb])
            roles = {rec["side"]: rec["role"] for rec in model.crossings}
            down = min((h for h in model.heel_strikes if h["heel_x_m"] > 6.0 + depth_m), key=lambda h: h["t_s"])
            assert sorted(roles.values()) == ["lead", "trail"], (depth_m, seed, roles)
            assert roles[down["side"]] == "lead", (depth_m, seed, roles, down)


def test_the_trip_response_follows_the_outcome_rule():
    # blind walkers (no perception) into long low boxes: some feet come down on the top from above
    # and land in it (a touch by the rule, docs/validation.md "Crossing outcomes"), some are caught
    # at the near face (a trip); the model's trip response (a row in `trips`, the caught foot, the
    # perturbed steps) happens exactly for the crossings the rule calls tripped
    stepped_on = tripped = 0
    for name in ("healthy", "parkinsonian", "frail-older"):
        p = load_profile(name)
        for height_m in (0.02, 0.03, 0.05):
            for at_m in (5.0, 5.1, 5.2, 5.3):
                box = {"kind": "box", "at_m": at_m, "depth_m": 0.6, "height_m": height_m}
                model = simulate(p, 1, p.comfortable_speed_mps, 7.5 / p.comfortable_speed_mps, obstacles=[box],
                                 perceive=False)
                for rec in model.crossings:
                    trips = [t for t in model.trips if t["side"] == rec["side"] and t["obstacle"] == rec["obstacle"]]
                    assert len(trips) == (rec["outcome"] == "tripped"), (name, height_m, at_m, rec, trips)
                    stepped_on += rec["landed_in"] and rec["outcome"] == "touched" and rec["penetration_m"] >= TRIP_PENETRATION_M
                    tripped += rec["outcome"] == "tripped"
                assert [t["t_s"] for t in model.trips] == sorted(t["t_s"] for t in model.trips)
    # the walks still hold both cases
    assert stepped_on >= 10 and tripped >= 10, (stepped_on, tripped)


LAST_SWING_S = 0.010  # the heel's last 10 ms before it lands
# Winter 1992 (Phys Ther 72:45-53): the heel's velocity at contact is negligible vertically; "well
# under 1 m/s" is the claim checked here (the model's own construction gives 0.1-0.3 m/s)
HEEL_LANDING_MAX_MPS = 0.5
LANDING_GAP_MAX_M = 0.002  # how far above the ground a foot may be in the tick before it lands


class _FeetEveryTick:
    """Probe (engine.sim): on its first call it starts recording the rig's patient's heel and toe
    heights and contacts after every step of the model (the rig's 2 ms tick)."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, tuple, tuple]] = []  # (t_s, per leg (in_stance, heel, toe), grounds)

    def __call__(self, elapsed_s: float, core, rig) -> None:
        pat = rig.patient
        if "step" in vars(pat):
            return
        step = pat.step

        def recorded(t_s, *args, **kwargs):
            step(t_s, *args, **kwargs)
            self.rows.append((t_s, tuple((leg.in_stance, leg.heel, leg.toe) for leg in pat.legs),
                              tuple(min(pat.walkway.ground_m(leg.heel[0]), pat.walkway.ground_m(leg.toe[0]))
                                    for leg in pat.legs)))

        pat.step = recorded


def _landings(profile: str, seed: int, duration_s: float):
    """Per landing in a simulated session (bench clinical's scene, its guidance): (t_s, side, the
    fastest descent of the sole's lowest point (the heel, or a toe landing first) in the last 10 ms
    of the swing (m/s), that point's gap over the ground in the tick before the landing (m))."""
    import tempfile
    from pathlib import Path

    from bench.clinical import _scene_dir
    from engine.sim.session import SimOptions, run_simulation

    probe = _FeetEveryTick()
    with tempfile.TemporaryDirectory() as tmp:
        run_simulation(SimOptions(scene="bench-clinical", profile=profile, duration_s=duration_s, seed=seed, db=None,
                                  scenes_dir=_scene_dir(Path(tmp)), probe=probe))
    out = []
    rows = probe.rows
    for k in range(1, len(rows)):
        t, legs, _ = rows[k]
        _, was, grounds = rows[k - 1]
        for side in (0, 1):
            if legs[side][0] and not was[side][0]:  # this tick it landed
                heel_speeds = []
                j = k - 1
                while j > 0 and not rows[j][1][side][0] and t - rows[j][0] <= LAST_SWING_S + 1e-9:
                    dt = rows[j][0] - rows[j - 1][0]
                    if not rows[j - 1][1][side][0] and dt > 0.0:
                        # the part of the sole that lands: the heel, or the toe of a foot landing
                        # toe first (its heel then comes down in the loading response)
                        (_, (_, h0), (_, t0)), (_, (_, h1), (_, t1)) = rows[j - 1][1][side], rows[j][1][side]
                        heel_speeds.append((min(h0, t0) - min(h1, t1)) / dt)
                    j -= 1
                _, heel, toe = was[side]
                out.append((t, side, max(heel_speeds, default=0.0), min(heel[1], toe[1]) - grounds[side]))
    return out


@pytest.mark.parametrize("profile", ["hemiparetic-left"])
def test_a_heel_comes_down_gently_and_lands_when_it_reaches_the_ground(profile):
    # under the exoskeleton's guidance (the bench's scene and settings: boxes, curbs, spilled items)
    # a foot held up at its planned landing used to drop up to 5 cm in one tick, and a foot coming
    # down after stepping over something fell at ~6 m/s in its last 10 ms; now it lands when it
    # reaches the ground, its heel coming down gently
    landings = _landings(profile, 1, 30.0)
    assert len(landings) >= 25
    fast = [(round(t, 3), side, round(v, 2)) for t, side, v, _ in landings if v > HEEL_LANDING_MAX_MPS]
    assert not fast, f"feet coming down faster than {HEEL_LANDING_MAX_MPS} m/s in their last 10 ms: {fast}"
    dropped = [(round(t, 3), side, round(gap * 100, 2)) for t, side, _, gap in landings if gap > LANDING_GAP_MAX_M]
    assert not dropped, f"feet landing from above the ground (t, side, cm): {dropped}"


def _deepest_stance_in_stone(name: str, at_m: float) -> tuple[float, float]:
    """A blind walker (no perception: it steps where it would) at a 12 cm curb up: how far any
    stance foot's sole is below the walkway under it, the curb's top where the sole passes over the
    face included (m), and the largest jump of a stance ankle in one tick (m)."""
    from devices.sim.patient import ExoDrive, PatientModel

    p = load_profile(name)
    model = PatientModel(p, 1, obstacles=[{"kind": "curb_up", "at_m": at_m, "depth_m": 0.3, "height_m": 0.12}],
                         perceive=False)
    drive, v, dt, t = ExoDrive(), p.comfortable_speed_mps, 0.002, 0.0
    model.step(t, v, drive)
    deepest = jump = 0.0
    was = [None, None]
    while t < 8.0 / v:
        t += dt
        model.step(t, v, drive)
        for leg in model.legs:
            if not leg.in_stance:
                was[leg.side] = None
                continue
            (hx, hz), (tx, tz) = leg.heel, leg.toe
            depth = max(model.walkway.ground_m(hx) - hz, model.walkway.ground_m(tx) - tz)
            if hx < at_m < tx:
                depth = max(depth, 0.12 - (hz + (tz - hz) * (at_m - hx) / (tx - hx)))
            deepest = max(deepest, depth)
            if was[leg.side] is not None:
                jump = max(jump, abs(leg.ankle_x - was[leg.side][0]), abs(leg.ankle_z - was[leg.side][1]))
            was[leg.side] = (leg.ankle_x, leg.ankle_z)
    return deepest, jump


@pytest.mark.parametrize("name", ["healthy", "parkinsonian", "frail-older", "hemiparetic-left"])
def test_a_foot_landing_across_a_curbs_lip_rests_on_it(name):
    # blind walkers catch their toes on a 12 cm curb and some land across its face: the foot used
    # to stand flat at the road's level with its forefoot 12 cm inside the stone
    for k in range(10):
        at_m = 5.0 + 0.05 * k
        deepest, _ = _deepest_stance_in_stone(name, at_m)
        assert deepest <= 0.001, f"curb at {at_m:.2f} m: a stance foot {deepest * 100:.1f} cm inside the walkway"


TALL_FAST = """name: tall-fast-step-down
description: tall healthy adult walking fast (a profile outside the shipped set)
labels: [healthy]
body_mass_kg: 95
thigh_m: 0.53
shank_m: 0.51
foot_height_m: 0.09
foot_length_m: 0.22
walk_ratio_m_per_spm: 0.0068
right_heel_strike_phase: 0.5
stance_fraction: [0.6, 0.6]
hip_amplitude_deg: [22, 22]
knee_swing_peak_deg: [63, 63]
swing_dorsiflexion_deg: [10, 10]
joint_stiffness_nm_per_rad: [60, 60]
stride_time_cv: 0.02
step_length_cv: 0.025
hr_rest_bpm: 60
hr_speed_gain_bpm_per_mps2: 30
hr_max_bpm: 185
fatigue_per_min: 0.01
comfortable_speed_mps: 1.6
mtc_m: [0.013, 0.013]
mtc_sd_m: [0.004, 0.004]
max_toe_clearance_m: [0.35, 0.35]
knee_flexion_max_deg: [125, 125]
hip_flexion_max_deg: [95, 95]
reaction_time_s: 0.2
toe_off_pitch_deg: [55, 55]
"""
STEP_DOWN_STALL_MPS = 0.8  # a landing foot slower than this over the route while still in the air
STEP_DOWN_AIR_M = 0.01  # ... with its heel this far over the ground (1 cm)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_long_step_off_a_curb_is_not_halted_in_mid_air(tmp_path, seed):
    """A tall, fast walker's ~0.85 m step off a 10 cm curb: the stance knee bends to lower the body
    until the landing leg reaches the lower ground (STEP_DOWN_KNEE_MAX_RAD). The pelvis used to stop
    at its usual drop plus the curb's height, the landing leg straightened 1.5-3 cm over the ground
    and the foot stopped in mid-air (4.8 -> 0.35 m/s in 6 ms) until the swing's planned end: the
    core read it as a trip (a STUMBLE alarm for a healthy walker at every curb down)."""
    from devices.sim.patient import ExoDrive, PatientModel

    path = tmp_path / "tall-fast.yaml"
    path.write_text(TALL_FAST)
    p = load_profile(str(path))
    curb = {"kind": "curb_down", "at_m": 6.0, "height_m": 0.10}
    model = PatientModel(p, seed, obstacles=[curb])
    drive, v, t, dt = ExoDrive(), p.comfortable_speed_mps, 0.0, 0.002
    model.step(t, v, drive)
    stalls = []
    landed_down = 0
    prev_x = [None, None]
    while t < 12.0 / v:
        t += dt
        model.step(t, v, drive)
        for leg in model.legs:
            side = leg.side
            ground = model.walkway.ground_m(leg.heel[0])
            if leg.in_stance or leg.g1 >= leg.g0:
                if leg.in_stance and prev_x[side] is not None and leg.g1 < leg.g0:
                    landed_down += 1
                prev_x[side] = None
                continue
            # the landing foot's speed along the route (ankle_x is a route position)
            if prev_x[side] is not None and model._swing_progress(side) > 0.5:
                speed = (leg.ankle_x - prev_x[side]) / dt
                if speed < STEP_DOWN_STALL_MPS and leg.heel[1] - ground > STEP_DOWN_AIR_M:
                    stalls.append((round(t, 3), side, round(speed, 2), round(leg.heel[1] - ground, 3)))
            prev_x[side] = leg.ankle_x
    assert landed_down >= 1, "no foot stepped down the curb"
    assert not stalls, stalls[:5]
