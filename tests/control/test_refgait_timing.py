"""The reference gait is timed by each leg's own stance and swing, and carries the clearance boost
as the exoskeleton applies it: guidance must not pull a boosted paretic leg down in its swing."""

from __future__ import annotations

import math

import pytest

from engine.control import refgait


def _knee(phase: float, boost: float) -> float:
    out = [0.0] * 4
    # the boost's time course, without the swing-clearance floor (its own tests: test_assist_as_needed.py)
    refgait._reference_raw(phase, 1.0, boost, out, 0)
    return out[1]


@pytest.mark.parametrize("stance_fraction", [0.5, 0.6, 0.72])
def test_a_detected_toe_off_starts_the_reference_swing_whatever_the_stance_share(stance_fraction):
    stride_s = 1.6
    # In stance, the leg's own stance share maps onto the table's: half-way through its stance is
    # half-way through the table's, and its toe-off time is the table's toe off.
    phase, rate = refgait.reference_phase(0.5 * stance_fraction, stride_s, stance_fraction, -1.0)
    assert phase == pytest.approx(0.5 * refgait.TOE_OFF_PHASE)
    assert rate == pytest.approx(refgait.TOE_OFF_PHASE / (stance_fraction * stride_s))
    # Toe off seen: the swing starts there, however far the stride's clock has gone...
    phase, rate = refgait.reference_phase(0.3, stride_s, stance_fraction, 0.0)
    assert phase == pytest.approx(refgait.TOE_OFF_PHASE)
    swing_s = stride_s * (1.0 - stance_fraction)
    assert rate == pytest.approx((1.0 - refgait.TOE_OFF_PHASE) / swing_s)
    # ...runs over the leg's expected swing time, and holds at its end if the swing lasts longer.
    phase, _ = refgait.reference_phase(0.9, stride_s, stance_fraction, 0.5 * swing_s)
    assert phase == pytest.approx(refgait.TOE_OFF_PHASE + 0.5 * (1.0 - refgait.TOE_OFF_PHASE))
    phase, rate = refgait.reference_phase(0.999, stride_s, stance_fraction, 3.0 * swing_s)
    assert phase < 1.0 and rate == 0.0
    # A missed toe off: the stance-share warp carries the reference into swing anyway.
    phase, _ = refgait.reference_phase(stance_fraction + 0.5 * (1.0 - stance_fraction), stride_s,
                                       stance_fraction, -1.0)
    assert phase == pytest.approx(refgait.TOE_OFF_PHASE + 0.5 * (1.0 - refgait.TOE_OFF_PHASE))


def test_before_the_first_strides_the_table_timing_is_used():
    phase, rate = refgait.reference_phase(0.3, 1.2, math.nan, -1.0)
    assert phase == pytest.approx(0.3) and rate == pytest.approx(1.0 / 1.2)
    # an implausible measurement is bounded
    phase, _ = refgait.reference_phase(0.95, 1.2, 0.99, -1.0)
    assert phase > refgait.TOE_OFF_PHASE


def test_a_paretic_swing_gets_the_whole_boost_while_its_foot_is_over_the_obstacle():
    """The old reference, timed by a healthy 60 % stance, still said "stance" (knee nearly
    straight) at a paretic leg's late toe off and peaked its boost at the stride's 80 %: guidance
    pulled the boosted knee down through the first part of the swing."""
    stride_s, stance = 1.8, 0.72
    swing_s = stride_s * (1.0 - stance)
    for u in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):  # the boost's plateau: the foot rises over and crosses
        phase, _ = refgait.reference_phase(stance + u * (1.0 - stance), stride_s, stance, u * swing_s)
        lift = _knee(phase, 1.0) - _knee(phase, 0.0)
        assert lift == pytest.approx(refgait.BOOST_KNEE_RAD, rel=1e-6), u
    # at the detected toe off the reference is a swing's, not a stance's, knee
    phase, _ = refgait.reference_phase(0.62, stride_s, stance, 0.0)
    assert _knee(phase, 0.0) > math.radians(30.0)
    # no boost in stance, none at the landing
    assert _knee(0.3, 1.0) == _knee(0.3, 0.0)
    assert refgait.swing_bump(0.9999) < 1e-4


def test_a_crossing_swing_is_held_before_its_descent_until_the_heel_is_past():
    # A long crossing step outlasts the expected swing: the reference waits at the end of the
    # boost's hold (BOOST_OUT_SWING) instead of pulling the foot to its landing pose.
    stride_s, sf = 1.2, 0.6
    swing_s = stride_s * (1.0 - sf)
    held_phase = refgait.TOE_OFF_PHASE + (1.0 - refgait.TOE_OFF_PHASE) * refgait.BOOST_OUT_SWING
    phase, rate = refgait.reference_phase(0.9, stride_s, sf, 1.5 * swing_s, refgait.BOOST_OUT_SWING)
    assert phase == pytest.approx(held_phase) and rate == 0.0
    # the boost is still fully on there: the foot is held up, the knee not yet straight
    assert refgait.swing_bump(phase) == pytest.approx(1.0)
    assert _knee(phase, 0.0) > _knee(0.999, 0.0) + math.radians(5.0)
    # before the hold point the swing runs as usual; with the heel past (hold 1) it ends as before
    phase, rate = refgait.reference_phase(0.9, stride_s, sf, 0.5 * swing_s, refgait.BOOST_OUT_SWING)
    assert phase == pytest.approx(refgait.TOE_OFF_PHASE + 0.5 * (1.0 - refgait.TOE_OFF_PHASE)) and rate > 0.0
    phase, _ = refgait.reference_phase(0.9, stride_s, sf, 1.5 * swing_s, 1.0)
    assert phase == pytest.approx(refgait.TOE_OFF_PHASE + (1.0 - refgait.TOE_OFF_PHASE) * 0.999)
