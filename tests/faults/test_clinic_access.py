"""Accounts, roles and audit on the real server: every role trying what it must not do."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from engine.records import accounts, pg_admin
from engine.records.pg_store import PgStore
from tests.pg_server import THERAPIST_PASSWORD as PW
from tests.pg_server import populate
from tests.records.conftest import ROOT


@pytest.fixture
def clinic_data(clinic, tmp_path):
    return populate(clinic, tmp_path)


def _refused(conn, statement: str, params: tuple = ()) -> str:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(statement, params)
    return type(info.value).__name__


def test_a_rig_adds_its_sessions_but_cannot_rewrite_or_delete_history(clinic_data, reliability):
    url = clinic_data.rig_url("acc0")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1  # its own only
        assert _refused(conn, "UPDATE steps SET step_length_m = 9") == "InsufficientPrivilege"
        assert _refused(conn, "DELETE FROM sessions") == "InsufficientPrivilege"
        assert _refused(conn, "DELETE FROM telemetry_chunks") == "InsufficientPrivilege"
        assert _refused(conn, "TRUNCATE events") == "InsufficientPrivilege"
        # A closed session is invisible to the rig's UPDATE (row-level security): nothing changes.
        assert conn.execute("UPDATE sessions SET outcome = 'stopped'").rowcount == 0
        assert _refused(conn, "UPDATE sessions SET scene_id = 'x'") == "InsufficientPrivilege"
        assert _refused(conn, "SELECT * FROM accounts") == "InsufficientPrivilege"
        assert _refused(conn, "SELECT * FROM access_log") == "InsufficientPrivilege"
        other = clinic_data.query("SELECT rig_id FROM rigs WHERE db_role = 'stepsync_rig_acc1'")[0][0]
        assert _refused(conn, "INSERT INTO patients (code, created_at, rig_id) VALUES ('x', 'now', %s)",
                        (other,)) == "InsufficientPrivilege"  # row-level security: not its rig
        assert _refused(conn, "CREATE TABLE evil (x int)") == "InsufficientPrivilege"
    assert clinic_data.query("SELECT count(*) FROM steps")[0][0] > 0
    assert {o for (o,) in clinic_data.query("SELECT outcome FROM sessions")} == {"completed"}
    # A closed session whose recorder statistics are still missing: only those may be added.
    clinic_data.query("UPDATE sessions SET recorder_json = NULL")
    with psycopg.connect(url, autocommit=True) as conn:
        assert _refused(conn, "UPDATE sessions SET outcome = 'stopped'") == "InsufficientPrivilege"  # trigger
        assert conn.execute("UPDATE sessions SET recorder_json = '{}'").rowcount == 1
    reliability.record("rig role: rewrite, delete, truncate, other rig's rows, accounts, DDL", "each refused",
                       None, None, None, "8 statements refused (privilege, row-level security, trigger); "
                       "a closed session's UPDATE matched 0 rows")


def test_a_therapist_sees_only_their_patients_and_every_read_is_audited(clinic_data, reliability):
    desk = clinic_data.desk_url()
    with PgStore(desk, "alice", PW) as repo:
        assert [p["code"] for p in repo.list_patients()] == ["demo-healthy"]
        (mine,) = repo.list_sessions()
        assert len(repo.telemetry(mine["id"])) == 2000
        bob_sid = clinic_data.query("SELECT id FROM sessions WHERE patient_code = 'demo-frail'")[0][0]
        with pytest.raises(KeyError, match="not one of your patients"):
            repo.get_session(bob_sid)
        assert repo.steps(bob_sid) == [] and len(repo.telemetry(bob_sid)) == 0
        assert _refused(repo._conn, "INSERT INTO accounts (username, role, pw_hash) VALUES ('eve', 'admin', 'x')") \
            == "InsufficientPrivilege"
        assert _refused(repo._conn, "UPDATE sessions SET outcome = 'x'") == "InsufficientPrivilege"
        assert _refused(repo._conn, "SELECT * FROM stepsync_research_sessions()") == "InsufficientPrivilege"
    log = clinic_data.query("SELECT account, action, session_id FROM access_log WHERE account = 'alice'")
    actions = {a for _, a, _ in log}
    assert {"login ok", "list patients", "read telemetry", "read session"} <= actions
    assert ("alice", "read session", bob_sid) in log  # the refused read is in the audit too
    writes = clinic_data.query("SELECT account, action FROM access_log WHERE action = 'insert steps'")
    assert writes and all(account.startswith("stepsync_rig_") for account, _ in writes)
    reliability.record("therapist: another therapist's patient, account creation, history update, research",
                       "each refused; reads audited", None, None, None,
                       f"other patient's session: KeyError; 3 statements refused; {len(log)} audit rows for alice")


def test_a_researcher_reads_only_pseudonymised_data(clinic_data, tmp_path, reliability):
    desk = clinic_data.desk_url()
    with PgStore(desk, "rex", PW) as repo:
        assert repo.list_patients() == [] and repo.list_sessions() == []
        assert repo._conn.execute("SELECT count(*) FROM patients").fetchone()[0] == 0
        assert _refused(repo._conn, "SELECT pw_hash FROM accounts") == "InsufficientPrivilege"
        assert _refused(repo._conn, "INSERT INTO patients (code, created_at) VALUES ('x', 'y')") \
            == "InsufficientPrivilege"
        rows = repo.research_sessions()
    assert len(rows) == 2
    text = repr(rows)
    assert "demo-" not in text and "Demo" not in text
    assert all(len(r["session_month"]) == 7 and r["steps"] > 0 for r in rows)
    env = dict(os.environ, STEPSYNC_PASSWORD=PW)
    out = tmp_path / "research.csv"
    result = subprocess.run([sys.executable, "main.py", "clinic", "research-export", "--db", desk, "--user", "rex",
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_text().count("\n") == 3 and "demo-" not in out.read_text()
    # The same researcher asking for an identified export is refused (the session is not visible).
    sid = clinic_data.query("SELECT id FROM sessions LIMIT 1")[0][0]
    env["STEPSYNC_USER"] = "rex"
    result = subprocess.run([sys.executable, "main.py", "export", "--session", str(sid), "--format", "csv",
                             "--out", str(tmp_path / "x"), "--db", desk], cwd=ROOT, capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 1 and "not one of your patients" in result.stdout
    reliability.record("researcher: identified data, writes, password hashes, identified export",
                       "each refused; pseudonymised export only", None, None, None,
                       "0 patients/sessions visible; 2 statements refused; export exit 1; research CSV 2 rows")


def test_wrong_password_locks_after_five_and_locked_or_expired_get_a_clear_message(clinic_data, reliability):
    desk = clinic_data.desk_url()
    with psycopg.connect(desk, autocommit=True) as conn:
        for _ in range(5):
            with pytest.raises(accounts.LoginRefused, match="unknown user or wrong password"):
                accounts.authenticate(conn, "bob", "not-his-password")
        with pytest.raises(accounts.LoginRefused, match="bob is locked after 5 failed logins") as info:
            accounts.authenticate(conn, "bob", PW)  # even the right password now
        assert info.value.status == "locked"
        with pytest.raises(accounts.LoginRefused, match="unknown user or wrong password"):
            accounts.authenticate(conn, "nobody-here", PW)
    pg_admin.set_locked(clinic_data.owner_url, "bob", False)
    pg_admin.add_account(clinic_data.owner_url, "old", "therapist", PW, expires_at="2020-01-01")
    env = dict(os.environ, STEPSYNC_PASSWORD=PW)
    for user, expected in (("bob", "logged in as therapist"), ("old", "account old expired on 2020-01-01")):
        result = subprocess.run([sys.executable, "main.py", "clinic", "login", "--db", desk, "--user", user],
                                cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
        assert expected in result.stdout and "Traceback" not in result.stderr
        assert result.returncode == (0 if user == "bob" else 1)
    # The report command gives the same one line.
    env["STEPSYNC_USER"] = "old"
    result = subprocess.run([sys.executable, "main.py", "report", "--patient", "demo-frail", "--db", desk],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and "expired on 2020-01-01" in result.stdout and "Traceback" not in result.stderr
    reliability.record("5 wrong passwords; locked and expired accounts", "locked; one clear line, no traceback",
                       None, None, None, f"'{result.stdout.strip()[:80]}'")


def test_menu_login_with_the_server_down_then_locked_on_the_server(clinic_data, tmp_path, reliability):
    """The therapist menu's login at a rig (engine/records/rig_accounts.py) when the clinic server
    is down: a therapist the rig knows logs in offline, others get one clear line; an account
    the server locked cannot come back in offline."""
    from engine.records.rig_accounts import login_for_menu

    rig, url = tmp_path / "rig0.db", clinic_data.rig_url("acc0")
    assert login_for_menu(rig, url, "alice", PW).source == "clinic server"
    clinic_data.pg.stop()
    try:
        started = time.monotonic()
        offline = login_for_menu(rig, url, "alice", PW)
        offline_s = time.monotonic() - started
        with pytest.raises(accounts.LoginRefused) as unknown:
            login_for_menu(rig, url, "bob", PW)
        with pytest.raises(accounts.LoginRefused, match="unknown user or wrong password"):
            login_for_menu(rig, url, "alice", "not-her-password")
    finally:
        clinic_data.pg.start()
    assert offline.source.startswith("offline") and offline.patients == {"demo-healthy"}
    assert "has not logged in on this rig before" in str(unknown.value) and "\n" not in str(unknown.value)
    pg_admin.set_locked(clinic_data.owner_url, "alice", True)
    with pytest.raises(accounts.LoginRefused, match="alice is locked"):
        login_for_menu(rig, url, "alice", PW)
    clinic_data.pg.stop()
    try:
        with pytest.raises(accounts.LoginRefused, match="has not logged in on this rig before"):
            login_for_menu(rig, url, "alice", PW)
    finally:
        clinic_data.pg.start()
    reliability.record("menu login at a rig: server down; then the account locked on the server",
                       "known therapist in offline; unknown, wrong or locked: one clear line", None, None, None,
                       f"offline login in {offline_s:.1f} s with the cached care team; '{str(unknown.value)[:70]}'; "
                       f"after the server locked alice her offline login is refused")
