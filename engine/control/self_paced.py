"""Self-paced belt speed: keep the patient near a reference position on the belt while the belt
follows the speed they choose (docs/control.md "Self-paced mode" has the law, gains and stability).

The treadmill's distance sensor reports where the patient is along the belt (TM_STATUS
`patient_position_m`, + = ahead of the reference, toward the front). The patient's position on the
belt integrates the difference between their walking speed over ground (their intent) and the
belt speed, so with the belt's acceleration as the input the plant is a double integrator:

    e'' = v_intent' - a_belt          (e = position - reference)

and a PID law on the acceleration, a = Kp e + Kd e' + Ki ∫e dt, gives
e''' + Kd e'' + Kp e' + Ki e = v_intent'' : a patient who keeps speeding up (a ramp of
intent) leaves no lasting position lag (a PD law left Kp⁻¹ times their acceleration). The
integral is frozen while a limit or an override holds the belt (anti-windup).
The estimated intent (belt speed + position rate) is reported for telemetry and stop detection.
Acceleration is limited to the prescription and its rate of change to the prescription's
`max_jerk_mps3` (default MAX_JERK_MPS3), so the belt never surprises; speed stays within
[0, prescribed max]. No allocation per call.
"""

from __future__ import annotations

import math

from engine.control.prescription import DEFAULT_MAX_JERK_MPS3

# Gains: natural frequency 1.6 rad/s, damping 0.9 (see docs/control.md for the choice).
OMEGA_N_RADPS = 1.6
DAMPING = 0.9
KP_PER_S2 = OMEGA_N_RADPS * OMEGA_N_RADPS  # (m/s^2) per m of position error
KD_PER_S = 2.0 * DAMPING * OMEGA_N_RADPS  # (m/s^2) per m/s of position rate
# Integral gain: removes the lag a steady change of intent leaves (A/Kp: 25 mm at 0.065 m/s^2).
# Closed loop s^3 + Kd s^2 + Kp s + Ki: poles -1.74 and -0.57 +- 0.50j (Routh: Kd Kp = 7.4 > Ki);
# the phase margin falls from 39.9 to 39.6 deg (docs/control.md).
KI_PER_S3 = 1.0  # (m/s^2) per m*s of integrated position error
# The integral learns the patient's steady change of pace only while belt and patient move
# together (small error, small rate): a start, a stop or a catch-up would otherwise wind it up
# and the belt would overshoot afterwards (a type-3 loop repays every integrated lag).
INTEGRATE_ERROR_M = 0.04  # above the 25 mm lag of a 0.065 m/s^2 ramp, below a catch-up
INTEGRATE_RATE_MPS = 0.10  # above the sway left after the average, below the 0.15 m/s catch-up
INTEGRAL_FADE_S = 1.0  # outside that, the integral fades with this time constant
MAX_JERK_MPS3 = DEFAULT_MAX_JERK_MPS3  # default rate limit on the belt's acceleration (docs/control.md)
RATE_TAU_S = 0.02  # low-pass of the rate of the averaged position
# The trunk oscillates fore-aft once per step (~2 Hz); the law must not chase it: the position
# is averaged over AVERAGE_S (about one step) before the law sees it.
AVERAGE_S = 0.35
RING = 512  # samples kept for the average (>= AVERAGE_S x the sensor rate, 250 Hz on the rig)
REFERENCE_M = 0.0  # centre of the belt's usable length
STANDSTILL_MPS = 0.02
MAX_LEAD_MPS = 0.15  # the belt never runs more than this faster than the patient walks (no surprise)
START_POSITION_M = 0.05  # a stopped belt starts again only once the patient is this far ahead
STOP_INTENT_MPS = 0.05


