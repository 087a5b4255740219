"""The simulated patient: a phase-driven walker on the belt, inside the exoskeleton.

Kinematic, not dynamic, but consistent where the gait numbers come from:
- one stride phase per leg; the stride time follows the belt speed through the patient's walk
  ratio (step length / cadence is nearly constant for a person), with seeded per-stride noise;
- the feet are tracked along the belt: a stance foot moves back with the belt, a swing foot
  travels to its landing point, so a step length is a real distance between heels and
  step lengths add up to the belt displacement over a stride;
- hip and knee follow the patient's own pattern, blended with the exoskeleton's guidance like
  two springs in parallel (more stiffness pulls the joint toward the reference); a swing-
  clearance boost adds hip and knee flexion and dorsiflexion in that leg's swing;
- toe height comes from leg geometry (thigh, shank, foot) with the stance leg holding the pelvis;
- heel and toe pressure come from foot contact; heart rate rises with speed and effort, and
  fatigue builds over the session (less knee flexion, more variability, higher heart rate).
Times are the caller's clock (time.monotonic() in the rig), so events compare with the host's.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from devices.base import JointMode
from devices.sim.profiles import PatientProfile

V_WALK_MIN_MPS = 0.05  # below this belt speed the patient stops stepping
V_FINISH_STEP_MPS = 0.2  # pace used to finish a step when the belt stops mid-swing
EXO_MAX_STIFFNESS_NM_PER_RAD = 200.0  # guidance stiffness 1.0
EXO_DAMPING_NMS_PER_RAD = 4.0
BOOST_KNEE_DEG = 30.0  # extra swing knee flexion at boost 1.0
BOOST_HIP_DEG = 12.0
BOOST_DORSI_DEG = 12.0
TOE_DRAG_PRESSURE = 0.03  # a dragging toe loads its sensor a little
HR_TAU_S = 25.0
# Minimum toe clearance is taken in mid-swing (fraction of swing), where the toe passes lowest.
MTC_WINDOW = (0.3, 0.8)
DEG = math.pi / 180.0


@dataclass
class ExoDrive:
    """What the exoskeleton applies this instant (after the firmware's mode logic)."""

    modes: tuple[int, int, int, int] = (0, 0, 0, 0)
    stiffness: float = 0.0
    ref_angle_rad: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    ref_velocity_radps: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    clearance_boost: tuple[float, float] = (0.0, 0.0)


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


class PatientModel:
    """Steps the patient forward in time; exposes joint, contact and ground-truth data."""

    def __init__(self, profile: PatientProfile, seed: int = 0) -> None:
        self.profile = profile
        self.seed = seed
        self._rng = random.Random(seed)  # stride and step draws, in event order
        self._hr_rng = random.Random(seed * 7919 + 1)
        self.t_s: float | None = None
        self.phase = 0.0  # left stride phase, 0 at left heel strike; start in double support
        self.walking = False
        self.stride_factor = 1.0
        self.belt_m = 0.0
        self.fatigue = 0.0
        self.heart_rate_bpm = profile.hr_rest_bpm
        self.foot_x_m = [0.3, -0.3]
        self.in_stance = [True, True]
        self._swing_from_x = [0.0, 0.0]
        self._swing_to_x = [0.0, 0.0]
        self._swing_min = [math.inf, math.inf]
        self._swing_min_t = [0.0, 0.0]
        self._swing_peak = [0.0, 0.0]
        self._last_hs_t: list[float | None] = [None, None]
        self._hold_rad = [0.0, 0.0, 0.0, 0.0]
        self.angle_rad = [0.0] * 4
        self.velocity_radps = [0.0] * 4
        self.motor_torque_nm = [0.0] * 4
        self.interaction_torque_nm = [0.0] * 4
        self.pressure = [0.0] * 4
        self.toe_height_m = [0.0, 0.0]
        # ground truth
        self.heel_strikes: list[dict] = []
        self.toe_offs: list[dict] = []
        self.steps: list[dict] = []
        self.swings: list[dict] = []
        self.strides: list[dict] = []
        self._angles_now(0.0, ExoDrive(), 0.0, 0.0)

    # ------------------------------------------------------------------ gait parameters
    def mean_step_length_m(self, speed_mps: float) -> float:
        """Preferred step length at this speed: L = sqrt(60 * walk_ratio * v)."""
        return math.sqrt(60.0 * self.profile.walk_ratio_m_per_spm * max(speed_mps, 0.0))

    def _leg_phase(self, phase: float, side: int) -> float:
        if side == 0:
            return phase
        return (phase - self.profile.right_heel_strike_phase) % 1.0

    # ------------------------------------------------------------------ stepping
    def step(self, t_s: float, belt_speed_mps: float, drive: ExoDrive, bws_fraction: float = 0.0,
             held: bool = False) -> None:
        """Advance to time t_s with the belt at belt_speed_mps and the exoskeleton applying drive.

        held: the exoskeleton holds the joints (HOLD safe mode), so the patient cannot step.
        """
        if self.t_s is None:
            self.t_s = t_s
            return
        dt = t_s - self.t_s
        if dt <= 0.0:
            return
        t0 = self.t_s
        self.t_s = t_s
        p = self.profile
        v = max(0.0, belt_speed_mps)
        self.belt_m += v * dt

        both_stance = self.in_stance[0] and self.in_stance[1]
        if held:
            rate = 0.0
        elif v >= V_WALK_MIN_MPS:
            v_eff = v
            rate = 1.0
        elif not both_stance:
            v_eff = V_FINISH_STEP_MPS
            rate = 1.0
        else:
            rate = 0.0
        self.walking = rate > 0.0
        if rate:
            step_m = self.mean_step_length_m(v_eff)
            stride_s = 2.0 * step_m / v_eff * self.stride_factor * (1.0 + 0.05 * self.fatigue)
            rate = 1.0 / stride_s
        old = self.phase
        new = old + rate * dt
        self.phase = new % 1.0

        # feet in stance move back with the belt
        for side in (0, 1):
            if self.in_stance[side]:
                self.foot_x_m[side] -= v * dt

        # events, in the order they happen inside this tick
        events = []
        for side in (0, 1):
            offset = 0.0 if side == 0 else p.right_heel_strike_phase
            stance = p.stance_fraction[side]
            # heel strike when the leg phase passes 1 (leg-phase zero), toe off at `stance`
            for target, kind in ((offset, "hs"), ((offset + stance) % 1.0, "to")):
                for crossing in (target, target + 1.0):
                    if rate and old < crossing <= new:
                        events.append(((crossing - old) / (new - old), side, kind))
        events.sort()
        for frac, side, kind in events:
            t_event = t0 + frac * dt
            # the belt moved the feet for the whole tick; the event happened part-way through it
            rest_m = (1.0 - frac) * v * dt
            if kind == "to":
                self._toe_off(side, t_event, v, rest_m)
            else:
                self._heel_strike(side, t_event, rest_m)

        # swing feet travel to their landing points
        for side in (0, 1):
            if not self.in_stance[side]:
                u = self._swing_progress(side)
                a, b = self._swing_from_x[side], self._swing_to_x[side]
                self.foot_x_m[side] = a + (b - a) * _min_jerk(u)

        self._angles_now(dt, drive, v, bws_fraction)
        self._effort(dt, v, bws_fraction)

    def _swing_progress(self, side: int) -> float:
        stance = self.profile.stance_fraction[side]
        leg = self._leg_phase(self.phase, side)
        return (leg - stance) / (1.0 - stance) if leg >= stance else 1.0

    def _toe_off(self, side: int, t_s: float, v: float, rest_m: float = 0.0) -> None:
        self.in_stance[side] = False
        self.foot_x_m[side] += rest_m  # it left the belt part-way through the tick
        self.toe_offs.append({"side": side, "t_s": t_s})
        step_m = self.mean_step_length_m(max(v, V_FINISH_STEP_MPS))
        land = 0.5 * step_m + self.profile.step_length_cv * step_m * self._rng.gauss(0.0, 1.0)
        self._swing_from_x[side] = self.foot_x_m[side]
        self._swing_to_x[side] = land
        self._swing_min[side] = math.inf
        self._swing_peak[side] = 0.0

    def _heel_strike(self, side: int, t_s: float, rest_m: float = 0.0) -> None:
        self.in_stance[side] = True
        other = 1 - side
        # heel-to-heel distance at the strike itself (the other foot is where it was then)
        length_m = self._swing_to_x[side] - (self.foot_x_m[other] + (rest_m if self.in_stance[other] else 0.0))
        self.foot_x_m[side] = self._swing_to_x[side] - rest_m
        self.heel_strikes.append({"side": side, "t_s": t_s})
        if self._last_hs_t[other] is not None:
            self.steps.append(
                {"side": side, "t_s": t_s, "length_m": length_m, "time_s": t_s - self._last_hs_t[other]}
            )
        if self._swing_min[side] < math.inf:
            self.swings.append(
                {
                    "side": side,
                    "t_s": self._swing_min_t[side],
                    "clearance_m": self._swing_min[side],
                    "peak_m": self._swing_peak[side],
                }
            )
        self._last_hs_t[side] = t_s
        if side == 0:
            # a new left stride: draw its time factor (Parkinsonian strides vary most)
            cv = self.profile.stride_time_cv * (1.0 + self.fatigue)
            z = self._rng.gauss(0.0, 1.0)
            self.stride_factor = max(0.6, 1.0 + cv * z)
            self.strides.append({"t_s": t_s, "factor": self.stride_factor, "z": z})

    # ------------------------------------------------------------------ joints and contact
    def _own_pattern(self, side: int, v: float, boost: float) -> tuple[float, float, float]:
        """The patient's own hip, knee (rad) and ankle dorsiflexion (rad) for this leg now."""
        p = self.profile
        stance = p.stance_fraction[side]
        leg = self._leg_phase(self.phase, side)
        # warp so stance maps to 0..0.6 and swing to 0.6..1 of a normative cycle
        g = 0.6 * leg / stance if leg < stance else 0.6 + 0.4 * (leg - stance) / (1.0 - stance)
        scale = min(1.2, max(0.85, self.mean_step_length_m(max(v, 0.3)) / 0.68))
        hip_deg = 10.0 * scale + p.hip_amplitude_deg[side] * scale * math.cos(2.0 * math.pi * (g - 0.88))
        speed_knee = 0.9 + 0.1 * min(1.2, v / 1.2)
        knee_peak = p.knee_swing_peak_deg[side] * speed_knee * (1.0 - 0.25 * self.fatigue)
        knee_deg = (
            5.0
            + 12.0 * scale * math.exp(-(((g - 0.15) / 0.06) ** 2))
            + (knee_peak - 5.0) * math.exp(-(((g - 0.73) / 0.11) ** 2))
        )
        dorsi_deg = 0.0
        if g >= 0.6:
            swing = _smooth(g, 0.6, 0.66) * (1.0 - _smooth(g, 0.95, 1.0))
            dorsi_deg = p.swing_dorsiflexion_deg[side] * swing
            if boost > 0.0:
                hump = math.sin(math.pi * (g - 0.6) / 0.4)
                knee_deg += BOOST_KNEE_DEG * boost * hump
                hip_deg += BOOST_HIP_DEG * boost * hump
                dorsi_deg += BOOST_DORSI_DEG * boost * hump
        return hip_deg * DEG, knee_deg * DEG, dorsi_deg * DEG

    def _angles_now(self, dt: float, drive: ExoDrive, v: float, bws: float) -> None:
        p = self.profile
        prev = list(self.angle_rad)
        dorsi = [0.0, 0.0]
        for side in (0, 1):
            hip, knee, dorsi[side] = self._own_pattern(side, v, drive.clearance_boost[side])
            k_patient = p.joint_stiffness_nm_per_rad[side]
            for joint, own in ((0, hip), (1, knee)):
                i = side * 2 + joint
                mode = drive.modes[i]
                if mode == JointMode.GUIDANCE and drive.stiffness > 0.0:
                    k_exo = EXO_MAX_STIFFNESS_NM_PER_RAD * min(1.0, drive.stiffness)
                    ref = drive.ref_angle_rad[i]
                elif mode == JointMode.HOLD:
                    k_exo = EXO_MAX_STIFFNESS_NM_PER_RAD
                    ref = self._hold_rad[i]
                else:
                    k_exo = 0.0
                    ref = own
                # springs in parallel: equilibrium between the patient's pattern and the reference
                w = k_exo / (k_exo + k_patient)
                angle = own + w * (ref - own)
                if mode != JointMode.HOLD:
                    self._hold_rad[i] = angle
                velocity = (angle - prev[i]) / dt if dt > 0.0 else 0.0
                if k_exo > 0.0:
                    ref_vel = drive.ref_velocity_radps[i] if mode == JointMode.GUIDANCE else 0.0
                    damping = EXO_DAMPING_NMS_PER_RAD * (k_exo / EXO_MAX_STIFFNESS_NM_PER_RAD)
                    interaction = k_exo * (ref - angle) + damping * (ref_vel - velocity)
                else:
                    interaction = -0.02 * velocity  # residual drag of a transparent drive
                self.angle_rad[i] = angle
                self.velocity_radps[i] = velocity
                self.interaction_torque_nm[i] = interaction
                # motor torque = what reaches the patient plus the drive's own friction
                self.motor_torque_nm[i] = interaction + 0.15 * velocity
        self._toe_heights(dorsi)
        self._pressures(bws)

    def _leg_drop_m(self, side: int) -> float:
        """Vertical distance from hip to ankle for this leg's current angles."""
        p = self.profile
        hip = self.angle_rad[side * 2]
        knee = self.angle_rad[side * 2 + 1]
        return p.thigh_m * math.cos(hip) + p.shank_m * math.cos(hip - knee)

    def _toe_heights(self, dorsi: list[float]) -> None:
        p = self.profile
        stance_drops = [self._leg_drop_m(s) for s in (0, 1) if self.in_stance[s]]
        if not stance_drops:
            return
        pelvis_m = max(stance_drops) + p.foot_height_m  # the straighter stance leg holds the pelvis
        for side in (0, 1):
            if self.in_stance[side]:
                self.toe_height_m[side] = 0.0
                continue
            shank = self.angle_rad[side * 2] - self.angle_rad[side * 2 + 1]
            pitch = -shank - dorsi[side]  # toe-down foot pitch
            toe_below_ankle = p.foot_length_m * math.sin(pitch) + p.foot_height_m * math.cos(pitch)
            height = pelvis_m - self._leg_drop_m(side) - toe_below_ankle
            self.toe_height_m[side] = max(0.0, height)
            u = self._swing_progress(side)
            if MTC_WINDOW[0] <= u <= MTC_WINDOW[1] and height < self._swing_min[side]:
                self._swing_min[side] = max(0.0, height)
                self._swing_min_t[side] = self.t_s or 0.0
            if height > self._swing_peak[side]:
                self._swing_peak[side] = height

    def _pressures(self, bws: float) -> None:
        p = self.profile
        weight = max(0.0, 1.0 - bws)
        load = [0.0, 0.0]
        heel = [0.0, 0.0]
        toe = [0.0, 0.0]
        for side in (0, 1):
            if not self.in_stance[side]:
                continue
            q = min(1.0, self._leg_phase(self.phase, side) / p.stance_fraction[side])
            heel[side] = 1.0 - _smooth(q, 0.45, 0.65)
            toe[side] = _smooth(q, 0.05, 0.2) * (1.0 - _smooth(q, 0.9, 1.0))
            load[side] = 0.05 + _smooth(q, 0.0, 0.15) * (1.0 - _smooth(q, 0.8, 1.0))
        total = load[0] + load[1]
        for side in (0, 1):
            if self.in_stance[side] and total > 0.0:
                share = weight * load[side] / total
                parts = heel[side] + toe[side] + 1e-9
                self.pressure[side * 2] = share * heel[side] / parts * 1.1
                self.pressure[side * 2 + 1] = share * toe[side] / parts * 1.1
            else:
                self.pressure[side * 2] = 0.0
                dragging = (
                    not self.in_stance[side]
                    and self.toe_height_m[side] <= 0.0
                    and MTC_WINDOW[0] <= self._swing_progress(side) <= MTC_WINDOW[1]
                )
                self.pressure[side * 2 + 1] = TOE_DRAG_PRESSURE * weight if dragging else 0.0

    def _effort(self, dt: float, v: float, bws: float) -> None:
        p = self.profile
        effort = (v / 1.0) ** 2 * (1.0 - bws)
        self.fatigue += dt * p.fatigue_per_min / 60.0 * effort * (1.0 - self.fatigue)
        target = p.hr_rest_bpm + p.hr_speed_gain_bpm_per_mps2 * effort + 20.0 * self.fatigue
        target = min(p.hr_max_bpm, target)
        self.heart_rate_bpm += (target - self.heart_rate_bpm) * min(1.0, dt / HR_TAU_S)

    def heart_rate_sample(self) -> float:
        """Heart rate as a sensor reads it once a second (with beat-to-beat noise)."""
        return self.heart_rate_bpm + self._hr_rng.gauss(0.0, 1.0)

    # ------------------------------------------------------------------ ground truth
    def ground_truth(self) -> dict:
        """Everything the rig knows happened, times on the caller's clock (JSON-able)."""
        return {
            "profile": self.profile.name,
            "seed": self.seed,
            "heel_strikes": list(self.heel_strikes),
            "toe_offs": list(self.toe_offs),
            "steps": list(self.steps),
            "toe_clearance": list(self.swings),
            "strides": list(self.strides),
            "belt_displacement_m": self.belt_m,
            # leg geometry behind the toe heights; the ankle angle is not measured by the exo
            "geometry": {
                "thigh_m": self.profile.thigh_m,
                "shank_m": self.profile.shank_m,
                "foot_height_m": self.profile.foot_height_m,
                "foot_length_m": self.profile.foot_length_m,
                "leg_length_m": self.profile.thigh_m + self.profile.shank_m + self.profile.foot_height_m,
                "swing_dorsiflexion_deg": list(self.profile.swing_dorsiflexion_deg),
            },
            "fatigue": self.fatigue,
            "heart_rate_bpm": self.heart_rate_bpm,
        }


def simulate(profile: PatientProfile, seed: int, speed_mps: float, duration_s: float,
             dt_s: float = 0.002, drive: ExoDrive | None = None, t0_s: float = 0.0) -> PatientModel:
    """Walk the patient offline at a constant belt speed with a fixed step; returns the model."""
    model = PatientModel(profile, seed)
    drive = drive or ExoDrive()
    n = int(round(duration_s / dt_s))
    model.step(t0_s, speed_mps, drive)
    for k in range(1, n + 1):
        model.step(t0_s + k * dt_s, speed_mps, drive)
    return model
