"""Where to draw the patient: the control core's distance s, extrapolated to display time.

The state block says where the belt was at the core's time `t_s`; a frame appears on the display
some milliseconds later. Drawing s as it was read would lag the belt by v * latency (9 mm per
6 ms at 1.5 m/s), so the camera goes to s + v dt + a dt^2 / 2 with dt = display time - t_s.
All times are time.monotonic() seconds: the core's clock and the UI's clock are the same
CLOCK_MONOTONIC on one machine. Pure functions and a small estimator; no Panda3D here.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

# Never extrapolate further than this: a stalled core must freeze the view, not fly it forward.
MAX_HORIZON_S = 0.1


def extrapolate_s(
    s_m: float,
    speed_mps: float,
    accel_mps2: float,
    state_t_s: float,
    display_t_s: float,
    max_horizon_s: float = MAX_HORIZON_S,
) -> float:
    """s at display_t_s from a state sample at state_t_s, assuming constant acceleration.

    The horizon is clamped to [0, max_horizon_s]; the belt never runs backwards, so a
    decelerating belt stops where it would come to rest instead of reversing.
    """
    dt = display_t_s - state_t_s
    if not math.isfinite(dt) or dt <= 0.0:
        return s_m
    dt = min(dt, max_horizon_s)
    v = max(0.0, speed_mps) if math.isfinite(speed_mps) else 0.0
    a = accel_mps2 if math.isfinite(accel_mps2) else 0.0
    if a < 0.0 and v + a * dt < 0.0:
        return s_m + v * v / (2.0 * -a)  # comes to rest within the horizon
    return s_m + v * dt + 0.5 * a * dt * dt


# A truth sample (belt_at_s) is carried at most this far either way: a state sample is at most one
# treadmill status period (4 ms) old when read, and read within milliseconds of the moment wanted.
MAX_TRUTH_SHIFT_S = 0.05


def belt_at_s(s_m: float, speed_mps: float, accel_mps2: float, sample_t_s: float, at_t_s: float) -> float:
    """Where the belt was at at_t_s, from a state sample taken at sample_t_s before or after it.

    The measurement side of `extrapolate_s`: a frame's error is taken against the belt at the
    moment the frame was shown, and the state sample read for it may be older (carried forward)
    or, when reading it was delayed, newer than that moment (carried back, at its speed: drawing
    it as read would count the belt's travel during the delay as the frame's error). The shift
    is bounded by MAX_TRUTH_SHIFT_S; a belt carried back never goes behind where it stops."""
    dt = at_t_s - sample_t_s
    if not math.isfinite(dt) or dt >= 0.0:
        return extrapolate_s(s_m, speed_mps, accel_mps2, sample_t_s, at_t_s, MAX_TRUTH_SHIFT_S)
    dt = max(dt, -MAX_TRUTH_SHIFT_S)
    v = max(0.0, speed_mps) if math.isfinite(speed_mps) else 0.0
    a = accel_mps2 if math.isfinite(accel_mps2) else 0.0
    return s_m + min(0.0, v * dt + 0.5 * a * dt * dt)


@dataclass
class DisplayClock:
    """Predicts when the frame being built will be shown.

    Latency = the time the renderer takes to finish a frame (learned, exponential mean of the
    measured draw time) + a fixed display latency (scan-out; a headset runtime gives its own
    photon time and bypasses this). Feed it each frame's measured draw time with `observe`.
    """

    display_latency_s: float = 0.0
    draw_time_s: float = 0.005
    smoothing: float = 0.1

    def predict(self, now_s: float) -> float:
        """Display time of a frame whose drawing starts at now_s."""
        return now_s + self.draw_time_s + self.display_latency_s

    def observe(self, draw_time_s: float) -> None:
        """Learn from one measured draw time (frame start to the buffer being complete)."""
        if math.isfinite(draw_time_s) and 0.0 <= draw_time_s < 1.0:
            self.draw_time_s += self.smoothing * (draw_time_s - self.draw_time_s)


@dataclass
class PresentClock:
    """When a paced frame (no headset) will be presented, so that it can be drawn for then.

    A headset's compositor shows each frame at a vsync it announces in advance, and the runtime
    hands the renderer poses predicted for that moment; how long the frame took to draw does not
    move it. A desktop window or an offscreen buffer shows a frame when it is flipped. Flipped as
    soon as it is drawn, its display time is only known after the fact, and a software renderer's
    draw time on a busy machine varies by tens of milliseconds from frame to frame (the camera's
    s was then off by v times that variation: bench session measured 28-65 mm p99). So these frames
    are handled like a compositor's: when the camera is placed, the frame is given a presentation
    time `camera time + budget`, drawn for that time, and held (not flipped) until it. The budget
    is the longest camera-to-complete time of the frames of the last `window_s` plus `margin_s`,
    so nearly every frame is complete by its presentation time; one that is not is presented at
    once (late) and the budget grows to cover it. Measured on the loaded 2-CPU machine (grocery,
    428 frames): render times p50 44 ms, p99 128 ms; the old draw-time mean mispredicted display
    time by 64 ms at p99, this budget leaves 0.5 % of frames more than 5 ms late. The cost is
    latency (the budget: a desktop view has no head tracking to lag, and the drawn position is
    right for when it shows) and frame rate where the budget and a frame's other work together
    exceed the frame period. A time window (not a frame count) lets one slow frame age out at
    any frame rate; `max_budget_s` bounds the latency. Times are time.monotonic() seconds.
    """

    display_latency_s: float = 0.0  # scan-out after the flip (a window: about one refresh)
    window_s: float = 3.0
    # ...and never fewer than this many frames: the longest of the last n draws is exceeded by the
    # next one about 1 time in n+1, and a slow renderer (6-8 frames/s under load, bench session
    # at load 15) has only ~20 frames in 3 s: 4-9 % of its frames were late (issue 17).
    min_frames: int = 100
    margin_s: float = 0.004  # the hold's own wake-up lateness
    max_budget_s: float = 0.5
    initial_budget_s: float = 0.02
    _draws: collections.deque = field(default_factory=collections.deque)  # (camera_s, draw_s)

    def budget_s(self) -> float:
        """Camera placement to presentation, for the frame being built now."""
        if not self._draws:
            return self.initial_budget_s
        return min(self.max_budget_s, max(draw for _, draw in self._draws) + self.margin_s)

    def present_at(self, camera_s: float) -> float:
        """Presentation (flip) time of a frame whose camera is placed at camera_s."""
        return camera_s + self.budget_s()

    def display_at(self, camera_s: float) -> float:
        """When that frame is on the display: what the camera is placed for."""
        return self.present_at(camera_s) + self.display_latency_s

    def observe(self, camera_s: float, complete_s: float) -> None:
        """Learn from one frame: when its camera was placed and when it was complete."""
        draw_s = complete_s - camera_s
        if math.isfinite(draw_s) and 0.0 <= draw_s < 10.0:
            self._draws.append((camera_s, draw_s))
        while len(self._draws) > max(1, self.min_frames) and self._draws[0][0] < camera_s - self.window_s:
            self._draws.popleft()


def route_position(s_m: float, route_length_m: float | None = None) -> tuple[float, float]:
    """(x, y) of route distance s on a straight route along +Y (Panda3D forward)."""
    if route_length_m is not None and route_length_m > 0.0:
        s_m = min(max(s_m, 0.0), route_length_m)
    return 0.0, s_m