class SelfPacedController:
    """The self-paced speed law; `command` is called once per core planning step."""

    def __init__(self) -> None:
        self.ring_pos = [0.0] * RING
        self.ring_t = [0.0] * RING
        self.average_s = AVERAGE_S
        self.kp = KP_PER_S2
        self.kd = KD_PER_S
        self.ki = KI_PER_S3
        self.reset()

    def reset(self) -> None:
        """Forget the state (a new run, or the mode just switched on)."""
        self.accel_mps2 = 0.0
        self.rate_mps = 0.0
        self.last_pos_m = math.nan
        self.last_sample_s = math.nan
        self.last_out_mps = math.nan
        self.intent_mps = 0.0
        self.error_m = 0.0
        self.integral_ms = 0.0  # integrated averaged position error (m*s), frozen under limits
        self.head = 0  # next slot to write
        self.count = 0
        self.tail = 0  # oldest slot inside the window
        self.sum_m = 0.0
        self.avg_m = math.nan

    def command(self, position_m: float, sample_s: float, belt_mps: float, speed_now_mps: float,
                dt_s: float, max_speed_mps: float, max_accel_mps2: float, max_decel_mps2: float,
                max_jerk_mps3: float = MAX_JERK_MPS3) -> float:
        """Belt speed command after dt_s, given the sensor sample (position, its time), the
        measured belt speed and the speed commanded now (after any override by the plan); the
        limits are the patient's prescription (jerk: `Prescription.max_jerk_mps3`)."""
        if dt_s <= 0.0:
            return speed_now_mps
        dt = min(dt_s, 0.1)
        if position_m != position_m:  # no sensor: hold nothing, slow down gently
            position_m = self.last_pos_m if self.last_pos_m == self.last_pos_m else REFERENCE_M
            self.rate_mps = -belt_mps
            self.integral_ms = 0.0  # nothing to integrate: the stop must not be held up by it
        elif sample_s != self.last_sample_s:
            avg = self._average(position_m, sample_s)
            if self.avg_m == self.avg_m:
                gap = sample_s - self.last_sample_s
                if 0.0 < gap < 0.2:
                    raw = (avg - self.avg_m) / gap
                    self.rate_mps += (raw - self.rate_mps) * (gap / (RATE_TAU_S + gap))
            self.avg_m = avg
            self.last_pos_m = position_m
            self.last_sample_s = sample_s
        if self.avg_m == self.avg_m:
            position_m = self.avg_m
        e = position_m - REFERENCE_M
        self.error_m = e
        self.intent_mps = belt_mps + self.rate_mps
        # Bumpless: when something else (an obstacle plan, a stumble, the accel limit) set a
        # different speed, continue from the acceleration actually applied.
        if self.last_out_mps == self.last_out_mps and abs(speed_now_mps - self.last_out_mps) > 1e-6:
            self.accel_mps2 = 0.0 if speed_now_mps <= 0.0 else min(self.accel_mps2, 0.0)
            self.integral_ms = min(self.integral_ms, 0.0)  # held back by a plan: wind nothing up
        v = speed_now_mps
        standing = v <= STANDSTILL_MPS and e < START_POSITION_M and self.intent_mps < STOP_INTENT_MPS
        if standing:
            self.integral_ms = 0.0  # a standing patient: a start begins from nothing
        a_pd = self.kp * e + self.kd * self.rate_mps
        a_des = a_pd + self.ki * self.integral_ms
        if standing:
            a_des = min(a_des, 0.0)  # standing patient: the belt stays put
        # Catching up a patient far ahead must not make the belt outrun them: a soft cap
        # (2 /s toward it) on how much faster than the estimated intent the belt may go.
        low = -max_decel_mps2
        high = max(min(max_accel_mps2, 2.0 * (self.intent_mps + MAX_LEAD_MPS - v)), low)  # the decel limit wins
        # Anti-windup (conditional integration): the integral grows only while the law's own
        # acceleration is within the limits, or when the error would pull it back inside them;
        # its share of the command never exceeds the prescription's acceleration limits.
        tracking = abs(e) < INTEGRATE_ERROR_M and abs(self.rate_mps) < INTEGRATE_RATE_MPS
        if not tracking:  # a transient: the integral fades (a frozen one could hold a lasting bias)
            self.integral_ms -= self.integral_ms * min(1.0, dt / INTEGRAL_FADE_S)
        elif not ((a_des >= high and e > 0.0) or (a_des <= low and e < 0.0) or standing):
            self.integral_ms += e * dt
            bound = max(max_accel_mps2, max_decel_mps2) / self.ki if self.ki > 0.0 else 0.0
            self.integral_ms = min(max(self.integral_ms, -bound), bound)
        a_des = min(max(a_des, low), high)
        jerk = max_jerk_mps3 if max_jerk_mps3 > 0.0 else MAX_JERK_MPS3
        step = jerk * dt
        a = self.accel_mps2
        # Jerk-limited approach to standstill and to the top speed: ramping the acceleration to
        # zero at the jerk limit changes the speed by a^2 / (2 J); start ramping in time.
        coast = a * a / (2.0 * jerk)
        if a > 0.0 and v + coast + 2.0 * a * dt >= max_speed_mps:
            a_des = min(a_des, 0.0)
        elif a < 0.0 and v - coast + 2.0 * a * dt <= 0.0:
            a_des = max(a_des, 0.0)
        if v >= max_speed_mps:
            a_des = min(a_des, 0.0)
        elif v <= 0.0:
            a_des = max(a_des, 0.0)
        a = min(a + step, a_des) if a_des > a else max(a - step, a_des)
        v_next = min(max(v + a * dt, 0.0), max_speed_mps)
        if v_next <= 0.0 or v_next >= max_speed_mps:
            a = (v_next - v) / dt  # what was actually applied (small: the approach was ramped)
        self.accel_mps2 = a
        self.last_out_mps = v_next
        return v_next

    def _average(self, position_m: float, sample_s: float) -> float:
        """Mean of the samples in the last average_s (a running sum over a fixed ring)."""
        head = self.head
        if self.count == RING:  # full: the oldest slot is overwritten
            if self.tail == head:
                self.sum_m -= self.ring_pos[head]
                self.tail = (self.tail + 1) % RING
            self.count -= 1
        self.ring_pos[head] = position_m
        self.ring_t[head] = sample_s
        self.sum_m += position_m
        self.head = (head + 1) % RING
        self.count += 1
        while self.count > 1 and self.ring_t[self.tail] < sample_s - self.average_s:
            self.sum_m -= self.ring_pos[self.tail]
            self.tail = (self.tail + 1) % RING
            self.count -= 1
        return self.sum_m / self.count
