"""Plantar loads and insole pressures of a simulated patient's feet, its effort, fatigue and heart
rate (a mixin of PatientModel, which owns the state these methods read)."""

from __future__ import annotations

from devices.sim.swing_shape import _smooth

# A dragging toe loads its sensor a little: a share of the swing leg's weight (leg ~16 % of body
# weight, Winter 2009 Table 4.1; the hip carries most of it): 1 % of body weight, an assumed
# figure. At 3 % it equalled the last of a paretic foot's push-off load (~3 % of body weight),
# so no sensor could see the foot leave: toe offs were found when the toe lifted, 20-35 ms late.
TOE_DRAG_PRESSURE = 0.01
# ... when its drive would take the sole this far below the belt or further (the ground holds it
# there); a toe that only rests on the belt, its weight off, loads it in proportion (an assumed
# figure: drags of the shipped profiles press 0.2-8 mm, median 1.6-4.9 mm, measured offline
# without the exoskeleton). A toe that merely touched carried the whole 1 % at once, decided by
# the sign of a height of +-1e-17 m: after toe off a sound toe the plan leaves on the belt for a
# few ticks flickered 0 / 1 % around the insoles' contact threshold, and its toe off was found
# when it lifted (+14..+21 ms, hemiparetic-left seed 7 under guidance 0.2).
TOE_DRAG_FULL_PRESS_M = 0.002
TOUCH_M = 1e-4  # a toe this close to the belt touches it
# Push-off: in double support the trailing foot hands the body's weight to the leading one over
# the last PUSH_OFF_SHARE of its stance, and its load reaches zero at toe off (toe off is the
# instant the toe leaves the belt: the force under it falls to zero; Perry & Burnfield: pre-swing,
# the limb's unloading in the second double support). The unloading ends on a slope, as a
# force-plate's vertical force does (not on a plateau: a push-off that levelled out at ~3 % of
# body weight and then vanished in one tick looked to the insoles like a toe dragging after its
# weight came off, and toe offs were found 13-19 ms early).
PUSH_OFF_SHARE = 0.2
HR_TAU_S = 25.0
GRAVITY_MPS2 = 9.81


def _left_at_push_off(q: float) -> float:
    """Share of a stance foot's load it still carries at stance progress q: 1 until push-off,
    then 1 - 2 s^2 + s^3 over its share s of push-off (no corner where it starts, zero at toe off,
    reached at the slope of a straight hand-over)."""
    s = (q - (1.0 - PUSH_OFF_SHARE)) / PUSH_OFF_SHARE
    if s <= 0.0:
        return 1.0
    if s >= 1.0:
        return 0.0
    return 1.0 - 2.0 * s * s + s * s * s


class LoadsAndEffort:
    """Foot loads, effort and heart rate of PatientModel (state: profile, legs, walkway, roll, ...)."""

    def _pressures(self, bws: float) -> None:
        p = self.profile
        weight = max(0.0, 1.0 - bws)
        load = [0.0, 0.0]
        heel = [0.0, 0.0]
        toe = [0.0, 0.0]
        mid = [0.0, 0.0]
        for side in (0, 1):
            if not self.legs[side].in_stance:
                continue
            q = self._stance_progress(side)
            heel[side] = 1.0 - _smooth(q, 0.45, 0.65)
            toe[side] = _smooth(q, 0.05, 0.2) * (1.0 - _smooth(q, 0.9, 1.0))
            mid[side] = _smooth(q, 0.08, 0.2) * (1.0 - _smooth(q, 0.55, 0.75))
            load[side] = (0.05 + _smooth(q, 0.0, 0.15)) * _left_at_push_off(q) * p.limb_loading[side]
            w = self._stand_w
            if w > 0.0:
                # standing still: the weight settles over both flat feet in their standing shares
                heel[side] += (1.0 - heel[side]) * w
                toe[side] += (1.0 - toe[side]) * w
                mid[side] += (1.0 - mid[side]) * w
                load[side] += (p.limb_loading[side] - load[side]) * w
        total = load[0] + load[1]
        body_n = p.body_mass_kg * GRAVITY_MPS2 * weight
        for side in (0, 1):
            leg = self.legs[side]
            if leg.in_stance and total > 0.0:
                share = weight * load[side] / total
                parts = heel[side] + toe[side] + 1e-9
                self.pressure[side * 2] = share * heel[side] / parts * 1.1
                self.pressure[side * 2 + 1] = share * toe[side] / parts * 1.1
                regions = heel[side] + mid[side] + toe[side] + 1e-9
                force = body_n * load[side] / total
                self.loads_n[side] = [force * heel[side] / regions, force * mid[side] / regions,
                                      force * toe[side] / regions]
            else:
                self.pressure[side * 2] = 0.0
                drag = 0.0
                if not leg.in_stance and leg.toe[1] - self.walkway.ground_m(leg.toe[0]) <= TOUCH_M:
                    drag = TOE_DRAG_PRESSURE * min(1.0, leg.press_m / TOE_DRAG_FULL_PRESS_M)
                self.pressure[side * 2 + 1] = drag * weight
                self.loads_n[side] = [0.0, 0.0, drag * body_n]
        for side in (0, 1):
            done = self.roll[side].update(self.t_s or 0.0, self.legs[side].in_stance, self.loads_n[side])
            if done is not None:
                done["side"] = side
                self.stances.append(done)

    def _effort(self, dt: float, v: float, bws: float) -> None:
        # the belt is level (the rig has no incline): grade 0
        self.effort.step(dt, v, bws)
        self.fatigue = self.effort.fatigue
        self.heart_rate_bpm = self.effort.heart_rate_bpm

    def heart_rate_sample(self) -> float:
        """Heart rate as a sensor reads it once a second (with beat-to-beat noise)."""
        return self.heart_rate_bpm + self._hr_rng.gauss(0.0, 1.0)
