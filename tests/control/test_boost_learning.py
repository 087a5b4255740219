"""A leg whose boosted crossing failed gets more clearance boost next time, within the prescription."""

from __future__ import annotations

import pytest

from engine.control.layout import ObstacleCategory
from engine.control.planner import BOOST_FULL_M, CLEARANCE_MARGIN_M, Planner
from engine.control.prescription import Prescription
from engine.control.supervisor import Limits, Supervisor
from tests.control.helpers import timeline_rows


def _boost_before(planner: Planner, height_m: float) -> list[float]:
    """Both feet planted 0.4 m before a box of this height: the boost each leg's next swing gets."""
    planner.load(timeline_rows(dict(category=ObstacleCategory.STEP_OVER, at_m=1.0, depth_m=0.2,
                                    height_m=height_m)), 1, 100.0)
    planner.plan(0.3, 0.0, 0.5, 1.0, 0.8, [0.6, 0.6], [False, False], [0.5, 0.5])
    return list(planner.boost)


def test_a_leg_that_tripped_while_boosted_gets_more_boost_and_a_sound_one_keeps_the_rule():
    planner = Planner()
    rule = (0.10 + CLEARANCE_MARGIN_M) / BOOST_FULL_M
    assert _boost_before(planner, 0.10) == pytest.approx([rule, rule])
    # The right leg, boosted 0.75 over a 10 cm box, was caught: its sole went 9.8 cm into it (the
    # toe reached only 0.2 cm over the ground there). The left cleared the box by 9 cm.
    planner.crossing_result(1, 0.10, -0.098, 0.75)
    planner.crossing_result(0, 0.10, 0.09, 0.75)
    left, right = _boost_before(planner, 0.10)
    assert left == pytest.approx(rule)  # never less than the rule's
    assert right > 1.4 * rule
    # Every further failure raises it again; the lift estimate stays bounded.
    for _ in range(10):
        planner.crossing_result(1, 0.10, -0.05, 1.0)
    assert planner.lift_per_boost_m[1] >= 0.04 - 1e-9
    # A flat hazard or an unboosted swing teaches nothing.
    before = list(planner.lift_per_boost_m)
    planner.crossing_result(0, 0.0, -0.01, 1.0)
    planner.crossing_result(0, 0.10, -0.10, 0.0)
    assert planner.lift_per_boost_m == before


def test_the_learned_boost_never_exceeds_the_prescription():
    planner = Planner()
    for _ in range(5):
        planner.crossing_result(1, 0.12, -0.12, 1.0)
    asked = _boost_before(planner, 0.12)[1]
    assert asked > 1.0  # the planner asks for more than the device can give...
    sup = Supervisor(Limits.from_prescription(Prescription(clearance_boost_max=0.6)))
    assert sup.boost(asked) == pytest.approx(0.6)  # ...the prescription's maximum is what is applied


def test_a_paretic_legs_boost_starts_from_what_a_dropped_foot_gains():
    import math

    from engine.control import refgait

    # geometry (Winter's fractions, the reference's mid swing): a foot hanging square to the
    # shank gains less than the ankle rises; a level foot more; both less than the old 20 cm rule
    dropped = refgait.toe_lift_per_boost_m(0.9, True)
    level = refgait.toe_lift_per_boost_m(0.9, False)
    assert 0.08 < dropped < level < BOOST_FULL_M
    assert refgait.toe_lift_per_boost_m(0.8, True) < dropped  # a shorter leg lifts less
    planner = Planner()
    planner.set_lift_prior(0, dropped)
    left, right = _boost_before(planner, 0.05)
    assert left == pytest.approx((0.05 + CLEARANCE_MARGIN_M) / dropped)
    assert right == pytest.approx((0.05 + CLEARANCE_MARGIN_M) / BOOST_FULL_M)
    planner.set_lift_prior(1, math.inf)  # bounded like a learned value
    assert planner.lift_per_boost_m[1] == BOOST_FULL_M
