"""Crossing outcomes of the core on foot paths built from traced crossings (parkinsonian-freezing
on bench clinical's scene, docs/validation.md "Crossing outcomes"): a trip is a swing foot caught
by the obstacle, met at its near face a trip's depth below the top; a foot that comes down on or
in the box past its face stepped on it (touched); the swing ends at the foot's contact; and a
sample's foot pitch is the insole's at that instant, not an extrapolation past the last report."""

from __future__ import annotations

import math

import pytest

from engine.control import clearance
from engine.control.clearance import (
    LEG_CLEARED,
    LEG_TOUCHED,
    LEG_TRIPPED,
    TRIP_DEPTH_M,
    ObstacleMargins,
)
from tests.control.test_foot_measures import _walkway  # the same built walkway and obstacle order
from tests.devices.test_patient_truth_face import _crossing, _path_crossing  # the truth's harness


def _feed(m: ObstacleMargins, walkway, order, side: int, path) -> None:
    for heel_x, heel_z, toe_x, toe_z in path:
        m.swing_sample(order, walkway, side, heel_x, heel_z, toe_x, toe_z, 0)


# seed 2, the trail (left) foot over the 12 cm box at 46.0-46.2 m, 57.960-57.984 s as the core
# measured it: the heel 1-2 cm before the near edge, the toe coming down onto the box's top
BOX_DESCENT = [
    (45.9866, 0.1303, 46.2056, 0.1511), (45.9888, 0.1254, 46.2076, 0.1482),
    (45.9873, 0.1226, 46.2069, 0.1363), (45.9882, 0.1161, 46.2078, 0.1291),
    (45.9895, 0.1097, 46.2091, 0.1220), (45.9902, 0.1025, 46.2099, 0.1141),
    (45.9907, 0.1023, 46.2105, 0.1133), (45.9891, 0.1046, 46.2091, 0.1078),
    (45.9888, 0.1049, 46.2088, 0.1057), (45.9852, 0.1081, 46.2049, 0.0965),
    (45.9836, 0.1094, 46.2029, 0.0921), (45.9819, 0.1107, 46.2007, 0.0876),
    (45.9830, 0.1107, 46.2019, 0.0888),
]


def test_a_foot_coming_down_on_a_box_past_its_face_touched_it():
    walkway, order = _walkway(dict(kind=4, category=0, at_m=46.0, depth_m=0.2, height_m=0.12))
    m = ObstacleMargins()
    # the toe reached the near face 3.4 cm over the top (15.0 -> 15.5 cm between the samples
    # around it, at the face 80 % of the way), 40 ms before the descent
    _feed(m, walkway, order, 0, [(45.70, 0.16, 45.92, 0.15), (45.80, 0.158, 46.02, 0.155)] + BOX_DESCENT)
    m.heel_strike(order, walkway, 0, 45.983, 46.20, 45.5)
    (index, side, margin, outcome), = m.done
    # then the foot came down on the box: its sole 3.2 cm into the top at the toe end, 1.7 cm
    # below it at the near edge (the heel, 1-2 cm before the edge, coming down behind it): it
    # came down on it from above, it was not caught at the face
    assert (index, side, outcome) == (0, 0, LEG_TOUCHED)
    assert margin == pytest.approx(-0.12)
    assert m.face_m[0][0] == pytest.approx(0.034, abs=0.001)


def test_a_toe_caught_at_the_face_then_landing_in_the_box_tripped():
    walkway, order = _walkway(dict(kind=4, category=0, at_m=46.0, depth_m=0.2, height_m=0.12))
    m = ObstacleMargins()
    # the toe meets the near face 3 cm below its top, toe down, the heel 9 cm up behind it...
    _feed(m, walkway, order, 0, [(45.70, 0.16, 45.92, 0.12), (45.78, 0.10, 46.00, 0.09),
                                 (45.80, 0.09, 46.02, 0.08)])
    # ...then the foot comes down in the box
    m.heel_strike(order, walkway, 0, 45.90, 46.12, 45.5)
    assert m.done == [(0, 0, pytest.approx(-0.12), LEG_TRIPPED)]
    assert m.face_m[0][0] <= -TRIP_DEPTH_M


