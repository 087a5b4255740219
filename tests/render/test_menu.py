"""The therapist menu, driven programmatically through its widgets: pick a patient and a scene,
set a goal, start, change guidance, stop. Each action must reach the command block (read as the
core would, through a second mapping) and the audit log (a real SQLite file)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from engine.control import layout
from engine.control.channels import Channels
from engine.control.commands import CommandWriter
from engine.control.prescription import Prescription
from engine.records.store import Store
from engine.render.menu import TherapistMenu, scene_entries
from engine.scene.loader import load_library
from engine.session.controller import SessionController

SCENE = textwrap.dedent(
    """\
    id: test-walk
    title: Test walk
    description: A short walk with one curb.
    difficulty: gentle
    environment: {type: sidewalk}
    route_length_m: 30
    obstacles:
      - {kind: curb_up, at_m: 10}
    """
)
BROKEN = "id: broken-one\ntitle: Broken\ndifficulty: gentle\nenvironment: {type: moon}\n"


@pytest.fixture
def setup(tmp_path, panda_base):
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "test-walk.yaml").write_text(SCENE)
    (tmp_path / "scenes" / "broken-one.yaml").write_text(BROKEN)
    library = load_library(tmp_path / "scenes")
    channels = Channels.create()
    core_view = Channels.attach(channels.paths())
    store = Store(tmp_path / "records.db")
    store.ensure_patient("p-007")
    store.add_prescription("p-007", Prescription(max_speed_mps=0.9))
    controller = SessionController(CommandWriter(channels.command), store)

    def on_scene_chosen(scene_id):
        from engine.session.runner import scene_choice

        return scene_choice(library.scenes[scene_id])

    store.ensure_patient("p-008")
    store.add_prescription("p-008", Prescription(max_speed_mps=0.6))
    menu = TherapistMenu(panda_base, panda_base.aspect2d, controller, library=library, patients=["p-007", "p-008"],
                         on_scene_chosen=on_scene_chosen)
    try:
        yield menu, controller, store, core_view, panda_base
    finally:
        menu.destroy()
        store.close()
        core_view.close()
        channels.close()


def command(core_view) -> np.ndarray:
    return core_view.command.read()


def click(widget) -> None:
    """Press a DirectButton the way a mouse click does (its command with its extra args)."""
    widget.commandFunc(None)


def test_scene_list_shows_valid_and_broken_scenes(setup):
    menu, *_ = setup
    titles = [(row.title, bool(row.error)) for row in menu.scene_rows]
    assert ("Test walk", False) in titles
    broken = [row for row in menu.scene_rows if row.error]
    assert len(broken) == 1 and "unknown type 'moon'" in broken[0].error


def test_menu_actions_reach_command_block_and_audit_log(setup):
    menu, controller, store, core_view, base = setup
    # Patient: the code box already holds p-007; press Select.
    click(menu.buttons["select_patient"])
    assert float(command(core_view)["rx_max_speed_mps"]) == pytest.approx(0.9)
    assert menu.entries["rx_max_speed_mps"].get() == "0.9"

    # Scene: click its line in the list.
    generation = int(command(core_view)["scene_generation"])
    click(menu.buttons["scene:test-walk"])
    assert int(command(core_view)["scene_generation"]) == generation + 1
    assert int(command(core_view)["obstacle_count"]) == 1
    assert menu.scene_title["text"].startswith("Test walk")

    # Goal: type 150 steps and press "Set goals".
    menu.entries["goal_steps"].enterText("150")
    click(menu.buttons["set_goals"])
    assert int(command(core_view)["goal_steps"]) == 150

    # Start.
    counter = int(command(core_view)["request_counter"])
    click(menu.buttons["start"])
    assert int(command(core_view)["run_request"]) == layout.RunState.RUNNING
    assert int(command(core_view)["request_counter"]) == counter + 1
    session_id = controller.session_id
    assert session_id is not None

    # Guidance: drag the slider, let the GUI process the event, wait for it to settle.
    menu.sliders["guidance"]["value"] = 0.8
    base.taskMgr.step()  # the slider's adjust event reaches its command
    menu.update(now_s=100.0)
    menu.update(now_s=101.0)  # settled
    assert float(command(core_view)["guidance"]) == pytest.approx(0.8, abs=1e-3)

    # Assist-as-needed checkbox.
    click(menu.buttons["assist_as_needed"])
    assert int(command(core_view)["assist_as_needed"]) == 1

    # Stop: the space bar.
    base.messenger.send("space")
    assert int(command(core_view)["run_request"]) == layout.RunState.STOPPING

    audit = store.audit_log(session_id)
    by_setting = {}
    for row in audit:
        by_setting.setdefault(row["setting"], []).append(row)
    assert by_setting["patient"][0]["new"] == "p-007"
    assert by_setting["scene"][0]["new"] == "test-walk"
    assert by_setting["goal_steps"][0]["new"] == 150
    assert by_setting["guidance"][-1]["applied"] == pytest.approx(0.8, abs=1e-3)
    assert by_setting["assist_as_needed"][0]["applied"] == 1.0
    assert [row["new"] for row in by_setting["run"]] == ["start", "stop"]


def test_slider_drag_is_logged_once_when_settled(setup):
    menu, controller, store, core_view, base = setup
    menu.pick_patient("p-007")
    menu.pick_scene("test-walk")
    menu.start()
    for i, value in enumerate((0.55, 0.6, 0.65, 0.7)):
        menu.sliders["speed_fraction"]["value"] = value
        base.taskMgr.step()
        menu.update(now_s=10.0 + i * 0.05)  # still dragging
    menu.update(now_s=12.0)
    rows = [r for r in store.audit_log(controller.session_id) if r["setting"] == "speed_fraction"]
    assert len(rows) == 1 and rows[0]["new"] == pytest.approx(0.7, abs=1e-3)
    assert float(command(core_view)["speed_fraction"]) == pytest.approx(0.7, abs=1e-3)


def test_patient_picked_from_the_list(setup):
    menu, controller, store, core_view, _ = setup
    menu.patient_menu.set(1)  # as a click on the second entry does
    assert controller.patient_code == "p-008"
    assert float(command(core_view)["rx_max_speed_mps"]) == pytest.approx(0.6)
    assert menu.entries["rx_max_speed_mps"].get() == "0.6"


def test_bad_prescription_is_refused_with_the_field_named(setup):
    menu, controller, store, *_ = setup
    menu.entries["patient_code"].enterText("p-100")
    menu.entries["rx_max_speed_mps"].enterText("15")
    click(menu.buttons["create_patient"])
    assert "max_speed_mps" in menu.message
    assert store.get_patient("p-100") is None
    menu.entries["rx_max_speed_mps"].enterText("1.0")
    click(menu.buttons["create_patient"])
    assert store.current_prescription("p-100").max_speed_mps == pytest.approx(1.0)


def test_scene_entries_from_a_library_object():
    class Lib:
        scenes = {}
        broken = {"x.yaml": ["x.yaml:1:1 id: missing"]}

    rows = scene_entries(Lib())
    assert rows[0].error == "x.yaml:1:1 id: missing"
