"""Sagittal leg kinematics from exoskeleton joint angles.

Segment lengths are fractions of the leg length (greater trochanter to floor, foot included)
after Winter's anthropometric table: thigh 0.245 H, shank 0.246 H, ankle height 0.039 H, leg
0.53 H; the toe sits about 0.1 H ahead of the ankle. Hip and knee flexion are positive; x is
forward of the hip and heights are in metres.
"""

from __future__ import annotations

import math

THIGH_FRACTION = 0.245 / 0.53
SHANK_FRACTION = 0.246 / 0.53
ANKLE_HEIGHT_FRACTION = 0.039 / 0.53
TOE_FRACTION = 0.10 / 0.53


def ankle_x_m(hip_rad: float, knee_rad: float, leg_length_m: float) -> float:
    """Forward position of the ankle relative to the hip."""
    return leg_length_m * (THIGH_FRACTION * math.sin(hip_rad) + SHANK_FRACTION * math.sin(hip_rad - knee_rad))


def ankle_drop_m(hip_rad: float, knee_rad: float, leg_length_m: float) -> float:
    """How far the ankle is below the hip."""
    return leg_length_m * (THIGH_FRACTION * math.cos(hip_rad) + SHANK_FRACTION * math.cos(hip_rad - knee_rad))


def toe_height_m(hip_rad: float, knee_rad: float, leg_length_m: float, pelvis_m: float) -> float:
    """Height of the toe above the floor for a swing leg, the pelvis at pelvis_m.

    The foot is taken rigid and at right angles to the shank (no ankle sensor): it pitches
    toe-down by the shank's backward tilt.
    """
    pitch = knee_rad - hip_rad  # toe-down pitch of a foot square to the shank
    toe_below_ankle = leg_length_m * (TOE_FRACTION * math.sin(pitch) + ANKLE_HEIGHT_FRACTION * math.cos(pitch))
    return pelvis_m - ankle_drop_m(hip_rad, knee_rad, leg_length_m) - toe_below_ankle


def pelvis_height_m(hip_rad: float, knee_rad: float, leg_length_m: float) -> float:
    """Pelvis height over the floor when this leg stands (ankle drop plus ankle height)."""
    return ankle_drop_m(hip_rad, knee_rad, leg_length_m) + leg_length_m * ANKLE_HEIGHT_FRACTION
