"""The patient HUD: what it says for goals, the next obstacle, outcomes, tasks and the summary."""

from __future__ import annotations

import numpy as np
import pytest

from engine.control import layout
from engine.render.hud import FEEDBACK_HOLD_S, HudModel, PatientHud, TaskView, obstacle_cue


def _timeline() -> np.ndarray:
    rows = np.zeros(3, dtype=layout.TIMELINE_DTYPE)
    rows["at_m"] = [10.0, 20.0, 30.0]
    rows["height_m"] = [0.12, 0.0, 0.0]
    rows["category"] = [layout.ObstacleCategory.STEP_OVER, layout.ObstacleCategory.STEP_OVER, layout.ObstacleCategory.YIELD]
    rows["period_s"] = [0, 0, 40.0]
    rows["active_s"] = [0, 0, 20.0]
    return rows


def _state(s_m=0.0, t_s=0.0, next_obstacle=0) -> np.ndarray:
    state = np.zeros((), dtype=layout.STATE_DTYPE)
    state["s_m"] = s_m
    state["scene_time_s"] = t_s
    state["next_obstacle"] = next_obstacle
    state["obstacles"]["triggered_at_s"] = np.nan
    return state


def test_cues_follow_the_obstacle_category():
    rows = _timeline()
    assert obstacle_cue(rows[0]) == "step high"
    assert obstacle_cue(rows[1]) == "step over"
    assert obstacle_cue(rows[2]) == "wait"


def test_next_obstacle_goals_and_cleared_feedback():
    model = HudModel(_timeline(), ["curb up", "puddle", "traffic light"])
    model.set_goals(steps=100)
    state = _state(s_m=4.2, t_s=5.0)
    state["steps"] = 12
    content = model.update(state)
    assert content.next_obstacle == "Curb up in 6 m: step high"
    assert content.goals[0] == "Steps 12 / 100"
    assert content.feedback == ""
    state["obstacles"]["outcome"][0] = layout.ObstacleOutcome.CLEARED
    state["obstacles"]["margin_m"][0] = 0.05
    state["scene_time_s"] = 9.0
    state["next_obstacle"] = 1
    content = model.update(state)
    assert content.feedback == "Cleared the curb up! (+5 cm)"
    assert content.feedback_kind == "cleared"
    assert content.score == 10
    state["scene_time_s"] = 9.0 + FEEDBACK_HOLD_S + 0.1
    assert model.update(state).feedback == ""  # shown for a while, then gone


def test_hit_feedback_and_summary():
    model = HudModel(_timeline(), ["curb up", "puddle", "traffic light"])
    state = _state(s_m=21.0, t_s=30.0, next_obstacle=2)
    state["obstacles"]["outcome"][1] = layout.ObstacleOutcome.HIT
    state["obstacles_hit"] = 1
    content = model.update(state, TaskView(shopping=[("milk", True), ("bread", False)]), finished=True)
    assert content.feedback_kind == "hit"
    assert "lift your foot higher" in content.feedback
    assert "Shopping 1 of 2" in content.summary
    assert "Score 20" in content.summary
    assert model.events == [(1, "hit")]


def test_red_light_shows_the_wait_timer():
    model = HudModel(_timeline(), ["curb up", "puddle", "traffic light"])
    state = _state(s_m=28.0, t_s=12.2, next_obstacle=2)
    state["obstacles"]["active"][2] = 1
    content = model.update(state)
    assert content.crossing == "Wait: 8 s"
    assert content.next_obstacle.endswith("wait")


def test_hud_puts_the_content_on_screen(panda_base):
    hud = PatientHud(panda_base.aspect2d)
    try:
        model = HudModel(_timeline(), ["curb up", "puddle", "traffic light"])
        state = _state(s_m=12.0, t_s=9.0, next_obstacle=1)
        state["obstacles"]["outcome"][0] = layout.ObstacleOutcome.CLEARED
        hud.show(model.update(state, TaskView(shopping=[("milk", True)], cue="RED", cue_rgb=(0, 0, 1)), finished=True))
        panda_base.graphicsEngine.renderFrame()
        shown = hud.visible_text()
        assert shown["feedback"].startswith("Cleared the curb up")
        assert "[x] milk" in shown["shopping"]
        assert shown["cue"] == "RED"
        assert "Score" in shown["summary"]
        assert shown["next"] == "Puddle in 8 m: step over"
    finally:
        hud.destroy()


