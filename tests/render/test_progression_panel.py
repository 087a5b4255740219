"""The menu's Progression button (issue 12): the panel shows the proposal for the selected
patient with its reasons; Accept, Edit and Reject store what the CLI stores (session plan
versions, audit rows with who) and an accepted plan reaches the command block."""

from __future__ import annotations

import json

import pytest

from tests.render.test_menu import click, command, setup  # noqa: F401  (the fixture)

SETTINGS = {"speed_fraction": 0.5, "guidance": 0.5, "guidance_min": 0.3, "bws_fraction": 0.2, "assist_as_needed": 1.0}


def _finished_session(store) -> int:
    session_id = store.start_session("p-007", "test-walk", {}, SETTINGS)
    store.end_session(session_id, "completed", {"steps": 0})
    return session_id


def test_panel_accept_edit_reject(setup):  # noqa: F811
    menu, controller, store, core_view, base = setup
    panel = menu.progression
    click(menu.buttons["progression"])
    assert panel.visible()["shown"] and "Select a patient first" in panel.visible()["text"]
    menu.pick_patient("p-007")
    click(menu.buttons["progression"])
    assert "no finished session" in panel.visible()["text"]

    first = _finished_session(store)
    click(menu.buttons["progression"])
    text = panel.visible()["text"]
    assert f"from session {first}" in text and "speed_mps" in text and "guidance_min" in text
    assert "too little to judge" in text  # no telemetry in this session: everything holds, with the reason
    assert controller.settings["speed_fraction"] == pytest.approx(0.6)  # nothing changed yet
    assert menu.selected_scene is None
    click(panel.buttons["accept"])
    assert menu.selected_scene == "test-walk" and menu.highlighted_scenes() == ["test-walk"]  # the plan's scene
    assert "accepted by therapist: session plan v1" in panel.visible()["status"]
    (plan,) = store.session_plans("p-007")
    assert (plan["decision"], plan["who"], plan["based_on_session"]) == ("accepted", "therapist", first)
    block = command(core_view)
    assert float(block["speed_fraction"]) == pytest.approx(0.5)  # the next session starts from the plan
    assert float(block["guidance_min"]) == pytest.approx(0.3)
    click(panel.buttons["reject"])  # a second choice on the same proposal is refused
    assert "already decided" in panel.visible()["status"]
    assert len(store.audit_log_setting("progression_", [first])) == 1

    second = _finished_session(store)
    click(menu.buttons["progression"])
    panel.edit_entry.enterText("speed_mps=5")
    click(panel.buttons["edit"])
    assert "Not stored" in panel.visible()["status"] and "beyond the prescription" in panel.visible()["status"]
    panel.edit_entry.enterText("speed_mps=0.3 bws_fraction=0.1")
    click(panel.buttons["edit"])
    assert "edited by therapist: session plan v2" in panel.visible()["status"]
    assert store.current_session_plan("p-007")["plan"]["speed_mps"] == pytest.approx(0.3)
    assert float(command(core_view)["bws_fraction"]) == pytest.approx(0.1)

    third = _finished_session(store)
    click(menu.buttons["progression"])
    click(panel.buttons["reject"])
    assert panel.visible()["status"] == "rejected by therapist"
    assert len(store.session_plans("p-007")) == 2
    (row,) = store.audit_log_setting("progression_", [third])
    assert (row["who"], row["setting"], row["applied"]) == ("therapist", "progression_rejected", None)
    assert json.dumps(row["new"]) and row["new"]["based_on_session"] == third
    rows = store.audit_log_setting("progression_", [first, second, third])
    assert [r["setting"] for r in rows] == ["progression_accepted", "progression_edited", "progression_rejected"]
    click(panel.buttons["close"])
    assert not panel.visible()["shown"]


def test_selecting_a_patient_with_an_accepted_plan_picks_its_scene(setup):  # noqa: F811
    """Issue 12: the therapist starts the patient's next session; the menu selects the accepted
    plan's scene by itself (and says so), the therapist may pick another after."""
    menu, controller, store, core_view, base = setup
    menu.pick_patient("p-008")
    assert menu.selected_scene is None  # no plan: nothing picked
    first = _finished_session(store)
    store.add_session_plan("p-007", {"scene_id": "test-walk", "speed_mps": 0.45, "guidance": 0.5, "guidance_min": 0.3,
                                     "bws_fraction": 0.2, "assist_as_needed": True}, first, "accepted", "anna")
    menu.pick_patient("p-007")
    assert menu.selected_scene == "test-walk" and menu.highlighted_scenes() == ["test-walk"]
    assert "accepted session plan" in menu.message
    assert float(command(core_view)["speed_fraction"]) == pytest.approx(0.5)  # 0.45 of 0.9 m/s
    # a plan naming a scene this rig does not have picks nothing
    store.add_session_plan("p-007", {"scene_id": "no-such-scene", "speed_mps": 0.45, "guidance": 0.5,
                                     "guidance_min": 0.3, "bws_fraction": 0.2}, first, "edited", "anna")
    menu.selected_scene = None
    menu.pick_patient("p-007")
    assert menu.selected_scene is None


def test_the_therapist_judges_the_stumbles_not_a_trip_from_the_panel(setup):  # noqa: F811
    menu, controller, store, core_view, base = setup
    panel = menu.progression
    menu.pick_patient("p-007")
    first = _finished_session(store)
    click(menu.buttons["progression"])
    click(panel.buttons["not_a_trip"])
    assert "Not stored" in panel.visible()["status"] and "no stumble warning" in panel.visible()["status"]
    second = store.start_session("p-007", "test-walk", {}, SETTINGS)
    store.add_event(second, "stumble", 5.5)
    store.end_session(second, "completed", {"steps": 0})
    click(menu.buttons["progression"])
    assert "1 stumble warning(s): 0 judged not a trip" in panel.visible()["text"]
    click(panel.buttons["not_a_trip"])
    assert "judged not a trip by therapist" in panel.visible()["status"]
    assert "1 stumble warning(s): 1 judged not a trip by the therapist" in panel.visible()["text"]
    (row,) = store.audit_log_setting("stumble_review", [second])
    assert (row["who"], row["new"]) == ("therapist", {"t_s": None, "judgement": "not_a_trip"})
    assert store.audit_log_setting("stumble_review", [first]) == []
