"""Parkinsonian freezing and festination episodes and the intended speed of a simulated patient
(a mixin of PatientModel, which owns the state these methods read)."""

from __future__ import annotations

import math

from devices.sim.leg_state import LegState

FESTINATION_S = (3.0, 6.0)
# A freeze does not switch the stride to trembling in one tick: the steps shorten and quicken into
# it (the sequence effect before freezing: Nieuwboer et al. 2001, Chee et al. 2009), here as the
# stride time's exponential approach to FREEZE_STRIDE_S (project's choice of time constant: about
# half a stride; 1 s left a 1.8 s freeze's steps as long as 0.7 x the usual ones). Switched at once,
# the first trembling swing of each leg started from the full heel rise of the stance before it
# (14 cm) with ~0.15 s to unroll it: its heel came down at 1.2-1.9 m/s, 1.4-1.7 x a normal swing's
# (parkinsonian-freezing seeds 2-6, tests/devices/test_trembling.py). The shortening precedes the
# freeze: a trigger (an obstacle, a doorway) starts it, and the freeze itself (its drawn duration,
# the truth's episode) begins FREEZE_LEAD_S later, when the steps are near trembling (1 - e^-2 of
# the way); a start hesitation has no steps before it to shorten (no lead). With the shortening
# inside the episode, a 1.6 s freeze had 1.1 s of trembling steps: bench findings' detector (runs
# of fast short steps of 1 s or more) no longer found it (parkinsonian-freezing seed 1).
FREEZE_ONSET_TAU_S = 0.5
FREEZE_LEAD_S = 2.0 * FREEZE_ONSET_TAU_S
TRIGGER_AHEAD_M = 1.5  # obstacles and doorways this close ahead may trigger a freeze
INTENT_TAU_S = 20.0


class EpisodesAndIntent:
    """Freezing, festination and intent of PatientModel (state: profile, t_s, scene, legs, ...)."""

    # ------------------------------------------------------------------ Parkinsonian episodes
    def _maybe_freeze(self, trigger: str, key) -> None:
        p = self.profile
        if p.freeze_probability <= 0.0 or key in self._triggered or self.t_s is None:
            return
        self._triggered.add(key)
        if self._fog_rng.random() >= p.freeze_probability:
            return
        duration = p.freeze_duration_median_s * math.exp(0.8 * self._fog_rng.gauss(0.0, 1.0))
        duration = min(30.0, max(0.3, duration))
        # the steps shorten into the freeze for FREEZE_LEAD_S first (a start hesitation has no steps
        # to shorten); a trigger during another freeze's shortening or the freeze itself does not
        # move its start
        lead = 0.0 if trigger == "start" else FREEZE_LEAD_S
        start = self.t_s + lead
        if self.t_s < self.freeze_until_s:
            start = max(self.t_s, self.freeze_from_s)
        self.freeze_from_s = start
        self.freeze_until_s = start + duration
        self.freezes.append({"t_s": start, "device_time_us": int(start * 1e6), "end_t_s": start + duration,
                             "duration_s": duration, "trigger": trigger, "trigger_t_s": self.t_s})

    def _maybe_festinate(self) -> None:
        p = self.profile
        if p.festination_probability <= 0.0 or self.t_s is None or self.t_s < self.festinate_until_s:
            return
        if self._fog_rng.random() < p.festination_probability * 0.3:
            self.festinate_until_s = self.t_s + self._fog_rng.uniform(*FESTINATION_S)

    def _check_triggers(self, leg: LegState) -> None:
        if not self.perceive or self.profile.freeze_probability <= 0.0:
            return
        x = max(self.legs[0].heel_x, self.legs[1].heel_x)
        for ob in self.scene:
            if not ob.in_lane:
                continue
            ahead = ob.at_m - x
            if 0.0 < ahead < TRIGGER_AHEAD_M:
                if ob.kind in ("automatic_door", "door_threshold"):
                    self._maybe_freeze("doorway", ob.index)
                elif ob.step_over:
                    self._maybe_freeze("obstacle", ob.index)

    # ------------------------------------------------------------------ intent
    def _intend(self, dt: float) -> None:
        p = self.profile
        a = min(1.0, dt / INTENT_TAU_S)
        self.intent_z += -self.intent_z * a + math.sqrt(2.0 * a) * self._intent_rng.gauss(0.0, 1.0)
        speed = p.comfortable_speed_mps * (1.0 + p.speed_intent_cv * self.intent_z) * (1.0 - 0.3 * self.fatigue)
        if self.perceive:
            ob = self.walkway.next_crossing(self.hip_x)
            if ob is not None and ob.at_m - self.hip_x < 2.0:
                speed *= 0.85  # people slow down before stepping over (Chen 1991: older adults more)
        if self.intent_schedule is not None:
            speed = float(self.intent_schedule(self.t_s))
        if self.frozen:
            speed = 0.0
        self.intended_speed_mps = max(0.0, speed)
