"""Heel strike and toe off per foot, and the online gait-phase estimate.

Insoles: the foot load (heel + toe pressure, fraction of body weight) crosses an upper threshold
to start a contact and a lower one to end it (hysteresis, so sensor noise near one threshold
cannot chatter). The event time is the threshold crossing moved back along the load's slope to
where the load left (or reached) zero, which removes most of the threshold delay.

Fallback when the insoles cannot be trusted (sensor fault, frozen values): joint kinematics.
Heel strike is where the knee stops extending at the end of swing (knee velocity turns from
negative to positive with the hip flexed); toe off is where the hip stops extending (hip velocity
turns positive), which precedes toe off by a few percent of the cycle.
"""

from __future__ import annotations

from engine.control import refgait

NO_EVENT, HEEL_STRIKE, TOE_OFF = 0, 1, 2

HEEL_ON = 0.012  # heel load (fraction of body weight) that starts a contact
LOAD_ON = 0.10  # ... or a whole-foot load (a patient who lands on the forefoot)
LOAD_OFF = 0.008  # whole-foot load below which the contact ends
MIN_CONTACT_S = 0.08  # shorter contacts or flights are bounces, not gait events


class FootEvents:
    """Hysteresis contact detector for one foot; `update` returns NO_EVENT, HEEL_STRIKE or TOE_OFF
    and sets `event_t_s` to the estimated event time.

    A dragging toe in swing loads its sensor lightly, so a contact starts on the heel (or on a
    clear whole-foot load) and ends only when the whole foot is unloaded. The thresholds default
    to the exoskeleton's pressure sensors; the smart insoles pass their own (insole_events.py).
    noise_floor: a sample below it counts as unloaded when timing a jump (0 = exactly zero).
    """

    def __init__(self, heel_on: float = HEEL_ON, load_on: float = LOAD_ON, load_off: float = LOAD_OFF,
                 noise_floor: float = 1e-6) -> None:
        self.heel_on = heel_on
        self.load_on = load_on
        self.load_off = load_off
        self.noise_floor = noise_floor
        self.contact = False
        self.event_t_s = 0.0
        self.last_change_s = -1.0
        self._prev_t = 0.0
        self._prev_heel = 0.0
        self._prev_load = 0.0
        self._have_prev = False
        # the last sample at which the heel (the whole foot) read unloaded, and the one after it
        self._heel_quiet = [-1.0, -1.0]
        self._load_quiet = [-1.0, -1.0]

    def update(self, t_s: float, heel: float, toe: float) -> int:
        """Feed one sample (time, heel and toe load as fractions of body weight)."""
        load = heel + toe
        _quiet(self._heel_quiet, t_s, heel <= self.noise_floor)
        _quiet(self._load_quiet, t_s, load <= self.noise_floor)
        event = NO_EVENT
        if self._have_prev:
            if not self.contact:
                if (heel >= self.heel_on or load >= self.load_on) and t_s - self.last_change_s >= MIN_CONTACT_S:
                    self.contact = True
                    if heel >= self.heel_on:
                        self.event_t_s = _not_before_quiet(
                            _zero_time(self._prev_t, self._prev_heel, t_s, heel, self.noise_floor), self._heel_quiet)
                    else:
                        self.event_t_s = _not_before_quiet(
                            _zero_time(self._prev_t, self._prev_load, t_s, load, self.noise_floor), self._load_quiet)
                    event = HEEL_STRIKE
            elif load <= self.load_off and t_s - self.last_change_s >= MIN_CONTACT_S:
                self.contact = False
                self.event_t_s = _zero_time(self._prev_t, self._prev_load, t_s, load, self.noise_floor)
                event = TOE_OFF
            if event:
                self.last_change_s = self.event_t_s
        else:
            self.contact = heel >= self.heel_on or load >= self.load_on
            self._have_prev = True
        self._prev_t = t_s
        self._prev_heel = heel
        self._prev_load = load
        return event


    def end_contact(self, event_t_s: float) -> bool:
        """The caller knows the contact ended at event_t_s (a dragging toe after push-off);
        False when that would be a bounce (within MIN_CONTACT_S of the last change)."""
        if not self.contact or event_t_s - self.last_change_s < MIN_CONTACT_S:
            return False
        self.contact = False
        self.event_t_s = event_t_s
        self.last_change_s = event_t_s
        return True


def _quiet(state: list, t_s: float, unloaded: bool) -> None:
    """Track the last unloaded sample's time (state[0]) and the first loaded one after it (state[1])."""
    if unloaded:
        state[0], state[1] = t_s, -1.0
    elif state[1] < 0.0:
        state[1] = t_s


