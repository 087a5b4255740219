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
    description: A short walk down and up a curb.
    difficulty: gentle
    environment: {type: sidewalk}
    route_length_m: 30
    obstacles:
      - {kind: curb_down, at_m: 3.7}
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
    # Patient: type p-007 in the code box; press Select.
    menu.entries["patient_code"].enterText("p-007")
    click(menu.buttons["select_patient"])
    assert float(command(core_view)["rx_max_speed_mps"]) == pytest.approx(0.9)
    assert menu.entries["rx_max_speed_mps"].get() == "0.9"

    # Scene: click its line in the list.
    generation = int(command(core_view)["scene_generation"])
    click(menu.buttons["scene:test-walk"])
    assert int(command(core_view)["scene_generation"]) == generation + 1
    assert int(command(core_view)["obstacle_count"]) == 2  # the curb down and its curb up
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
    menu.patient_menu.set(menu.patient_menu["items"].index("p-008"))  # as a click on its entry does
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


# -- issue 15 regressions (each failed on the menu before the fix) -----------------------------


def test_an_unknown_code_selects_nobody_and_offers_to_create(setup):
    menu, controller, store, core_view, _ = setup
    menu.pick_patient("p-007")
    menu.entries["patient_code"].enterText("demo-hemiparetic-typo")
    click(menu.buttons["select_patient"])
    assert controller.patient_code == "p-007"  # nothing pretended to be selected
    assert "no patient 'demo-hemiparetic-typo'" in menu.message and "Create" in menu.message
    assert "new patient demo-hemiparetic-typo" in menu.patient_label["text"]
    assert menu.patient_menu.get() == "p-007"
    with pytest.raises(KeyError):
        controller.select_patient("demo-hemiparetic-typo")  # and Start cannot reach the store with it


def test_create_saves_the_prescription_shown_and_the_list_follows(setup):
    menu, controller, store, core_view, _ = setup
    menu.pick_patient("p-007")  # 0.9 m/s in the form
    menu.entries["patient_code"].enterText("p-200")
    click(menu.buttons["select_patient"])  # unknown: the form offers a fresh prescription
    menu.entries["rx_max_speed_mps"].enterText("1.2")
    menu.entries["rx_guidance_max"].enterText("0.8")
    menu.entries["rx_bws_max"].enterText("30")  # % of body weight
    click(menu.buttons["create_patient"])
    saved = store.current_prescription("p-200")
    assert (saved.max_speed_mps, saved.guidance_max, saved.bws_max) == pytest.approx((1.2, 0.8, 0.30))
    assert controller.patient_code == "p-200"
    assert menu.patient_menu.get() == "p-200"
    assert float(command(core_view)["rx_max_speed_mps"]) == pytest.approx(1.2)
    assert menu.entries["rx_bws_max"].get() == "30"


def test_guidance_and_bws_are_absolute_and_clamped_to_the_prescription(setup):
    menu, controller, store, core_view, _ = setup
    store.add_prescription("p-008", Prescription(max_speed_mps=0.6, guidance_min=0.2, guidance_max=0.5,
                                                 bws_min=0.0, bws_max=0.2))
    menu.pick_patient("p-008")
    menu.pick_scene("test-walk")
    assert list(menu.sliders["guidance"]["range"]) == pytest.approx([0.2, 0.5])
    assert list(menu.sliders["bws_fraction"]["range"]) == pytest.approx([0.0, 0.2])
    menu.start()
    menu.set_setting("guidance", 0.4)
    menu.set_setting("bws_fraction", 0.15)
    assert float(command(core_view)["guidance"]) == pytest.approx(0.4, abs=1e-3)  # not 0.2 + 0.4 * 0.3
    assert float(command(core_view)["bws_fraction"]) == pytest.approx(0.15, abs=1e-3)
    assert menu.slider_labels["guidance"]["text"].startswith("Guidance: 0.40 of full robot assistance")
    assert menu.slider_labels["bws_fraction"]["text"].startswith("Body-weight support: 15 % of body weight")
    controller.change_settings(guidance=0.9)  # beyond the prescription: the applied value is its max
    audit = [r for r in store.audit_log(controller.session_id) if r["setting"] == "guidance"]
    assert audit[-1]["new"] == pytest.approx(0.9) and audit[-1]["applied"] == pytest.approx(0.5)
    assert float(command(core_view)["guidance"]) == pytest.approx(0.5, abs=1e-3)


def test_the_supervisor_applies_absolute_guidance_and_bws_inside_the_prescription():
    from engine.control.supervisor import Limits, Supervisor

    sup = Supervisor(Limits.from_prescription(Prescription(guidance_min=0.2, guidance_max=0.5, bws_max=0.2)))
    assert sup.guidance(0.4) == pytest.approx(0.4)
    assert sup.guidance(0.4, extra=0.3) == pytest.approx(0.5)
    assert sup.guidance(0.0) == pytest.approx(0.2)
    assert sup.bws(0.15) == pytest.approx(0.15)
    assert sup.bws(0.5) == pytest.approx(0.2)


