"""Reports and exports built from a real recorded session (recorder process + 1 kHz producer),
and the progress report from demo-history, through the real command line."""

from __future__ import annotations

import base64
import csv
import re
import subprocess
import sys
import time

import ezc3d
import numpy as np
import pytest

from engine.control.channels import Channels
from engine.records.export import (
    ANALOG_CHANNELS,
    ANGLE_POINTS,
    export_c3d,
)
from engine.records.recorder import start_recorder
from engine.records.report import (
    PATIENT_SECTIONS,
    SESSION_SECTIONS,
    patient_progress,
    write_session_report,
)
from engine.records.store import Store, ensure_demo_patient
from tests.records.conftest import ROOT, Processes, producer_counts

DURATION_S = 12.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A session recorded for real: producer -> rings -> recorder process -> SQLite."""
    db_path = tmp_path_factory.mktemp("recorded") / "stepsync.db"
    with Store(db_path) as store:
        ensure_demo_patient(store, "demo-hemiparetic")
        sid = store.start_session("demo-hemiparetic", "sidewalk-test", {"steps": 6, "distance_m": 500.0},
                                  {"speed_fraction": 0.7})
        store.log_setting(sid, "therapist", "speed_fraction", 0.6, 0.7, applied=0.7)
        store.add_frame_timing(sid, {"frames": 1080, "p99_ms": 10.8, "missed": 0})
    channels = Channels.create()
    procs = Processes()
    try:
        procs.add_handle(recorder := start_recorder(db_path, channels.paths(), sid))
        producer = procs.producer(channels, DURATION_S, seed=3, extra=("--obstacle-spacing-m", "1.5", "--alarm"))
        producer_counts(producer)
        stats = recorder.stop(timeout_s=30.0)
        assert stats["returncode"] == 0
    finally:
        procs.cleanup()
        channels.close(unlink=True)
    with Store(db_path) as store:
        store.end_session(sid, "completed")
    return db_path, sid


def _sections(text: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', text, flags=re.S))


def _assert_self_contained(text: str) -> None:
    assert not re.search(r'(src|href)="(https?:|file:|/)', text), "the report must not load anything"
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert images
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_session_report_has_every_section(recorded, tmp_path):
    db_path, sid = recorded
    out = write_session_report(db_path, sid, tmp_path / "session.html")
    text = out.read_text()
    assert out.stat().st_mode & 0o077 == 0, "a report is health data: owner-only"
    _assert_self_contained(text)
    sections = _sections(text)
    assert list(sections) == [key for key, _ in SESSION_SECTIONS]
    for key in ("speed", "steps", "symmetry", "cadence", "variability", "clearance", "obstacles", "heart-rate"):
        assert "<img" in sections[key], f"section {key} has no plot"
    assert "Perry" in sections["references"] and "Fritz" in sections["references"]
    assert "[perry1995]" in sections["summary"] and "[fritz2009]" in sections["summary"]
    assert "cleared" in sections["obstacles"] or "hit" in sections["obstacles"]
    assert "Heart rate above the limit" in sections["alarms"]
    assert "speed_fraction" in sections["settings"] and "therapist" in sections["settings"]
    assert "p99_ms" in sections["frames"]
    assert "none" in sections["recording"]  # no cycle gaps
    assert "met" in sections["goals"] and "not met" in sections["goals"]  # 6 steps yes, 500 m no
    assert 'id="simulated"' not in text  # a recorded session is not labelled simulated


def test_session_report_via_cli(recorded, tmp_path):
    db_path, sid = recorded
    out = tmp_path / "cli.html"
    result = subprocess.run([sys.executable, "main.py", "-q", "report", "--session", str(sid), "--db", str(db_path),
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and out.stat().st_size > 10_000
    missing = subprocess.run([sys.executable, "main.py", "-q", "report", "--session", "999", "--db", str(db_path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "999" in missing.stdout


def test_c3d_export_reads_back(recorded, tmp_path):
    """A session recorded through the real recorder: both readers get every gait and obstacle
    event at its database time (within 1 ms) and the angles in degrees."""
    from tests.records.test_export_c3d import _ezc3d_events, _match, _pyc3d_events

    db_path, sid = recorded
    with Store(db_path) as store:
        telemetry = store.telemetry(sid)
        events = store.events(sid)
        path = export_c3d(store, sid, tmp_path / "session.c3d")
    t0 = float(telemetry["t_s"][0])
    expected = [(float(e["t_s"]) - t0, {"heel_strike": "Foot Strike", "toe_off": "Foot Off"}.get(e["kind"], f"Obstacle {e.get('outcome')}"),
                 {0: "Left", 1: "Right"}.get(e["side"], "General"))
                for e in events if e["kind"] in ("heel_strike", "toe_off", "obstacle_outcome")]
    assert any(label.startswith("Obstacle") for _, label, _ in expected)
    for reader in (_ezc3d_events, _pyc3d_events):
        used, read, _ = reader(path)
        assert used == len(expected)
        assert _match(read, expected) <= 0.001
    c3d = ezc3d.c3d(str(path))
    params = c3d["parameters"]
    assert params["POINT"]["RATE"]["value"][0] == pytest.approx(100.0)
    assert params["ANALOG"]["RATE"]["value"][0] == pytest.approx(1000.0)
    assert list(params["POINT"]["LABELS"]["value"]) == [p[0] for p in ANGLE_POINTS]
    assert list(params["POINT"]["ANGLES"]["value"]) == [p[0] for p in ANGLE_POINTS]
    labels = list(params["ANALOG"]["LABELS"]["value"])
    analogs = c3d["data"]["analogs"][0]
    assert np.isfinite(analogs).all()
    # A sample in the middle: the record taken at or just before its grid time.
    i = len(telemetry) // 2
    t = telemetry["t_s"] - t0
    record = int(np.searchsorted(t, i / 1000.0 + 1e-9, side="right") - 1)
    for label, field, index, _, scale, _ in ANALOG_CHANNELS:
        column = telemetry[field] if index is None else telemetry[field][:, index]
        value = float(column[record]) * scale
        if field == "heart_rate_bpm" and not value > 0:
            value = 0.0
        assert analogs[labels.index(label), i] == pytest.approx(value, rel=1e-5, abs=1e-4), label


def test_csv_export_per_stream(recorded, tmp_path):
    """CSV through the command line: units in the header names, session time, named sides, JSON
    detail and a metadata sidecar; every row matches the database."""
    import json

    db_path, sid = recorded
    result = subprocess.run([sys.executable, "main.py", "-q", "export", "--session", str(sid), "--format", "csv",
                             "--out", str(tmp_path / "csv"), "--db", str(db_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with Store(db_path) as store:
        telemetry, steps, strides, events = (store.telemetry(sid), store.steps(sid), store.strides(sid),
                                             store.events(sid))
    t0 = float(telemetry["t_s"][0])
    with open(tmp_path / "csv" / "telemetry.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(telemetry)
    header = list(rows[0])
    unit_suffixes = ("_s", "_m", "_mps", "_deg", "_bpm", "_fraction")
    for name in header:
        assert name in ("cycle", "run_state", "alarm_bits") or name.startswith(("heel_contact", "toe_contact")) \
            or name.endswith(unit_suffixes), f"{name}: no unit in the column name"
    # Strict: every row complete, every unit column a number or empty (what pandas would need).
    with open(tmp_path / "csv" / "telemetry.csv", newline="") as f:
        raw = list(csv.reader(f))
    assert all(len(r) == len(raw[0]) for r in raw)
    for name in header:
        if name.endswith(unit_suffixes):
            for r in rows[:: max(1, len(rows) // 500)]:
                assert r[name] == "" or np.isfinite(float(r[name])), (name, r[name])
    assert [int(r["cycle"]) for r in rows] == telemetry["cycle"].astype(int).tolist()
    np.testing.assert_allclose([float(r["time_s"]) for r in rows], telemetry["t_s"] - t0, atol=1e-9)
    np.testing.assert_allclose([float(r["knee_angle_right_deg"]) for r in rows],
                               np.rad2deg(telemetry["knee_rad"][:, 1].astype(float)), rtol=1e-6)
    assert {r["run_state"] for r in rows} <= {"idle", "running", "paused", "stopping", "stopped"}
    for name, stored in (("steps", steps), ("strides", strides), ("events", events)):
        with open(tmp_path / "csv" / f"{name}.csv", newline="") as f:
            read = list(csv.DictReader(f))
        assert len(read) == len(stored) > 0, name
        for row, db_row in zip(read, stored, strict=True):
            assert float(row["time_s"]) == pytest.approx(db_row["t_s"] - t0, abs=1e-9)
            if db_row["side"] in (0, 1):
                assert row["side"] == ("left", "right")[db_row["side"]]
                # demo-hemiparetic: the right side is affected
                assert row["side_role"] == ("non-paretic", "paretic")[db_row["side"]]
            if name == "events":
                assert isinstance(json.loads(row["detail"]), dict)
    with open(tmp_path / "csv" / "steps.csv", newline="") as f:
        first = next(csv.DictReader(f))
    assert float(first["step_length_m"]) == pytest.approx(steps[0]["step_length_m"])
    meta = json.loads((tmp_path / "csv" / "metadata.json").read_text())
    assert meta["patient"]["pseudonym"].startswith("P-") and "demo-hemiparetic" not in json.dumps(meta)
    assert meta["patient"]["affected_side"] == "right"
    assert meta["sample_rates_hz"]["telemetry_hz"] == 1000.0
    assert meta["software"]["version"].startswith("0.1.0")
    assert meta["session"]["started_at_utc"]
    # A window: only its rows, times still from the session's first record.
    result = subprocess.run([sys.executable, "main.py", "-q", "export", "--session", str(sid), "--format", "csv",
                             "--from-s", "4", "--to-s", "6", "--out", str(tmp_path / "win"), "--db", str(db_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "win" / "telemetry.csv", newline="") as f:
        times = [float(r["time_s"]) for r in csv.DictReader(f)]
    assert 4.0 <= min(times) < 4.01 and 5.99 < max(times) <= 6.0
    with open(tmp_path / "win" / "steps.csv", newline="") as f:
        step_times = [float(r["time_s"]) for r in csv.DictReader(f)]
    assert step_times and all(4.0 <= t <= 6.0 for t in step_times)
    assert len(step_times) == sum(4.0 <= s["t_s"] - t0 <= 6.0 for s in steps)
    # C3D through the command line too.
    c3d_out = tmp_path / "s.c3d"
    result = subprocess.run([sys.executable, "main.py", "-q", "export", "--session", str(sid), "--format", "c3d",
                             "--out", str(c3d_out), "--db", str(db_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert ezc3d.c3d(str(c3d_out))["data"]["points"].shape[1] == len(ANGLE_POINTS)


@pytest.mark.parametrize("args, message", [
    (["--duration-s", "nan"], "not 10 and nan"),
    (["--duration-s", "inf"], "not 10 and inf"),
    (["--duration-s", "5"], "not 10 and 5.0"),
    (["--sessions", "0"], "not 0 and 120.0"),
    (["--patient", "nobody"], "'nobody' is not a demo patient"),
])
def test_demo_history_refuses_bad_options_before_simulating(tmp_path, args, message):
    db_path = tmp_path / "demo.db"
    result = subprocess.run([sys.executable, "main.py", "-q", "demo-history", *args, "--db", str(db_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not db_path.exists()  # nothing simulated, nothing written


def test_demo_history_refuses_a_db_that_is_no_records_file_and_leaves_it(tmp_path):
    for db in (tmp_path / "a-folder", tmp_path / "notes.txt"):
        db.mkdir() if db.suffix == "" else db.write_text("notes\n")
        result = subprocess.run([sys.executable, "main.py", "-q", "demo-history", "--sessions", "1", "--duration-s",
                                 "10", "--db", str(db)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and f"demo-history: --db: {db} is " in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert list((tmp_path / "a-folder").iterdir()) == [] and (tmp_path / "notes.txt").read_text() == "notes\n"


@pytest.mark.timeout(1200)  # 4 real simulations (the subprocess itself may take 900 s on a loaded machine)
def test_demo_history_and_progress_report(tmp_path):
    db_path = tmp_path / "demo.db"
    result = subprocess.run([sys.executable, "main.py", "-q", "demo-history", "--patient", "demo-hemiparetic",
                             "--sessions", "4", "--duration-s", "40", "--db", str(db_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)  # 4 real simulations
    assert result.returncode == 0, result.stderr
    assert "progress report:" in result.stdout
    with Store(db_path) as store:
        sessions = store.list_sessions("demo-hemiparetic")
        assert len(sessions) == 4 and all(s["simulated"] and s["outcome"] == "completed" for s in sessions)
        assert [s["started_at"] for s in sessions] == sorted(s["started_at"] for s in sessions)
        for s in sessions:
            cycles = store.telemetry(s["id"])["cycle"].astype(np.int64)
            # the whole simulated session: start-up, 40 s of walking, the controlled stop
            assert len(cycles) >= 40_000 and np.all(np.diff(cycles) == 1)
        progress = patient_progress(store, "demo-hemiparetic")
    # The patient improves: faster, more symmetric, less guidance.
    assert progress[-1]["gait_speed_mps"] > progress[0]["gait_speed_mps"] * 1.3
    assert progress[-1]["guidance_mean"] < progress[0]["guidance_mean"]

    out = tmp_path / "progress.html"
    result = subprocess.run([sys.executable, "main.py", "-q", "report", "--patient", "demo-hemiparetic",
                             "--db", str(db_path), "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    _assert_self_contained(text)
    sections = _sections(text)
    assert list(sections) == [key for key, _ in PATIENT_SECTIONS]
    for key, _ in PATIENT_SECTIONS[2:-1]:
        assert "<img" in sections[key], key
    assert 'id="simulated"' in text and "SIMULATED" in text
    assert "simulated" in sections["sessions"]
    for source in ("Perry J", "Stroke. 1995", "Fritz S, Lusardi M", "J Geriatr Phys Ther. 2009", "Patterson KK"):
        assert source in sections["references"], source
    # MCIDs beside the speed change; no ambulation class from a belt set-point.
    assert "[perera2006]" in sections["speed-trend"] and "[tilson2010]" in sections["speed-trend"]
    assert "[perera2006]" in sections["summary"] and "MCID after subacute stroke" in sections["summary"]
    assert "not given: no session measured a self-selected speed" in sections["summary"]
    assert "paretic (right)" in sections["sessions"] or "right = paretic" in sections["sessions"]
    # The same report as a PDF, through the command line.
    pdf = tmp_path / "progress.pdf"
    result = subprocess.run([sys.executable, "main.py", "-q", "report", "--patient", "demo-hemiparetic", "--format",
                             "pdf", "--db", str(db_path), "--out", str(pdf)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 3
    assert pdf.stat().st_mode & 0o077 == 0
    # The recovering patient walks more symmetrically. (Issue 13: this was an expected failure while
    # the core raised a STUMBLE with no true trip in each of the demo's hemiparetic sessions, from
    # the rig's toe-off kick, and the unacknowledged response slowed the belt; the stumble guard
    # no longer measures an arrest from the toe-off transient.)
    assert abs(progress[-1]["si_step_length_pct"]) < abs(progress[0]["si_step_length_pct"]), \
        (progress[0]["si_step_length_pct"], progress[-1]["si_step_length_pct"])


def test_the_apps_report_is_written_by_a_child_process_and_is_the_same_report(recorded, tmp_path):
    # the menu app and the headless runner write the report in a child (`main.py report`): the
    # same document as in-process, its memory given back when the child exits
    from engine.records.report_child import write_session_report_in_child

    db_path, sid = recorded
    here = write_session_report(db_path, sid, tmp_path / "here.html")
    child = write_session_report_in_child(db_path, sid, tmp_path / "child.html")
    assert child == (tmp_path / "child.html").resolve()
    assert child.stat().st_mode & 0o077 == 0
    assert _sections(child.read_text()) == _sections(here.read_text())


def test_a_report_the_child_cannot_write_is_an_error_naming_the_session(recorded, tmp_path):
    from engine.records.report_child import ReportFailed, write_session_report_in_child

    db_path, sid = recorded
    with pytest.raises(ReportFailed, match=rf"session {sid + 1000}.*exit code 1"):
        write_session_report_in_child(db_path, sid + 1000, tmp_path / "none.html")
    assert not (tmp_path / "none.html").exists()
    with pytest.raises(ReportFailed, match="exit code 1"):
        write_session_report_in_child(tmp_path / "no-such.db", sid, tmp_path / "none.html")


def test_a_report_child_past_its_timeout_is_stopped_and_says_how_to_write_it_later(recorded, tmp_path):
    from engine.records.report_child import ReportFailed, ReportJob

    db_path, sid = recorded
    job = ReportJob(db_path, sid, tmp_path / "late.html", timeout_s=0.0)  # no child ends before it starts
    with pytest.raises(ReportFailed, match=rf"took over 0 s and was stopped.*main.py report --session {sid}"):
        job.wait()
    assert job.done and job.poll()
    job = ReportJob(db_path, sid, tmp_path / "polled.html")
    deadline = time.monotonic() + 120
    while not job.poll() and time.monotonic() < deadline:
        time.sleep(0.05)  # a frame's worth between polls, as the menu app does
    assert job.path == (tmp_path / "polled.html").resolve() and job.error is None
