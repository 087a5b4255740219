"""`main.py findings` on a real SQLite records file filled by `simulate` (the real core and rig)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "-q", *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    from bench.findings import Attendant
    from engine.sim.session import SimOptions, run_simulation

    path = tmp_path_factory.mktemp("findings") / "records.db"
    for seed in (1, 2):  # two short sessions: every code path, quick enough on a loaded machine
        # simulated in-process as `simulate` does, with a therapist who acknowledges alarms (a
        # stumble response left standing would take the rest of the walk out of the findings)
        run_simulation(SimOptions(scene="grocery-first-visit", profile="hemiparetic-left-mild", patient_code="pd-1",
                                  duration_s=40.0, seed=seed, db=path, probe=Attendant()))
    return path


def test_session_findings_json(db):
    r = run("findings", "--session", "1", "--db", str(db), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    keys = [f["key"] for f in out["findings"]]
    assert "asymmetry" in keys and "freezing" in keys and "slow_speed" in keys
    speed = next(f for f in out["findings"] if f["key"] == "slow_speed")
    assert speed["assessed"] is False and "not measured" in speed["summary"]
    for key, suggestions in out["suggestions"].items():
        assert suggestions and all(s["evidence_level"] in "ABCD" for s in suggestions), key


def test_patient_trend_text(db):
    r = run("findings", "--patient", "pd-1", "--db", str(db), "--all")
    assert r.returncode == 0, r.stderr
    assert "Findings never change a setting" in r.stdout
    assert "of the last 2 assessed sessions" in r.stdout


def test_errors_are_one_line(db, tmp_path):
    r = run("findings", "--patient", "nobody", "--db", str(db))
    assert r.returncode == 1 and "unknown patient 'nobody'" in r.stderr
    r = run("findings", "--session", "999", "--db", str(db))
    assert r.returncode == 1 and "999" in r.stderr
    r = run("findings", "--session", "1", "--db", str(tmp_path / "missing.db"))
    assert r.returncode == 1 and "no database" in r.stderr


def test_menu_line_names_the_latest_sessions_findings(db):
    from engine.analysis.report_section import latest_findings_line
    from engine.records.store import Store

    with Store(db) as store:
        line = latest_findings_line(store, "pd-1")
        assert line.startswith("Findings (session 2)")
        assert latest_findings_line(store, "nobody") == "Findings: no session yet"
