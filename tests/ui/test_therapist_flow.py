"""The therapist's whole flow on the real desktop under Xvfb (issue 15's "Why"): the real menu
driven through DirectGUI with pointer moves, clicks, drags and keys; rig, control core, recorder
and records file all real. One child process plays the flow (tests/ui/flows.py); each test
below checks what the screen showed at its steps, and the records it left.

Screenshots of every step: build/ui-screenshots/<test>/ when a test fails (STEPSYNC_UI_SHOTS=DIR
keeps them always).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.ui.conftest import KEPT, run_flow
from tests.ui.flows import gait_speed

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def flow(xdisplay, tmp_path_factory):
    forced = os.environ.get("STEPSYNC_UI_SHOTS")
    work = Path(forced) / "therapist-flow" if forced else tmp_path_factory.mktemp("therapist-flow")
    work.mkdir(parents=True, exist_ok=True)
    result = run_flow("tests.ui.flows", "therapist_flow", work, xdisplay, timeout_s=560)
    result["work"] = work
    result["by_step"] = {step["step"]: step for step in result["steps"]}
    return result


@pytest.fixture(autouse=True)
def keep_screenshots_on_failure(request, flow):
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and not os.environ.get("STEPSYNC_UI_SHOTS"):
        target = KEPT / request.node.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(flow["work"] / "shots", target)


def screen(flow, step: str) -> dict:
    assert step in flow["by_step"], f"the flow did not reach {step!r}: {flow['errors']}"
    return flow["by_step"][step]["screen"]


def test_the_whole_flow_ran_with_a_screenshot_per_step(flow):
    assert flow["errors"] == []
    assert len(flow["steps"]) >= 15
    for step in flow["steps"]:
        assert Path(step["shot"]).stat().st_size > 1000, step["step"]


def test_first_launch_has_the_demo_patients_and_says_so(flow):
    shown = screen(flow, "launch on a fresh database")
    assert shown["status"].startswith("first run: created the simulated demo patients")
    assert {"demo-healthy", "demo-hemiparetic", "demo-parkinsonian", "demo-frail"} <= set(flow["patients"])
    assert shown["patient_dropdown"] == "(choose a patient)"


def test_an_unknown_code_is_not_selected_and_create_is_offered(flow):
    step = flow["by_step"]["select an unknown code"]
    assert step["selected"] is None
    assert "no patient 'p-new-01'" in step["screen"]["status"] and "Create" in step["screen"]["status"]
    assert step["screen"]["patient_label"].startswith("new patient p-new-01")


def test_create_saves_the_prescription_on_screen_and_the_list_follows(flow):
    step = flow["by_step"]["create the patient"]
    assert step["selected"] == "p-new-01"
    assert step["saved"] == {"max_speed_mps": 1.1, "guidance_max": 0.6, "bws_max": 0.25}
    assert step["screen"]["prescription"]["max_speed_mps"] == "1.1"
    assert step["screen"]["prescription"]["bws_max"] == "25"
    assert step["screen"]["patient_dropdown"] == "p-new-01"


def test_picking_from_the_list_loads_that_prescription(flow):
    step = flow["by_step"]["pick demo-hemiparetic from the list"]
    assert step["selected"] == "demo-hemiparetic" and step["screen"]["patient_dropdown"] == "demo-hemiparetic"
    back = flow["by_step"]["pick the new patient again"]
    assert back["selected"] == "p-new-01" and back["screen"]["prescription"]["max_speed_mps"] == "1.1"


def test_the_chosen_scene_is_highlighted_and_follows_a_switch(flow):
    assert screen(flow, "pick scene A")["scenes_highlighted"] == ["ui-walk-a"]
    assert screen(flow, "pick scene A")["scene_title"].startswith("Straight walk A")
    assert screen(flow, "switch to scene B")["scenes_highlighted"] == ["ui-walk-b"]


def test_guidance_has_one_meaning_on_the_slider_the_core_and_the_live_panel(flow):
    slide = flow["by_step"]["slide guidance"]
    value = slide["setting"]
    low, high = slide["range"]
    assert (low, high) == pytest.approx((0.0, 0.6))  # the prescription's range
    assert 0.05 < value < 0.55  # the drag moved it
    assert slide["screen"]["sliders"]["guidance"].startswith(f"Guidance: {value:.2f} of full robot assistance")
    walking = flow["by_step"]["walking: what the menu would show"]
    assert walking["state_guidance"] == pytest.approx(value, abs=0.01)  # the core applies what the slider says
    assert walking["screen"]["live"]["Guidance (0-1)"] == f"{walking['state_guidance']:.2f} of full"
    assert walking["state_bws"] == pytest.approx(0.25, abs=0.01)  # 30 % asked, clamped to the 25 % prescribed
    assert walking["screen"]["live"]["Body-weight supp."] == "25 % body wt"
    # The audit log (of the first session: the slider was moved before it) holds the same value.
    guidance_rows = [row for session in flow["sessions"] for row in session["audit"] if row["setting"] == "guidance"]
    assert guidance_rows and float(guidance_rows[-1]["applied_json"]) == pytest.approx(value, abs=1e-3)


def test_status_and_live_panel_tell_the_truth_while_walking_and_after_a_stop(flow):
    walking = screen(flow, "walking: what the menu would show")
    assert walking["run_state"] == "running" and walking["status"] == "running"
    assert gait_speed(walking["live"])[0].isdigit()
    stopped = screen(flow, "space bar: stop")
    assert stopped["status"].startswith("session ") and "the therapist pressed STOP" in stopped["status"]
    assert "report written: " in stopped["status"] and ".html" in stopped["status"]
    # ...written by a child process while the menu was already back (no report work in a frame)
    assert flow["when_ended"]["menu_shown"] and flow["when_ended"]["report_pending"]
    assert "the therapist pressed STOP" in flow["when_ended"]["status"]
    assert "writing its report" in flow["when_ended"]["status"]
    assert stopped["live"]["Step length L / R"] == "- (not walking)"
    assert stopped["live"]["Symmetry index"] == "- (not walking)"


def test_a_fault_stop_shows_its_reason_on_the_banner_the_status_and_in_the_records(flow):
    fault = screen(flow, "exoskeleton link cut: a fault stop")
    assert fault["banner"].startswith("HIGH: Exoskeleton link lost")
    assert fault["status"].startswith("stopped: Exoskeleton link lost") or "fault stop" in fault["status"]
    assert "running" not in fault["status"]
    closed = screen(flow, "the fault-stopped session is closed")
    assert "fault stop: Exoskeleton link lost" in closed["status"] and "report written: " in closed["status"]
    assert flow["fields_reachable_under_banner"] is True
    session = next(s for s in flow["sessions"] if "Exoskeleton" in s["summary"].get("end_reason", ""))
    assert session["outcome"] == "stopped"
    assert session["end_events"] and "Exoskeleton link lost" in session["end_events"][-1]["reason"]


def test_every_session_records_why_it_ended(flow):
    assert flow["sessions"]
    for session in flow["sessions"]:
        assert session["summary"].get("end_reason"), session
        assert [event["reason"] for event in session["end_events"]] == [session["summary"]["end_reason"]]


def test_acknowledge_then_start_without_rearm_says_why_and_opens_no_session(flow):
    assert screen(flow, "acknowledge the alarm")["banner"] == ""
    step = flow["by_step"]["start without re-arm"]
    assert step["session"] is None
    assert "Re-arm" in step["screen"]["status"]
    assert screen(flow, "re-arm")["run_state"] == "idle"


def test_restart_after_rearm_walks_and_the_stop_button_ends_it(flow):
    assert flow["by_step"]["restart on scene B"]["walking"] is True
    assert "the therapist pressed STOP" in screen(flow, "STOP button")["status"]


def test_escape_asks_before_quitting_and_quit_quits(flow):
    assert screen(flow, "escape asks to quit")["quit_dialog"].startswith("Quit StepSync?")
    assert screen(flow, "escape again cancels")["quit_dialog"] == ""
    assert flow["by_step"]["quit"]["quit_requested"] is True


def test_launch_output_has_no_audio_or_poll_noise(flow):
    noise = [line for line in flow["stderr"].splitlines()
             if line.startswith(("ALSA lib", "AL lib")) or "recursive poll" in line or "OpenAL" in line]
    assert noise == []
