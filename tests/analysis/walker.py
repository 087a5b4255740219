"""A physiologically built walking session for detector tests (not the detectors' formulas).

Heel strikes follow from a stride-time series (mean from cadence, Gaussian variability) and the
right leg's phase in the left stride; toe-offs from each leg's stance share; step length from
where the feet land on a belt running at `speed_mps` (a longer swing carries the foot further).
Freezing inserts trembling in place: 4.4 steps/s of 3 cm steps for the episode's duration
(`freeze_step_m`: the lengths the trembling steps measure, in turn).
"""

from __future__ import annotations

import math

import numpy as np

from engine.analysis.session_data import SessionData, steady_strides


def walk(speed_mps: float = 1.25, cadence_spm: float = 112.0, stance=(0.62, 0.62), right_phase: float = 0.5,
         stride_cv: float = 0.015, mtc_m=(0.013, 0.013), mtc_sd_m=(0.0045, 0.0045), duration_s: float = 120.0,
         freezes=(), seed: int = 1, age_years: float | None = None, hr_bpm: float = 0.0,
         prescription: dict | None = None, obstacles=(), self_selected_mps: float | None = None,
         freeze_step_m=(0.03,)) -> SessionData:
    rng = np.random.default_rng(seed)
    stride_mean = 120.0 / cadence_spm
    events = []  # (t, side, step_time, step_len, mtc)
    t = 2.0
    last_hs = {0: None, 1: None}
    strides = []  # (t_end, side, stride_time, stance)
    freezes = sorted(freezes)
    while t < duration_s:
        fz = next(((a, d) for a, d in freezes if a <= t + stride_mean < a + d), None)
        if fz is not None:
            t = max(t, fz[0])  # the freeze begins at its onset, after the last full stride
        if fz is not None:
            # trembling in place until the freeze ends
            end = fz[0] + fz[1]
            side = 0
            k = 0
            while t < end:
                t += 1.0 / 4.4
                events.append((t, side, 1.0 / 4.4, freeze_step_m[k % len(freeze_step_m)], 0.002))
                k += 1
                side = 1 - side
            last_hs = {0: None, 1: None}
            t += 0.3
            continue
        stride = stride_mean * (1.0 + stride_cv * rng.standard_normal())
        for side, offset in ((0, 0.0), (1, right_phase * stride)):
            hs = t + offset
            prev_other = last_hs[1 - side]
            step_time = hs - prev_other if prev_other is not None else math.nan
            # the belt carries the stance foot back; the swing foot lands ahead by belt travel
            step_len = speed_mps * step_time if math.isfinite(step_time) else math.nan
            mtc = max(0.0, mtc_m[side] + mtc_sd_m[side] * rng.standard_normal())
            events.append((hs, side, step_time, step_len, mtc))
            if last_hs[side] is not None:
                strides.append((hs, side, hs - last_hs[side], stance[side]))
            last_hs[side] = hs
        t += stride
    events.sort()
    ev = [e for e in events if math.isfinite(e[2])]
    tel_t = np.arange(0.0, duration_s + 1.0, 0.01)
    belt = np.full(len(tel_t), speed_mps)
    running = np.ones(len(tel_t), dtype=bool)
    st = np.array([s[0] for s in strides])
    sd = np.array([s[2] for s in strides])
    ss = np.array([s[1] for s in strides], dtype=np.int64)
    steady = steady_strides(st, sd, ss, tel_t, belt, running, np.zeros(len(tel_t), dtype=bool), np.array([0.0]))
    return SessionData(
        session_id=1, patient_code="t", scene_id="none", simulated=True,
        step_t_s=np.array([e[0] for e in ev]), step_side=np.array([e[1] for e in ev], dtype=np.int64),
        step_length_m=np.array([e[3] for e in ev]), step_time_s=np.array([e[2] for e in ev]),
        toe_clearance_m=np.array([e[4] for e in ev]),
        stride_t_s=st, stride_side=ss, stride_time_s=sd, stance_fraction=np.array([s[3] for s in strides]),
        stride_steady=steady, tel_t_s=tel_t, belt_speed_mps=belt, walking=running,
        heart_rate_bpm=np.full(len(tel_t), hr_bpm), obstacle_results=list(obstacles),
        self_selected_speed_mps=self_selected_mps, self_selected_speed_source="test" if self_selected_mps else "",
        prescription=prescription or {}, patient={"age_years": age_years} if age_years is not None else {},
    )
