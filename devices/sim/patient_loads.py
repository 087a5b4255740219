"""Plantar loads and insole pressures of a simulated patient's feet, its effort, fatigue and heart
rate (a mixin of PatientModel, which owns the state these methods read)."""

from __future__ import annotations

from devices.sim.swing_shape import _smooth

# A dragging toe loads its sensor a little: a share of the swing leg's weight (leg ~16 % of body
# weight, Winter 2009 Table 4.1; the hip carries most of it): 1 % of body weight, an assumed
# figure. At 3 % it equalled the last of a paretic foot's push-off load (~3 % of body weight),
# so no sensor could see the foot leave: toe offs were found when the toe lifted, 20-35 ms late.
TOE_DRAG_PRESSURE = 0.01
HR_TAU_S = 25.0
GRAVITY_MPS2 = 9.81


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
            load[side] = (0.05 + _smooth(q, 0.0, 0.15) * (1.0 - _smooth(q, 0.8, 1.0))) * p.limb_loading[side]
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
                dragging = not leg.in_stance and leg.toe[1] - self.walkway.ground_m(leg.toe[0]) <= 0.0
                self.pressure[side * 2 + 1] = TOE_DRAG_PRESSURE * weight if dragging else 0.0
                self.loads_n[side] = [0.0, 0.0, TOE_DRAG_PRESSURE * body_n if dragging else 0.0]
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
