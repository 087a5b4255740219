"""A short run of the progression bench's machinery: two sessions of the worsening patient on the
real core and rig; the second starts from the plan accepted after the first, and the profile the
bench walks changes between sessions as documented (recovery, then decline)."""

from __future__ import annotations

from dataclasses import replace

import pytest


@pytest.mark.timeout(900)
def test_two_sessions_each_start_from_the_accepted_plan(tmp_path, monkeypatch):
    import bench.progression as bp
    from devices.sim.profiles import load_profile
    from engine.records.store import Store

    monkeypatch.setattr(bp, "WORSEN_AT", 1)  # the second session already declines
    result = bp._patient("worsening", 2, 12.0, tmp_path)
    assert result["violations"] == 0
    first, after_first, after_second = result["plans"]
    assert first == bp._start_plan()
    with Store(tmp_path / "worsening.db") as store:
        sessions = store.list_sessions("bench-worsening")
        plans = store.session_plans("bench-worsening")
        rx = store.current_prescription("bench-worsening")
    assert [p["based_on_session"] for p in plans] == [s["id"] for s in sessions]
    assert [p["who"] for p in plans] == ["bench", "bench"]
    # the second session ran with the first accepted plan, the scene it names included
    second = sessions[1]
    assert second["scene_id"] == after_first.scene_id
    assert second["settings"]["speed_fraction"] == pytest.approx(after_first.speed_mps / rx.max_speed_mps, abs=1e-4)
    assert second["settings"]["guidance_min"] == pytest.approx(after_first.guidance_min)
    # the profile walked: session 1 as written; session 2 moved toward the moderate profile and tired
    base, worse = load_profile(bp.PROFILE), load_profile(bp.WORSE_PROFILE)
    walked = load_profile(str(tmp_path / "worsening-2.yaml"))
    assert walked.fatigue_per_min == bp.FATIGUED
    assert worse.mtc_m[1] < walked.mtc_m[1] < base.mtc_m[1]


def _run(plans_speed_floor, directions, stumbles=0, reasons=None, comfortable=None, fast=None):
    from bench.progression import START_SCENE
    from engine.analysis.progression import Plan

    plans = [Plan(START_SCENE, v, g + 0.1, g, 0.3) for v, g in plans_speed_floor]
    out = {"plans": plans, "directions": directions, "violations": 0, "stumbles": stumbles, "not_counted": 0,
           "true_trips": 0, "speed_reasons": reasons or ["advance"] * len(directions)}
    if comfortable is not None:
        out.update(comfortable_speed_mps=comfortable, max_speed_mps=fast)
    return out


def test_the_keys_tell_the_three_patients_apart(monkeypatch):
    """`discriminates` needs the improving patient progressing ahead of the stable one, the stable
    one on a plateau near its capacity held by strain, and the worsening one stepping back after its
    decline more often than the stable one over the same sessions."""
    import bench.progression as bp

    monkeypatch.setattr(bp, "WORSEN_AT", 2)
    monkeypatch.setattr(bp, "PLATEAU_SESSIONS", 3)
    improving = _run([(0.45, 0.6), (0.5, 0.5), (0.55, 0.4), (0.6, 0.3), (0.65, 0.2)], ["advance"] * 4)
    stable = _run([(0.45, 0.6), (0.5, 0.6), (0.55, 0.6), (0.55, 0.6), (0.55, 0.6)], ["advance", "advance", "hold", "hold"],
                  reasons=["advance", "advance", "heart_rate", "variability"], comfortable=0.5, fast=0.8)
    worsening = _run([(0.45, 0.6), (0.5, 0.5), (0.55, 0.4), (0.45, 0.5), (0.35, 0.6)],
                     ["advance", "advance", "step_back", "step_back"], stumbles=3)
    k = bp.keys({"improving": improving, "stable": stable, "worsening": worsening})
    assert k["discriminates"] is True and k["worsening_stepped_back"] is True
    assert k["stable_plateau_reasons"] == {"advance": 1, "heart_rate": 1, "variability": 1}
    assert (k["stable_step_backs"], k["worsening_step_backs_after_decline"], k["stable_step_backs_after"]) == (0, 2, 0)
    assert (k["worsening_speed_peak_mps"], k["worsening_speed_end_mps"]) == (0.55, 0.35)
    assert k["improving_speed_end_mps"] == 0.65 and k["stable_speed_end_mps"] == 0.55 and k["stumbles"] == 3
    assert k["max_step_speed_mps"] == 0.1 and k["max_step_guidance"] == 0.1
    # the stable patient steps back as often after session 2: no discrimination, even though the
    # worsening patient "stepped back"
    backs = _run([(0.45, 0.6), (0.5, 0.6), (0.55, 0.5), (0.45, 0.6), (0.35, 0.7)],
                 ["advance", "advance", "step_back", "step_back"], comfortable=0.5, fast=0.8)
    k = bp.keys({"improving": improving, "stable": backs, "worsening": worsening})
    assert k["worsening_stepped_back"] is True and k["discriminates"] is False
    assert k["discriminates_worsening_back"] is False
    # the improving patient not ahead of the stable one: no discrimination either
    k = bp.keys({"improving": _run([(0.45, 0.6)] * 5, ["hold"] * 4), "stable": _run([(0.45, 0.6)] * 5, ["hold"] * 4),
                 "worsening": worsening})
    assert k["discriminates"] is False


