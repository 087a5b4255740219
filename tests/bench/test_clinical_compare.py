"""bench clinical's comparison of the core's per-leg crossing verdicts with the truth.

The core decides a leg's crossing when that foot lands. A session ends at its duration and the
belt stops after it: a trailing foot that crosses an obstacle as the walk ends lands after the
records' last event, and has no verdict. That leg is counted as unjudged; a leg that landed
while the core was recording and has no verdict is still a disagreement ("core none").
"""

from __future__ import annotations

import numpy as np

from bench import clinical
from engine.control.layout import EVENT_DTYPE, EventKind, LegOutcome


def _events(rows: list[tuple]) -> np.ndarray:
    out = np.zeros(len(rows), EVENT_DTYPE)
    for i, (t_s, kind, side, code, v1, v2) in enumerate(rows):
        out[i] = (i, t_s, int(kind), side, code, v1, v2, 0.0)
    return out


def _truth(trail_lands_s: float) -> dict:
    legs = {"right": {"margin_m": 0.09, "outcome": "cleared", "role": "lead", "t_s": 41.3},
            "left": {"margin_m": 0.06, "outcome": "cleared", "role": "trail", "t_s": 41.7}}
    return {
        "heel_strikes": [{"side": 1, "t_s": 41.55}, {"side": 0, "t_s": trail_lands_s}],
        "toe_offs": [], "steps": [], "toe_clearance": [],
        "obstacles": [{"obstacle": 12, "kind": "cable", "at_m": 42.0, "in_lane": True, "outcome": "cleared",
                       "margin_m": 0.06, "legs": legs}],
    }


def _records(end_s: float) -> np.ndarray:
    return _events([
        (2.0, EventKind.RUN_STATE, -1, 1, 0.0, 0.0),
        (41.55, EventKind.OBSTACLE_LEG, 1, 12, 0.09, float(LegOutcome.CLEARED)),
        (end_s, EventKind.RUN_STATE, -1, 4, 0.0, 0.0),
    ])


def test_a_trailing_foot_landing_after_the_records_end_is_unjudged():
    part = clinical.compare_session(_truth(trail_lands_s=42.1), _records(end_s=42.0), 2.0)
    assert part["crossings"] == [("cleared", "cleared")]
    assert part["unjudged_legs"] == 1
    assert part["disagreements"] == []
    summary = clinical._summarise([part])
    assert summary["crossings_unjudged"] == 1 and summary["obstacle_outcome_agreement"] == 1.0


def test_a_foot_that_landed_while_recording_without_a_verdict_disagrees():
    part = clinical.compare_session(_truth(trail_lands_s=41.9), _records(end_s=42.0), 2.0)
    assert ("cleared", "none") in part["crossings"]
    assert part["unjudged_legs"] == 0
    assert part["disagreements"] == ["obstacle 12 (cable at 42 m) left trail: truth cleared 6.0 cm, core none nan cm"]
