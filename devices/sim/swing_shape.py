"""Shapes of a simulated swing: smooth steps, the foot's travel over the belt, smooth minima and
interpolation through planned points (pure functions of swing progress)."""

from __future__ import annotations

import math

SOLE_SMOOTH_M = 0.01  # the foot's lowest point switches between toe and heel smoothly over this much


def _smooth(x: float, a: float, b: float) -> float:
    """0 below a, 1 above b, smooth in between."""
    if x <= a:
        return 0.0
    if x >= b:
        return 1.0
    u = (x - a) / (b - a)
    return u * u * (3.0 - 2.0 * u)


def _min_jerk(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)


def _swing_travel(u: float) -> float:
    """Share of the swing's forward travel done at swing progress u: the foot's speed over the
    ground rises from toe off, peaks in mid swing and falls to land, as a half sine, so its peak is
    pi/2 x its mean over the swing (a healthy adult's foot peaks at about 4-5 m/s at 1.3 m/s; a
    cycloid's 2 x put it near 7 m/s)."""
    u = min(1.0, max(0.0, u))
    return 0.5 - 0.5 * math.cos(math.pi * u)


def _soft_min(a: float, b: float, k: float = SOLE_SMOOTH_M) -> float:
    """min(a, b) rounded over |a - b| < k (at most k/4 below the smaller): the lowest point of a
    foot passes from toe to heel without a kink, so the planned ankle path has no corner."""
    h = max(0.0, k - abs(a - b)) / k
    return min(a, b) - 0.25 * k * h * h


def _profile_points(u: float, points: list[tuple[float, float]]) -> float:
    """Smooth (cosine) interpolation through (u, value) points."""
    if u <= points[0][0]:
        return points[0][1]
    for (u0, v0), (u1, v1) in zip(points, points[1:], strict=False):
        if u <= u1:
            w = 0.5 - 0.5 * math.cos(math.pi * (u - u0) / (u1 - u0))
            return v0 + (v1 - v0) * w
    return points[-1][1]