def test_a_degenerate_outcome_does_not_discriminate(monkeypatch):
    """What the old key accepted: a stable patient held far below its capacity (0.5 m/s, its
    comfortable speed 0.9), or held there by an obstacle rather than strain, or everybody stepped
    down with the improving one a step less far."""
    import bench.progression as bp

    monkeypatch.setattr(bp, "WORSEN_AT", 2)
    monkeypatch.setattr(bp, "PLATEAU_SESSIONS", 3)
    improving = _run([(0.45, 0.6), (0.5, 0.5), (0.55, 0.4), (0.6, 0.3), (0.65, 0.2)], ["advance"] * 4)
    worsening = _run([(0.45, 0.6), (0.5, 0.5), (0.55, 0.4), (0.45, 0.5), (0.35, 0.6)],
                     ["advance", "advance", "step_back", "step_back"])
    low = _run([(0.45, 0.6), (0.5, 0.6), (0.5, 0.6), (0.5, 0.6), (0.5, 0.6)], ["advance", "hold", "hold", "hold"],
               reasons=["advance", "heart_rate", "heart_rate", "heart_rate"], comfortable=0.9, fast=1.43)
    k = bp.keys({"improving": improving, "stable": low, "worsening": worsening})
    assert k["discriminates_improving_ahead"] and k["discriminates_worsening_back"]
    assert k["discriminates_stable_plateau"] is False and k["discriminates"] is False
    # a step back on the plateau and the climb after it is still a plateau; a climb is not
    wobble = _run([(0.45, 0.6), (0.55, 0.6), (0.6, 0.6), (0.5, 0.6), (0.55, 0.6)],
                  ["advance", "hold", "step_back", "advance"], reasons=["advance", "heart_rate", "clearance", "advance"],
                  comfortable=0.5, fast=0.8)
    assert bp.keys({"improving": improving, "stable": wobble, "worsening": worsening})["discriminates_stable_plateau"]
    climb = _run([(0.45, 0.6), (0.5, 0.6), (0.55, 0.6), (0.6, 0.6), (0.65, 0.6)], ["advance"] * 3 + ["hold"],
                 reasons=["heart_rate", "heart_rate", "heart_rate", "heart_rate"], comfortable=0.5, fast=0.8)
    assert not bp.keys({"improving": improving, "stable": climb, "worsening": worsening})["discriminates_stable_plateau"]
    puddle = _run([(0.45, 0.6), (0.5, 0.6), (0.55, 0.6), (0.55, 0.6), (0.55, 0.6)],
                  ["advance", "advance", "hold", "hold"], reasons=["advance", "advance", "obstacles", "obstacles"],
                  comfortable=0.5, fast=0.8)
    assert bp.keys({"improving": improving, "stable": puddle, "worsening": worsening})["discriminates"] is False
    down = _run([(0.45, 0.6), (0.4, 0.7), (0.35, 0.8), (0.3, 0.9), (0.3, 0.9)], ["step_back"] * 3 + ["hold"])
    further = _run([(0.45, 0.6), (0.4, 0.7), (0.35, 0.8), (0.3, 0.9), (0.25, 0.9)], ["step_back"] * 4)
    k = bp.keys({"improving": down, "stable": further, "worsening": worsening})
    assert k["discriminates_improving_ahead"] is False and k["discriminates"] is False


