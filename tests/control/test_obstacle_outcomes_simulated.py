"""The crossings the last full `bench clinical` found the core and the rig's truth disagreeing on
(parkinsonian-freezing, docs/validation.md), simulated again with `simulate` on the bench's scene
and seeds: both now name the same outcome per leg. Seed 2: a trail foot came down across a curb's
lip (35.5 s) and onto a 12 cm box (58.0 s), truth touched, core tripped; seed 1: a lead foot's heel
came down past the far edge of spilled items (42.1 s), truth cleared +3.1 cm, core touched -1.5 cm.
Simulated time is exact (no wall-clock dependence)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench import clinical
from engine.control.layout import EventKind, LegOutcome
from engine.sim.session import SimOptions, run_simulation

NAMES = {int(LegOutcome.CLEARED): "cleared", int(LegOutcome.TOUCHED): "touched", int(LegOutcome.TRIPPED): "tripped"}


@pytest.mark.parametrize("seed, duration_s, legs", [
    (2, 60.0, [(8, "right")]),  # 13 left (58.0 s) is no longer reached: the trip response (session 9) slows this walk
    (1, 45.0, [(10, "left")]),
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
