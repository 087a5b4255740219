"""A landing in the insole sample in which the other foot leaves (long steps, or quick ones on short
legs: a double support of 0.3-4 ms) finds the other foot in the air: no heel-to-heel distance to
measure at that instant. The core
takes the step from the other foot's footprint to this landing, both on the route. It used the
belt's travel since the other heel's strike, which takes in all the hip's drift on the treadmill
since the walk began: 20-22 cm p95 and up to 43-64 cm off on these two edge profiles (each value
inside docs/patients.md's ranges)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.clinical import _scene_dir, _start_time, compare_session
from engine.sim.session import SimOptions, run_simulation

ROOT = Path(__file__).resolve().parents[2]
EDGES = {
    "long-steps": {"walk_ratio_m_per_spm": "0.010", "comfortable_speed_mps": "2.5"},  # 1.2 m steps
    "short-legs": {"thigh_m": "0.25", "shank_m": "0.25"},  # 0.58 m legs at a healthy 1.3 m/s
}


INSOLE_SAMPLE_S = 0.005  # the insoles' 200 Hz (devices/sim/insole_firmware.py)


def _landings_beside_a_toe_off(truth: dict) -> int:
    """Heel strikes with the other foot's toe off less than one insole sample after them: the core
    sees both in one sample, the other foot already in the air when this one lands."""
    return sum(any(o["side"] != hs["side"] and 0.0 <= o["t_s"] - hs["t_s"] < INSOLE_SAMPLE_S
                   for o in truth["toe_offs"]) for hs in truth["heel_strikes"])


@pytest.mark.parametrize("name", sorted(EDGES))
def test_a_landing_as_the_other_foot_leaves_measures_its_step(tmp_path, name):
    lines = []
    for line in (ROOT / "devices/sim/patients/healthy.yaml").read_text().splitlines():
        key = line.split(":", 1)[0]
        lines.append(f"{key}: {EDGES[name][key]}" if key in EDGES[name] else line)
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines).replace("name: healthy", f"name: {name}") + "\n")
    result = run_simulation(SimOptions(scene="bench-clinical", profile=str(path), duration_s=25.0, seed=1, db=None,
                                       scenes_dir=_scene_dir(tmp_path)))
    _, events = result.records
    assert _landings_beside_a_toe_off(result.truth) >= 3  # the case this test is about happens
    errors_cm = np.abs(compare_session(result.truth, events, _start_time(events))["step_cm"])
    assert len(errors_cm) > 20
    assert np.percentile(errors_cm, 95) <= 1.0 and errors_cm.max() <= 3.0, sorted(errors_cm)[-5:]
