"""Each detector on physiologically built sessions (tests/analysis/walker.py), not on its formula."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.analysis.findings import analyse_session, detect_freezing, detect_variability
from engine.analysis.suggestions import EVIDENCE_LEVELS, scenes_for, suggest_all
from tests.analysis.walker import walk


def by_key(findings):
    out = {}
    for f in findings:
        out[f.key] = f
    return out


GAIT_DETECTORS = ("asymmetry", "low_clearance", "foot_drop", "shuffling", "freezing", "high_variability",
                  "long_double_support", "obstacle_performance")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_healthy_adult_has_no_finding(seed):
    # Bohannon 1997: ~1.3 m/s; ~112 steps/min; stance 62 %; stride CV 1.5 % (Hausdorff 1999); MTC 1.3 cm (Winter)
    f = by_key(analyse_session(walk(seed=seed)))
    for key in GAIT_DETECTORS:
        assert not f[key].present, (key, f[key].summary)
    assert f["asymmetry"].assessed and f["high_variability"].assessed and f["shuffling"].assessed


def test_hemiparetic_left_asymmetry_and_foot_drop_on_the_left():
    # paretic left: longer swing (right heel strike early in the left stride), short stance,
    # dropped foot (MTC 0.3 cm with scuffs), 0.55 m/s at 80 steps/min (Perry limited community)
    d = walk(speed_mps=0.55, cadence_spm=80, stance=(0.56, 0.70), right_phase=0.44, stride_cv=0.02,
             mtc_m=(0.003, 0.012), mtc_sd_m=(0.004, 0.005))
    f = by_key(analyse_session(d))
    assert f["asymmetry"].present
    bad = {m["measure"] for m in f["asymmetry"].evidence["measures"] if m["asymmetric"]}
    assert {"step time", "stance time", "swing time"} <= bad
    assert f["asymmetry"].side == 0  # the left swing is the longer one
    assert f["foot_drop"].present and f["foot_drop"].side == 0
    assert f["low_clearance"].present and f["low_clearance"].side == 0
    legs = {leg["side"]: leg for leg in f["foot_drop"].evidence["legs"]}
    assert legs["left"]["scuff_share"] > 0.19 and legs["right"]["median_cm"] > 1.0


def test_parkinsonian_short_steps_variability_and_double_support():
    # Zanardi 2021: shorter steps at a higher cadence, longer double support; stride CV ~5 %
    d = walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), stride_cv=0.05, mtc_m=(0.009, 0.009))
    f = by_key(analyse_session(d))
    assert f["shuffling"].present
    assert f["shuffling"].evidence["cadence_spm"] == pytest.approx(125, abs=3)
    assert f["high_variability"].present
    assert f["long_double_support"].present
    assert f["long_double_support"].evidence["double_support_pct"] == pytest.approx(32, abs=1)
    assert not f["asymmetry"].present


def test_normal_step_length_at_a_slow_belt_is_not_shuffling():
    # a healthy walker on a slow belt takes shorter steps at a lower cadence: the walk ratio holds
    d = walk(speed_mps=0.6, cadence_spm=78)  # 0.46 m at 78 steps/min: walk ratio 0.0059
    assert not by_key(analyse_session(d))["shuffling"].present


def test_freezing_episodes_counted_with_durations():
    d = walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), stride_cv=0.04, freezes=[(30.0, 2.5), (70.0, 6.0)])
    f = detect_freezing(d)
    assert f.present and f.evidence["count"] == 2
    durations = sorted(e["duration_s"] for e in f.evidence["episodes"])
    assert durations[0] == pytest.approx(2.5, abs=0.5)
    assert durations[1] == pytest.approx(6.0, abs=0.5)
    assert f.evidence["classes"]["over_5_s"] == 1


def test_no_freezing_without_episodes_even_with_high_variability():
    d = walk(speed_mps=1.0, cadence_spm=125, stride_cv=0.06)
    assert not detect_freezing(d).present


def test_variability_uses_the_older_norm_when_age_is_known():
    # 75 years, CV 2.8 % of a 1.1 s stride = ~31 ms SD: within the older-adult norm, above none
    older = walk(cadence_spm=108, stride_cv=0.028, age_years=75)
    f = detect_variability(older)
    assert f.assessed and not f.present and "SD" in f.summary
    young = walk(cadence_spm=108, stride_cv=0.045)
    assert detect_variability(young).present


def test_variability_only_over_steady_strides():
    d = walk(stride_cv=0.012, duration_s=90)
    # the therapist lowers the speed from 1.25 to 0.8 m/s between 40 and 42 s
    change = (d.tel_t_s > 40) & (d.tel_t_s < 42)
    d.belt_speed_mps = d.belt_speed_mps.copy()
    d.belt_speed_mps[change] = np.linspace(1.25, 0.8, change.sum())
    d.belt_speed_mps[d.tel_t_s >= 42] = 0.8
    from engine.analysis.session_data import steady_strides

    steady = steady_strides(d.stride_t_s, d.stride_time_s, d.stride_side, d.tel_t_s, d.belt_speed_mps, d.walking,
                            np.zeros(len(d.tel_t_s), dtype=bool), np.array([0.0]))
    spanning = (d.stride_t_s > 40.2) & (d.stride_t_s - d.stride_time_s < 41.8)
    assert spanning.any() and not steady[spanning].any()
    assert steady[(d.stride_t_s > 20) & (d.stride_t_s < 39)].all()
    assert steady[d.stride_t_s > 45].all()
    early = d.stride_t_s < 5.0
    assert not steady[early].any()  # warm-up


def test_speed_only_from_a_self_selected_measure():
    f = by_key(analyse_session(walk(speed_mps=0.5, cadence_spm=75)))
    assert not f["slow_speed"].assessed and "not measured" in f["slow_speed"].summary
    f = by_key(analyse_session(walk(self_selected_mps=0.55)))
    assert f["slow_speed"].present and f["slow_speed"].evidence["class"] == "limited community"
    f = by_key(analyse_session(walk(self_selected_mps=0.3)))
    assert f["slow_speed"].evidence["class"] == "household"
    assert not by_key(analyse_session(walk(self_selected_mps=1.3)))["slow_speed"].present


def test_obstacle_performance_by_kind():
    res = [{"obstacle": i, "kind": "box", "side": i % 2, "t_s": 10.0 + i, "margin_m": -0.02 if i < 2 else 0.05,
            "outcome": "tripped" if i < 2 else "cleared", "failed": i < 2} for i in range(4)]
    res += [{"obstacle": 10 + i, "kind": "cable", "side": i % 2, "t_s": 50.0 + i, "margin_m": 0.06,
             "outcome": "cleared", "failed": False} for i in range(6)]
    f = by_key(analyse_session(walk(obstacles=res)))["obstacle_performance"]
    assert f.present
    kinds = {k["kind"]: k for k in f.evidence["kinds"]}
    assert kinds["box"]["poor"] and not kinds["cable"]["poor"]
    assert "box" in f.summary and "cable" not in f.summary


def _puddles(scene_id: str) -> dict[float, int]:
    from engine.scene.loader import find_scene

    return {float(o.depth_m): i for i, o in enumerate(find_scene(scene_id).obstacles_in_timeline_order())
            if o.kind == "puddle"}


def test_a_puddle_no_step_could_cross_is_no_obstacle_failure():
    # sidewalk-rainy-evening has 0.6 m and 0.9 m puddles. Steps of 0.96 m (1.6 m/s at 100 steps/min)
    # and a 0.9 m leg (foot 0.152 / 0.530 of it: 0.26 m, Drillis & Contini) cross 0.6 + 0.26 m, not
    # 0.9 + 0.26 m: stepping in the long one is walking through it, not a failed step-over (Chen 1991
    # count stepping on an obstacle the walker steps over); stepping in the short one is a failure.
    puddles = _puddles("sidewalk-rainy-evening")
    short, long_ = puddles[0.6], puddles[0.9]

    def session(index: int):
        rows = [{"obstacle": index, "kind": "puddle", "side": side, "t_s": 30.0 + side, "margin_m": -0.01,
                 "outcome": "touched", "failed": True} for side in (0, 1)]
        rows += [{"obstacle": 99, "kind": "curb_down", "side": side, "t_s": 60.0 + side, "margin_m": 0.05,
                  "outcome": "cleared", "failed": False} for side in (0, 1)]
        d = replace(walk(speed_mps=1.6, cadence_spm=100.0, obstacles=rows,
                         prescription={"leg_length_l_m": 0.9, "leg_length_r_m": 0.9}),
                    scene_id="sidewalk-rainy-evening")
        return by_key(analyse_session(d))["obstacle_performance"]

    through = session(long_)
    assert through.assessed and not through.present
    assert [(x["obstacle"], x["crossings"]) for x in through.evidence["left_out"]] == [(long_, 2)]
    assert "left out: puddle 0.90 m" in through.summary
    assert [k["kind"] for k in through.evidence["kinds"]] == ["curb_down"]
    stepped_in = session(short)
    assert stepped_in.present and "puddle: 2 of 2" in stepped_in.summary
    assert "left_out" not in stepped_in.evidence


def test_heart_rate_zone():
    f = by_key(analyse_session(walk(hr_bpm=150, prescription={"hr_zone_low_bpm": 100, "hr_zone_high_bpm": 130})))
    assert f["heart_rate_zone"].present and f["heart_rate_zone"].evidence["direction"] == "above"
    f = by_key(analyse_session(walk(hr_bpm=115, prescription={"hr_zone_low_bpm": 100, "hr_zone_high_bpm": 130})))
    assert f["heart_rate_zone"].assessed and not f["heart_rate_zone"].present
    f = by_key(analyse_session(walk(hr_bpm=115)))
    assert not f["heart_rate_zone"].assessed


def test_every_present_finding_has_suggestions_with_evidence_levels():
    d = walk(speed_mps=0.55, cadence_spm=80, stance=(0.56, 0.70), right_phase=0.44, stride_cv=0.05,
             mtc_m=(0.003, 0.012), self_selected_mps=0.5, hr_bpm=150,
             prescription={"hr_zone_low_bpm": 100, "hr_zone_high_bpm": 130})
    findings = analyse_session(d)
    present = [f for f in findings if f.present]
    assert len(present) >= 4
    sugg = suggest_all(findings)
    for f in present:
        assert sugg[f.key], f.key
        for s in sugg[f.key]:
            assert s.evidence_level in EVIDENCE_LEVELS and s.source


def test_scenes_are_chosen_by_training_targets_and_obstacle_kind():
    from engine.scene.loader import load_library

    lib = [s for s in load_library().scenes.values() if not s.abstract]
    for sid in scenes_for(["clearance"], lib):
        scene = next(s for s in lib if s.id == sid)
        assert "clearance" in scene.training_targets
    for sid in scenes_for([], lib, obstacle_kinds=["curb_up"]):
        scene = next(s for s in lib if s.id == sid)
        assert any(o.kind == "curb_up" for o in scene.obstacles)
    assert "grocery-cued-walk" in scenes_for(["doorways"], lib)


def test_heart_rate_zone_from_the_prescribed_limit():
    # rest ~70 bpm before walking, then 150 bpm against a prescribed limit of 160: above 70 % HRR (133)
    d = walk(prescription={"max_heart_rate_bpm": 160.0})
    d.heart_rate_bpm = np.where(d.tel_t_s < 15.0, 70.0, 150.0)
    f = by_key(analyse_session(d))["heart_rate_zone"]
    assert f.present and f.evidence["direction"] == "above"
    assert f.evidence["zone_bpm"] == [106.0, 133.0]
    d.heart_rate_bpm = np.where(d.tel_t_s < 15.0, 70.0, 120.0)
    assert not by_key(analyse_session(d))["heart_rate_zone"].present


def test_weight_bearing_trend_measure_is_the_under_loaded_share():
    from engine.analysis.findings import Finding
    from engine.analysis.trend import MEANINGFUL, _primary

    f = Finding("weight_bearing_asymmetry", "Weight-bearing asymmetry", False,
                evidence={"legs": [{"load_share": 0.44}, {"load_share": 0.56}]})
    assert _primary(f) == -0.44  # a falling share of the under-loaded leg reads as worse
    f.evidence = {"legs": [{"load_share": None}, {"load_share": 0.5}]}
    assert _primary(f) is None
    assert MEANINGFUL["weight_bearing_asymmetry"][0] == "load_share_mdc"


def _without_steps(d, a_s: float, b_s: float):
    keep = ~((d.step_t_s > a_s) & (d.step_t_s < b_s))
    d.step_t_s, d.step_side = d.step_t_s[keep], d.step_side[keep]
    d.step_length_m, d.step_time_s, d.toe_clearance_m = d.step_length_m[keep], d.step_time_s[keep], d.toe_clearance_m[keep]
    return d


def test_akinetic_freeze_is_no_step_while_the_belt_carries_the_feet_away():
    # 4 s without a heel strike at 1.25 m/s: the belt carried the stance foot back 5 m (7 steps)
    d = _without_steps(walk(seed=4), 40.0, 44.0)
    f = detect_freezing(d)
    assert f.present and [e["kind"] for e in f.evidence["episodes"]] == ["akinetic"]
    # from the last heel strike before the gap to the first after it: 4 s plus up to a step (0.54 s)
    assert 4.0 <= f.evidence["episodes"][0]["duration_s"] <= 4.0 + 2 * 0.54


def test_a_crawl_on_a_belt_slowed_to_a_protective_speed_is_not_a_freeze():
    # the same 4 s without a heel strike while the belt crept at 0.06 m/s (a stumble response's
    # protective speed): the feet were carried 0.24 m, less than one step: no absence of progression
    d = _without_steps(walk(seed=4), 40.0, 44.0)
    slow = (d.tel_t_s > 39.5) & (d.tel_t_s < 44.5)
    d.belt_speed_mps = np.where(slow, 0.06, d.belt_speed_mps)
    assert not detect_freezing(d).present


def test_a_freeze_inside_a_stumble_response_still_counts():
    # the gait detectors leave the stumble response out; a freeze is an event of the session
    whole = walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), freezes=[(50.0, 3.0)])
    d = _without_steps(walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), freezes=[(50.0, 3.0)]), 49.5, 55.0)
    d.protective_windows = [(49.5, 55.0)]  # as load_session leaves a stumble response out:
    d.walking = d.walking & ~((d.tel_t_s >= 49.5) & (d.tel_t_s <= 55.0))  # its steps and its walking
    assert not detect_freezing(d).present  # the window's steps alone: nothing left to see
    d.whole_steps = {"t_s": whole.step_t_s, "time_s": whole.step_time_s, "length_m": whole.step_length_m}
    d.whole_walking = whole.walking
    f = detect_freezing(d)
    trembling = [e for e in f.evidence["episodes"] if e["kind"] == "trembling"]
    assert f.present and len(trembling) == 1 and trembling[0]["duration_s"] == pytest.approx(3.0, abs=0.5)


def test_a_freeze_whose_trembling_steps_scatter_in_length_is_one_episode():
    # The rig's parkinsonian-freezing patient, seed 1 (bench findings): a 1.59 s freeze of 7
    # trembling steps 0.225 s apart whose heel-to-heel lengths, measured on the running belt,
    # were 0.6, -5.3, 24.1, 3.3, 7.9, 13.5 and 11.4 cm (median step 47.5 cm). The 24 cm step
    # is longer than 0.4 x the median; the episode as a whole barely progresses (mean 8 cm).
    lengths = (0.006, -0.053, 0.241, 0.033, 0.079, 0.135, 0.114)
    d = walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), stride_cv=0.04, freezes=[(40.0, 1.55)],
             freeze_step_m=lengths)
    f = detect_freezing(d)
    assert f.present and f.evidence["count"] == 1, f.summary
    episode = f.evidence["episodes"][0]
    assert episode["kind"] == "trembling" and episode["steps"] == 7
    assert episode["duration_s"] == pytest.approx(1.55, abs=0.25)
    assert episode["mean_step_length_m"] == pytest.approx(sum(lengths) / 7, abs=0.001)


def test_fast_steps_that_progress_are_not_a_freeze():
    # the same 7 fast steps, but each covering 30 cm (0.63 x the median step): hurried steps that
    # move the patient forward (festination-like), not a freeze; one short step among them
    # (3 cm) does not make the run a freeze either
    d = walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), stride_cv=0.04, freezes=[(40.0, 1.55)],
             freeze_step_m=(0.30, 0.30, 0.30, 0.03, 0.30, 0.30, 0.30))
    assert not detect_freezing(d).present


def test_a_freeze_is_measured_against_the_patients_own_steps_not_a_protective_crawl():
    # rig, parkinsonian seed 1: 23 stumble responses held the belt at its protective crawl for
    # most of the session (1.2-1.5 s steps of ~20 cm). A 2 s freeze of trembling steps averaging
    # 11 cm barely progresses against the patient's own 48 cm steps, but not against a median
    # pulled down to the crawl's
    lengths = (0.06, 0.16, 0.02, 0.20, 0.09, 0.14, 0.11, 0.08)
    whole = walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), stride_cv=0.04, freezes=[(8.0, 2.0)],
                 freeze_step_m=lengths, duration_s=120.0)
    window = (20.0, 110.0)
    keep = (whole.step_t_s < window[0]) | (whole.step_t_s > window[1])
    crawl_t = np.arange(window[0] + 1.3, window[1], 1.3)
    d = _without_steps(walk(speed_mps=1.0, cadence_spm=125, stance=(0.66, 0.66), stride_cv=0.04, freezes=[(8.0, 2.0)],
                            freeze_step_m=lengths, duration_s=120.0), *window)
    d.protective_windows = [window]
    d.walking = d.walking & ~((d.tel_t_s >= window[0]) & (d.tel_t_s <= window[1]))
    d.whole_steps = {"t_s": np.concatenate([whole.step_t_s[keep], crawl_t]),
                     "time_s": np.concatenate([whole.step_time_s[keep], np.full(len(crawl_t), 1.3)]),
                     "length_m": np.concatenate([whole.step_length_m[keep], np.full(len(crawl_t), 0.20)])}
    d.whole_walking = whole.walking
    assert len(crawl_t) > np.count_nonzero(keep)  # the crawl's steps are most of the session's
    f = detect_freezing(d)
    assert f.present and f.evidence["count"] == 1, f.summary
    assert f.evidence["median_step_length_m"] == pytest.approx(0.48, abs=0.03)
