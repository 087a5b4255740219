"""A parametric gait model that generates a session's telemetry and core events without a rig.

Used by `demo-history` (sessions of a patient who improves over time), by the recorder tests and
by the recorder benchmark (a stand-in producer writing real rings at 1 kHz). It is not the
virtual rig's patient model (devices/sim/): it skips physics and produces what the control core
would have recorded, from a handful of clinical parameters:

- belt speed `speed_mps`, ramped at `accel_mps2`, slowed to `obstacle_speed_fraction` for 3 m
  before each obstacle;
- stride time `stride_time_s`, jittered stride to stride with coefficient of variation
  `stride_cv_pct` (%); the affected leg's step takes the share `0.5 * (1 + step_time_asym)` of the
  stride, the other leg the rest;
- step lengths: on a treadmill a stride covers `speed * stride_time`; the affected leg's step gets
  `0.5 * (1 - step_length_asym)` of it, the other leg `0.5 * (1 + step_length_asym)`. With
  these definitions the symmetry index SI = (L - R) / (0.5 (L + R)) * 100 is 200 a in magnitude
  (step_length_asym 0.05 -> |SI| 10 %), and the same holds for step times;
- stance share `stance_fraction` (the affected leg `affected_stance_drop` less);
- joint angles: a textbook sagittal hip and knee pattern as the reference; the measured angles
  follow it with the patient's own reduced knee flexion on the affected side (`knee_flexion_deficit`)
  pulled back toward the reference by the guidance level;
- toe clearance `toe_clearance_m` (the affected leg `affected_clearance_m`);
- guidance level `guidance` (assist-as-needed drifts it), body-weight support `bws_fraction`;
- an obstacle every `obstacle_spacing_m`, cleared with probability `obstacle_success`;
- heart rate rising from `hr_rest_bpm` toward `hr_rest_bpm + hr_rise_bpm` (time constant 60 s).

Every record carries its cycle number; events carry the cycle at which they happened and set
their bit in the record's `events` field, exactly as the core does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from engine.control.layout import (
    EVENT_DTYPE,
    TELEMETRY_DTYPE,
    AlarmReason,
    EventKind,
    ObstacleOutcome,
    Priority,
    RunState,
)

LEFT, RIGHT = 0, 1


@dataclass(frozen=True)
class GaitParams:
    speed_mps: float = 1.1
    accel_mps2: float = 0.4
    stride_time_s: float = 1.1
    stride_cv_pct: float = 2.0
    step_time_asym: float = 0.0  # affected leg's extra share of the stride time (fraction)
    step_length_asym: float = 0.0  # affected leg's missing share of the stride length (fraction)
    stance_fraction: float = 0.62
    affected_stance_drop: float = 0.0
    knee_flexion_deficit: float = 0.0  # fraction of the normal swing knee flexion missing
    toe_clearance_m: float = 0.02
    affected_clearance_m: float = 0.02
    guidance: float = 0.3
    bws_fraction: float = 0.0
    obstacle_spacing_m: float = 10.0
    obstacle_success: float = 0.95
    obstacle_speed_fraction: float = 0.8
    hr_rest_bpm: float = 72.0
    hr_rise_bpm: float = 25.0
    affected_side: int = -1  # -1 none, 0 left, 1 right
    alarm_probability: float = 0.0  # chance of one heart-rate alarm in the session


def _hip_angle_rad(phase: np.ndarray) -> np.ndarray:
    # Flexed (+0.45 rad) at heel strike, extended (-0.2 rad) at late stance.
    return 0.125 + 0.325 * np.cos(2 * np.pi * (phase - 0.02))


def _knee_angle_rad(phase: np.ndarray) -> np.ndarray:
    # Small loading-response flexion in stance, about 1.05 rad peak in swing.
    stance_bump = 0.3 * np.exp(-(((phase - 0.15) / 0.07) ** 2))
    swing_bump = 1.05 * np.exp(-(((phase - 0.72) / 0.11) ** 2))
    return stance_bump + swing_bump + 0.05


def _phase_from_strikes(t: np.ndarray, strikes: np.ndarray) -> np.ndarray:
    """Gait phase 0..1 per sample from that leg's heel-strike times (0 before the first)."""
    index = np.searchsorted(strikes, t, side="right") - 1
    phase = np.zeros_like(t)
    valid = (index >= 0) & (index < len(strikes) - 1)
    start = strikes[index[valid]]
    end = strikes[index[valid] + 1]
    phase[valid] = (t[valid] - start) / (end - start)
    return phase


