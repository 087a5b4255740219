"""Stumble warning: a swing foot stopped by contact (a trip), detected in the control loop.

Physics. In swing the foot moves over the belt: it leaves the belt at toe-off at the belt's
speed, speeds up to one to three times the walking speed and slows again only in terminal swing
to land. An obstacle that catches the foot stops it against the belt surface or the object on
it: within a few tens of milliseconds the foot's speed over the belt falls to about zero while
it is still unloaded and early in its swing. That is what this module looks for, from each
smart insole's 6-axis IMU (den Hartog et al. 2021 detect treadmill trips from one shank IMU;
pre-impact detectors work from the deceleration of body segments, Aziz et al. 2014):

- the foot-frame specific force is rotated into the lab's forward axis with the foot pitch the
  insole already integrates (engine/control/insole_events.py), which removes gravity;
- integrated from toe-off, it gives the foot's speed over the belt (0 at toe-off; the drift of a
  MEMS bias over one swing is millimetres per second);
- a trip is: the foot in swing (heel unloaded, forefoot under DRAG_LOAD: a dragging toe still
  swings), at least MIN_SWINGS normal swings seen, its speed over the belt has reached
  PEAK_MIN_MPS in this swing, then fell by ARREST_DV_MPS within ARREST_WINDOW_S to below
  HELD_MAX_MPS, before LATE_SHARE of the foot's usual swing time (a normal foot decelerates to
  land at about a third of that rate; the landing itself ends the swing by loading the heel).
  Trembling in place (freezing) never reaches PEAK_MIN_MPS; a toe scuff that does not arrest the
  foot does not bring it to rest. The decision waits CONFIRM_S: a foot that loads meanwhile was
  landing (the IMU can feel the impact a sample before the pressure cells cross their threshold),
  and so was an arrest that comes with an impact from below (upward specific force more than 2 g
  above gravity and larger than the forward deceleration) in the second half of the swing: a foot
  caught by an obstacle is stopped mostly from ahead, a landing foot mostly from below.

Response (ControlCore reads `speed_cap_mps` and `guidance_floor`, emits the event and alarm):
the exoskeleton goes to the prescription's maximum guidance at once; the belt speed is capped
by a ramp from its speed at detection down to SLOW_FRACTION of it, falling at SLOW_DECEL_MPS2 (never
faster than the prescription's max_decel_mps2): a gentle slowing, not a stop, which would be a
second perturbation. The cap holds until the therapist acknowledges the STUMBLE alarm.

Hot path: plain floats in preallocated lists, no allocation; `check` is called once per cycle
and walks only the insole samples that arrived in it.
"""

from __future__ import annotations

import math

PEAK_MIN_MPS = 0.8  # a swing foot this fast over the belt is really swinging (not trembling in place)
ARREST_DV_MPS = 1.0  # its speed over the belt fell by this much ...
ARREST_WINDOW_S = 0.030  # ... within this time (about 33 m/s^2: terminal swing slows at a third of that)
HELD_MAX_MPS = 0.4  # and it is now nearly at rest on the belt: stopped, not landing-decelerated
LATE_SHARE = 0.85  # of the usual swing time: later, the landing itself stops the foot
DRAG_LOAD = 0.06  # heel unloaded and forefoot under this share of the standing load: a (dragging) swing
MIN_SWINGS = 3  # swings of a foot seen since the start before it is judged (first steps vary)
SWING_SMOOTH = 0.3  # weight of the latest swing in the usual swing time
SWING_LIMITS_S = (0.15, 1.5)  # swings outside this are not walking swings (freezing, standing)
SLOW_FRACTION = 0.3  # the belt slows to this share of its speed at the stumble
SLOW_DECEL_MPS2 = 0.4  # gently (the prescription's max_decel_mps2 caps it further)
REFRACTORY_S = 1.0  # one stumble is reported once
CONFIRM_S = 0.008  # an arrest is a trip if the foot is still unloaded this much later (a landing loads it)
IMPACT_MPS2 = 2.0 * 9.81  # upward specific force this far above gravity, more than the forward one: a landing
LAND_SHARE = 0.5  # ... if it comes after this share of the usual swing (no foot lands in its first half)
HISTORY = 16  # past speed samples kept per foot (>= ARREST_WINDOW_S at 200 Hz)


