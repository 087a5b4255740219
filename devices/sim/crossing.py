"""How high a simulated patient lifts a foot over an obstacle: the crossing clearance it aims for
(Chen et al. 1991) and the lift that needs, per leg and role."""

from __future__ import annotations

import math

from devices.sim.profiles import PatientProfile

MIN_CROSSING_CLEARANCE_M = 0.02  # aimed for even over a flat hazard (a puddle, a curb's edge)


def crossing_clearance_m(profile: PatientProfile, height_m: float) -> float:
    """Lead-foot clearance the patient aims for over an obstacle of this height.

    c(h) = c_plateau - (c_plateau - 0) * exp(-h / h0), anchored at Chen et al. 1991 (64 mm over a
    25 mm obstacle, rising non-linearly with height) and saturating at the profile's plateau
    (about 10 cm over tall obstacles). h0 follows from the 25 mm anchor."""
    plateau = max(profile.crossing_clearance_plateau_m, 1e-3)
    c25 = min(profile.crossing_clearance_25mm_m, 0.999 * plateau)
    h0 = -0.025 / math.log(1.0 - c25 / plateau) if c25 > 0.0 else 1e9
    return plateau * (1.0 - math.exp(-max(0.0, height_m) / h0))


def required_lift_m(profile: PatientProfile, kind: str, height_m: float, role: str, side: int) -> float:
    """How high above the walkway this leg means to lift its foot's lowest point over an obstacle
    (its box height plus the crossing clearance it aims for): beyond max_toe_clearance_m it cannot."""
    volume = 0.0 if kind in ("curb_down", "puddle") else height_m
    clearance = crossing_clearance_m(profile, volume)
    if role != "lead":
        clearance *= profile.trail_clearance_ratio[side]
    return volume + max(clearance, profile.mtc_m[side], MIN_CROSSING_CLEARANCE_M)
