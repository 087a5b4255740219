"""The therapist's desktop offscreen, on the virtual rig and the real control core: a session
started from the menu gets its recorder, the software stop ends it in the database with a report,
and a scene saved while the app runs is reloaded (hot reload)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from tests.child_scenario import run_scenario

# The whole menu session runs in one child (run_scenario caps it at 400 s, a hung child, not a speed
# check): its module-scoped setup counts against the test that first uses it.
pytestmark = pytest.mark.timeout(450)

ROOT = Path(__file__).resolve().parents[2]

SCENE = textwrap.dedent(
    """\
    id: desk-walk
    title: Desk walk
    difficulty: gentle
    environment: {type: sidewalk}
    route_length_m: ROUTE
    obstacles:
      - {kind: curb_down, at_m: 13.7}
      - {kind: curb_up, at_m: 20}
    """
)


def scenario(tmp: str) -> dict:
    from engine.session.desktop import Desktop
    from engine.session.runner import SessionOptions

    tmp_path = Path(tmp)
    scene_file = tmp_path / "scenes" / "desk-walk.yaml"
    desktop = Desktop(SessionOptions(scene="desk-walk", patient="demo-healthy", headless=True,
                                     db=str(tmp_path / "r.db"), scenes_dir=str(tmp_path / "scenes"), size=(640, 360)))
    out: dict = {}
    try:
        out["route_before"] = desktop.controller.scene.route_length_m
        # Hot reload: the designer saves a longer route.
        time.sleep(0.05)
        scene_file.write_text(SCENE.replace("ROUTE", "80"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and desktop.controller.scene.route_length_m != 80:
            desktop.app.step()
        out["route_after"] = desktop.controller.scene.route_length_m
        # A session from the menu: Start, walk, the space bar, wait for the end.
        desktop.menu.start()
        out["session_id"] = desktop.controller.session_id
        out["recorder"] = desktop.recorder is not None
        started = time.monotonic()  # the belt starts once the patient view draws steadily: wait for it
        while time.monotonic() - started < 30 and float(desktop.app.state["s_m"]) < 0.5:
            desktop.app.step()
        out["menu_hidden_while_walking"] = desktop.menu.root.is_hidden()
        out["s_walked_m"] = float(desktop.app.state["s_m"])
        desktop.app.messenger.send("space")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and desktop.controller.session_id is not None:
            desktop.app.step()
        out["ended"] = desktop.controller.session_id is None
        out["report_pending_at_end"] = desktop.report_pending()  # a child writes it; the menu is back
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and desktop.report_pending():
            desktop.app.step()
        out["reports"] = [str(p) for p in desktop.reports]
        out["menu_shown_after"] = not desktop.menu.root.is_hidden()
    finally:
        desktop.close()
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("desktop")
    (tmp / "scenes").mkdir()
    (tmp / "scenes" / "desk-walk.yaml").write_text(SCENE.replace("ROUTE", "60"))
    return {**run_scenario("tests.session.test_desktop", "scenario", tmp), "db": tmp / "r.db"}


def test_scene_saved_while_running_is_reloaded(run):
    assert run["route_before"] == 60 and run["route_after"] == 80


def test_menu_session_is_recorded_and_ends_with_a_report(run):
    import sqlite3

    assert run["recorder"] and run["menu_hidden_while_walking"]
    assert run["s_walked_m"] > 0.3
    assert run["ended"] and run["menu_shown_after"] and run["report_pending_at_end"]
    assert len(run["reports"]) == 1 and Path(run["reports"][0]).is_file()
    conn = sqlite3.connect(run["db"])
    try:
        outcome, ended = conn.execute("SELECT outcome, ended_at FROM sessions WHERE id = ?", (run["session_id"],)).fetchone()
        stops = conn.execute("SELECT COUNT(*) FROM audit_log WHERE session_id = ? AND setting = 'run' AND new_json = '\"stop\"'",
                             (run["session_id"],)).fetchone()[0]
        chunks = conn.execute("SELECT COUNT(*) FROM telemetry_chunks WHERE session_id = ?", (run["session_id"],)).fetchone()[0]
    finally:
        conn.close()
    assert ended and outcome in ("stopped", "completed")
    assert stops == 1  # the space bar reached the audit log
    assert chunks > 0  # the recorder attached before the belt moved
