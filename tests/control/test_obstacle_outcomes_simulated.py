"""The crossings the last full `bench clinical` found the core and the rig's truth disagreeing on
(parkinsonian-freezing, docs/validation.md), simulated again with `simulate` on the bench's scene
and seeds: both now name the same outcome per leg. Seed 2: a trail foot came down across a curb's
lip (35.5 s) and onto a 12 cm box (58.0 s), truth touched, core tripped; seed 1: a lead foot's heel
came down past the far edge of spilled items (42.1 s), truth cleared +3.1 cm, core touched -1.5 cm.
Seed 2 again with the patient's curb-lip landing (issue 10 defect 3): the right foot over the box at
30 m, truth cleared +3.1 cm, core tripped -3.4 cm (the core's footprints 1.3 cm behind: a stale
pitch of the other foot at left heel strikes); once that was fixed, the left (trail) foot over the
curb up at 26 m after the right one tripped on it and came to rest against its edge, truth touched,
core tripped -3.8 cm (the core's view of a foot resting on a curb's lip). Seed 5: the left (trail)
foot at the spilled items at 34 m, its toe reaching the near face rising ~2 cm in 4 ms, truth
tripped, core touched: each judged the face by its first sample over it, at different instants
(now both interpolate to the instant the toe reached it). Seed 3: the right (trail) foot at the box
at 3 m, its toe crossing the face 0.6-1.3 cm below the top between two of the core's samples (5.9 s),
truth touched -0.6 cm, core cleared +0.4 cm (now the toe's height at the face is part of the margin
on both sides). Simulated time is exact (no wall-clock dependence)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench import clinical
from engine.control.layout import EventKind, LegOutcome
from engine.sim.session import SimOptions, run_simulation

NAMES = {int(LegOutcome.CLEARED): "cleared", int(LegOutcome.TOUCHED): "touched", int(LegOutcome.TRIPPED): "tripped"}


@pytest.mark.parametrize("seed, duration_s, legs", [
    # 13 left (58.0 s) is no longer reached: the trip response (session 9) slows this walk
    (2, 60.0, [(8, "right"), (8, "left")]),
    (1, 45.0, [(10, "left")]),
    (5, 60.0, [(10, "left")]),
    (3, 10.0, [(0, "right")]),
])
def test_the_traced_crossings_agree_with_the_truth(seed, duration_s, legs):
    with tempfile.TemporaryDirectory() as tmp:
        scenes = clinical._scene_dir(Path(tmp))
        res = run_simulation(SimOptions(scene="bench-clinical", profile="parkinsonian-freezing", duration_s=duration_s,
                                        seed=seed, db=None, scenes_dir=scenes, probe=clinical._Therapist()))
    _, events = res.records
    core = {(int(e["code"]), int(e["side"])): NAMES.get(int(e["v2"]), "other")
            for e in events[events["kind"] == EventKind.OBSTACLE_LEG]}
    truth = {ob["obstacle"]: ob["legs"] for ob in res.truth["obstacles"]}
    for index, side in legs:
        leg = truth[index][side]
        assert core.get((index, 0 if side == "left" else 1)) == leg["outcome"], (index, side, leg)
    part = clinical.compare_session(res.truth, events, clinical._start_time(events))
    assert part["disagreements"] == []
