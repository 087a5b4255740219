"""The way back after a fault stop on the therapist's desktop (real app offscreen, rig, core,
recorder, in its own process): the exoskeleton link cut while walking stops the session; with
the link back the belt stays still until the therapist presses Re-arm, then Start walks again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.child_scenario import run_scenario
from tests.faults.test_scene_garbage import SCENE

# The belt moves: a late view walks at 0.1 m / (1.25 x its frame interval), so on a busy machine
# the 0.4 m/s this case waited for may never come (the graded UI policy, docs/control.md).
MOVING_MPS = 0.05

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(450)


def scenario(tmp: str) -> dict:
    """Runs in a child process (one Panda3D per process)."""
    from engine.control.layout import RunState
    from engine.session.desktop import Desktop
    from engine.session.runner import SessionOptions

    tmp_path = Path(tmp)
    desktop = Desktop(SessionOptions(scene="garbage-walk", patient="demo-healthy", headless=True,
                                     db=str(tmp_path / "r.db"), scenes_dir=str(tmp_path / "scenes"), size=(640, 360)))
    out: dict = {}

    def frames(seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            desktop.app.step()
            if until is not None and until(desktop.app.state):
                return True
        return False

    try:
        desktop.menu.buttons["start"].commandFunc(None)
        out["walked"] = frames(20.0, lambda s: float(s["belt_speed_mps"]) > MOVING_MPS)
        desktop.rig.inject("cut", "exoskeleton")
        out["stopped"] = frames(8.0, lambda s: int(s["run_state"]) == RunState.STOPPED)
        out["first_session_ended"] = frames(5.0, lambda s: desktop.controller.session_id is None)
        out["banner"] = desktop.app.banner.text
        desktop.rig.inject("restore", "exoskeleton")
        frames(0.5)
        # Start without the therapist's confirmation: nothing moves.
        desktop.menu.buttons["start"].commandFunc(None)
        frames(1.5)
        out["moved_without_rearm"] = float(desktop.rig.status()["treadmill"]["belt_speed_mps"]) > 0.02
        frames(5.0, lambda s: desktop.controller.session_id is None)
        desktop.menu.buttons["ack"].commandFunc(None)
        desktop.menu.buttons["rearm"].commandFunc(None)
        out["idle_after_rearm"] = frames(10.0, lambda s: int(s["run_state"]) == RunState.IDLE)
        desktop.menu.buttons["start"].commandFunc(None)
        out["walked_again"] = frames(20.0, lambda s: float(s["belt_speed_mps"]) > MOVING_MPS)
        desktop.app.messenger.send("space")
        frames(10.0, lambda s: desktop.controller.session_id is None)
    finally:
        desktop.close()
    return out


def test_after_a_fault_stop_only_rearm_then_start_walks_again(tmp_path, reliability):
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "garbage-walk.yaml").write_text(SCENE)
    out = run_scenario("tests.faults.test_desktop_recovery", "scenario", tmp_path)
    assert out["walked"] and out["stopped"], out
    assert out["banner"].startswith("HIGH: Exoskeleton link lost"), out["banner"]
    assert not out["moved_without_rearm"]
    assert out["idle_after_rearm"] and out["walked_again"], out
    reliability.record("desktop: way back after a link cut", "still until Re-arm; then Start walks",
                       note=f"banner {out['banner'][:60]!r}; Start without Re-arm did not move the belt")
