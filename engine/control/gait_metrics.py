"""Per-step and per-stride gait numbers from heel strikes, toe offs and where the heels landed.

Step length is the heel-to-heel distance at contact: when foot i strikes at t2, the distance
from where the other foot's heel was planted to where heel i lands, both measured at t2 from
the joint angles, the leg geometry and the foot pitches (foot_kinematics.py; the caller passes
it as step_length_m). Measured at one instant from one hip, it needs neither the belt nor a hip
that stays put on the treadmill. Without it (the other foot not on the belt) the belt frame is
used: foot j, planted at t1, has travelled back with the belt by D = belt(t2) - belt(t1), so
    step_length_i = D + x_i(t2) - x_j(t1),
x a heel's forward position relative to the hip at its strike (exact while the hip keeps its
place on the treadmill). The belt term alone would be belt speed x step time and miss every
asymmetry of foot placement. Stride length is the sum of the two steps that make the stride.

Toe clearance is the minimum toe height in mid-swing (30-80 % of the swing), the clinical
"minimum toe clearance" where trips happen (clearance.py computes it; `heel_strike` takes it).

Symmetry index SI = (L - R) / (0.5 (L + R)) * 100 on the latest step lengths; stride-time
variability is the coefficient of variation of the last CV_WINDOW steady-state strides of both
legs (steady_state.py says which strides are steady). gait_speed_mps is stride length over
stride time on the belt: on a treadmill that is the belt speed, never a self-selected speed.
"""

from __future__ import annotations

import math

CV_WINDOW = 10
CADENCE_WINDOW = 4


class GaitMetrics:
    """Accumulates events and keeps the latest metrics as plain attributes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (new session)."""
        self.steps = 0
        self.hs_t_s = [-1.0, -1.0]
        self.hs_belt_m = [0.0, 0.0]
        self.hs_pos_m = [0.0, 0.0]  # heel position in belt coordinates at its strike
        self.hs_frame_m = [0.0, 0.0]  # belt travel + heel ahead of the hip at its strike
        self.to_t_s = [-1.0, -1.0]
        self.step_length_m = [math.nan, math.nan]
        self.step_time_s = [math.nan, math.nan]
        self.stance_fraction = [math.nan, math.nan]
        self.toe_clearance_m = [math.nan, math.nan]
        self.swing_min_m = [math.inf, math.inf]
        self.cadence_spm = math.nan
        self.gait_speed_mps = math.nan
        self.symmetry_index_pct = math.nan
        self.stride_cv_pct = math.nan
        self._step_times: list[float] = []
        self._stride_times: list[float] = []
        self._stride_lengths: list[float] = [math.nan, math.nan]
        self._last_stride_time = [math.nan, math.nan]
        # Results of the latest heel strike, for the STEP / STRIDE events.
        self.last_step = (math.nan, math.nan, math.nan)  # length, time, toe clearance
        self.last_stride = (math.nan, math.nan, math.nan)  # time, stance fraction, length
        self.stride_done = False
        self.stride_steady = False

    def swing_sample(self, side: int, progress: float, toe_height_m: float) -> None:
        """Track the lowest toe point in mid-swing (progress 0..1 through the swing)."""
        if 0.3 <= progress <= 0.8 and toe_height_m < self.swing_min_m[side]:
            self.swing_min_m[side] = toe_height_m if toe_height_m > 0.0 else 0.0

    def toe_off(self, side: int, t_s: float) -> None:
        """Toe off of `side` at t_s: the swing starts."""
        self.to_t_s[side] = t_s
        self.swing_min_m[side] = math.inf

    def heel_strike(self, side: int, t_s: float, belt_m: float, heel_x_m: float = 0.0,
                    steady: bool = True, clearance_m: float | None = None,
                    step_length_m: float | None = None) -> bool:
        """Heel strike of `side` at t_s, the belt at belt_m and the heel heel_x_m ahead of the hip.

        steady: the stride ending now counts for variability; clearance_m: MTC of the swing
        that ends now (None: the swing_sample minimum); step_length_m: the heel-to-heel distance
        measured at this instant (None: from the belt frame). Returns True when a step was measured.
        """
        other = 1 - side
        prev_hs = self.hs_t_s[side]
        frame = belt_m + heel_x_m  # where the heel is if the hip has not moved on the treadmill
        if step_length_m is not None and self.hs_t_s[other] >= 0.0:
            pos = self.hs_pos_m[other] + step_length_m  # heel positions chained step by step
        elif self.hs_t_s[other] >= 0.0:
            # No heel-to-heel distance at this instant (the other foot is in the air): the step in
            # the belt's frame, from the other heel's strike to this one, chained on. The positions
            # are chained, and the belt frame drifts from them by the hip's travel on the treadmill
            # since the first step: taken whole it was put into this one step (a patient who fell
            # behind the belt, 0.6 m a step, read a 3.6 m step on a 0.24 m one).
            pos = self.hs_pos_m[other] + frame - self.hs_frame_m[other]
        else:
            pos = frame
        measured = False
        self.stride_done = False
        if self.hs_t_s[other] >= 0.0 and self.hs_t_s[other] > prev_hs:
            step_time = t_s - self.hs_t_s[other]
            length = pos - self.hs_pos_m[other]
            if 0.1 < step_time < 3.0:
                self.step_time_s[side] = step_time
                self.step_length_m[side] = length
                if clearance_m is None:
                    mtc = self.swing_min_m[side]
                    clearance = mtc if self.to_t_s[side] > prev_hs and mtc < math.inf else math.nan
                else:
                    clearance = clearance_m
                self.toe_clearance_m[side] = clearance
                self.last_step = (length, step_time, clearance)
                self.steps += 1
                measured = True
                self._step_times.append(step_time)
                if len(self._step_times) > CADENCE_WINDOW:
                    del self._step_times[0]
                self.cadence_spm = 60.0 * len(self._step_times) / sum(self._step_times)
                left, right = self.step_length_m
                if left == left and right == right and left + right > 0.0:
                    self.symmetry_index_pct = (left - right) / (0.5 * (left + right)) * 100.0
        if prev_hs >= 0.0:
            stride_time = t_s - prev_hs
            if 0.2 < stride_time < 6.0:
                stance = (self.to_t_s[side] - prev_hs) / stride_time if self.to_t_s[side] > prev_hs else math.nan
                stride_length = pos - self.hs_pos_m[side]
                self.stance_fraction[side] = stance
                self._stride_lengths[side] = stride_length
                self.gait_speed_mps = stride_length / stride_time
                self.last_stride = (stride_time, stance, stride_length)
                self.stride_done = True
                self.stride_steady = steady
                if steady:
                    self._stride_times.append(stride_time)
                    if len(self._stride_times) > CV_WINDOW:
                        del self._stride_times[0]
                    n = len(self._stride_times)
                    if n >= 3:
                        mean = sum(self._stride_times) / n
                        var = sum((x - mean) ** 2 for x in self._stride_times) / (n - 1)
                        self.stride_cv_pct = math.sqrt(var) / mean * 100.0
        self.hs_t_s[side] = t_s
        self.hs_belt_m[side] = belt_m
        self.hs_pos_m[side] = pos
        self.hs_frame_m[side] = frame
        return measured
