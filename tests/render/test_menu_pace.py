"""The menu's Pace button (issue 12): each press moves scene -> fixed -> self-paced -> scene, the
command block (as the core reads it) follows, and every change is an audit row."""

from __future__ import annotations

from engine.control import layout
from tests.render.test_menu import click, command, setup  # noqa: F401  (the fixture)


def test_pace_button_cycles_modes_into_the_command_block_and_audit_log(setup):  # noqa: F811
    menu, controller, store, core_view, base = setup
    menu.pick_patient("p-007")
    menu.pick_scene("test-walk")
    menu.start()
    assert "scene" in menu.buttons["pace"]["text"]
    seen = []
    for _ in range(3):
        click(menu.buttons["pace"])
        seen.append(int(command(core_view)["pace_mode"]))
    assert seen == [layout.PaceMode.FIXED, layout.PaceMode.SELF, layout.PaceMode.SCENE]
    rows = [r for r in store.audit_log(controller.session_id) if r["setting"] == "pace_mode"]
    assert [(r["old"], r["applied"]) for r in rows] == [(0.0, 1.0), (1.0, 2.0), (2.0, 0.0)]
    assert "scene" in menu.buttons["pace"]["text"]
