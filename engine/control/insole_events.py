"""Contacts and foot pitch from one smart insole: heel strike, toe off, foot-flat and the foot angle.

Loads are fractions of the standing load (the sum of both insoles while the patient stands
before the belt moves: the standing calibration), after subtracting each region's zero, which is
learned while the foot is in the air (cells creep and carry an offset; a tared cell reads zero
unloaded).

Contact: starts when the heel region reaches HEEL_ON (or the whole foot LOAD_ON: a forefoot
landing) and ends when the whole foot falls below LOAD_OFF, with MIN_CONTACT_S refractory time.
The event time is the middle of the sample interval when the load jumped there from the noise
floor, else the line through the two samples extended back to zero (at most three samples).

Pitch (toe-down positive): the gyro's pitch rate minus its bias, integrated sample by sample
with the insole's own sample times. At foot-flat (heel and forefoot both loaded) the foot lies
on the belt, so the angle is reset to zero and the bias estimate updated from the rate there,
which is zero in truth: the integration drifts only over one swing.
"""

from __future__ import annotations

from engine.control.gait_events import NO_EVENT, FootEvents

HEEL_ON = 0.015  # heel load that starts a contact (fraction of standing load)
LOAD_ON = 0.10  # whole-foot load that starts one (forefoot landing)
LOAD_OFF = 0.010  # whole-foot load below which a contact ends
NOISE_FLOOR = 0.006  # a load below this is "unloaded" for the event-time estimate
FLAT_MIN = 0.02  # heel and forefoot both above this: foot flat on the belt
TARE_RATE = 0.02  # per airborne sample: ~0.25 s time constant at 200 Hz
BIAS_RATE = 0.02  # per foot-flat sample
MAX_EXTRAPOLATE_S = 0.02


class InsoleFoot:
    """One foot's insole: feed `update` every sample in order; read `contact`, `pitch_rad`."""

    def __init__(self) -> None:
        self.zero_n = [0.0, 0.0, 0.0]  # heel, midfoot, toe
        self.events = FootEvents(HEEL_ON, LOAD_ON, LOAD_OFF, NOISE_FLOOR)
        self.contact = True  # the patient starts standing
        self.flat = False
        self.event_t_s = 0.0
        self.pitch_rad = 0.0
        self.rate_radps = 0.0
        self.gyro_bias_radps = 0.0
        self.t_s = -1.0  # host time of the latest sample
        self.heel = 0.0
        self.forefoot = 0.0
        self._prev_dev_s = -1.0
        self._prev_pitch_t = -1.0
        self._prev_pitch = 0.0

    def update(self, t_s: float, dev_s: float, heel_n: float, mid_n: float, toe_n: float,
               gyro_pitch_radps: float, standing_n: float) -> int:
        """One sample: host time, device time, region forces (N), pitch rate, standing load (N)."""
        z = self.zero_n
        scale = 1.0 / standing_n
        h = (heel_n - z[0]) * scale
        m = (mid_n - z[1]) * scale
        f = (toe_n - z[2]) * scale
        if h < 0.0:
            h = 0.0
        if m < 0.0:
            m = 0.0
        if f < 0.0:
            f = 0.0
        self.heel = h
        self.forefoot = f
        event = self.events.update(t_s, h, m + f)
        self.contact = self.events.contact
        self.event_t_s = self.events.event_t_s
        if not self.contact and event == NO_EVENT:
            # airborne: learn each region's zero (the raw reading is the offset plus noise)
            z[0] += TARE_RATE * (heel_n - z[0])
            z[1] += TARE_RATE * (mid_n - z[1])
            z[2] += TARE_RATE * (toe_n - z[2])
        # pitch
        dt = dev_s - self._prev_dev_s if self._prev_dev_s >= 0.0 else 0.0
        if dt < 0.0 or dt > 0.1:
            dt = 0.0  # a gap or a restarted device clock: do not integrate across it
        rate = gyro_pitch_radps - self.gyro_bias_radps
        previous_pitch = self.pitch_rad
        self.flat = self.contact and h >= FLAT_MIN and f + m >= FLAT_MIN
        if self.flat:
            self.gyro_bias_radps += BIAS_RATE * (gyro_pitch_radps - self.gyro_bias_radps)
            self.pitch_rad = 0.0
            self.rate_radps = 0.0
        else:
            self.pitch_rad += rate * dt
            self.rate_radps = rate
        self._prev_dev_s = dev_s
        self._prev_pitch_t = self.t_s
        self._prev_pitch = previous_pitch
        self.t_s = t_s
        return event

    def pitch_at(self, t_s: float) -> float:
        """Foot pitch at host time t_s: interpolated between the last two samples, or the latest
        moved on at its rate (at most MAX_EXTRAPOLATE_S either way)."""
        t1 = self.t_s
        t0 = self._prev_pitch_t
        if t0 < t_s <= t1:
            return self._prev_pitch + (self.pitch_rad - self._prev_pitch) * (t_s - t0) / (t1 - t0)
        gap = t_s - t1
        if gap > MAX_EXTRAPOLATE_S:
            gap = MAX_EXTRAPOLATE_S
        elif gap < -MAX_EXTRAPOLATE_S:
            gap = -MAX_EXTRAPOLATE_S
        return self.pitch_rad + self.rate_radps * gap
