"""The rig's ground truth judges a foot that lands in an obstacle by the same definition as the
core (engine/control/clearance.py; docs/validation.md "Crossing outcomes"): caught (tripped) only
when the toe met the near face a trip's depth below the top, at the instant it reached the face
(interpolated between the ticks around it); a sole over the face higher that comes down into the
box later stepped on it."""

from __future__ import annotations

import pytest

from devices.sim.patient import TRIP_PENETRATION_M, PatientModel
from devices.sim.profiles import load_profile

BOX = {"kind": "box", "at_m": 6.0, "depth_m": 0.3, "height_m": 0.05}


def _swung(path) -> tuple[PatientModel, object]:
    """A model whose left foot swung along path [(heel, toe)], one 2 ms tick a point."""
    model = PatientModel(load_profile("healthy"), seed=1, obstacles=[BOX])
    leg = model.legs[0]
    leg.in_stance = False
    for k, (heel, toe) in enumerate(path):
        model.t_s = 1.0 + 0.002 * k
        leg.heel, leg.toe = heel, toe
        model._swing_truth(leg, 0.5 + 0.01 * k)
    return model, leg


def _crossing(path) -> dict:
    """Swing the left foot along path [(heel, toe)], land it in the box; its crossing record."""
    model, leg = _swung(path)
    rec = leg.crossings[0]
    rec["landed_in"] = True
    rec["margin_m"] = min(rec["margin_m"], -0.05)
    leg.heel_x = path[-1][0][0]
    model._close_crossings(leg)
    return model.crossings[-1]


def _path_crossing(path) -> dict:
    """Swing the left foot along path [(heel, toe)] and land it past the box; its crossing record."""
    model, leg = _swung(path)
    leg.heel_x = BOX["at_m"] + BOX["depth_m"] + 0.05
    model._close_crossings(leg)
    return model.crossings[-1]


def test_a_foot_over_the_face_high_that_comes_down_in_the_box_touched_it():
    rec = _crossing([
        ((5.75, 0.10), (5.97, 0.09)),  # before the face
        ((5.80, 0.09), (6.02, 0.085)),  # the toe reaches the face 3.7 cm over the top
        ((5.99, 0.04), (6.21, 0.02)),  # coming down: the toe 3 cm into the box, the heel still
    ])                                  # before the near edge and 4 cm up
    assert rec["face_penetration_m"] == pytest.approx(-0.037, abs=0.001)
    assert rec["penetration_m"] == pytest.approx(0.03, abs=0.001)
    assert rec["outcome"] == "touched"


def test_a_toe_that_meets_the_face_low_is_caught_though_it_lands_in_the_box():
    rec = _crossing([
        ((5.75, 0.06), (5.97, 0.04)),
        ((5.80, 0.05), (6.02, 0.025)),  # the toe reaches the face 2.7 cm below its top
        ((5.95, 0.03), (6.17, 0.01)),
    ])
    assert rec["face_penetration_m"] >= TRIP_PENETRATION_M
    assert rec["outcome"] == "tripped"
