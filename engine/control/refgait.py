"""Reference gait: a normative hip and knee trajectory over the gait cycle.

Phase 0 is heel strike of that leg, toe off near 0.6 (each leg's own stance and swing are mapped
onto these by reference_phase: its measured stance fraction, and its detected toe off). The shape follows the healthy adult
sagittal-plane curves of Winter (Biomechanics and Motor Control of Human Movement) at a
comfortable speed; it is stored as a smooth periodic table of TABLE_SIZE samples built once at
import, and looked up with plain-float interpolation on the hot path.

Scaling: the expected stride length follows Alexander's dynamic-similarity law,
`stride_length = 2.3 * L * (v^2 / (g L))^0.3` (L leg length, v belt speed); the hip excursion
about its mean scales with the stride length relative to the one at the comfortable speed
(1.2 m/s), the knee excursion half as strongly. Slower or shorter-legged walking gets smaller
angles and a longer stride time.

Clearance at any speed: scaling the swing down with speed also lowers the swing foot. With the
foot square to the shank (an exoskeleton without an ankle drive on a patient with foot drop, the
commonest swing deficit after stroke) the unscaled table clears the floor by ~13 mm at mid swing,
Winter's mean minimum toe clearance of healthy young adults (13 mm young, 11 mm elderly: Winter
1991; REFERENCES.md section 2), but at 0.15 m/s (scale 0.3) the scaled reference put the toe
~26 mm *below* the floor: full guidance held a slow patient's foot on the ground (issue 12: 0.0 mm
measured at 0.15 m/s with full guidance, 11.2 / 7.7 mm without). So every reference swing gets
at least the clearance boost (the same swing flexion obstacles use, BOOST_HIP_RAD and
BOOST_KNEE_RAD over swing_bump) that brings its mid-swing toe back to MIN_SWING_CLEARANCE_M:
swing_boost_floor(scale), tabulated at import for a 0.9 m leg with Winter's segment fractions
(a leg 20 % shorter or longer moves that clearance by ~20 %, a few millimetres).
"""

from __future__ import annotations

import numpy as np

TABLE_SIZE = 1000
GRAVITY_MPS2 = 9.81
COMFORT_SPEED_MPS = 1.2
TOE_OFF_PHASE = 0.6

# (phase, hip flexion deg, knee flexion deg): healthy adult at a comfortable speed.
_KNOTS = [
    (0.00, 30.0, 5.0),
    (0.05, 29.0, 12.0),
    (0.12, 25.0, 18.0),
    (0.20, 18.0, 15.0),
    (0.30, 9.0, 8.0),
    (0.40, 1.0, 5.0),
    (0.50, -8.0, 10.0),
    (0.55, -10.0, 20.0),
    (0.60, -5.0, 36.0),
    (0.65, 5.0, 50.0),
    (0.72, 17.0, 62.0),
    (0.78, 25.0, 58.0),
    (0.85, 31.0, 40.0),
    (0.90, 33.0, 22.0),
    (0.95, 32.0, 8.0),
]


