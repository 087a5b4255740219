"""Store and forward: push everything a rig recorded in its SQLite file to the clinic server.

One pass (`sync_once`) sends, in this order, patients, prescription versions, sessions (and the
closing of sessions that were still open last time), session plans, telemetry chunks, events,
steps, strides, the audit log of setting changes and frame timing; it takes down the clinic's
patients, current prescriptions and current session plans that other rigs stored. Rules that make it safe to cut at any point:

- Natural keys: every row goes up as (rig id, local row id) with `ON CONFLICT DO NOTHING`, so a
  replay adds nothing. Telemetry goes by cycle: the rig compacts chunks (and SQLite may reuse
  their row ids), so the server's last stored cycle per session decides what is new, and a chunk
  that straddles it is cut to the new records.
- High-water marks: the rig keeps, per table, the last local id the server has (`sync_state`
  in the rig's own file), written only after the server committed the batch. A cut between the
  two commits only means the next pass re-sends one batch, which the server ignores.
- Schema versions: the rig's records schema and the server's must be equal; otherwise the pass
  is refused before anything is written, saying which side to update.
- A rig row is never updated on the server except an open session's closing columns (the
  server's policies and a trigger refuse anything else).

`SyncWorker` runs passes in a child process while a session records (`run --sync-to`): the
session never waits for the network; a server that is down only delays the next pass.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from engine.records import codec
from engine.records.pg_admin import ClinicError, connect, server_schema_version
from engine.records.store import BUSY_TIMEOUT_MS, open_connection

log = logging.getLogger(__name__)

CHILD_BATCH_ROWS = 5000
TELEMETRY_BATCH_BYTES = 4 * 1024 * 1024

# Child tables: (columns besides id and session_id, whether session_id may be NULL).
CHILD_COLUMNS: dict[str, tuple[tuple[str, ...], bool]] = {
    "events": (("cycle", "t_s", "kind", "side", "code", "v1", "v2", "v3", "data_json"), False),
    "steps": (("cycle", "t_s", "side", "step_length_m", "step_time_s", "toe_clearance_m", "flags"), False),
    "strides": (("cycle", "t_s", "side", "stride_time_s", "stance_fraction", "stride_length_m", "flags"), False),
    "audit_log": (("at", "who", "setting", "old_json", "new_json", "applied_json"), True),
    "frame_timing": (("at", "stats_json"), False),
    "stances": (("cycle", "t_s", "side", "flags", "duration_s", "cop_path_m", "cop_ap_m", "cop_ml_sd_m",
                 "peak_load", "load_impulse", "double_support_s"), False),
}
SESSION_COLUMNS = ("patient_code", "scene_id", "goals_json", "settings_json", "vr", "started_at", "ended_at",
                   "outcome", "summary_json", "simulated", "telemetry_overflow", "events_overflow", "recorder_json")
CLOSING_COLUMNS = ("ended_at", "outcome", "summary_json", "telemetry_overflow", "events_overflow", "recorder_json")


# `who` of a prescription version a rig took from the clinic server (not sent back).
PULLED_PREFIX = "clinic: "


class SyncRefused(RuntimeError):
    """The pass could not put everything on the server; str() is the one-line reason."""


# ---------------------------------------------------------------------------------------------
# The rig side: its SQLite file and its sync bookkeeping
# ---------------------------------------------------------------------------------------------
class RigFile:
    """The rig's records file, opened without migrating it, plus the `sync_state` table."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise SyncRefused(f"no records database at {self.path}")
        try:
            self.conn = open_connection(self.path, migrate_to=None)
            self.schema = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
            # Bookkeeping of this rig's sync, not records: outside the numbered records schema.
            self.conn.execute("CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except sqlite3.DatabaseError as exc:
            raise SyncRefused(f"{self.path}: not a readable StepSync database ({exc})") from exc
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def close(self) -> None:
        self.conn.close()

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def put(self, key: str, value) -> None:
        self.conn.execute("INSERT INTO sync_state (key, value) VALUES (?, ?) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, str(value)))

    def hwm(self, table: str) -> int:
        return int(self.get(f"hwm:{table}", "0"))

    def rig_id(self) -> str:
        """This file's rig id (a UUID made on the first sync, kept in the file)."""
        # Two first passes at once (background and manual sync) must not mint two ids: each would
        # take its own server lock and both would move the same high-water marks. The first insert
        # wins; everyone reads the stored id back.
        self.conn.execute("INSERT INTO sync_state (key, value) VALUES ('rig_id', ?) ON CONFLICT (key) DO NOTHING",
                          (str(uuid.uuid4()),))
        return str(self.get("rig_id"))

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()


# ---------------------------------------------------------------------------------------------
# One pass
# ---------------------------------------------------------------------------------------------
def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.DiskFull):
        return f"the clinic server's disk is full ({text}); nothing was lost, the rig keeps its records"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return f"refused by the clinic server: {text}"
    if isinstance(exc, psycopg.OperationalError):
        return f"clinic server unreachable or the connection broke: {text}"
    return f"{type(exc).__name__}: {text}"


class Pass:
    """One sync pass of one rig file to one server connection."""

    def __init__(self, rig: RigFile, conn: psycopg.Connection, rig_name: str | None = None) -> None:
        self.rig = rig
        self.conn = conn
        self.rig_id = rig.rig_id()
        self.rig_name = rig_name or socket.gethostname()
        self.sent: dict[str, int] = {}
        self._session_map: dict[int, int] = {}

    def _count(self, table: str, n: int) -> None:
        self.sent[table] = self.sent.get(table, 0) + n

    def check_schema(self) -> None:
        server = server_schema_version(self.conn)
        self.conn.rollback()
        if server == 0:
            raise SyncRefused("the clinic server has no StepSync schema: run `main.py clinic init` on it")
        if self.rig.schema < server:
            raise SyncRefused(f"refused: this rig's records schema {self.rig.schema} is older than the clinic "
                              f"server's {server}; update StepSync on this rig and start it once, then sync")
        if self.rig.schema > server:
            raise SyncRefused(f"refused: the clinic server's schema {server} is older than this rig's "
                              f"{self.rig.schema}; run `main.py clinic init` with this StepSync version on the server")

    def register(self) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO rigs (rig_id, db_role, name, records_schema) VALUES (%s, session_user, %s, %s) "
                "ON CONFLICT DO NOTHING", (self.rig_id, self.rig_name, self.rig.schema))
            mine = self.conn.execute("SELECT db_role = session_user FROM rigs WHERE rig_id = %s",
                                     (self.rig_id,)).fetchone()
        if not mine or not mine[0]:
            raise SyncRefused(f"refused: rig id {self.rig_id} is registered to another database login")

    def run(self) -> dict[str, int]:
        self.check_schema()
        # One pass at a time per rig (the background sync and a manual `sync` may overlap): two
        # passes could cut the same telemetry at different cycles. Released when the pass ends
        # or the connection breaks.
        self.conn.execute("SELECT pg_advisory_lock(hashtext('stepsync:rig:' || %s))", (self.rig_id,))
        try:
            self.register()
            self.patients()
            self.prescriptions()
            self.pull_patients()
            self.pull_prescriptions()
            self.sessions()
            self.session_plans()
            self.pull_session_plans()
            self.telemetry()
            for table in CHILD_COLUMNS:
                self.children(table)
            with self.conn.transaction():
                self.conn.execute("UPDATE rigs SET last_sync_at = now(), records_schema = %s WHERE rig_id = %s",
                                  (self.rig.schema, self.rig_id))
        finally:
            if not self.conn.broken:
                self.conn.execute("SELECT pg_advisory_unlock(hashtext('stepsync:rig:' || %s))", (self.rig_id,))
        return self.sent

    # -- tables ---------------------------------------------------------------------------------
    def patients(self) -> None:
        rows = self.rig.rows("SELECT rowid, code, name, created_at, sim_profile FROM patients WHERE rowid > ? "
                             "ORDER BY rowid", (self.rig.hwm("patients"),))
        if not rows:
            return
        # Patients this rig copied from the clinic are there already: not sent back.
        own = [r for r in rows if self.rig.get(f"pulled-patient:{r[1]}") is None]
        if own:
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO patients (code, name, created_at, sim_profile, rig_id) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        [(r[1], r[2], r[3], r[4], self.rig_id) for r in own])
        self.rig.put("hwm:patients", rows[-1][0])
        self._count("patients", len(own))

    def pull_patients(self) -> None:
        """Copy down the patients created at other rigs (code, name, created date, simulated
        profile), so that any rig can train them; their current prescription follows in
        pull_prescriptions. The conflict rule (docs/clinic.md): a code is one patient clinic-wide;
        the row the server received first is the clinic's. A rig never overwrites a name it has;
        it fills in a name it lacks, and a name that differs is reported on every pass (the log and
        `patient name conflicts` in what the pass did) until an admin sorts the two people out."""
        count = int(self.conn.execute("SELECT stepsync_clinic_patient_count()").fetchone()[0])
        if self.rig.get("pulled:patient_count") == str(count) and not self.rig.get("patient-conflicts"):
            return
        rows = self.conn.execute("SELECT * FROM stepsync_clinic_patients()").fetchall()
        local = {r[0]: r[1] for r in self.rig.rows("SELECT code, name FROM patients")}
        conflicts = []
        with self.rig.conn:
            self.rig.conn.execute("BEGIN IMMEDIATE")
            for code, name, created_at, sim_profile, from_rig in rows:
                if code not in local:
                    self.rig.conn.execute(
                        "INSERT OR IGNORE INTO patients (code, name, created_at, sim_profile) VALUES (?, ?, ?, ?)",
                        (code, name, created_at, sim_profile))
                    self.rig.put(f"pulled-patient:{code}", from_rig)
                    self._count("patients copied down", 1)
                elif name is not None and local[code] is None:
                    self.rig.conn.execute("UPDATE patients SET name = ? WHERE code = ? AND name IS NULL", (name, code))
                    self._count("patient names copied down", 1)
                elif name is not None and local[code] != name:
                    conflicts.append(code)
            self.rig.put("pulled:patient_count", count)
            self.rig.put("patient-conflicts", ",".join(conflicts))
        if conflicts:
            log.warning("clinic sync: patient code(s) %s have another name on the clinic server than on this rig "
                        "(the server keeps the first one received): an admin must check they are one person",
                        ", ".join(conflicts))
            self._count("patient name conflicts", len(conflicts))

    def prescriptions(self) -> None:
        rows = self.rig.rows("SELECT id, patient_code, version, rx_json, who, created_at FROM prescriptions "
                             "WHERE id > ? ORDER BY id", (self.rig.hwm("prescriptions"),))
        if not rows:
            return
        # Versions this rig took from the clinic go back only as what they are: already there.
        own = [r for r in rows if not str(r[4]).startswith(PULLED_PREFIX)]
        if own:
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO prescriptions (rig_id, local_id, patient_code, version, rig_version, rx_json, "
                        "who, created_at) VALUES (%s, %s, %s, 0, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        [(self.rig_id, *r) for r in own])
        self.rig.put("hwm:prescriptions", rows[-1][0])
        self._count("prescriptions", len(own))

    def pull_prescriptions(self) -> None:
        """Take the clinic's current prescription of each local patient when another rig set it
        (the conflict rule: the version the server received last is current everywhere)."""
        import json

        from engine.control.prescription import Prescription

        codes = [r[0] for r in self.rig.rows("SELECT code FROM patients")]
        if not codes:
            return
        for code, version, rx_json, who, rig_id, rig_name, received_at in self.conn.execute(
                "SELECT * FROM stepsync_current_prescriptions(%s)", (codes,)).fetchall():
            if rig_id == self.rig_id or self.rig.get(f"pulled:{code}") == str(version):
                continue
            local = self.rig.rows("SELECT rx_json FROM prescriptions WHERE patient_code = ? "
                                  "ORDER BY version DESC LIMIT 1", (code,))
            try:
                rx = Prescription.from_dict(json.loads(rx_json))  # validated like any prescription
            except Exception as exc:  # noqa: BLE001 - a bad version is reported, never applied
                log.error("clinic prescription v%s of %s refused: %s", version, code, exc)
                continue
            if not local or json.loads(local[0][0]) != json.loads(rx_json):
                self._insert_next_version(
                    "prescriptions", code, ("rx_json", "who", "created_at"),
                    (json.dumps(rx.to_dict(), sort_keys=True),
                     f"{PULLED_PREFIX}{who} at {rig_name}, clinic v{version} received {received_at}", received_at))
                self._count("prescriptions pulled", 1)
            self.rig.put(f"pulled:{code}", version)

    def sessions(self) -> None:
        cols = ", ".join(SESSION_COLUMNS)
        rows = self.rig.rows(f"SELECT id, {cols} FROM sessions WHERE id > ? ORDER BY id", (self.rig.hwm("sessions"),))
        if rows:
            marks = ", ".join(["%s"] * (len(SESSION_COLUMNS) + 2))
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO sessions (rig_id, local_id, {cols}) VALUES ({marks}) "
                                    "ON CONFLICT DO NOTHING", [(self.rig_id, *r) for r in rows])
            self.rig.put("hwm:sessions", rows[-1][0])
            self._count("sessions", len(rows))
        # Sessions the server still has open (or without recorder statistics): close them.
        open_rows = self.conn.execute(
            "SELECT local_id, ended_at, recorder_json FROM sessions WHERE rig_id = %s "
            "AND (ended_at IS NULL OR recorder_json IS NULL)", (self.rig_id,)).fetchall()
        self.conn.rollback()
        updates = []
        local_rows: dict[int, tuple] = {}
        ids = [int(r[0]) for r in open_rows]
        for start in range(0, len(ids), 500):  # SQLite's parameter limit
            part = ids[start:start + 500]
            for row in self.rig.rows(f"SELECT id, {', '.join(CLOSING_COLUMNS)} FROM sessions "
                                     f"WHERE id IN ({','.join('?' * len(part))})", tuple(part)):
                local_rows[int(row[0])] = row[1:]
        for local_id, ended_at, recorder_json in open_rows:
            if int(local_id) not in local_rows:
                continue
            values = dict(zip(CLOSING_COLUMNS, local_rows[int(local_id)], strict=True))
            if values["ended_at"] is None:
                continue  # still recording
            if ended_at is not None and (values["recorder_json"] is None or recorder_json is not None):
                continue  # nothing new
            updates.append((*[values[c] for c in CLOSING_COLUMNS], self.rig_id, local_id))
        if updates:
            sets = ", ".join(f"{c} = %s" for c in CLOSING_COLUMNS)
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    cur.executemany(f"UPDATE sessions SET {sets} WHERE rig_id = %s AND local_id = %s", updates)
            self._count("sessions closed", len(updates))

    def session_plans(self) -> None:
        """Session plans (progression, records schema 6) go up like prescription versions: the
        server numbers a patient's plans in the order it receives them; the session a plan was
        based on goes as the server's id, so a plan waits for its session to be there."""
        rows = self.rig.rows("SELECT id, patient_code, version, plan_json, based_on_session, decision, who, "
                             "created_at FROM session_plans WHERE id > ? ORDER BY id", (self.rig.hwm("session_plans"),))
        if not rows:
            return
        mapping = self._server_session_ids({r[4] for r in rows if r[4] is not None})
        out = []
        for r in rows:
            if str(r[6]).startswith(PULLED_PREFIX):  # taken from the clinic: already there
                out.append(None)
                continue
            if r[4] is not None and r[4] not in mapping:
                break  # its session is not on the server yet: next pass, in order
            out.append((self.rig_id, r[0], r[1], r[2], r[3], None if r[4] is None else mapping[r[4]], *r[5:]))
        if not out:
            return
        own = [r for r in out if r is not None]
        if own:
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO session_plans (rig_id, local_id, patient_code, version, rig_version, plan_json, "
                        "based_on_session, decision, who, created_at) VALUES (%s, %s, %s, 0, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING", own)
        self.rig.put("hwm:session_plans", rows[len(out) - 1][0])
        self._count("session_plans", len(own))

    def pull_session_plans(self) -> None:
        """Copy down the clinic's current session plan of each local patient when another rig
        stored it (issue 12), the way `pull_prescriptions` takes prescription versions: the plan
        the server received last is the next session's everywhere. Stored as a new local version
        with who = "clinic: WHO at RIG, clinic vN received ..." and no local session (the session
        it came from is on the other rig); such a version is not sent back. A server not yet
        upgraded to the function (`main.py clinic init`) is skipped with a warning."""
        import json

        codes = [r[0] for r in self.rig.rows("SELECT code FROM patients")]
        if not codes:
            return
        try:
            current = self.conn.execute("SELECT * FROM stepsync_current_session_plans(%s)", (codes,)).fetchall()
        except psycopg.errors.UndefinedFunction:
            self.conn.rollback()
            log.warning("clinic sync: the server has no stepsync_current_session_plans: plans are not copied "
                        "down until it is upgraded (main.py clinic init)")
            return
        self.conn.rollback()
        for code, version, plan_json, decision, who, rig_id, rig_name, received_at in current:
            if rig_id == self.rig_id or self.rig.get(f"pulled-plan:{code}") == str(version):
                continue
            try:
                plan = json.loads(plan_json)
                if not isinstance(plan, dict):
                    raise ValueError("not an object")
            except ValueError as exc:  # a bad plan is reported, never applied
                log.error("clinic session plan v%s of %s refused: %s", version, code, exc)
                continue
            local = self.rig.rows("SELECT plan_json FROM session_plans WHERE patient_code = ? "
                                  "ORDER BY version DESC LIMIT 1", (code,))
            if not local or json.loads(local[0][0]) != plan:
                self._insert_next_version(
                    "session_plans", code, ("plan_json", "based_on_session", "decision", "who", "created_at"),
                    (json.dumps(plan, sort_keys=True), None, decision,
                     f"{PULLED_PREFIX}{who} at {rig_name}, clinic v{version} received {received_at}", received_at))
                self._count("session_plans pulled", 1)
            self.rig.put(f"pulled-plan:{code}", version)

    def _insert_next_version(self, table: str, code: str, columns: tuple[str, ...], values: tuple) -> None:
        """Store a pulled row as the next local version of a patient's versioned `table`
        (prescriptions, session_plans: code constants, never input), numbered under one lock."""
        names = ("patient_code", "version") + columns
        with self.rig.conn:
            self.rig.conn.execute("BEGIN IMMEDIATE")
            (next_version,) = self.rig.conn.execute(
                f"SELECT COALESCE(MAX(version), 0) + 1 FROM {table} WHERE patient_code = ?", (code,)).fetchone()
            self.rig.conn.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                  (code, next_version) + values)

    def _server_session_ids(self, local_ids: set[int]) -> dict[int, int]:
        missing = [i for i in local_ids if i not in self._session_map]
        if missing:
            for local_id, server_id in self.conn.execute(
                    "SELECT local_id, id FROM sessions WHERE rig_id = %s AND local_id = ANY(%s)",
                    (self.rig_id, missing)).fetchall():
                self._session_map[int(local_id)] = int(server_id)
            self.conn.rollback()
        return self._session_map

    def telemetry(self) -> None:
        local = self.rig.rows("SELECT session_id, MAX(last_cycle) FROM telemetry_chunks GROUP BY session_id")
        todo = [(sid, last) for sid, last in local if last > int(self.rig.get(f"telemetry:{sid}", "-1"))]
        if not todo:
            return
        mapping = self._server_session_ids({sid for sid, _ in todo})
        layout_ids: dict[str, int] = {}
        for sid, _ in todo:
            server_sid = mapping.get(sid)
            if server_sid is None:
                continue  # the session row is not up yet (started during this pass): next pass
            row = self.conn.execute("SELECT max(last_cycle) FROM telemetry_chunks WHERE session_id = %s",
                                    (server_sid,)).fetchone()
            self.conn.rollback()
            server_last = -1 if row[0] is None else int(row[0])
            chunks = self.rig.rows(
                """SELECT c.first_cycle, c.last_cycle, c.n_records, c.codec, c.data, l.descr_json
                   FROM telemetry_chunks c JOIN telemetry_layouts l ON l.id = c.layout_id
                   WHERE c.session_id = ? AND c.last_cycle > ? ORDER BY c.first_cycle, c.id""", (sid, server_last))
            batch, batch_bytes = [], 0
            for first, last, n, codec_name, data, descr in chunks:
                if last <= server_last:
                    continue
                if first <= server_last:
                    # Part of it is on the server already (a compaction merged sent chunks): send the rest.
                    records = codec.decode(data, codec.dtype_from_json(descr), n, codec_name)
                    records = records[records["cycle"] > server_last]
                    first, n, codec_name = int(records["cycle"][0]), len(records), codec.CODEC
                    data = codec.encode(records, codec_name)
                batch.append((server_sid, first, last, n, descr, codec_name, bytes(data)))
                batch_bytes += len(data)
                server_last = last
                if batch_bytes >= TELEMETRY_BATCH_BYTES:
                    self._send_chunks(sid, batch, layout_ids)
                    batch, batch_bytes = [], 0
            if batch:
                self._send_chunks(sid, batch, layout_ids)

    def _send_chunks(self, local_sid: int, batch: list[tuple], layout_ids: dict[str, int]) -> None:
        with self.conn.transaction():
            rows = []
            for server_sid, first, last, n, descr, codec_name, data in batch:
                if descr not in layout_ids:
                    self.conn.execute("INSERT INTO telemetry_layouts (descr_json) VALUES (%s) ON CONFLICT DO NOTHING",
                                      (descr,))
                    layout_ids[descr] = self.conn.execute("SELECT id FROM telemetry_layouts WHERE descr_json = %s",
                                                          (descr,)).fetchone()[0]
                rows.append((server_sid, self.rig_id, first, last, n, layout_ids[descr], codec_name, data))
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO telemetry_chunks (session_id, rig_id, first_cycle, last_cycle, n_records, layout_id, "
                    "codec, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
        self.rig.put(f"telemetry:{local_sid}", batch[-1][2])
        self._count("telemetry_chunks", len(batch))
        self._count("telemetry_records", sum(b[3] for b in batch))

    def children(self, table: str) -> None:
        columns, nullable = CHILD_COLUMNS[table]
        cols = ", ".join(columns)
        while True:
            rows = self.rig.rows(f"SELECT id, session_id, {cols} FROM {table} WHERE id > ? ORDER BY id LIMIT ?",
                                 (self.rig.hwm(table), CHILD_BATCH_ROWS))
            if not rows:
                return
            mapping = self._server_session_ids({r[1] for r in rows if r[1] is not None})
            out = []
            for r in rows:
                if r[1] is not None and r[1] not in mapping:
                    break  # its session is not on the server yet: stop here, keep the order
                out.append((self.rig_id, r[0], None if r[1] is None else mapping[r[1]], *r[2:]))
            if not out:
                return
            marks = ", ".join(["%s"] * (len(columns) + 3))
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO {table} (rig_id, local_id, session_id, {cols}) VALUES ({marks}) "
                                    "ON CONFLICT DO NOTHING", out)
            self.rig.put(f"hwm:{table}", out[-1][1])
            self._count(table, len(out))
            if len(out) < len(rows) or len(rows) < CHILD_BATCH_ROWS:
                return


