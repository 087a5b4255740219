"""The records repository on real SQLite files: permissions, WAL, migrations, the session API."""

from __future__ import annotations

import os
import sqlite3
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.control.layout import EVENT_DTYPE, TELEMETRY_DTYPE, EventKind
from engine.control.prescription import Prescription
from engine.records import codec
from engine.records.paths import default_db_path
from engine.records.store import (
    DEMO_PATIENTS,
    SCHEMA_VERSION,
    Store,
    ensure_demo_patient,
    migrate,
    open_connection,
)


def test_file_created_owner_only_with_wal(db_path):
    old_umask = os.umask(0o000)  # even a permissive umask must not widen the file's mode
    try:
        with Store(db_path) as store:
            store.ensure_patient("p-001")
            files = [db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")]
            for path in files:
                assert path.exists(), path
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
            assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old_umask)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_default_path_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "stepsync" / "stepsync.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local" / "share" / "stepsync" / "stepsync.db"


def test_migration_from_first_schema_keeps_data(db_path):
    # Build a database exactly as the first release did, with data in it.
    conn = open_connection(db_path, migrate_to=None)
    migrate(conn, target=1)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.execute("INSERT INTO patients (code, name, created_at) VALUES ('p-7', 'Ann', '2025-01-01')")
    conn.execute(
        """INSERT INTO sessions (patient_code, scene_id, goals_json, settings_json, started_at, ended_at,
           outcome) VALUES ('p-7', 'grocery', '{"steps": 10}', '{}', '2025-01-01', '2025-01-01', 'completed')"""
    )
    conn.execute(
        "INSERT INTO prescriptions (patient_code, version, rx_json, who, created_at) VALUES ('p-7', 1, ?, 'dr', 'x')",
        (codec.json.dumps(Prescription(max_speed_mps=0.9).to_dict()),),
    )
    columns = {row[1] for row in conn.execute("PRAGMA table_info(patients)")}
    assert "sim_profile" not in columns
    conn.close()

    with Store(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get_patient("p-7") == {"code": "p-7", "name": "Ann", "created_at": "2025-01-01", "sim_profile": None}
        session = store.list_sessions("p-7")[0]
        assert session["goals"] == {"steps": 10} and session["outcome"] == "completed"
        assert session["simulated"] is False and session["telemetry_overflow"] == 0
        assert store.current_prescription("p-7").max_speed_mps == pytest.approx(0.9)
        store.add_frame_timing(session["id"], {"p99_ms": 11.0})  # a table the migration added
        assert store.frame_timing(session["id"])[0]["p99_ms"] == 11.0
        assert store.integrity_check() == "ok"


def test_newer_schema_is_refused(db_path):
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        Store(db_path)


def test_prescriptions_are_versioned(store):
    assert store.current_prescription("p-1") is None
    assert store.add_prescription("p-1", Prescription(max_speed_mps=0.6)) == 1
    assert store.add_prescription("p-1", Prescription(max_speed_mps=0.8), who="dr-b") == 2
    assert store.current_prescription("p-1").max_speed_mps == pytest.approx(0.8)
    history = store.prescription_history("p-1")
    assert [h["version"] for h in history] == [1, 2] and history[1]["who"] == "dr-b"


def test_demo_patients(store):
    for code, (_, profile, rx) in DEMO_PATIENTS.items():
        ensure_demo_patient(store, code)
        ensure_demo_patient(store, code)  # idempotent
        assert store.get_patient(code)["sim_profile"] == profile
        assert store.current_prescription(code) == rx
        assert len(store.prescription_history(code)) == 1
    assert store.get_patient("demo-hemiparetic")["sim_profile"] == "hemiparetic-right"
    with pytest.raises(KeyError):
        ensure_demo_patient(store, "someone-else")
    assert [p["code"] for p in store.list_patients()] == sorted(DEMO_PATIENTS)


def test_session_lifecycle_and_interrupted(store):
    store.ensure_patient("p-2", name="Bo")
    with pytest.raises(KeyError):
        store.start_session("nobody", "grocery", {}, {})
    a = store.start_session("p-2", "grocery", {"steps": 100}, {"speed_fraction": 0.5}, vr=True)
    b = store.start_session("p-2", "sidewalk", {}, {})
    c = store.start_session("p-2", "sidewalk", {}, {})
    store.end_session(a, "completed", {"steps": 101})
    store.end_session(b, "stopped")
    with pytest.raises(ValueError):
        store.end_session(c, "exploded")
    assert store.close_interrupted_sessions() == [c]
    assert store.close_interrupted_sessions() == []
    sessions = {s["id"]: s for s in store.list_sessions("p-2")}
    assert sessions[a]["outcome"] == "completed" and sessions[a]["summary"] == {"steps": 101}
    assert sessions[a]["vr"] is True and sessions[a]["goals"] == {"steps": 100}
    assert sessions[b]["outcome"] == "stopped"
    assert sessions[c]["outcome"] == "interrupted" and sessions[c]["ended_at"]
    assert store.get_session(a)["scene_id"] == "grocery"


def test_audit_log_and_ui_events(store, session_id):
    store.log_setting(session_id, "therapist", "speed_fraction", 0.5, 0.9, applied=0.8)
    store.log_setting(session_id, "assist-as-needed", "guidance", 0.6, 0.55)
    store.log_setting(None, "therapist", "prescription", None, {"max_speed_mps": 1.0})  # outside a session
    log = store.audit_log(session_id)
    assert [(r["who"], r["setting"], r["old"], r["new"], r["applied"]) for r in log] == [
        ("therapist", "speed_fraction", 0.5, 0.9, 0.8),
        ("assist-as-needed", "guidance", 0.6, 0.55, None),
    ]
    assert all(r["at"] for r in log)
    store.add_event(session_id, "item_collected", 12.5, item="milk", at_m=30.0)
    events = store.events(session_id)
    assert events[0]["kind"] == "item_collected" and events[0]["data"] == {"item": "milk", "at_m": 30.0}
    assert events[0]["cycle"] is None


def test_core_events_become_steps_strides_and_events(store, session_id):
    ev = np.zeros(4, dtype=EVENT_DTYPE)
    ev[0] = (10, 0.01, EventKind.STEP, 1, 0, 0.41, 0.55, 0.012)
    ev[1] = (20, 0.02, EventKind.STRIDE, 1, 0, 1.1, 0.61, 0.82)
    ev[2] = (30, 0.03, EventKind.OBSTACLE_OUTCOME, -1, 3, 0.02, 0.12, np.nan)
    ev[3] = (40, 0.04, EventKind.ALARM_RAISED, -1, 14, 2, np.nan, np.nan)
    hit = np.zeros(1, dtype=EVENT_DTYPE)
    hit[0] = (50, 0.05, EventKind.OBSTACLE_OUTCOME, -1, 4, -0.01, 0.09, np.nan)
    ev = np.concatenate([ev, hit])
    assert store.add_core_events(session_id, ev) == {"steps": 1, "strides": 1, "events": 3, "stances": 0}
    step = store.steps(session_id)[0]
    assert step["side"] == 1 and step["step_length_m"] == pytest.approx(0.41) and step["cycle"] == 10
    assert store.strides(session_id)[0]["stride_time_s"] == pytest.approx(1.1)
    events = store.events(session_id)
    assert events[0]["outcome"] == "cleared" and events[0]["obstacle"] == 3 and events[0]["v3"] is None
    assert events[2]["outcome"] == "hit" and events[2]["margin_m"] == pytest.approx(-0.01)
    assert events[1]["reason"] == "heart_rate_high" and events[1]["priority"] == "medium"


def test_telemetry_round_trip_and_gaps(store, session_id):
    records = np.zeros(300, dtype=TELEMETRY_DTYPE)
    records["cycle"] = np.arange(100, 400)
    records["hip_rad"][:, 1] = np.linspace(-0.2, 0.4, 300)
    store.add_telemetry_chunk(session_id, records[200:])  # out of order on purpose
    store.add_telemetry_chunk(session_id, records[:100])
    assert store.cycle_gaps(session_id) == [(200, 299)]
    store.add_telemetry_chunk(session_id, records[100:200])
    assert store.cycle_gaps(session_id) == []
    back = store.telemetry(session_id)
    assert back.dtype == TELEMETRY_DTYPE and back.tobytes() == records.tobytes()
    ids = [c["id"] for c in store.telemetry_chunks(session_id)]
    store.replace_telemetry_chunks(session_id, ids, records)
    assert len(store.telemetry_chunks(session_id)) == 1
    assert store.telemetry(session_id).tobytes() == records.tobytes()


def test_chunk_from_an_older_layout_still_reads(store, session_id):
    # A layout before some fields were appended: the reader fills the new fields with zeros.
    old_dtype = np.dtype(TELEMETRY_DTYPE.descr[:-3])
    old = np.zeros(50, dtype=old_dtype)
    old["cycle"] = np.arange(50)
    old["s_m"] = np.arange(50) * 0.001
    store.add_telemetry_chunk(session_id, old)
    back = store.telemetry(session_id)
    assert back.dtype == TELEMETRY_DTYPE
    assert np.array_equal(back["s_m"], old["s_m"]) and not back["alarms"].any()


@settings(max_examples=40, deadline=None)
@given(
    records=hnp.arrays(TELEMETRY_DTYPE, st.integers(1, 60), elements=None),
    codec_name=st.sampled_from(codec.CODECS),
)
def test_codecs_are_lossless(records, codec_name):
    blob = codec.encode(records, codec_name)
    back = codec.decode(blob, TELEMETRY_DTYPE, len(records), codec_name)
    assert back.tobytes() == records.tobytes()  # bit-exact, NaNs and all


def test_concurrent_writer_processes_share_the_file(db_path, session_id, store):
    # Another process (e.g. the recorder) writing while we write: both succeed, nothing lost.
    import subprocess
    import sys

    script = (
        "from engine.records.store import Store\n"
        f"s = Store({str(db_path)!r})\n"
        f"for i in range(200): s.add_event({session_id}, 'other', float(i))\n"
        "s.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        for i in range(200):
            store.log_setting(session_id, "therapist", "guidance", i, i + 1)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(store.audit_log(session_id)) == 200
    assert len([e for e in store.events(session_id) if e["kind"] == "other"]) == 200


def test_every_demo_patient_can_be_walked_by_the_rig():
    # `run --patient demo-X` starts the rig with the patient's sim profile, and `demo-history`
    # simulates it (engine/sim): the profile must exist (demo-frail once named a profile that
    # did not).
    from devices.sim.profiles import load_profile
    from engine.records.store import DEMO_PATIENTS

    for code, (_name, profile, _rx) in DEMO_PATIENTS.items():
        assert load_profile(profile).name == profile, code
