"""`main.py findings` on a real SQLite records file filled by `demo-history`."""

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
    path = tmp_path_factory.mktemp("findings") / "records.db"
    r = run("demo-history", "--patient", "demo-parkinsonian", "--sessions", "3", "--duration-s", "60",
            "--db", str(path), "--no-report")
    assert r.returncode == 0, r.stderr
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
    r = run("findings", "--patient", "demo-parkinsonian", "--db", str(db), "--all")
    assert r.returncode == 0, r.stderr
    assert "Findings never change a setting" in r.stdout
    assert "of the last 3 assessed sessions" in r.stdout


def test_errors_are_one_line(db, tmp_path):
    r = run("findings", "--patient", "nobody", "--db", str(db))
    assert r.returncode == 1 and "unknown patient 'nobody'" in r.stderr
    r = run("findings", "--session", "999", "--db", str(db))
    assert r.returncode == 1 and "999" in r.stderr
    r = run("findings", "--session", "1", "--db", str(tmp_path / "missing.db"))
    assert r.returncode == 1 and "no database" in r.stderr
