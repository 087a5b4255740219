"""`python -m bench clinical --profiles DIR`: a file in DIR that is not a valid profile is named
with its error and left out; the others still run (profiles the project has never seen arrive as
a folder, and one bad file must not cost the rest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(600)


def test_a_bad_profile_in_the_folder_is_refused_by_line_and_the_rest_run(tmp_path):
    healthy = (ROOT / "devices/sim/patients/healthy.yaml").read_text()
    (tmp_path / "walker.yaml").write_text(healthy.replace("name: healthy", "name: walker"))
    lines = healthy.replace("name: healthy", "name: broken").splitlines()
    n = next(i for i, line in enumerate(lines, 1) if line.startswith("shank_m:"))
    lines[n - 1] = "shank_m: 4.4"
    (tmp_path / "broken.yaml").write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "-m", "bench", "clinical", "--quick", "--profiles", str(tmp_path), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=580)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout)
    assert figures["profiles_refused"] == [f"{tmp_path / 'broken.yaml'}:{n}:10 shank_m: 4.4 outside 0.25..0.65"]
    assert f"{tmp_path / 'broken.yaml'}:{n}:10" in out.stderr
    assert figures["walker.event_timing_ms_median"] is not None
    assert not any(key.startswith("broken.") for key in figures)


@pytest.mark.parametrize("where, message", [("missing", "no such folder"), ("a-file.yaml", "not a folder")])
def test_a_profiles_path_that_is_no_folder_is_named(tmp_path, where, message):
    (tmp_path / "a-file.yaml").write_text((ROOT / "devices/sim/patients/healthy.yaml").read_text())
    out = subprocess.run([sys.executable, "-m", "bench", "clinical", "--quick", "--profiles", str(tmp_path / where),
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and f"--profiles {tmp_path / where}: {message}" in out.stderr, out.stderr


def test_yml_files_count_and_a_shared_name_keys_each_file_by_its_own(tmp_path):
    """A copy of a profile edited without renaming it (two files, one `name`) gets figures of its
    own, keyed by file name; a *.yml file is a profile file as a *.yaml one is."""
    healthy = (ROOT / "devices/sim/patients/healthy.yaml").read_text()
    (tmp_path / "walker.yaml").write_text(healthy.replace("name: healthy", "name: walker"))
    (tmp_path / "walker-slow.yml").write_text(healthy.replace("name: healthy", "name: walker")
                                              .replace("comfortable_speed_mps: 1.3", "comfortable_speed_mps: 0.9"))
    assert "comfortable_speed_mps: 0.9" in (tmp_path / "walker-slow.yml").read_text()
    out = subprocess.run([sys.executable, "-m", "bench", "clinical", "--quick", "--profiles", str(tmp_path), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=580)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout)
    fast, slow = figures["walker.crossings_compared"], figures["walker-slow.crossings_compared"]
    # the slower walker covers less of the course in the same 15 s: fewer crossings of its own
    assert fast > slow > 0, (fast, slow)
    assert "its figures are keyed 'walker-slow'" in out.stderr


def test_profile_files_reads_yaml_and_yml_of_the_folder_only(tmp_path):
    from bench.clinical import profile_files

    for name in ("a.yaml", "b.yml", "C.YAML", "notes.txt", "d.yaml.bak"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.yaml").write_text("x")
    assert [p.name for p in profile_files(tmp_path)] == ["C.YAML", "a.yaml", "b.yml"]


def test_profile_keys_are_names_unless_two_files_share_one():
    from bench.clinical import profile_keys

    assert profile_keys([("healthy", "healthy"), ("frail-older", "frail-older")]) == \
        {"healthy": "healthy", "frail-older": "frail-older"}
    keys = profile_keys([("/p/x.yaml", "walker"), ("/p/x.yml", "walker"), ("/p/other.yaml", "x")])
    # x.yaml's stem is taken by the profile named x: each copy gets a key no other profile has
    assert keys["/p/other.yaml"] == "x"
    assert len(set(keys.values())) == 3 and keys["/p/x.yaml"] != "walker" != keys["/p/x.yml"]
    keys = profile_keys([("/p/a.yaml", "walker"), ("/p/b.yaml", "walker")])
    assert keys == {"/p/a.yaml": "a", "/p/b.yaml": "b"}
