"""One throwaway PostgreSQL server for the whole test session (engine/records/pg_local.py):
Debian's initdb and pg_ctl in a temporary folder, a unix socket and TLS on 127.0.0.1, run as an
unprivileged user when the tests run as root. Each test gets a fresh database on it, set up by
the real `clinic init`. Nothing skips: without the server package this fails, naming the fix.

The fixtures are imported by tests/records/conftest.py and tests/faults/conftest.py; the server
itself is started once per process and stopped at exit, whichever folders run.
"""

from __future__ import annotations

import atexit
import itertools
import threading

import psycopg
import pytest
from psycopg import sql

from engine.records import pg_admin
from engine.records.pg_local import LocalPostgres

ADMIN = "admin"
ADMIN_PASSWORD = "admin-password-1"
RIG_PASSWORD = "rig-password-1"
DESK_PASSWORD = "desk-password-1"
THERAPIST_PASSWORD = "therapist-pw-1"

_server: LocalPostgres | None = None
_lock = threading.Lock()
_counter = itertools.count(1)


def server() -> LocalPostgres:
    """The session's server, started on first use."""
    global _server
    with _lock:
        if _server is None:
            pg = LocalPostgres(tls=True)
            pg.start()
            atexit.register(pg.cleanup)
            _server = pg
        elif _server.postmaster_pid() is None or not _alive(_server):
            _server.start()  # a fault test killed it and failed before restarting it
        return _server


def _alive(pg: LocalPostgres) -> bool:
    try:
        with psycopg.connect(pg.url(dbname="postgres"), connect_timeout=5):
            return True
    except psycopg.OperationalError:
        return False


class Clinic:
    """A fresh database on the session's server, after `clinic init --admin admin`."""

    def __init__(self, pg: LocalPostgres, dbname: str) -> None:
        self.pg = pg
        self.dbname = dbname
        self.owner_url = pg.url(dbname=dbname)  # the superuser: clinic administration
        pg_admin.init_clinic(self.owner_url, ADMIN, ADMIN_PASSWORD)

    def rig_url(self, name: str, tls: bool = False) -> str:
        """A rig's login (created if needed) as a URL."""
        role = pg_admin.add_login(self.owner_url, name, "rig", RIG_PASSWORD)
        return self.pg.url(role, RIG_PASSWORD, dbname=self.dbname, tls=tls)

    def desk_url(self, name: str = "desk1", tls: bool = False) -> str:
        """A staff computer's login as a URL."""
        role = pg_admin.add_login(self.owner_url, name, "desk", DESK_PASSWORD)
        return self.pg.url(role, DESK_PASSWORD, dbname=self.dbname, tls=tls)

    def query(self, text: str, params: tuple = ()) -> list[tuple]:
        """Run a query as the superuser (the test's view of the truth)."""
        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            cur = conn.execute(text, params)
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="session")
def pg_server() -> LocalPostgres:
    return server()


@pytest.fixture
def clinic(pg_server) -> Clinic:
    """A fresh clinic database for one test (dropped afterwards)."""
    pg = server()
    name = f"clinic_t{next(_counter)}"
    with psycopg.connect(pg.url(dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield Clinic(pg, name)
    pg = server()
    with psycopg.connect(pg.url(dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def populate(clinic: Clinic, tmp_path) -> Clinic:
    """Two patients from two rigs; alice treats demo-healthy, bob demo-frail; rex researches."""
    from bench.sync import record_sessions
    from engine.records.sync import sync_once

    for i, code in enumerate(("demo-healthy", "demo-frail")):
        path = tmp_path / f"rig{i}.db"
        record_sessions(path, code, sessions=1, seconds=2, seed=i)
        sync_once(path, clinic.rig_url(f"acc{i}"))
    for name, role in (("alice", "therapist"), ("bob", "therapist"), ("rex", "researcher")):
        pg_admin.add_account(clinic.owner_url, name, role, THERAPIST_PASSWORD)
    pg_admin.assign(clinic.owner_url, "demo-healthy", "alice")
    pg_admin.assign(clinic.owner_url, "demo-frail", "bob")
    return clinic
