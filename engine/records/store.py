"""The records repository: every SQL statement of StepSync lives in this package.

One SQLite file in WAL mode holds patients, versioned prescriptions, sessions, per-step and
per-stride metrics, events (obstacle outcomes, alarms, run states), the audit log of setting
changes, headset frame timing, and the control core's telemetry as compressed chunks (one row per
chunk, first/last cycle in their own columns so a session's cycles can be checked for gaps
without decoding anything).

The file is created readable by its owner only (SQLite gives its -wal and -shm files the same
mode). The schema is versioned with `PRAGMA user_version` and upgraded by the ordered MIGRATIONS
below on open; a migration never rewrites history, it only adds.

Durability: `synchronous=NORMAL` in WAL mode means a committed transaction survives the death of
any process (kill -9 included); only an operating-system crash or power loss can lose the last
commits. The recorder commits at least every 200 ms, which is the bound on what a crash loses.

A Store may be used from several threads of one process (calls are serialised by a lock); each
process opens its own Store. Concurrent writers from different processes wait for each other up
to BUSY_TIMEOUT_MS.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from engine.control.layout import (
    EVENT_DTYPE,
    STRIDE_STEADY,
    TELEMETRY_DTYPE,
    AlarmReason,
    EventKind,
    ObstacleOutcome,
    RunState,
)
from engine.control.prescription import Prescription
from engine.records import codec
from engine.records.paths import default_db_path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
OUTCOMES = ("completed", "stopped", "interrupted")

# Ordered schema migrations; MIGRATIONS[i] takes the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE patients (
        code        TEXT PRIMARY KEY,
        name        TEXT,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE prescriptions (
        id            INTEGER PRIMARY KEY,
        patient_code  TEXT NOT NULL REFERENCES patients(code),
        version       INTEGER NOT NULL,
        rx_json       TEXT NOT NULL,
        who           TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        UNIQUE (patient_code, version)
    );
    CREATE TABLE sessions (
        id             INTEGER PRIMARY KEY,
        patient_code   TEXT NOT NULL REFERENCES patients(code),
        scene_id       TEXT NOT NULL,
        goals_json     TEXT NOT NULL,
        settings_json  TEXT NOT NULL,
        vr             INTEGER NOT NULL DEFAULT 0,
        started_at     TEXT NOT NULL,
        ended_at       TEXT,
        outcome        TEXT,
        summary_json   TEXT
    );
    CREATE TABLE telemetry_layouts (
        id           INTEGER PRIMARY KEY,
        descr_json   TEXT NOT NULL UNIQUE
    );
    CREATE TABLE telemetry_chunks (
        id           INTEGER PRIMARY KEY,
        session_id   INTEGER NOT NULL REFERENCES sessions(id),
        first_cycle  INTEGER NOT NULL,
        last_cycle   INTEGER NOT NULL,
        n_records    INTEGER NOT NULL,
        layout_id    INTEGER NOT NULL REFERENCES telemetry_layouts(id),
        codec        TEXT NOT NULL,
        data         BLOB NOT NULL
    );
    CREATE INDEX telemetry_chunks_session ON telemetry_chunks(session_id, first_cycle);
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions(id),
        cycle       INTEGER,
        t_s         REAL NOT NULL,
        kind        TEXT NOT NULL,
        side        INTEGER NOT NULL DEFAULT -1,
        code        INTEGER,
        v1          REAL,
        v2          REAL,
        v3          REAL,
        data_json   TEXT
    );
    CREATE INDEX events_session ON events(session_id, t_s);
    CREATE TABLE steps (
        id               INTEGER PRIMARY KEY,
        session_id       INTEGER NOT NULL REFERENCES sessions(id),
        cycle            INTEGER NOT NULL,
        t_s              REAL NOT NULL,
        side             INTEGER NOT NULL,
        step_length_m    REAL,
        step_time_s      REAL,
        toe_clearance_m  REAL
    );
    CREATE INDEX steps_session ON steps(session_id, cycle);
    CREATE TABLE strides (
        id               INTEGER PRIMARY KEY,
        session_id       INTEGER NOT NULL REFERENCES sessions(id),
        cycle            INTEGER NOT NULL,
        t_s              REAL NOT NULL,
        side             INTEGER NOT NULL,
        stride_time_s    REAL,
        stance_fraction  REAL,
        stride_length_m  REAL
    );
    CREATE INDEX strides_session ON strides(session_id, cycle);
    CREATE TABLE audit_log (
        id           INTEGER PRIMARY KEY,
        session_id   INTEGER REFERENCES sessions(id),
        at           TEXT NOT NULL,
        who          TEXT NOT NULL,
        setting      TEXT NOT NULL,
        old_json     TEXT,
        new_json     TEXT,
        applied_json TEXT
    );
    CREATE INDEX audit_log_session ON audit_log(session_id, id);
    """,
    # 2: simulated-patient profiles and simulated sessions, ring overflow accounting, recorder
    # statistics, and headset frame timing.
    """
    ALTER TABLE patients ADD COLUMN sim_profile TEXT;
    ALTER TABLE sessions ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN telemetry_overflow INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN events_overflow INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN recorder_json TEXT;
    CREATE TABLE frame_timing (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions(id),
        at          TEXT NOT NULL,
        stats_json  TEXT NOT NULL
    );
    CREATE INDEX frame_timing_session ON frame_timing(session_id, id);
    CREATE INDEX sessions_patient ON sessions(patient_code, id);
    """,
    # 3: per-database secrets (the key that pseudonymises patient codes in exports).
    """
    CREATE TABLE site_secrets (
        name        TEXT PRIMARY KEY,
        value       BLOB NOT NULL,
        created_at  TEXT NOT NULL
    );
    """,
    # 4: the core's flags of each step and stride (EVENT `code`: a stride's bit 1 is the core's
    # steady-state flag, a step's bits say how it was measured; docs/records.md "Event fields").
    """
    ALTER TABLE steps ADD COLUMN flags INTEGER;
    ALTER TABLE strides ADD COLUMN flags INTEGER;
    """,
    # 5: balance per stance from the insoles (the core's STANCE_COP + STANCE_LOAD events, one row
    # per stance, at its toe off; engine/control/balance.py): flags bit 0 = medial/lateral
    # resolved; loads are fractions of the standing load (x s for the impulse).
    """
    CREATE TABLE stances (
        id                INTEGER PRIMARY KEY,
        session_id        INTEGER NOT NULL REFERENCES sessions(id),
        cycle             INTEGER NOT NULL,
        t_s               REAL NOT NULL,
        side              INTEGER NOT NULL,
        flags             INTEGER,
        duration_s        REAL,
        cop_path_m        REAL,
        cop_ap_m          REAL,
        cop_ml_sd_m       REAL,
        peak_load         REAL,
        load_impulse      REAL,
        double_support_s  REAL
    );
    CREATE INDEX stances_session ON stances(session_id, cycle);
    """,
    # 6: session plans (issue 12): the next sessions' settings a therapist accepted or edited
    # from a progression proposal, versioned per patient like prescriptions (engine/analysis/
    # progression.py). The choice itself (accept, edit, reject) is an audit_log row.
    """
    CREATE TABLE session_plans (
        id                INTEGER PRIMARY KEY,
        patient_code      TEXT NOT NULL REFERENCES patients(code),
        version           INTEGER NOT NULL,
        plan_json         TEXT NOT NULL,
        based_on_session  INTEGER REFERENCES sessions(id),
        decision          TEXT NOT NULL,
        who               TEXT NOT NULL,
        created_at        TEXT NOT NULL,
        UNIQUE (patient_code, version)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

# Event kinds the recorder turns into rows of their own table rather than `events` rows.
_STEP = int(EventKind.STEP)
_STRIDE = int(EventKind.STRIDE)
_STANCE_COP = int(EventKind.STANCE_COP)
_STANCE_LOAD = int(EventKind.STANCE_LOAD)


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _iso(at: datetime.datetime | None) -> str:
    if at is None:
        return _now_iso()
    if at.tzinfo is None:
        at = at.astimezone()  # a naive time is local time
    return at.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(value) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def _loads(text: str | None):
    return None if text is None else json.loads(text)


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _audit_rows(rows: list[dict]) -> list[dict]:
    """Audit-log rows with their JSON columns read back (old, new, applied)."""
    for row in rows:
        row["old"] = _loads(row.pop("old_json"))
        row["new"] = _loads(row.pop("new_json"))
        row["applied"] = _loads(row.pop("applied_json"))
    return rows


def event_kind_name(kind: int) -> str:
    """The stored name of a core event kind ("heel_strike", "obstacle_outcome", ...)."""
    try:
        return EventKind(kind).name.lower()
    except ValueError:
        return f"kind_{kind}"


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema up to `target`, one transaction per migration; returns the old version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this program ({SCHEMA_VERSION})"
        )
    start = version
    while version < target:
        conn.execute("BEGIN IMMEDIATE")
        # Read the version again under the write lock: another process (the app and a test's
        # reader, or two starts) may have migrated since; re-running its migration failed with
        # "table patients already exists" on a loaded machine.
        now_version = conn.execute("PRAGMA user_version").fetchone()[0]
        if now_version != version:
            conn.execute("COMMIT")
            version = now_version
            continue
        log.info("migrating records schema %d -> %d", version, version + 1)
        script = MIGRATIONS[version]
        try:
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version += 1
    return start


def _create_private(path: Path) -> None:
    """Create the database file with mode 0600 (and its folder 0700) before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)  # in case the umask was stricter than needed, or odd


