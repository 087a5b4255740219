"""The findings bench's ground truth from the rig (bench/findings.py): what a simulated patient
really did, judged by each detector's published threshold, and labels it contradicts.

Truths are built as a rig would record them (heel strikes, toe offs, steps, swings with their
minimum toe clearance), from gait numbers of the literature, not from the detectors' code.
"""

from __future__ import annotations

import random

from bench.findings import (
    ground_truth,
    physiology_truth,
    selected_jobs,
    summarise,
    true_load_share,
    true_poor_obstacles,
)


def rig_truth(mtc_m=(0.013, 0.013), scuff_every=0, stride_s=1.07, stride_cv=0.015, stance=(0.62, 0.62),
              step_m=(0.70, 0.70), n_strides=60, seed=1) -> dict:
    """A walk as the rig records it: left heel strikes every stride, right half a stride later."""
    rng = random.Random(seed)
    hs, to, steps, swings = [], [], [], []
    t = 2.0
    last = {0: None, 1: None}
    for k in range(n_strides):
        stride = stride_s * (1.0 + stride_cv * rng.gauss(0.0, 1.0))
        for side, at in ((0, t), (1, t + 0.5 * stride)):
            hs.append({"side": side, "t_s": at})
            to.append({"side": side, "t_s": at + stance[side] * stride})
            other = last[1 - side]
            if other is not None:
                steps.append({"side": side, "t_s": at, "length_m": step_m[side], "time_s": at - other})
            if last[side] is not None:
                clearance = 0.0 if scuff_every and k % scuff_every == 0 else mtc_m[side] + 0.002 * rng.gauss(0.0, 1.0)
                swings.append({"side": side, "heel_strike_t_s": at, "signed_clearance_m": clearance})
            last[side] = at
        t += stride
    return {"heel_strikes": hs, "toe_offs": to, "steps": steps, "toe_clearance": swings, "stances": []}


def steady_of(truth: dict) -> list[tuple[float, int]]:
    return [(e["t_s"], e["side"]) for e in truth["heel_strikes"]][4:]


def test_a_healthy_walk_shows_no_deviation():
    # Winter: MTC 1.3 cm; Hausdorff: stride CV 1.5 %; 0.70 m steps at 112 steps/min; stance 62 %
    truth = rig_truth()
    done = physiology_truth(truth, (), steady_of(truth))
    assert {k: v[0] for k, v in done.items()} == {
        "foot_drop_left": False, "foot_drop_right": False, "low_clearance": False, "shuffling": False,
        "asymmetry": False, "high_variability": False}


def test_a_dropped_foot_and_short_variable_steps_show():
    # paretic left: MTC 0.3 cm (below Winter's mean - 2 SD); Parkinsonian-like short steps (walk
    # ratio 0.48 m / 125 steps/min = 0.0038) varying 5 %; asymmetric stance 56 / 70 %
    truth = rig_truth(mtc_m=(0.003, 0.012), stride_s=0.96, stride_cv=0.05, stance=(0.56, 0.70), step_m=(0.48, 0.48))
    done = physiology_truth(truth, (), steady_of(truth))
    assert done["foot_drop_left"][0] and not done["foot_drop_right"][0] and done["low_clearance"][0]
    assert done["shuffling"][0] and done["high_variability"][0] and done["asymmetry"][0]
    assert "stance time 1.25" in done["asymmetry"][1]


def test_scuffs_alone_make_a_foot_drop_and_stumble_responses_are_left_out():
    truth = rig_truth(scuff_every=3)  # a third of the swings scrape (> 18.7 %)
    assert physiology_truth(truth)["foot_drop_left"][0]
    # every swing left out: the truth cannot say
    assert physiology_truth(truth, [(0.0, 1000.0)])["foot_drop_left"] is None


def test_contradicted_labels_are_listed():
    pred = {k: False for k in ("asymmetry", "low_clearance", "foot_drop_left", "foot_drop_right", "shuffling",
                               "freezing", "high_variability", "long_double_support", "obstacle_performance",
                               "slow_speed", "heart_rate_zone", "weight_bearing_asymmetry")}
    truth = dict.fromkeys(pred, None)
    scored = {**truth, "asymmetry": True}
    out = summarise([
        {"profile": "p", "seed": 0, "truth": scored, "pred": pred, "suggestions": [], "contradicted": {}},
        # assess() scores a contradicted session by the rig's truth: here "no low clearance"
        {"profile": "q", "seed": 0, "truth": {**truth, "low_clearance": False}, "pred": pred, "suggestions": [],
         "contradicted": {"low_clearance": "label yes, the rig's truth no (MTC 1.5 cm)"}},
    ])
    assert out["asymmetry.sensitivity"] == 0.0 and out["asymmetry.positives"] == 1
    assert out["low_clearance.label_contradicted"] == 1 and out["low_clearance.positives"] == 0
    assert out["low_clearance.negatives"] == 1 and out["low_clearance.specificity"] == 1.0
    assert out["label_contradictions"] == ["low_clearance:q:0: label yes, the rig's truth no (MTC 1.5 cm)"]


