"""Stumble warning: a swing foot stopped by contact (a trip), detected in the control loop.

Physics. In swing the foot moves over the belt: it leaves the belt at toe-off at the belt's
speed, speeds up to one to three times the walking speed and slows again only in terminal swing
to land. An obstacle that catches the foot stops it against the belt surface or the object on
it: within a few tens of milliseconds the foot's speed over the belt falls to about zero while
it is still unloaded and early in its swing. Den Hartog et al. 2021 detect treadmill trips from
one shank IMU; pre-impact detectors work from the deceleration of body segments (Aziz et al.
2014). This module measures the swing foot's speed over the belt twice, independently:

- insole IMU: the foot-frame specific force rotated into the lab's forward axis with the foot
  pitch the insole already integrates (engine/control/insole_events.py), which removes gravity,
  integrated from toe-off (0 at toe-off; a MEMS bias drifts millimetres per second over a swing);
- exoskeleton encoders: the belt's speed plus the ankle's forward speed relative to the hip from
  the hip and knee angles and rates (forward kinematics, the fitted thigh and shank): the hip
  stands still over a treadmill, so a foot held by an obstacle moves back with the belt and this
  speed falls to zero. No integration, no drift; the trunk's fore-aft sway adds about 0.1 m/s.

A trip is a foot
- in swing (heel unloaded, forefoot under DRAG_LOAD of the standing load: a dragging toe still
  swings), after MIN_SWINGS normal swings of that foot, before LATE_SHARE of its usual swing
  (later, the landing itself stops the foot);
- whose speed over the belt (either channel) reached PEAK_MIN_MPS in this swing (trembling in
  place, freezing, never does), then lost at least ARREST_DV_MPS within ARREST_WINDOW_S (a mean
  2 g: terminal swing of slow walkers decelerates at a fraction of it) down to HELD_MAX_MPS or
  less: stopped, not slowing;
- with the other channel agreeing that the foot is now held (at or under HELD_MAX_MPS): two
  independent measures, so that a one-sample IMU artefact or an encoder glitch never alarms on
  its own (the IMU judges alone until the encoder channel is live);
- within TRANSIENT_HOLDOFF_S of a reading that sped the foot up faster than a leg can
  (RISE_MAX_MPS2: an impact or an artefact, not a swing), only on corroborated evidence: both
  channels, each on its own, see the arrest from speeds held SETTLE_S after the transient;
- with a sudden onset (SHARP_MPS2): a collision's contact force rises within milliseconds, the
  foot's own braking (muscles, an exoskeleton's pull, a scuffing toe) over tens of them;
- and still unloaded CONFIRM_S later, without moving again by both measures and without going
  back over the belt (BACK_MAX_MPS) by either: a landing foot loads the heel within that time, a
  caught foot hangs in the air against the obstacle, which stands on the belt; a foot pulled back
  faster than the belt is moved by the leg. A drop judged a pull is not judged again until the
  foot swings on. After the IMU read an acceleration no leg makes (either way, RISE_MAX_MPS2) in
  this swing, its integrated speed is offset by that impact (changes still hold, the level not):
  the encoders alone tell a pull back then, and the IMU agrees that the foot is held when it lost
  ARREST_DV_MPS within the arrest window (its level is offset, its changes are not).
- in the swing proper: the first EARLY_S after the heel and forefoot unload is the toe-off
  transient (the toe still on the belt, the foot turning and sliding about it): what the foot
  reads then sets no peak, the speed an arrest loses is measured from later samples, and the
  arrest's sudden onset must lie after it (issue 13: the slow guided walkers' toe-off kicks to
  1.0-1.8 m/s, braked back to rest with the toe still on the belt, were taken for arrests).
Speeds are taken as the lower of each two consecutive samples (`held`), so a one-sample spike
(an impact transient, a kinematic step) neither sets the peak nor fakes a drop, and the encoders
read the foot at rest only when their last two samples both are (a one-sample dip is not rest); the drop is
measured down to zero at most (a caught foot stops, it does not go back: a negative speed is a
transient or drift); nothing is judged in the first EARLY_S of a swing; an arrest of a foot that
was already slowing (GRADUAL_SHARE of its speed before the arrest window, or of its swing's
peak) must stay unloaded for CONFIRM_GRADUAL_S.
Before this version the IMU channel alone judged, with an arrest of 1.0 m/s and a veto after any
vertical impact over 2 g in the second half of the swing; on the rig's signals that veto fired
on mid-swing transients and stopped judging for the rest of the swing, and 1.0 m/s was more than
a slow or early-caught foot has to lose: first trips were missed (docs/findings.md).

Response (ControlCore reads `speed_cap_mps` and `guidance_floor`, emits the event and alarm,
sends HAPTIC_CUE to the insoles): the exoskeleton goes to the prescription's maximum guidance at
once; the belt speed is capped by a ramp from its speed at detection down to SLOW_FRACTION of
it, falling at SLOW_DECEL_MPS2 (never faster than the prescription's max_decel_mps2): a gentle
slowing, not a stop, which would be a second perturbation. The cap holds until the therapist
acknowledges the STUMBLE alarm. The UI sounds a cue when the alarm appears
(engine/render/audio.py).

Hot path: plain floats in preallocated lists, no allocation; `check` walks only the insole
samples that arrived in the cycle and `check_encoders` the exoskeleton's latest sample.
"""

