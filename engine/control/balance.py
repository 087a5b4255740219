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

A dragging toe is not stance. A foot that has pushed off may still brush the belt with its toe
through early swing (foot drop, a stiff knee): a small forefoot-only load that holds a level,
where a push-off's load keeps falling until the foot leaves. The insole keeps that foot "in
contact" until the toe lifts (engine/control/insole_events.py ends a contact early only when the
weight comes off in one sudden drop), so here the stance ends where the weight came off: once the
heel is unloaded and the load has stayed below DRAG_MAX within DRAG_LEVEL of one level for
DRAG_HOLD_S, the stance's duration, impulse and double support end at the first sample of that
level. For the same reason the other foot's dragging toe is not double support: each foot says
how it supports the body (`support`: OFF, BEARING, LOW: a toe-only load under DRAG_MAX not yet
held for DRAG_HOLD_S, DRAG: held that long); time in double support while the other foot is LOW
waits, and counts once that foot reloads or leaves the belt (a push-off's tail) or is dropped
once it turns out to drag.
No allocation after construction: it runs inside the control core's cycle.
"""

from __future__ import annotations

import math

from engine.control.insole_events import DRAG_LEVEL, DRAG_MAX, NOISE_FLOOR

HEEL_AT = 0.15  # cell centres along the insole, share of its length from the heel edge
MID_AT = 0.45
TOE_AT = 0.80
FOOT_WIDTH_PER_LENGTH = 0.38  # insole width / length (anthropometric ratio of the foot)
COLUMN_PER_WIDTH = 0.25  # medial and lateral halves' centres a quarter width from the midline
MIN_LOAD = 0.05  # fraction of the standing load below which a sample has no COP
MIN_SAMPLES = 5  # fewer COP samples in a stance: nothing to report
# a forefoot-only load held at one level this long is a dragging toe, not a push-off: the last
# samples of a push-off (falling through DRAG_MAX to zero) take one or two insole samples (5-10 ms
# at 200 Hz); a foot-drop toe drags through a good part of early swing (40-80 ms and more in the
# simulated paretic leg)
DRAG_HOLD_S = 0.03
OFF, BEARING, LOW, DRAG = 0, 1, 2, 3  # how a foot supports the body (`support`)


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
        self.end_s = math.nan  # when the last finished stance ended (its weight came off)
        self.ml_resolved = False
        self.support = OFF  # how this foot supports the body at its latest sample (module docstring)
        self.dragged_s = 0.0  # the last finished stance's dragging toe, left out of it

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
        self.ds_low = 0.0  # double support while the other foot was LOW: counted or dropped later
        self.active = t_s >= 0.0
        self.hold_t = -1.0  # first sample of a forefoot-only level below DRAG_MAX, -1 none
        self.hold_level = 0.0
        self.hold_imp = 0.0  # impulse and double support up to that sample
        self.hold_ds = 0.0

    def set_foot_length(self, length_m: float) -> None:
        """Insole length (the exoskeleton's foot plate: ankle to heel plus ankle to toe)."""
        if length_m > 0.05:
            self.length_m = length_m

    def sample(self, t_s: float, contact: bool, other_support: int, heel_n: float, mid_n: float,
               toe_n: float, lat_heel_n: float, lat_mid_n: float, lat_toe_n: float,
               standing_n: float) -> None:
        """One insole sample: tared region forces (N), raw lateral-half forces (N; NaN without
        lateral cells), this foot's contact, the other foot's `support` (True/False: BEARING/OFF),
        the standing load (N)."""
        if not contact:
            self.support = OFF
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
        if heel_n < NOISE_FLOOR * standing_n and load < DRAG_MAX:
            if self.hold_t < 0.0 or not -DRAG_LEVEL < load - self.hold_level < DRAG_LEVEL:
                self.hold_t = t_s  # a new level (a push-off's load falls through it)
                self.hold_level = load
                self.hold_imp = self.imp
                self.hold_ds = self.ds
            # a toe-only touch under DRAG_MAX held at one level does not hold the body up
            self.support = DRAG if t_s - self.hold_t >= DRAG_HOLD_S else LOW
        else:
            self.hold_t = -1.0
            self.support = BEARING
        self.imp += load * dt
        if load > self.peak:
            self.peak = load
        if other_support == BEARING or other_support == OFF:
            if self.ds_low > 0.0:  # the other foot was pushing off (it left) or reloaded
                self.ds += self.ds_low
                self.ds_low = 0.0
            if other_support == BEARING:
                self.ds += dt
        elif other_support == LOW:
            self.ds_low += dt
        else:  # the other foot's toe drags: its LOW time was the drag's beginning
            self.ds_low = 0.0
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
        self.support = OFF
        self.ds += self.ds_low  # the other foot still LOW at this toe off: counted as support
        self.ds_low = 0.0
        if self.n < MIN_SAMPLES:
            return False
        self.dragged_s = 0.0
        if self.hold_t >= 0.0 and t_s - self.hold_t >= DRAG_HOLD_S:
            # the toe dragged from hold_t: the weight came off there, the stance ended there
            self.dragged_s = t_s - self.hold_t
            t_s = self.hold_t
            self.imp = self.hold_imp
            self.ds = self.hold_ds
        self.end_s = t_s
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
