"""With both feet on the belt the body stays over them: it does not run on past the front foot
nor swing back behind the rear one.

The hip used to keep the speed its last swing planned through double support. A slow walker's
double supports last 0.6-0.7 s, so the hip went 0.2-0.3 m past the front ankle; the next swing's
plan then sent it back at up to 0.44 m/s with both feet planted, and 0.1-0.14 m behind the rear
heel (offline at 0.2 m/s, seeds 1-2: incomplete-sci and severe-stroke-slow; in a session that also
flung a foot 0.5 m back at toe off: docs/patients.md, "The hip over both feet"). Profiles from
bench/unseen_profiles are used: written from published data by another hand than the model's.
Freezes are left out (the trembling feet step under a pelvis the harness holds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.sim.patient import ExoDrive, PatientModel
from devices.sim.profiles import load_profile

UNSEEN = Path(__file__).resolve().parents[2] / "bench" / "unseen_profiles"
DT_S = 0.002
SLOW_BELT_MPS = 0.2  # long double supports
MARGIN_M = 0.02  # the hip may pass a foot by this much (its last single support's momentum)


def _double_support_extremes(profile: str, seed: int, duration_s: float = 20.0) -> tuple[float, float]:
    """(furthest the hip went past the front ankle, furthest behind the rear heel) in double
    support while walking and not frozen, metres."""
    p = load_profile(profile)
    model = PatientModel(p, seed, perceive=False)
    drive, t = ExoDrive(), 0.0
    model.step(t, SLOW_BELT_MPS, drive)
    ahead = behind = -1.0
    while t < duration_s:
        t += DT_S
        model.step(t, SLOW_BELT_MPS, drive)
        left, right = model.legs
        if left.in_stance and right.in_stance and model.walking and not model.frozen:
            front_ankle = max(left.heel_x, right.heel_x) + model.heel_m
            rear_heel = min(left.heel_x, right.heel_x)
            ahead = max(ahead, model.hip_x - front_ankle)
            behind = max(behind, rear_heel - model.hip_x)
    return ahead, behind


@pytest.mark.parametrize("profile", ["incomplete-sci", "severe-stroke-slow", "hemiparetic-left"])
@pytest.mark.parametrize("seed", [1, 2])
def test_in_double_support_the_hip_stays_over_the_feet(profile, seed):
    path = UNSEEN / f"{profile}.yaml"
    ahead, behind = _double_support_extremes(str(path) if path.exists() else profile, seed)
    assert ahead <= MARGIN_M, f"the hip went {ahead:.3f} m past the front ankle with both feet down"
    assert behind <= MARGIN_M, f"the hip went {behind:.3f} m behind the rear heel with both feet down"
