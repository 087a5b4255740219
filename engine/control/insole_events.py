"""Contacts and foot pitch from one smart insole: heel strike, toe off, foot-flat and the foot angle.

Loads are fractions of the standing load (the sum of both insoles while the patient stands
before the belt moves: the standing calibration), after subtracting each region's zero, which is
learned while the foot is in the air (cells creep and carry an offset; a tared cell reads zero
unloaded).

Contact: starts when the heel region reaches HEEL_ON (or the whole foot LOAD_ON: a forefoot
landing) and ends when the whole foot falls below LOAD_OFF, with MIN_CONTACT_S refractory time.
The event time is the middle of the sample interval when the load jumped there from the noise
floor, else the line through the two samples extended back to zero (at most three samples).

A dragging toe: a foot that has left the belt may still brush it with its toe (foot drop, a
weak push-off), a small load on the forefoot only, which never falls below LOAD_OFF. Push-off
unloads the forefoot steadily to zero; a drag sits at a level. So a forefoot-only load that
dropped by more than DRAG_DROP and a quarter of itself in one sample to below DRAG_MAX and then
stays at that level
(within DRAG_LEVEL) for DRAG_LEVEL_SAMPLES samples ends the contact, timed at the middle of the
drop's interval (one level sample was not enough: a lightly loaded paretic foot's push-off tail
falls by about DRAG_DROP a sample, and cell noise made one drop and one "level" sample of it:
toe offs 11-21 ms early; two were not enough for a push-off ten times slower, which falls by the
noise a sample: DRAG_LEVEL_MEAN). A drop that goes on falling (by more than DRAG_LEVEL) in the next
sample moves to that sample: a steep push-off that ends between two samples reaches the drag level
over two drops, the second smaller than DRAG_DROP (the sound foot of a guided hemiparetic walker
whose toe stays pressed on the belt after its weight came off was found when it lifted, 10-15 ms
late).

Pitch (toe-down positive): the gyro's pitch rate minus its bias, integrated sample by sample with
the insole's own sample times; while the foot is flat (heel and forefoot loaded) and still
(turning slower than STILL_RADPS, the accelerometer reading about g), pulled toward 0: the sole
lies on the real belt, which is level whatever the scene shows (a curb or a ramp in the headset
does not tilt the treadmill). A complementary filter whose gyro part follows heel rocker, heel rise
and swing and whose belt part removes the drift every stride. The accelerometer's gravity angle
atan2(-a_x, a_z) is not the reference: its bias (about 0.05 m/s^2 for a MEMS part after factory
calibration, ~0.3 deg) would stay in every stance foot's pitch, and the core chains each footprint
from the stance foot in heel rise (about 1 mm per degree per step: 5-7 cm over a minute's walk,
enough to misplace a landing beside an obstacle). The gyro bias is learned in the same still, flat
moments. Drift builds over one swing.

What the belt's zero corrects (the pitch's drift over the swing: its gyro bias's residue and
noise, integrated) was in the pitch at the heel strike too, where the core placed the footprint
from it. So the first still, flat sample of a contact reports the pitch it carried in
(`landing_err_rad`: the belt says 0), with the time of the zero before the swing
(`landing_from_t_s`) and its own (`landing_t_s`), and sets `landing_zero` for that sample: the
core moves the landing's footprint by the share of that error built up by the strike
(engine/control/core.py, `_landing_zeroed`). Without it the footprints drifted by 0.01-0.09 mm a
step, the landing foot's pitch 0.02-0.065 deg low at the strike (docs/patients.md, "Footprint
drift").
"""

from __future__ import annotations

import math

from engine.control.gait_events import NO_EVENT, TOE_OFF, FootEvents