def sync_once(db_path: str | Path, url: str, rig_name: str | None = None,
              conn: psycopg.Connection | None = None) -> dict[str, int]:
    """One pass: push everything new in the rig file to the server; returns rows sent per table.

    `conn` (autocommit) reuses a connection across passes (the background sync); by default the
    pass opens and closes its own. Raises SyncRefused with a one-line reason (server down, disk
    full, refused, schema)."""
    rig = RigFile(db_path)
    own = conn is None
    try:
        if own:
            try:
                conn = connect(url, autocommit=True)  # explicit transactions: one per batch
            except ClinicError as exc:
                raise SyncRefused(str(exc)) from exc
        try:
            return Pass(rig, conn, rig_name).run()
        except SyncRefused:
            raise
        except (psycopg.Error, OSError) as exc:
            raise SyncRefused(_reason(exc)) from exc
        except sqlite3.Error as exc:
            raise SyncRefused(f"the rig's records database: {exc}") from exc
        finally:
            if own:
                _close_quietly(conn)
    finally:
        rig.close()


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception:  # a broken connection may fail to close; nothing to keep
        pass


def pending_rows(db_path: str | Path) -> dict[str, int]:
    """Rows of the rig file the server does not have yet, per table (telemetry: records)."""
    rig = RigFile(db_path)
    try:
        out = {}
        for table in ("sessions", *CHILD_COLUMNS):
            out[table] = rig.rows(f"SELECT COUNT(*) FROM {table} WHERE id > ?", (rig.hwm(table),))[0][0]
        out["session_plans"] = rig.rows("SELECT COUNT(*) FROM session_plans WHERE id > ? AND who NOT LIKE ?",
                                        (rig.hwm("session_plans"), PULLED_PREFIX + "%"))[0][0]
        out["prescriptions"] = rig.rows("SELECT COUNT(*) FROM prescriptions WHERE id > ? AND who NOT LIKE ?",
                                        (rig.hwm("prescriptions"), PULLED_PREFIX + "%"))[0][0]
        out["patients"] = rig.rows("SELECT COUNT(*) FROM patients WHERE rowid > ? AND 'pulled-patient:' || code "
                                   "NOT IN (SELECT key FROM sync_state)", (rig.hwm("patients"),))[0][0]
        tele = 0
        for sid, last in rig.rows("SELECT session_id, MAX(last_cycle) FROM telemetry_chunks GROUP BY session_id"):
            sent = int(rig.get(f"telemetry:{sid}", "-1"))
            tele += int(rig.rows("SELECT COALESCE(SUM(n_records), 0) FROM telemetry_chunks WHERE session_id = ? "
                                 "AND first_cycle > ?", (sid, sent))[0][0])
            del last
        out["telemetry_records"] = tele
        return out
    finally:
        rig.close()