from __future__ import annotations

import math

PEAK_MIN_MPS = 0.8  # a swing foot this fast over the belt is really swinging (not trembling in place)
ARREST_DV_MPS = 0.6  # its speed over the belt fell by this much ...
ARREST_WINDOW_S = 0.030  # ... within this time (a mean 20 m/s^2, 2 g: see the module docstring)
HELD_MAX_MPS = 0.4  # and it is now nearly at rest on the belt: stopped, not landing-decelerated
LATE_SHARE = 0.85  # of the usual swing time: later, the landing itself stops the foot
EARLY_S = 0.05  # judged from this long after toe-off (the foot leaves the belt at rest on it; the
# joints' toe-off transient is not a swing's speed)
DRAG_LOAD = 0.06  # heel unloaded and forefoot under this share of the standing load: a (dragging) swing
MIN_SWINGS = 3  # swings of a foot seen since the start before it is judged (first steps vary)
SWING_SMOOTH = 0.3  # weight of the latest swing in the usual swing time
SWING_LIMITS_S = (0.15, 1.5)  # swings outside this are not walking swings (freezing, standing)
SLOW_FRACTION = 0.3  # the belt slows to this share of its speed at the stumble
SLOW_DECEL_MPS2 = 0.4  # gently (the prescription's max_decel_mps2 caps it further)
REFRACTORY_S = 1.0  # one stumble is reported once
CONFIRM_S = 0.008  # an arrest is a trip if the foot is still unloaded and held this much later (a landing loads it)
# A foot that had already lost more than GRADUAL_SHARE of its speed in the ARREST_WINDOW_S before
# the arrest window, or that entered the window having lost more than GRADUAL_SHARE of its swing's
# peak (the peak read SETTLE_S clear of transients), was slowing down to land (a patient brakes
# the foot over 100 ms or more; a caught foot is stopped from about its full speed; the rig's
# parkinsonian false STUMBLE of issue 13 had lost 46 % of its peak, 37 % in the 30 ms window
# before the arrest): such an arrest must stay unloaded and held for
# CONFIRM_GRADUAL_S. A landing loads the heel or moves on within 20 ms (the simulated shuffling
# steps of 170 ms: 18 ms; the simulated healthy swing that hovers over the ground before landing:
# 14 ms); a caught foot hangs for over 100 ms.
GRADUAL_SHARE = 0.4
CONFIRM_GRADUAL_S = 0.025
# A collision is a step in deceleration: the contact force of an obstacle rises within a few
# milliseconds (an impact), while the foot's own braking (terminal swing, a guidance pull against
# the patient's pattern, a toe scuffing along the ground) builds up over tens of milliseconds:
# muscle force takes 50 ms and more to develop, and an exoskeleton's torque reaches the foot
# through the leg's inertia. So an arrest counts only if, somewhere in it, the speed lost over
# SHARP_S exceeds what was lost over the SHARP_S before by SHARP_MPS2 * SHARP_S: a rise of
# deceleration of SHARP_MPS2 within SHARP_S (a jerk of 4000 m/s^3; a foot caught at 1 m/s with
# a 12 ms time constant rises by about 55 m/s^2, at 2.5 m/s by 140 m/s^2; a smooth braking of
# 3.5 m/s over 80 ms by 26 m/s^2). Differences over SHARP_S, not single samples: one-sample
# transients of the sensors do not make a collision.
# A caught foot rests against an obstacle that stands on the belt: its speed over the belt is
# about zero, it cannot go backward over the belt through the obstacle's face. A foot moving
# backward over the belt faster than BACK_MAX_MPS by either measure during the confirmation is
# being pulled back by the leg (a guidance pull, a hip extending early), not held: no trip.
BACK_MAX_MPS = 0.5
SHARP_S = 0.010
SHARP_MPS2 = 40.0
# A swing foot speeds up at a few g at most (the leg's muscles and inertia: the foot reaches its
# swing speed over about 100 ms). A reading that speeds the foot up faster than RISE_MAX_MPS2 is
# a transient (an impact on the foot, a kinematic or sensor artefact), and the speed it "lost"
# afterwards was never a swing's: no arrest is judged for TRANSIENT_HOLDOFF_S after one.
RISE_MAX_MPS2 = 150.0
TRANSIENT_HOLDOFF_S = 0.08
# ... unless both channels, each on its own, see a sudden arrest measured from speeds the foot
# held after the transient had passed (SETTLE_S after its last reading: the rig's kinematic
# spikes and the insole's 5 ms decimation of an impact last 6-10 ms) and both read the foot held.
# An obstacle catches the whole leg: the joints stop (encoders) and the foot decelerates (IMU)
# together, from the swing speed it carried; an artefact's "arrest" is the decay of its own
# spike, which is measured away here, and a spike in one channel is not seen by the other.
SETTLE_S = 0.010
HISTORY = 40  # past speed samples kept per foot and channel (>= 2 ARREST_WINDOW_S at 500 Hz)
# The cue the patient feels (INSOLE_HAPTIC, docs/protocol.md): both feet, 3 pulses of 100 ms at
# full intensity. An assumption, not sourced: long enough to be felt through a shoe during a
# stumble, short enough to end before the recovery steps.
HAPTIC_CUE = (3, 3, 1.0, 100_000)  # foot_mask, pulses, intensity, pulse_us


