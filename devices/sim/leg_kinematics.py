"""Sagittal forward and inverse kinematics of the simulated patient's true legs.

Same angle conventions as engine/control/kinematics.py (duplicated here on purpose: devices never
import the engine): hip and knee flexion positive, knee 0 = straight; x forward of the hip, the
drop measured downward from the hip. The foot is a rigid triangle: ankle joint `foot_height_m`
above the sole, heel `heel_to_ankle_m` behind the ankle, toe `foot_length_m` ahead of it. Foot
pitch is toe-down positive; a foot square to the shank with the ankle at neutral has pitch
knee - hip, and ankle dorsiflexion d lifts the toe: pitch = knee - hip - d.
"""

from __future__ import annotations

import math


def ankle_rel_hip(hip_rad: float, knee_rad: float, thigh_m: float, shank_m: float) -> tuple[float, float]:
    """(x forward, drop down) of the ankle relative to the hip."""
    shank = hip_rad - knee_rad
    return (thigh_m * math.sin(hip_rad) + shank_m * math.sin(shank),
            thigh_m * math.cos(hip_rad) + shank_m * math.cos(shank))


def rotate(px: float, pz: float, pitch_rad: float) -> tuple[float, float]:
    """A point of the foot (forward, up; ankle at the origin, foot flat) at this toe-down pitch."""
    c, s = math.cos(pitch_rad), math.sin(pitch_rad)
    return px * c + pz * s, -px * s + pz * c


def inverse(dx_m: float, drop_m: float, thigh_m: float, shank_m: float, knee_max_rad: float,
            hip_max_rad: float, knee_soft_rad: float = 0.0) -> tuple[float, float]:
    """Hip and knee flexion that put the ankle at (dx_m, drop_m) from the hip, within the joint
    ranges. Out of reach: the leg straightens toward the target. A knee that would need more than
    knee_max_rad stops there and the hip keeps the ankle's forward position (the ankle is then
    lower than asked: this is how a stiff knee drags the toe). knee_soft_rad > 0: the knee meets
    its limit smoothly over that much (a quadratic soft minimum: tissue stiffens toward the end of
    the range) instead of stopping at it in one tick."""
    d = math.hypot(dx_m, drop_m)
    reach = thigh_m + shank_m
    d = min(max(d, abs(thigh_m - shank_m) + 1e-6), reach - 1e-9)
    cos_k = (d * d - thigh_m * thigh_m - shank_m * shank_m) / (2.0 * thigh_m * shank_m)
    knee = math.acos(max(-1.0, min(1.0, cos_k)))
    if knee_soft_rad > 0.0 and knee > knee_max_rad - knee_soft_rad:
        h = (knee_soft_rad - abs(knee - knee_max_rad)) / knee_soft_rad if abs(knee - knee_max_rad) < knee_soft_rad else 0.0
        soft = min(knee, knee_max_rad) - 0.25 * knee_soft_rad * h * h
        if soft < knee:
            knee = soft
            a = thigh_m + shank_m * math.cos(knee)
            b = shank_m * math.sin(knee)
            r = math.hypot(a, b)
            hip = math.atan2(b, a) + math.asin(max(-1.0, min(1.0, dx_m / r)))
            return min(hip, hip_max_rad), knee
    elif knee > knee_max_rad:
        knee = knee_max_rad
        a = thigh_m + shank_m * math.cos(knee)
        b = shank_m * math.sin(knee)
        r = math.hypot(a, b)
        hip = math.atan2(b, a) + math.asin(max(-1.0, min(1.0, dx_m / r)))
    else:
        phi = math.atan2(dx_m, drop_m)
        beta = math.asin(max(-1.0, min(1.0, shank_m * math.sin(knee) / d)))
        hip = phi + beta
    return min(hip, hip_max_rad), knee


def inverse_short_of_straight(dx_m: float, drop_m: float, thigh_m: float, shank_m: float, knee_max_rad: float,
                              hip_max_rad: float, smooth_m: float, knee_soft_rad: float = 0.0) -> tuple[float, float]:
    """`inverse` for a target that may lie at or beyond the straight leg's reach: within the reach
    less smooth_m it is exact; further out it is pulled toward the hip onto a smooth (C1)
    saturation that nears the reach and never gets there. At full extension the leg's geometry is
    singular: a target crossing it turned the ankle's path with a corner (the knee stopped at 0 in
    one tick)."""
    d = math.hypot(dx_m, drop_m)
    over = d - (thigh_m + shank_m - smooth_m)
    if over > 0.0:
        scale = (thigh_m + shank_m - smooth_m * math.exp(-over / smooth_m)) / d
        dx_m, drop_m = dx_m * scale, drop_m * scale
    return inverse(dx_m, drop_m, thigh_m, shank_m, knee_max_rad, hip_max_rad, knee_soft_rad)


def leg_length_for_knee(knee_rad: float, thigh_m: float, shank_m: float) -> float:
    """Hip-to-ankle distance at this knee flexion."""
    return math.sqrt(thigh_m * thigh_m + shank_m * shank_m + 2.0 * thigh_m * shank_m * math.cos(knee_rad))


# Winter 2009, Table 4.1: segment mass (share of body mass), centre of mass from the proximal
# joint and radius of gyration about it (shares of segment length).
THIGH_MASS, THIGH_COM, THIGH_GYRATION = 0.100, 0.433, 0.323
SHANK_MASS, SHANK_COM, SHANK_GYRATION = 0.0465, 0.433, 0.302
FOOT_MASS, FOOT_GYRATION = 0.0145, 0.475


def joint_inertias(body_mass_kg: float, thigh_m: float, shank_m: float, foot_m: float) -> tuple[float, float]:
    """Moments of inertia (kg m^2) the hip and the knee move in swing: the whole leg about the hip
    (knee straight: the upper bound, which is what the foot's first response after toe off sees
    least of) and shank plus foot about the knee (the foot's mass at the ankle)."""
    m_t, m_s, m_f = (body_mass_kg * THIGH_MASS, body_mass_kg * SHANK_MASS, body_mass_kg * FOOT_MASS)
    i_thigh = m_t * ((THIGH_COM * thigh_m) ** 2 + (THIGH_GYRATION * thigh_m) ** 2)
    i_shank_knee = m_s * ((SHANK_COM * shank_m) ** 2 + (SHANK_GYRATION * shank_m) ** 2)
    i_shank_hip = m_s * ((thigh_m + SHANK_COM * shank_m) ** 2 + (SHANK_GYRATION * shank_m) ** 2)
    i_foot_knee = m_f * (shank_m ** 2 + (FOOT_GYRATION * foot_m) ** 2)
    i_foot_hip = m_f * ((thigh_m + shank_m) ** 2 + (FOOT_GYRATION * foot_m) ** 2)
    return i_thigh + i_shank_hip + i_foot_hip, i_shank_knee + i_foot_knee