# ---------------------------------------------------------------------------------------------
# Background sync while a session records
# ---------------------------------------------------------------------------------------------
def follow(db_path: str | Path, url: str, interval_s: float = 0.5, stop_flag: list | None = None) -> int:
    """Sync passes every interval_s until SIGTERM/SIGINT, then one last pass; exit code 0 when the
    last pass put everything on the server."""
    stop = stop_flag if stop_flag is not None else [False]

    def _stop(signum, frame):
        stop[0] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    backoff_s = interval_s
    last_error = None
    conn = None  # kept across passes; dropped and reopened after any failure
    while True:
        final = stop[0]
        try:
            if conn is None:
                try:
                    conn = connect(url, autocommit=True)
                except ClinicError as exc:
                    raise SyncRefused(str(exc)) from exc
            sent = sync_once(db_path, url, conn=conn)
            if last_error is not None:
                log.info("clinic sync: server reachable again")
            last_error = None
            backoff_s = interval_s
            if any(sent.values()):
                log.debug("clinic sync: %s", sent)
        except Exception as exc:  # noqa: BLE001 - the worker outlives every failure and retries
            message = str(exc) if isinstance(exc, SyncRefused) else f"{type(exc).__name__}: {exc}"
            if message != last_error:
                log.warning("clinic sync waits: %s", message)
            last_error = message
            backoff_s = min(5.0, backoff_s * 2)
            if conn is not None:
                _close_quietly(conn)
                conn = None
        if final:
            if conn is not None:
                _close_quietly(conn)
            return 0 if last_error is None else 1
        deadline = time.monotonic() + backoff_s
        while not stop[0] and time.monotonic() < deadline:
            time.sleep(0.05)