def test_speed_reasons_are_read_by_category():
    import bench.progression as bp

    assert bp.reason_of("hold: heart rate heading for 118 bpm at this pace") == "heart_rate"
    assert bp.reason_of("hold: 25% of obstacle crossings failed (> 10%)") == "obstacles"
    assert bp.reason_of("walked well at this speed: obstacles, goals, heart rate in order") == "advance"
    assert bp.reason_of("hold: strides more variable: stride-time SD 48 ms") == "variability"


def _plans_run(plans, directions):
    return {"plans": plans, "directions": directions, "violations": 0, "stumbles": 0, "not_counted": 0,
            "true_trips": 0, "speed_reasons": ["advance"] * len(directions)}


def test_improving_ahead_counts_all_four_axes(monkeypatch):
    """`discriminates_improving_ahead` compares the end plans over speed, guidance floor, support and
    scene difficulty (docs/progression.md "Which plan is ahead"). Before issue 12's fourth round it
    compared speed and floor only: an improving patient ahead by the scene alone was not ahead."""
    import bench.progression as bp
    from engine.analysis.progression import Plan

    monkeypatch.setattr(bp, "WORSEN_AT", 2)
    monkeypatch.setattr(bp, "PLATEAU_SESSIONS", 3)
    worsening = _run([(0.45, 0.6), (0.5, 0.5), (0.55, 0.4), (0.45, 0.5), (0.35, 0.6)],
                     ["advance", "advance", "step_back", "step_back"])

    def walk(ends_on: Plan) -> dict:  # from the bench's start to `ends_on`, four plans in between
        start = bp._start_plan()
        return _plans_run([start, replace(start, speed_mps=0.5), replace(start, speed_mps=0.55),
                           replace(start, speed_mps=0.6), ends_on], ["advance"] * 4)

    stable_end = Plan(bp.START_SCENE, 0.8, 0.3, 0.2, 0.1)
    stable = walk(stable_end)
    # the same speed, floor and support one difficulty level up
    k = bp.keys({"improving": walk(replace(stable_end, scene_id="grocery-weekday-errands")), "stable": stable,
                 "worsening": worsening})
    assert k["discriminates_improving_ahead"] is True
    assert k["improving_ahead_steps"] == {"speed": 0.0, "guidance_floor": 0.0, "bws": 0.0, "scene": 1.0, "total": 1.0}
    # behind on everything
    k = bp.keys({"improving": walk(Plan(bp.START_SCENE, 0.7, 0.5, 0.4, 0.15)), "stable": walk(
        replace(stable_end, scene_id="grocery-busy-saturday")), "worsening": worsening})
    assert k["discriminates_improving_ahead"] is False and k["discriminates"] is False
    assert all(v < 0 for v in k["improving_ahead_steps"].values())
    # a tie on every axis
    k = bp.keys({"improving": walk(stable_end), "stable": stable, "worsening": worsening})
    assert k["discriminates_improving_ahead"] is False and k["improving_ahead_steps"]["total"] == 0.0
    # faster by two steps on the hard scene, one floor and one support step behind (the third
    # round's end plans, at the bench's scale): ahead by 2 in total
    k = bp.keys({"improving": walk(Plan("grocery-busy-saturday", 0.9, 0.4, 0.3, 0.15)), "stable": stable,
                 "worsening": worsening})
    assert k["improving_ahead_steps"] == {"speed": 2.0, "guidance_floor": -1.0, "bws": -1.0, "scene": 2.0, "total": 2.0}
    assert k["discriminates_improving_ahead"] is True
