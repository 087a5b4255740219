"""Reports and exports built from a real recorded session (recorder process + 1 kHz producer),
and the progress report from demo-history, through the real command line."""

from __future__ import annotations

import base64
import csv
import re
import subprocess
import sys

import ezc3d
import numpy as np
import pytest

from engine.control.channels import Channels
from engine.records.export import (
    ANALOG_CHANNELS,
    ANGLE_POINTS,
    MAX_C3D_EVENTS,
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
    db_path, sid = recorded
    with Store(db_path) as store:
        telemetry = store.telemetry(sid)
        events = store.events(sid)
        path = export_c3d(store, sid, tmp_path / "session.c3d")
    c3d = ezc3d.c3d(str(path))
    params = c3d["parameters"]
    k = 10  # 1 kHz telemetry -> 100 Hz points, 10 analog samples per frame
    assert params["POINT"]["RATE"]["value"][0] == pytest.approx(100.0)
    assert params["ANALOG"]["RATE"]["value"][0] == pytest.approx(1000.0)
    assert list(params["POINT"]["LABELS"]["value"]) == [p[0] for p in ANGLE_POINTS]
    points, analogs = c3d["data"]["points"], c3d["data"]["analogs"]
    n = len(telemetry)
    assert points.shape[2] == -(-n // k) and analogs.shape[2] >= n
    # Joint angles as points (degrees, X) at the frame rate, and as analogs at the full rate.
    labels = list(params["ANALOG"]["LABELS"]["value"])
    for i, (name, field, side) in enumerate(ANGLE_POINTS):
        expected = np.rad2deg(telemetry[field][:, side].astype(np.float64))
        np.testing.assert_allclose(points[0, i, :], expected[::k], rtol=1e-5, atol=1e-4)
        assert not points[1:3, i, :].any()
        analog = analogs[0, labels.index(name.replace("Angles", "Angle")), :n]
        np.testing.assert_allclose(analog, expected, rtol=1e-5, atol=1e-4)
    for label, field, index, _, _ in ANALOG_CHANNELS[len(ANGLE_POINTS):]:
        column = telemetry[field] if index is None else telemetry[field][:, index]
        np.testing.assert_allclose(analogs[0, labels.index(label), :n], column, rtol=1e-5, atol=1e-5)
    # Gait events as C3D events, timed from the first frame.
    first_cycle = int(telemetry["cycle"][0])
    gait = [e for e in events if e["kind"] in ("heel_strike", "toe_off") and e["cycle"] is not None]
    obstacle_events = [e for e in events if e["kind"] == "obstacle_outcome"]
    assert gait and obstacle_events
    used = int(params["EVENT"]["USED"]["value"][0])
    assert used == min(MAX_C3D_EVENTS, len(gait) + len(obstacle_events))
    c3d_labels = list(params["EVENT"]["LABELS"]["value"])
    contexts = list(params["EVENT"]["CONTEXTS"]["value"])
    times = np.array(params["EVENT"]["TIMES"]["value"])  # row 0 minutes, row 1 seconds
    strikes = sorted((int(e["cycle"]) - first_cycle) / 1000.0 for e in gait if e["kind"] == "heel_strike" and e["side"] == 0)
    read_strikes = sorted(times[0, i] * 60 + times[1, i] for i in range(used)
                          if c3d_labels[i] == "Foot Strike" and contexts[i] == "Left")
    np.testing.assert_allclose(read_strikes, strikes[: len(read_strikes)], atol=1e-4)
    assert len(read_strikes) == len(strikes)  # a 12 s session fits in the event limit
    assert sum(label.startswith("Obstacle") for label in c3d_labels[:used]) == len(obstacle_events)
    # Every gait event also as an analog pulse at its sample.
    pulses = np.flatnonzero(analogs[0, labels.index("LFootStrike"), :n])
    assert sorted(pulses / 1000.0) == pytest.approx(strikes)


def test_csv_export_per_stream(recorded, tmp_path):
    db_path, sid = recorded
    result = subprocess.run([sys.executable, "main.py", "-q", "export", "--session", str(sid), "--format", "csv",
                             "--out", str(tmp_path / "csv"), "--db", str(db_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with Store(db_path) as store:
        telemetry, steps, strides, events = (store.telemetry(sid), store.steps(sid), store.strides(sid),
                                             store.events(sid))
    table = np.genfromtxt(tmp_path / "csv" / "telemetry.csv", delimiter=",", names=True)
    assert len(table) == len(telemetry)
    assert np.array_equal(table["cycle"].astype(np.int64), telemetry["cycle"].astype(np.int64))
    np.testing.assert_allclose(table["knee_rad_r"], telemetry["knee_rad"][:, 1], rtol=1e-6)
    np.testing.assert_allclose(table["t_s"], telemetry["t_s"], rtol=0, atol=1e-9)
    for name, rows in (("steps", steps), ("strides", strides), ("events", events)):
        with open(tmp_path / "csv" / f"{name}.csv") as f:
            read = list(csv.DictReader(f))
        assert len(read) == len(rows) > 0, name
    with open(tmp_path / "csv" / "steps.csv") as f:
        first = next(csv.DictReader(f))
    assert float(first["step_length_m"]) == pytest.approx(steps[0]["step_length_m"])
    # C3D through the command line too.
    c3d_out = tmp_path / "s.c3d"
    result = subprocess.run([sys.executable, "main.py", "-q", "export", "--session", str(sid), "--format", "c3d",
                             "--out", str(c3d_out), "--db", str(db_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert ezc3d.c3d(str(c3d_out))["data"]["points"].shape[1] == len(ANGLE_POINTS)


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
    assert abs(progress[-1]["si_step_length_pct"]) < abs(progress[0]["si_step_length_pct"])
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
    assert "0.4" in sections["speed-trend"] or "[perry1995]" in sections["speed-trend"]
