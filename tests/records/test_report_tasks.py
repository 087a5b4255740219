"""The report's per-task rows (engine.records.report.task_result_rows) from TaskState.results()
of a walk through the task rules: items found or missed with their times, crossings with their
numbers, each dual-task cue."""

from __future__ import annotations

from engine.records.report import task_result_rows
from engine.scene.model import Scene
from engine.scene.tasks import TaskTracker


def _text(cell) -> str:
    return cell[0] if isinstance(cell, tuple) else str(cell)


def test_rows_for_items_and_cues():
    scene = Scene.model_validate({
        "id": "t1", "title": "t", "difficulty": "gentle", "environment": {"type": "sidewalk"}, "route_length_m": 60,
        "tasks": {"shopping_list": {"zone_m": 1.0, "dwell_s": 1.0, "items": [{"name": "milk", "at_m": 10},
                                                                             {"name": "bread", "at_m": 30},
                                                                             {"name": "tea", "at_m": 55}]},
                  "dual_task": {"start_m": 5, "every_m": 20, "show_s": 2, "colours": ["red", "blue"], "stroop": True}}})
    tracker = TaskTracker(scene)
    s = t = 0.0
    while s < 40.0:  # 1 m/s, then 2.5 m/s past bread: too quick to pick it up; tea never reached
        speed = 1.0 if s < 25.0 else 2.5
        s, t = s + speed * 0.05, t + 0.05
        tracker.update(s, t)
    rows = [[_text(c) for c in row] for row in task_result_rows(tracker.state.results())]
    milk, bread, tea = rows[:3]
    assert milk[0] == "item: milk (at 10 m right)" and milk[1] == "found"
    # 1 m/s: in reach from 9 m (9 s), 1 s of dwell collects it at 10 s (steps of 0.05 s)
    assert milk[2] in ("found at 10.0 s, 1.0 s after reaching it", "found at 10.1 s, 1.0 s after reaching it")
    assert bread[1] == "missed" and "walked past at" in bread[2] and "in reach" in bread[2]
    assert tea[1] == "not reached" and tea[2] == ""
    cues = rows[3:]
    assert [c[0] for c in cues] == ["cue 1 (at 5 m)", "cue 2 (at 25 m)"]
    assert cues[0][1] == "shown at 5.0 s" and "ink: the right answer is" in cues[0][2]
    missed = task_result_rows(tracker.state.results())[1][1]
    assert missed == ("missed", "flag")  # marked in the report like other shortfalls