def _not_before_quiet(event_t_s: float, quiet: list) -> float:
    """A contact cannot have begun before a sample that read unloaded: a load that jumped from the
    noise floor to just under the threshold and then rose slowly (a lightly loaded paretic heel)
    drew a line back three samples, 12-18 ms before the landing. Bound there, it is a jump: the
    middle of the interval between the last unloaded sample and the first loaded one."""
    if quiet[0] >= 0.0 and event_t_s < quiet[0] and quiet[1] > quiet[0]:
        return 0.5 * (quiet[0] + quiet[1])
    return event_t_s


def _zero_time(t0: float, v0: float, t1: float, v1: float, noise_floor: float = 1e-6) -> float:
    """When the load crossed zero between two samples straddling a threshold.

    Loads jump at contact and at lift-off (a step between two samples), or ramp. For a jump (one
    side of the pair at the noise floor) the best estimate is the middle of the interval; for a
    ramp, the line through both samples extended back to zero, at most three samples away.
    """
    dt = t1 - t0
    if dt <= 0.0:
        return t1
    low, high = (v0, v1) if v1 > v0 else (v1, v0)
    if low <= noise_floor:
        return t0 + 0.5 * dt
    if high == low:
        # Level (a contact declared when the bounce guard ended, between equal samples): no
        # crossing lies between them; the sample that declared it is the best bound.
        return t1
    slope = (high - low) / dt
    back = low / slope
    if back > 3.0 * dt:
        back = 3.0 * dt
    # rising: zero lies before t0; falling: zero lies after t1
    return t0 - back if v1 > v0 else t1 + back


class KinematicEvents:
    """Fallback events from hip and knee angles of one leg (see module docstring)."""

    def __init__(self) -> None:
        self.event_t_s = 0.0
        self.contact = True
        self._prev_t = 0.0
        self._prev_hip = 0.0
        self._prev_knee = 0.0
        self._hip_vel_sign = 0
        self._knee_vel_sign = 0
        self._started = False
        self._last_event_s = -1.0

    def update(self, t_s: float, hip_rad: float, knee_rad: float, hip_mean_rad: float) -> int:
        """Feed one joint sample; returns NO_EVENT, HEEL_STRIKE or TOE_OFF."""
        if not self._started:
            self._started = True
            self._prev_t, self._prev_hip, self._prev_knee = t_s, hip_rad, knee_rad
            return NO_EVENT
        dt = t_s - self._prev_t
        if dt <= 0.0:
            return NO_EVENT
        dhip = hip_rad - self._prev_hip
        dknee = knee_rad - self._prev_knee
        event = NO_EVENT
        # Ignore tiny changes (sensor noise) when deciding the sign of the velocity.
        eps = 1e-4
        hip_sign = 1 if dhip > eps else -1 if dhip < -eps else self._hip_vel_sign
        knee_sign = 1 if dknee > eps else -1 if dknee < -eps else self._knee_vel_sign
        if t_s - self._last_event_s > MIN_CONTACT_S:
            if (not self.contact and self._knee_vel_sign < 0 and knee_sign > 0 and hip_rad > hip_mean_rad):
                self.contact = True
                event = HEEL_STRIKE
            elif self.contact and self._hip_vel_sign < 0 and hip_sign > 0 and hip_rad < hip_mean_rad:
                self.contact = False
                event = TOE_OFF
        if event:
            self.event_t_s = self._prev_t
            self._last_event_s = self._prev_t
        self._hip_vel_sign, self._knee_vel_sign = hip_sign, knee_sign
        self._prev_t, self._prev_hip, self._prev_knee = t_s, hip_rad, knee_rad
        return event


class PhaseEstimator:
    """Gait phase 0..1 of one leg: time since its heel strike over the expected stride time.

    The stride time follows the measured strides (exponential average); before the first
    strides, and when the belt speed changes a lot, it leans on refgait.stride_time_s.
    """

    SMOOTHING = 0.3  # weight of the newest stride in the average

    def __init__(self) -> None:
        self.stride_time_s = 1.1
        self.last_hs_s = -1.0
        self.strides = 0

    def heel_strike(self, t_s: float) -> None:
        """A heel strike of this leg at t_s."""
        if self.last_hs_s >= 0.0:
            stride = t_s - self.last_hs_s
            if 0.3 < stride < 5.0:
                if self.strides == 0:
                    self.stride_time_s = stride
                else:
                    self.stride_time_s += self.SMOOTHING * (stride - self.stride_time_s)
                self.strides += 1
        self.last_hs_s = t_s

    def model_hint(self, speed_mps: float, leg_length_m: float) -> None:
        """Before any measured stride, take the stride time the reference model predicts."""
        if self.strides == 0:
            self.stride_time_s = refgait.stride_time_s(speed_mps, leg_length_m)

    def phase(self, t_s: float) -> float:
        """Phase now; held just below 1 when the next heel strike is late."""
        if self.last_hs_s < 0.0:
            return 0.0
        p = (t_s - self.last_hs_s) / self.stride_time_s
        return 0.0 if p < 0.0 else 0.999 if p > 0.999 else p
