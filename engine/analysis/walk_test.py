"""Comfortable- and fast-speed protocols on a self-paced belt, timed like a 10-metre walk test.

A trial is one walking bout (the belt moves from standstill and stops again): the first
RUN_IN_M are the acceleration run-in, the next TIMED_M are timed, the rest (at least RUN_OUT_M)
lets the patient slow down outside the timed stretch, as the 10MWT times the middle 6 m of 10
(2 m acceleration, 2 m deceleration). Speed of a trial = TIMED_M / time over the timed stretch;
the protocol's result is the mean of the trials that covered the whole course.
Distance is the patient's over-ground distance: the belt's (encoder) distance plus the patient's
place on the belt (the distance sensor, averaged over about a step as the self-paced law sees
it). The belt distance alone is not enough: while the belt catches up a patient who set off
ahead of it, it runs faster than they walk (measured: +6 % on a healthy simulated patient).
"""

from __future__ import annotations

import math

import numpy as np

# The 10MWT's 2 m run-in is for walking over ground; on a self-paced belt the patient and the
# belt reach a steady speed later (Plotnik et al. 2015: 24.6 +/- 14.7 m with VR), and the belt's
# acceleration is the prescription's: a longer run-in keeps the catch-up out of the timed 6 m.
RUN_IN_M = 6.0
TIMED_M = 6.0
RUN_OUT_M = 2.0
MOVING_MPS = 0.05  # the belt counts as moving above this
PROTOCOLS = ("comfortable", "fast")
EVENT_KIND = {"comfortable": "self_selected_speed", "fast": "fast_speed"}


def trial_speeds(t_s: np.ndarray, s_m: np.ndarray, belt_mps: np.ndarray) -> list[float]:
    """Timed-stretch speed (m/s) of each complete walking bout in these samples (time order);
    s_m the over-ground distance (belt + position on it), belt_mps splits the bouts."""
    t = np.asarray(t_s, float)
    s = np.asarray(s_m, float)
    moving = np.asarray(belt_mps, float) > MOVING_MPS
    speeds: list[float] = []
    if len(t) < 2:
        return speeds
    edges = np.flatnonzero(np.diff(moving.astype(np.int8)))
    starts = [0] if moving[0] else []
    starts += [int(i) + 1 for i in edges if not moving[i]]
    ends = [int(i) + 1 for i in edges if moving[i]]
    for a in starts:
        later = [e for e in ends if e > a]
        if not later:
            break  # the last bout has not ended: not a complete trial
        b = later[0]
        s0 = s[a]
        if s[b - 1] - s0 < RUN_IN_M + TIMED_M + RUN_OUT_M:
            continue  # too short to have timed the whole stretch outside the run-in/out
        seg_s, seg_t = s[a:b], t[a:b]
        g0 = float(np.interp(s0 + RUN_IN_M, seg_s, seg_t))
        g1 = float(np.interp(s0 + RUN_IN_M + TIMED_M, seg_s, seg_t))
        if g1 > g0:
            speeds.append(TIMED_M / (g1 - g0))
    return speeds


def protocol_result(protocol: str, speeds: list[float]) -> dict:
    """The stored result: the mean over trials, each trial, and the course used."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r}: one of {', '.join(PROTOCOLS)}")
    mean = float(np.mean(speeds)) if speeds else math.nan
    return {"protocol": protocol, "speed_mps": round(mean, 4) if speeds else None,
            "trials_mps": [round(v, 4) for v in speeds], "run_in_m": RUN_IN_M, "timed_m": TIMED_M,
            "run_out_m": RUN_OUT_M}


def trial_schedule(speed_mps: float, trials: int = 3, rest_s: float = 5.0, accel_mps2: float = 0.4) -> list:
    """An intended-speed schedule (t_s, m/s) for a simulated patient doing the trials: speed up at
    accel_mps2, walk the course (run-in, timed, run-out, 2 m spare) at speed_mps, stop, rest."""
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    t = 1.0
    ramp_s = speed_mps / accel_mps2
    walk_s = (RUN_IN_M + TIMED_M + RUN_OUT_M + 2.0) / max(speed_mps, 0.1) + ramp_s
    for _ in range(trials):
        points += [(t, 0.0), (t + ramp_s, speed_mps), (t + walk_s, speed_mps), (t + walk_s + 0.3, 0.0)]
        t += walk_s + rest_s
    points.append((t, 0.0))
    return points
