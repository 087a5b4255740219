"""Where to draw the patient: the control core's distance s, extrapolated to display time.

The state block says where the belt was at the core's time `t_s`; a frame appears on the display
some milliseconds later. Drawing s as it was read would lag the belt by v * latency (9 mm per
6 ms at 1.5 m/s), so the camera goes to s + v dt + a dt^2 / 2 with dt = display time - t_s.
All times are time.monotonic() seconds: the core's clock and the UI's clock are the same
CLOCK_MONOTONIC on one machine. Pure functions and a small estimator; no Panda3D here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def route_position(s_m: float, route_length_m: float | None = None) -> tuple[float, float]:
    """(x, y) of route distance s on a straight route along +Y (Panda3D forward)."""
    if route_length_m is not None and route_length_m > 0.0:
        s_m = min(max(s_m, 0.0), route_length_m)
    return 0.0, s_m
