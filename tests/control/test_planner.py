"""The obstacle planner with a simple belt: speed profiles, swing prediction, outcomes."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.control.layout import ObstacleCategory, ObstacleOutcome
from engine.control.planner import Planner
from engine.control.prescription import Prescription
from engine.control.supervisor import Limits, Supervisor
from tests.control.helpers import timeline_rows

DT = 0.001


def _drive(planner: Planner, seconds: float, cruise: float, sup: Supervisor, s0: float = 0.0):
    """Integrate s with the supervised speed; returns lists of (t, s, v)."""
    s, t = s0, 0.0
    trace = []
    feet = [0.3, -0.3]
    for _ in range(int(seconds / DT)):
        target = planner.plan(s, t, cruise, sup.limits.max_speed_mps, sup.limits.max_decel_mps2,
                              feet, [False, False], 0.6)
        v = sup.step_speed(target, DT)
        s += v * DT
        t += DT
        trace.append((t, s, v))
    return trace


def test_triggered_yield_stops_before_the_line_waits_and_resumes():
    rx = Prescription(max_speed_mps=1.0, max_accel_mps2=0.5, max_decel_mps2=0.8)
    sup = Supervisor(Limits.from_prescription(rx))
    planner = Planner()
    planner.load(timeline_rows(dict(category=ObstacleCategory.YIELD, at_m=6.0, depth_m=2.0, stop_gap_m=1.0,
                                    speed_fraction=0.0, trigger_m=3.0, duration_s=4.0)), 1, 100.0)
    trace = _drive(planner, 16.0, 1.0, sup)
    stopped = [(t, s) for t, s, v in trace if v == 0.0 and s > 1.0]
    assert stopped, "never stopped"
    assert max(s for _, s in stopped) < 5.0  # the stop line
    assert max(s for _, s in stopped) > 4.8  # but close to it, not far before
    wait = stopped[-1][0] - stopped[0][0]
    assert 0.5 < wait < 4.0
    assert trace[-1][2] == 1.0  # back at cruise
    assert planner.obstacles[0].outcome == ObstacleOutcome.PASSED


def test_periodic_light_is_passed_through_when_it_turns_red_behind_the_stop_line():
    rx = Prescription(max_speed_mps=1.0)
    sup = Supervisor(Limits.from_prescription(rx))
    planner = Planner()
    # Red from 5.2 s in each 20 s cycle: the walker reaches the stop line (5 m) at ~5.5 s.
    planner.load(timeline_rows(dict(category=ObstacleCategory.YIELD, at_m=5.5, depth_m=1.0, stop_gap_m=0.5,
                                    period_s=20.0, active_s=10.0, phase_s=14.8)), 1, 100.0)
    trace = _drive(planner, 3.0, 1.0, sup)
    assert min(v for t, s, v in trace if t > 2.5) > 0.9  # green: no slowing
    # Jump ahead: place the walker past the stop line when the light turns red.
    planner2 = Planner()
    planner2.load(timeline_rows(dict(category=ObstacleCategory.YIELD, at_m=5.5, depth_m=1.0, stop_gap_m=0.5,
                                     period_s=20.0, active_s=10.0, phase_s=15.0)), 1, 100.0)
    target = planner2.plan(5.1, 4.0, 1.0, 1.0, 0.8, [0.0, 0.0], [False, False], 0.6)  # green, past line
    assert target == 1.0
    target = planner2.plan(5.2, 5.1, 1.0, 1.0, 0.8, [0.0, 0.0], [False, False], 0.6)  # red now
    assert target == 1.0  # committed: carries on


@settings(max_examples=60, deadline=None)
@given(at_m=st.floats(2.0, 30.0), gap=st.floats(0.0, 2.0), frac=st.floats(0.0, 1.0),
       trigger=st.floats(0.0, 1.0), duration=st.floats(0.1, 5.0))
def test_yield_never_asks_for_more_than_cruise_and_stays_supervised(at_m, gap, frac, trigger, duration):
    rx = Prescription(max_speed_mps=1.2)
    sup = Supervisor(Limits.from_prescription(rx))
    planner = Planner()
    planner.load(timeline_rows(dict(category=ObstacleCategory.YIELD, at_m=at_m, depth_m=0.5, stop_gap_m=gap,
                                    speed_fraction=frac, trigger_m=trigger * at_m, duration_s=duration)), 1, 0.0)
    previous = 0.0
    for _, _, v in _drive(planner, 6.0, 1.0, sup):
        assert 0.0 <= v <= 1.0 + 1e-9
        assert abs(v - previous) <= 0.8 * DT + 1e-9
        previous = v


def test_step_over_predicts_the_crossing_swings_and_decides_an_outcome():
    planner = Planner()
    planner.load(timeline_rows(dict(category=ObstacleCategory.STEP_OVER, at_m=2.0, depth_m=0.2, height_m=0.1)), 1, 0.0)
    # Left foot planted at 1.6, right at 1.0 (behind): the right foot's next swing lands at
    # about 1.6 + 0.6 = 2.2, past the near edge: the right swing crosses.
    planner.plan(1.3, 1.0, 1.0, 1.2, 0.8, [1.6, 1.0], [False, False], 0.6)
    assert planner.boost[1] > 0.0 and planner.boost[0] == 0.0
    assert planner.guidance_raise > 0.0
    # the crossing swing's hazard ends at the far edge (the reference holds it until the heel is past)
    assert math.isclose(planner.crossing_end_m[1], 2.2, abs_tol=1e-6) and planner.crossing_end_m[0] == -math.inf
    # The toe passes over the curb 0.15 m high: margin 0.05.
    planner.toe_over(1, 1.9, 2.05, 0.15)
    planner.heel_strike(1, 1.0, 2.3, 1.6)
    assert planner.obstacles[0].outcome == ObstacleOutcome.PENDING  # the left foot has yet to cross
    planner.plan(1.8, 1.5, 1.0, 1.2, 0.8, [1.6, 2.3], [False, False], 0.6)
    assert planner.boost[0] > 0.0  # now the left (trailing) swing crosses
    planner.toe_over(0, 1.95, 2.1, 0.08)  # too low: 2 cm under the top
    planner.heel_strike(0, 1.6, 2.9, 2.2)
    ob = planner.obstacles[0]
    assert ob.outcome == ObstacleOutcome.HIT
    assert math.isclose(ob.margin_m, -0.02, abs_tol=1e-6)
    assert planner.outcomes == [ob]


def test_landing_in_a_puddle_is_a_hit():
    planner = Planner()
    planner.load(timeline_rows(dict(category=ObstacleCategory.STEP_OVER, at_m=2.0, depth_m=0.5, height_m=0.0)), 1, 0.0)
    planner.heel_strike(0, 1.5, 2.2, 1.9)  # the heel came down in the water
    planner.heel_strike(1, 1.2, 2.8, 2.4)
    assert planner.obstacles[0].outcome == ObstacleOutcome.HIT


def test_route_end_is_a_stop():
    rx = Prescription(max_speed_mps=1.0)
    sup = Supervisor(Limits.from_prescription(rx))
    planner = Planner()
    planner.load(timeline_rows(), 0, 5.0)
    trace = _drive(planner, 12.0, 1.0, sup)
    assert trace[-1][2] == 0.0
    assert 4.5 < trace[-1][1] <= 5.0


def test_step_over_beside_the_walking_lane_is_walked_past():
    from engine.control.planner import WALKING_LANE_HALF_WIDTH_M, in_walking_lane

    assert in_walking_lane(0.0, 0.5) and in_walking_lane(0.6, 0.5)  # reaches to 0.35 m: inside
    assert not in_walking_lane(0.9, 0.5)  # 0.65..1.15 m: beside the lane
    assert not in_walking_lane(-(WALKING_LANE_HALF_WIDTH_M + 0.01), 0.0)
    planner = Planner()
    planner.load(timeline_rows(
        dict(category=ObstacleCategory.STEP_OVER, at_m=2.0, depth_m=0.3, height_m=0.2, lateral_m=0.9, width_m=0.5,
             speed_fraction=0.3),
        dict(category=ObstacleCategory.STEP_OVER, at_m=5.0, depth_m=0.3, height_m=0.1, lateral_m=0.0, width_m=0.5)), 2, 0.0)
    target = planner.plan(1.3, 1.0, 1.0, 1.2, 0.8, [1.6, 1.0], [False, False], 0.6)
    assert target == 1.0 and planner.boost == [0.0, 0.0]  # no slowing, no lift for the one beside
    assert planner.next_obstacle == 1  # the HUD announces the one in the lane
    planner.heel_strike(1, 1.0, 2.1, 1.6)  # a foot even lands in its along-route span
    planner.heel_strike(0, 1.6, 2.6, 2.2)
    planner.sweep(4.0)
    assert planner.obstacles[0].outcome == ObstacleOutcome.PENDING and planner.outcomes == []


def test_scene_lateral_reaches_the_planner():
    from engine.scene.model import Scene
    from engine.scene.timeline import scene_to_timeline

    scene = Scene.model_validate({
        "id": "lane-test", "title": "Lane", "difficulty": "gentle", "environment": {"type": "grocery_store"},
        "route_length_m": 50,
        "obstacles": [{"kind": "box", "at_m": 10, "width_m": 0.4, "lateral_m": 0.9},
                      {"kind": "box", "at_m": 20, "width_m": 0.4, "lateral_m": 0.3}]})
    rows = scene_to_timeline(scene)
    assert list(rows["width_m"]) == [0.4, 0.4]
    planner = Planner()
    planner.load(rows, len(rows), 50.0)
    assert [ob.in_lane for ob in planner.obstacles] == [False, True]


def test_a_crossing_step_longer_than_the_usual_one_is_lifted_per_leg():
    """The patient lengthens the step over an obstacle (and shortens the ones before): a swing
    is lifted when this leg's measured step, lengthened up to REACH_FACTOR, reaches the near edge
    from the other foot; each leg by its own step length."""
    from engine.control.planner import REACH_FACTOR

    planner = Planner()
    planner.load(timeline_rows(dict(category=ObstacleCategory.STEP_OVER, at_m=2.0, depth_m=0.2, height_m=0.1)), 1, 0.0)
    # Left planted at 1.3, right at 0.9: the right leg's usual 0.5 m step lands at 1.8, short of
    # the box, but a crossing step of up to 0.75 m from 1.3 reaches it: lifted.
    assert 1.3 + 0.5 < 2.0 - 0.05 < 1.3 + REACH_FACTOR * 0.5
    planner.plan(1.0, 1.0, 1.0, 1.2, 0.8, [1.3, 0.9], [False, False], [0.3, 0.5])
    assert planner.boost[1] > 0.0
    # The left leg steps 0.3 m: from the right foot at 0.9 it cannot reach 1.95 m: not lifted.
    assert planner.boost[0] == 0.0
    # Once the right foot has landed short (at 1.7, an approach step), the left swing can reach
    # past the edge from there: lifted.
    planner.heel_strike(1, 0.9, 1.7, 1.2)
    planner.plan(1.3, 1.5, 1.0, 1.2, 0.8, [1.3, 1.7], [False, False], [0.3, 0.5])
    assert planner.boost[0] > 0.0  # 1.7 + 0.45 reaches 1.95: the left swing may cross now
