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