def test_a_foot_already_standing_at_the_curb_is_no_catch():
    """seed 2, the trail (right) foot at the 10 cm curb up (26.0 m, lip to 26.05 m): the last two
    swing samples as the core measured them, then the sample after its contact (35.518 s) that
    saw the landed foot's toe against the curb's face, 9 cm below its top."""
    walkway, order = _walkway(dict(kind=1, category=0, at_m=26.0, depth_m=0.3, height_m=0.10))
    held = clearance.DeferredSoles()
    for t, pitch in ((35.510, 0.5), (35.515, 0.45), (35.520, 0.3)):
        held.pitch_sample(1, t, pitch)
    # (the core's walkway had its zero on the curb's top here, after a curb down: +0.10 m)
    samples = [(35.516, (25.8935, 0.1033, 26.0843, -0.0062)), (35.518, (25.9062, 0.0675, 26.1107, -0.0135)),
               (35.520, (25.9078, -0.0351, 26.1149, -0.1095))]
    for t, pose in samples:
        held.hold(1, (t, pose))
    released = held.end_swing(1, 35.518)
    assert [t for t, _ in released] == [35.516]  # the samples at the contact and after it are the stance's
    assert held.held[1] == []
    # every sample as the core took it then, the stance's included: the toe had reached the face
    # 4 cm over the curb's top, so the foot that came down on the curb's edge touched it
    m = ObstacleMargins()
    for _, (heel_x, heel_z, toe_x, toe_z) in samples:
        m.swing_sample(order, walkway, 1, heel_x, heel_z + 0.1, toe_x, toe_z + 0.1, 0)
    m.heel_strike(order, walkway, 1, 25.916, 26.136, 25.5)
    (index, side, margin, outcome), = m.done
    assert outcome == LEG_TOUCHED and margin == pytest.approx(-0.10)
    assert m.face_m[0][1] == pytest.approx(0.042, abs=0.001)


def test_held_samples_are_released_in_order_once_the_pitch_of_their_instant_is_known():
    held = clearance.DeferredSoles()
    for k in range(6):
        held.hold(0, (1.000 + 0.002 * k, k))
    assert held.release(0, 1.004) == [(1.000, 0), (1.002, 1), (1.004, 2)]
    assert len(held.release(0, 1.005)) == 0  # nothing due (an empty sequence, not necessarily a list)
    assert [s[1] for s in held.end_swing(0, 1.008)] == [3]  # 1.008 s and after: the stance's
    held.hold(0, (1.020, 6))
    held.drop(0)
    assert held.held[0] == []


def test_a_samples_pitch_is_interpolated_between_the_insole_reports_around_it():
    # a heel coming down (as traced, seed 1, 42.134 s): the foot's pitch still, then turning at
    # 25 rad/s from 1.006 s, between two insole reports 5 ms apart
    def true_pitch(t: float) -> float:
        return -0.05 - 25.0 * max(0.0, t - 1.006)

    held = clearance.DeferredSoles()
    assert math.isnan(held.pitch_at(0, 1.0))
    for k in range(4):
        held.pitch_sample(0, 1.0 + 0.005 * k, true_pitch(1.0 + 0.005 * k))
    for t in (1.002, 1.008, 1.009, 1.012):  # exoskeleton samples between the reports
        assert held.pitch_at(0, t) == pytest.approx(true_pitch(t), abs=0.012)
    # moved on from the report before 1.008 s at that report's rate (still): 0.05 rad, 1.1 cm at the toe
    assert abs(true_pitch(1.005) - true_pitch(1.008)) > 0.04
    assert math.isnan(held.pitch_at(0, 1.02))  # not reported yet
    for k in range(40):  # the history keeps the latest reports only
        held.pitch_sample(1, 2.0 + 0.005 * k, 0.0)
    assert math.isnan(held.pitch_at(1, 2.001))
    assert held.pitch_at(1, 2.19) == 0.0


def test_a_foot_that_crosses_the_face_high_and_scuffs_the_top_tripped_if_deep():
    """A swing foot that passes the face above the top and then drags its toe through the top of
    a deep obstacle, landing beyond it, is caught by what it drags through: the whole swing counts
    (only a landing in the box is judged at the face)."""
    walkway, order = _walkway(dict(kind=4, category=0, at_m=34.0, depth_m=0.4, height_m=0.06))
    m = ObstacleMargins()
    _feed(m, walkway, order, 0, [(33.80, 0.10, 34.02, 0.09), (34.00, 0.07, 34.22, 0.04), (34.20, 0.10, 34.42, 0.10)])
    m.heel_strike(order, walkway, 0, 34.45, 34.67, 34.0)
    assert m.done == [(0, 0, pytest.approx(-0.02), LEG_TRIPPED)]
    # the same swing 1 cm higher over the top brushed it; 3 cm higher cleared it
    for lift, outcome in ((0.01, LEG_TOUCHED), (0.03, LEG_CLEARED)):
        m = ObstacleMargins()
        _feed(m, walkway, order, 0, [(hx, hz + lift, tx, tz + lift) for hx, hz, tx, tz in
                                     [(33.80, 0.10, 34.02, 0.09), (34.00, 0.07, 34.22, 0.04),
                                      (34.20, 0.10, 34.42, 0.10)]])
        m.heel_strike(order, walkway, 0, 34.45, 34.67, 34.0)
        assert m.done[0][3] == outcome


