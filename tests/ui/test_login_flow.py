"""Therapists log in to the menu of a rig with a clinic server (issue 14): the real desktop under
Xvfb, the real PostgreSQL of the tests, driven with pointer and keys (tests/ui/login_flow.py).
Screenshots: build/ui-screenshots/<test>/ when a test fails (STEPSYNC_UI_SHOTS=DIR keeps them)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from engine.control.prescription import Prescription
from engine.records import pg_admin
from engine.records.store import Store
from engine.records.sync import sync_once
from tests.pg_server import THERAPIST_PASSWORD, clinic, pg_server  # noqa: F401 - fixtures
from tests.ui.conftest import KEPT, run_flow

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def flow(xdisplay, clinic, tmp_path):  # noqa: F811 - the clinic fixture
    forced = os.environ.get("STEPSYNC_UI_SHOTS")
    work = Path(forced) / "login-flow" if forced else tmp_path / "login-flow"
    work.mkdir(parents=True, exist_ok=True)
    # Another rig created alice's and bob's patients; the server put each on their creator's team.
    other = tmp_path / "other-rig.db"
    for name, role in (("alice", "therapist"), ("bob", "therapist"), ("carol", "therapist"),
                       ("dave", "therapist"), ("rex", "researcher")):
        pg_admin.add_account(clinic.owner_url, name, role, THERAPIST_PASSWORD)
    with Store(other) as store:
        for code, who in (("p-team-1", "alice"), ("p-other-1", "bob")):
            store.ensure_patient(code)
            store.add_prescription(code, Prescription(leg_length_l_m=0.92, leg_length_r_m=0.92), who=who)
    sync_once(other, clinic.rig_url("other-rig"))
    pg_admin.set_locked(clinic.owner_url, "dave", True)
    clinic.query("UPDATE accounts SET expires_at = now() - interval '1 day' WHERE username = 'carol'")
    url = clinic.rig_url("ui-rig")
    (work / "clinic.json").write_text(json.dumps({"url": url, "password": THERAPIST_PASSWORD}))
    with Store(work / "records.db"):
        pass
    sync_once(work / "records.db", url)  # the rig copies the clinic's patients down, as `run --sync-to` does
    late = tmp_path / "late-rig.db"  # a patient of alice's that reaches the server after that pass
    with Store(late) as store:
        store.ensure_patient("p-team-2")
        store.add_prescription("p-team-2", Prescription(leg_length_l_m=0.92, leg_length_r_m=0.92), who="alice")
    sync_once(late, clinic.rig_url("late-rig"))
    result = run_flow("tests.ui.login_flow", "login_flow", work, xdisplay, timeout_s=560)
    result["work"], result["url"] = work, url
    result["by_step"] = {step["step"]: step for step in result["steps"]}
    yield result
    if result["errors"] and not forced:
        target = KEPT / "login-flow"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(work / "shots", target)


def screen(flow, step: str) -> dict:
    assert step in flow["by_step"], f"the flow did not reach {step!r}: {flow['errors']}"
    return flow["by_step"][step]["screen"]


def test_therapist_login_to_the_menu(flow, clinic):  # noqa: F811 - the clinic fixture
    assert flow["errors"] == []
    first = screen(flow, "the login screen first")
    assert first["login_shown"] and first["logged_in"] is None
    assert "not-" not in json.dumps(flow["steps"])  # no password is ever shown or kept
    assert flow["menu_clickable_under_login"] != True  # noqa: E712 - the menu is covered
    assert screen(flow, "tab does nothing at the login screen")["login_shown"]
    alarm = screen(flow, "an alarm over the login screen")
    assert alarm["login_shown"] and "Exoskeleton" in alarm["banner"]
    assert flow["ack_over_login"] is True  # the banner's Acknowledge is on top, reachable
    assert all(flow["obscured"]) and len(flow["obscured"]) == 5
    for step, words in (("a locked account", "account dave is locked"),
                        ("an expired account", "account carol expired on"),
                        ("a researcher account", "rex is a researcher account"),
                        ("a wrong password", "unknown user or wrong password")):
        shown = screen(flow, step)
        assert shown["login_shown"] and words in shown["login_message"], (step, shown["login_message"])
        assert "Traceback" not in shown["login_message"] and shown["logged_in"] is None
        assert shown["login_password_chars"] == 0  # cleared after a refusal
        assert flow["by_step"][step]["logged_in"] == "therapist"  # the menu still writes as nobody

    step = flow["by_step"]["alice logs in (Enter)"]
    assert step["who"] == "alice" and step["screen"]["logged_in"] == "alice"
    assert "login_shown" not in step["screen"]
    assert step["patients"] == ["p-team-1"]  # her care team only (demo patients and bob's are not)
    assert flow["by_step"]["the next sync copies down p-team-2"]["patients"] == ["p-team-1", "p-team-2"]
    assert step["screen"]["status"].startswith("alice logged in (therapist, clinic server)")
    assert flow["by_step"]["pick her patient"]["selected"] == "p-team-1"

    other = flow["by_step"]["another team's patient is not there"]
    assert other["selected"] == "p-team-1" and "no patient 'p-other-1'" in other["screen"]["status"]
    refused = flow["by_step"]["and cannot be written"]
    assert "not on alice's care team" in refused["screen"]["status"] and refused["selected"] == "p-team-1"

    new = flow["by_step"]["a new patient"]
    assert new["selected"] == "p-ui-new" and new["patients"] == ["p-team-1", "p-team-2", "p-ui-new"]
    assert flow["rx_who"] == {"p-ui-new": "alice"}
    assert flow["by_step"]["start"]["session"] is not None and flow["by_step"]["stop"]["ended"]
    assert flow["audit_rows"], "the session wrote no audit rows"
    assert "alice" in flow["audit_who"] and set(flow["audit_who"]) <= {"alice", "system"}, flow["audit_rows"]
    assert flow["cached_accounts"] == ["account:alice"]  # for an offline login later
    # Every attempt at the menu is in the rig's audit log (synced to the server with the rest).
    assert [(who, what) for who, what, _ in flow["login_audit"]] == [
        ("dave", "menu login refused"), ("carol", "menu login refused"), ("rex", "menu login refused"),
        ("alice", "menu login refused"), ("alice", "menu login"), ("alice", "menu logout")]
    assert [json.loads(new) for _, _, new in flow["login_audit"][:4]] == ["locked", "expired", "role", "bad"]
    assert flow["by_step"]["quit"]["quit_requested"]

    # Synced: the new patient is on alice's team on the server, her audit rows carry her name.
    sync_once(flow["work"] / "records.db", flow["url"])
    assert clinic.query("SELECT username FROM care_team WHERE patient_code = 'p-ui-new'") == [("alice",)]
    assert clinic.query("SELECT DISTINCT who FROM audit_log WHERE session_id IS NOT NULL ORDER BY 1")[0][0] == "alice"
    for shot in (s["shot"] for s in flow["steps"]):
        assert Path(shot).stat().st_size > 1000
