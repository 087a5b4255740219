"""`main.py progress` proposals on a real SQLite file filled by `simulate` (the real core and
rig): accept, edit and reject, each audited (who, when, what); the next session starts from the
accepted plan; nothing beyond the prescription is accepted."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE = "prog-1"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "-q", *args], capture_output=True, text=True,
                          timeout=900, cwd=ROOT)


def simulate(db: Path, seed: int, *extra: str) -> None:
    r = run("simulate", "--scene", "grocery-pharmacy-aisle", "--patient-profile", "hemiparetic-right-mild",
            "--patient", CODE, "--duration-s", "20", "--seed", str(seed), "--db", str(db), "--no-progress", *extra)
    assert r.returncode in (0, 1), r.stderr  # 1: the core stopped the session on its own (still recorded)


def audit(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT session_id, who, setting, new_json, applied_json, at FROM audit_log "
                            "WHERE setting LIKE 'progression_%' ORDER BY id").fetchall()


def plans(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT version, decision, who, based_on_session, plan_json FROM session_plans "
                            "ORDER BY version").fetchall()


@pytest.mark.timeout(1800)
def test_accept_edit_reject_are_audited_and_the_plan_drives_the_next_session(tmp_path):
    import json

    from engine.records.store import Store

    db = tmp_path / "records.db"
    simulate(db, 1)
    r = run("progress", "--patient", CODE, "--db", str(db))
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Proposal for the next session (from session 1" in r.stdout
    for name in ("speed_mps", "guidance_min", "bws_fraction", "scene_id"):
        assert name in r.stdout
    assert plans(db) == [] and audit(db) == []  # showing changes nothing

    # accept: plan v1, one audit row on session 1 with the proposal and its reasons
    r = run("progress", "--patient", CODE, "--db", str(db), "--accept", "--who", "alice")
    assert r.returncode == 0 and "accepted by alice: session plan v1" in r.stdout, r.stdout + r.stderr
    (version, decision, who, based_on, plan_json), = plans(db)
    assert (version, decision, who, based_on) == (1, "accepted", "alice", 1)
    rows = audit(db)
    assert len(rows) == 1 and rows[0][:3] == (1, "alice", "progression_accepted")
    proposal = json.loads(rows[0][3])
    assert proposal["plan"] == json.loads(plan_json)
    assert all(c["reason"] for c in proposal["changes"])
    assert rows[0][5]  # when
    # a second choice on the same proposal is refused and changes nothing
    r = run("progress", "--patient", CODE, "--db", str(db), "--reject")
    assert r.returncode == 1 and "already accepted by alice" in r.stdout
    assert len(audit(db)) == 1 and len(plans(db)) == 1

    # the next session starts from the accepted plan
    simulate(db, 2, "--use-plan")
    plan1 = json.loads(plan_json)
    with Store(db) as store:
        rx = store.current_prescription(CODE)
        settings = store.get_session(2)["settings"]
    assert settings["speed_fraction"] == pytest.approx(plan1["speed_mps"] / rx.max_speed_mps, abs=1e-4)
    assert settings["guidance_min"] == pytest.approx(plan1["guidance_min"], abs=1e-6)
    assert settings["bws_fraction"] == pytest.approx(plan1["bws_fraction"], abs=1e-6)

    # edit: beyond the prescription is refused (nothing stored), a valid edit is plan v2
    r = run("progress", "--patient", CODE, "--db", str(db), "--edit", f"speed_mps={rx.max_speed_mps + 0.3:.2f}")
    assert r.returncode == 2 and "beyond the prescription" in r.stdout
    r = run("progress", "--patient", CODE, "--db", str(db), "--edit", "bogus=1")
    assert r.returncode == 2 and "FIELD=VALUE" in r.stdout
    assert len(plans(db)) == 1 and len(audit(db)) == 1
    floor = rx.guidance_min + 0.1
    r = run("progress", "--patient", CODE, "--db", str(db), "--edit", f"guidance_min={floor}", "guidance=0.7",
            "--who", "bob")
    assert r.returncode == 0 and "edited by bob: session plan v2" in r.stdout, r.stdout + r.stderr
    version, decision, who, based_on, plan_json = plans(db)[-1]
    assert (version, decision, who, based_on) == (2, "edited", "bob", 2)
    assert json.loads(plan_json)["guidance_min"] == pytest.approx(floor)
    session_id, who, setting, _, applied, _ = audit(db)[-1]
    assert (session_id, who, setting) == (2, "bob", "progression_edited")
    assert json.loads(applied)["guidance_min"] == pytest.approx(floor) and json.loads(applied)["plan_version"] == 2

    # reject: audited, no new plan
    simulate(db, 3, "--use-plan")
    r = run("progress", "--patient", CODE, "--db", str(db), "--reject", "--who", "carol")
    assert r.returncode == 0 and "rejected by carol" in r.stdout
    assert len(plans(db)) == 2
    session_id, who, setting, new, applied, _ = audit(db)[-1]
    assert (session_id, who, setting, applied) == (3, "carol", "progression_rejected", "null")
    assert json.loads(new)["based_on_session"] == 3
    r = run("progress", "--patient", CODE, "--db", str(db))
    assert "decided: rejected by carol" in r.stdout


def test_the_live_controller_starts_from_the_accepted_plan(tmp_path):
    """SessionController.select_patient applies the plan to the command block, audited."""
    import numpy as np

    from engine.analysis.progression import Plan
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter
    from engine.control.layout import TIMELINE_DTYPE
    from engine.control.prescription import Prescription
    from engine.records.store import Store
    from engine.session.controller import SceneChoice, SessionController

    rx = Prescription(max_speed_mps=1.0, guidance_min=0.1, guidance_max=0.9, bws_min=0.0, bws_max=0.4)
    plan = Plan("grocery-weekday-errands", 0.65, 0.5, 0.3, 0.15, True)
    channels = Channels.create()
    try:
        with Store(tmp_path / "r.db") as store:
            store.ensure_patient("p")
            store.add_prescription("p", rx)
            store.add_session_plan("p", plan.to_dict(), None, "accepted", "alice")
            controller = SessionController(CommandWriter(channels.command), store)
            controller.select_patient("p")
            block = channels.command.read()
            assert float(block["speed_fraction"]) == pytest.approx(0.65)
            assert float(block["guidance_min"]) == pytest.approx(0.3)
            assert float(block["bws_fraction"]) == pytest.approx(0.15)
            assert int(block["assist_as_needed"]) == 1
            assert controller.planned_scene_id == "grocery-weekday-errands"
            controller.select_scene(SceneChoice("grocery-weekday-errands", route_length_m=150.0,
                                                timeline=np.zeros(0, dtype=TIMELINE_DTYPE)))
            session_id = controller.open_session()
            rows = {r["setting"]: r for r in store.audit_log(session_id)}
            assert rows["guidance_min"]["who"] == "plan v1 (accepted by alice)"
            assert rows["guidance_min"]["applied"] == pytest.approx(0.3)
            assert rows["patient"]["who"] == "therapist"
    finally:
        channels.close()


def test_the_therapist_judges_a_stumble_not_a_trip_and_the_proposal_weighs_it_again(tmp_path):
    """`progress --not-a-trip`: one audit row per judgement (who), the stumble no longer counts as
    a trip in the proposal, a time that matches no stumble exits 2 and stores nothing."""
    import json

    from engine.control.prescription import Prescription
    from engine.records.store import Store

    db = tmp_path / "r.db"
    with Store(db) as store:
        store.ensure_patient("p-9")
        store.add_prescription("p-9", Prescription(max_speed_mps=1.0), who="t")
        session_id = store.start_session("p-9", "grocery-pharmacy-aisle", {}, {"speed_fraction": 0.5})
        store.add_event(session_id, "stumble", 3.25)
        store.end_session(session_id, "completed", {"steps": 0})
    before = run("progress", "--patient", "p-9", "--db", str(db))
    assert before.returncode == 0, before.stderr
    assert "1 stumble warning(s): 0 judged not a trip" in before.stdout
    wrong = run("progress", "--patient", "p-9", "--db", str(db), "--not-a-trip", "7.5", "--who", "anna")
    assert wrong.returncode == 2 and "no stumble at 7.5 s" in wrong.stdout and "3.25" in wrong.stdout
    done = run("progress", "--patient", "p-9", "--db", str(db), "--not-a-trip", "3.25", "--who", "anna")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "judged not a trip by anna: stumble warning(s) at 3.25 s" in done.stdout
    assert "1 stumble warning(s): 1 judged not a trip by the therapist" in done.stdout
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT session_id, who, new_json FROM audit_log WHERE setting = 'stumble_review'").fetchall()
    assert [(r[0], r[1], json.loads(r[2])) for r in rows] == [(session_id, "anna", {"t_s": 3.25, "judgement": "not_a_trip"})]
