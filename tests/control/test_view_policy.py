"""The graded policy for a late patient view (supervisor.ViewPolicy), cycle by cycle.

The limits are checked against numbers worked out here by hand from the documented rule
(docs/control.md, "A slow patient view"), not against the function that implements it.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.control.supervisor import (
    LATE_DECEL_MPS2,
    VIEW_LATE_S,
    VIEW_RECOVERED_S,
    VIEW_STALE_MAX_S,
    ViewPolicy,
    view_stale_limit_s,
)

PERIOD_S = 0.001


def test_far_from_obstacles_a_stale_view_is_tolerated_until_the_near_zone_or_the_cap():
    assert VIEW_STALE_MAX_S == 3.5  # the design cap: a live software view draws every 1-3 s under load
    # 1 m/s, decel 0.5: stopping 1.0 + 0.1 m; 3 steps of 0.6 m = 1.8 m; an obstacle 10 m ahead:
    # 7.1 m (7.1 s) to the near zone + its 0.1 s -> the cap.
    assert view_stale_limit_s(1.0, 10.0, 0.5, 0.6) == VIEW_STALE_MAX_S
    # 4 m ahead: 4 - 1.1 - 1.8 = 1.1 m to the zone, 1.1 s at 1 m/s, + 0.1 s near limit = 1.2 s.
    assert math.isclose(view_stale_limit_s(1.0, 4.0, 0.5, 0.6), 1.2)
    # 0.5 m/s, 4 m ahead: stopping 0.25 + 0.05 = 0.3 m; 4 - 0.3 - 1.8 = 1.9 m -> 3.8 s + 0.2 s: the cap.
    assert view_stale_limit_s(0.5, 4.0, 0.5, 0.6) == VIEW_STALE_MAX_S
    # ... 3 m ahead: 0.9 m -> 1.8 s + 0.2 s = 2.0 s.
    assert math.isclose(view_stale_limit_s(0.5, 3.0, 0.5, 0.6), 2.0)
    assert view_stale_limit_s(1.0, math.inf, 0.5, 0.6) == VIEW_STALE_MAX_S
    assert view_stale_limit_s(0.0, 0.5, 0.5, 0.6) == VIEW_STALE_MAX_S  # standing belt


def test_near_an_obstacle_the_limit_is_the_lag_of_the_world_shown():
    # Obstacle 2.5 m ahead at 1 m/s: 2.5 - 1.1 = 1.4 m < 1.8 m -> near; 0.1 m / 1 m/s = 0.1 s.
    assert math.isclose(view_stale_limit_s(1.0, 2.5, 0.5, 0.6), 0.1)
    # At 0.4 m/s: stopping 0.16 + 0.04 = 0.2 m; 1.5 m ahead is near; 0.1 / 0.4 = 0.25 s.
    assert math.isclose(view_stale_limit_s(0.4, 1.5, 0.5, 0.6), 0.25)
    # Very slow walking near it: 0.1 m / 0.06 m/s = 1.67 s; slower still, never more than the cap.
    assert math.isclose(view_stale_limit_s(0.06, 0.1, 0.5, 0.6), 0.1 / 0.06)
    assert view_stale_limit_s(0.02, 0.1, 0.5, 0.6) == VIEW_STALE_MAX_S


@settings(max_examples=300, deadline=None)
@given(v=st.floats(-5, 5), d=st.one_of(st.floats(-50, 50), st.just(math.nan), st.just(math.inf)),
       decel=st.floats(-1, 3), step=st.floats(0, 1.5))
def test_the_limit_is_always_between_the_late_threshold_and_the_cap(v, d, decel, step):
    limit = view_stale_limit_s(v, d, decel, step)
    assert VIEW_LATE_S <= limit <= VIEW_STALE_MAX_S


def _run(policy: ViewPolicy, t0: float, seconds: float, frame_every_s: float | None, speed: float,
         obstacle_m: float = math.inf) -> tuple[float, list[int], list[float]]:
    states, caps = [], []
    t = t0
    next_frame = t0
    for _ in range(int(seconds / PERIOD_S)):
        t += PERIOD_S
        if frame_every_s is not None and t >= next_frame:
            policy.frame_seen(t)
            next_frame = t + frame_every_s
        states.append(policy.update(t, PERIOD_S, True, speed, obstacle_m, 0.5, 0.6))
        caps.append(policy.cap_mps)
    return t, states, caps


def test_no_view_means_no_grading():
    policy = ViewPolicy()
    _, states, _ = _run(policy, 0.0, 3.0, None, 1.0)
    assert set(states) == {ViewPolicy.OK}


def test_slow_frames_are_late_slow_the_belt_gently_and_never_stop():
    policy = ViewPolicy()
    t, states, _ = _run(policy, 0.0, 1.0, 0.02, 1.0)
    assert set(states) == {ViewPolicy.OK}
    t, states, caps = _run(policy, t, 10.0, 0.3, 1.0)  # a frame every 300 ms, for 10 s
    assert ViewPolicy.STALE not in states
    assert ViewPolicy.LATE in states
    late = [c for c in caps if math.isfinite(c)]
    drops = [a - b for a, b in zip(late, late[1:], strict=False)]
    assert max(drops) <= LATE_DECEL_MPS2 * PERIOD_S * 1.0001  # gentle
    # Down to the speed at which a frame every 0.3 s lags the belt by at most 0.1 m (with a 1.25
    # margin): 0.1 / (1.25 * 0.3) = 0.267 m/s, under half the cruise speed; not to a stop.
    assert math.isclose(late[-1], 0.1 / (1.25 * 0.3), rel_tol=0.02)
    # Fresh frames again: back to OK after VIEW_RECOVERED_S, cap lifted.
    t, states, caps = _run(policy, t, VIEW_RECOVERED_S + 0.2, 0.02, 0.267)
    assert states[-1] == ViewPolicy.OK and math.isinf(caps[-1])


def test_a_frozen_view_stops_after_the_cap_far_from_obstacles():
    policy = ViewPolicy()
    t, _, _ = _run(policy, 0.0, 0.5, 0.02, 1.0)
    last_frame = policy.frame_t_s
    t, states, _ = _run(policy, t, VIEW_STALE_MAX_S + 0.5, None, 1.0)
    first_stale = states.index(ViewPolicy.STALE)
    stale_t = t - (VIEW_STALE_MAX_S + 0.5) + (first_stale + 1) * PERIOD_S
    assert VIEW_STALE_MAX_S - 1e-6 < stale_t - last_frame <= VIEW_STALE_MAX_S + 2 * PERIOD_S
    assert states[-1] == ViewPolicy.STALE  # sticky while moving


def test_near_an_obstacle_a_late_view_stops_early():
    policy = ViewPolicy()
    t, _, _ = _run(policy, 0.0, 0.5, 0.02, 1.0, obstacle_m=2.0)
    last_frame = policy.frame_t_s
    t, states, _ = _run(policy, t, 1.0, None, 1.0, obstacle_m=2.0)
    stale_t = t - 1.0 + (states.index(ViewPolicy.STALE) + 1) * PERIOD_S
    assert 0.1 - 1e-6 < stale_t - last_frame <= 0.1 + 2 * PERIOD_S


def test_the_policy_resets_when_the_belt_stands():
    policy = ViewPolicy()
    t, _, _ = _run(policy, 0.0, 0.5, 0.02, 1.0)
    t, states, _ = _run(policy, t, VIEW_STALE_MAX_S + 0.5, None, 1.0)
    assert states[-1] == ViewPolicy.STALE
    assert policy.update(t + PERIOD_S, PERIOD_S, False, 0.0, math.inf, 0.5, 0.6) == ViewPolicy.OK


def test_a_live_view_drawing_every_2_5_s_walks_on_and_crawls_only_near_an_obstacle():
    """The software renderer under a CPU hog: frames 1-3 s apart, alive. Far from the obstacle
    the belt slows to 0.1 m/s (LATE_SPEED_FAR_MPS) and walks on; from 0.35 m before the zone near
    it (stopping distance + 3 steps of 0.6 m) to the speed at which a frame lags the belt by at
    most 0.1 m: 0.1 / (1.25 x 2.5) = 0.032 m/s. No stop. (A view that turns slow suddenly just
    before an obstacle stops: test_near_an_obstacle_a_late_view_stops_early.)"""
    policy = ViewPolicy()
    t, _, _ = _run(policy, 0.0, 0.5, 0.02, 1.0)
    speed, s_m, states, next_frame = 1.0, 0.0, [], t + 2.5
    far_speeds = []
    for _ in range(int(60.0 / PERIOD_S)):
        t += PERIOD_S
        if t >= next_frame:
            policy.frame_seen(t)
            next_frame = t + 2.5
        obstacle_m = 12.0 - s_m
        states.append(policy.update(t, PERIOD_S, True, speed, obstacle_m, 0.5, 0.6, cruise_mps=1.0))
        speed = min(speed, policy.cap_mps)
        s_m += speed * PERIOD_S
        if 20.0 < t < 25.0:
            far_speeds.append(speed)
    assert ViewPolicy.STALE not in states
    assert math.isclose(max(far_speeds), 0.1, rel_tol=0.02)  # far: walks on at 0.1 m/s
    # It came to 0.35 m before the zone (12 m - 3 steps of 0.6 m - the stopping distance, ~0) and
    # crawls from there.
    assert 12.0 - s_m < 1.8 + 0.35 + 0.01
    assert math.isclose(speed, 0.1 / (1.25 * 2.5), rel_tol=0.02)


def test_a_view_late_from_the_start_still_walks_at_the_late_fraction_of_cruise():
    policy = ViewPolicy()
    policy.frame_seen(0.0)
    # Belt standing at the start, cruise 1.0 m/s, frames every 300 ms: the cap is half of cruise.
    assert policy.update(0.2, PERIOD_S, True, 0.0, math.inf, 0.5, 0.6, cruise_mps=1.0) == ViewPolicy.LATE
    assert math.isclose(policy.cap_mps, 0.5)


def test_a_slow_view_near_an_obstacle_is_slowed_to_its_limit_not_stopped():
    policy = ViewPolicy()
    t, _, _ = _run(policy, 0.0, 0.5, 0.02, 0.8)
    # Frames every 0.25 s from now on; the belt follows the cap (as the supervisor would).
    speed = 0.8
    states = []
    next_frame = t
    for _ in range(int(20.0 / PERIOD_S)):
        t += PERIOD_S
        if t >= next_frame:
            policy.frame_seen(t)
            next_frame = t + 0.25
        obstacle_m = 1.5 if t > 10.0 else 30.0  # an obstacle close ahead for the last 10 s
        states.append(policy.update(t, PERIOD_S, True, speed, obstacle_m, 0.5, 0.6, cruise_mps=0.8))
        speed = min(speed, policy.cap_mps)
    assert ViewPolicy.STALE not in states
    assert speed <= 0.1 / 0.25 + 1e-6  # slow enough that 0.25 s of lag is <= 0.1 m
