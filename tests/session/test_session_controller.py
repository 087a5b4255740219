"""Every therapist action reaches the command block (real shared memory) and the audit log
(a real SQLite file)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.control import layout
from engine.control.channels import Channels
from engine.control.commands import CommandWriter
from engine.control.prescription import Prescription
from engine.records.store import Store
from engine.session.controller import SceneChoice, SessionController


@pytest.fixture
def rig(tmp_path):
    channels = Channels.create()
    store = Store(tmp_path / "records.db")
    store.ensure_patient("p-001")
    store.add_prescription("p-001", Prescription(max_speed_mps=1.1, guidance_min=0.2, guidance_max=0.8))
    # A second process's view of the command block: what the core would read.
    reader = Channels.attach(channels.paths())
    try:
        yield channels, store, reader
    finally:
        reader.close()
        store.close()
        channels.close()


def _choice() -> SceneChoice:
    rows = np.zeros(2, dtype=layout.TIMELINE_DTYPE)
    rows["at_m"] = [10.0, 20.0]
    rows["height_m"] = [0.12, 0.0]
    return SceneChoice("test-scene", "Test", route_length_m=40.0, base_speed_fraction=0.5, timeline=rows)


def _command(reader) -> np.ndarray:
    return reader.command.read()


def test_actions_reach_the_command_block_and_the_audit_log(rig):
    channels, store, reader = rig
    controller = SessionController(CommandWriter(channels.command), store)
    controller.select_patient("p-001")
    assert float(_command(reader)["rx_max_speed_mps"]) == pytest.approx(1.1)

    before = int(_command(reader)["scene_generation"])
    controller.select_scene(_choice())
    command = _command(reader)
    assert int(command["scene_generation"]) == before + 1
    assert int(command["obstacle_count"]) == 2
    assert float(command["route_length_m"]) == pytest.approx(40.0)

    controller.set_goals(steps=100)
    assert int(_command(reader)["goal_steps"]) == 100

    counter = int(_command(reader)["request_counter"])
    session_id = controller.start()
    command = _command(reader)
    assert int(command["run_request"]) == layout.RunState.RUNNING
    assert int(command["request_counter"]) == counter + 1

    controller.change_settings(guidance=0.7, assist_as_needed=1)
    command = _command(reader)
    assert float(command["guidance"]) == pytest.approx(0.7)
    assert int(command["assist_as_needed"]) == 1

    controller.change_settings(speed_fraction=1.7)  # clamped to the prescription's 100 %
    assert float(_command(reader)["speed_fraction"]) == pytest.approx(1.0)

    controller.stop()
    assert int(_command(reader)["run_request"]) == layout.RunState.STOPPING

    audit = store.audit_log(session_id)
    settings = [row["setting"] for row in audit]
    # Choices made before the session existed are logged first, then live changes in order.
    assert settings[:3] == ["patient", "scene", "goal_steps"]
    assert settings.index("run") < settings.index("guidance") < settings.index("speed_fraction")
    guidance = next(row for row in audit if row["setting"] == "guidance")
    assert guidance["old"] == pytest.approx(0.5) and guidance["new"] == pytest.approx(0.7)
    speed = next(row for row in audit if row["setting"] == "speed_fraction")
    assert speed["new"] == pytest.approx(1.7) and speed["applied"] == pytest.approx(1.0)
    assert [row["new"] for row in audit if row["setting"] == "run"] == ["start", "stop"]
    assert all(row["who"] == "therapist" for row in audit)
    session = store.get_session(session_id)
    assert session["scene_id"] == "test-scene"


def _started(channels, store) -> tuple[SessionController, int]:
    controller = SessionController(CommandWriter(channels.command), store)
    controller.select_patient("p-001")
    controller.select_scene(_choice())
    return controller, controller.start()


def test_pause_resume_and_alarm_ack_are_logged(rig):
    channels, store, reader = rig
    controller, session_id = _started(channels, store)
    controller.pause()
    assert int(_command(reader)["run_request"]) == layout.RunState.PAUSED
    controller.resume()
    assert int(_command(reader)["run_request"]) == layout.RunState.RUNNING
    acks = int(_command(reader)["ack_counter"])
    controller.ack_alarms()
    assert int(_command(reader)["ack_counter"]) == acks + 1
    runs = [row["new"] for row in store.audit_log(session_id) if row["setting"] == "run"]
    assert runs == ["start", "pause", "resume"]
    assert any(row["setting"] == "alarms_acked" for row in store.audit_log(session_id))


def test_start_needs_a_patient_and_a_scene(rig):
    channels, store, _ = rig
    controller = SessionController(CommandWriter(channels.command), store)
    with pytest.raises(RuntimeError, match="scene"):
        controller.start()
    controller.select_scene(_choice())
    with pytest.raises(RuntimeError, match="patient"):
        controller.start()


def test_new_patient_gets_a_prescription(rig):
    channels, store, reader = rig
    controller = SessionController(CommandWriter(channels.command), store)
    rx = Prescription(max_speed_mps=0.7, affected_side=0)
    controller.create_patient("p-new", rx)
    assert store.current_prescription("p-new") == rx
    command = _command(reader)
    assert float(command["rx_max_speed_mps"]) == pytest.approx(0.7)
    assert int(command["affected_side"]) == 0


def test_while_walking_a_locked_database_never_holds_up_the_caller(rig, tmp_path):
    """The recorder (another connection) holds the write lock: a therapist's change and a HUD
    event recorded while walking return at once, before anything can be written (the frame loop
    must not wait on SQLite: a main thread blocked 60 ms is a hung UI to its liveness beat).
    They reach the database, in order, once the lock is gone, and ending the session waits for
    them."""
    import sqlite3
    import threading

    channels, store, _ = rig
    controller, session_id = _started(channels, store)
    controller.write_in_background(True)
    other = sqlite3.connect(str(tmp_path / "records.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # what a recorder's long transaction looks like to us
    try:
        caller_done = threading.Event()

        def act() -> None:
            controller.change_settings(speed_fraction=0.3)
            controller.record_event("hud_feedback", 12.5, obstacle=0, outcome="cleared")
            caller_done.set()

        threading.Thread(target=act, daemon=True).start()
        # Waits on the caller's condition; the lock is still held throughout (checked below).
        assert caller_done.wait(60.0), "the caller waited on the database"
        assert other.in_transaction
        assert controller.writes is not None and controller.writes.written == 0  # nothing could be written yet
    finally:
        other.execute("ROLLBACK")
        other.close()
    controller.stop(who="test")
    controller.end("completed", {})
    assert controller.writes is None and controller.audit_errors == 0
    rows = [(r["setting"], r["new"]) for r in store.audit_log(session_id)]
    assert rows.index(("speed_fraction", 0.3)) < rows.index(("run", "stop")), rows
    events = [e for e in store.events(session_id) if e["kind"] == "hud_feedback"]
    assert len(events) == 1 and events[0]["data"]["outcome"] == "cleared"