class StumbleGuard:
    """Per-foot swing speed from the insole IMU; trip detection and the response it asks for."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A start or re-arm: forget swings and lift any response."""
        self.swinging = [False, False]
        self.swing_t0 = [0.0, 0.0]
        self.last_t = [-1.0, -1.0]
        self.v_mps = [0.0, 0.0]  # foot speed over the belt, integrated since toe-off
        self.peak_mps = [0.0, 0.0]
        self.hist_t = [[0.0] * HISTORY, [0.0] * HISTORY]
        self.hist_v = [[0.0] * HISTORY, [0.0] * HISTORY]
        self.hist_n = [0, 0]
        self.pending_t = [-1.0, -1.0]  # an arrest waiting for CONFIRM_S (landing veto)
        self.landed = [False, False]  # a vertical impact ended this swing
        self.usual_swing_s = [0.4, 0.4]
        self.swings = [0, 0]
        self.detected_t = -math.inf
        self.detected_side = -1
        self.detected_peak_mps = 0.0
        self.active = False
        self.speed_cap_mps = math.inf
        self.floor_mps = 0.0
        self.guidance_floor = 0.0
        self.count = 0

    def sample(self, side: int, t_s: float, loaded: bool, pitch_rad: float, ax_mps2: float, az_mps2: float) -> bool:
        """One insole sample of one foot (host time, foot-frame specific force x and z); True on a trip."""
        dt = t_s - self.last_t[side]
        self.last_t[side] = t_s
        if loaded:
            self.pending_t[side] = -1.0  # it landed: the arrest was the heel strike
            if self.swinging[side]:
                swing = t_s - self.swing_t0[side]
                if SWING_LIMITS_S[0] <= swing <= SWING_LIMITS_S[1] and self.peak_mps[side] >= PEAK_MIN_MPS:
                    u = self.usual_swing_s[side]
                    self.usual_swing_s[side] = u + SWING_SMOOTH * (swing - u)
                    self.swings[side] += 1
                self.swinging[side] = False
            return False
        if not self.swinging[side]:  # toe-off: the foot leaves the belt at the belt's speed
            self.swinging[side] = True
            self.swing_t0[side] = t_s
            self.v_mps[side] = 0.0
            self.peak_mps[side] = 0.0
            self.hist_n[side] = 0
            self.pending_t[side] = -1.0
            self.landed[side] = False
            return False
        if dt <= 0.0 or dt > 0.05:
            return False
        forward = ax_mps2 * math.cos(pitch_rad) + az_mps2 * math.sin(pitch_rad)  # gravity is vertical
        v_prev = self.v_mps[side]
        v = v_prev + forward * dt
        self.v_mps[side] = v
        held = v if v < v_prev else v_prev  # a speed held over two samples, not a one-sample spike
        if held > self.peak_mps[side]:
            self.peak_mps[side] = held
        # speed ARREST_WINDOW_S ago, from the ring of past samples
        n = self.hist_n[side]
        ht, hv = self.hist_t[side], self.hist_v[side]
        before = v
        k = n - 1
        while k >= 0 and n - k <= HISTORY:
            i = k % HISTORY
            before = hv[i]
            if t_s - ht[i] >= ARREST_WINDOW_S:
                break
            k -= 1
        i = n % HISTORY
        ht[i] = t_s
        hv[i] = v
        self.hist_n[side] = n + 1
        vertical = -ax_mps2 * math.sin(pitch_rad) + az_mps2 * math.cos(pitch_rad) - 9.81
        late = t_s - self.swing_t0[side] >= LAND_SHARE * self.usual_swing_s[side]
        if late and vertical > IMPACT_MPS2 and vertical > -forward:
            # an impact from below: the foot landed (its pressure cells may lag a few samples);
            # nothing more in this swing is judged
            self.pending_t[side] = -1.0
            self.landed[side] = True
            return False
        pending = self.pending_t[side]
        if pending >= 0.0:
            if v > HELD_MAX_MPS:
                self.pending_t[side] = -1.0  # moving again: not held
            elif t_s - pending >= CONFIRM_S:
                self.pending_t[side] = -1.0
                return self._detected(side, t_s)
            return False
        in_swing = t_s - self.swing_t0[side] < LATE_SHARE * self.usual_swing_s[side] and not self.landed[side]
        if (in_swing and self.peak_mps[side] >= PEAK_MIN_MPS and before - v >= ARREST_DV_MPS and v <= HELD_MAX_MPS
                and self.swings[side] >= MIN_SWINGS and t_s - self.detected_t > REFRACTORY_S):
            self.pending_t[side] = t_s
        return False

    def _detected(self, side: int, t_s: float) -> bool:
        if t_s - self.detected_t > REFRACTORY_S:
            self.detected_t = t_s
            self.detected_side = side
            self.detected_peak_mps = self.peak_mps[side]
            self.count += 1
            return True
        return False

    def check(self, ins, feet) -> bool:
        """Walk this cycle's insole samples (`ins.sample_buf[0:ins.pending]`, rows as the driver
        gives them) with each foot's contact and pitch from its InsoleFoot; True on a trip.

        Contact and pitch are the feet's state after the cycle's samples: exact for the usual one
        sample per cycle (200 Hz insoles, 1 kHz loop); after a burst the pitch is interpolated."""
        buf = ins.sample_buf
        hit = False
        for k in range(ins.pending):
            row = buf[k]
            for side in (0, 1):
                foot = feet[side]
                o = 1 + 9 * side
                ts = foot.t_s if k == ins.pending - 1 else foot.t_s - (ins.pending - 1 - k) * 0.005
                loaded = foot.contact and (foot.heel > 0.005 or foot.forefoot > DRAG_LOAD)
                if self.sample(side, ts, loaded, foot.pitch_at(ts), row[o + 3], row[o + 5]):
                    hit = True
        return hit

    def acknowledged(self, alarm_slots, reason: int) -> bool:
        """The therapist acknowledged the STUMBLE alarm (slots as supervisor.AlarmTable keeps them)."""
        for slot in alarm_slots:
            if slot[0] == reason:
                return bool(slot[2])
        return True  # no slot (cleared or reused): nothing holds the response

    def respond(self, belt_speed_mps: float, guidance_max: float) -> None:
        """Start the response: guidance up at once, the belt's cap ramp from its speed now."""
        self.active = True
        self.guidance_floor = guidance_max
        if belt_speed_mps < self.speed_cap_mps:
            self.speed_cap_mps = belt_speed_mps
        self.floor_mps = SLOW_FRACTION * belt_speed_mps

    def cycle(self, dt: float, max_decel_mps2: float, acknowledged: bool) -> None:
        """Once per control cycle: lower the cap gently; lift the response once acknowledged."""
        if not self.active:
            return
        if acknowledged:
            self.active = False
            self.speed_cap_mps = math.inf
            self.guidance_floor = 0.0
            return
        decel = SLOW_DECEL_MPS2 if SLOW_DECEL_MPS2 < max_decel_mps2 else max_decel_mps2
        cap = self.speed_cap_mps - decel * dt
        self.speed_cap_mps = cap if cap > self.floor_mps else self.floor_mps
