"""Balance from the smart insoles, per stance: centre-of-pressure path, sway, load, double support.

Fed every insole sample (200 Hz) with the tared region forces of one foot; while the foot is in
contact it follows the centre of pressure (COP) under it:
- along the sole (AP): the load-weighted mean of the regions' cell centres, at HEEL_AT, MID_AT and
  TOE_AT of the insole's length from its heel edge (the cell layout docs/protocol.md fixes);
- across it (ML, + lateral): from insoles whose cells are split medial/lateral, the lateral
  halves' share of the load times the halves' spacing (each half's centre a quarter of the sole's
  width, FOOT_WIDTH_PER_LENGTH x length, from the midline); NaN from insoles without them.
At the end of the stance (`finish`, at toe off) it holds:
- `path_m`: length of the COP path (AP and ML steps summed; AP only without ML cells);
- `ap_m`: AP progression, the COP's last position along the sole minus its first (heel to toe
  roll-over: a flat-footed or forefoot contact progresses little);
- `ml_sd_m`: medio-lateral sway, the load-weighted SD of the ML COP; `ml_range_m` its range;
- `peak_load`: the highest whole-foot load, and `impulse`: its integral over the stance, both
  as fractions of the standing load (body weight less any support: the core's standing calibration);
- `double_support_s`: time in this stance with the other foot also in contact; `duration_s`.
Samples below MIN_LOAD of the standing load carry no COP (a lightly touching foot's COP is noise).
No allocation after construction: it runs inside the control core's cycle.
"""

from __future__ import annotations

import math

HEEL_AT = 0.15  # cell centres along the insole, share of its length from the heel edge
MID_AT = 0.45
TOE_AT = 0.80
FOOT_WIDTH_PER_LENGTH = 0.38  # insole width / length (anthropometric ratio of the foot)
COLUMN_PER_WIDTH = 0.25  # medial and lateral halves' centres a quarter width from the midline
MIN_LOAD = 0.05  # fraction of the standing load below which a sample has no COP
MIN_SAMPLES = 5  # fewer COP samples in a stance: nothing to report


class StanceBalance:
    """One foot's per-stance balance measures (module docstring); `sample` every insole sample."""

    def __init__(self) -> None:
        self.length_m = 0.25
        self._reset(-1.0)
        self.lat_zero_n = [0.0, 0.0, 0.0]
        # results of the last finished stance
        self.path_m = math.nan
        self.ap_m = math.nan
        self.ml_sd_m = math.nan
        self.ml_range_m = math.nan
        self.peak_load = math.nan
        self.impulse = math.nan
        self.double_support_s = math.nan
        self.duration_s = math.nan
        self.ml_resolved = False

    def _reset(self, t_s: float) -> None:
        self.start_s = t_s
        self.last_s = t_s
        self.n = 0
        self.ap0 = math.nan
        self.ap = math.nan
        self.ml = math.nan
        self.path = 0.0
        self.w = 0.0
        self.ml_w = 0.0
        self.ml_sum = 0.0
        self.ml_sq = 0.0
        self.ml_min = math.inf
        self.ml_max = -math.inf
        self.peak = 0.0
        self.imp = 0.0
        self.ds = 0.0
        self.active = t_s >= 0.0

    def set_foot_length(self, length_m: float) -> None:
        """Insole length (the exoskeleton's foot plate: ankle to heel plus ankle to toe)."""
        if length_m > 0.05:
            self.length_m = length_m

    def sample(self, t_s: float, contact: bool, other_contact: bool, heel_n: float, mid_n: float,
               toe_n: float, lat_heel_n: float, lat_mid_n: float, lat_toe_n: float,
               standing_n: float) -> None:
        """One insole sample: tared region forces (N), raw lateral-half forces (N; NaN without
        lateral cells), both feet's contact state, the standing load (N)."""
        if not contact:
            if lat_heel_n == lat_heel_n and heel_n + mid_n + toe_n < MIN_LOAD * standing_n * 0.2:
                z = self.lat_zero_n  # airborne: learn the lateral cells' zero as the others'
                z[0] += 0.02 * (lat_heel_n - z[0])
                z[1] += 0.02 * (lat_mid_n - z[1])
                z[2] += 0.02 * (lat_toe_n - z[2])
            return
        if not self.active:
            self._reset(t_s)
        dt = t_s - self.last_s
        if dt < 0.0 or dt > 0.1:
            dt = 0.0
        self.last_s = t_s
        total = heel_n + mid_n + toe_n
        load = total / standing_n
        self.imp += load * dt
        if load > self.peak:
            self.peak = load
        if other_contact:
            self.ds += dt
        if load < MIN_LOAD:
            return
        length = self.length_m
        ap = (heel_n * HEEL_AT + mid_n * MID_AT + toe_n * TOE_AT) / total * length
        ml = math.nan
        if lat_heel_n == lat_heel_n:
            z = self.lat_zero_n
            lat = 0.0
            for f, z0, region in ((lat_heel_n, z[0], heel_n), (lat_mid_n, z[1], mid_n), (lat_toe_n, z[2], toe_n)):
                v = f - z0
                lat += 0.0 if v < 0.0 else (region if v > region else v)
            column = COLUMN_PER_WIDTH * FOOT_WIDTH_PER_LENGTH * length
            ml = (2.0 * lat / total - 1.0) * column
        if self.n:
            dap = ap - self.ap
            if ml == ml and self.ml == self.ml:
                dml = ml - self.ml
                self.path += math.sqrt(dap * dap + dml * dml)
            else:
                self.path += abs(dap)
        else:
            self.ap0 = ap
        self.n += 1
        self.ap = ap
        self.ml = ml
        if ml == ml:
            w = load
            self.ml_w += w
            self.ml_sum += w * ml
            self.ml_sq += w * ml * ml
            if ml < self.ml_min:
                self.ml_min = ml
            if ml > self.ml_max:
                self.ml_max = ml

    def finish(self, t_s: float) -> bool:
        """The stance ended at t_s (toe off): True with the results set when it had enough COP."""
        if not self.active:
            return False
        self.active = False
        if self.n < MIN_SAMPLES:
            return False
        self.duration_s = t_s - self.start_s
        self.path_m = self.path
        self.ap_m = self.ap - self.ap0
        self.ml_resolved = self.ml_w > 0.0
        if self.ml_resolved:
            mean = self.ml_sum / self.ml_w
            var = self.ml_sq / self.ml_w - mean * mean
            self.ml_sd_m = math.sqrt(var) if var > 0.0 else 0.0
            self.ml_range_m = self.ml_max - self.ml_min
        else:
            self.ml_sd_m = self.ml_range_m = math.nan
        self.peak_load = self.peak
        self.impulse = self.imp
        self.double_support_s = self.ds
        return True
