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
