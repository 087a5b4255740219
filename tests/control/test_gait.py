"""Pure gait modules: event detection, phase, metrics, reference gait, assist-as-needed."""

from __future__ import annotations

import math
import random

import pytest

from engine.control import refgait
from engine.control.adaptation import AssistAsNeeded
from engine.control.gait_events import (
    HEEL_STRIKE,
    NO_EVENT,
    TOE_OFF,
    FootEvents,
    KinematicEvents,
    PhaseEstimator,
)
from engine.control.gait_metrics import GaitMetrics


def _insole(t: float, hs: float, to: float) -> tuple[float, float]:
    """Heel and toe load of a foot in contact between hs and to (ramps, like the insoles)."""
    if not hs <= t < to:
        return 0.0, 0.0
    q = (t - hs) / (to - hs)
    heel = 0.05 + 0.8 * min(1.0, q / 0.15) if q < 0.5 else 0.0
    toe = 0.0 if q < 0.1 else 0.8 * (1.0 - q) + 0.04
    return heel, toe


def test_hysteresis_detects_each_contact_once_despite_noise():
    rng = random.Random(1)
    det = FootEvents()
    events = []
    for k in range(6000):  # 12 s at 500 Hz, strides of 1.1 s, stance 0.65
        t = k * 0.002
        cycle_t = t % 1.1
        heel, toe = _insole(cycle_t, 0.05, 0.05 + 0.715)
        noise = rng.gauss(0.0, 0.002)
        ev = det.update(t, max(0.0, heel + noise), max(0.0, toe + noise))
        if ev != NO_EVENT:
            events.append((ev, det.event_t_s))
    hs = [t for ev, t in events if ev == HEEL_STRIKE]
    to = [t for ev, t in events if ev == TOE_OFF]
    assert len(hs) == 11 and len(to) == 11
    for t in hs:
        assert abs((t % 1.1) - 0.05) < 0.004
    for t in to:
        assert abs((t % 1.1) - 0.765) < 0.004


def test_dragging_toe_in_swing_is_not_a_heel_strike():
    det = FootEvents()
    det.update(0.0, 0.0, 0.0)
    for k in range(1, 200):
        assert det.update(k * 0.002, 0.0, 0.03) == NO_EVENT  # 3 % of body weight on the toe


def test_a_heel_that_jumps_under_the_threshold_then_loads_slowly_lands_in_the_jump():
    """A lightly loaded (paretic) heel lands in a jump to just under HEEL_ON, then loads slowly:
    the line through the two samples at the crossing reaches back three samples, before a sample
    that read unloaded. A contact cannot start before that: the strike is the jump's interval."""
    det = FootEvents()
    dt = 0.005
    loads = (0.0, 0.0, 0.0, 0.0118, 0.0121, 0.02, 0.05)  # jump between samples 2 and 3, crossing at 4
    events = [(k * dt, det.update(k * dt, heel, 0.0)) for k, heel in enumerate(loads)]
    strikes = [t for t, ev in events if ev == HEEL_STRIKE]
    assert len(strikes) == 1, events
    assert det.event_t_s == pytest.approx(2.5 * dt)  # the line said 0.0 s, three samples back


def test_kinematic_fallback_finds_events_on_the_reference_gait():
    det = KinematicEvents()
    det.contact = False
    stride_s = 1.1
    hs_times, to_times = [], []
    for k in range(int(5.5 / 0.002)):
        t = k * 0.002
        out = [0.0] * 4
        refgait.reference((t / stride_s) % 1.0, 1.0, 0.0, out, 0)
        ev = det.update(t, out[0], out[1], refgait.HIP_MEAN_RAD)
        if ev == HEEL_STRIKE:
            hs_times.append(t)
        elif ev == TOE_OFF:
            to_times.append(t)
    assert len(hs_times) >= 4 and len(to_times) >= 4
    for t in hs_times:
        phase = (t / stride_s) % 1.0
        assert min(phase, 1.0 - phase) < 0.06  # heel strike near phase 0
    for t in to_times:
        assert 0.45 < (t / stride_s) % 1.0 < 0.65  # toe off near 0.6


def test_phase_follows_measured_strides():
    est = PhaseEstimator()
    est.model_hint(1.2, 0.95)
    assert 0.9 < est.stride_time_s < 1.4
    for k in range(5):
        est.heel_strike(10.0 + 1.0 * k)
    assert est.stride_time_s == pytest.approx(1.0)
    assert est.phase(14.5) == pytest.approx(0.5)
    assert est.phase(20.0) == pytest.approx(0.999)


def test_metrics_from_an_asymmetric_walk():
    m = GaitMetrics()
    belt = 0.0
    t = 0.0
    lengths = {0: 0.7, 1: 0.5}
    speed = 1.0
    for k in range(20):
        side = k % 2
        step = lengths[side]
        t += step / speed
        belt += step
        m.toe_off(side, t - 0.4)
        m.swing_sample(side, 0.5, 0.02 + 0.01 * side)
        m.heel_strike(side, t, belt)
    assert m.step_length_m[0] == pytest.approx(0.7)
    assert m.step_length_m[1] == pytest.approx(0.5)
    assert m.symmetry_index_pct == pytest.approx((0.7 - 0.5) / 0.6 * 100)
    assert m.cadence_spm == pytest.approx(60 * 4 / 2.4)
    assert m.gait_speed_mps == pytest.approx(1.0)
    assert m.stride_cv_pct == pytest.approx(0.0, abs=1e-6)
    assert m.toe_clearance_m == [pytest.approx(0.02), pytest.approx(0.03)]
    assert m.steps == 19


