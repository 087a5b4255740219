"""Pure parts of the foot measures: leg geometry by hand-solved poses, the MTC window, obstacle
margins of a sole, leg outcomes, the steady-stride rule and the insole pitch integration."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import pytest

from devices.base import ExoGeometry
from engine.control import foot_kinematics as fk
from engine.control.clearance import (
    LEG_CLEARED,
    LEG_TOUCHED,
    LEG_TRIPPED,
    TRIP_DEPTH_M,
    ObstacleMargins,
    SwingClearance,
    leg_outcome,
)
from engine.control.gait_events import HEEL_STRIKE, TOE_OFF
from engine.control.insole_events import DRAG_LEVEL_SAMPLES, InsoleFoot
from engine.control.planner import LIP_DEPTH_M, Obstacle
from engine.control.steady_state import WARMUP_STRIDES, StrideSteadiness
from engine.control.walkway import Walkway
from tests.control.helpers import timeline_rows


def _geo() -> fk.LegGeometry:
    geo = fk.LegGeometry()
    geo.set_from_device(ExoGeometry((0.4, 0.5), (0.45, 0.4), (0.08, 0.07), (0.15, 0.16), (0.05, 0.06)))
    return geo


def test_hand_solved_poses():
    geo = _geo()
    # Standing straight, foot flat: ankle under the hip, hip at thigh + shank + ankle height.
    assert fk.ankle_x_m(geo, 0, 0.0, 0.0) == 0.0
    assert fk.pelvis_height_m(geo, 0, 0.0, 0.0) == pytest.approx(0.93)
    assert geo.leg_length_m(1) == pytest.approx(0.97)
    # Thigh horizontal (hip 90 deg), knee 90 deg: shank hangs straight down from the knee.
    hip, knee = math.pi / 2, math.pi / 2
    assert fk.ankle_x_m(geo, 0, hip, knee) == pytest.approx(0.40)
    assert fk.ankle_drop_m(geo, 0, hip, knee) == pytest.approx(0.45)
    # Heel of a flat foot 5 cm behind the ankle; toe 15 cm ahead; both on a floor 0.93 m down.
    assert fk.heel_x_m(geo, 0, 0.0, 0.0, 0.0) == pytest.approx(-0.05)
    assert fk.sole_point_height_m(geo, 0, 0.0, 0.0, 0.0, 0.15, 0.93) == pytest.approx(0.0)
    # Toe down by 90 deg: the toe hangs 15 cm below the ankle's sole point, 8 cm ahead of it.
    p = math.pi / 2
    assert fk.sole_point_x_m(geo, 0, 0.0, 0.0, p, 0.15) == pytest.approx(-0.08)
    assert fk.sole_point_height_m(geo, 0, 0.0, 0.0, p, 0.15, 1.0) == pytest.approx(1.0 - 0.85 - 0.15)
    # A foot square to a shank tilted back 20 deg points its toe 20 deg down.
    assert fk.square_pitch_rad(0.1, 0.45) == pytest.approx(0.35)


def test_sole_points_are_the_single_point_functions_bit_for_bit():
    # The core's swing samples take all four sole points from one call (shared trig): the same
    # floats as sole_point_x_m / sole_point_height_m, or simulate's sessions would change.
    geo = _geo()
    rng = random.Random(5)
    for _ in range(2000):
        side = rng.randrange(2)
        hip, knee, pitch = rng.uniform(-0.5, 1.0), rng.uniform(0.0, 1.4), rng.uniform(-0.8, 0.8)
        pelvis = rng.uniform(0.7, 1.1)
        toe, heel = geo.toe_m[side], -geo.heel_m[side]
        assert fk.sole_points_m(geo, side, hip, knee, pitch, pelvis) == (
            fk.sole_point_x_m(geo, side, hip, knee, pitch, heel),
            fk.sole_point_height_m(geo, side, hip, knee, pitch, heel, pelvis),
            fk.sole_point_x_m(geo, side, hip, knee, pitch, toe),
            fk.sole_point_height_m(geo, side, hip, knee, pitch, toe, pelvis),
        )
    # and by hand: standing straight, foot flat, the heel 5 cm behind the ankle on the floor
    assert fk.sole_points_m(geo, 0, 0.0, 0.0, 0.0, 0.93) == pytest.approx((-0.05, 0.0, 0.15, 0.0))


def test_winter_fractions_without_device_geometry():
    geo = fk.LegGeometry()
    geo.set_from_leg_length(0.9, 1.0)
    assert not geo.from_device
    assert geo.leg_length_m(0) == pytest.approx(0.9 * (0.245 + 0.246 + 0.039) / 0.53)
    assert geo.thigh_m[1] == pytest.approx(0.245 / 0.53)


def test_mtc_is_the_minimum_over_30_to_80_percent_of_the_swing():
    sc = SwingClearance()
    sc.toe_off(1, 10.0)
    for k in range(101):  # a 1 s swing, toe low at 10 % (outside the window) and at 60 %
        t = 10.0 + 0.01 * k
        h = 0.001 if k == 10 else 0.012 if k == 60 else 0.05
        sc.sample(1, t, h)
    assert sc.heel_strike(1, 11.0) == pytest.approx(0.012)
    assert math.isnan(sc.heel_strike(1, 12.0))  # no swing since


def _walkway(*rows: dict) -> tuple[Walkway, list]:
    table = timeline_rows(*rows)
    walkway = Walkway()
    walkway.load(table, len(table))
    order = [SimpleNamespace(index=i, category=int(r["category"]), at_m=float(r["at_m"]),
                             end_m=float(r["at_m"] + r["depth_m"]),
                             hazard_end_m=Obstacle(i, r).hazard_end_m) for i, r in enumerate(table)]
    return walkway, order


def test_sole_margin_and_outcome_per_leg():
    walkway, order = _walkway(
        dict(kind=4, category=0, at_m=5.0, depth_m=0.1, height_m=0.05),  # a box
        dict(kind=20, category=1, at_m=5.0, depth_m=0.1, height_m=0.5),  # a yield: ignored
    )
    m = ObstacleMargins()
    # Left foot: toe up, sole sloping from heel 6 cm to toe 10 cm over the box: margin 1 cm + a bit.
    m.swing_sample(order, walkway, 0, 4.9, 0.06, 5.15, 0.10, 0)
    m.swing_sample(order, walkway, 0, 5.2, 0.02, 5.45, 0.0, 0)  # past it...
    assert m.done == []
    m.heel_strike(order, walkway, 0, 5.25, 5.48, 5.0)  # ...and landed beyond it: decided
    (index, side, margin, outcome), = m.done
    assert (index, side, outcome) == (0, 0, LEG_CLEARED)
    assert margin == pytest.approx(0.06 + 0.04 * 0.1 / 0.25 - 0.05)
    # Right foot dips 3 cm into it and lands beyond: tripped.
    m.swing_sample(order, walkway, 1, 4.95, 0.02, 5.2, 0.02, 0)
    m.heel_strike(order, walkway, 1, 5.3, 5.55, 5.0)
    assert m.done[1][1:] == (1, pytest.approx(-0.03), LEG_TRIPPED)
    assert leg_outcome(0.0) == LEG_CLEARED
    assert leg_outcome(-TRIP_DEPTH_M / 2) == LEG_TOUCHED
    assert leg_outcome(-TRIP_DEPTH_M) == LEG_TRIPPED


def test_curbs_raise_the_ground_and_a_foot_landing_in_a_box_touches_it():
    walkway, order = _walkway(
        dict(kind=1, category=0, at_m=2.0, depth_m=0.3, height_m=0.12),  # curb up: +12 cm from 2.0 m
        dict(kind=4, category=0, at_m=4.0, depth_m=0.2, height_m=0.05),  # a box on the raised walk
        dict(kind=2, category=0, at_m=6.0, depth_m=0.3, height_m=0.12),  # curb down beyond 6.3 m
    )
    assert walkway.ground_m(1.9) == 0.0 and walkway.ground_m(2.1) == pytest.approx(0.12)
    assert walkway.ground_m(6.2) == pytest.approx(0.12) and walkway.ground_m(6.4) == pytest.approx(0.0)
    assert walkway.box_top_m == pytest.approx([0.12, 0.17, 0.12])  # a curb down's box has no height
    m = ObstacleMargins()
    # A foot 3 cm above the raised walk over the box's near edge: 2 cm into a 5 cm box: tripped...
    m.swing_sample(order, walkway, 0, 3.8, 0.25, 4.05, 0.15, 0)
    # ...and the other foot lands on the 5 cm box without dipping into it while swinging: its sole
    # came down inside the box, 5 cm deep, but no swing was caught: touched. A puddle: touched.
    m.heel_strike(order, walkway, 1, 4.05, 4.28, 4.0)
    m.swing_sample(order, walkway, 0, 4.3, 0.2, 4.55, 0.2, 0)
    m.heel_strike(order, walkway, 0, 4.35, 4.58, 4.2)
    outcomes = {(i, side): (margin, outcome) for i, side, margin, outcome in m.done}
    assert outcomes[(1, 0)][1] == LEG_TRIPPED and outcomes[(1, 0)][0] == pytest.approx(-0.02)
    assert outcomes[(1, 1)][1] == LEG_TOUCHED and outcomes[(1, 1)][0] == pytest.approx(-0.05)
    walkway, order = _walkway(dict(kind=5, category=0, at_m=1.0, depth_m=0.4, height_m=0.0))
    m = ObstacleMargins()
    m.heel_strike(order, walkway, 0, 1.1, 1.33, 0.5)
    assert m.done == [(0, 0, pytest.approx(-0.01), LEG_TOUCHED)]


def test_a_foot_stepping_down_past_a_curb_is_not_inside_it():
    walkway, order = _walkway(dict(kind=2, category=0, at_m=6.0, depth_m=0.3, height_m=0.12))  # curb down
    m = ObstacleMargins()
    # Toe still over the curb stone, heel already below its level past the edge: the sole line
    # dips under the stone's top over [6.0, 6.3], but a foot cannot be inside the ground.
    m.swing_sample(order, walkway, 0, 6.1, 0.02, 6.35, -0.05, 0)
    m.heel_strike(order, walkway, 0, 6.4, 6.63, 6.1)
    assert m.done == [(0, 0, 0.0, LEG_CLEARED)]
    # The other foot stands on the curb stone before the drop (that is the walkway there, not a
    # fault: a puddle is), then steps down past the edge: cleared.
    m.swing_sample(order, walkway, 1, 5.7, 0.05, 5.93, 0.04, 0)
    m.heel_strike(order, walkway, 1, 6.02, 6.25, 5.9)
    assert len(m.done) == 1
    m.swing_sample(order, walkway, 1, 6.2, 0.03, 6.45, -0.06, 0)
    m.heel_strike(order, walkway, 1, 6.5, 6.73, 6.3)
    assert m.done[1] == (0, 1, 0.0, LEG_CLEARED)


def test_a_surface_walked_on_is_judged_over_its_lip_only():
    walkway, order = _walkway(dict(kind=9, category=0, at_m=3.0, depth_m=0.6, height_m=0.02))  # uneven paving
    assert order[0].hazard_end_m == pytest.approx(3.0 + LIP_DEPTH_M)
    m = ObstacleMargins()
    # The lead foot swings 8 cm over the lip and lands on the paving: cleared (stepping onto it is
    # what it is for). Judged over its whole depth it would have landed in it.
    m.swing_sample(order, walkway, 0, 2.9, 0.1, 3.15, 0.1, 0)
    m.heel_strike(order, walkway, 0, 3.2, 3.43, 3.0)
    assert m.done == [(0, 0, pytest.approx(0.08), LEG_CLEARED)]
    # The trail foot's toe scuffs the lip 1 cm deep: touched; a foot landing on the lip: touched.
    m.swing_sample(order, walkway, 1, 2.8, 0.05, 3.03, 0.01, 0)
    m.heel_strike(order, walkway, 1, 3.5, 3.73, 3.3)
    assert m.done[1] == (0, 1, pytest.approx(-0.01), LEG_TOUCHED)
    walkway, order = _walkway(dict(kind=9, category=0, at_m=3.0, depth_m=0.6, height_m=0.02))
    m = ObstacleMargins()
    m.heel_strike(order, walkway, 0, 3.02, 3.25, 3.0)
    assert m.done == [(0, 0, pytest.approx(-0.02), LEG_TOUCHED)]


def test_a_foot_landing_in_a_box_touched_it_unless_caught_before_its_heel_was_over_it():
    # One definition with the rig's truth (docs/validation.md "Crossing outcomes"): the descent
    # onto the landing place is the landing, however deep it was sampled before the contact.
    walkway, order = _walkway(dict(kind=4, category=0, at_m=4.0, depth_m=0.3, height_m=0.05))
    m = ObstacleMargins()
    m.swing_sample(order, walkway, 0, 3.7, 0.10, 3.95, 0.10, 0)  # well over the near edge
    m.swing_sample(order, walkway, 0, 4.02, 0.02, 4.27, 0.02, 0)  # heel over the box: 3 cm in, coming down
    m.heel_strike(order, walkway, 0, 4.02, 4.25, 3.8)
    assert m.done == [(0, 0, pytest.approx(-0.05), LEG_TOUCHED)]
    # the other foot's toe went 2 cm into it while its heel was still before the near edge (caught
    # at the face), then it came down in it: tripped
    m.swing_sample(order, walkway, 1, 3.8, 0.05, 4.05, 0.03, 0)
    m.heel_strike(order, walkway, 1, 4.05, 4.28, 3.9)
    assert m.done[1] == (0, 1, pytest.approx(-0.05), LEG_TRIPPED)
    # a foot landing across a thin obstacle, heel before it: its heel already down (samples of a
    # foot that landed before its contact was detected) is the landing, not a catch
    walkway, order = _walkway(dict(kind=6, category=0, at_m=2.0, depth_m=0.05, height_m=0.03))  # a cable
    m = ObstacleMargins()
    m.swing_sample(order, walkway, 0, 1.85, 0.06, 2.08, 0.02, 0)  # 1 cm into it, heel up: a brush
    m.swing_sample(order, walkway, 0, 1.88, 0.004, 2.1, 0.0, 0)  # heel down, the sole on the ground
    m.heel_strike(order, walkway, 0, 1.88, 2.11, 1.7)
    assert m.done == [(0, 0, pytest.approx(-0.03), LEG_TOUCHED)]


def test_a_curb_up_is_judged_over_its_lip_and_its_top_is_walkway():
    walkway, order = _walkway(dict(kind=1, category=0, at_m=2.0, depth_m=0.3, height_m=0.12))
    assert order[0].hazard_end_m == pytest.approx(2.0 + LIP_DEPTH_M)
    m = ObstacleMargins()
    # 3 cm over the lip, then down onto the stone's top past the lip: stepping up, cleared
    m.swing_sample(order, walkway, 0, 1.85, 0.15, 2.08, 0.15, 0)
    m.swing_sample(order, walkway, 0, 2.1, 0.13, 2.33, 0.12, 0)
    m.heel_strike(order, walkway, 0, 2.1, 2.33, 1.9)
    assert m.done == [(0, 0, pytest.approx(0.03), LEG_CLEARED)]
    # a foot landing across the lip (heel on the street, toe on the stone): touched
    m.swing_sample(order, walkway, 1, 1.7, 0.14, 1.93, 0.14, 0)
    m.heel_strike(order, walkway, 1, 1.9, 2.13, 2.0)
    assert m.done[1] == (0, 1, pytest.approx(-0.12), LEG_TOUCHED)


def test_steady_rule_warm_up_speed_change_and_disturbance():
    st = StrideSteadiness()
    st.reset(0.0)
    t = 0.0
    flags = []
    for k in range(12):
        for _ in range(100):
            speed = 1.0 if k != 7 else 1.0 + 0.002 * _  # stride 7: the belt speeds up 0.2 m/s
            st.cycle(speed, disturbed=(k == 9))  # stride 9: an obstacle acts on the walk
        t += 1.0
        flags.append(st.heel_strike(0, t))
    assert flags[:WARMUP_STRIDES + 1] == [False] * (WARMUP_STRIDES + 1)  # first stride runs from the start
    assert flags[7] is False and flags[9] is False
    assert all(flags[k] for k in (5, 6, 8, 10, 11))


def test_insole_pitch_integrates_the_gyro_and_settles_on_the_belt_at_foot_flat():
    foot = InsoleFoot()
    standing = 800.0
    t = 0.0
    bias = 0.02
    g = 9.81
    # standing flat and still: bias learned, pitch that of the level belt
    for _ in range(400):
        t += 0.005
        assert foot.update(t, t, 300.0, 40.0, 60.0, bias, standing, 0.0, g) == 0
    assert foot.flat and foot.gyro_bias_radps == pytest.approx(bias, rel=1e-3)
    assert foot.pitch_rad == pytest.approx(0.0, abs=1e-5)
    # lift off, then rotate toe down at 2 rad/s for 0.1 s (accelerometer ignored in the air)
    t += 0.005
    assert foot.update(t, t, 0.0, 0.0, 0.0, bias, standing, 3.0, 3.0) == TOE_OFF
    for _ in range(20):
        t += 0.005
        foot.update(t, t, 0.0, 0.0, 0.0, 2.0 + bias, standing, 3.0, 3.0)
    # each sample's rate is the mean over its interval (docs/protocol.md): 20 x 5 ms x 2 rad/s,
    # and half an interval back the foot had turned half a sample less
    assert foot.pitch_rad == pytest.approx(0.2, abs=1e-5)
    assert foot.pitch_at(t - 0.0025) == pytest.approx(0.195, abs=1e-5)
    t += 0.005
    assert foot.update(t, t, 200.0, 0.0, 0.0, bias, standing, 0.0, g) == HEEL_STRIKE
    assert foot.event_t_s == pytest.approx(t - 0.0025)  # a jump: the middle of the interval
    # flat and still again: back to the belt's angle (0) although the accelerometer reads a 2
    # degree tilt (its bias: the real belt is level whatever the scene shows)
    tilt = math.radians(2.0)
    for _ in range(100):
        t += 0.005
        foot.update(t, t, 300.0, 40.0, 60.0, bias, standing, -g * math.sin(tilt), g * math.cos(tilt))
    assert foot.pitch_rad == pytest.approx(0.0, abs=1e-3)


def _flat_foot(w: float) -> tuple[InsoleFoot, float]:
    """An insole foot after 0.2 s standing flat (standing load w), and the time of its last sample."""
    foot = InsoleFoot()
    t = 0.0
    for _ in range(40):
        t += 0.005
        foot.update(t, t, 300.0, 40.0, 60.0, 0.0, w, 0.0, 9.81)
    return foot, t


def test_a_push_off_tail_with_one_noisy_drop_is_not_a_drag():
    """A lightly loaded (paretic) foot's push-off falls about DRAG_DROP a sample through the drag
    range; cell noise can make one sample drop by more and the next hold level. The load keeps
    falling after that: the contact ends when it reaches zero, not at the noisy drop (measured in
    simulate: toe offs 11-21 ms early with a one-sample level rule)."""
    w = 800.0
    foot, t = _flat_foot(w)
    events = []
    for load in (0.06, 0.05, 0.039, 0.027, 0.025, 0.017, 0.011, 0.0):  # a drop of 0.012, one level sample
        t += 0.005
        events.append((t, foot.update(t, t, 0.0, 0.0, load * w, 0.0, w, 0.0, 9.81)))
    toe_offs = [time for time, event in events if event == TOE_OFF]
    assert len(toe_offs) == 1 and toe_offs[0] >= events[-3][0] - 1e-9, events
    assert foot.event_t_s > events[4][0]  # not at the noisy drop (between samples 3 and 4)


def test_a_slow_push_off_with_a_noisy_drop_and_level_samples_is_not_a_drag():
    """At 0.25 m/s a paretic foot's push-off tail falls by ~0.004 W a sample, about the cells'
    noise: a noisy sample can drop by more than DRAG_DROP and the next two read level. The load
    falls on after that: the contact ends near zero, not at the drop (the loads below are the
    core's own, severe-stroke-slow seed 1 at 32.25-32.30 s: the two-sample rule ended this contact
    39 ms early)."""
    w = 543.7
    foot, t = _flat_foot(w)
    events = []
    for load in (0.0593, 0.0495, 0.0451, 0.0403, 0.0295, 0.0240, 0.0246, 0.0172, 0.0142, 0.0043, 0.0028, 0.0):
        t += 0.005
        events.append((t, foot.update(t, t, 0.0, 0.0, load * w, 0.0, w, 0.0, 9.81)))
    toe_offs = [time for time, event in events if event == TOE_OFF]
    assert len(toe_offs) == 1, events
    assert foot.event_t_s > events[8][0], (foot.event_t_s, events)  # past the tail's 0.0142 W


def test_a_push_off_falling_into_a_drag_over_two_samples_ends_the_contact_at_the_second():
    """A steep push-off whose weight comes off between two samples reaches the drag level in two
    drops, the second smaller than DRAG_DROP; the toe stays on the belt at about LOAD_OFF, so the
    threshold never ends the contact: the drag rule must (hemiparetic-left's sound foot under
    guidance: found when its toe lifted, 10-15 ms late)."""
    w = 535.0
    foot, t = _flat_foot(w)
    for load in (0.08, 0.065, 0.05, 0.036, 0.017):  # push-off unloads the forefoot fast...
        t += 0.005
        assert foot.update(t, t, 0.0, 0.0, load * w, 0.0, w, 0.0, 9.81) == 0
    t += 0.005
    t_off = t - 0.0025
    assert foot.update(t, t, 0.0, 0.0, 0.0105 * w, 0.0, w) == 0  # ...its last fall is the weight off
    events = []
    for load in (0.0102, 0.0104, 0.0103, 0.0105, 0.0102):  # the toe drags at about LOAD_OFF
        t += 0.005
        events.append(foot.update(t, t, 0.0, 0.0, load * w, 0.0, w))
    # reported once the level has held DRAG_LEVEL_SAMPLES samples, stamped at the second drop
    assert events.count(TOE_OFF) == 1 and events[DRAG_LEVEL_SAMPLES - 1] == TOE_OFF, events
    assert foot.event_t_s == pytest.approx(t_off)


def test_a_push_off_ending_on_a_drag_below_the_threshold_is_not_extrapolated_past_it():
    """The contact ends at a sample that is below LOAD_OFF but above the noise floor: on a ramp the
    line through the last two samples reaches zero after it, but a toe that stays on the belt
    holds its drag level instead: the weight came off in the crossing's interval (extrapolated to
    zero, the sound foot of a guided hemiparetic walker was found 10-12 ms late)."""
    w = 535.0
    foot, t = _flat_foot(w)
    for load in (0.05, 0.03, 0.016):
        t += 0.005
        assert foot.update(t, t, 0.0, 0.0, load * w, 0.0, w, 0.0, 9.81) == 0
    t += 0.005
    t_off = t - 0.0025
    events = [foot.update(t, t, 0.0, 0.0, 0.0085 * w, 0.0, w)]  # below LOAD_OFF: the contact ends
    for load in (0.0095, 0.009, 0.0092):  # ...and the toe drags at that level
        t += 0.005
        events.append(foot.update(t, t, 0.0, 0.0, load * w, 0.0, w))
    assert events.count(TOE_OFF) == 1, events
    assert foot.event_t_s == pytest.approx(t_off)


def test_a_push_off_ramp_to_zero_is_timed_by_its_line():
    """The same crossing followed by a load that goes on falling to zero: the line through the two
    samples at the crossing times the toe off (after the crossing sample)."""
    w = 535.0
    foot, t = _flat_foot(w)
    for load in (0.05, 0.03, 0.016):
        t += 0.005
        foot.update(t, t, 0.0, 0.0, load * w, 0.0, w, 0.0, 9.81)
    t += 0.005
    t_cross = t
    events = [foot.update(t, t, 0.0, 0.0, 0.0085 * w, 0.0, w)]
    for load in (0.001, 0.0, 0.0):
        t += 0.005
        events.append(foot.update(t, t, 0.0, 0.0, load * w, 0.0, w))
    assert events.count(TOE_OFF) == 1, events
    assert foot.event_t_s == pytest.approx(t_cross + 0.005 * 0.0085 / (0.016 - 0.0085))


def test_a_dragging_toe_ends_the_contact_at_the_drop():
    w = 800.0
    foot, t = _flat_foot(w)
    for load in (0.08, 0.065, 0.05, 0.045):  # push-off unloads the forefoot...
        t += 0.005
        assert foot.update(t, t, 0.0, 0.0, load * w, 0.0, w, 0.0, 9.81) == 0
    t += 0.005
    t_drop = t - 0.0025
    assert foot.update(t, t, 0.0, 0.0, 0.03 * w, 0.0, w) == 0  # ...then it drops to a drag level
    level = (0.031, 0.029, 0.0305, 0.0295, 0.03)[:DRAG_LEVEL_SAMPLES]
    for load in level[:-1]:
        t += 0.005
        assert foot.update(t, t, 0.0, 0.0, load * w, 0.0, w) == 0  # and stays...
    t += 0.005
    assert foot.update(t, t, 0.0, 0.0, level[-1] * w, 0.0, w) == TOE_OFF  # ...held: the toe drags
    assert foot.event_t_s == pytest.approx(t_drop)
    for _ in range(30):  # the drag goes on in swing: no new contact
        t += 0.005
        assert foot.update(t, t, 0.0, 0.0, 0.03 * w, 0.0, w) == 0
