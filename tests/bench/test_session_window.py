"""bench session compares the core with the floor loop over the seconds both ran."""

from __future__ import annotations

import numpy as np

from bench.session import same_window


def test_core_and_floor_are_compared_over_their_common_seconds_only():
    # Core telemetry 10.0-20.0 s; floor wake-ups 5.0-25.0 s. Stalls: a 3.5 ms one at 7 s (floor
    # only: before the core's record starts), a 2.2 ms one at 15 s (both), a 4.0 ms one at 22 s
    # (floor only: after the core's record ends).
    core_t = np.arange(10.0, 20.0 + 1e-9, 0.001)
    core_late_us = np.zeros_like(core_t)
    core_late_us[np.argmin(np.abs(core_t - 15.0))] = 2200.0
    floor_wake = np.arange(5.0, 25.0 + 1e-9, 0.001)
    floor_late = np.zeros_like(floor_wake)
    for at_s, late_s in ((7.0, 0.0035), (15.0, 0.0021), (22.0, 0.004)):
        floor_late[np.argmin(np.abs(floor_wake - at_s))] = late_s
    w = same_window(core_t, core_late_us, floor_wake, floor_late)
    assert abs(w["window_s"] - 10.0) < 1e-6
    assert w["core_missed"] == 2 and w["floor_missed"] == 2  # floor(2.2) and floor(2.1); 3 + 4 left out
    assert w["core_max_us"] == 2200.0 and abs(w["floor_max_us"] - 2100.0) < 1e-6