def simulate_session(
    params: GaitParams,
    duration_s: float,
    rate_hz: float = 1000.0,
    seed: int = 0,
    t0_s: float = 0.0,
    first_cycle: int = 0,
    goal_steps: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Generate (telemetry TELEMETRY_DTYPE, events EVENT_DTYPE, truth dict) for one session."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate_hz))
    dt = 1.0 / rate_hz
    t = np.arange(n) * dt
    affected = params.affected_side

    # Belt speed: ramp up, hold, slow before obstacles, ramp down over the last seconds.
    ramp_s = params.speed_mps / params.accel_mps2
    speed_cmd = np.minimum(params.speed_mps, params.accel_mps2 * t)
    speed_cmd = np.minimum(speed_cmd, np.maximum(0.0, params.accel_mps2 * (duration_s - t - 0.5)))
    s_free = np.cumsum(speed_cmd) * dt
    obstacles_at_m = np.arange(params.obstacle_spacing_m, max(s_free[-1], 0.0), params.obstacle_spacing_m) if n else np.zeros(0)
    slow = np.zeros(n, dtype=bool)
    for at_m in obstacles_at_m:
        slow |= (s_free > at_m - 3.0) & (s_free < at_m + 0.5)
    speed_cmd = np.where(slow, np.minimum(speed_cmd, params.speed_mps * params.obstacle_speed_fraction), speed_cmd)
    # The belt follows its command with a 0.15 s lag and a little encoder noise.
    alpha = dt / 0.15
    speed = np.empty(n)
    value = 0.0
    for i in range(0, n, 10):  # 100 Hz filter step is plenty for a smooth lag
        value += (speed_cmd[i] - value) * min(1.0, alpha * 10)
        speed[i : i + 10] = value
    speed_meas = speed + rng.normal(0.0, 0.002, n) * (speed > 0.01)
    s_m = np.cumsum(speed) * dt

    # Strides: walking starts once the belt moves; stride times jitter with the given CV.
    walk_start_s = min(ramp_s * 0.3, 2.0)
    side_share = np.full(2, 0.5)
    length_share = np.full(2, 0.5)
    if affected in (LEFT, RIGHT):
        side_share[affected] = 0.5 * (1 + params.step_time_asym)
        side_share[1 - affected] = 0.5 * (1 - params.step_time_asym)
        length_share[affected] = 0.5 * (1 - params.step_length_asym)
        length_share[1 - affected] = 0.5 * (1 + params.step_length_asym)
    stance = np.full(2, params.stance_fraction)
    clearance = np.full(2, params.toe_clearance_m)
    if affected in (LEFT, RIGHT):
        stance[affected] -= params.affected_stance_drop
        clearance[affected] = params.affected_clearance_m

    strikes: list[list[float]] = [[], []]
    step_rows = []  # (t, side, length, time, clearance)
    stride_rows = []  # (t, side, stride_time, stance, stride_length)
    t_hs = walk_start_s
    side = LEFT if affected != LEFT else RIGHT  # lead with the unaffected leg
    last_strike = [None, None]
    previous_strike_t = None
    while t_hs < duration_s - 1.5:
        stride_s = params.stride_time_s * (1 + params.stride_cv_pct / 100 * rng.standard_normal())
        stride_s = max(0.5 * params.stride_time_s, stride_s)
        strikes[side].append(t_hs)
        i = min(n - 1, int(t_hs * rate_hz))
        v = max(float(speed[i]), 0.05)
        if previous_strike_t is not None:
            step_time = t_hs - previous_strike_t
            step_len = v * step_time * length_share[side] / side_share[side]
            toe = max(0.002, clearance[side] + rng.normal(0, 0.003))
            step_rows.append((t_hs, side, step_len, step_time, toe))
        if last_strike[side] is not None:
            st = t_hs - last_strike[side]
            stride_rows.append((t_hs, side, st, stance[side] + rng.normal(0, 0.01), v * st))
        last_strike[side] = t_hs
        previous_strike_t = t_hs
        # The next heel strike is the other leg's, after this side's share... of the next stride.
        t_hs += stride_s * side_share[1 - side]
        side = 1 - side
    strike_arrays = [np.asarray(s) for s in strikes]

    rec = np.zeros(n, dtype=TELEMETRY_DTYPE)
    rec["t_s"] = t0_s + t
    rec["cycle"] = first_cycle + np.arange(n, dtype=np.uint64)
    rec["belt_speed_cmd_mps"] = speed_cmd
    rec["belt_speed_mps"] = speed_meas
    rec["s_m"] = s_m
    guidance = np.clip(params.guidance + 0.05 * np.sin(2 * np.pi * t / 90.0), 0.0, 1.0)
    rec["guidance"] = guidance
    rec["bws_fraction"] = params.bws_fraction
    contacts = np.zeros(n, dtype=np.uint8)
    for leg in (LEFT, RIGHT):
        phase = _phase_from_strikes(t, strike_arrays[leg]) if len(strike_arrays[leg]) > 1 else np.zeros(n)
        walking = phase > 0
        hip_ref = np.where(walking, _hip_angle_rad(phase), 0.0)
        knee_ref = np.where(walking, _knee_angle_rad(phase), 0.05)
        deficit = params.knee_flexion_deficit if leg == affected else 0.0
        # Guidance pulls the patient's own pattern back toward the reference.
        knee_own = knee_ref * (1 - deficit)
        knee = knee_own + (knee_ref - knee_own) * guidance
        rec["hip_ref_rad"][:, leg] = hip_ref
        rec["knee_ref_rad"][:, leg] = knee_ref
        rec["hip_rad"][:, leg] = hip_ref + rng.normal(0, 0.004, n)
        rec["knee_rad"][:, leg] = knee + rng.normal(0, 0.004, n)
        rec["gait_phase"][:, leg] = phase
        swing = walking & (phase >= stance[leg])
        swing_pos = np.clip((phase - stance[leg]) / (1 - stance[leg]), 0, 1)
        rec["toe_height_m"][:, leg] = np.where(swing, (clearance[leg] + 0.04) * np.sin(np.pi * swing_pos), 0.0)
        in_stance = walking & (phase < stance[leg])
        heel = in_stance & (phase < 0.45)
        toe = in_stance & (phase > 0.1)
        contacts |= (heel.astype(np.uint8) << (2 * leg)) | (toe.astype(np.uint8) << (2 * leg + 1))
    rec["contacts"] = contacts
    rec["heart_rate_bpm"] = np.round(
        params.hr_rest_bpm + params.hr_rise_bpm * (1 - np.exp(-t / 60.0)) + rng.normal(0, 0.6, n)
    )
    rec["lateness_us"] = np.abs(rng.normal(8.0, 4.0, n))
    rec["compute_us"] = np.abs(rng.normal(55.0, 8.0, n))
    rec["run_state"] = np.where(t < duration_s - 1.0, int(RunState.RUNNING), int(RunState.STOPPING))

    # Events, in time order.
    events: list[tuple] = []  # (t, kind, side, code, v1, v2, v3)
    events.append((0.0, EventKind.RUN_STATE, -1, int(RunState.RUNNING), math.nan, math.nan, math.nan))
    for leg in (LEFT, RIGHT):
        for k, hs in enumerate(strike_arrays[leg]):
            events.append((hs, EventKind.HEEL_STRIKE, leg, 0, stance[leg] if k else math.nan, math.nan, math.nan))
            if k + 1 < len(strike_arrays[leg]):
                toe_off = hs + stance[leg] * (strike_arrays[leg][k + 1] - hs)
                events.append((toe_off, EventKind.TOE_OFF, leg, 0, math.nan, math.nan, math.nan))
    for k, (ts, leg, length, step_t, toe) in enumerate(step_rows):
        events.append((ts, EventKind.STEP, leg, 0, length, step_t, toe))
        if goal_steps and k + 1 == goal_steps:
            events.append((ts, EventKind.GOAL_REACHED, -1, 0, float(goal_steps), math.nan, math.nan))
    for ts, leg, st, stance_share, stride_len in stride_rows:
        events.append((ts, EventKind.STRIDE, leg, 0, st, stance_share, stride_len))
    outcomes = []
    for index, at_m in enumerate(obstacles_at_m):
        crossing = int(np.searchsorted(s_m, at_m))
        if crossing >= n:
            break
        ts = float(t[crossing])
        cleared = rng.random() < params.obstacle_success
        margin = abs(rng.normal(0.03, 0.01)) if cleared else -abs(rng.normal(0.01, 0.005))
        outcome = ObstacleOutcome.CLEARED if cleared else ObstacleOutcome.HIT
        plan_t = float(t[max(0, int(np.searchsorted(s_m, at_m - 3.0)))])
        events.append((plan_t, EventKind.OBSTACLE_PLAN, -1, index, params.speed_mps * params.obstacle_speed_fraction, 0.3, math.nan))
        events.append((ts, EventKind.OBSTACLE_OUTCOME, -1, index, margin, 0.1 + margin, math.nan))
        outcomes.append((index, float(at_m), outcome.name.lower(), margin))
    for k in range(1, int(duration_s // 30)):
        events.append((30.0 * k, EventKind.GUIDANCE_ADAPTED, -1, 0, float(guidance[min(n - 1, int(30 * k * rate_hz))]), 0.05, math.nan))
    alarm_window = None
    if rng.random() < params.alarm_probability and duration_s > 10:
        raised = float(rng.uniform(0.3, 0.6) * duration_s)
        alarm_window = (raised, raised + 5.0)
        events.append((raised, EventKind.ALARM_RAISED, -1, int(AlarmReason.HEART_RATE_HIGH), float(Priority.MEDIUM), math.nan, math.nan))
        events.append((raised + 5.0, EventKind.ALARM_ACKED, -1, int(AlarmReason.HEART_RATE_HIGH), math.nan, math.nan, math.nan))
    events.append((max(0.0, duration_s - 1.0), EventKind.RUN_STATE, -1, int(RunState.STOPPING), math.nan, math.nan, math.nan))
    events.sort(key=lambda e: e[0])

    ev = np.zeros(len(events), dtype=EVENT_DTYPE)
    for i, (ts, kind, leg, code, v1, v2, v3) in enumerate(events):
        cycle_index = min(n - 1, int(round(ts * rate_hz)))
        ev[i] = (first_cycle + cycle_index, t0_s + cycle_index * dt, int(kind), leg, code, v1, v2, v3)
        rec["events"][cycle_index] |= np.uint32(1 << int(kind))
    if alarm_window is not None:
        inside = (t >= alarm_window[0]) & (t < alarm_window[1])
        rec["alarms"][inside] |= np.uint32(1 << int(AlarmReason.HEART_RATE_HIGH))

    steps = np.array([r[2] for r in step_rows]) if step_rows else np.zeros(0)
    truth = {
        "steps": len(step_rows),
        "strides": len(stride_rows),
        "mean_step_length_m": float(steps.mean()) if len(steps) else math.nan,
        "obstacles": outcomes,
        "distance_m": float(s_m[-1]) if n else 0.0,
    }
    return rec, ev, truth


# ---------------------------------------------------------------------------------------------
# Progress over sessions, per simulated profile
# ---------------------------------------------------------------------------------------------
# Each profile: parameters at the first session and at the last (after about ten sessions);
# session k interpolates with an easing curve (fast early gains, then a plateau), plus noise.
PROFILES: dict[str, tuple[GaitParams, GaitParams]] = {
    "healthy": (
        GaitParams(speed_mps=1.15, stride_time_s=1.08, stride_cv_pct=2.0, guidance=0.15, obstacle_success=0.95,
                   toe_clearance_m=0.02, affected_clearance_m=0.02),
        GaitParams(speed_mps=1.3, stride_time_s=1.04, stride_cv_pct=1.6, guidance=0.05, obstacle_success=1.0,
                   toe_clearance_m=0.022, affected_clearance_m=0.022),
    ),
    "hemiparetic-right": (
        GaitParams(speed_mps=0.35, accel_mps2=0.2, stride_time_s=1.7, stride_cv_pct=7.0, step_time_asym=0.1,
                   step_length_asym=0.13, stance_fraction=0.66, affected_stance_drop=0.08, knee_flexion_deficit=0.55,
                   toe_clearance_m=0.018, affected_clearance_m=0.004, guidance=0.85, bws_fraction=0.3,
                   obstacle_success=0.45, obstacle_speed_fraction=0.7, hr_rest_bpm=78, hr_rise_bpm=30,
                   affected_side=1, alarm_probability=0.7),
        GaitParams(speed_mps=0.75, accel_mps2=0.3, stride_time_s=1.3, stride_cv_pct=3.5, step_time_asym=0.025,
                   step_length_asym=0.03, stance_fraction=0.63, affected_stance_drop=0.03, knee_flexion_deficit=0.2,
                   toe_clearance_m=0.02, affected_clearance_m=0.013, guidance=0.35, bws_fraction=0.1,
                   obstacle_success=0.9, obstacle_speed_fraction=0.8, hr_rest_bpm=74, hr_rise_bpm=22,
                   affected_side=1, alarm_probability=0.1),
    ),
    "parkinsonian": (
        GaitParams(speed_mps=0.5, stride_time_s=0.95, stride_cv_pct=6.0, stance_fraction=0.66, toe_clearance_m=0.008,
                   affected_clearance_m=0.008, guidance=0.6, bws_fraction=0.15, obstacle_success=0.6, alarm_probability=0.3),
        GaitParams(speed_mps=0.9, stride_time_s=1.0, stride_cv_pct=3.0, stance_fraction=0.63, toe_clearance_m=0.015,
                   affected_clearance_m=0.015, guidance=0.25, bws_fraction=0.05, obstacle_success=0.9),
    ),
    "frail-older": (
        GaitParams(speed_mps=0.45, accel_mps2=0.2, stride_time_s=1.35, stride_cv_pct=5.0, stance_fraction=0.66,
                   toe_clearance_m=0.012, affected_clearance_m=0.012, guidance=0.6, bws_fraction=0.3,
                   obstacle_success=0.6, hr_rest_bpm=80, hr_rise_bpm=28, alarm_probability=0.4),
        GaitParams(speed_mps=0.8, accel_mps2=0.25, stride_time_s=1.2, stride_cv_pct=3.0, stance_fraction=0.63,
                   toe_clearance_m=0.017, affected_clearance_m=0.017, guidance=0.3, bws_fraction=0.15,
                   obstacle_success=0.85, hr_rest_bpm=76, hr_rise_bpm=22, alarm_probability=0.1),
    ),
}


# Settings of the scene and the rig rather than of the patient: no day-to-day noise.
_FIXED = {"obstacle_spacing_m", "obstacle_speed_fraction", "accel_mps2", "alarm_probability"}


def params_for_session(profile: str, index: int, count: int, seed: int = 0) -> GaitParams:
    """Parameters of session `index` (0-based) of `count` for a profile, improving over time."""
    first, last = PROFILES[profile]
    progress = 1.0 if count <= 1 else index / (count - 1)
    eased = 1 - (1 - progress) ** 2  # larger gains early on, as in most rehabilitation courses
    rng = np.random.default_rng(seed * 1000 + index)
    values = {}
    for name in GaitParams.__dataclass_fields__:
        a, b = getattr(first, name), getattr(last, name)
        if isinstance(a, float):
            if name in _FIXED:
                values[name] = a + (b - a) * eased
                continue
            value = a + (b - a) * eased
            # Day-to-day variability: 4 % of the value, never crossing into nonsense.
            value *= 1 + 0.04 * rng.standard_normal()
            values[name] = value
    values["obstacle_success"] = min(1.0, max(0.0, values["obstacle_success"]))
    values["alarm_probability"] = min(1.0, max(0.0, values["alarm_probability"]))
    values["guidance"] = min(1.0, max(0.0, values["guidance"]))
    values["bws_fraction"] = min(0.6, max(0.0, values["bws_fraction"]))
    return replace(first, **values)
