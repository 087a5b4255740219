"""A freeze's trembling steps bring the foot down no faster than the same patient's normal steps.

A trembling step (FREEZE_STRIDE_S: ~0.15 s swings) used to be the whole swing pattern played in
a third of its time: a 5 cm lift and the foot's turn from toe off to heel strike, so its heel came
down at 0.6-1.9 m/s and the foot turned at ~550 deg/s (docs/patients.md, "Trembling steps"). Here
the patient walks offline (no exoskeleton), freezes for a few seconds, walks on; per swing, the
fastest descent of the sole's lowest point is compared between the trembling swings and the
normal ones of the same walk (seed 1: trembling 1.50-1.64 m/s against a normal median of 0.73
before the trembling swing was scaled to its time, 0.52-0.89 after). Seeds 2 and 3 failed on
that code (1.68 and 1.70 x the normal median): the first trembling swing of a leg started from
the full heel rise of the stance before it; the stride now shortens into a freeze
(FREEZE_ONSET_TAU_S) and a stance rises no more than its coming swing can unroll.

Not asserted, still open: the foot's fastest turn. The plan's turn is scaled too, but the real
pitch of a trembling foot follows its knee (flexed ~48 deg, as in a normal swing) through the
ankle's dorsiflexion limit, not the plan: ~690 deg/s against a normal median of ~340 (530-760
before). `_swings` returns it for that work.
"""

from __future__ import annotations

import statistics

import pytest

from devices.sim.patient import ExoDrive, PatientModel
from devices.sim.profiles import load_profile

DT_S = 0.002
SPEED_MARGIN = 1.25  # a trembling swing's fastest descent against the normal swings' median


def _swings(name: str, seed: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(fastest descent of the sole's lowest point m/s, fastest pitch rate rad/s) per finished
    swing, normal swings and trembling ones."""
    p = load_profile(name)
    model = PatientModel(p, seed, perceive=False)
    drive, v, t = ExoDrive(), p.comfortable_speed_mps, 0.0
    model.step(t, v, drive)
    current: dict[int, list] = {}
    normal, trembling = [], []
    prev = [None, None]
    while t < 14.0:
        t += DT_S
        if abs(t - 5.0) < DT_S / 2:
            model.freeze_until_s = t + 4.0  # a freeze of 4 s on the running belt
        model.step(t, v, drive)
        for leg in model.legs:
            side = leg.side
            lowest = min(leg.heel[1], leg.toe[1])
            if leg.in_stance:
                if side in current:
                    descent, turn, frozen = current.pop(side)
                    (trembling if frozen else normal).append((descent, turn))
                prev[side] = None
                continue
            if prev[side] is not None:
                low0, pitch0 = prev[side]
                rec = current.setdefault(side, [0.0, 0.0, model.frozen])
                rec[0] = max(rec[0], (low0 - lowest) / DT_S)
                rec[1] = max(rec[1], abs(leg.pitch - pitch0) / DT_S)
            prev[side] = (lowest, leg.pitch)
    return normal[2:], trembling


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_trembling_steps_bring_the_foot_down_no_faster_than_normal_steps(seed):
    normal, trembling = _swings("parkinsonian-freezing", seed)
    assert len(normal) >= 10 and len(trembling) >= 10, (len(normal), len(trembling))
    descent = statistics.median(d for d, _ in normal)
    fast = [round(d, 2) for d, _ in trembling if d > SPEED_MARGIN * descent]
    assert not fast, f"trembling swings coming down faster than {SPEED_MARGIN} x the normal ones' median ({descent:.2f} m/s): {fast}"
