"""A short run of the progression bench's machinery: two sessions of the worsening patient on the
real core and rig; the second starts from the plan accepted after the first, and the profile the
bench walks changes between sessions as documented (recovery, then decline)."""

from __future__ import annotations

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


def _run(plans_speed_floor, directions, stumbles=0):
    from bench.progression import START_SCENE
    from engine.analysis.progression import Plan

    plans = [Plan(START_SCENE, v, g + 0.1, g, 0.3) for v, g in plans_speed_floor]
    return {"plans": plans, "directions": directions, "violations": 0, "stumbles": stumbles, "not_counted": 0,
            "true_trips": 0}


def test_the_keys_tell_the_three_patients_apart(monkeypatch):
    """`discriminates` needs the improving patient ahead of the stable one and the worsening one
    stepping back after its decline more often than the stable one over the same sessions; a
    stable patient stepping back as often as the worsening one is not discrimination."""
    import bench.progression as bp

    monkeypatch.setattr(bp, "WORSEN_AT", 2)
    improving = _run([(0.45, 0.6), (0.5, 0.5), (0.55, 0.4), (0.6, 0.3), (0.65, 0.2)], ["advance"] * 4)
    stable = _run([(0.45, 0.6), (0.5, 0.6), (0.5, 0.6), (0.5, 0.6), (0.5, 0.6)], ["advance", "hold", "hold", "hold"])
    worsening = _run([(0.45, 0.6), (0.5, 0.5), (0.55, 0.4), (0.45, 0.5), (0.35, 0.6)],
                     ["advance", "advance", "step_back", "step_back"], stumbles=3)
    k = bp.keys({"improving": improving, "stable": stable, "worsening": worsening})
    assert k["discriminates"] is True and k["worsening_stepped_back"] is True
    assert (k["stable_step_backs"], k["worsening_step_backs_after_decline"], k["stable_step_backs_after"]) == (0, 2, 0)
    assert (k["worsening_speed_peak_mps"], k["worsening_speed_end_mps"]) == (0.55, 0.35)
    assert k["improving_speed_end_mps"] == 0.65 and k["stable_speed_end_mps"] == 0.5 and k["stumbles"] == 3
    assert k["max_step_speed_mps"] == 0.1 and k["max_step_guidance"] == 0.1
    # the stable patient steps back as often after session 2: no discrimination, even though the
    # worsening patient "stepped back"
    stable = _run([(0.45, 0.6), (0.5, 0.6), (0.55, 0.5), (0.45, 0.6), (0.35, 0.7)],
                  ["advance", "advance", "step_back", "step_back"])
    k = bp.keys({"improving": improving, "stable": stable, "worsening": worsening})
    assert k["worsening_stepped_back"] is True and k["discriminates"] is False
    # the improving patient not ahead of the stable one: no discrimination either
    k = bp.keys({"improving": _run([(0.45, 0.6)] * 5, ["hold"] * 4), "stable": _run([(0.45, 0.6)] * 5, ["hold"] * 4),
                 "worsening": worsening})
    assert k["discriminates"] is False
