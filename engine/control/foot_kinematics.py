"""Where each foot is: heel and toe from hip and knee angles, the leg geometry and the foot pitch.

Sagittal plane, origin at the hip joint, x forward, z up. With hip flexion h and knee flexion k
(both positive in flexion), the shank's forward tilt is h - k and the ankle sits at
    x_a = T sin h + S sin(h - k),     z_a = -(T cos h + S cos(h - k)),
T and S the thigh and shank lengths. The foot is rigid; its pitch p (toe-down positive, from
the insole IMU, or square to the shank without one) places a sole point at distance u along the
sole from the ankle's foot (u > 0 toward the toe, u < 0 toward the heel) at
    x = x_a + u cos p - A sin p,      z = z_a - u sin p - A cos p,
A the ankle joint's height over the sole. The floor is at -z of the stance foot's sole: with the
foot flat (p = 0) the pelvis is P = T cos h + S cos(h - k) + A above the floor, taken from the
higher estimate of the stance legs (the one holding the pelvis up); a stance foot that is not
flat stands on its toe (toe down, heel off) or its heel (toe up), see ankle_over_floor_m.
Heights over the floor are z + P.
"""

from __future__ import annotations

import math

# Winter's segment fractions of the leg length (trochanter to floor) when the exoskeleton does
# not report its geometry: thigh 0.245 H, shank 0.246 H, ankle height 0.039 H, leg 0.53 H; the
# toe about 0.10 H ahead of the ankle and the heel 0.03 H behind it (Winter 2009, Table 4.1).
THIGH_FRACTION = 0.245 / 0.53
SHANK_FRACTION = 0.246 / 0.53
ANKLE_HEIGHT_FRACTION = 0.039 / 0.53
TOE_FRACTION = 0.10 / 0.53
HEEL_FRACTION = 0.03 / 0.53


class LegGeometry:
    """Segment lengths per leg (left, right), metres; plain lists so the hot path reads floats."""

    def __init__(self) -> None:
        self.thigh_m = [0.0, 0.0]
        self.shank_m = [0.0, 0.0]
        self.ankle_height_m = [0.0, 0.0]
        self.toe_m = [0.0, 0.0]  # ankle to toe along the sole
        self.heel_m = [0.0, 0.0]  # ankle to heel along the sole
        self.from_device = False  # True: the exoskeleton reported it; False: Winter's fractions
        self.set_from_leg_length(0.9, 0.9)

    def set_from_leg_length(self, left_m: float, right_m: float) -> None:
        """Winter's fractions of each prescribed leg length."""
        for side, leg in ((0, left_m), (1, right_m)):
            self.thigh_m[side] = leg * THIGH_FRACTION
            self.shank_m[side] = leg * SHANK_FRACTION
            self.ankle_height_m[side] = leg * ANKLE_HEIGHT_FRACTION
            self.toe_m[side] = leg * TOE_FRACTION
            self.heel_m[side] = leg * HEEL_FRACTION
        self.from_device = False

    def set_from_device(self, geo) -> None:
        """Take the exoskeleton's reported geometry (devices.base.ExoGeometry)."""
        for side in (0, 1):
            self.thigh_m[side] = geo.thigh_m[side]
            self.shank_m[side] = geo.shank_m[side]
            self.ankle_height_m[side] = geo.ankle_height_m[side]
            self.toe_m[side] = geo.ankle_to_toe_m[side]
            self.heel_m[side] = geo.ankle_to_heel_m[side]
        self.from_device = True

    def leg_length_m(self, side: int) -> float:
        """Hip to floor, leg straight and foot flat."""
        return self.thigh_m[side] + self.shank_m[side] + self.ankle_height_m[side]


def ankle_x_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float) -> float:
    """Ankle forward of the hip."""
    return geo.thigh_m[side] * math.sin(hip_rad) + geo.shank_m[side] * math.sin(hip_rad - knee_rad)


def ankle_drop_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float) -> float:
    """Ankle below the hip."""
    return geo.thigh_m[side] * math.cos(hip_rad) + geo.shank_m[side] * math.cos(hip_rad - knee_rad)


def pelvis_height_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float) -> float:
    """Hip above the floor when this leg stands with its foot flat."""
    return ankle_drop_m(geo, side, hip_rad, knee_rad) + geo.ankle_height_m[side]


def sole_point_x_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float, pitch_rad: float,
                   along_m: float) -> float:
    """Forward position (from the hip) of the sole point `along_m` from the ankle (+ toe-ward)."""
    return (ankle_x_m(geo, side, hip_rad, knee_rad) + along_m * math.cos(pitch_rad)
            - geo.ankle_height_m[side] * math.sin(pitch_rad))


def sole_point_height_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float, pitch_rad: float,
                        along_m: float, pelvis_m: float) -> float:
    """Height over the floor of the sole point `along_m` from the ankle, the pelvis at pelvis_m."""
    return (pelvis_m - ankle_drop_m(geo, side, hip_rad, knee_rad) - along_m * math.sin(pitch_rad)
            - geo.ankle_height_m[side] * math.cos(pitch_rad))


