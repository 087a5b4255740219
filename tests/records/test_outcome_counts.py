"""One session, three places that count its obstacle outcomes: the HUD's end-of-walk summary
(from the core's state block), the stored session summary (engine/session/runner.py, same state
block) and the report (engine/records/metrics.py, from the outcome events the recorder stored in
SQLite). All three must say the same, and agree with the core's own per-obstacle outcomes.

The session is a real one: engine.sim runs the control core, the rig and the recorder on a
simulated clock into a real database (a healthy patient on the curb-crossing street: step-overs
cleared and touched, a traffic light and a crossing pedestrian waited for)."""

from __future__ import annotations

import html
from types import SimpleNamespace

import pytest

from engine.control.layout import ObstacleOutcome

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from engine.sim.session import SimOptions, run_simulation

    db = tmp_path_factory.mktemp("outcomes") / "stepsync.db"
    last: dict = {}

    def probe(t_s, core, rig):
        last["state"] = core.state_view.copy()  # the block the HUD and the runner read

    result = run_simulation(SimOptions(scene="sidewalk-curb-crossing", profile="healthy", duration_s=90.0, seed=0,
                                       db=db, probe=probe))
    return result, last["state"], db


def test_hud_summary_and_report_count_the_same(session):
    from engine.records import report
    from engine.records.store import Store
    from engine.render.hud import HudModel
    from engine.scene.loader import find_scene
    from engine.scene.timeline import scene_to_timeline
    from engine.session import runner

    result, state, db = session
    core_outcomes = [o["outcome"] for o in result.truth["core_obstacles"]]
    expected = {name: sum(o == code for o in core_outcomes) for name, code in
                (("cleared", ObstacleOutcome.CLEARED), ("touched", ObstacleOutcome.HIT),
                 ("waited", ObstacleOutcome.PASSED))}
    # the session must exercise every outcome, or the agreement below proves little
    assert all(expected.values()), (f"the simulated patient walked {float(state['s_m']):.1f} m in 90 s "
                                    f"(outcomes {expected}): too little to reach the obstacles")
    decided = sum(expected.values())
    line = (f"{expected['cleared'] + expected['waited']} of {decided} done well "
            f"(cleared {expected['cleared']}, touched {expected['touched']}, waited {expected['waited']})")

    # HUD: the end-of-walk summary from the state block
    timeline = scene_to_timeline(find_scene("sidewalk-curb-crossing"))
    hud = HudModel(timeline).update(state, finished=True).summary
    assert f"Obstacles {line}" in hud

    # stored summary: the runner's own function on the same state block
    channels = SimpleNamespace(state=SimpleNamespace(read=lambda out, timeout_s: out.__setitem__((), state)))
    summary = runner._summary(channels, None, None)
    assert summary["outcomes"] == {"obstacles": decided, "obstacles_done_well": expected["cleared"] + expected["waited"],
                                   "obstacles_cleared": expected["cleared"], "obstacles_touched": expected["touched"],
                                   "obstacles_waited": expected["waited"]}

    # report: metrics from the outcome events stored in SQLite, and the rendered page
    with Store(db) as store:
        view = report.load_session_view(store, result.session_id)
        page = html.unescape(report.build_session_html(store, result.session_id))
    counts = view.metrics["obstacle_counts"]
    assert (counts.cleared, counts.touched, counts.waited) == (expected["cleared"], expected["touched"], expected["waited"])
    assert view.metrics["obstacles"] == decided and view.metrics["obstacles_hit"] == expected["touched"]
    assert line in page


def test_report_shows_each_task_of_the_session(session):
    """The session's recorded walk replayed through the task rules (what the app's tracker does
    frame by frame), stored as the session summary's tasks: the report lists each result."""
    from engine.records import report
    from engine.records.store import Store
    from engine.scene.loader import find_scene
    from engine.scene.tasks import TaskTracker

    result, _, db = session
    tracker = TaskTracker(find_scene("sidewalk-curb-crossing"))
    with Store(db) as store:
        tel = store.telemetry(result.session_id)
        t0 = float(tel["t_s"][0])
        for row in tel[::20]:  # 50 Hz, a frame rate
            tracker.update(float(row["s_m"]), float(row["t_s"]) - t0)
        tasks = tracker.state.results()
        crossing = tasks["crossings"][0]
        assert crossing["stepped_on_at_s"] is not None, "the patient never reached the street: nothing to show"
        store.end_session(result.session_id, "completed", {"tasks": tasks})
        page = html.unescape(report.build_session_html(store, result.session_id))
    section = page[page.index('<section id="tasks">'):]
    section = section[: section.index("</section>")]
    assert f"crossing: {crossing['light']}" in section
    assert ("crossed on green" if crossing["status"] == "crossed" else "not on green") in section
    assert f"stepped onto the road at {crossing['stepped_on_at_s']:.1f} s" in section
    assert f"{crossing['time_on_road_s']:.1f} s on the road" in section
