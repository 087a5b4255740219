"""The rig's ground truth classifies each leg's crossing by the same definition as the core
(engine/control/clearance.py; docs/validation.md "Crossing outcomes"): a curb up's hazard is its
lip (its top beyond is walkway) and a foot that lands in a box touched it unless its sole had
entered the box a trip's depth while its heel was still before the near edge."""

from __future__ import annotations

import pytest

from devices.sim.patient import TRIP_PENETRATION_M, PatientModel, hazard_end_m
from devices.sim.profiles import load_profile
from devices.sim.scene_view import LIP_DEPTH_M, obstacles_from

CURB = {"kind": "curb_up", "at_m": 4.0, "depth_m": 0.3, "height_m": 0.1}
BOX = {"kind": "box", "at_m": 6.0, "depth_m": 0.3, "height_m": 0.05}


def test_a_curb_ups_hazard_is_its_lip():
    curb, box = obstacles_from([CURB, BOX])
    assert hazard_end_m(curb) == pytest.approx(4.0 + LIP_DEPTH_M)
    assert hazard_end_m(box) == pytest.approx(6.3)


def _closed(model: PatientModel, side: int, index: int, heel_x: float, **rec) -> dict:
    leg = model.legs[side]
    record = model._crossing(leg, model.scene[index], 1.0)
    record.update(rec)
    leg.heel_x = heel_x
    model._close_crossings(leg)
    return model.crossings[-1]


def test_a_landing_is_classified_by_the_approach_not_by_the_sampled_descent():
    model = PatientModel(load_profile("healthy"), seed=1, obstacles=[CURB, BOX])
    # landed in the box; the descent onto the landing place went 3 cm into it, the approach did not
    rec = _closed(model, 0, 1, 6.05, landed_in=True, margin_m=-0.05, penetration_m=0.03,
                  face_penetration_m=0.004)
    assert rec["outcome"] == "touched"
    # the toe went a trip's depth into it at its near face, then the foot came down in it
    rec = _closed(model, 1, 1, 6.05, landed_in=True, margin_m=-0.05, penetration_m=0.05,
                  face_penetration_m=TRIP_PENETRATION_M + 0.005)
    assert rec["outcome"] == "tripped"


def test_a_foot_on_a_curbs_top_past_the_lip_has_crossed_it():
    model = PatientModel(load_profile("healthy"), seed=1, obstacles=[CURB, BOX])
    # the heel stands on the stone 10 cm past the near edge (inside the stone's depth): crossed
    rec = _closed(model, 0, 0, 4.1, margin_m=0.04)
    assert rec["obstacle"] == 0 and rec["outcome"] == "cleared"