def sole_points_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float, pitch_rad: float,
                  pelvis_m: float) -> tuple[float, float, float, float]:
    """(heel_x, heel_z, toe_x, toe_z): sole_point_x_m and sole_point_height_m at the heel
    (-heel_m) and the toe (toe_m), the same values with the trig worked out once for the four
    (the core asks for all four at every swing sample)."""
    thigh, shank, ankle_h = geo.thigh_m[side], geo.shank_m[side], geo.ankle_height_m[side]
    tilt = hip_rad - knee_rad
    ankle_x = thigh * math.sin(hip_rad) + shank * math.sin(tilt)
    above = pelvis_m - (thigh * math.cos(hip_rad) + shank * math.cos(tilt))  # pelvis less the ankle's drop
    c, s = math.cos(pitch_rad), math.sin(pitch_rad)
    ankle_s, ankle_c = ankle_h * s, ankle_h * c
    toe, heel = geo.toe_m[side], -geo.heel_m[side]
    return (ankle_x + heel * c - ankle_s, above - heel * s - ankle_c,
            ankle_x + toe * c - ankle_s, above - toe * s - ankle_c)


def ankle_over_floor_m(geo: LegGeometry, side: int, pitch_rad: float) -> float:
    """Ankle joint height over the floor of a foot standing at this pitch: on its toe when toe
    down (heel off), on its heel when toe up (just after heel strike), flat at 0."""
    c, s = math.cos(pitch_rad), math.sin(pitch_rad)
    on_toe = geo.toe_m[side] * s + geo.ankle_height_m[side] * c
    on_heel = geo.ankle_height_m[side] * c - geo.heel_m[side] * s
    return on_toe if on_toe > on_heel else on_heel


def heel_x_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float, pitch_rad: float) -> float:
    """Heel forward of the hip."""
    return sole_point_x_m(geo, side, hip_rad, knee_rad, pitch_rad, -geo.heel_m[side])


def planted_heel_x_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float, pitch_rad: float) -> float:
    """Where a stance foot's heel is (or was) on the ground, forward of the hip: the heel itself
    while it is down (pitch <= 0, heel rocker or flat), else the toe it pivots on, less the foot's
    length along the sole (heel off)."""
    if pitch_rad <= 0.0:
        return heel_x_m(geo, side, hip_rad, knee_rad, pitch_rad)
    toe = sole_point_x_m(geo, side, hip_rad, knee_rad, pitch_rad, geo.toe_m[side])
    return toe - geo.toe_m[side] - geo.heel_m[side]


def square_pitch_rad(hip_rad: float, knee_rad: float) -> float:
    """Foot pitch of a foot held square to the shank (no ankle motion): toe down by the shank's
    backward tilt. The estimate without insoles."""
    return knee_rad - hip_rad


# The ball of the foot (the metatarsal heads) at this share of heel to toe (anthropometric
# approximation, as engine/control/balance_loss.py): a foot landing across a curb's face with
# its ball over the stone stands on the stone, its heel overhanging the edge
BALL_OF_FOOT = 0.7


def lip_contact_m(geo: LegGeometry, side: int, hip_rad: float, knee_rad: float, pitch_rad: float,
                  ahead_m: float, rise_m: float) -> tuple[float, float]:
    """A stance foot whose heel landed before a curb's face, its sole against the edge (ahead_m
    ahead of the heel along the route, rise_m above the heel's ground), the ball of the foot short
    of the stone: (where its landing heel is, forward of the hip, as planted_heel_x_m; the pelvis
    above the heel's ground). A rigid sole cannot pass through the edge, so the pitch says where
    the foot rests: toe up at least as far as the sole's line from the heel to the edge, on its
    heel; less toe-up, turned about the edge (the heel lifted off the lower ground); toe down,
    on its toe on the stone (the sole has come to lie on it)."""
    along = math.hypot(ahead_m, rise_m)  # heel to the edge along the sole
    drop = ankle_drop_m(geo, side, hip_rad, knee_rad)
    c, s = math.cos(pitch_rad), math.sin(pitch_rad)
    ankle_h = geo.ankle_height_m[side]
    if pitch_rad <= -math.atan2(rise_m, ahead_m):
        return heel_x_m(geo, side, hip_rad, knee_rad, pitch_rad), drop + ankle_h * c - geo.heel_m[side] * s
    if pitch_rad <= 0.0:
        u = along - geo.heel_m[side]  # the edge's sole point, from the ankle
        x = sole_point_x_m(geo, side, hip_rad, knee_rad, pitch_rad, u)
        return x - ahead_m, rise_m + drop + u * s + ankle_h * c
    foot = geo.heel_m[side] + geo.toe_m[side]
    x = sole_point_x_m(geo, side, hip_rad, knee_rad, pitch_rad, geo.toe_m[side])
    return x - (ahead_m + foot - along), rise_m + drop + geo.toe_m[side] * s + ankle_h * c
