"""Pace modes on the real core + virtual rig (engine.sim, simulated clock): in FIXED mode a
step-over obstacle does not slow the belt; in SCENE mode (the default) its plan does."""

from __future__ import annotations

import pytest

from engine.control.layout import RunState


def _min_speed_near_box(pace: str) -> tuple[float, float]:
    """(lowest belt command between 14 and 21 m of route, cruise) walking sidewalk-curb-crossing,
    whose first obstacle is a 15 cm box at 20 m (a step-over) whose approach speed is 80 % of the prescription: cruise is 100 %."""
    from engine.sim.session import SimOptions, run_simulation

    seen = {"min": 9.9, "cruise": 0.0}

    def probe(t, core, rig):
        if core.run_state != RunState.RUNNING:
            return
        if 8.0 < core.s_m < 12.0:
            seen["cruise"] = max(seen["cruise"], core.supervisor.speed_cmd_mps)
        if 14.0 < core.s_m < 21.0:
            seen["min"] = min(seen["min"], core.supervisor.speed_cmd_mps)

    run_simulation(SimOptions(scene="sidewalk-curb-crossing", profile="healthy", duration_s=30.0, db=None,
                              pace=pace, settings={"speed_fraction": 1.0}, probe=probe))
    return seen["min"], seen["cruise"]


@pytest.mark.timeout(600)
def test_fixed_pace_ignores_step_over_slowdowns_and_scene_pace_keeps_them():
    low_fixed, cruise_fixed = _min_speed_near_box("fixed")
    low_scene, cruise_scene = _min_speed_near_box("scene")
    assert cruise_fixed > 0.5 and cruise_scene == pytest.approx(cruise_fixed, abs=0.01)
    assert low_fixed == pytest.approx(cruise_fixed, abs=0.01)
    assert low_scene < cruise_scene - 0.05, "the scene plan no longer slows for the box: this test proves nothing"