def _periodic_table(column: int) -> np.ndarray:
    """Smooth periodic curve through the knots (radians), sampled at TABLE_SIZE phases."""
    phases = np.array([k[0] for k in _KNOTS])
    values = np.radians([k[column] for k in _KNOTS])
    # Periodic linear interpolation, then a circular Gaussian smoothing (~2% of the cycle).
    grid = np.arange(TABLE_SIZE) / TABLE_SIZE
    linear = np.interp(grid, np.concatenate([phases, [1.0]]), np.concatenate([values, values[:1]]))
    kernel_x = np.arange(-60, 61)
    kernel = np.exp(-0.5 * (kernel_x / 18.0) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([linear[-60:], linear, linear[:60]])
    return np.convolve(padded, kernel, mode="valid")


HIP_TABLE_RAD = _periodic_table(1)
KNEE_TABLE_RAD = _periodic_table(2)
_HIP = HIP_TABLE_RAD.tolist()  # plain lists: faster than numpy indexing one sample at a time
_KNEE = KNEE_TABLE_RAD.tolist()
HIP_MEAN_RAD = float(HIP_TABLE_RAD.mean())
_HIP_MEAN = HIP_MEAN_RAD
_KNEE_MIN = float(KNEE_TABLE_RAD.min())
# Derivative tables (rad per unit phase) for the velocity feed-forward.
_DHIP = (np.gradient(np.concatenate([HIP_TABLE_RAD[-1:], HIP_TABLE_RAD, HIP_TABLE_RAD[:1]]))[1:-1] * TABLE_SIZE).tolist()
_DKNEE = (np.gradient(np.concatenate([KNEE_TABLE_RAD[-1:], KNEE_TABLE_RAD, KNEE_TABLE_RAD[:1]]))[1:-1] * TABLE_SIZE).tolist()

# Extra flexion added in swing per unit of clearance boost (radians), shaped by a swing bump.
BOOST_HIP_RAD = 0.35
BOOST_KNEE_RAD = 0.6
# The boost's time course over a swing, as the exoskeleton applies it (shares of the swing)
BOOST_IN_SWING = 0.3
BOOST_OUT_SWING = 0.8
# Stance fractions a leg's reference is warped by (healthy ~0.6; paretic legs 0.5-0.75)
STANCE_FRACTION_MIN = 0.45
STANCE_FRACTION_MAX = 0.85


MIN_SWING_CLEARANCE_M = 0.013  # Winter 1991: healthy young adults' mean MTC (REFERENCES.md section 2)
_FLOOR_SCALE_MIN = 0.3
_FLOOR_SCALE_STEP = 0.05
_FLOOR_LEG_M = 0.9


def _mid_swing_clearance_m(scale: float, boost: float, geo) -> float:
    """Lowest toe or heel height over the floor in the swing's MTC window (25-80 % of the swing,
    as engine/control/clearance.py measures it), the foot square to the shank, the pelvis held
    up by the other leg in stance half a cycle away: the reference's own clearance."""
    from engine.control import foot_kinematics as fk

    swing, stance = [0.0] * 4, [0.0] * 4
    lowest = 1.0
    for i in range(23):
        phase = TOE_OFF_PHASE + (1.0 - TOE_OFF_PHASE) * (0.25 + 0.55 * i / 22)
        _reference_raw(phase, scale, boost, swing, 0)
        _reference_raw(phase - 0.5, scale, 0.0, stance, 0)
        pelvis = fk.pelvis_height_m(geo, 1, stance[0], stance[1])
        pitch = fk.square_pitch_rad(swing[0], swing[1])
        for along in (geo.toe_m[0], -geo.heel_m[0]):
            z = fk.sole_point_height_m(geo, 0, swing[0], swing[1], pitch, along, pelvis)
            lowest = z if z < lowest else lowest
    return lowest


def _boost_floor_table() -> list:
    """The least boost that gives the reference MIN_SWING_CLEARANCE_M, per scale step (bisection)."""
    from engine.control import foot_kinematics as fk

    geo = fk.LegGeometry()
    geo.set_from_leg_length(_FLOOR_LEG_M, _FLOOR_LEG_M)
    table = []
    scale = _FLOOR_SCALE_MIN
    while scale <= 1.3 + 1e-9:
        if _mid_swing_clearance_m(scale, 0.0, geo) >= MIN_SWING_CLEARANCE_M:
            table.append(0.0)
        else:
            lo, hi = 0.0, 1.0
            for _ in range(12):
                mid = 0.5 * (lo + hi)
                if _mid_swing_clearance_m(scale, mid, geo) >= MIN_SWING_CLEARANCE_M:
                    hi = mid
                else:
                    lo = mid
            table.append(hi)
        scale += _FLOOR_SCALE_STEP
    return table


def swing_boost_floor(scale: float) -> float:
    """The least clearance boost of a reference swing at this amplitude scale (0..1)."""
    x = (scale - _FLOOR_SCALE_MIN) / _FLOOR_SCALE_STEP
    if x <= 0.0:
        return _BOOST_FLOOR[0]
    i = int(x)
    if i >= len(_BOOST_FLOOR) - 1:
        return _BOOST_FLOOR[-1]
    f = x - i
    return _BOOST_FLOOR[i] + (_BOOST_FLOOR[i + 1] - _BOOST_FLOOR[i]) * f


def stride_length_m(speed_mps: float, leg_length_m: float) -> float:
    """Expected stride length (two steps) at this speed for this leg length (Alexander)."""
    if speed_mps <= 0.05:
        speed_mps = 0.05
    froude = speed_mps * speed_mps / (GRAVITY_MPS2 * leg_length_m)
    return 2.3 * leg_length_m * froude**0.3


def stride_time_s(speed_mps: float, leg_length_m: float) -> float:
    """Expected stride time; slow speeds are capped at 3 s (standing still has no cycle)."""
    if speed_mps <= 0.05:
        return 3.0
    return min(3.0, stride_length_m(speed_mps, leg_length_m) / speed_mps)


def amplitude_scale(speed_mps: float, leg_length_m: float) -> float:
    """Hip excursion scale relative to the table (1.0 at the comfortable speed)."""
    ratio = stride_length_m(speed_mps, leg_length_m) / stride_length_m(COMFORT_SPEED_MPS, leg_length_m)
    return 0.3 if ratio < 0.3 else 1.3 if ratio > 1.3 else ratio


def _smoothstep(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x * x * (3.0 - 2.0 * x)


def swing_bump(phase: float) -> float:
    """0 in stance; over swing the clearance boost's time course: in by BOOST_IN_SWING of the
    swing, held, out over the swing's last 1 - BOOST_OUT_SWING (smooth steps). The reference
    carries the boost as the exoskeleton applies it, so guidance never pulls a boosted leg down
    while its foot is over an obstacle (a sin^2 hump at mid swing did, early and late)."""
    if phase < TOE_OFF_PHASE:
        return 0.0
    x = (phase - TOE_OFF_PHASE) / (1.0 - TOE_OFF_PHASE)
    return _smoothstep(x / BOOST_IN_SWING) * (1.0 - _smoothstep((x - BOOST_OUT_SWING) / (1.0 - BOOST_OUT_SWING)))


def toe_lift_per_boost_m(leg_length_m: float, foot_square_to_shank: bool) -> float:
    """Toe lift a full clearance boost (BOOST_HIP_RAD, BOOST_KNEE_RAD) gives at mid swing (half
    the swing: where the minimum toe clearance is and trips happen), from Winter's segment
    fractions of the leg length. foot_square_to_shank: a foot that hangs from the shank (foot
    drop, the commonest swing deficit after stroke: no active dorsiflexion) tilts its toe down
    as the flexed knee tilts the shank back, so it gains less than the ankle rises (~12 cm for a
    0.9 m leg); else the ankle keeps the foot level (~14 cm). The planner's prior for a leg's
    lift per unit of boost, before its crossings show it."""
    from engine.control import foot_kinematics as fk

    geo = fk.LegGeometry()
    geo.set_from_leg_length(leg_length_m, leg_length_m)
    phase = TOE_OFF_PHASE + 0.5 * (1.0 - TOE_OFF_PHASE)
    plain, boosted = [0.0] * 4, [0.0] * 4
    _reference_raw(phase, 1.0, 0.0, plain, 0)  # a full boost against none (the floor aside)
    _reference_raw(phase, 1.0, 1.0, boosted, 0)

    def toe_z(hip: float, knee: float) -> float:
        pitch = fk.square_pitch_rad(hip, knee) if foot_square_to_shank else 0.0
        return fk.sole_point_height_m(geo, 0, hip, knee, pitch, geo.toe_m[0], 0.0)

    return toe_z(boosted[0], boosted[1]) - toe_z(plain[0], plain[1])


def reference_phase(phase: float, stride_time_s: float, stance_fraction: float,
                    since_toe_off_s: float, hold_u: float = 1.0) -> tuple[float, float]:
    """The reference's phase for one leg and its rate (1/s), timed by that leg's own gait.

    The table is a healthy leg's (toe off at TOE_OFF_PHASE: Perry & Burnfield's 60 %); a paretic
    leg's stance is shorter or longer (temporal symmetry ratios outside the normal 0.9-1.1 in
    about half of the stroke survivors of Patterson et al. 2008), and a reference timed
    by the healthy split says "stance" (knee straight, hip extended) while that foot is already
    in the air, pulling it down against the clearance boost. So: stance (phase from the leg's
    heel strike) maps onto the table's stance by the leg's measured stance fraction, and once its
    toe off is detected (since_toe_off_s >= 0) the swing runs from TOE_OFF_PHASE over the
    expected swing time stride_time_s * (1 - stance fraction), held at its end if it lasts
    longer. A missed toe off falls back to the stance-fraction warp. stance_fraction: the leg's
    last measured one (NaN before the first strides: the table's). hold_u: the share of the
    swing the reference may not pass yet (the core holds a crossing swing at BOOST_OUT_SWING,
    before its descent, while the heel is not past the obstacle: a long crossing step outlasts
    the expected swing, and guidance pulled its foot down short of the far edge).
    """
    sf = stance_fraction
    if not sf == sf:
        sf = TOE_OFF_PHASE
    sf = STANCE_FRACTION_MIN if sf < STANCE_FRACTION_MIN else STANCE_FRACTION_MAX if sf > STANCE_FRACTION_MAX else sf
    stride = stride_time_s if stride_time_s > 0.1 else 0.1
    swing_share = 1.0 - TOE_OFF_PHASE
    if since_toe_off_s >= 0.0:
        swing_s = stride * (1.0 - sf)
        u = since_toe_off_s / swing_s
        cap = hold_u if hold_u < 0.999 else 0.999
        if u >= cap:
            return TOE_OFF_PHASE + swing_share * cap, 0.0
        return TOE_OFF_PHASE + swing_share * u, swing_share / swing_s
    if phase <= sf:
        return TOE_OFF_PHASE * phase / sf, TOE_OFF_PHASE / (sf * stride)
    return TOE_OFF_PHASE + swing_share * (phase - sf) / (1.0 - sf), swing_share / ((1.0 - sf) * stride)


def reference(phase: float, scale: float, boost: float, out: list, offset: int) -> None:
    """Write hip angle, knee angle, hip velocity factor, knee velocity factor for one leg.

    out[offset:offset+4] = hip_rad, knee_rad, dhip_dphase, dknee_dphase (multiply the last two
    by the phase rate 1/stride_time to get rad/s). `scale` from amplitude_scale(); `boost` 0..1
    adds swing flexion for obstacle clearance; a swing gets at least swing_boost_floor(scale),
    so it clears the floor by MIN_SWING_CLEARANCE_M at any speed.
    """
    reference_floored(phase, scale, boost, swing_boost_floor(scale), out, offset)


def reference_floored(phase: float, scale: float, boost: float, floor: float, out: list, offset: int) -> None:
    """reference() with its clearance floor given (swing_boost_floor(scale)): the control core
    works it out only when the scale changes, not for both legs every cycle."""
    _reference_raw(phase, scale, boost if boost > floor else floor, out, offset)


def _reference_raw(phase: float, scale: float, boost: float, out: list, offset: int) -> None:
    """reference() without the clearance floor."""
    x = phase * TABLE_SIZE
    i = int(x)
    frac = x - i
    i %= TABLE_SIZE
    j = i + 1 if i + 1 < TABLE_SIZE else 0
    hip = _HIP[i] + (_HIP[j] - _HIP[i]) * frac
    knee = _KNEE[i] + (_KNEE[j] - _KNEE[i]) * frac
    knee_scale = 0.5 + 0.5 * scale
    bump = swing_bump(phase) * boost if boost > 0.0 else 0.0
    out[offset] = _HIP_MEAN + (hip - _HIP_MEAN) * scale + BOOST_HIP_RAD * bump
    out[offset + 1] = _KNEE_MIN + (knee - _KNEE_MIN) * knee_scale + BOOST_KNEE_RAD * bump
    out[offset + 2] = _DHIP[i] * scale
    out[offset + 3] = _DKNEE[i] * knee_scale


_BOOST_FLOOR = _boost_floor_table()