def test_the_chosen_scene_is_highlighted(setup):
    menu, *_ = setup
    assert menu.highlighted_scenes() == []
    click(menu.buttons["scene:test-walk"])
    assert menu.highlighted_scenes() == ["test-walk"]


def test_the_status_line_follows_the_run_state_with_the_reason(setup):
    menu, controller, *_ = setup
    state = np.zeros((), dtype=layout.STATE_DTYPE)
    menu.pick_patient("p-007")
    menu.pick_scene("test-walk")
    menu.start()
    state["run_state"] = layout.RunState.IDLE
    menu.update(1.0, state)
    state["run_state"] = layout.RunState.RUNNING
    menu.update(1.1, state)
    assert menu.message == "running"
    state["alarms"][0]["reason"] = layout.AlarmReason.EXO_SILENT
    state["alarms"][0]["priority"] = layout.Priority.HIGH
    state["alarms"][0]["active"] = 1
    state["run_state"] = layout.RunState.STOPPED
    menu.update(1.2, state)
    assert menu.message.startswith("stopped: Exoskeleton link lost")


def test_quit_asks_first_and_escape_cancels(setup):
    menu, controller, store, core_view, base = setup
    quits = []
    menu.on_quit = lambda: quits.append(1)
    base.messenger.send("escape")
    assert menu.visible()["quit_dialog"].startswith("Quit StepSync?")
    base.messenger.send("escape")
    assert menu.visible()["quit_dialog"] == "" and quits == []
    click(menu.buttons["quit"])
    click(menu.buttons["quit_confirm"])
    assert quits == [1] and menu.visible()["quit_dialog"] == ""


def _rect(base, widget):
    from panda3d.core import Point3

    left, right, bottom, top = widget.getBounds()
    a = base.render2d.get_relative_point(widget, Point3(left, 0, bottom))
    b = base.render2d.get_relative_point(widget, Point3(right, 0, top))
    return min(a.x, b.x), max(a.x, b.x), min(a.z, b.z), max(a.z, b.z)


def _overlap(r1, r2, margin=0.0) -> bool:
    return r1[0] < r2[1] - margin and r2[0] < r1[1] - margin and r1[2] < r2[3] - margin and r2[2] < r1[3] - margin


def test_no_menu_field_label_or_button_overlaps_another_or_the_banner(setup):
    from engine.render.alarms import AlarmBanner

    menu, controller, store, core_view, base = setup
    menu.pick_patient("p-007")
    menu.pick_scene("test-walk")
    widgets = {f"entry {name}": w for name, w in menu.entries.items()}
    widgets.update({f"button {name}": w for name, w in menu.buttons.items()
                    if not name.startswith(("scene:", "quit_"))})
    widgets.update({f"label {i} {w['text'][:20]!r}": w for i, w in enumerate(menu.labels)
                    if w["text"] and not w.is_hidden() and not menu.quit_dialog.is_ancestor_of(w)})
    widgets["patient list"] = menu.patient_menu
    widgets["scene list"] = menu.scene_list
    widgets["thumbnail"] = menu.thumbnail
    widgets.update({f"slider {name}": w for name, w in menu.sliders.items()})
    rects = {name: _rect(base, w) for name, w in widgets.items()}
    clashes = [(a, b) for i, a in enumerate(rects) for b in list(rects)[i + 1:] if _overlap(rects[a], rects[b], 0.002)]
    assert clashes == []
    banner = AlarmBanner(base.aspect2d, lambda: None)
    try:
        band = _rect(base, banner.frame)
        covered = [name for name, r in rects.items() if name != "button stop" and _overlap(band, r)]
        assert covered == []
    finally:
        banner.frame.destroy()


def test_the_banner_leaves_the_patient_huds_numbers_visible(panda_base):
    from engine.render.alarms import AlarmBanner
    from engine.render.hud import HudContent, PatientHud

    hud = PatientHud(panda_base.aspect2d)
    banner = AlarmBanner(panda_base.aspect2d, lambda: None)
    try:
        hud.show(HudContent(goals=["Steps 120 / 400", "Distance 85 m", "Time 1:30"], next_obstacle="Curb in 4 m",
                            feedback="Cleared the curb", cue="RED", shopping=[("milk", True)], score=1234))
        band = _rect(panda_base, banner.frame)
        shown = {"goals": hud.goal_text, "goal panel": hud.goal_panel, "next": hud.next_text,
                 "feedback": hud.feedback_text, "cue": hud.cue_text, "shopping": hud.shopping_panel}
        covered = [name for name, widget in shown.items() if _overlap(band, _text_rect(panda_base, widget))]
        assert covered == []
    finally:
        banner.frame.destroy()
        hud.destroy()


def _text_rect(base, node):
    if hasattr(node, "guiItem"):  # a DirectGUI frame: its frame, drawn when culled
        return _rect(base, node)
    bounds = node.get_tight_bounds(base.render2d)
    assert bounds is not None, f"{node} shows nothing"
    low, high = bounds
    return low.x, high.x, low.z, high.z
