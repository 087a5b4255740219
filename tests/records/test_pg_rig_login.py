"""Therapists at a rig (the menu's login, engine/records/rig_accounts.py) and patients copied
down to every rig, on the real server. The login screen itself is driven in tests/ui."""

from __future__ import annotations

import datetime

import pytest

from bench.sync import record_sessions
from engine.control.prescription import Prescription
from engine.records import pg_admin
from engine.records.accounts import LoginRefused
from engine.records.pg_schema import MAX_FAILED_LOGINS
from engine.records.rig_accounts import OFFLINE_LOGIN_DAYS, CareTeamStore, login_for_menu
from engine.records.store import Store
from engine.records.sync import pending_rows, sync_once
from tests.pg_server import ADMIN, ADMIN_PASSWORD, populate
from tests.pg_server import THERAPIST_PASSWORD as PW

DOWN_URL = "postgresql://nobody:nothing@127.0.0.1:1/stepsync?connect_timeout=3"  # nothing listens on port 1


@pytest.fixture
def clinic_data(clinic, tmp_path):
    return populate(clinic, tmp_path)  # rig0: demo-healthy (alice's), rig1: demo-frail (bob's)


def test_a_therapist_sees_only_their_patients_and_writes_under_their_name(clinic_data, tmp_path):
    rig, url = tmp_path / "rig0.db", clinic_data.rig_url("acc0")
    sync_once(rig, url)  # rig 0 copies down demo-frail, created at rig 1
    login = login_for_menu(rig, url, "alice", PW)
    assert login.account.role == "therapist" and login.source == "clinic server"
    assert login.patients == {"demo-healthy"}
    with Store(rig) as store:
        assert {p["code"] for p in store.list_patients()} == {"demo-healthy", "demo-frail"}
        view = CareTeamStore(store, login)
        assert [p["code"] for p in view.list_patients()] == ["demo-healthy"]
        assert view.get_patient("demo-frail") is None and view.get_patient("demo-healthy") is not None
        with pytest.raises(PermissionError, match="not on alice's care team"):
            view.add_prescription("demo-frail", Prescription())
        with pytest.raises(PermissionError):
            view.ensure_patient("demo-frail")
        view.ensure_patient("p-alice-1")
        view.add_prescription("p-alice-1", Prescription(max_speed_mps=0.9))
        assert [p["code"] for p in view.list_patients()] == ["demo-healthy", "p-alice-1"]
        assert store.prescription_history("p-alice-1")[-1]["who"] == "alice"
    sync_once(rig, url)
    # The server put the creator on the new patient's care team; the read of the list is audited.
    assert clinic_data.query("SELECT username FROM care_team WHERE patient_code = 'p-alice-1'") == [("alice",)]
    assert clinic_data.query("SELECT count(*) FROM access_log WHERE account = 'alice' AND action = 'read patient list'")[0][0] == 1
    again = login_for_menu(rig, url, " Alice ", PW)  # as typed: spaces and capitals do not matter
    assert again.patients == {"demo-healthy", "p-alice-1"}
    admin = login_for_menu(rig, url, ADMIN, ADMIN_PASSWORD)
    assert admin.patients is None and admin.may_see("demo-frail")


def test_refusals_are_one_clear_line(clinic_data, tmp_path):
    rig, url = tmp_path / "rig0.db", clinic_data.rig_url("acc0")
    with pytest.raises(LoginRefused, match="unknown user or wrong password"):
        login_for_menu(rig, url, "alice", "not-her-password")
    with pytest.raises(LoginRefused, match="researcher account; the therapist menu is for therapist and admin"):
        login_for_menu(rig, url, "rex", PW)
    pg_admin.set_locked(clinic_data.owner_url, "bob", True)
    with pytest.raises(LoginRefused, match="account bob is locked") as locked:
        login_for_menu(rig, url, "bob", PW)
    clinic_data.query("UPDATE accounts SET expires_at = now() - interval '1 day' WHERE username = 'alice'")
    with pytest.raises(LoginRefused, match="account alice expired on") as expired:
        login_for_menu(rig, url, "alice", PW)
    for refused in (locked.value, expired.value):
        assert "\n" not in str(refused) and str(refused).startswith("login refused: ")
    with pytest.raises(LoginRefused, match="type your user name and password"):
        login_for_menu(rig, url, "alice", "")