def test_a_step_without_a_measured_distance_is_taken_from_the_last_footprint():
    """Steps chained from measured heel-to-heel distances while the hip drifts back on the belt
    (0.5 m steps on a belt that moves 0.6 m a step); then one landing without a measured distance:
    its length is the belt frame's step since the other heel, not the chain's drift from the belt
    frame since the first step (which read 0.5 + 9 x 0.1 m here)."""
    m = GaitMetrics()
    belt, t = 0.0, 0.0
    for k in range(10):
        t += 0.5
        belt += 0.6
        m.heel_strike(k % 2, t, belt, heel_x_m=0.3, step_length_m=0.5 if k else None)
    t += 0.5
    belt += 0.6
    m.heel_strike(0, t, belt, heel_x_m=0.3 - 0.1)  # the hip slid back 0.1 m in this step
    assert m.step_length_m[0] == pytest.approx(0.5)
    assert m.step_length_m[1] == pytest.approx(0.5)


def test_reference_gait_is_periodic_scaled_and_boosted():
    out = [0.0] * 4
    refgait.reference(0.0, 1.0, 0.0, out, 0)
    start = list(out)
    refgait.reference(0.99999, 1.0, 0.0, out, 0)
    assert out[0] == pytest.approx(start[0], abs=1e-3)
    hip = refgait.HIP_TABLE_RAD
    knee = refgait.KNEE_TABLE_RAD
    assert math.degrees(hip.max() - hip.min()) > 30
    assert math.degrees(knee.max()) > 50
    # Slower walking: smaller hip excursion; a boost adds swing flexion only.
    slow = refgait.amplitude_scale(0.4, 0.9)
    assert slow < refgait.amplitude_scale(1.2, 0.9)
    base, boosted = [0.0] * 4, [0.0] * 4
    refgait.reference(0.8, 1.0, 0.0, base, 0)
    refgait.reference(0.8, 1.0, 1.0, boosted, 0)
    assert boosted[1] > base[1] + 0.3
    refgait.reference(0.3, 1.0, 1.0, boosted, 0)
    refgait.reference(0.3, 1.0, 0.0, base, 0)
    assert boosted[:2] == base[:2]
    assert refgait.stride_time_s(1.2, 0.98) == pytest.approx(1.07, abs=0.1)  # ~112 steps/min


def test_assist_as_needed_follows_error_within_bounds():
    from engine.control import adaptation as ad

    aan = AssistAsNeeded()
    aan.guidance = 0.5
    big = ad.JOINT_TUNNEL_RAD + 2 * ad.JOINT_SPAN_RAD
    for _ in range(60):  # a leg that does not follow: guidance rises to the therapist's maximum
        aan.sample(big ** 2)
        g = aan.stride_end(True, False, 0.2, 0.8)
    assert g == 0.8
    for _ in range(60):  # the patient does well: guidance decays to the minimum
        aan.sample(0.0)
        g = aan.stride_end(True, False, 0.2, 0.8)
    assert g == pytest.approx(0.2)
    aan.sample(1.0)
    assert aan.stride_end(True, True, 0.2, 0.8) == pytest.approx(0.2)  # locked
    half = ad.JOINT_TUNNEL_RAD + 0.5 * ad.JOINT_SPAN_RAD
    for _ in range(200):
        aan.sample(half ** 2)
        g = aan.stride_end(True, False, 0.0, 1.0)
    assert g == pytest.approx(0.5, abs=1e-3)  # a steady need n settles at n (K = 1 - F)


def test_a_reload_held_level_through_the_bounce_guard_times_its_strike_without_failing():
    # A foot lifted and set down again within MIN_CONTACT_S (a bounce) whose sensor then reads the
    # same load sample after sample (a quantised ADC): the strike is declared when the guard ends,
    # between two equal samples, where no crossing can be interpolated. It divided by zero (a
    # crash of the 1 kHz core) and must give a time at or before the sample that declared it.
    det = FootEvents()
    t = 0.0
    for _ in range(100):  # a stance
        det.update(t, 0.3, 0.3)
        t += 0.002
    assert det.update(t, 0.0, 0.0) == TOE_OFF
    lift_s = det.event_t_s
    events = []
    while t < lift_s + 0.2:
        t += 0.002
        ev = det.update(t, 0.2, 0.0)  # set down at once, then level
        if ev != NO_EVENT:
            events.append((ev, det.event_t_s, t))
    assert [ev for ev, _, _ in events] == [HEEL_STRIKE]
    _, event_t, declared_t = events[0]
    assert lift_s < event_t <= declared_t