HEEL_ON = 0.015  # heel load that starts a contact (fraction of standing load)
LOAD_ON = 0.10  # whole-foot load that starts one (forefoot landing)
LOAD_OFF = 0.010  # whole-foot load below which a contact ends
NOISE_FLOOR = 0.006  # a load below this is "unloaded" for the event-time estimate
FLAT_MIN = 0.02  # heel and forefoot both above this: foot flat on the belt
DRAG_MAX = 0.04  # a forefoot-only load below this after a sudden drop may be a dragging toe
DRAG_DROP = 0.008  # ... a drop larger than this in one sample (about 3 sigma of its noise)
DRAG_DROP_SHARE = 0.25  # ... and by more than this share of it (push-off tails fall by less a sample)
DRAG_LEVEL = 0.006  # ... that then holds within this: the weight is off, the toe drags
DRAG_LEVEL_SAMPLES = 4  # ... for this many samples (a push-off tail keeps falling)
# ... and on average within this of the drop's level: a slow push-off's tail falls by ~0.3-0.5 %
# of the standing load a sample (0.25 m/s), no more than the cells' noise, and two samples within
# DRAG_LEVEL of a noisy "drop" passed it for a drag: toe offs 20-50 ms early (severe-stroke-slow).
# Three samples of a tail fall by ~0.7 % on average; a drag's mean is its level +-0.2 % (noise)
DRAG_LEVEL_MEAN = 0.003
TARE_MAX = 0.01  # tare only from readings this small (an unloaded cell, not a dragging toe)
# ... and, where the exoskeleton's kinematics place the sole, only while its lowest point is this
# far above the belt: a dropped foot's toe that drags through its swing reads under TARE_MAX (the
# simulated drag presses 1 % of body weight), and taken for the cell's zero it read a paretic toe
# 3-4 N light, its toe offs ~5 ms early (severe-stroke-slow). 1 cm: twice the core's toe-height
# error p95 (docs/validation.md)
TARE_CLEAR_M = 0.01
TARE_RATE = 0.02  # per airborne sample: ~0.25 s time constant at 200 Hz
BIAS_RATE = 0.02  # per still foot-flat sample
STILL_RADPS = 0.05  # a foot-flat sample turning slower than this is still (bias learning)
ACCEL_GAIN = 0.1  # per still flat sample: weight of the belt's angle (~25 ms at 200 Hz)
# a still foot whose gravity angle is further than this from level is not flat on the belt (ten
# times the accelerometer's bias after factory calibration, ~0.3 deg: this project's choice)
FLAT_TILT_MAX_RAD = 0.05
G_TOL_MPS2 = 1.5  # use the accelerometer only while |a| is within this of g (nearly still)
MAX_EXTRAPOLATE_S = 0.02
G = 9.81


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
        self._prev_raw_load = 0.0
        self._prev_t = 0.0
        self._drop_t = -1.0  # middle of the last sudden drop of a forefoot-only load, -1 none
        self._drop_level = 0.0
        self._level_n = 0  # samples the load has held at the drop's level
        self._level_sum = 0.0  # ... and the sum of their differences from it
        self._ramp_t = -1.0  # a contact ended on a falling load above the noise floor, decided next sample
        self._ramp_mid_t = 0.0
        self._ramp_load = 0.0
        self.landing_zero = False  # this sample was the contact's first zero on the belt
        self.landing_err_rad = 0.0  # ... the pitch it carried in (the truth: 0)
        self.landing_from_t_s = -1.0  # ... the time of the zero before (the drift's start)
        self.landing_t_s = -1.0  # ... its own time
        self._zero_t = -1.0  # host time of the latest zero on the belt (-1: none; the first sample)
        self._zeroed_contact = True  # this contact has had its zero (the patient starts standing)

    def update(self, t_s: float, dev_s: float, heel_n: float, mid_n: float, toe_n: float,
               gyro_pitch_radps: float, standing_n: float, accel_x_mps2: float = 0.0,
               accel_z_mps2: float = 0.0, clear: bool = True) -> int:
        """One sample: host time, device time, region forces (N), pitch rate, standing load (N),
        accelerometer x (toe-ward) and z (up from the sole), m/s^2; clear: the sole is known to be
        off the belt (or nothing tells), so an unloaded reading may teach the cells' zero."""
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
        load = h + m + f
        event = NO_EVENT
        if self.events.contact and h < NOISE_FLOOR and load < DRAG_MAX:
            drop = self._prev_raw_load - load
            if drop > DRAG_DROP and drop > DRAG_DROP_SHARE * self._prev_raw_load:
                self._drop_t = 0.5 * (self._prev_t + t_s)
                self._drop_level = load
                self._level_n = 0
                self._level_sum = 0.0
            elif self._drop_t >= 0.0 and -DRAG_LEVEL < load - self._drop_level < DRAG_LEVEL:
                self._level_n += 1
                self._level_sum += load - self._drop_level
                if self._level_n >= DRAG_LEVEL_SAMPLES and -DRAG_LEVEL_MEAN * self._level_n < self._level_sum:
                    if self.events.end_contact(self._drop_t):
                        event = TOE_OFF  # weight came off at the drop: the toe that still touches drags
                    self._drop_t = -1.0
            elif self._drop_t >= 0.0 and load <= self._drop_level - DRAG_LEVEL:
                # still falling after the drop: the weight comes off over two samples (a steep
                # push-off ending between them); the drop is this one
                self._drop_t = 0.5 * (self._prev_t + t_s)
                self._drop_level = load
                self._level_n = 0
                self._level_sum = 0.0
            else:
                self._drop_t = -1.0
        else:
            self._drop_t = -1.0
        if self._ramp_t >= 0.0:
            # the last sample ended the contact on a falling load still above the noise floor:
            # if this one fell on toward zero, the line to zero timed it; if the load held at a
            # drag's level instead, the weight came off in the crossing's interval
            if load > NOISE_FLOOR and load > self._ramp_load - DRAG_LEVEL:
                self.events.event_t_s = self.events.last_change_s = self._ramp_mid_t
            event = TOE_OFF
            self._ramp_t = -1.0
        self._prev_raw_load = load
        prev_t, self._prev_t = self._prev_t, t_s
        if event == NO_EVENT:
            event = self.events.update(t_s, h, m + f)
            if event == TOE_OFF and self.events.event_t_s > t_s:
                # extrapolated forward to zero: decided at the next sample (reported one sample late,
                # stamped where it happened)
                self._ramp_t = t_s
                self._ramp_mid_t = 0.5 * (prev_t + t_s)
                self._ramp_load = load
                event = NO_EVENT
        else:
            self.events.update(t_s, h, 0.0)  # keep the detector's last sample current
        if self.events.contact and not self.contact:
            self._zeroed_contact = False
        self.contact = self.events.contact
        self.event_t_s = self.events.event_t_s
        if clear and not self.contact and event == NO_EVENT and (heel_n + mid_n + toe_n) * scale < TARE_MAX:
            # airborne: learn each region's zero (the raw reading is the offset plus noise)
            z[0] += TARE_RATE * (heel_n - z[0])
            z[1] += TARE_RATE * (mid_n - z[1])
            z[2] += TARE_RATE * (toe_n - z[2])
        # pitch
        dt = dev_s - self._prev_dev_s if self._prev_dev_s >= 0.0 else 0.0
        if dt < 0.0 or dt > 0.1:
            dt = 0.0  # a gap or a restarted device clock: do not integrate across it
        rate = gyro_pitch_radps - self.gyro_bias_radps
        if self._prev_dev_s < 0.0:
            # the first sample: a gyro tells turns, not where the foot started from; a still foot's
            # accelerometer reads gravity, whose angle is the pitch (the patient may stand on a
            # heel or a toe: starting from 0 put that foot's footprint ~3 cm off, and the core
            # chains every later footprint from the first ones)
            g2 = accel_x_mps2 * accel_x_mps2 + accel_z_mps2 * accel_z_mps2
            if (G - G_TOL_MPS2) ** 2 < g2 < (G + G_TOL_MPS2) ** 2:
                self.pitch_rad = math.atan2(-accel_x_mps2, accel_z_mps2)
            self._zero_t = t_s  # the drift starts here
        self.landing_zero = False
        previous_pitch = self.pitch_rad
        self.flat = self.contact and h >= FLAT_MIN and f + m >= FLAT_MIN
        # the rate is the mean over the sample interval (docs/protocol.md: the IMU's decimation
        # filter), so rate x dt is that interval's whole turn; trapezoids with the previous
        # interval's mean would lag the foot by half a sample (2.5 ms at 200 Hz: ~0.5 deg in heel
        # rise, which the core's footprint chain carried as ~1 mm per step)
        self.pitch_rad += rate * dt
        self.rate_radps = rate
        if self.flat and -STILL_RADPS < rate < STILL_RADPS:
            # flat and still: gravity gives the angle, and the gyro's reading is its bias
            g2 = accel_x_mps2 * accel_x_mps2 + accel_z_mps2 * accel_z_mps2
            # ... and the accelerometer's gravity angle near level: a foot loaded at heel and
            # forefoot is not flat when it rests tilted (its heel down before a curb's face, its
            # sole against the edge: 30 deg toe up, pulled to 0 it put the footprints 8.5 cm off)
            if (G - G_TOL_MPS2) ** 2 < g2 < (G + G_TOL_MPS2) ** 2 \
                    and -FLAT_TILT_MAX_RAD < math.atan2(-accel_x_mps2, accel_z_mps2) < FLAT_TILT_MAX_RAD:
                if not self._zeroed_contact:
                    self._zeroed_contact = True
                    self.landing_zero = True
                    self.landing_err_rad = self.pitch_rad
                    self.landing_from_t_s = self._zero_t  # none since: the zero before the swing
                    self.landing_t_s = t_s
                self.pitch_rad -= ACCEL_GAIN * self.pitch_rad  # flat on the level belt: pitch 0
                self._zero_t = t_s
            self.gyro_bias_radps += BIAS_RATE * (gyro_pitch_radps - self.gyro_bias_radps)
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
