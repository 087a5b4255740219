"""Loss of balance without a trip, detected in the control loop: the extrapolated centre of mass
behind the base of support.

Physics (Hof et al. 2005, J Biomech 38:1-8, "The condition for dynamic stability"): the body over
its feet is an inverted pendulum of length l; its extrapolated centre of mass XCoM = x + v/omega0
(omega0 = sqrt(g/l), v over the ground the feet stand on) must stay within the base of support,
or no ankle or hip strategy can bring the body back over it: the person must step (or falls).
Backward, the base's rear edge is the rearmost point in contact. Its margin of stability
MoS = XCoM - rear edge is positive all through walking (the body moves forward over its feet);
a slip of the landing foot (the foot slides forward, the centre of pressure with it, and the body
is pushed back), a belt lurch or a foot planted too far ahead drive it below zero.

What the core has, per foot in contact (insole: heel or forefoot loaded):
- the ankle relative to the hip from the exoskeleton's encoders (forward kinematics of the hip and
  knee angles, the fitted thigh and shank) and its rate from the joint rates: x_rel, x_rate;
- the foot's own speed over the belt from its insole IMU (forward specific force rotated by the
  foot pitch, integrated from the sample the foot loaded: a planted foot rests on the belt), plus
  the belt's measured speed change since then (the IMU measures in the lab, where a foot on a belt
  that speeds up is carried back faster);
So the hip (the centre of mass, approximately) is -x_rel from the ankle and moves over the belt
at v = v_foot - x_rate: the encoders give it relative to the foot, the IMU gives the foot. The
rear edge of that foot is its heel (`geo.heel_m` behind the ankle) while the heel is on the belt
(it bears load, or the foot is not pitched toe-down). Once the heel has risen the foot rolls over
its metatarsal heads (the forefoot rocker, Perry & Burnfield, Gait Analysis, textbook), which rest
on the belt and are the rear edge: the ankle, h = `geo.ankle_height_m` above the sole and
d = MTP_SHARE x `geo.toe_m` behind the heads along it, turns about them with the insole's pitch
p (toe-down positive) and rate p': it lies d cos p - h sin p behind them and moves over the belt
at (d sin p + h cos p) p' (the IMU's integrated speed is not used there). Each loaded foot gives
MoS_f = -x_rel_f + v_f / omega0 + (heel_m, or -(d cos p - h sin p)); the base's margin is the
largest (the rearmost foot's edge). l is the leg length (thigh + shank + ankle height).
Before, a heel-up foot's ankle was taken as resting on the belt: in a heel rise it moves forward
at ~h p' (0.2-0.4 m/s), which read as the body slowing, a margin 5-15 cm too low over the whole
rise: the false alarms of issue 13 in the slow hemiparetic gait (docs/control.md).

A loss of balance: the margin below MARGIN_MIN_M for CONFIRM_S on consecutive insole samples,
and lower at the end of that time than at its start (falling), while walking. A foot's estimate starts SETTLE_S after it loaded (the heel strike's impact
passes through the IMU, and the encoders' pose of a landing leg is the swing's). Only feet whose
IMU speed is known (integrated from their own loading) count.

Response: the stumble response (engine/control/stumble.py: guidance at the prescription's maximum
at once, the belt's gentle ramp, the haptic cue, the STUMBLE alarm's cue and acknowledgement) with
its own event, BALANCE_LOSS. Hot path: plain floats, no allocation.
"""

from __future__ import annotations

import math

from engine.control.stumble import sample_t

G_MPS2 = 9.81
# Hof's condition is XCoM within the base (margin >= 0). Slow walkers' margins are small where
# the base changes (the other foot's toe off: 1-3 cm in the simulated hemiparetic gait, 1st
# percentile), and the estimate errs by a centimetre or two there (a contact ending before the
# push-off is over, the heel's load crossing HEEL_LOADED at another time than the edge moves):
# a loss of balance is judged once the margin is clearly negative ...
MARGIN_MIN_M = -0.02
# ... and still falling: behind the base the extrapolated centre of mass diverges from it
# (xi' = omega0 (xi - p), Hof 2005), so a body that is losing its balance has a margin that keeps
# decreasing; a margin that dipped where the base changed and is rising again is a body walking on
CONFIRM_S = 0.015  # held this long (three insole samples at 200 Hz): one noisy sample never alarms
SETTLE_S = 0.03  # a foot's estimate counts from this long after it loaded
# share of the standing load on the heel above which the heel is the rear edge (a little over the
# insole's noise floor, insole_events.NOISE_FLOOR: the edge moves to the forefoot only once the
# heel has really lifted)
HEEL_LOADED = 0.01
# a foot pitched toe-down less than this has its heel on the belt (a heel 25 cm behind the
# forefoot rises 5 mm at 1 degree): while the heel is down it is the rear edge, loaded or not
HEEL_UP_RAD = 0.02
REFRACTORY_S = 1.0  # one loss of balance is reported once
# The metatarsal heads lie about 70 % of the foot's length from the heel, the ankle about 25 %:
# 0.6 of the ankle-to-toe distance ahead of the ankle (anthropometric approximation, unsourced)
MTP_SHARE = 0.6
# A foot loaded longer than this is standing, not walking: its IMU speed (integrated since it
# loaded) has drifted, and a standing body's margin is not a walking one's
MAX_STANCE_S = 1.5
# The insole's pitch (engine/control/insole_events.py) is pulled to 0 while the foot is flat and
# still, by a tenth per sample: after this many flat samples since the walk began it has
# converged (0.9^20: an eighth of a start-up error is left), and its swing drift is small
FLAT_TRUSTED = 20
# The first steps start from standing: the model of a patient's walk start has no anticipatory
# shift of the body (in people the centre of pressure moves back first, the body forward), and
# people start from a stable stance; judged from this many walking steps of each foot
MIN_STEPS = 2
# ... and from this long after the belt started: a walk's first seconds (the body still gathering
# speed, a parkinsonian start hesitation trembling in place) are not a steady walk's balance
WALK_SETTLE_S = 3.0