def test_load_share_leaves_out_the_standing_start():
    # the stance the patient stood in before the belt started (3 s of full load) is not walking
    stances = [{"side": 0, "t_s": 0.0, "duration_s": 2.9, "impulse_ns": 2000.0}]
    stances += [{"side": s, "t_s": 3.0 + k, "duration_s": 0.7, "impulse_ns": 400.0 if s == 0 else 600.0}
                for k in range(10) for s in (0, 1)]
    truth = {"stances": stances, "heel_strikes": [{"side": 1, "t_s": 2.95}]}
    assert true_load_share(truth) == 0.4


def test_asymmetry_truth_is_judged_over_the_steps_the_detector_took():
    # 60 strides: the first 40 with the right step 22 % short (a step-length ratio 1.27, above
    # Patterson's 1.08), the last 20 symmetric; the detector took only the last 20 (say, the
    # steady ones). The rig's truth of those same steps is symmetric; over every step it is not.
    truth = rig_truth(n_strides=60)
    cut = truth["heel_strikes"][80]["t_s"]
    for s in truth["steps"]:
        if s["side"] == 1 and s["t_s"] < cut:
            s["length_m"] = 0.55
    used = [(s["t_s"], s["side"]) for s in truth["steps"] if s["t_s"] >= cut]
    strides = [(e["t_s"], e["side"]) for e in truth["heel_strikes"] if e["t_s"] >= cut]
    assert physiology_truth(truth)["asymmetry"][0]
    done = physiology_truth(truth, (), (), used, strides)
    assert not done["asymmetry"][0], done["asymmetry"][1]
    assert "step length 1.00" in done["asymmetry"][1]
    # too few of the detector's steps match the rig's (fewer than 8 a leg): judged over all
    assert physiology_truth(truth, (), (), used[:6], strides[:6])["asymmetry"][0]


def test_only_the_named_sessions_are_rerun():
    jobs = [(f"/p/{name}.yaml", "scene", seed, 150.0) for name in ("healthy", "parkinsonian") for seed in range(4)]
    assert selected_jobs(jobs, "") == jobs
    assert selected_jobs(jobs, "parkinsonian:1, healthy:3") == [jobs[3], jobs[5]]
    try:
        selected_jobs(jobs, "parkinsonian:7")
    except ValueError as exc:
        assert "parkinsonian:7" in str(exc)
    else:
        raise AssertionError("an unknown session was accepted")


def test_freezing_truth_is_what_the_rig_recorded_not_the_label():
    walk = rig_truth(n_strides=20)
    froze = {**walk, "freezing": [{"t_s": 21.0, "duration_s": 1.6}, {"t_s": 43.9, "duration_s": 0.66}]}
    brief = {**walk, "freezing": [{"t_s": 43.9, "duration_s": 0.66}]}  # shorter than Mancini's 1 s
    assert ground_truth({"freezing"}, froze)["freezing"] is True
    assert ground_truth({"freezing"}, brief)["freezing"] is None  # nothing to judge the detector by
    assert ground_truth(set(), walk)["freezing"] is False
    # a profile without the label that froze in this session: a freeze all the same
    assert ground_truth({"shuffling"}, froze)["freezing"] is True


def test_a_puddle_no_step_could_cross_is_no_obstacle_failure_in_the_truth():
    # the rig's truth of a walker whose longest step is 0.75 m, foot 0.18 m ankle to toe + 0.05 m
    # heel: a 0.9 m puddle needs a 1.13 m step (walked through: left out), a 0.3 m one 0.53 m
    truth = rig_truth(step_m=(0.75, 0.75))
    truth["geometry"] = {"foot_length_m": 0.18, "heel_to_ankle_m": 0.05}
    truth["obstacles"] = [{"obstacle": 0, "kind": "puddle", "depth_m": 0.9}, {"obstacle": 1, "kind": "puddle", "depth_m": 0.3},
                          {"obstacle": 2, "kind": "box", "depth_m": 0.3}]

    def crossings(index: int, outcome: str) -> list[dict]:
        return [{"obstacle": index, "kind": truth["obstacles"][index]["kind"], "side": side, "outcome": outcome if side == 0 else "cleared"}
                for side in (0, 1)]

    truth["crossings"] = crossings(0, "touched") + crossings(2, "cleared")
    assert true_poor_obstacles(truth, 4 / 24) is False
    truth["crossings"] = crossings(1, "touched") + crossings(2, "cleared")
    assert true_poor_obstacles(truth, 4 / 24) is True
