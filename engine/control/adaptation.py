"""Assist-as-needed: guidance follows what the patient needs, from stride to stride.

The law is the error-based adaptation with forgetting of Emken, Benitez & Reinkensmeyer (2007,
J NeuroEng Rehabil 4:8): the optimal trainer of a cost of error plus assistance is
    g[k+1] = F * g[k] + K * e[k]
with F < 1 the forgetting factor (less help when the patient does well) and K the error gain (more
help when they struggle). Their task error was the swing's step height, and they added an error
weighting function that disregards the natural variability of movement, so that assistance fades
to zero for a subject who walks normally though variably. Here:

- e[k] is a dimensionless need, 0..1, over stride k: the larger of
  - the clearance need: the lowest minimum toe clearance (MTC) of the stride's swings, short of
    MTC_NEED_M, as a share of it (a dragging foot: 1). MTC_NEED_M is 11 mm, the healthy older
    adult's mean MTC (Winter 1991: 13 mm young, 11 mm elderly; REFERENCES.md section 2): a swing
    at or above it needs no help; one at half of it needs half the range;
  - the joint need: the RMS hip and knee tracking error (both legs, measured minus reference)
    beyond JOINT_TUNNEL_RAD, as a share of JOINT_SPAN_RAD. The error is time-indexed against a
    normative curve, so it mixes the patient's own timing and shape with a lack of control; a
    healthy gait sits 15-17 degrees RMS from the core's reference (measured on the simulated
    healthy adult, issue 12: timing dominates: its time-free distance to the reference's path is
    ~5 degrees), so the tunnel lets a gait that differs in timing pass, as path control leaves
    the timing free (Duschau-Wicke et al. 2010, IEEE TNSRE 18:38), and only a leg that does not
    follow (twice that error and more) raises the guidance. That is the weighting function's role.
- K = 1 - F, so a steady need n settles the guidance at n (0: none; 1: the top of the range);
  F = 0.9 keeps the time constant at ~10 strides, as before.

The result is bounded by the therapist's minimum and maximum; when the therapist locks guidance
it does not move. A stride without a measured swing clearance (an MTC the core could not find)
counts the joint need only.
"""

from __future__ import annotations

import math

FORGETTING = 0.9
GAIN = 1.0 - FORGETTING  # per unit of need: a steady need n settles at g = n
MTC_NEED_M = 0.011  # Winter 1991, healthy older adults' mean MTC (REFERENCES.md section 2)
JOINT_TUNNEL_RAD = math.radians(17.0)  # a gait that differs from the reference in timing passes
JOINT_SPAN_RAD = math.radians(17.0)  # beyond the tunnel: twice the tunnel is full need


def clearance_need(mtc_m: float) -> float:
    """Need from one swing's minimum toe clearance: 0 at MTC_NEED_M and above, 1 at 0."""
    if not mtc_m == mtc_m:
        return 0.0
    short = (MTC_NEED_M - mtc_m) / MTC_NEED_M
    return 0.0 if short < 0.0 else 1.0 if short > 1.0 else short


def joint_need(error_rad: float) -> float:
    """Need from a stride's RMS joint tracking error: 0 inside the tunnel, 1 at its edge + span."""
    if not error_rad == error_rad:
        return 0.0
    over = (error_rad - JOINT_TUNNEL_RAD) / JOINT_SPAN_RAD
    return 0.0 if over < 0.0 else 1.0 if over > 1.0 else over


class AssistAsNeeded:
    """Accumulates tracking error and swing clearance over a stride; adapts guidance at its end."""

    def __init__(self, forgetting: float = FORGETTING, gain: float = GAIN) -> None:
        self.forgetting = forgetting
        self.gain = gain
        self.guidance = 0.5
        self.last_error_rad = math.nan
        self.last_need = math.nan
        self.last_clearance_m = math.nan  # lowest swing MTC of the last stride
        self._sum_sq = 0.0
        self._n = 0
        self._mtc_m = math.nan

    def sample(self, error_sq_rad2: float) -> None:
        """Add one cycle's mean squared joint error (rad^2)."""
        self._sum_sq += error_sq_rad2
        self._n += 1

    def swing(self, mtc_m: float) -> None:
        """Add one swing's minimum toe clearance (m; NaN: none found)."""
        if mtc_m == mtc_m and not (self._mtc_m <= mtc_m):
            self._mtc_m = mtc_m

    def stride_end(self, enabled: bool, locked: bool, low: float, high: float) -> float:
        """Close the stride: update and return the guidance fraction (bounded by low..high)."""
        if self._n:
            self.last_error_rad = math.sqrt(self._sum_sq / self._n)
        self.last_clearance_m = self._mtc_m
        self._sum_sq = 0.0
        self._n = 0
        self._mtc_m = math.nan
        if self.last_error_rad == self.last_error_rad or self.last_clearance_m == self.last_clearance_m:
            a = clearance_need(self.last_clearance_m)
            b = joint_need(self.last_error_rad)
            self.last_need = a if a > b else b
        if enabled and not locked and self.last_need == self.last_need:
            g = self.forgetting * self.guidance + self.gain * self.last_need
            self.guidance = low if g < low else high if g > high else g
        return self.guidance
