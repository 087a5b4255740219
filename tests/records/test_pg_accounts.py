"""Accounts on the real server: what every account may do, TLS, and an idempotent init."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from bench.sync import record_sessions
from engine.records import accounts, pg_admin
from engine.records.pg_store import PgStore
from engine.records.sync import sync_once
from tests.pg_server import ADMIN, ADMIN_PASSWORD, populate
from tests.pg_server import THERAPIST_PASSWORD as PW
from tests.records.conftest import ROOT


@pytest.fixture
def clinic_data(clinic, tmp_path):
    return populate(clinic, tmp_path)


def test_a_desk_login_without_an_account_sees_nothing(clinic_data):
    with PgStore(clinic_data.desk_url()) as repo:
        assert repo.list_patients() == [] and repo.list_sessions() == []


def test_admin_sees_everything(clinic_data):
    with PgStore(clinic_data.desk_url(), ADMIN, ADMIN_PASSWORD) as repo:
        assert [p["code"] for p in repo.list_patients()] == ["demo-frail", "demo-healthy"]


def test_passwords_are_stored_only_as_scrypt_hashes(clinic_data):
    rows = clinic_data.query("SELECT username, pw_hash FROM accounts")
    for _name, stored in rows:
        assert stored.startswith("scrypt$16384$8$1$") and PW not in stored and ADMIN_PASSWORD not in stored
    assert len({h for _, h in rows}) == len(rows)  # salted


def test_sync_over_tls_with_certificate_check(clinic_data, tmp_path):
    path = tmp_path / "tls.db"
    record_sessions(path, "demo-healthy", sessions=1, seconds=1)
    url = clinic_data.rig_url("tls-rig", tls=True)
    assert "sslmode=verify-ca" in url
    sync_once(path, url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True


def test_clinic_init_twice_changes_nothing(clinic):
    before = clinic.query("SELECT count(*) FROM accounts")[0][0]
    changes = pg_admin.init_clinic(clinic.owner_url, ADMIN, None)
    assert changes["from"] == changes["to"] and changes["roles_created"] == [] and changes["admin"] is None
    assert clinic.query("SELECT count(*) FROM accounts")[0][0] == before
    env = dict(os.environ)
    env.pop("STEPSYNC_ADMIN_PASSWORD", None)
    result = subprocess.run([sys.executable, "main.py", "clinic", "init", "--db", clinic.owner_url, "--admin", ADMIN],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0 and "nothing changed" in result.stdout



def test_clinic_commands_add_a_login_an_account_a_care_team_and_lock(clinic, tmp_path):
    env = dict(os.environ, STEPSYNC_PASSWORD="new-password-1")

    def clinic_cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "main.py", "clinic", *argv, "--db", clinic.owner_url], cwd=ROOT,
                              capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)

    made = clinic_cli("add-login", "ward2", "--kind", "desk")
    assert made.returncode == 0 and "stepsync_desk_ward2" in made.stdout
    assert clinic_cli("add-user", "maria", "--role", "therapist", "--expires", "2099-01-01").returncode == 0
    path = tmp_path / "rig.db"
    record_sessions(path, "demo-healthy", sessions=1, seconds=1)
    sync_once(path, clinic.rig_url("cli-rig"))
    assert clinic_cli("assign", "--patient", "demo-healthy", "--therapist", "maria").returncode == 0
    unknown = clinic_cli("assign", "--patient", "nobody", "--therapist", "maria")
    assert unknown.returncode == 1 and "unknown patient 'nobody'" in unknown.stdout
    desk = clinic.pg.url("stepsync_desk_ward2", "new-password-1", dbname=clinic.dbname)
    with PgStore(desk, "maria", "new-password-1") as repo:
        assert [p["code"] for p in repo.list_patients()] == ["demo-healthy"]
    assert clinic_cli("lock", "maria").returncode == 0
    with pytest.raises(accounts.LoginRefused, match="maria is locked"):
        PgStore(desk, "maria", "new-password-1")
    assert clinic_cli("unlock", "maria").returncode == 0
    PgStore(desk, "maria", "new-password-1").close()
    short = clinic_cli("add-user", "x", "--role", "therapist")
    assert short.returncode == 1 and "user name 'x'" in short.stdout