def _rising_toe(t_s: float) -> tuple[float, float, float, float]:
    """A foot whose toe reaches a 5 cm box's near face (6.0 m) 2 cm below its top at t = 20 ms,
    rising fast (1 m/s up, 2 m/s forward: parkinsonian-freezing seed 5's left trail foot at the
    spilled items, rising ~2 cm in 4 ms), toe down, the heel 5 cm over it and 22 cm behind."""
    toe_x, toe_z = 5.96 + 2.0 * t_s, 0.01 + 1.0 * t_s
    return toe_x - 0.22, toe_z + 0.05, toe_x, toe_z


def test_the_toe_at_the_face_is_a_property_of_the_path_not_of_the_sampling():
    """The core samples at its insole and encoder instants, the truth every 2 ms rig tick: on the
    same path both find the toe caught 2 cm below the top at the face and name the landing a trip.
    Judged by the first sample over the face, the core's (24 ms, its toe 8 mm past the face and
    already 3.4 cm up) put the sole 1.42 cm below the top: a touch, the truth's a trip."""
    box = dict(kind=4, category=0, at_m=6.0, depth_m=0.3, height_m=0.05)
    for first_ms in (4, 1, 3):  # where the core's 5 ms samples fall on the path
        walkway, order = _walkway(box)
        m = ObstacleMargins()
        _feed(m, walkway, order, 0, [_rising_toe((first_ms + 5 * k) / 1000) for k in range(5)])
        m.heel_strike(order, walkway, 0, 5.85, 6.07, 5.5)  # then it comes down in the box
        assert m.face_m[0][0] == pytest.approx(-0.02, abs=1e-4), first_ms
        assert m.done == [(0, 0, pytest.approx(-0.05), LEG_TRIPPED)], first_ms
    truth = _crossing([((hx, hz), (tx, tz)) for hx, hz, tx, tz in (_rising_toe(0.002 * k) for k in range(12))])
    assert truth["face_penetration_m"] == pytest.approx(0.02, abs=1e-4)
    assert truth["outcome"] == "tripped"


def test_a_toe_that_meets_the_face_below_the_top_between_samples_touched_it():
    """parkinsonian-freezing seed 3, the trail (right) foot at the 5 cm box at 3 m, 10 ms after its
    toe off 2.8 cm before the face, rising 2.5 cm in 4 ms: the core's samples (5.924, 5.926 s) put
    the toe 1.2 mm before the face 0.9 cm below the top, then 5.8 mm past it 0.4 cm over it; the
    truth's tick at 5.924 s found the toe 3.9 mm past the face 0.6 cm below the top (touched),
    the core's samples none inside the box (cleared +0.4 cm). The toe at the instant it reached
    the face is a point of the path over the box: part of the margin, on both sides."""
    walkway, order = _walkway(dict(kind=4, category=0, at_m=6.0, depth_m=0.3, height_m=0.05))
    core = [(5.8172, 0.1651, 5.9988, 0.0410), (5.8219, 0.1752, 6.0058, 0.0543), (5.8256, 0.1886, 6.0073, 0.0646)]
    m = ObstacleMargins()
    _feed(m, walkway, order, 1, core)
    m.heel_strike(order, walkway, 1, 6.35, 6.57, 6.0)  # it lands past the box
    (index, side, margin, outcome), = m.done
    assert m.face_m[0][1] == pytest.approx(0.041 + 0.0133 * 1.2 / 7.0 - 0.05, abs=1e-4)
    assert (outcome, margin) == (LEG_TOUCHED, pytest.approx(m.face_m[0][1]))
    truth = _path_crossing([((5.8139, 0.1535), (5.9967, 0.0312)), ((5.8185, 0.1624), (6.0039, 0.0440)),
                            ((5.8221, 0.1752), (6.0059, 0.0543))])
    assert truth["outcome"] == "touched"
    assert -truth["margin_m"] == pytest.approx(truth["face_penetration_m"])  # 1.3 cm, at the face