class SyncWorker:
    """The background sync as a child process (`python -m engine.records.sync --follow`)."""

    def __init__(self, db_path: str | Path, url: str, interval_s: float = 0.5) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.records.sync", "--db", str(db_path), "--to", url, "--follow",
             "--interval-s", str(interval_s)],
            env=env, stdout=subprocess.DEVNULL, cwd=root,
        )

    def stop(self, timeout_s: float = 60.0) -> int:
        """Ask for a last pass and wait; returns its exit code (0: everything on the server)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def finish(self) -> str:
        """Stop after a last pass; one line saying whether the server has everything."""
        if self.stop() == 0:
            return "sync: everything is on the clinic server"
        return ("sync: the clinic server could not take everything now (see the log); the records are safe "
                "on this rig and the next sync sends them")


def start_background_sync(db: str | Path | None, url: str) -> SyncWorker:
    """The background sync of `run --sync-to` for the rig's records file (default location)."""
    from engine.records.paths import default_db_path

    return SyncWorker(db or default_db_path(), url)


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.records.sync --db PATH --to URL [--follow]` (the worker's entry point)."""
    parser = argparse.ArgumentParser(prog="python -m engine.records.sync")
    parser.add_argument("--db", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--follow", action="store_true")
    parser.add_argument("--interval-s", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.follow:
        return follow(args.db, args.to, args.interval_s)
    try:
        print(sync_once(args.db, args.to))
    except SyncRefused as exc:
        print(f"sync: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["SyncRefused", "SyncWorker", "pending_rows", "start_background_sync", "sync_once"]
