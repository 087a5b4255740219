"""A headless session end to end, through the real command line: virtual rig, control core,
recorder and the offscreen app, then the report. Also `--vr require` without a runtime."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCENE = textwrap.dedent(
    """\
    id: short-box-walk
    title: Short walk with boxes
    description: Two boxes early on, so a short session meets them.
    difficulty: gentle
    environment: {type: grocery_store}
    route_length_m: 10
    base_speed_fraction: 0.8
    obstacles:
      - {kind: box, at_m: 3.0, height_m: 0.1}
      - {kind: box, at_m: 6.0, height_m: 0.12}
    tasks:
      shopping_list: {items: [{name: milk, at_m: 8.0}]}
    """
)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("headless")
    (tmp / "scenes").mkdir()
    (tmp / "scenes" / "short-box-walk.yaml").write_text(SCENE)
    db = tmp / "records.db"
    # The session ends at the end of the 10 m route, past both boxes (about 11 s on a quiet
    # machine). Not after a fixed 14 s: on a loaded machine the core slows the belt for a late view
    # (the graded policy), and 14 s then walked 1 step (31 frames, under a hog on both CPUs).
    command = [
        sys.executable, "main.py", "run", "--scene", "short-box-walk", "--patient", "demo-healthy",
        "--duration-s", "100", "--headless", "--db", str(db), "--screenshots", str(tmp / "shots"),
        "--scenes-dir", str(tmp / "scenes"), "--vr", "off",
    ]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:  # never leave a session (and its rig and core) behind
            import os
            import signal

            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {"rc": proc.returncode, "out": out, "err": err, "db": db, "tmp": tmp}


def _query(db: Path, sql: str, *args):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, args)]
    finally:
        conn.close()


def test_session_ends_in_the_database_with_a_report(session):
    assert "report: " in session["out"], session["err"][-3000:]
    report = Path(session["out"].split("report: ", 1)[1].splitlines()[0])
    assert report.is_file() and report.stat().st_size > 1000
    sessions = _query(session["db"], "SELECT * FROM sessions")
    assert len(sessions) == 1
    row = sessions[0]
    assert row["ended_at"] and row["outcome"] in ("completed", "stopped"), row
    if row["outcome"] == "completed":
        assert session["rc"] == 0
    summary = json.loads(row["summary_json"])
    assert summary["steps"] > 5 and summary["distance_m"] > 3.0
    # Task results per item for the report, and obstacle outcomes counted the one shared way.
    assert [item["name"] for item in summary["tasks"]["shopping"]] == ["milk"]
    assert all(item["status"] in ("collected", "missed", "not reached") for item in summary["tasks"]["shopping"])
    assert set(summary["outcomes"]) >= {"obstacles", "obstacles_done_well", "obstacles_touched", "obstacles_waited"}
    # The recorder stored the control core's telemetry for this session.
    chunks = _query(session["db"], "SELECT COUNT(*) AS n FROM telemetry_chunks WHERE session_id = ?", row["id"])
    assert chunks[0]["n"] > 0
    # Every setting the runner made is in the audit log.
    audit = {r["setting"] for r in _query(session["db"], "SELECT setting FROM audit_log WHERE session_id = ?", row["id"])}
    assert {"patient", "scene", "goal_time_s", "speed_fraction", "run"} <= audit
    # Why it ended: in the summary, as an event, and on the command line (issue 15: no silent stop).
    assert summary["end_reason"], summary
    ends = _query(session["db"], "SELECT data_json FROM events WHERE session_id = ? AND kind = 'session_end'", row["id"])
    assert [json.loads(e["data_json"])["reason"] for e in ends] == [summary["end_reason"]]
    assert f"({summary['end_reason']})" in session["out"]
    # A fresh database got the demo patients.
    patients = {r["code"] for r in _query(session["db"], "SELECT code FROM patients")}
    assert {"demo-healthy", "demo-hemiparetic", "demo-parkinsonian", "demo-frail"} <= patients


def test_camera_followed_s(session):
    rows = _query(session["db"], "SELECT stats_json FROM frame_timing")
    assert rows, session["err"][-2000:]
    stats = json.loads(rows[0]["stats_json"])
    assert stats["frames"] >= 20  # enough to measure (not a rate: a slower view walks longer)
    # The camera ended where the core's s was (the belt has stopped: no extrapolation left).
    assert stats["drawn_s_m_final"] == pytest.approx(stats["state_s_m_final"], abs=0.02)
    assert stats["state_s_m_final"] > 3.0
    # While walking, the drawn position stayed within a few centimetres of the belt at display
    # time (the benchmark measures the millimetres; this only proves the camera follows s).
    assert stats["visual_belt_error_mm_p50"] < 20.0


def test_an_obstacle_outcome_reached_the_hud(session):
    db = session["db"]
    core = _query(db, "SELECT * FROM events WHERE kind = 'obstacle_outcome'")
    hud = _query(db, "SELECT * FROM events WHERE kind = 'hud_feedback'")
    assert core, "the core decided no obstacle outcome"
    assert hud, "the HUD showed no feedback"
    shown = [json.loads(r["data_json"]) for r in hud]
    assert any(s["outcome"] in ("cleared", "hit") for s in shown)
    for s in shown:
        if s["outcome"] == "cleared":
            assert s["text"].startswith("Cleared the box")
        elif s["outcome"] == "hit":
            assert "lift your foot higher" in s["text"]
    shots = sorted((session["tmp"] / "shots").glob("patient-*.png"))
    assert any("summary" in p.name for p in shots) and len(shots) >= 2


def test_vr_require_without_a_runtime_exits_2_with_the_reason(tmp_path):
    env_home = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}  # no runtime registry
    import os

    proc = subprocess.run(
        [sys.executable, "main.py", "run", "--vr", "require", "--headless", "--scene", "x", "--db", str(tmp_path / "r.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **env_home},
    )
    assert proc.returncode == 2
    assert "--vr require" in proc.stderr and "OpenVR" in proc.stderr
    assert not (tmp_path / "r.db").exists()  # nothing started


def test_headless_needs_a_scene(tmp_path):
    proc = subprocess.run([sys.executable, "main.py", "run", "--headless", "--vr", "off", "--db", str(tmp_path / "r.db")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--scene" in proc.stderr
