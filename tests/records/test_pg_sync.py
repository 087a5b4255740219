"""Sync of rig SQLite files to the real (throwaway) PostgreSQL, and reading it back through the
same repository interface as SQLite."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import numpy as np
import psycopg
import pytest

from bench.sync import LiveSession, record_sessions
from engine.records.repository import open_repository
from engine.records.store import Store, open_connection
from engine.records.sync import SyncRefused, pending_rows, sync_once
from engine.records.sync_check import (
    duplicate_rows,
    local_counts,
    rig_id_of,
    server_counts,
)
from tests.records.conftest import ROOT


def _main(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def _truth(clinic, path):
    with psycopg.connect(clinic.owner_url) as conn:
        return local_counts(path), server_counts(conn, rig_id_of(path)), duplicate_rows(conn)


def test_sync_cli_sends_everything_and_a_repeat_adds_nothing(clinic, tmp_path):
    path = tmp_path / "rig.db"
    record_sessions(path, "demo-hemiparetic", sessions=2, seconds=6)
    url = clinic.rig_url("cli-rig")
    first = _main("sync", "--db", str(path), "--to", url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "sessions 2" in first.stdout and "everything is on the clinic server" in first.stdout
    local, server, dup = _truth(clinic, path)
    assert local == server and dup == 0
    assert local["telemetry_records"] == 12_000 and local["steps"] > 0
    again = _main("sync", "--db", str(path), "--to", url)
    assert again.returncode == 0 and "sent nothing new" in again.stdout
    assert _truth(clinic, path)[1] == server


def test_a_live_session_syncs_while_recorded_and_compaction_does_not_duplicate(clinic, tmp_path):
    path = tmp_path / "live.db"
    url = clinic.rig_url("live-rig")
    with Store(path) as store:
        live = LiveSession(store, "demo-healthy")
        for i in range(30):
            live.step()
            if i == 9:
                sync_once(path, url)  # the server has cycles 0..1999, session still open
            if i == 14:
                live.compact()  # merges sent and unsent chunks into one chunk starting at cycle 0
        sync_once(path, url)
        assert clinic.query("SELECT ended_at FROM sessions")[0][0] is None
        live.end()
    sync_once(path, url)
    local, server, dup = _truth(clinic, path)
    assert local == server and dup == 0
    ended, outcome, recorder = clinic.query("SELECT ended_at, outcome, recorder_json FROM sessions")[0]
    assert ended is not None and outcome == "completed" and recorder is not None
    cycles = clinic.query("SELECT first_cycle, last_cycle FROM telemetry_chunks ORDER BY first_cycle")
    assert cycles[0][0] == 0 and cycles[-1][1] == 5999
    assert all(b[0] == a[1] + 1 for a, b in zip(cycles, cycles[1:], strict=False))


def test_repository_reads_the_server_exactly_as_the_rig_file(clinic, tmp_path):
    path = tmp_path / "rig.db"
    record_sessions(path, "demo-parkinsonian", sessions=1, seconds=3)
    sync_once(path, clinic.rig_url("read-rig"))
    with Store(path) as rig, open_repository(clinic.owner_url) as server:
        (a,), (b,) = rig.list_sessions(), server.list_sessions()
        for key in a:
            if key != "id":
                assert a[key] == b[key], key
        assert np.array_equal(rig.telemetry(a["id"]), server.telemetry(b["id"]))
        for method in ("steps", "strides", "events", "audit_log", "frame_timing", "cycle_gaps", "telemetry_chunks"):
            left, right = getattr(rig, method)(a["id"]), getattr(server, method)(b["id"])
            if method == "audit_log":
                left = [{k: v for k, v in r.items() if k not in ("id", "session_id")} for r in left]
                right = [{k: v for k, v in r.items() if k not in ("id", "session_id")} for r in right]
            if method in ("events", "telemetry_chunks"):
                left = [{k: v for k, v in r.items() if k != "id"} for r in left]
                right = [{k: v for k, v in r.items() if k != "id"} for r in right]
            assert left == right, method
        assert rig.current_prescription("demo-parkinsonian") == server.current_prescription("demo-parkinsonian")
        assert [p["code"] for p in rig.list_patients()] == [p["code"] for p in server.list_patients()]
        with pytest.raises(Exception, match="written only by"):
            server.ensure_patient("new-patient")


def test_report_and_export_accept_a_server_url(clinic, tmp_path):
    path = tmp_path / "rig.db"
    record_sessions(path, "demo-hemiparetic", sessions=1, seconds=3)
    sync_once(path, clinic.rig_url("report-rig"))
    sid = clinic.query("SELECT id FROM sessions")[0][0]
    out = tmp_path / "s.html"
    result = _main("report", "--session", str(sid), "--db", clinic.owner_url, "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo-hemiparetic" in out.read_text()
    csv_dir = tmp_path / "csv"
    result = _main("export", "--session", str(sid), "--format", "csv", "--out", str(csv_dir), "--db", clinic.owner_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (csv_dir / "telemetry.csv").read_text().count("\n") == 3001
    c3d = tmp_path / "s.c3d"  # its subject is pseudonymised with the server's own secret
    result = _main("export", "--session", str(sid), "--format", "c3d", "--out", str(c3d), "--db", clinic.owner_url)
    assert result.returncode == 0 and c3d.stat().st_size > 0, result.stdout + result.stderr
    assert clinic.query("SELECT count(*) FROM site_secrets")[0][0] == 1


def test_an_older_rig_schema_is_refused_before_anything_is_written(clinic, tmp_path):
    path = tmp_path / "old.db"
    conn = open_connection(path, migrate_to=1)  # what an older StepSync wrote
    conn.execute("INSERT INTO patients (code, created_at) VALUES ('p1', '2026-01-01')")
    conn.close()
    result = _main("sync", "--db", str(path), "--to", clinic.rig_url("old-rig"))
    assert result.returncode == 1
    assert result.stdout.strip().startswith("sync: refused: this rig's records schema 1 is older")
    assert len(result.stdout.strip().splitlines()) == 1
    assert clinic.query("SELECT count(*) FROM patients")[0][0] == 0
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1  # not migrated by sync


def test_sync_to_a_server_that_is_not_there_exits_1_with_one_line(tmp_path):
    path = tmp_path / "rig.db"
    record_sessions(path, "demo-healthy", sessions=1, seconds=1)
    result = _main("sync", "--db", str(path), "--to", f"postgresql://nobody@/x?host={tmp_path}&port=1")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and "cannot connect to the clinic server" in lines[0]
    assert "Traceback" not in result.stderr


def test_run_with_sync_to_records_locally_and_leaves_everything_on_the_server(clinic, tmp_path):
    db = tmp_path / "rig.db"
    result = _main("-q", "run", "--headless", "--scene", "grocery-first-visit", "--patient", "demo-healthy",
                   "--duration-s", "3", "--db", str(db), "--sync-to", clinic.rig_url("run-rig"))
    assert "sync: everything is on the clinic server" in result.stdout, result.stdout + result.stderr[-2000:]
    with psycopg.connect(clinic.owner_url) as conn:
        local, server = local_counts(db), server_counts(conn, rig_id_of(db))
        assert duplicate_rows(conn) == 0
    assert local == server and local["telemetry_records"] > 1000 and local["sessions"] == 1
    assert clinic.query("SELECT ended_at IS NOT NULL FROM sessions")[0][0]


def test_two_passes_of_one_rig_at_once_store_everything_once(clinic, tmp_path):
    """The background sync and a manual `sync` may overlap: neither fails, nothing is stored twice
    (the server serialises passes of one rig with an advisory lock)."""
    path = tmp_path / "rig.db"
    record_sessions(path, "demo-healthy", sessions=2, seconds=4, compact=False)
    url = clinic.rig_url("twice")
    errors = []

    def push():
        try:
            sync_once(path, url)
        except SyncRefused as exc:  # pragma: no cover - shown by the assertion
            errors.append(str(exc))

    threads = [threading.Thread(target=push) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    local, server, dup = _truth(clinic, path)
    assert local == server and dup == 0


def test_session_plans_are_synced_and_read_back_through_the_repository(clinic, tmp_path):
    path = tmp_path / "plans.db"
    (sid,) = record_sessions(path, "demo-healthy", sessions=1, seconds=1)
    with Store(path) as rig:
        rig.add_session_plan("demo-healthy", {"speed_fraction": 0.7}, sid, "accepted", "alice")
        rig.add_session_plan("demo-healthy", {"speed_fraction": 0.75}, None, "edited", "alice")
    url = clinic.rig_url("plan-rig")
    sent = sync_once(path, url)
    assert sent["session_plans"] == 2 and pending_rows(path)["session_plans"] == 0
    assert sync_once(path, url).get("session_plans", 0) == 0  # a repeat adds nothing
    local, server, dup = _truth(clinic, path)
    assert local == server and dup == 0 and server["session_plans"] == 2
    with Store(path) as rig, open_repository(clinic.owner_url) as repo:
        mine, theirs = rig.session_plans("demo-healthy"), repo.session_plans("demo-healthy")
        server_sid = repo.list_sessions()[0]["id"]
        assert [p["plan"] for p in theirs] == [p["plan"] for p in mine] and [p["version"] for p in theirs] == [1, 2]
        assert [p["based_on_session"] for p in theirs] == [server_sid, None]
        assert [(p["decision"], p["who"]) for p in theirs] == [("accepted", "alice"), ("edited", "alice")]
    assert clinic.query("SELECT count(*) FROM access_log WHERE action = 'insert session_plans'")[0][0] == 2
    assert clinic.query("SELECT count(*) FROM access_log WHERE action = 'read session plans'")[0][0] == 1


def test_a_plan_accepted_at_one_rig_is_copied_down_to_another(clinic, tmp_path):
    """Issue 12: session plans are copied down like prescriptions: the clinic's current plan of a
    patient goes to every rig that trains them, marked as taken from the clinic, never sent back;
    the rig that stored it takes nothing; a newer plan from the other rig wins the same way."""
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    (sid_a,) = record_sessions(a, "demo-healthy", sessions=1, seconds=1)
    record_sessions(b, "demo-healthy", sessions=1, seconds=1, seed=1)
    url_a, url_b = clinic.rig_url("plan-a"), clinic.rig_url("plan-b")
    plan = {"scene_id": "grocery-pharmacy-aisle", "speed_mps": 0.5, "guidance": 0.6, "guidance_min": 0.5,
            "bws_fraction": 0.2, "assist_as_needed": True}
    with Store(a) as rig:
        rig.add_session_plan("demo-healthy", plan, sid_a, "accepted", "alice")
    sent_a = sync_once(a, url_a)
    assert sent_a["session_plans"] == 1 and "session_plans pulled" not in sent_a
    sent_b = sync_once(b, url_b)
    assert sent_b.get("session_plans pulled") == 1 and sent_b.get("session_plans", 0) == 0
    with Store(b) as rig:
        row = rig.current_session_plan("demo-healthy")
        assert row["plan"] == plan and row["decision"] == "accepted" and row["based_on_session"] is None
        assert row["who"].startswith("clinic: alice at ") and ", clinic v1 received " in row["who"]
    assert pending_rows(b)["session_plans"] == 0
    again = sync_once(b, url_b)
    assert again.get("session_plans pulled") is None and again.get("session_plans", 0) == 0  # not sent back
    assert sync_once(a, url_a).get("session_plans pulled") is None  # its own plan: nothing to take
    local, server, dup = _truth(clinic, b)
    assert local == server and dup == 0 and server["session_plans"] == 0
    # rig B's therapist edits the plan: it goes up and rig A takes it
    edited = dict(plan, speed_mps=0.45)
    with Store(b) as rig:
        rig.add_session_plan("demo-healthy", edited, None, "edited", "bob")
    assert sync_once(b, url_b)["session_plans"] == 1
    assert sync_once(a, url_a).get("session_plans pulled") == 1
    with Store(a) as rig:
        assert rig.current_session_plan("demo-healthy")["plan"] == edited
    assert clinic.query("SELECT count(*) FROM session_plans")[0][0] == 2
