"""Progression rules: bounded steps, never beyond the prescription, a step back after a trip,
fatigue or a heart rate over the limit, and edits that cannot loosen the prescription."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analysis import progression as pg
from engine.analysis.progression import Performance, Plan, apply_edits, propose, within_prescription
from engine.control.prescription import Prescription
from engine.scene.loader import load_library

RX = Prescription(max_speed_mps=1.0, max_accel_mps2=0.4, max_decel_mps2=0.6, guidance_min=0.1, guidance_max=0.9,
                  bws_min=0.0, bws_max=0.4, max_heart_rate_bpm=130.0)
SCENES = load_library().scenes
START = Plan(scene_id="grocery-pharmacy-aisle", speed_mps=0.6, guidance=0.6, guidance_min=0.5, bws_fraction=0.3)


def good(**over) -> Performance:
    """A session that went well: every obstacle cleared with room, goals met, heart rate low."""
    base = dict(session_id=7, scene_id=START.scene_id, outcome="completed", walking_s=120.0, obstacles_attempted=6,
                obstacles_failed=0, trips=0, min_margin_m=0.05, clearance_m=0.015, clearance_drop=0.02,
                symmetry_index_pct=8.0, previous_symmetry_index_pct=9.0, hr_limit_bpm=130.0, hr_above_share=0.0,
                hr_late_mean_bpm=100.0, goals_set=2, goals_met=2, guidance_used=0.52, assist_as_needed=True)
    base.update(over)
    return Performance(**base)


def changes(proposal) -> dict[str, tuple]:
    return {c.name: (c.old, c.new, c.reason) for c in proposal.changes}


def test_a_good_session_advances_every_setting_by_one_bounded_step():
    p = propose("p1", good(), START, RX, sessions_on_scene=2, scenes=SCENES)
    assert p.direction == "advance"
    assert p.plan.speed_mps == pytest.approx(0.6 + pg.SPEED_UP_MPS)
    assert p.plan.guidance_min == pytest.approx(0.5 - pg.GUIDANCE_STEP)
    assert p.plan.guidance == pytest.approx(0.6 - pg.GUIDANCE_STEP)
    assert p.plan.bws_fraction == pytest.approx(0.3 - pg.BWS_STEP)
    harder = SCENES[p.plan.scene_id]
    assert SCENES[START.scene_id].difficulty == "gentle" and harder.difficulty == "moderate"
    assert all(c.reason for c in p.changes)


def test_assistance_used_above_the_floor_keeps_the_floor_and_the_speed():
    """The patient needed the exoskeleton at this pace: no less help and no faster belt."""
    p = propose("p1", good(guidance_used=0.85), START, RX, sessions_on_scene=2, scenes=SCENES)
    assert p.plan.guidance_min == START.guidance_min
    assert "70% of the room above the floor" in changes(p)["guidance_min"][2]
    assert p.plan.speed_mps == START.speed_mps
    assert "needed the exoskeleton at this pace" in changes(p)["speed_mps"][2]
    p = propose("p1", good(guidance_used=0.6, guidance_saturated_share=0.3), START, RX, sessions_on_scene=2,
                scenes=SCENES)
    assert p.plan.guidance_min == START.guidance_min
    assert "at its top 30%" in changes(p)["guidance_min"][2]
    assert p.plan.speed_mps == START.speed_mps and "at its top 30%" in changes(p)["speed_mps"][2]
    # fixed guidance: nothing adapted, nothing to read
    p = propose("p1", good(guidance_used=0.85, assist_as_needed=False), START, RX, sessions_on_scene=2, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps


def test_the_first_session_on_a_scene_keeps_the_scene():
    p = propose("p1", good(), START, RX, sessions_on_scene=1, scenes=SCENES)
    assert p.plan.scene_id == START.scene_id


def test_no_harder_scene_before_its_obstacles_were_crossed():
    p = propose("p1", good(obstacles_attempted=0, min_margin_m=math.nan), START, RX, sessions_on_scene=3,
                scenes=SCENES)
    assert p.plan.scene_id == START.scene_id and "not yet shown" in changes(p)["scene_id"][2]
    assert p.plan.speed_mps > START.speed_mps  # the rest still advances


def test_clamped_to_the_prescription_with_the_reason():
    top = replace(START, speed_mps=0.98, guidance=0.15, guidance_min=0.15, bws_fraction=0.02)
    p = propose("p1", good(guidance_used=0.16), top, RX, sessions_on_scene=2, scenes=SCENES)
    assert p.plan.speed_mps == RX.max_speed_mps
    assert "prescription's maximum" in changes(p)["speed_mps"][2]
    assert p.plan.guidance_min == RX.guidance_min and p.plan.bws_fraction == RX.bws_min
    assert within_prescription(p.plan, RX) == []


@pytest.mark.parametrize("with_it", [dict(previous_trips=1), dict(clearance_m=0.008), dict(goals_met=1),
                                     dict(obstacles_failed=1)])
def test_one_trip_with_another_sign_slows_and_eases_the_scene_but_keeps_the_assistance(with_it):
    moderate = replace(START, scene_id="grocery-weekday-errands")
    perf = good(trips=1, scene_id=moderate.scene_id, **with_it)
    p = propose("p1", perf, moderate, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.direction == "step_back"
    assert p.plan.speed_mps == pytest.approx(0.6 - pg.SPEED_UP_MPS)
    assert SCENES[p.plan.scene_id].difficulty == "gentle"
    assert (p.plan.guidance_min, p.plan.bws_fraction) == (START.guidance_min, START.bws_fraction)


def test_one_trip_alone_on_a_good_day_holds_and_steps_nothing_back():
    """A single event is a sample of one: on a day otherwise in order (and none last session) the
    plan holds; it does not advance either."""
    moderate = replace(START, scene_id="grocery-weekday-errands")
    p = propose("p1", good(trips=1, scene_id=moderate.scene_id), moderate, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.direction == "hold"
    assert p.plan == moderate
    assert "one event alone does not step back" in changes(p)["speed_mps"][2]


def test_a_decline_against_the_patients_own_recent_sessions_steps_back():
    p = propose("p1", good(clearance_m=0.012, baseline_clearance_m=0.019), START, RX, sessions_on_scene=3,
                scenes=SCENES)
    assert p.direction == "step_back" and "decline: toe clearance 12.0 mm, down from 19.0 mm" in " ".join(p.notes)
    # within the noise (under 5 mm), or a small share, or still above a healthy adult's 13 mm: no decline
    for clearance, baseline in ((0.015, 0.019), (0.030, 0.0355), (0.0178, 0.0243)):
        p = propose("p1", good(clearance_m=clearance, baseline_clearance_m=baseline), START, RX,
                    sessions_on_scene=3, scenes=SCENES)
        assert p.direction == "advance", (clearance, baseline)


@pytest.mark.parametrize("bad, why", [
    (dict(trips=2), "trips"),
    (dict(clearance_drop=0.4, clearance_drop_m=0.006), "fatigue"),
    (dict(hr_above_share=0.3, hr_late_mean_bpm=135.0), "heart rate"),
    (dict(obstacles_failed=3), "obstacle crossings failed"),
    (dict(outcome="stopped"), "stopped"),
])
def test_a_bad_day_steps_back(bad, why):
    p = propose("p1", good(**bad), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.direction == "step_back"
    assert p.plan.speed_mps == pytest.approx(0.6 - pg.SPEED_DOWN_MPS)
    assert p.plan.guidance_min == pytest.approx(0.5 + pg.GUIDANCE_STEP)
    assert p.plan.bws_fraction == pytest.approx(0.3 + pg.BWS_STEP)
    assert why in changes(p)["speed_mps"][2]


def test_missed_goals_and_worse_symmetry_hold():
    p = propose("p1", good(goals_met=1), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and p.plan.bws_fraction == START.bws_fraction
    assert p.plan.scene_id == START.scene_id
    p = propose("p1", good(symmetry_index_pct=20.0), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and "symmetry" in changes(p)["speed_mps"][2]
    # the index is signed (which side is longer): worse means further from 0, either way
    p = propose("p1", good(symmetry_index_pct=-20.0, previous_symmetry_index_pct=9.0), START, RX, sessions_on_scene=3,
                scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and "symmetry" in changes(p)["speed_mps"][2]
    p = propose("p1", good(symmetry_index_pct=-11.3, previous_symmetry_index_pct=-82.8), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.direction == "advance"


def test_a_short_session_is_no_sign_of_trouble_for_a_lone_trip():
    p = propose("p1", good(trips=1, walking_s=8.0), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.direction == "hold" and p.plan == START


def test_a_clearance_drop_within_the_noise_is_not_fatigue():
    p = propose("p1", good(clearance_drop=0.35, clearance_drop_m=0.0017), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.direction != "step_back"


def test_a_clearance_drop_that_ends_above_the_healthy_mean_is_not_fatigue():
    """Assist-as-needed lowers its guidance within a session when the patient needs less, and the
    swing it lifted comes down: 25.4 -> 18.8 mm is no tiring (the old rule stepped back for it).
    The same share ending below 13 mm (Winter's healthy young mean) still steps back."""
    p = propose("p1", good(clearance_m=0.019, clearance_drop=0.26, clearance_drop_m=0.0066), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.direction != "step_back" and p.plan.speed_mps > START.speed_mps
    assert any("not fatigue" in n for n in p.notes)
    p = propose("p1", good(clearance_drop=0.4, clearance_drop_m=0.007), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.direction == "step_back" and "fatigue" in changes(p)["speed_mps"][2]


def test_too_little_walking_holds_everything():
    p = propose("p1", good(walking_s=5.0), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan == START and p.direction == "hold"


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=120, deadline=None)
@given(
    speed=st.floats(0.1, 1.2), floor=st.floats(0.0, 1.0), start_extra=st.floats(0.0, 0.5), bws=st.floats(0.0, 0.6),
    walking=st.floats(0.0, 600.0), attempted=st.integers(0, 12), failed_share=st.floats(0.0, 1.0),
    trips=st.integers(0, 2), margin=st.one_of(st.just(math.nan), st.floats(-0.05, 0.2)),
    clearance=st.one_of(st.just(math.nan), st.floats(0.0, 0.05)), drop=st.one_of(st.just(math.nan), st.floats(-1, 1)),
    hr_share=st.one_of(st.just(math.nan), st.floats(0, 1)), used=st.one_of(st.just(math.nan), st.floats(0, 1)),
    saturated=st.one_of(st.just(math.nan), st.floats(0, 1)),
    aan=st.booleans(), goals=st.integers(0, 3), met=st.integers(0, 3), on_scene=st.integers(1, 5),
    rx_speed=st.floats(0.2, 3.0), rx_g=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    rx_b=st.tuples(st.floats(0, 0.6), st.floats(0, 0.6)), outcome=st.sampled_from(["completed", "stopped"]),
)
def test_every_proposal_is_within_the_prescription_and_the_step_bounds(
        speed, floor, start_extra, bws, walking, attempted, failed_share, trips, margin, clearance, drop, hr_share,
        used, saturated, aan, goals, met, on_scene, rx_speed, rx_g, rx_b, outcome):
    rx = Prescription(max_speed_mps=rx_speed, guidance_min=min(rx_g), guidance_max=max(rx_g), bws_min=min(rx_b),
                      bws_max=max(rx_b), max_heart_rate_bpm=130.0)
    # a plan inside the prescription (proposal_for clamps a stored one the same way)
    lo, hi = rx.guidance_min, rx.guidance_max
    g_floor = min(max(floor, lo), hi)
    current = Plan("grocery-pharmacy-aisle", min(speed, rx_speed), min(g_floor + start_extra, hi), g_floor,
                   min(max(bws, rx.bws_min), rx.bws_max), aan)
    perf = good(outcome=outcome, walking_s=walking, obstacles_attempted=attempted,
                obstacles_failed=round(attempted * failed_share), trips=trips, min_margin_m=margin,
                clearance_m=clearance, clearance_drop=drop, clearance_drop_m=0.006, hr_above_share=hr_share, guidance_used=used,
                guidance_saturated_share=saturated, assist_as_needed=aan, goals_set=goals, goals_met=min(met, goals))
    p = propose("p", perf, current, rx, on_scene, SCENES)
    assert within_prescription(p.plan, rx) == []
    assert -pg.SPEED_DOWN_MPS - 1e-6 <= p.plan.speed_mps - current.speed_mps <= pg.SPEED_UP_MPS + 1e-6
    assert abs(p.plan.guidance_min - current.guidance_min) <= pg.GUIDANCE_STEP + 1e-6
    assert abs(p.plan.bws_fraction - current.bws_fraction) <= pg.BWS_STEP + 1e-6
    assert p.plan.scene_id in SCENES
    levels = pg.DIFFICULTY
    assert abs(levels.index(SCENES[p.plan.scene_id].difficulty) - levels.index(SCENES[current.scene_id].difficulty)) <= 1
    if trips >= 2 or outcome == "stopped":
        assert p.direction == "step_back" or walking < pg.MIN_WALKING_S
    if trips or outcome == "stopped":  # one trip alone holds: nothing advances after any trip
        assert p.direction in ("step_back", "hold") or walking < pg.MIN_WALKING_S
        assert p.plan.speed_mps <= current.speed_mps and p.plan.guidance_min >= current.guidance_min
        assert p.plan.bws_fraction >= current.bws_fraction


def test_edits_never_go_beyond_the_prescription():
    with pytest.raises(ValueError, match="speed_mps 1.5 outside"):
        apply_edits(START, ["speed_mps=1.5"], RX)
    with pytest.raises(ValueError, match="guidance_min 0.05 outside"):
        apply_edits(START, ["guidance_min=0.05"], RX)
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        apply_edits(START, ["max_speed_mps=2"], RX)
    with pytest.raises(ValueError, match="not a valid float"):
        apply_edits(START, ["bws_fraction=lots"], RX)
    with pytest.raises(ValueError, match="no scene 'moon-walk'"):
        apply_edits(START, ["scene_id=moon-walk"], RX, set(SCENES))
    edited = apply_edits(START, ["speed_mps=0.7", "assist_as_needed=off"], RX, set(SCENES))
    assert edited.speed_mps == 0.7 and edited.assist_as_needed is False


def test_one_touch_in_a_short_session_is_a_near_miss():
    """One failed crossing of two keeps the scene and the guidance floor; speed still advances.
    The same share over enough crossings holds everything."""
    p = propose("p1", good(obstacles_attempted=2, obstacles_failed=1), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.scene_id == START.scene_id and p.plan.guidance_min == START.guidance_min
    assert p.plan.speed_mps == pytest.approx(0.6 + pg.SPEED_UP_MPS)
    assert any("near miss" in note for note in p.notes)
    p = propose("p1", good(obstacles_attempted=8, obstacles_failed=2), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and p.direction == "hold"


def _steps(step_s: float = 0.55, n: int = 40, late_at: float | None = None, late_by_s: float = 0.0):
    """Alternating steps (left at even, right at odd indexes) of one step time; the right step
    after `late_at` (a stumble's time) lasts `late_by_s` longer."""
    from types import SimpleNamespace

    import numpy as np

    t = np.arange(1, n + 1) * step_s
    side = np.arange(n) % 2
    times = np.full(n, step_s)
    if late_at is not None:
        k = int(np.flatnonzero((side == 1) & (t > late_at))[0])
        times[k] += late_by_s
        t[k:] += late_by_s
    return SimpleNamespace(step_t_s=t, step_side=side, step_time_s=times)


def test_a_stumble_whose_swing_went_on_undisturbed_is_not_counted_as_a_trip():
    stumble = {"t_s": 10.3, "side": 1}
    assert pg._swing_undisturbed(_steps(), stumble)
    # the tripped side's next step 0.2 s late (an elevating strategy) or early: a trip
    assert not pg._swing_undisturbed(_steps(late_at=10.3, late_by_s=0.2), stumble)
    assert not pg._swing_undisturbed(_steps(late_at=10.3, late_by_s=-0.15), stumble)
    # cannot be told: no side, or no step of that side after it
    assert not pg._swing_undisturbed(_steps(), {"t_s": 10.3, "side": -1})
    assert not pg._swing_undisturbed(_steps(n=18), {"t_s": 10.3, "side": 1})


def test_the_therapists_judgement_of_a_stumble_is_read_from_the_audit_log(tmp_path):
    from engine.records.store import Store

    stumbles = [{"t_s": 4.0, "side": 0}, {"t_s": 9.5, "side": 1}]
    with Store(tmp_path / "r.db") as store:
        store.ensure_patient("p-1")
        session_id = store.start_session("p-1", "test-walk", {}, {})
        assert pg._therapist_not_trips(store, session_id, stumbles) == set()
        store.log_setting(session_id, "anna", pg.STUMBLE_REVIEW_SETTING, None, {"t_s": 9.5, "judgement": "not_a_trip"})
        assert pg._therapist_not_trips(store, session_id, stumbles) == {1}
        store.log_setting(session_id, "anna", pg.STUMBLE_REVIEW_SETTING, None, {"t_s": None, "judgement": "not_a_trip"})
        assert pg._therapist_not_trips(store, session_id, stumbles) == {0, 1}
        store.log_setting(session_id, "ben", pg.STUMBLE_REVIEW_SETTING, None, {"t_s": 4.0, "judgement": "trip"})
        assert pg._therapist_not_trips(store, session_id, stumbles) == {1}  # the latest judgement wins


def test_a_foot_that_barely_clears_the_floor_is_not_walked_faster():
    p = propose("p1", good(clearance_m=0.0), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and "toe clearance 0.0 mm below 5 mm" in changes(p)["speed_mps"][2]
    assert (p.plan.guidance_min, p.plan.bws_fraction) == (START.guidance_min, START.bws_fraction)
    # below the healthy minimum but not dragging: speed may still advance, floor and support hold
    p = propose("p1", good(clearance_m=0.008), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps
    assert (p.plan.guidance_min, p.plan.bws_fraction) == (START.guidance_min, START.bws_fraction)


def test_strides_more_variable_than_the_patients_own_recent_sessions_hold_the_speed():
    """Strain above the patient's capacity shows as more variable strides (devices/sim/effort.py):
    the speed holds; a rise within the noise (under ~0.01 s, Brach 2010) does not."""
    p = propose("p1", good(stride_time_sd_s=0.052, baseline_stride_time_sd_s=0.035, stride_count=25), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and "strides more variable" in changes(p)["speed_mps"][2]
    assert p.direction != "step_back"
    # the same rise from 7 strides is within sampling noise (chi-square, 95 %)
    p = propose("p1", good(stride_time_sd_s=0.046, baseline_stride_time_sd_s=0.035, stride_count=7), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps
    p = propose("p1", good(stride_time_sd_s=0.041, baseline_stride_time_sd_s=0.035, stride_count=25), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps
    # a patient whose strides were always this variable is not held by it
    p = propose("p1", good(stride_time_sd_s=0.052, baseline_stride_time_sd_s=0.05, stride_count=25), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps


def test_the_variance_ratio_limit_is_the_chi_square_quantile():
    # chi-square 95 % points (tables): df 6 -> 12.592, df 24 -> 36.415
    assert pg.variance_ratio_limit(7) == pytest.approx(12.592 / 6, rel=0.01)
    assert pg.variance_ratio_limit(25) == pytest.approx(36.415 / 24, rel=0.01)


def test_heart_rate_near_the_limit_holds_and_above_it_steps_back():
    p = propose("p1", good(hr_late_mean_bpm=126.0), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and p.plan.bws_fraction == START.bws_fraction
    assert "near the 130 bpm limit" in changes(p)["speed_mps"][2] and p.direction == "hold"
    p = propose("p1", good(hr_above_share=0.3, hr_late_mean_bpm=133.0), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.direction == "step_back" and p.plan.speed_mps < START.speed_mps


def test_a_heart_rate_heading_for_the_limit_holds_the_pace():
    """A short session ends before the heart rate settles: where its rise was heading counts. The
    old rule read the late mean only (100 bpm) and sped the belt up."""
    p = propose("p1", good(hr_late_mean_bpm=100.0, hr_steady_bpm=126.0, hr_tau_s=25.0), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and p.plan.bws_fraction == START.bws_fraction
    assert "heading for 126 bpm" in changes(p)["speed_mps"][2] and p.direction != "step_back"
    p = propose("p1", good(hr_late_mean_bpm=100.0, hr_steady_bpm=110.0, hr_tau_s=25.0), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps


def test_a_pace_held_for_heart_rate_is_not_advanced_on_a_session_too_short_to_judge_it():
    """The bench's worsening patient, held at 0.70 m/s with its heart rate heading for 135 bpm,
    was sped up after a session whose walking a stumble response cut short (no fit, late mean
    83 bpm): the old rule read the missing projection as a heart rate in order."""
    short = dict(walking_s=15.0, hr_late_mean_bpm=100.0, hr_steady_bpm=math.nan)
    p = propose("p1", good(previous_hr_near_limit=True, **short), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and "too little to see where it was heading" in changes(p)["speed_mps"][2]
    assert p.direction != "step_back"
    p = propose("p1", good(previous_hr_near_limit=False, **short), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps
    # the session before is read through the same rules
    assert pg._hr_near_limit(good(hr_steady_bpm=126.0)) and not pg._hr_near_limit(good(hr_steady_bpm=110.0))
    assert pg._hr_near_limit(good(hr_above_share=0.2)) and not pg._hr_near_limit(good(hr_limit_bpm=0.0))


def test_the_steady_heart_rate_is_fitted_from_a_short_rise():
    import numpy as np

    rng = np.random.default_rng(3)
    t = np.arange(0.0, 45.0, 0.01)
    beats = rng.normal(0.0, 1.0, 45)  # a 1 Hz sensor with 1 bpm noise
    rise = 118.0 - (118.0 - 72.0) * np.exp(-t / 25.0) + beats[t.astype(int)]
    steady, tau = pg.hr_steady_state(t, rise)
    assert steady == pytest.approx(118.0, abs=3.0) and 15.0 < tau < 40.0
    late = rise[t >= 30.0].mean()
    assert late < 0.95 * 118.0  # what the late mean alone saw
    # no approach to a steady state (a straight climb), or too short: no projection
    assert math.isnan(pg.hr_steady_state(t, 72.0 + 0.5 * t)[0])
    assert math.isnan(pg.hr_steady_state(t[:1000], rise[:1000])[0])


def test_a_symmetry_change_within_the_patients_own_spread_does_not_hold():
    """|SI| swinging 8-44 % between the patient's recent sessions: 37 % is nothing new; against
    recent sessions that all sat near 9 %, 20 % is."""
    noisy = good(symmetry_index_pct=-36.9, previous_symmetry_index_pct=8.6,
                 recent_symmetry_index_pct=(-44.1, 21.2, 8.6))
    p = propose("p1", noisy, START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps > START.speed_mps and any("recent spread" in n for n in p.notes)
    steady = good(symmetry_index_pct=20.0, previous_symmetry_index_pct=9.0, recent_symmetry_index_pct=(8.0, 10.0, 9.0))
    p = propose("p1", steady, START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and "symmetry" in changes(p)["speed_mps"][2]


# ---- a step back whose cause did not improve is not repeated (issue 12) ----------------------
DECLINE = dict(clearance_m=0.006, baseline_clearance_m=0.014)  # 8 mm below the last sessions


def test_a_step_back_whose_cause_did_not_improve_is_not_repeated():
    first = propose("p1", good(session_id=3, **DECLINE), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert first.direction == "step_back" and first.causes == {"decline": pytest.approx(-0.006)}
    after = first.plan
    # the session at the stepped-back plan: the same decline, no better (5 mm now, 6 mm then)
    again = propose("p1", good(session_id=4, clearance_m=0.005, baseline_clearance_m=0.012), after, RX,
                    sessions_on_scene=4, scenes=SCENES, last_step_back=first)
    assert again.direction == "hold"
    assert again.plan.speed_mps == after.speed_mps and again.plan.guidance_min == after.guidance_min
    assert again.plan.bws_fraction == after.bws_fraction
    why = changes(again)["speed_mps"][2]
    assert "not stepped back again" in why and "session 3" in why and "6.0 mm then, 5.0 mm now" in why
    assert "therapist decides" in why
    assert again.causes == {}


def test_a_step_back_that_helped_or_a_new_cause_or_a_core_stop_steps_back_again():
    first = propose("p1", good(session_id=3, **DECLINE), START, RX, sessions_on_scene=3, scenes=SCENES)
    after = first.plan
    better = good(session_id=4, clearance_m=0.007, baseline_clearance_m=0.013)  # still a decline, but 7 > 6 mm
    assert propose("p1", better, after, RX, scenes=SCENES, last_step_back=first).direction == "step_back"
    new_cause = good(session_id=4, clearance_m=0.005, baseline_clearance_m=0.012, hr_above_share=0.3)
    p = propose("p1", new_cause, after, RX, scenes=SCENES, last_step_back=first)
    assert p.direction == "step_back" and set(p.causes) == {"decline", "heart_rate"}
    stopped = good(session_id=4, clearance_m=0.005, baseline_clearance_m=0.012, outcome="stopped")
    assert propose("p1", stopped, after, RX, scenes=SCENES, last_step_back=first).direction == "step_back"
    # no earlier step back to compare with: as before
    assert propose("p1", good(session_id=4, clearance_m=0.005, baseline_clearance_m=0.012), after, RX,
                   scenes=SCENES).direction == "step_back"


def test_the_last_step_back_is_found_in_the_sessions_until_the_plan_advances(monkeypatch):
    rx = RX

    def session(i, speed, floor):
        return {"id": i, "scene_id": START.scene_id, "outcome": "completed",
                "settings": {"speed_fraction": speed / rx.max_speed_mps, "guidance": floor, "guidance_min": floor}}

    asked = []

    def proposal_after(store, code, sessions, rx_, scenes, last):
        asked.append(sessions[-1]["id"])
        return pg.Proposal(code, sessions[-1]["id"], START, START, "step_back", causes={"decline": -0.006})

    monkeypatch.setattr(pg, "_proposal_after", proposal_after)
    walked = [session(1, 0.6, 0.5), session(2, 0.6, 0.5), session(3, 0.5, 0.6), session(4, 0.5, 0.6)]
    assert pg._last_step_back(None, "p1", walked, rx, None).based_on_session == 2 and asked == [2]
    advanced = walked + [session(5, 0.55, 0.6)]
    assert pg._last_step_back(None, "p1", advanced, rx, None) is None
    assert pg._last_step_back(None, "p1", walked[:2], rx, None) is None  # no step back at all


def test_session_symmetry_comes_from_all_its_steps_not_the_last_pair():
    """The simulated session's summary held the index of its last left and right steps only; the
    rule now reads the session's median step length per side (one long last step moves nothing)."""
    from types import SimpleNamespace

    import numpy as np

    left = [0.40, 0.41, 0.39, 0.40, 0.40, 0.40, 0.52]  # the last left step long
    right = [0.36, 0.36, 0.35, 0.37, 0.36, 0.36, 0.30]  # the last right step short
    data = SimpleNamespace(step_length_m=np.array(left + right), step_side=np.array([0] * 7 + [1] * 7))
    assert pg._step_length_symmetry_pct(data) == pytest.approx((0.40 - 0.36) / 0.38 * 100.0)
    last_pair = (0.52 - 0.30) / 0.41 * 100.0  # what the live value said: 54 %
    assert last_pair > 50.0 and pg._step_length_symmetry_pct(data) < 11.0
    few = SimpleNamespace(step_length_m=np.array([0.4, 0.4, 0.3, 0.3]), step_side=np.array([0, 0, 1, 1]))
    assert math.isnan(pg._step_length_symmetry_pct(few))


def test_a_trip_step_back_that_did_not_help_is_not_repeated():
    """One trip with a trip the session before steps back by 0.05 m/s; the same again at the
    slower plan holds (the merged full bench walked both patients down to 0.10 m/s that way)."""
    first = propose("p1", good(session_id=3, trips=1, previous_trips=1), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert first.direction == "step_back" and first.causes == {"trips": 1.0}
    again = propose("p1", good(session_id=4, trips=1, previous_trips=1), first.plan, RX, scenes=SCENES,
                    last_step_back=first)
    assert again.direction == "hold" and again.plan.speed_mps == first.plan.speed_mps
    assert "not stepped back again" in changes(again)["speed_mps"][2]


def test_a_flat_hazard_stepped_in_holds_the_speed_but_not_the_guidance_floor():
    """A puddle stepped in is foot placement, not the swing's lift: guidance (which lifts the
    swing) comes down as on a good day; the speed holds for the failed share as for any obstacle.
    The old rule held the floor for any failed crossing (the bench's improving patient at 0.40
    from its 4th session, for the aisle's puddle)."""
    p = propose("p1", good(obstacles_attempted=4, obstacles_failed=1, obstacles_failed_flat=1), START, RX,
                sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and "foot placement" in changes(p)["speed_mps"][2]
    assert p.plan.guidance_min == pytest.approx(START.guidance_min - pg.GUIDANCE_STEP)
    assert p.plan.scene_id == START.scene_id
    # the same share from a box (the swing's lift) holds the floor too
    p = propose("p1", good(obstacles_attempted=4, obstacles_failed=1), START, RX, sessions_on_scene=3, scenes=SCENES)
    assert p.plan.speed_mps == START.speed_mps and p.plan.guidance_min == START.guidance_min


def _fake_session(monkeypatch, store, scene_id: str, results: list[dict], longest_step_m: float):
    """A recorded session whose data (engine.analysis.session_data.load_session) are built: steps
    up to `longest_step_m`, the given obstacle results, nothing else of note."""
    from types import SimpleNamespace

    import numpy as np

    import engine.analysis.session_data as sd
    from engine.control.prescription import Prescription

    store.ensure_patient("p-1")
    store.add_prescription("p-1", RX, who="test")
    session_id = store.start_session("p-1", scene_id, {}, {})
    n = 40
    lengths = np.linspace(0.40, longest_step_m, n)
    data = SimpleNamespace(
        walking_time_s=60.0, obstacle_results=results, step_length_m=lengths, step_side=np.arange(n) % 2,
        step_t_s=np.arange(n) * 0.6, step_time_s=np.full(n, 0.6), toe_clearance_m=np.full(n, 0.02),
        stride_time_s=np.full(n, 1.2), stride_steady=np.ones(n, bool), stride_side=np.arange(n) % 2,
        heart_rate_bpm=np.zeros(0), walking=np.zeros(0, bool), tel_t_s=np.zeros(0),
        prescription=Prescription(leg_length_l_m=0.9, leg_length_r_m=0.9).to_dict())
    monkeypatch.setattr(sd, "load_session", lambda store_, sid: data)
    return session_id


def test_a_puddle_longer_than_any_step_is_left_out_of_the_obstacle_rules(tmp_path, monkeypatch):
    """The pharmacy aisle's puddle is 0.8 m along the route: stepping over it takes a step of
    0.8 m plus a foot (0.26 m for a 0.9 m leg); a patient whose longest step was 0.62 m can only
    walk through it. Its crossings are noted, not judged; the box's count as before."""
    from engine.records.store import Store

    scene = SCENES["grocery-pharmacy-aisle"]
    order = [o.kind for o in scene.obstacles_in_timeline_order()]
    puddle, box = order.index("puddle"), order.index("box")
    results = [{"obstacle": puddle, "kind": "puddle", "side": 0, "t_s": 30.0, "margin_m": -0.01, "outcome": "touched",
                "failed": True},
               {"obstacle": puddle, "kind": "puddle", "side": 1, "t_s": 30.5, "margin_m": 0.03, "outcome": "cleared",
                "failed": False},
               {"obstacle": box, "kind": "box", "side": 0, "t_s": 50.0, "margin_m": 0.05, "outcome": "cleared",
                "failed": False},
               {"obstacle": box, "kind": "box", "side": 1, "t_s": 50.5, "margin_m": 0.04, "outcome": "cleared",
                "failed": False}]
    with Store(tmp_path / "r.db") as store:
        sid = _fake_session(monkeypatch, store, scene.id, results, longest_step_m=0.62)
        perf = pg.assess(store, sid)
    assert (perf.obstacles_attempted, perf.obstacles_failed, perf.obstacles_not_steppable) == (2, 0, 2)
    p = propose("p1", perf, START, RX, sessions_on_scene=3, scenes=SCENES)
    assert any("cannot be stepped over" in n for n in p.notes)
    assert p.plan.guidance_min < START.guidance_min
    # a patient whose steps reach 1.1 m could have stepped over it: the touch counts (flat)
    with Store(tmp_path / "r2.db") as store:
        sid = _fake_session(monkeypatch, store, scene.id, results, longest_step_m=1.1)
        perf = pg.assess(store, sid)
    assert (perf.obstacles_attempted, perf.obstacles_failed, perf.obstacles_failed_flat) == (4, 1, 1)
    assert perf.obstacles_not_steppable == 0


def test_assistance_used_leaves_out_the_stumble_response(tmp_path, monkeypatch):
    """During a stumble response the core sets full guidance until the alarm is acknowledged;
    session_data leaves that stretch out of walking, and so does "assistance used" (the old rule
    read it as assist-as-needed at its top for the rest of the session)."""
    import numpy as np

    from engine.control.layout import RunState
    from engine.records.store import Store

    with Store(tmp_path / "r.db") as store:
        sid = _fake_session(monkeypatch, store, "grocery-pharmacy-aisle", [], longest_step_m=0.6)
        import engine.analysis.session_data as sd

        data = sd.load_session(store, sid)
        n = 4000
        t = np.arange(n) * 0.01
        tel = np.zeros(n, dtype=[("t_s", "<f8"), ("run_state", "<i4"), ("belt_speed_mps", "<f4"), ("guidance", "<f4")])
        tel["t_s"], tel["run_state"], tel["belt_speed_mps"] = t, int(RunState.RUNNING), 0.8
        tel["guidance"] = np.where(t < 10.0, 0.3, 1.0)  # a stumble at 10 s: full guidance after it
        data.tel_t_s, data.walking = t, t < 10.0
        data.heart_rate_bpm = np.zeros(0)
        monkeypatch.setattr(store, "telemetry", lambda session_id, fields=None: tel)
        perf = pg.assess(store, sid)
    assert perf.guidance_used == pytest.approx(0.3) and perf.guidance_saturated_share == 0.0
