"""Task rules decided from s_m, the scene clock and obstacle states (what headless sessions use)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.control.layout import OBSTACLE_STATE_DTYPE
from engine.scene.loader import find_scene
from engine.scene.model import Scene
from engine.scene.tasks import TaskTracker

SCENES = Path(__file__).resolve().parents[2] / "scenes"


def scene_with(**extra) -> Scene:
    data = {"id": "t1", "title": "t", "difficulty": "gentle", "environment": {"type": "sidewalk"}, "route_length_m": 100}
    data.update(extra)
    return Scene.model_validate(data)


def walk(tracker: TaskTracker, speed_mps: float, until_m: float, dt_s: float = 0.05, start_s: float = 0.0):
    s, t = start_s, 0.0
    state = tracker.update(s, t)
    while s < until_m:
        s += speed_mps * dt_s
        t += dt_s
        state = tracker.update(s, t)
    return state


def test_item_collected_when_walking_through_the_zone_slowly_enough():
    scene = scene_with(tasks={"shopping_list": {"zone_m": 1.0, "dwell_s": 1.0, "items": [
        {"name": "milk", "at_m": 10}, {"name": "bread", "at_m": 30}]}})
    state = walk(TaskTracker(scene), 1.0, 40.0)  # 2 s in each 2 m zone
    assert [i.collected for i in state.items] == [True, True]
    assert state.score_inputs()["items_collected"] == 2
    state = walk(TaskTracker(scene), 2.5, 40.0)  # 0.8 s in each zone: too fast
    assert [(i.collected, i.missed) for i in state.items] == [(False, True), (False, True)]


def test_pausing_freezes_the_dwell():
    scene = scene_with(tasks={"shopping_list": {"zone_m": 1.0, "dwell_s": 1.0, "items": [{"name": "milk", "at_m": 10}]}})
    tracker = TaskTracker(scene)
    tracker.update(9.5, 5.0)
    state = tracker.update(9.5, 5.0)  # paused: scene clock frozen
    for _ in range(100):
        state = tracker.update(9.5, 5.0)
    assert not state.items[0].collected
    state = tracker.update(9.6, 6.1)
    assert state.items[0].collected and state.items[0].collected_at_s == pytest.approx(6.1)


def test_crossing_within_green_and_failing_when_red():
    scene = find_scene("sidewalk-curb-crossing", SCENES)  # light at 40..48 m, red 18 s of 40, phase 0
    tracker = TaskTracker(scene)
    state = tracker.update(30.0, 1.0)
    crossing = state.crossing
    assert crossing.light_id == "main-street" and crossing.status == "ahead" and not crossing.is_green
    assert crossing.red_left_s == pytest.approx(17.0)
    state = tracker.update(38.5, 10.0)
    assert state.crossing.status == "waiting"
    state = tracker.update(38.8, 23.0)
    assert state.crossing.is_green and state.crossing.green_left_s == pytest.approx(17.0)
    assert state.crossing.status == "ahead"
    state = tracker.update(44.0, 27.0)
    assert state.crossing.status == "crossing"
    state = tracker.update(49.0, 32.0)
    assert state.crossings[0].status == "crossed" and state.crossing is None
    # a slow walker still on the road when it turns red fails the task
    tracker = TaskTracker(scene)
    tracker.update(40.5, 30.0)
    state = tracker.update(45.0, 41.0)
    assert state.crossings[0].status == "failed"
    assert state.score_inputs()["crossings_failed"] == 1


def test_crossing_uses_the_core_states_when_given():
    scene = find_scene("sidewalk-curb-crossing", SCENES)
    tracker = TaskTracker(scene)
    states = np.zeros(len(scene.obstacles), dtype=OBSTACLE_STATE_DTYPE)
    light_index = tracker.state.crossings[0].light_index
    states[light_index]["active"] = 0
    assert tracker.update(30.0, 1.0, states).crossing.is_green  # the core says green: believe it


def test_dual_task_cues_show_for_show_s_in_ink_colours():
    scene = scene_with(seed=5, tasks={"dual_task": {"start_m": 10, "every_m": 20, "show_s": 3,
                                                    "colours": ["red", "blue"], "stroop": True}})
    tracker = TaskTracker(scene)
    assert tracker.update(5.0, 0.0).cue is None
    state = tracker.update(10.0, 5.0)
    cue = state.cue
    assert cue is not None and cue.index == 0 and cue.left_s == pytest.approx(3.0)
    assert cue.text.lower() != cue.colour_name  # stroop: the word names the other colour
    assert tracker.update(11.0, 7.9).cue is not None
    assert tracker.update(12.0, 8.1).cue is None
    state = walk(TaskTracker(scene), 1.0, 100.0)
    assert state.cues_shown == state.cues_total == 5


def test_results_give_the_report_every_task():
    import json

    scene = find_scene("sidewalk-curb-crossing", SCENES)
    tracker = TaskTracker(scene)
    tracker.update(44.0, 27.0)
    results = tracker.update(49.0, 32.0).results()
    # the light (cycle 40 s, red for the first 18 s) is green at 27 s with 40 - 27 = 13 s left
    assert results["crossings"] == [{"light": "main-street", "start_m": 40.0, "end_m": 48.0, "status": "crossed",
                                     "on_green": True, "waited_s": 0.0, "stepped_on_at_s": 27.0,
                                     "green_left_on_step_s": 13.0, "time_on_road_s": 5.0, "failed_at_m": None}]
    assert results["crossings_done"] == 1 and results["cues"] == {"shown": 0, "total": 0, "list": []}
    json.dumps(results)  # stored as JSON with the session


def test_crossing_numbers_wait_then_cross_and_a_red_step():
    scene = find_scene("sidewalk-curb-crossing", SCENES)
    tracker = TaskTracker(scene)
    # at the kerb (38.5 m: within stop_gap 1.2 + 1 m of 40 m) from 5 s to 18 s of red: 13 s waited
    for k in range(0, 131):
        tracker.update(38.5, 5.0 + k * 0.1)
    for k in range(1, 81):  # 8 m in 8 s from 18 s on (green until 40 s)
        tracker.update(39.5 + k * 0.11, 18.0 + k * 0.1)
    c = tracker.state.crossings[0]
    assert c.status == "crossed" and c.on_green is True
    assert c.waited_s == pytest.approx(13.0, abs=0.15)
    assert c.green_left_on_step_s == pytest.approx(40.0 - c.stepped_on_at_s)
    result = tracker.state.results()["crossings"][0]
    assert result["time_on_road_s"] == pytest.approx(c.off_road_at_s - c.stepped_on_at_s, abs=0.01)
    # stepping on at 10 s (red until 18 s): not on green, failed where it happened
    tracker = TaskTracker(scene)
    tracker.update(39.0, 9.5)
    tracker.update(40.5, 10.0)
    c = tracker.state.crossings[0]
    assert c.status == "failed" and c.on_green is False and c.failed_at_m == 40.5 and c.green_left_on_step_s == 0.0


def test_item_times_and_cue_log():
    scene = scene_with(seed=3, tasks={"shopping_list": {"zone_m": 1.0, "dwell_s": 1.0, "items": [
        {"name": "milk", "at_m": 10}, {"name": "bread", "at_m": 30}]},
        "dual_task": {"start_m": 5, "every_m": 20, "show_s": 2, "colours": ["red", "blue"], "stroop": True}})
    tracker = TaskTracker(scene)
    s = t = 0.0
    while s < 40.0:  # 1 m/s, but 2.5 m/s from 25 m on: bread's 2 m zone in 0.8 s, missed
        speed = 1.0 if s < 25.0 else 2.5
        s, t = s + speed * 0.05, t + 0.05
        tracker.update(s, t)
    milk, bread = tracker.state.results()["shopping"]
    assert milk["status"] == "collected" and milk["entered_at_s"] == pytest.approx(9.0, abs=0.06)
    assert milk["collected_at_s"] == pytest.approx(10.0, abs=0.06)
    assert bread["status"] == "missed" and bread["collected_at_s"] is None
    assert bread["dwell_s"] < 1.0 and bread["missed_at_s"] > bread["entered_at_s"]
    cues = tracker.state.results()["cues"]
    assert cues["shown"] == 2 and [c["at_m"] for c in cues["list"]] == [5.0, 25.0]
    assert all(c["ink"] in ("red", "blue") and c["word"] != c["ink"] and c["stroop"] for c in cues["list"])
    assert cues["list"][0]["shown_at_s"] == pytest.approx(5.0, abs=0.06)
