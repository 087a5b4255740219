"""Medial/lateral split of the load under one simulated foot in stance (the insole's lateral cells).

The insole's heel, midfoot and forefoot regions each have a lateral and a medial half. During a
normal stance the centre of pressure enters on the lateral heel, runs along the lateral column of
the midfoot and crosses to the first metatarsal head and the hallux for push-off (the "roll-over"
of plantar pressure maps), so the lateral half carries more than half of the heel and most of
the midfoot and less than half of the forefoot (LATERAL_SHARE, rounded from the shape of that
path; an assumed figure, not a measured one).

Around that path the centre of pressure moves medio-laterally with the patient's balance
control: a per-stance offset (where the body's centre of mass lands over the foot: foot
placement variability) and a sway within the stance (ankle strategy corrections), modelled as an
Ornstein-Uhlenbeck process with time constant SWAY_TAU_S. The profile's `cop_ml_sd_m` is the
standard deviation of both (assumed healthy default 3 mm; docs/patients.md). A share is the
lateral half's fraction of its region: with the two halves' centres `column_m` either side of
the sole's midline, a COP offset y moves the share by y / (2 column_m).
"""

from __future__ import annotations

import math
import random

LATERAL_SHARE = (0.55, 0.75, 0.40)  # heel, midfoot, forefoot: lateral half's share in a normal stance
SWAY_TAU_S = 0.10  # within-stance sway: correlation time of the ankle strategy's corrections
FOOT_WIDTH_PER_LENGTH = 0.38  # foot width / length (anthropometric ratio, about 0.36-0.40)
COLUMN_PER_WIDTH = 0.25  # each half's centre lies a quarter of the width from the midline


_HEEL_SHARE, _MID_SHARE, _TOE_SHARE = LATERAL_SHARE


def _share(x: float) -> float:
    """x within [0, 1] (as min(1.0, max(0.0, x)); NaN gives 0.0)."""
    x = x if x > 0.0 else 0.0
    return x if x < 1.0 else 1.0


def column_offset_m(foot_length_m: float) -> float:
    """Distance of each half's (medial, lateral) cell centre from the sole's midline."""
    return COLUMN_PER_WIDTH * FOOT_WIDTH_PER_LENGTH * foot_length_m


class FootRoll:
    """One foot's medial/lateral load split; call `update` every model tick."""

    def __init__(self, rng: random.Random, cop_ml_sd_m: float, foot_length_m: float) -> None:
        self._rng = rng
        self.sd_m = cop_ml_sd_m
        self.column_m = column_offset_m(foot_length_m)
        self.offset_m = 0.0  # this stance's placement offset (+ lateral)
        self.sway_m = 0.0  # within-stance sway (+ lateral)
        self._in_stance = False
        self._t_s: float | None = None
        self._stance: dict | None = None  # ground truth of the stance under way
        self._decay_dt_s = math.nan  # the sway's per-step decay (a, sqrt(1 - a^2)) for this dt
        self._decay = (1.0, 0.0)

    def update(self, t_s: float, in_stance: bool, loads_n) -> dict | None:
        """Advance the sway to t_s with the foot's region loads (heel, midfoot, toe, N) now; a new
        stance draws its placement offset and restarts the sway. Returns the ground truth of a
        stance that just ended (start, duration, impulse, peak load, ML centre-of-pressure SD)."""
        dt = t_s - self._t_s if self._t_s is not None else 0.0
        self._t_s = t_s
        done = None
        st: dict | None  # the stance under way, or the one that just ended
        if in_stance and not self._in_stance:
            self.offset_m = self._rng.gauss(0.0, self.sd_m)
            self.sway_m = 0.0
            self._stance = {"t_s": t_s, "impulse_ns": 0.0, "peak_n": 0.0, "w": 0.0, "ml": 0.0, "ml2": 0.0}
        elif not in_stance and self._in_stance and self._stance is not None:
            st = self._stance
            w = st.pop("w")
            mean = st.pop("ml") / w if w > 0.0 else math.nan
            var = st.pop("ml2") / w - mean * mean if w > 0.0 else math.nan
            st["duration_s"] = t_s - st["t_s"]
            st["cop_ml_sd_m"] = math.sqrt(max(0.0, var)) if w > 0.0 else math.nan
            done, self._stance = st, None
        self._in_stance = in_stance
        if in_stance and dt > 0.0 and self.sd_m > 0.0:
            if dt != self._decay_dt_s:  # (the rig's tick is fixed: worked out once, not every tick)
                self._decay_dt_s = dt
                a = math.exp(-dt / SWAY_TAU_S)
                self._decay = (a, math.sqrt(1.0 - a * a))
            a, b = self._decay
            self.sway_m = a * self.sway_m + b * self.sd_m * self._rng.gauss(0.0, 1.0)
        st = self._stance
        if in_stance and st is not None and dt > 0.0:
            total = loads_n[0] + loads_n[1] + loads_n[2]
            st["impulse_ns"] += total * dt
            if total > st["peak_n"]:  # (as max(), without the call)
                st["peak_n"] = total
            ml = self.cop_ml_m(*loads_n)
            if ml == ml:  # weighted by load: the COP of a barely loaded foot is noise
                st["w"] += total * dt
                st["ml"] += ml * total * dt
                st["ml2"] += ml * ml * total * dt
        return done

    def lateral_n(self, heel_n: float, mid_n: float, toe_n: float) -> tuple[float, float, float]:
        """Force on the lateral half of each region (the rest is on the medial half)."""
        shift = (self.offset_m + self.sway_m) / (2.0 * self.column_m)
        return heel_n * _share(_HEEL_SHARE + shift), mid_n * _share(_MID_SHARE + shift), toe_n * _share(_TOE_SHARE + shift)

    def cop_ml_m(self, heel_n: float, mid_n: float, toe_n: float) -> float:
        """True medio-lateral centre of pressure (+ lateral of the midline), m; nan unloaded."""
        total = heel_n + mid_n + toe_n
        if total <= 0.0:
            return math.nan
        lat = sum(self.lateral_n(heel_n, mid_n, toe_n))
        return (2.0 * lat / total - 1.0) * self.column_m