def _journal_mode_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL. SQLite answers "database is locked" at once, without the busy handler, when
    another process is switching a new file at the same moment: retry until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000.0
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def open_connection(path: str | Path, migrate_to: int | None = SCHEMA_VERSION) -> sqlite3.Connection:
    """Open (creating 0600 if needed) a WAL connection in autocommit mode, migrated."""
    path = Path(path)
    _create_private(path)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = _journal_mode_wal(conn)
    if mode.lower() != "wal":
        log.warning("%s: journal mode is %s, not WAL", path, mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if migrate_to is not None:
        migrate(conn, migrate_to)
    return conn


def telemetry_dtype_of(fields: Sequence[str] | None) -> np.dtype:
    """The dtype Store.telemetry returns for these fields: TELEMETRY_DTYPE when None, else those
    columns in that order, with `cycle` first when not named (the rows are ordered by it). An
    unknown name is a KeyError naming it."""
    if fields is None:
        return TELEMETRY_DTYPE
    names = list(dict.fromkeys(["cycle", *fields] if "cycle" not in fields else fields))
    unknown = [n for n in names if n not in TELEMETRY_DTYPE.names]
    if unknown:
        raise KeyError(f"no telemetry field {unknown[0]!r} (fields: {', '.join(TELEMETRY_DTYPE.names)})")
    return np.dtype([(n, TELEMETRY_DTYPE.fields[n][0]) for n in names])


class Store:
    """The records repository (see the module docstring)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._conn = open_connection(self.path)
        self._lock = threading.RLock()
        self._depth = 0
        self._layout_ids: dict[str, int] = {}

    # -- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (committed data is already safe)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls into one commit (nested use joins the outer transaction)."""
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                # SQLite may already have rolled back on its own (disk full, I/O error).
                if self._depth == 0 and self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.exception("rollback failed")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")

    def set_busy_timeout(self, timeout_ms: int) -> None:
        """How long a call waits for another connection's lock before 'database is locked'
        (the recorder waits briefly and retries on its own schedule)."""
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")

    def _query(self, sql: str, params: tuple = ()) -> list[dict]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def schema_version(self) -> int:
        """The schema version of the open file."""
        return self._query("PRAGMA user_version")[0]["user_version"]

    def integrity_check(self) -> str:
        """SQLite's PRAGMA integrity_check answer ("ok" when healthy)."""
        return "\n".join(str(next(iter(r.values()))) for r in self._query("PRAGMA integrity_check"))

    def used_bytes(self) -> int:
        """Bytes of the main file in use (pages minus free pages; the WAL not counted)."""
        page_size = self._query("PRAGMA page_size")[0]["page_size"]
        pages = self._query("PRAGMA page_count")[0]["page_count"]
        free = self._query("PRAGMA freelist_count")[0]["freelist_count"]
        return int(page_size * (pages - free))

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (for backups)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def site_secret(self, name: str, n_bytes: int = 32) -> bytes:
        """A random secret of this database, created on first use (e.g. the export pseudonym key)."""
        with self.transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO site_secrets (name, value, created_at) VALUES (?, ?, ?)",
                (name, os.urandom(n_bytes), _now_iso()),
            )
            row = self._conn.execute("SELECT value FROM site_secrets WHERE name = ?", (name,)).fetchone()
        return bytes(row[0])

    # -- patients and prescriptions -----------------------------------------------------------
    def ensure_patient(self, code: str, name: str | None = None, sim_profile: str | None = None) -> None:
        """Create the patient if missing; a given name or sim_profile updates an existing one."""
        if not code or not code.strip():
            raise ValueError("patient code must not be empty")
        with self.transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO patients (code, name, created_at, sim_profile) VALUES (?, ?, ?, ?)",
                (code, name, _now_iso(), sim_profile),
            )
            if name is not None:
                self._conn.execute("UPDATE patients SET name = ? WHERE code = ?", (name, code))
            if sim_profile is not None:
                self._conn.execute("UPDATE patients SET sim_profile = ? WHERE code = ?", (sim_profile, code))

    def get_patient(self, code: str) -> dict | None:
        """The patient row (code, name, created_at, sim_profile) or None."""
        rows = self._query("SELECT code, name, created_at, sim_profile FROM patients WHERE code = ?", (code,))
        return rows[0] if rows else None

    def list_patients(self) -> list[dict]:
        """All patients with their session count and last session start, by code."""
        return self._query(
            """SELECT p.code, p.name, p.created_at, p.sim_profile,
                      COUNT(s.id) AS sessions, MAX(s.started_at) AS last_session_at
               FROM patients p LEFT JOIN sessions s ON s.patient_code = p.code
               GROUP BY p.code ORDER BY p.code"""
        )

    def add_prescription(self, code: str, rx: Prescription, who: str = "therapist") -> int:
        """Store a new prescription version for the patient (created if missing); returns it."""
        self.ensure_patient(code)
        with self.transaction():
            row = self._conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM prescriptions WHERE patient_code = ?", (code,)
            ).fetchone()
            version = int(row[0]) + 1
            self._conn.execute(
                "INSERT INTO prescriptions (patient_code, version, rx_json, who, created_at) VALUES (?, ?, ?, ?, ?)",
                (code, version, _dumps(rx.to_dict()), who, _now_iso()),
            )
        return version

    def current_prescription(self, code: str) -> Prescription | None:
        """The latest prescription version of the patient, or None."""
        rows = self._query(
            "SELECT rx_json FROM prescriptions WHERE patient_code = ? ORDER BY version DESC LIMIT 1", (code,)
        )
        return Prescription.from_dict(json.loads(rows[0]["rx_json"])) if rows else None

    def prescription_history(self, code: str) -> list[dict]:
        """Every prescription version of the patient, oldest first."""
        rows = self._query(
            "SELECT version, rx_json, who, created_at FROM prescriptions WHERE patient_code = ? ORDER BY version",
            (code,),
        )
        for row in rows:
            row["rx"] = json.loads(row.pop("rx_json"))
        return rows

    # -- session plans (progression) ----------------------------------------------------------
    def add_session_plan(self, code: str, plan: dict, based_on_session: int | None, decision: str,
                         who: str) -> int:
        """Store the next sessions' settings the therapist accepted or edited; returns the version."""
        if decision not in ("accepted", "edited"):
            raise ValueError(f"decision must be 'accepted' or 'edited', got {decision!r}")
        if self.get_patient(code) is None:
            raise KeyError(f"unknown patient {code!r}")
        with self.transaction():
            row = self._conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM session_plans WHERE patient_code = ?", (code,)
            ).fetchone()
            version = int(row[0]) + 1
            self._conn.execute(
                """INSERT INTO session_plans (patient_code, version, plan_json, based_on_session, decision, who,
                                              created_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (code, version, _dumps(plan), based_on_session, decision, who, _now_iso()),
            )
        return version

    def session_plans(self, code: str) -> list[dict]:
        """Every session plan of the patient, oldest first (version, plan, based_on_session,
        decision, who, created_at)."""
        rows = self._query(
            """SELECT version, plan_json, based_on_session, decision, who, created_at FROM session_plans
               WHERE patient_code = ? ORDER BY version""",
            (code,),
        )
        for row in rows:
            row["plan"] = json.loads(row.pop("plan_json"))
        return rows

    def current_session_plan(self, code: str) -> dict | None:
        """The latest session plan of the patient (as session_plans rows), or None."""
        plans = self.session_plans(code)
        return plans[-1] if plans else None

    def audit_log_setting(self, setting_prefix: str, session_ids: list[int]) -> list[dict]:
        """Audit rows whose setting starts with the prefix, for the given sessions, oldest first."""
        if not session_ids:
            return []
        marks = ",".join("?" * len(session_ids))
        rows = self._query(
            f"""SELECT id, session_id, at, who, setting, old_json, new_json, applied_json FROM audit_log
                WHERE setting LIKE ? AND session_id IN ({marks}) ORDER BY id""",
            (setting_prefix + "%", *session_ids),
        )
        return _audit_rows(rows)

    # -- sessions -------------------------------------------------------------------------------
    def start_session(
        self,
        code: str,
        scene_id: str,
        goals: dict,
        settings: dict,
        vr: bool = False,
        simulated: bool = False,
        started_at: datetime.datetime | None = None,
    ) -> int:
        """Open a session for an existing patient; returns its id (started_at: for imports and
        simulated history; default now)."""
        if self.get_patient(code) is None:
            raise KeyError(f"unknown patient {code!r}")
        with self.transaction():
            cursor = self._conn.execute(
                """INSERT INTO sessions (patient_code, scene_id, goals_json, settings_json, vr,
                                         started_at, simulated) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (code, scene_id, _dumps(goals or {}), _dumps(settings or {}), int(bool(vr)),
                 _iso(started_at), int(bool(simulated))),
            )
            return int(cursor.lastrowid)

    def end_session(
        self, session_id: int, outcome: str, summary: dict | None = None, ended_at: datetime.datetime | None = None
    ) -> None:
        """Close a session as completed, stopped or interrupted, with an optional summary."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE sessions SET ended_at = ?, outcome = ?, summary_json = ? WHERE id = ?",
                (_iso(ended_at), outcome, _dumps(summary) if summary is not None else None, session_id),
            )
            if cursor.rowcount != 1:
                raise KeyError(f"unknown session {session_id}")

    def close_interrupted_sessions(self) -> list[int]:
        """Mark every session that never ended (app or recorder killed) as interrupted.

        Call once at application start, before starting a new session."""
        with self.transaction():
            ids = [r[0] for r in self._conn.execute("SELECT id FROM sessions WHERE ended_at IS NULL ORDER BY id")]
            for session_id in ids:
                self._conn.execute(
                    "UPDATE sessions SET ended_at = ?, outcome = 'interrupted', summary_json = ? WHERE id = ?",
                    (_now_iso(), _dumps({"closed_on_next_start": True}), session_id),
                )
        if ids:
            log.warning("closed %d interrupted session(s): %s", len(ids), ids)
        return ids

    def _session_row(self, row: dict) -> dict:
        row["goals"] = _loads(row.pop("goals_json")) or {}
        row["settings"] = _loads(row.pop("settings_json")) or {}
        row["summary"] = _loads(row.pop("summary_json"))
        row["recorder"] = _loads(row.pop("recorder_json"))
        row["vr"] = bool(row["vr"])
        row["simulated"] = bool(row["simulated"])
        return row

    _SESSION_COLUMNS = """s.id, s.patient_code, s.scene_id, s.goals_json, s.settings_json, s.vr,
        s.started_at, s.ended_at, s.outcome, s.summary_json, s.simulated, s.telemetry_overflow,
        s.events_overflow, s.recorder_json"""

    def list_sessions(self, code: str | None = None) -> list[dict]:
        """Sessions (of one patient, or all), oldest first."""
        if code is None:
            rows = self._query(f"SELECT {self._SESSION_COLUMNS} FROM sessions s ORDER BY s.id")
        else:
            rows = self._query(
                f"SELECT {self._SESSION_COLUMNS} FROM sessions s WHERE s.patient_code = ? ORDER BY s.id", (code,)
            )
        return [self._session_row(r) for r in rows]

    def get_session(self, session_id: int) -> dict:
        """One session with parsed goals, settings, summary and recorder statistics."""
        rows = self._query(f"SELECT {self._SESSION_COLUMNS} FROM sessions s WHERE s.id = ?", (session_id,))
        if not rows:
            raise KeyError(f"unknown session {session_id}")
        return self._session_row(rows[0])

    # -- audit log, UI events, frame timing -----------------------------------------------------
    def log_setting(self, session_id: int | None, who: str, setting: str, old, new, applied=None) -> None:
        """Record a setting change: who changed what, from what, to what, and what was applied."""
        with self.transaction():
            self._conn.execute(
                """INSERT INTO audit_log (session_id, at, who, setting, old_json, new_json, applied_json)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (session_id, _now_iso(), who, setting, _dumps(old), _dumps(new), _dumps(applied)),
            )

    def add_event(self, session_id: int, kind: str, t_s: float, **data) -> None:
        """A UI-side event (e.g. "item_collected", "scene_reloaded") at core time t_s."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO events (session_id, cycle, t_s, kind, side, data_json) VALUES (?, NULL, ?, ?, -1, ?)",
                (session_id, float(t_s), kind, _dumps(data)),
            )

    def add_frame_timing(self, session_id: int, stats: dict) -> None:
        """Headset/window frame statistics (e.g. per-minute percentiles, missed frames)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO frame_timing (session_id, at, stats_json) VALUES (?, ?, ?)",
                (session_id, _now_iso(), _dumps(stats)),
            )

    def frame_timing(self, session_id: int) -> list[dict]:
        """Frame-timing rows of a session, oldest first."""
        rows = self._query("SELECT at, stats_json FROM frame_timing WHERE session_id = ? ORDER BY id", (session_id,))
        return [{"at": r["at"], **json.loads(r["stats_json"])} for r in rows]

    # -- recorder writes --------------------------------------------------------------------------
    def _layout_id(self, dtype: np.dtype) -> int:
        text = codec.dtype_to_json(dtype)
        if text not in self._layout_ids:
            self._conn.execute("INSERT OR IGNORE INTO telemetry_layouts (descr_json) VALUES (?)", (text,))
            row = self._conn.execute("SELECT id FROM telemetry_layouts WHERE descr_json = ?", (text,)).fetchone()
            self._layout_ids[text] = int(row[0])
        return self._layout_ids[text]

    def add_telemetry_chunk(
        self, session_id: int, records: np.ndarray, codec_name: str = codec.CODEC, blob: bytes | None = None
    ) -> int:
        """Store telemetry records (ordered by cycle) as one compressed chunk; returns its row id.

        `blob` is the records already encoded with codec_name (to compress outside the lock)."""
        if len(records) == 0:
            raise ValueError("empty telemetry chunk")
        if blob is None:
            blob = codec.encode(records, codec_name)
        with self.transaction():
            cursor = self._conn.execute(
                """INSERT INTO telemetry_chunks (session_id, first_cycle, last_cycle, n_records,
                                                 layout_id, codec, data) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (
                    session_id,
                    int(records["cycle"][0]),
                    int(records["cycle"][-1]),
                    len(records),
                    self._layout_id(records.dtype),
                    codec_name,
                    blob,
                ),
            )
            return int(cursor.lastrowid)

    def replace_telemetry_chunks(
        self, session_id: int, chunk_ids: list[int], records: np.ndarray, blob: bytes | None = None
    ) -> int:
        """Atomically swap several small chunks for one chunk of the same records (compaction,
        codec CODEC_COMPACT; pass `blob` when already encoded)."""
        if blob is None:
            blob = codec.encode(records, codec.CODEC_COMPACT)
        with self.transaction():
            placeholders = ",".join("?" * len(chunk_ids))
            row = self._conn.execute(
                f"SELECT COALESCE(SUM(n_records), 0), COUNT(*) FROM telemetry_chunks WHERE session_id = ? AND id IN ({placeholders})",
                (session_id, *chunk_ids),
            ).fetchone()
            if int(row[0]) != len(records) or int(row[1]) != len(chunk_ids):
                raise ValueError(f"compaction mismatch: {row[0]} stored records, {len(records)} given")
            self._conn.execute(
                f"DELETE FROM telemetry_chunks WHERE session_id = ? AND id IN ({placeholders})",
                (session_id, *chunk_ids),
            )
            return self.add_telemetry_chunk(session_id, records, codec.CODEC_COMPACT, blob)

    def add_core_events(self, session_id: int, events: np.ndarray) -> dict[str, int]:
        """Store events from the core's event ring (EVENT_DTYPE): STEP and STRIDE become rows of
        `steps` and `strides`, everything else an `events` row. Returns counts per table."""
        steps, strides, others, stances = [], [], [], []
        pending = self.__dict__.setdefault("_pending_cop", {})  # (session, side) -> STANCE_COP fields
        for ev in events.tolist():  # tuples in EVENT_DTYPE field order
            cycle, t_s, kind, side, code, v1, v2, v3 = ev
            if kind == _STANCE_COP:
                # one stance row from the COP event and the LOAD event that follows it (the ring
                # may hand them over in two calls: the COP waits here for its LOAD)
                pending[(session_id, side)] = (cycle, t_s, code, _finite_or_none(v1), _finite_or_none(v2),
                                               _finite_or_none(v3))
            elif kind == _STANCE_LOAD:
                cop = pending.pop((session_id, side), None)
                if cop is None or cop[0] != cycle:
                    cop = (cycle, t_s, None, None, None, None)
                stances.append((session_id, cycle, t_s, side, cop[2], code / 1000.0, *cop[3:6],
                                _finite_or_none(v1), _finite_or_none(v2), _finite_or_none(v3)))
            elif kind == _STEP:
                steps.append((session_id, cycle, t_s, side, _finite_or_none(v1), _finite_or_none(v2),
                              _finite_or_none(v3), code))
            elif kind == _STRIDE:
                strides.append((session_id, cycle, t_s, side, _finite_or_none(v1), _finite_or_none(v2),
                                _finite_or_none(v3), code))
            else:
                others.append(
                    (session_id, cycle, t_s, event_kind_name(kind), side, code,
                     _finite_or_none(v1), _finite_or_none(v2), _finite_or_none(v3))
                )
        with self.transaction():
            if steps:
                self._conn.executemany(
                    """INSERT INTO steps (session_id, cycle, t_s, side, step_length_m, step_time_s,
                                          toe_clearance_m, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    steps,
                )
            if strides:
                self._conn.executemany(
                    """INSERT INTO strides (session_id, cycle, t_s, side, stride_time_s,
                                            stance_fraction, stride_length_m, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    strides,
                )
            if others:
                self._conn.executemany(
                    """INSERT INTO events (session_id, cycle, t_s, kind, side, code, v1, v2, v3)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    others,
                )
            if stances:
                self._conn.executemany(
                    """INSERT INTO stances (session_id, cycle, t_s, side, flags, duration_s, cop_path_m,
                                            cop_ap_m, cop_ml_sd_m, peak_load, load_impulse, double_support_s)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    stances,
                )
        return {"steps": len(steps), "strides": len(strides), "events": len(others), "stances": len(stances)}

    def set_recording_stats(
        self, session_id: int, telemetry_overflow: int, events_overflow: int, stats: dict | None = None
    ) -> None:
        """Store the rings' overflow counts (records the core had to drop) and recorder stats."""
        with self.transaction():
            if stats is None:
                self._conn.execute(
                    "UPDATE sessions SET telemetry_overflow = ?, events_overflow = ? WHERE id = ?",
                    (int(telemetry_overflow), int(events_overflow), session_id),
                )
            else:
                self._conn.execute(
                    "UPDATE sessions SET telemetry_overflow = ?, events_overflow = ?, recorder_json = ? WHERE id = ?",
                    (int(telemetry_overflow), int(events_overflow), _dumps(stats), session_id),
                )

    # -- reading back ---------------------------------------------------------------------------
    def telemetry_chunks(self, session_id: int) -> list[dict]:
        """Chunk metadata (id, first_cycle, last_cycle, n_records, bytes), ordered by cycle."""
        return self._query(
            """SELECT id, first_cycle, last_cycle, n_records, LENGTH(data) AS bytes
               FROM telemetry_chunks WHERE session_id = ? ORDER BY first_cycle, id""",
            (session_id,),
        )

    def telemetry(self, session_id: int, fields: Sequence[str] | None = None) -> np.ndarray:
        """All telemetry of a session as TELEMETRY_DTYPE records, ordered by cycle; with `fields`,
        only those columns (and `cycle`), in that order: a 30-minute session is 210 MB of whole
        records, a reader that needs five columns holds a fifth of it (telemetry_dtype_of)."""
        rows = self._query(
            """SELECT c.n_records, c.codec, c.data, l.descr_json FROM telemetry_chunks c
               JOIN telemetry_layouts l ON l.id = c.layout_id
               WHERE c.session_id = ? ORDER BY c.first_cycle, c.id""",
            (session_id,),
        )
        dtype = telemetry_dtype_of(fields)
        if not rows:
            return np.zeros(0, dtype=dtype)
        dtypes: dict[str, np.dtype] = {}
        # Filled chunk by chunk: decoding every chunk and concatenating held the session twice
        # (a 20-minute session is 140 MB of records).
        out = np.empty(sum(int(row["n_records"]) for row in rows), dtype=dtype)
        at = 0
        for row in rows:
            text = row["descr_json"]
            if text not in dtypes:
                dtypes[text] = codec.dtype_from_json(text)
            records = codec.convert(codec.decode(row["data"], dtypes[text], row["n_records"], row["codec"]),
                                    TELEMETRY_DTYPE)
            end = at + len(records)  # codec.decode gives exactly n_records
            if fields is None:
                out[at:end] = records
            else:
                for name in dtype.names:  # by name: structured assignment goes by position
                    out[name][at:end] = records[name]
            at = end
        if len(out) > 1 and np.any(np.diff(out["cycle"].astype(np.int64)) < 0):
            out = out[np.argsort(out["cycle"], kind="stable")]
        return out

    def cycle_gaps(self, session_id: int) -> list[tuple[int, int]]:
        """Missing cycle ranges (first, last) between stored chunks; [] when contiguous."""
        gaps = []
        previous = None
        for chunk in self.telemetry_chunks(session_id):
            if previous is not None and chunk["first_cycle"] != previous + 1:
                gaps.append((previous + 1, chunk["first_cycle"] - 1))
            previous = chunk["last_cycle"]
        return gaps

    def events(self, session_id: int) -> list[dict]:
        """Events of a session by time: core events (with `cycle`) and UI events (`data`).

        Adds readable fields where the kind has them: `obstacle`, `margin_m` and `outcome`
        (cleared, hit, passed) for obstacle outcomes,
        `reason`/`text`/`priority` for alarms, `run_state` for run-state changes."""
        from engine.control.layout import ALARM_TEXT, Priority

        rows = self._query(
            """SELECT id, cycle, t_s, kind, side, code, v1, v2, v3, data_json FROM events
               WHERE session_id = ? ORDER BY t_s, id""",
            (session_id,),
        )
        for row in rows:
            row["data"] = _loads(row.pop("data_json")) or {}
            kind, code = row["kind"], row["code"]
            try:
                if kind == "obstacle_outcome":
                    # The core sends the obstacle index in `code` and the clearance margin in
                    # v1 (toe height minus obstacle height); the outcome follows from the margin.
                    row["obstacle"] = code
                    row["margin_m"] = row["v1"]
                    if row["v1"] is None:
                        row["outcome"] = ObstacleOutcome.PASSED.name.lower()
                    elif row["v1"] >= 0.0:
                        row["outcome"] = ObstacleOutcome.CLEARED.name.lower()
                    else:
                        row["outcome"] = ObstacleOutcome.HIT.name.lower()
                elif kind in ("alarm_raised", "alarm_acked"):
                    row["reason"] = AlarmReason(code).name.lower()
                    row["text"] = ALARM_TEXT.get(code, "")
                    if kind == "alarm_raised" and row["v1"] is not None:
                        row["priority"] = Priority(int(row["v1"])).name.lower()
                elif kind == "run_state":
                    row["run_state"] = RunState(code).name.lower()
            except ValueError:
                pass  # a code this version does not know: keep the number
        return rows

    def steps(self, session_id: int) -> list[dict]:
        """Per-step rows (cycle, t_s, side, step_length_m, step_time_s, toe_clearance_m, flags)."""
        return self._query(
            """SELECT cycle, t_s, side, step_length_m, step_time_s, toe_clearance_m, flags FROM steps
               WHERE session_id = ? ORDER BY cycle, id""",
            (session_id,),
        )

    def strides(self, session_id: int) -> list[dict]:
        """Per-stride rows (cycle, t_s, side, stride_time_s, stance_fraction, stride_length_m, flags,
        and `steady`: the core's steady-state flag, None for strides recorded before it existed)."""
        rows = self._query(
            """SELECT cycle, t_s, side, stride_time_s, stance_fraction, stride_length_m, flags FROM strides
               WHERE session_id = ? ORDER BY cycle, id""",
            (session_id,),
        )
        for row in rows:
            row["steady"] = None if row["flags"] is None else bool(row["flags"] & STRIDE_STEADY)
        return rows

    def stances(self, session_id: int) -> list[dict]:
        """Per-stance balance rows (cycle, t_s of the toe off, side, flags, duration_s, cop_path_m,
        cop_ap_m, cop_ml_sd_m, peak_load, load_impulse, double_support_s), by cycle."""
        return self._query(
            """SELECT cycle, t_s, side, flags, duration_s, cop_path_m, cop_ap_m, cop_ml_sd_m, peak_load,
                      load_impulse, double_support_s FROM stances WHERE session_id = ? ORDER BY cycle, id""",
            (session_id,),
        )

    def audit_log(self, session_id: int) -> list[dict]:
        """Setting changes of a session, oldest first (who, setting, old, new, applied, at)."""
        rows = self._query(
            """SELECT id, session_id, at, who, setting, old_json, new_json, applied_json FROM audit_log
               WHERE session_id = ? ORDER BY id""",
            (session_id,),
        )
        return _audit_rows(rows)


# ---------------------------------------------------------------------------------------------
# Demo patients: pseudonymous codes that the virtual rig knows how to simulate
# ---------------------------------------------------------------------------------------------
DEMO_PATIENTS: dict[str, tuple[str, str, Prescription]] = {
    # code: (display name, virtual-rig profile, prescription). Leg lengths are the profile's true
    # legs (thigh + shank + ankle height, devices/sim/patients/): the core checks them at the start.
    "demo-healthy": (
        "Demo: healthy adult",
        "healthy",
        Prescription(max_speed_mps=1.4, max_accel_mps2=0.6, max_decel_mps2=1.0, guidance_min=0.0,
                     guidance_max=0.5, bws_min=0.0, bws_max=0.2, clearance_boost_max=0.3,
                     leg_length_l_m=0.98, leg_length_r_m=0.98, affected_side=-1),
    ),
    "demo-hemiparetic": (
        "Demo: hemiparesis after stroke, right side",
        "hemiparetic-right",
        Prescription(max_speed_mps=0.8, max_accel_mps2=0.3, max_decel_mps2=0.6, guidance_min=0.2,
                     guidance_max=1.0, bws_min=0.0, bws_max=0.4, clearance_boost_max=0.6,
                     leg_length_l_m=0.96, leg_length_r_m=0.96, affected_side=1),
    ),
    "demo-parkinsonian": (
        "Demo: Parkinson's disease, shuffling gait",
        "parkinsonian",
        Prescription(max_speed_mps=1.0, max_accel_mps2=0.3, max_decel_mps2=0.5, guidance_min=0.0,
                     guidance_max=0.8, bws_min=0.0, bws_max=0.3, clearance_boost_max=0.5,
                     leg_length_l_m=0.94, leg_length_r_m=0.94, affected_side=-1),
    ),
    "demo-frail": (
        "Demo: frail older adult",
        "frail-older",
        Prescription(max_speed_mps=0.7, max_accel_mps2=0.25, max_decel_mps2=0.4, guidance_min=0.1,
                     guidance_max=1.0, bws_min=0.1, bws_max=0.5, clearance_boost_max=0.4,
                     leg_length_l_m=0.915, leg_length_r_m=0.915, affected_side=-1),
    ),
}


def ensure_demo_patient(store: Store, code: str) -> None:
    """Create a demo patient (demo-healthy, demo-hemiparetic, demo-parkinsonian, demo-frail) with
    its virtual-rig profile and a prescription, if missing. Raises KeyError for other codes."""
    if code not in DEMO_PATIENTS:
        raise KeyError(f"{code!r} is not a demo patient (known: {', '.join(DEMO_PATIENTS)})")
    name, profile, rx = DEMO_PATIENTS[code]
    existing = store.get_patient(code)
    store.ensure_patient(code, name=name if existing is None or existing["name"] is None else None,
                         sim_profile=profile)
    if store.current_prescription(code) is None:
        store.add_prescription(code, rx, who="demo")


__all__ = [
    "EVENT_DTYPE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Store",
    "default_db_path",
    "ensure_demo_patient",
    "event_kind_name",
    "migrate",
    "open_connection",
]