class BalanceLossGuard:
    """Per-foot margin of stability backward from the insoles and the encoders (module docstring)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A start or re-arm: forget the feet."""
        self.loaded = [False, False]
        self.loaded_t = [0.0, 0.0]
        self.walked_on = [False, False]  # the foot loaded while walking (a step, not the standing start)
        self.last_t = [-1.0, -1.0]
        self.v_foot_mps = [0.0, 0.0]  # each loaded foot's speed change in the lab since it loaded (IMU)
        # The IMU measures the foot in the lab: a foot resting on a belt that speeds up is carried
        # back faster, and its integral reads the belt's speed change as the foot's own. Taken as
        # the foot's speed over the belt, a belt ramping up at 0.5 m/s^2 put the body 0.2 m/s
        # slower over a 0.4 s stance, a margin ~6 cm too low: after every acknowledged stumble
        # response the belt's ramp back to speed raised a false BALANCE_LOSS, whose response
        # slowed the belt again (hemiparetic-left, bench clinical seed 1: 11 in 26 s after one
        # trip). Speed over the belt = the lab integral + the belt's speed change since loading.
        self.belt_at_load_mps = [0.0, 0.0]
        self.belt_mps = 0.0  # the belt's speed at the latest sample
        self.heel_on = [False, False]
        self.pitch_rad = [0.0, 0.0]  # the insole's pitch (toe-down positive) and its rate
        self.pitch_radps = [0.0, 0.0]
        # the insole's pitch is trusted once the foot has been flat on the belt (InsoleFoot pulls
        # it to 0 there); before, e.g. a foot that stood on its toes at the start, it can be off
        # by tens of degrees, and g x that error integrates into the speed
        self.flat_n = [0, 0]  # flat samples since the walk began (the pitch's pull to 0 converges)
        self.steps = [0, 0]  # loadings while walking (the first steps start from standing)
        self.x_rel_m = [math.nan, math.nan]  # ankle forward of the hip (encoders)
        self.x_rate_mps = [0.0, 0.0]
        self.mos_m = math.nan  # the base's margin at the latest judgement (nan: no foot counts)
        self.mos_side = -1
        self.below_t = -1.0  # when the margin went below MARGIN_MIN_M (-1: it is not)
        self.below_mos_m = 0.0  # the margin then
        self.walking_t = -1.0  # since when the patient walks (-1: not walking)
        self.detected_t = -math.inf
        self.detected_side = -1
        self.detected_mos_m = math.nan
        self.count = 0

    def encoders(self, angles, rates, geo) -> None:
        """The exoskeleton's latest joint angles and rates (wire order), link lengths from geo."""
        for side in (0, 1):
            hip, knee = angles[2 * side], angles[2 * side + 1]
            hip_rate, knee_rate = rates[2 * side], rates[2 * side + 1]
            thigh, shank = geo.thigh_m[side], geo.shank_m[side]
            shank_rad = hip - knee
            self.x_rel_m[side] = thigh * math.sin(hip) + shank * math.sin(shank_rad)
            self.x_rate_mps[side] = thigh * math.cos(hip) * hip_rate + shank * math.cos(shank_rad) * (hip_rate - knee_rate)

    def sample(self, side: int, t_s: float, loaded: bool, heel_on: bool, flat: bool, pitch_rad: float,
               ax_mps2: float, az_mps2: float, pitch_radps: float = 0.0, belt_mps: float = 0.0) -> None:
        """One insole sample of one foot (host time; flat: heel and forefoot on the belt; the
        insole's pitch and pitch rate, toe-down positive; foot-frame specific force x and z; the
        belt's measured speed)."""
        dt = t_s - self.last_t[side]
        self.belt_mps = belt_mps
        self.last_t[side] = t_s
        self.heel_on[side] = heel_on
        self.pitch_rad[side] = pitch_rad
        self.pitch_radps[side] = pitch_radps
        if not loaded:
            self.loaded[side] = False
            return
        if not self.loaded[side]:  # it loads: at rest on the belt from here (a planted foot)
            self.loaded[side] = True
            self.loaded_t[side] = t_s
            self.v_foot_mps[side] = 0.0
            self.belt_at_load_mps[side] = belt_mps
            self.walked_on[side] = True  # judge() clears it while not walking
            self.steps[side] += 1
            return
        if flat:
            # the sole lies on the level belt: its pitch is 0, whatever the gyro's drift
            pitch_rad = 0.0
            if self.flat_n[side] < FLAT_TRUSTED:
                self.flat_n[side] += 1
        if 0.0 < dt <= 0.05:
            self.v_foot_mps[side] += (ax_mps2 * math.cos(pitch_rad) + az_mps2 * math.sin(pitch_rad)) * dt

    def judge(self, t_s: float, geo, walking: bool) -> bool:
        """After this cycle's samples: the base's margin; True on a loss of balance."""
        if not walking:
            self.walking_t = -1.0
        elif self.walking_t < 0.0:
            self.walking_t = t_s
        best = -math.inf
        best_side = -1
        for side in (0, 1):
            if not walking:
                self.walked_on[side] = False
                self.steps[side] = 0
                self.flat_n[side] = 0
            age = t_s - self.loaded_t[side]
            if not self.loaded[side] or age < SETTLE_S:
                continue
            x_rel = self.x_rel_m[side]
            if x_rel != x_rel:
                continue
            leg_m = geo.thigh_m[side] + geo.shank_m[side] + geo.ankle_height_m[side]
            omega0 = math.sqrt(G_MPS2 / leg_m)
            # every loaded foot is part of the base; its IMU speed counts where it is trusted
            # (heel down after a flat moment, loaded in this walk, not standing for long), else
            # the foot is taken as resting on the belt
            v = -self.x_rate_mps[side]
            if self.heel_on[side]:
                if self.flat_n[side] >= FLAT_TRUSTED and self.walked_on[side] and age <= MAX_STANCE_S:
                    v += self.v_foot_mps[side] + (self.belt_mps - self.belt_at_load_mps[side])
                edge = geo.heel_m[side]  # the rear edge: the heel while it is on the belt
            else:
                # heel rise: the foot rolls over its metatarsal heads, which rest on the belt,
                # and the ankle (its height h above the sole, d behind the heads along it) turns
                # about them with the foot's pitch p: it sits d cos p - h sin p behind them and
                # moves forward over the belt at (d sin p + h cos p) p'. Taking the ankle as
                # resting on the belt read the body as slowing by that speed (h p' ~ 0.3 m/s
                # in a heel rise), a margin 5-15 cm too low: the false alarms of issue 13
                p = self.pitch_rad[side]
                if p < 0.0:
                    p = 0.0
                d = MTP_SHARE * geo.toe_m[side]
                h = geo.ankle_height_m[side]
                c, s_ = math.cos(p), math.sin(p)
                v += (d * s_ + h * c) * self.pitch_radps[side]
                edge = -(d * c - h * s_)
            mos = -x_rel + v / omega0 + edge
            if mos > best:
                best = mos
                best_side = side
        if best_side < 0:
            self.mos_m = math.nan
            self.below_t = -1.0
            return False
        self.mos_m = best
        self.mos_side = best_side
        if not walking or best >= MARGIN_MIN_M or self.steps[0] < MIN_STEPS or self.steps[1] < MIN_STEPS \
                or t_s - self.walking_t < WALK_SETTLE_S:
            self.below_t = -1.0
            return False
        if self.below_t < 0.0:
            self.below_t = t_s
            self.below_mos_m = best
        if t_s - self.below_t >= CONFIRM_S and best < self.below_mos_m and t_s - self.detected_t > REFRACTORY_S:
            self.detected_t = t_s
            self.detected_side = best_side
            self.detected_mos_m = best
            self.count += 1
            return True
        return False

    def check(self, ins, feet, geo, angles, rates, walking: bool, belt_mps: float) -> bool:
        """This cycle's insole samples (as StumbleGuard.check walks them), the encoders' latest
        sample and the belt's measured speed; True on a loss of balance."""
        self.encoders(angles, rates, geo)
        buf = ins.sample_buf
        last_t = -1.0
        for k in range(ins.pending):
            row = buf[k]
            for side in (0, 1):
                foot = feet[side]
                o = 1 + 9 * side
                ts = sample_t(foot, k, ins.pending)
                # the base: every foot in contact (the insole's contact lasts to the end of the
                # push-off; a foot dragging its toe has left it, insole_events.py)
                pitch = foot.pitch_at(ts)
                # the heel is on the belt while it bears load or the foot is not pitched toe-down
                # (a heel that only unloaded still bounds the base: the body can lean back onto it)
                heel_down = foot.contact and (foot.heel > HEEL_LOADED or pitch < HEEL_UP_RAD)
                self.sample(side, ts, foot.contact, heel_down, foot.flat, pitch, row[o + 3], row[o + 5],
                            foot.rate_radps, belt_mps)
                if ts > last_t:
                    last_t = ts
        return last_t > 0.0 and self.judge(last_t, geo, walking)
