"""A scene file replaced with garbage during a session: the therapist's desktop (real app
offscreen, real rig, core and recorder, in its own process) keeps walking on the last good
version and shows the error."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from tests.child_scenario import run_scenario

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(450)

SCENE = textwrap.dedent(
    """\
    id: garbage-walk
    title: Garbage walk
    difficulty: gentle
    environment: {type: sidewalk}
    route_length_m: 60
    obstacles:
      - {kind: curb_down, at_m: 33.7}
      - {kind: curb_up, at_m: 40}
    """
)
GARBAGE = b"\x00\xff{{{ not: [yaml\n\x89PNG garbage \xde\xad\xbe\xef\n" * 20


def scenario(tmp: str) -> dict:
    """Runs in a child process (one Panda3D per process)."""
    from engine.control.layout import AlarmReason
    from engine.session.desktop import Desktop
    from engine.session.runner import SessionOptions

    tmp_path = Path(tmp)
    scene_file = tmp_path / "scenes" / "garbage-walk.yaml"
    desktop = Desktop(SessionOptions(scene="garbage-walk", patient="demo-healthy", headless=True,
                                     db=str(tmp_path / "r.db"), scenes_dir=str(tmp_path / "scenes"), size=(640, 360)))
    out: dict = {}
    try:
        desktop.menu.start()
        walking_by = time.monotonic() + 30  # the belt starts once the patient view draws steadily
        while time.monotonic() < walking_by and float(desktop.app.state["s_m"]) < 0.2:
            desktop.app.step()
        started = time.monotonic() - 2.5
        state = desktop.app.state
        out["generation_before"] = int(state["scene_generation"])
        out["s_before_m"] = float(state["s_m"])
        scene_file.write_bytes(GARBAGE)
        out["garbage_at_s"] = time.monotonic()
        shown_at = None
        # At least 2.5 s more, and until the error is shown (a loaded machine draws few frames
        # a second and the menu shows it on one of them), at most 60 s.
        while (shown_at is None or time.monotonic() - started < 5.0) and time.monotonic() - started < 60.0:
            desktop.app.step()
            if shown_at is None and "garbage-walk.yaml" in desktop.menu.message:
                shown_at = time.monotonic()
        state = desktop.app.state
        out["error_shown_after_s"] = None if shown_at is None else shown_at - out["garbage_at_s"]
        out["status"] = desktop.menu.message
        out["run_state"] = int(state["run_state"])
        out["generation_after"] = int(state["scene_generation"])
        out["s_after_m"] = float(state["s_m"])
        out["route_m"] = desktop.controller.scene.route_length_m
        out["library_route_m"] = desktop.library.scenes["garbage-walk"].route_length_m
        out["belt_mps"] = float(state["belt_speed_mps"])
        # The graded response to a late view (a loaded machine drawing slowly) slows the belt on
        # purpose: then it must still move, not walk at the scene's speed.
        out["view_late"] = any(int(a["reason"]) == AlarmReason.UI_VIEW_LATE for a in state["alarms"])
        desktop.app.messenger.send("space")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and desktop.controller.session_id is not None:
            desktop.app.step()
        out["ended"] = desktop.controller.session_id is None
    finally:
        desktop.close()
    return out


def test_scene_replaced_with_garbage_keeps_the_last_good_version_and_shows_the_error(tmp_path, reliability):
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "garbage-walk.yaml").write_text(SCENE)
    out = run_scenario("tests.faults.test_scene_garbage", "scenario", tmp_path)
    from engine.control.layout import RunState

    assert out["run_state"] == RunState.RUNNING, out  # the session went on
    assert out["belt_mps"] > 0.3 or (out["view_late"] and out["belt_mps"] > 0.0), out
    assert out["s_after_m"] > out["s_before_m"]
    assert out["generation_after"] == out["generation_before"]  # same timeline in the core
    assert out["route_m"] == 60 and out["library_route_m"] == 60  # the last good version
    assert out["error_shown_after_s"] is not None, out["status"]
    assert "garbage-walk.yaml" in out["status"]
    assert out["ended"]
    reliability.record("scene file replaced with garbage mid-session", "last good version kept; error shown",
                       out["error_shown_after_s"] * 1000.0, None, None,
                       f"menu status: '...{out['status'][-60:]}'")
