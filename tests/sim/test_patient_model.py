"""The simulated patient's remaining defects of issue 10 (docs/patients.md): who leads over a curb
down, the trip response against the outcome rule, a foot that lands across a curb's lip, how fast
a heel comes down and lands, and a foot held up by the exoskeleton's guidance at its planned
landing. Real model runs (devices/sim/patient.py, offline at the rig's 2 ms tick) and real
simulated sessions (engine.sim: the core, the rig's firmware and this patient)."""

from __future__ import annotations

import pytest

from devices.sim.patient import TRIP_PENETRATION_M, simulate
from devices.sim.profiles import load_profile, profile_names


@pytest.mark.parametrize("name", profile_names())
def test_the_lead_leg_at_a_curb_down_is_the_one_that_steps_down_first(name):
    # a deep stone: a foot often lands on it first and the other steps down past it; the truth
    # must name the leg that stepped down first lead, and only that one
    p = load_profile(name)
    for depth_m in (0.3, 0.5, 0.8):
        curb = {"kind": "curb_down", "at_m": 6.0, "depth_m": depth_m, "height_m": 0.12}
        for seed in (1, 2, 3):
            model = simulate(p, seed, p.comfortable_speed_mps, 9.0 / p.comfortable_speed_mps, obstacles=[curb])
            roles = {rec["side"]: rec["role"] for rec in model.crossings}
            down = min((h for h in model.heel_strikes if h["heel_x_m"] > 6.0 + depth_m), key=lambda h: h["t_s"])
            assert sorted(roles.values()) == ["lead", "trail"], (depth_m, seed, roles)
            assert roles[down["side"]] == "lead", (depth_m, seed, roles, down)


def test_the_trip_response_follows_the_outcome_rule():
    # blind walkers (no perception) into long low boxes: some feet come down on the top from above
    # and land in it (a touch by the rule, docs/validation.md "Crossing outcomes"), some are caught
    # at the near face (a trip); the model's trip response (a row in `trips`, the caught foot, the
    # perturbed steps) happens exactly for the crossings the rule calls tripped
    stepped_on = tripped = 0
    for name in ("healthy", "parkinsonian", "frail-older"):
        p = load_profile(name)
        for height_m in (0.02, 0.03, 0.05):
            for at_m in (5.0, 5.1, 5.2, 5.3):
                box = {"kind": "box", "at_m": at_m, "depth_m": 0.6, "height_m": height_m}
                model = simulate(p, 1, p.comfortable_speed_mps, 7.5 / p.comfortable_speed_mps, obstacles=[box],
                                 perceive=False)
                for rec in model.crossings:
                    trips = [t for t in model.trips if t["side"] == rec["side"] and t["obstacle"] == rec["obstacle"]]
                    assert len(trips) == (rec["outcome"] == "tripped"), (name, height_m, at_m, rec, trips)
                    stepped_on += rec["landed_in"] and rec["outcome"] == "touched" and rec["penetration_m"] >= TRIP_PENETRATION_M
                    tripped += rec["outcome"] == "tripped"
                assert [t["t_s"] for t in model.trips] == sorted(t["t_s"] for t in model.trips)
    # the walks still hold both cases
    assert stepped_on >= 10 and tripped >= 10, (stepped_on, tripped)
