"""Gait numbers from a ground-truth dict (test helper, the same formulas the product uses)."""

from __future__ import annotations

import statistics
from itertools import pairwise


def steps_after(truth: dict, t0_s: float, t1_s: float = float("inf")) -> list[dict]:
    return [s for s in truth["steps"] if t0_s <= s["t_s"] < t1_s]


def cadence_spm(steps: list[dict]) -> float:
    times = sorted(s["t_s"] for s in steps)
    return (len(times) - 1) / (times[-1] - times[0]) * 60.0


def mean_step_length(steps: list[dict], side: int | None = None) -> float:
    return statistics.mean(s["length_m"] for s in steps if side is None or s["side"] == side)


def symmetry_index_pct(steps: list[dict]) -> float:
    """SI = (L - R) / (0.5 (L + R)) * 100 on mean step lengths."""
    left, right = mean_step_length(steps, 0), mean_step_length(steps, 1)
    return (left - right) / (0.5 * (left + right)) * 100.0


def stride_cv_pct(truth: dict, side: int = 0, t0_s: float = 0.0) -> float:
    hs = [h["t_s"] for h in truth["heel_strikes"] if h["side"] == side and h["t_s"] >= t0_s]
    strides = [b - a for a, b in pairwise(hs)]
    return statistics.pstdev(strides) / statistics.mean(strides) * 100.0


def stance_fraction(truth: dict, side: int, t0_s: float = 0.0) -> float:
    """Mean share of each stride (heel strike to heel strike) spent in stance."""
    hs = [h["t_s"] for h in truth["heel_strikes"] if h["side"] == side and h["t_s"] >= t0_s]
    to = [t["t_s"] for t in truth["toe_offs"] if t["side"] == side]
    shares = []
    for a, b in pairwise(hs):
        offs = [t for t in to if a < t < b]
        if offs:
            shares.append((offs[0] - a) / (b - a))
    return statistics.mean(shares)


def mean_clearance(truth: dict, side: int, t0_s: float = 0.0, t1_s: float = float("inf")) -> float:
    return statistics.mean(
        w["clearance_m"] for w in truth["toe_clearance"] if w["side"] == side and t0_s <= w["t_s"] < t1_s
    )