class StumbleGuard:
    """Per-foot swing speed over the belt from the insole IMU and from the exoskeleton's
    encoders; trip detection and the response it asks for."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A start or re-arm: forget swings and lift any response."""
        self.swinging = [False, False]
        self.swing_t0 = [0.0, 0.0]
        self.last_t = [-1.0, -1.0]
        self.v_mps = [0.0, 0.0]  # foot speed over the belt, integrated from the IMU since toe-off
        self.held_mps = [0.0, 0.0]  # the lower of the last two: a one-sample spike does not count
        self.peak_mps = [0.0, 0.0]
        # each channel's peak in this swing from readings SETTLE_S clear of a transient (the
        # foot's own swing speed; a transient's spike does not make the foot's later speed look
        # braked: _was_slowing)
        self.settled_peak_mps = [0.0, 0.0]
        self.enc_settled_peak_mps = [0.0, 0.0]
        # the IMU read an acceleration no leg makes (either way, RISE_MAX_MPS2) in this swing: an
        # impact's integral offsets its speed for the rest of the swing (its changes still hold)
        self.imu_jolted = [False, False]
        self.hist_t = [[0.0] * HISTORY, [0.0] * HISTORY]
        self.hist_v = [[0.0] * HISTORY, [0.0] * HISTORY]
        self.hist_n = [0, 0]
        # the encoder channel: foot speed over the belt from the joint angles and rates
        self.enc_mps = [math.nan, math.nan]
        self.enc_held_mps = [0.0, 0.0]  # the lower of its last two samples (a speed it held)
        self.enc_upper_mps = [0.0, 0.0]  # the higher: at rest only when both samples are
        self.enc_peak_mps = [0.0, 0.0]
        self.enc_t = [[0.0] * HISTORY, [0.0] * HISTORY]
        self.enc_v = [[0.0] * HISTORY, [0.0] * HISTORY]
        self.enc_n = [0, 0]
        self.enc_arrest = [False, False]
        self.enc_last_t = [-1.0, -1.0]
        self.enc_arrest_t = [-math.inf, -math.inf]  # when the encoder channel saw the arrest
        # the last implausibly fast speed-up of each foot, per channel: the insole IMU's and the
        # encoders' (an impact rings in the IMU alone; a kinematic step shows in both)
        self.transient_t = [-math.inf, -math.inf]
        self.enc_transient_t = [-math.inf, -math.inf]
        self.enc_gradual = [False, False]
        self.confirm_s = [CONFIRM_S, CONFIRM_S]
        self.pending_t = [-1.0, -1.0]  # an arrest waiting for CONFIRM_S (a landing loads the foot)
        self.rejected = [False, False]  # the foot's last arrest was judged a pull, until it moves on
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

    def encoder(self, side: int, t_s: float, hip_rad: float, knee_rad: float, hip_radps: float,
                knee_radps: float, thigh_m: float, shank_m: float, belt_mps: float) -> None:
        """One exoskeleton sample of one leg (host time): the ankle's speed over the belt from
        the joint angles and rates (the hip stands still over the treadmill, so the belt's speed
        plus the ankle's forward speed relative to the hip). No integration: no drift."""
        shank_rad = hip_rad - knee_rad
        u = belt_mps + thigh_m * math.cos(hip_rad) * hip_radps + shank_m * math.cos(shank_rad) * (hip_radps - knee_radps)
        u_prev = self.enc_mps[side]
        self.enc_mps[side] = u
        # A state of the foot takes two consecutive samples: held (both at or under a speed: the
        # lower) for an arrest's drop and for moving again, at rest (both: the higher) for an
        # arrest's end and for agreeing that the foot is held; a one-sample kinematic spike (the
        # rig's leg path kinks: -1.0 m/s for one sample in a 1.2 m/s swing) is neither
        self.enc_held_mps[side] = u if u_prev != u_prev or u < u_prev else u_prev
        self.enc_upper_mps[side] = u if u_prev != u_prev or u > u_prev else u_prev
        if not self.swinging[side] or u_prev != u_prev:
            self.enc_peak_mps[side] = 0.0
            self.enc_settled_peak_mps[side] = 0.0
            self.enc_n[side] = 0
            self.enc_arrest[side] = False
            return
        held = self.enc_held_mps[side]
        dt = t_s - self.enc_last_t[side]
        self.enc_last_t[side] = t_s
        if dt > 0.0 and u - u_prev > RISE_MAX_MPS2 * dt:
            self.enc_transient_t[side] = t_s
        # the toe-off transient (EARLY_S) is not a swing's speed: it sets no peak and no arrest
        # is measured from it (see `sample`)
        swing_from = self.swing_t0[side] + EARLY_S - 1e-6  # (sample times are sums of float periods)
        if t_s >= swing_from:
            _track_peaks(self.enc_peak_mps, self.enc_settled_peak_mps, side, held,
                         t_s - self.enc_transient_t[side] < SETTLE_S)
        n = self.enc_n[side]
        rt, rv = self.enc_t[side], self.enc_v[side]
        # the ring is scanned only for a foot that swung and is slow now (rarely: cheap per cycle)
        if self.enc_upper_mps[side] > HELD_MAX_MPS:
            self.enc_arrest[side] = False
        elif not self.enc_arrest[side] and self.enc_peak_mps[side] >= PEAK_MIN_MPS \
                and _sudden(rt, rv, n, t_s, held, u, self.enc_transient_t[side] + SETTLE_S, swing_from):
            # an arrest holds while the foot stays held (the insole samples that judge it come
            # at 200 Hz, the encoders' at 500 Hz)
            self.enc_arrest[side] = True
            self.enc_arrest_t[side] = t_s
            self.enc_gradual[side] = _was_slowing(rt, rv, n, t_s, self.enc_settled_peak_mps[side])
        self.enc_n[side] = _ring_push(rt, rv, n, t_s, held)

    def sample(self, side: int, t_s: float, loaded: bool, pitch_rad: float, ax_mps2: float, az_mps2: float) -> bool:
        """One insole sample of one foot (host time, foot-frame specific force x and z); True on a trip."""
        dt = t_s - self.last_t[side]
        self.last_t[side] = t_s
        if loaded:
            self.pending_t[side] = -1.0  # it landed: the arrest was the heel strike
            if self.swinging[side]:
                swing = t_s - self.swing_t0[side]
                if SWING_LIMITS_S[0] <= swing <= SWING_LIMITS_S[1] and \
                        (self.peak_mps[side] >= PEAK_MIN_MPS or self.enc_peak_mps[side] >= PEAK_MIN_MPS):
                    u = self.usual_swing_s[side]
                    self.usual_swing_s[side] = u + SWING_SMOOTH * (swing - u)
                    self.swings[side] += 1
                self.swinging[side] = False
            return False
        if not self.swinging[side]:  # toe-off: the foot leaves the belt at the belt's speed
            self.swinging[side] = True
            self.swing_t0[side] = t_s
            self.v_mps[side] = 0.0
            self.held_mps[side] = 0.0
            self.peak_mps[side] = 0.0
            self.settled_peak_mps[side] = 0.0
            self.imu_jolted[side] = False
            self.hist_n[side] = 0
            self.enc_peak_mps[side] = 0.0
            self.enc_settled_peak_mps[side] = 0.0
            self.enc_n[side] = 0
            self.enc_arrest[side] = False
            self.pending_t[side] = -1.0
            self.rejected[side] = False
            return False
        if dt <= 0.0 or dt > 0.05:
            return False
        forward = ax_mps2 * math.cos(pitch_rad) + az_mps2 * math.sin(pitch_rad)  # gravity is vertical
        v_prev = self.v_mps[side]
        v = v_prev + forward * dt
        self.v_mps[side] = v
        if forward > RISE_MAX_MPS2:
            self.transient_t[side] = t_s
        if forward > RISE_MAX_MPS2 or forward < -RISE_MAX_MPS2:
            self.imu_jolted[side] = True
        held = v if v < v_prev else v_prev  # a speed held over two samples, not a one-sample spike
        self.held_mps[side] = held
        # The toe-off transient is not a swing's speed: in the first EARLY_S after the heel and
        # forefoot unload, the toe is still on the belt (pre-swing; a dragging toe) and the foot
        # turns and slides about it; what it reads then neither sets the swing's peak nor is an
        # arrest measured from it (an obstacle stops a foot that swings: issue 13's false alarms
        # were toe-off kicks of 1.0-1.8 m/s within 10-35 ms of unloading, braked back with the toe
        # still on the belt; docs/control.md)
        swing_from = self.swing_t0[side] + EARLY_S - 1e-6  # (sample times are sums of float periods)
        if t_s >= swing_from:
            _track_peaks(self.peak_mps, self.settled_peak_mps, side, held,
                         t_s - self.transient_t[side] < SETTLE_S)
        n = self.hist_n[side]
        rt, rv = self.hist_t[side], self.hist_v[side]
        imu_arrest = (v <= HELD_MAX_MPS and self.peak_mps[side] >= PEAK_MIN_MPS
                      and _sudden(rt, rv, n, t_s, held, v, self.transient_t[side] + SETTLE_S, swing_from))
        imu_gradual = imu_arrest and _was_slowing(rt, rv, n, t_s, self.settled_peak_mps[side])
        # The IMU agrees that the foot is held when its speed is at rest on the belt; after a
        # jolt in this swing its level is offset by the impact's integral (either way: the rig's
        # toe-off jolts of -500 and +250 m/s^2 left it 2.6 m/s low and 0.7 m/s high), its
        # changes are not: then it agrees when it lost an arrest's speed (ARREST_DV_MPS) within
        # the arrest window too (the rig's hemiparetic-right-mild trip, caught from 2.0 m/s, read
        # 0.96 m/s "at rest" and was missed)
        imu_held = v <= HELD_MAX_MPS or (self.imu_jolted[side] and _ring_max(
            rt, rv, n, t_s, held, self.transient_t[side] + SETTLE_S) - v >= ARREST_DV_MPS)
        self.hist_n[side] = _ring_push(rt, rv, n, t_s, held)
        pending = self.pending_t[side]
        enc = self.enc_mps[side]
        enc_live = enc == enc
        # moving by both measures (the encoders' two last samples over HELD_MAX_MPS; after a jolt
        # the IMU's level is offset: the encoders alone tell it then; NaN: no encoders)
        moving = (v > HELD_MAX_MPS or (self.imu_jolted[side] and enc_live)) \
            and not (enc_live and self.enc_held_mps[side] <= HELD_MAX_MPS)
        if pending >= 0.0:
            if moving:
                self.pending_t[side] = -1.0  # moving again by both measures: not held
            elif (v < -BACK_MAX_MPS and not (self.imu_jolted[side] and enc_live)) \
                    or self.enc_upper_mps[side] < -BACK_MAX_MPS:
                # (after a jolt the IMU's speed is offset: the encoders alone tell a pull back)
                self.pending_t[side] = -1.0  # going back over the belt: pulled, not held
                self.rejected[side] = True  # this drop is judged: a new one needs the foot moving again
            elif t_s - pending >= self.confirm_s[side]:
                self.pending_t[side] = -1.0
                return self._detected(side, t_s)
            return False
        if self.rejected[side]:
            if moving:
                self.rejected[side] = False  # swinging again: a new arrest may be judged
            return False
        elapsed = t_s - self.swing_t0[side]
        in_swing = EARLY_S <= elapsed < LATE_SHARE * self.usual_swing_s[side]
        settling = t_s - self.transient_t[side] < TRANSIENT_HOLDOFF_S
        enc_settling = t_s - self.enc_transient_t[side] < TRANSIENT_HOLDOFF_S
        # An arrest seen by one channel counts when the other agrees that the foot is now held
        # (two independent measures: an IMU artefact or an encoder glitch alone never alarms);
        # with the encoder channel not yet live the IMU judges alone. Within the hold-off after a
        # transient seen by both channels both must see the arrest (SETTLE_S); after one seen by
        # one channel only, the other channel's arrest counts (the first agreeing the foot is
        # held): an obstacle's impact rings in the insole IMU, not in the joints' kinematics.
        # Without encoders nothing is judged in the IMU's hold-off.
        enc = self.enc_upper_mps[side]  # at rest by its last two samples
        if enc_live:
            # the encoders' arrest holds while the foot stays held, judged within one arrest
            # window of it (a foot that has hovered since is not being stopped now)
            enc_arrest = self.enc_arrest[side] and t_s - self.enc_arrest_t[side] <= ARREST_WINDOW_S
            if settling and enc_settling:
                arrest = imu_arrest and enc_arrest and enc <= HELD_MAX_MPS
            elif settling:
                arrest = enc_arrest and imu_held
            elif enc_settling:
                arrest = imu_arrest and enc <= HELD_MAX_MPS
            else:
                arrest = (imu_arrest and enc <= HELD_MAX_MPS) or (enc_arrest and imu_held)
        else:
            enc_arrest = False
            arrest = imu_arrest and not settling
        if (in_swing and arrest and self.swings[side] >= MIN_SWINGS
                and t_s - self.detected_t > REFRACTORY_S):
            self.pending_t[side] = t_s
            gradual = imu_gradual or (enc_arrest and self.enc_gradual[side])
            self.confirm_s[side] = CONFIRM_GRADUAL_S if gradual else CONFIRM_S
        return False

    def _detected(self, side: int, t_s: float) -> bool:
        if t_s - self.detected_t > REFRACTORY_S:
            self.detected_t = t_s
            self.detected_side = side
            self.detected_peak_mps = self.peak_mps[side]
            self.count += 1
            return True
        return False

    def check_encoders(self, ts: float, angles, rates, geo, belt_mps: float) -> None:
        """The exoskeleton's latest sample (host time ts): joint angles and rates in wire order,
        link lengths from its geometry (foot_kinematics.LegGeometry)."""
        for side in (0, 1):
            self.encoder(side, ts, angles[2 * side], angles[2 * side + 1], rates[2 * side], rates[2 * side + 1],
                         geo.thigh_m[side], geo.shank_m[side], belt_mps)

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
                ts = sample_t(foot, k, ins.pending)
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