def test_offline_a_known_therapist_still_logs_in_for_a_while(clinic_data, tmp_path):
    rig, url = tmp_path / "rig0.db", clinic_data.rig_url("acc0")
    online = login_for_menu(rig, url, "alice", PW)
    offline = login_for_menu(rig, DOWN_URL, "alice", PW)
    assert offline.source.startswith("offline: the clinic server cannot be reached")
    assert offline.patients == online.patients == {"demo-healthy"}
    with pytest.raises(LoginRefused, match="bob has not logged in on this rig before"):
        login_for_menu(rig, DOWN_URL, "bob", PW)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=OFFLINE_LOGIN_DAYS + 1)
    with pytest.raises(LoginRefused, match=f"offline logins are allowed for {OFFLINE_LOGIN_DAYS} days"):
        login_for_menu(rig, DOWN_URL, "alice", PW, now=later)
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(LoginRefused, match="wrong password"):
            login_for_menu(rig, DOWN_URL, "alice", "guessing-123")
    with pytest.raises(LoginRefused, match="locked on this rig after 5 failed offline logins"):
        login_for_menu(rig, DOWN_URL, "alice", PW)
    assert login_for_menu(rig, url, "alice", PW).source == "clinic server"  # the server clears it
    # Locked on the server: the rig forgets the account, so it cannot log in offline either.
    pg_admin.set_locked(clinic_data.owner_url, "alice", True)
    with pytest.raises(LoginRefused, match="locked"):
        login_for_menu(rig, url, "alice", PW)
    with pytest.raises(LoginRefused, match="has not logged in on this rig before"):
        login_for_menu(rig, DOWN_URL, "alice", PW)


def test_a_patient_created_at_rig_a_can_train_at_rig_b(clinic, tmp_path):
    rig_a, rig_b, rig_c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    rx = Prescription(max_speed_mps=0.8, guidance_max=0.7)
    with Store(rig_a) as store:
        store.ensure_patient("p-0042", name="Ada Example")
        store.add_prescription("p-0042", rx, who="alice")
    record_sessions(rig_b, "demo-healthy", sessions=1, seconds=1)
    with Store(rig_c) as store:  # offline, rig C gave the same code to someone else
        store.ensure_patient("p-0042", name="Bea Other")
        store.add_prescription("p-0042", Prescription(max_speed_mps=0.5), who="carl")
    url_a, url_b, url_c = clinic.rig_url("rig-a"), clinic.rig_url("rig-b"), clinic.rig_url("rig-c")
    sync_once(rig_a, url_a)
    sent_b = sync_once(rig_b, url_b)
    assert sent_b["patients copied down"] == 1
    with Store(rig_b) as store:
        assert store.get_patient("p-0042")["name"] == "Ada Example"
        assert store.current_prescription("p-0042").to_dict() == rx.to_dict()
    again = sync_once(rig_b, url_b)
    assert again.get("patients", 0) == 0 and "patients copied down" not in again  # nothing goes back up
    assert pending_rows(rig_b)["patients"] == 0
    assert clinic.query("SELECT rig_id IS NOT NULL, name FROM patients WHERE code = 'p-0042'") == [(True, "Ada Example")]
    sent_c = sync_once(rig_c, url_c)
    assert sent_c["patient name conflicts"] == 1
    with Store(rig_c) as store:
        assert store.get_patient("p-0042")["name"] == "Bea Other"  # never overwritten
    assert clinic.query("SELECT name FROM patients WHERE code = 'p-0042'") == [("Ada Example",)]
    assert clinic.query("SELECT count(*) FROM access_log WHERE action = 'rig copied patients'")[0][0] >= 2


def test_run_with_a_clinic_server_asks_for_a_login():
    """`main.py run --sync-to URL` hands the URL to the desktop, which shows the login screen."""
    import main
    from engine.render.vr.select import choose_vr
    from engine.session.runner import SessionOptions

    url = "postgresql://stepsync_rig_a@clinic-db/stepsync?sslmode=require"
    args = main.build_parser().parse_args(["run", "--sync-to", url])
    assert SessionOptions.from_args(args, choose_vr("off", headless=False)).clinic_url == url
    plain = main.build_parser().parse_args(["run"])
    assert SessionOptions.from_args(plain, choose_vr("off", headless=False)).clinic_url is None


def test_the_new_server_functions_refuse_whoever_must_not_use_them(clinic_data):
    import psycopg

    from engine.records import accounts

    def refused(conn, statement: str) -> str:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(statement)
        return type(info.value).__name__

    with psycopg.connect(clinic_data.desk_url(), autocommit=True) as conn:  # a staff computer
        for statement in ("SELECT * FROM stepsync_clinic_patients()", "SELECT stepsync_clinic_patient_count()",
                          "SELECT stepsync_pseudonym('\\x00'::bytea, 'demo-frail')",
                          "SELECT stepsync_hmac_sha256('\\x00'::bytea, '\\x00'::bytea)"):
            assert refused(conn, statement) == "InsufficientPrivilege", statement
        assert refused(conn, "SELECT * FROM stepsync_my_patients()") == "InsufficientPrivilege"  # log in first
        accounts.authenticate(conn, "rex", PW)
        assert conn.execute("SELECT * FROM stepsync_my_patients()").fetchall() == []  # a researcher: none
    with psycopg.connect(clinic_data.rig_url("never-synced"), autocommit=True) as conn:  # not registered
        with pytest.raises(psycopg.Error, match="only a registered rig"):
            conn.execute("SELECT * FROM stepsync_clinic_patients()")
        assert conn.execute("SELECT stepsync_clinic_patient_count()").fetchone()[0] == 0
