"""The records repository on the clinic PostgreSQL server (read side).

`PgStore` is the same repository as `Store` (reports, exports and progress call the same
methods and get the same rows), running the same queries on the server's mirror tables
(pg_schema.py): only the connection, the parameter style and the transaction differ. Session
ids are the server's ids (`sync` maps each rig's local ids to them).

Records reach the server only through `sync` (store and forward from the rigs), so the write
methods of the repository refuse here with a clear message. Every read of patient data is
audited on the server (`access_log`: who, when, what), and row-level security shows only what
the logged-in account may see: `STEPSYNC_USER` / `STEPSYNC_PASSWORD` (or `user=`/`password=`)
log an account in on a staff computer's connection.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from engine.records import accounts
from engine.records.pg_admin import ClinicError, connect, server_schema_version
from engine.records.store import SCHEMA_VERSION, Store


class ReadOnlyRepository(RuntimeError):
    """A write on the clinic server's repository (records arrive only through `sync`)."""


class PgStore(Store):
    """The repository on a clinic server URL (see the module docstring)."""

    def __init__(self, url: str, user: str | None = None, password: str | None = None) -> None:  # noqa: D107
        self.path = None
        self.url = url
        self._lock = threading.RLock()
        self._depth = 0
        self._layout_ids: dict[str, int] = {}
        self._conn = connect(url, autocommit=True)
        try:
            version = server_schema_version(self._conn)
            if version != SCHEMA_VERSION:
                raise ClinicError(f"the clinic server's schema is {version}, this program's {SCHEMA_VERSION}: "
                                  + ("run `main.py clinic init` on it" if version < SCHEMA_VERSION
                                     else "update StepSync here"))
            user = user or os.environ.get("STEPSYNC_USER")
            self.account: accounts.Account | None = None
            if user:
                if password is None:
                    password = os.environ.get("STEPSYNC_PASSWORD")
                if password is None:
                    import getpass

                    password = getpass.getpass(f"StepSync password for {user}: ")
                self.account = accounts.authenticate(self._conn, user, password)
        except BaseException:
            self._conn.close()
            raise

    # -- engine plumbing ------------------------------------------------------------------------
    def _query(self, sql: str, params: tuple = ()) -> list[dict]:
        # The repository's queries use SQLite's '?' placeholders; psycopg wants %s.
        sql = sql.replace("%", "%%").replace("?", "%s")
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [d.name for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes are refused: records reach the clinic server only through `sync`."""
        raise ReadOnlyRepository("the clinic server's records are written only by `main.py sync` from the rigs")
        yield  # pragma: no cover

    def schema_version(self) -> int:
        return server_schema_version(self._conn)

    def integrity_check(self) -> str:
        return "ok"  # PostgreSQL checks its pages itself (data checksums, WAL)

    def used_bytes(self) -> int:
        return int(self._query("SELECT pg_database_size(current_database()) AS n")[0]["n"])

    def checkpoint(self) -> None:
        pass

    def set_busy_timeout(self, timeout_ms: int) -> None:
        self._conn.execute(f"SET lock_timeout = {int(timeout_ms)}")

    def _audit(self, action: str, patient_code: str | None = None, session_id: int | None = None,
               detail: str | None = None) -> None:
        with self._lock:
            self._conn.execute("SELECT stepsync_audit_read(%s, %s, %s, %s)", (action, patient_code, session_id, detail))

    # -- audited reads -----------------------------------------------------------------------------
    def get_patient(self, code: str) -> dict | None:
        row = super().get_patient(code)
        self._audit("read patient", code, None, None if row else "not found or not allowed")
        return row

    def list_patients(self) -> list[dict]:
        rows = super().list_patients()
        self._audit("list patients", None, None, f"{len(rows)} patients")
        return rows

    def list_sessions(self, code: str | None = None) -> list[dict]:
        rows = super().list_sessions(code)
        self._audit("list sessions", code, None, f"{len(rows)} sessions")
        return rows

    def get_session(self, session_id: int) -> dict:
        try:
            row = super().get_session(session_id)
        except KeyError:
            self._audit("read session", None, session_id, "not found or not allowed")
            raise KeyError(f"unknown session {session_id} (or not one of your patients)") from None
        self._audit("read session", row["patient_code"], session_id)
        return row

    def telemetry(self, session_id: int, fields=None):
        out = super().telemetry(session_id, fields)
        self._audit("read telemetry", None, session_id, f"{len(out)} records")
        return out

    def prescription_history(self, code: str) -> list[dict]:
        rows = self._query(
            """SELECT version, rx_json, who, created_at, rig_id, rig_version, received_at::text AS received_at
               FROM prescriptions WHERE patient_code = ? ORDER BY version""",
            (code,),
        )
        import json

        for row in rows:
            row["rx"] = json.loads(row.pop("rx_json"))
        self._audit("read prescriptions", code, None, f"{len(rows)} versions")
        return rows

    def session_plans(self, code: str) -> list[dict]:
        rows = super().session_plans(code)
        self._audit("read session plans", code, None, f"{len(rows)} plans")
        return rows

    def access_log(self, patient_code: str | None = None, limit: int = 1000) -> list[dict]:
        """The server's audit of reads and writes (admins; the owner connection sees everything)."""
        if patient_code is None:
            return self._query("SELECT * FROM access_log ORDER BY id DESC LIMIT ?", (limit,))
        return self._query("SELECT * FROM access_log WHERE patient_code = ? ORDER BY id DESC LIMIT ?",
                           (patient_code, limit))

    def site_secret(self, name: str, n_bytes: int = 32) -> bytes:
        """A random secret of the clinic server, made on first use (e.g. the export pseudonym key)."""
        return bytes(self._query("SELECT stepsync_site_secret(?, ?) AS v", (name, n_bytes))[0]["v"])

    def research_sessions(self) -> list[dict]:
        """Pseudonymised sessions for research (researcher and admin accounts; audited)."""
        return self._query("SELECT * FROM stepsync_research_sessions()")