def sample_t(foot, k: int, pending: int) -> float:
    """Host time of the cycle's k-th of `pending` insole samples: the foot's latest time, earlier
    ones 5 ms apart (200 Hz)."""
    return foot.t_s if k == pending - 1 else foot.t_s - (pending - 1 - k) * 0.005


def _track_peaks(peak: list, settled_peak: list, side: int, held: float, settling: bool) -> None:
    """One channel's swing peaks after the toe-off transient: the peak, and the peak read clear of
    transients (reset while `settling`, within SETTLE_S of a transient)."""
    if held > peak[side]:
        peak[side] = held
    if settling:
        settled_peak[side] = 0.0
    elif held > settled_peak[side]:
        settled_peak[side] = held


def _ring_max(ring_t: list, ring_v: list, n: int, t_s: float, now: float, since_t: float) -> float:
    """Largest value in the ring over the last ARREST_WINDOW_S and not before since_t (and now)."""
    best = now
    k = n - 1
    while k >= 0 and n - k <= HISTORY:
        i = k % HISTORY
        if t_s - ring_t[i] > ARREST_WINDOW_S or ring_t[i] < since_t:
            break
        if ring_v[i] > best:
            best = ring_v[i]
        k -= 1
    return best


def _sudden(ring_t: list, ring_v: list, n: int, t_s: float, held: float, now: float, since_t: float,
            swing_from: float = -math.inf) -> bool:
    """An arrest: at least ARREST_DV_MPS lost over the last ARREST_WINDOW_S (down to zero at
    most), with a sudden onset (SHARP_MPS2): a collision, not a braking. Samples before since_t
    (a transient's, SETTLE_S) take no part. The arrest is one of a swinging foot: the speed it
    lost is measured from samples at or after swing_from (the toe-off transient's are not a
    swing's speed) and its onset (where the deceleration steps up) lies there too; the samples
    before it only show what the deceleration was before the onset."""
    lost = _ring_max(ring_t, ring_v, n, t_s, held, since_t if since_t > swing_from else swing_from) \
        - (now if now > 0.0 else 0.0)
    if lost < ARREST_DV_MPS:
        return False
    # the window's samples, newest first, and the speeds SHARP_S and 2 SHARP_S before each
    ts = [t_s]
    vs = [held]
    k = n - 1
    while k >= 0 and n - k <= HISTORY:
        i = k % HISTORY
        if t_s - ring_t[i] > ARREST_WINDOW_S + 2.0 * SHARP_S + 0.006 or ring_t[i] < since_t:
            break
        ts.append(ring_t[i])
        vs.append(ring_v[i])
        k -= 1
    m = len(ts)
    for a in range(m):
        if t_s - ts[a] > ARREST_WINDOW_S:
            break
        b = a
        while b < m and ts[a] - ts[b] < SHARP_S - 1e-6:
            b += 1
        c = b
        while c < m and ts[a] - ts[c] < 2.0 * SHARP_S - 1e-6:
            c += 1
        if c >= m or ts[b] < swing_from:
            break
        if (vs[b] - vs[a]) - (vs[c] - vs[b]) >= SHARP_MPS2 * SHARP_S:
            return True
    return False


