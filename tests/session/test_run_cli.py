"""`main.py run` refuses bad input before starting anything: one line on stderr, no traceback,
exit 2 for a bad flag (scene, duration, patient) and 1 for a records file that is not a database,
which is left byte for byte as it was. `report` treats a damaged records file the same way."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENE_IDS = sorted(p.stem for p in (ROOT / "scenes").glob("*.yaml"))


def run_main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_unknown_scene_exits_2_with_the_scene_ids(tmp_path):
    proc = run_main("run", "--scene", "nope", "--patient", "demo-healthy", "--duration-s", "5", "--headless",
                    "--vr", "off", "--db", str(tmp_path / "r.db"))
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc)
    assert "'nope'" in line
    valid = [scene_id for scene_id in SCENE_IDS if not scene_id.startswith("base-")]
    assert valid and all(scene_id in line for scene_id in valid), line
    assert not (tmp_path / "r.db").exists()  # nothing started


@pytest.mark.parametrize("duration", ["-3", "0", "nan"])
def test_a_duration_that_is_not_positive_exits_2(tmp_path, duration):
    proc = run_main("run", "--scene", "grocery-first-visit", "--patient", "demo-healthy", f"--duration-s={duration}",
                    "--headless", "--vr", "off", "--db", str(tmp_path / "r.db"))
    assert proc.returncode == 2, proc.stderr
    assert "--duration-s" in one_line(proc)
    assert not (tmp_path / "r.db").exists()


def test_unknown_patient_exits_2_naming_the_known_ones(tmp_path):
    proc = run_main("run", "--scene", "grocery-first-visit", "--patient", "p-nobody", "--duration-s", "5",
                    "--headless", "--vr", "off", "--db", str(tmp_path / "r.db"))
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc)
    assert "'p-nobody'" in line and "demo-healthy" in line


def test_headless_without_a_patient_is_a_usage_error(tmp_path):
    proc = run_main("run", "--scene", "grocery-first-visit", "--duration-s", "5", "--headless", "--vr", "off",
                    "--db", str(tmp_path / "r.db"))
    assert proc.returncode == 2, proc.stderr
    assert "--patient" in one_line(proc)


def _not_a_database(tmp_path) -> tuple[Path, str]:
    path = tmp_path / "records.db"
    path.write_bytes(b"these are a therapist's notes, not a database\n" * 50)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_on_a_file_that_is_not_a_database_exits_1_and_leaves_it_alone(tmp_path):
    path, digest = _not_a_database(tmp_path)
    proc = run_main("run", "--scene", "grocery-first-visit", "--patient", "demo-healthy", "--duration-s", "5",
                    "--headless", "--vr", "off", "--db", str(path))
    assert proc.returncode == 1, proc.stderr
    line = one_line(proc)
    assert str(path) in line and "backup" in line
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.db"]  # no -wal, -shm, no reports/


def test_report_on_a_file_that_is_not_a_database_exits_1_and_leaves_it_alone(tmp_path):
    path, digest = _not_a_database(tmp_path)
    proc = run_main("report", "--session", "1", "--db", str(path))
    assert proc.returncode == 1, proc.stderr
    line = one_line(proc)
    assert str(path) in line and "backup" in line
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.db"]


def test_the_records_check_accepts_new_and_real_databases(tmp_path):
    from engine.records.dbcheck import RecordsFileError, check_records_file, records_file_problem
    from engine.records.store import Store

    assert records_file_problem(tmp_path / "missing.db") is None
    (tmp_path / "empty.db").write_bytes(b"")
    assert records_file_problem(tmp_path / "empty.db") is None
    Store(tmp_path / "real.db").close()
    assert records_file_problem(tmp_path / "real.db") is None
    assert "folder" in records_file_problem(tmp_path)
    (tmp_path / "half.db").write_bytes(b"SQLite form")  # truncated header
    with pytest.raises(RecordsFileError, match="backup"):
        check_records_file(tmp_path / "half.db")