@pytest.mark.parametrize("missing", [None])
def test_task_view_from_nothing(missing):
    assert TaskView.from_task_state(missing) == TaskView()


def test_two_outcomes_in_one_frame_name_each_obstacle():
    # a box and a puddle decided in the same state snapshot: both named, the touch first
    rows = np.zeros(2, dtype=layout.TIMELINE_DTYPE)
    rows["at_m"] = [10.0, 10.4]
    model = HudModel(rows, ["box", "puddle"])
    state = _state(s_m=12.0, t_s=9.0, next_obstacle=-1)
    state["obstacles"]["outcome"][:2] = [layout.ObstacleOutcome.HIT, layout.ObstacleOutcome.CLEARED]
    content = model.update(state)
    assert content.feedback == "Touched the box: lift your foot higher. Cleared the puddle!"
    assert content.feedback_kind == "hit"
    state["obstacles"]["outcome"][:2] = [layout.ObstacleOutcome.HIT, layout.ObstacleOutcome.HIT]
    model = HudModel(rows, ["box", "puddle"])
    assert model.update(state).feedback == "Touched the box and the puddle: lift your foot higher"
    assert model.events == [(0, "hit"), (1, "hit")]


def test_summary_counts_outcomes_like_the_report():
    from engine.scene.outcomes import count_outcomes

    model = HudModel(_timeline(), ["curb up", "puddle", "traffic light"])
    state = _state(s_m=40.0, t_s=60.0, next_obstacle=-1)
    state["obstacles"]["outcome"][:3] = [layout.ObstacleOutcome.HIT, layout.ObstacleOutcome.HIT, layout.ObstacleOutcome.PASSED]
    # the core's counters (step-overs only) would say "cleared 0, touched 2"; the summary counts
    # every decided obstacle the way the recorded outcome events are counted
    summary = model.update(state, finished=True).summary
    assert "Obstacles 1 of 3 done well (cleared 0, touched 2, waited 1)" in summary
    events = ["hit", "hit", "passed"]  # what the recorder stores for the same run
    assert count_outcomes(events) == count_outcomes(state["obstacles"]["outcome"][:3])
    assert count_outcomes(events).done_well == sum(e in ("cleared", "passed") for e in events)  # metrics.py's rule


def test_the_hud_names_obstacles_as_the_scene_labels_them_in_timeline_order(tmp_path):
    """The names the session hands the HUD come from the scene's obstacles in timeline order (the
    order the core's outcomes use), in words a patient knows: a touched cart is the shopping cart."""
    from engine.scene.loader import load_scene
    from engine.session.runner import scene_choice

    path = tmp_path / "names.yaml"
    path.write_text("id: hud-names\ntitle: T\ndifficulty: gentle\nenvironment: {type: grocery_store}\n"
                    "obstacles:\n  - {kind: cart_crossing, at_m: 30}\n  - {kind: box, at_m: 10}\n"
                    "  - {kind: person_stopping, at_m: 50}\n")
    choice = scene_choice(load_scene(path))
    assert choice.names == ["box", "shopping cart", "person in the way"]  # sorted by at_m like the timeline
    model = HudModel(choice.timeline, choice.names)
    state = _state(s_m=52.0, t_s=60.0, next_obstacle=-1)
    state["obstacles"]["outcome"][:3] = [layout.ObstacleOutcome.CLEARED, layout.ObstacleOutcome.PASSED,
                                         layout.ObstacleOutcome.PASSED]
    assert model.update(state).feedback == ("Cleared the box! Well waited at the shopping cart and the person in the way")