def _ring_push(ring_t: list, ring_v: list, n: int, t_s: float, value: float) -> int:
    i = n % HISTORY
    ring_t[i] = t_s
    ring_v[i] = value
    return n + 1


def _was_slowing(ring_t: list, ring_v: list, n: int, t_s: float, peak_mps: float = math.inf) -> bool:
    """The foot was slowing before the arrest window: it lost more than GRADUAL_SHARE of its speed
    over the ARREST_WINDOW_S before it (values at or before t - 2 windows and t - 1 window), or
    it entered the window having lost more than GRADUAL_SHARE of its swing's peak (a foot braked
    over 60-100 ms to land loses that much before its last drop, however the lost speed falls
    into 30 ms windows; a caught foot is stopped from about its full speed). False without history."""
    older = newer = math.nan
    k = n - 1
    while k >= 0 and n - k <= HISTORY:
        i = k % HISTORY
        age = t_s - ring_t[i]
        if newer != newer and age >= ARREST_WINDOW_S:
            newer = ring_v[i]
        if age >= 2.0 * ARREST_WINDOW_S:
            older = ring_v[i]
            break
        k -= 1
    if newer == newer and newer < (1.0 - GRADUAL_SHARE) * peak_mps:
        return True
    return older == older and newer == newer and older > 0.0 and older - newer > GRADUAL_SHARE * older
