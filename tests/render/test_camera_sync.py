"""Camera synchronisation: s extrapolated to display time (pure functions)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.render.camera_sync import (
    MAX_HORIZON_S,
    MAX_TRUTH_SHIFT_S,
    DisplayClock,
    PresentClock,
    belt_at_s,
    extrapolate_s,
    route_position,
)


def test_constant_speed_moves_v_dt():
    # 1.5 m/s, display 20 ms after the sample: 30 mm further.
    assert extrapolate_s(10.0, 1.5, 0.0, 100.0, 100.020) == pytest.approx(10.030)


def test_acceleration_term():
    assert extrapolate_s(0.0, 1.0, 0.5, 0.0, 0.1) == pytest.approx(0.1 + 0.5 * 0.5 * 0.01)


def test_display_before_sample_draws_the_sample():
    assert extrapolate_s(5.0, 1.5, 0.0, 10.0, 9.99) == 5.0


def test_a_stalled_core_never_flies_the_view_forward():
    # A state sample 3 s old (core frozen): at most MAX_HORIZON_S of motion is added.
    assert extrapolate_s(5.0, 1.5, 0.0, 0.0, 3.0) == pytest.approx(5.0 + 1.5 * MAX_HORIZON_S)


def test_deceleration_stops_instead_of_reversing():
    # 0.2 m/s braking at 5 m/s2 stops after 4 mm, well inside a 100 ms horizon.
    assert extrapolate_s(1.0, 0.2, -5.0, 0.0, 0.1) == pytest.approx(1.0 + 0.2**2 / 10.0)


@given(
    s=st.floats(0, 1000), v=st.floats(-1, 3), a=st.floats(-3, 3),
    dt=st.floats(-1, 5),
)
def test_extrapolation_is_bounded_and_never_backwards(s, v, a, dt):
    out = extrapolate_s(s, v, a, 0.0, dt)
    assert math.isfinite(out)
    assert out >= s - 1e-9
    assert out <= s + 3 * MAX_HORIZON_S + 0.5 * 3 * MAX_HORIZON_S**2 + 1e-9


@given(v=st.floats(0.1, 2.0), dt=st.floats(0.0, 0.05))
def test_constant_speed_error_is_zero_at_the_true_display_time(v, dt):
    # The belt at constant speed: extrapolation hits the true position exactly.
    s0 = 3.0
    assert extrapolate_s(s0, v, 0.0, 1.0, 1.0 + dt) == pytest.approx(s0 + v * dt, abs=1e-9)


@given(s1=st.floats(0.0, 100.0), v1=st.floats(0.3, 2.0), a=st.floats(-3.0, 3.0), back_s=st.floats(0.0, 0.05))
def test_a_newer_sample_is_carried_back_to_where_the_belt_was(s1, v1, a, back_s):
    # A belt under constant acceleration, sampled at t1 = 1 s (position s1, speed v1): where it
    # was back_s earlier follows from the motion itself, s(t) = s1 + v1 (t - t1) + a (t - t1)^2 / 2
    # (speeds stay positive over the interval: v1 >= 0.3, |a| back_s <= 0.15).
    t1 = 1.0
    t0 = t1 - back_s
    truth = s1 - v1 * back_s + 0.5 * a * back_s**2
    assert belt_at_s(s1, v1, a, t1, t0) == pytest.approx(truth, abs=1e-9)


def test_a_sample_at_the_moment_is_the_belt_there():
    assert belt_at_s(7.25, 1.2, 0.4, 3.0, 3.0) == 7.25


def test_an_older_sample_is_carried_forward_like_the_camera():
    assert belt_at_s(2.0, 1.0, 0.0, 5.0, 5.004) == pytest.approx(2.004)


def test_the_truth_is_carried_at_most_max_truth_shift_either_way():
    assert belt_at_s(10.0, 1.0, 0.0, 5.0, 4.0) == pytest.approx(10.0 - MAX_TRUTH_SHIFT_S)
    assert belt_at_s(10.0, 1.0, 0.0, 5.0, 6.0) == pytest.approx(10.0 + MAX_TRUTH_SHIFT_S)


def test_a_belt_carried_back_never_lies_ahead_of_its_sample():
    # Strong acceleration over a short span never turns "earlier" into "further along".
    assert belt_at_s(1.0, 0.0, 5.0, 1.0, 0.96) == 1.0
    assert belt_at_s(1.0, float("nan"), float("nan"), 1.0, 0.99) == 1.0


def test_non_finite_inputs_are_safe():
    assert extrapolate_s(1.0, float("nan"), 0.0, 0.0, 0.01) == 1.0
    assert extrapolate_s(1.0, 1.0, float("inf"), 0.0, 0.01) == pytest.approx(1.01)
    assert extrapolate_s(1.0, 1.0, 0.0, float("nan"), 0.01) == 1.0


def test_display_clock_learns_the_draw_time():
    clock = DisplayClock(display_latency_s=0.004, draw_time_s=0.0)
    for _ in range(100):
        clock.observe(0.010)
    assert clock.predict(5.0) == pytest.approx(5.014, abs=1e-4)
    clock.observe(float("nan"))
    clock.observe(5.0)  # a debugger pause is not a draw time
    assert clock.draw_time_s == pytest.approx(0.010, abs=1e-4)


def test_present_clock_holds_each_frame_for_the_longest_recent_draw():
    clock = PresentClock(display_latency_s=0.004, window_s=2.0, margin_s=0.002, max_budget_s=0.5,
                         initial_budget_s=0.02, min_frames=1)
    assert clock.present_at(10.0) == pytest.approx(10.02)  # nothing learnt yet
    for camera_s, draw_s in ((0.0, 0.010), (1.0, 0.030), (2.0, 0.015)):
        clock.observe(camera_s, camera_s + draw_s)
    assert clock.budget_s() == pytest.approx(0.032)  # the longest of the window + the margin
    assert clock.display_at(5.0) == pytest.approx(5.036)  # + the scan-out
    clock.observe(3.5, 3.512)
    assert clock.budget_s() == pytest.approx(0.017)  # the 30 ms draw (camera at 1.0) left the window
    clock.observe(3.6, 5.6)
    assert clock.budget_s() == 0.5  # capped
    clock.observe(9.0, float("nan"))
    clock.observe(9.5, 9.0)  # a clock going backwards is not a draw time
    assert clock.budget_s() == 0.5  # nothing learnt from those, but time moved on: ...
    clock.observe(9.6, 9.61)
    assert clock.budget_s() == pytest.approx(0.012)  # ... the 2 s draw aged out


def test_present_clock_keeps_at_least_min_frames_of_a_slow_renderer():
    # Two frames a second: the 2 s window alone would hold 4 frames; min_frames keeps 6.
    clock = PresentClock(window_s=2.0, margin_s=0.0, min_frames=6)
    draws = [0.30, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10]
    for k, draw_s in enumerate(draws):
        clock.observe(0.5 * k, 0.5 * k + draw_s)
    # Frames 2..7 kept (camera 1.0-3.5 s): the 0.3 s draw (frame 0) left, though not by time alone.
    assert clock.budget_s() == pytest.approx(0.10)
    clock.observe(4.0, 4.05)
    assert clock.budget_s() == pytest.approx(0.10)  # six frames, all within 2.0-4.0 s or kept
    slow = PresentClock(window_s=2.0, margin_s=0.0, min_frames=8)
    for k, draw_s in enumerate(draws):
        slow.observe(0.5 * k, 0.5 * k + draw_s)
    assert slow.budget_s() == pytest.approx(0.30)  # eight frames kept: the 3.5 s old one too


def test_route_position_is_clamped_to_the_route():
    assert route_position(5.0) == (0.0, 5.0)
    assert route_position(-1.0, 100.0) == (0.0, 0.0)
    assert route_position(150.0, 100.0) == (0.0, 100.0)
