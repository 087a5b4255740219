"""Gait numbers of a recorded session, computed from what the store holds.

Definitions follow DESIGN.md: symmetry index SI = (L - R) / (0.5 (L + R)) * 100 (0 = symmetric,
positive = left larger), stride-time variability as the coefficient of variation (%), cadence in
steps per minute of walking, gait speed as the mean belt speed while walking (on a treadmill the
belt speed is the walking speed). Also the published norms and thresholds the reports mark values
against, each with its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.control.layout import RunState

LEFT, RIGHT = 0, 1
WALKING_SPEED_MPS = 0.05  # belt slower than this: standing, not walking


@dataclass(frozen=True)
class Reference:
    key: str
    citation: str


REFERENCES: dict[str, Reference] = {
    "perry1995": Reference(
        "perry1995",
        "Perry J, Garrett M, Gronley JK, Mulroy SJ. Classification of walking handicap in the stroke "
        "population. Stroke. 1995;26(6):982-989. Gait speed classes: household ambulation below "
        "0.4 m/s, limited community ambulation 0.4-0.8 m/s, community ambulation above 0.8 m/s.",
    ),
    "fritz2009": Reference(
        "fritz2009",
        "Fritz S, Lusardi M. White paper: \"walking speed: the sixth vital sign\". J Geriatr Phys "
        "Ther. 2009;32(2):46-49. Below 0.6 m/s: high risk of adverse outcomes (dependence, "
        "hospitalisation); below 1.0 m/s: at risk for falls, intervention indicated; "
        "1.2-1.4 m/s: typical of healthy adults, enough to cross a street safely.",
    ),
    "patterson2008": Reference(
        "patterson2008",
        "Patterson KK, Parafianowicz I, Danells CJ, et al. Gait asymmetry in community-ambulating "
        "stroke survivors. Arch Phys Med Rehabil. 2008;89(2):304-310. Upper limits of healthy "
        "symmetry ratios: step length 1.08, swing time 1.06 (here expressed as |SI| of about 8 % "
        "and 6 %).",
    ),
    "patterson2010": Reference(
        "patterson2010",
        "Patterson KK, Gage WH, Brooks D, Black SE, McIlroy WE. Evaluation of gait symmetry after "
        "stroke: a comparison of current methods and recommendations for standardization. Gait "
        "Posture. 2010;31(2):241-246.",
    ),
    "hausdorff2005": Reference(
        "hausdorff2005",
        "Hausdorff JM. Gait variability: methods, modeling and meaning. J Neuroeng Rehabil. "
        "2005;2:19. Stride-time CV of healthy adults is typically about 1-3 %; higher values are "
        "associated with falls in older adults (Hausdorff JM, Rios DA, Edelberg HK. Arch Phys Med "
        "Rehabil. 2001;82(8):1050-1056).",
    ),
    "winter1992": Reference(
        "winter1992",
        "Winter DA. Foot trajectory in human gait: a precise and multifactorial motor control task. "
        "Phys Ther. 1992;72(1):45-53. Minimum toe clearance in healthy young adults about "
        "1.3 cm (SD 0.45 cm).",
    ),
}

# Thresholds drawn on the plots: (value, label, reference key).
SPEED_CLASSES = [
    (0.4, "household < 0.4 m/s", "perry1995"),
    (0.8, "limited community < 0.8 m/s", "perry1995"),
]
SPEED_RISK = [
    (0.6, "high risk of adverse outcomes < 0.6 m/s", "fritz2009"),
    (1.0, "fall risk < 1.0 m/s", "fritz2009"),
]
STEP_LENGTH_SI_LIMIT_PCT = 7.7  # ratio 1.08 -> SI = 2 (r - 1) / (r + 1) * 100
STEP_TIME_SI_LIMIT_PCT = 5.8  # swing-time ratio 1.06 used as the step-time limit
STRIDE_CV_HEALTHY_PCT = (1.0, 3.0)
TOE_CLEARANCE_HEALTHY_M = (0.0085, 0.0175)  # mean +/- 1 SD, Winter 1992


def symmetry_index_pct(left: float, right: float) -> float:
    """SI = (L - R) / (0.5 (L + R)) * 100; nan when undefined."""
    if not (math.isfinite(left) and math.isfinite(right)) or left + right == 0:
        return math.nan
    return (left - right) / (0.5 * (left + right)) * 100.0


def speed_class(speed_mps: float) -> str:
    """Perry et al. 1995 ambulation class of a gait speed."""
    if not math.isfinite(speed_mps):
        return "n/a"
    if speed_mps < 0.4:
        return "household"
    if speed_mps < 0.8:
        return "limited community"
    return "community"


def fall_risk_marker(speed_mps: float) -> str:
    """Fritz & Lusardi 2009 risk marker of a gait speed ("" above 1.0 m/s)."""
    if not math.isfinite(speed_mps):
        return ""
    if speed_mps < 0.6:
        return "high risk (< 0.6 m/s)"
    if speed_mps < 1.0:
        return "fall risk (< 1.0 m/s)"
    return ""


def _mean(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def _cv_pct(values) -> float:
    values = np.array([v for v in values if v is not None and math.isfinite(v)])
    if len(values) < 3 or values.mean() == 0:
        return math.nan
    return float(values.std(ddof=1) / values.mean() * 100.0)


def walking_mask(telemetry: np.ndarray) -> np.ndarray:
    """Records where the belt moves with the session running."""
    running = np.isin(telemetry["run_state"], (int(RunState.RUNNING),))
    return running & (telemetry["belt_speed_mps"] > WALKING_SPEED_MPS)


def session_metrics(telemetry: np.ndarray, steps: list[dict], strides: list[dict], events: list[dict]) -> dict:
    """The session's gait numbers (see the module docstring for definitions)."""
    m: dict = {}
    n = len(telemetry)
    if n:
        t = telemetry["t_s"]
        m["duration_s"] = float(t[-1] - t[0])
        m["distance_m"] = float(telemetry["s_m"][-1] - telemetry["s_m"][0])
        walking = walking_mask(telemetry)
        dt = np.diff(t, prepend=t[0])
        m["walking_time_s"] = float(dt[walking].sum())
        m["gait_speed_mps"] = float(telemetry["belt_speed_mps"][walking].mean()) if walking.any() else math.nan
        m["guidance_mean"] = float(telemetry["guidance"][walking].mean()) if walking.any() else math.nan
        m["bws_mean"] = float(telemetry["bws_fraction"][walking].mean()) if walking.any() else math.nan
        hr = telemetry["heart_rate_bpm"]
        hr = hr[hr > 0]
        m["heart_rate_mean_bpm"] = float(hr.mean()) if len(hr) else math.nan
        m["heart_rate_max_bpm"] = float(hr.max()) if len(hr) else math.nan
    else:
        for key in ("duration_s", "distance_m", "walking_time_s", "gait_speed_mps", "guidance_mean",
                    "bws_mean", "heart_rate_mean_bpm", "heart_rate_max_bpm"):
            m[key] = math.nan
    by_side = {side: [s for s in steps if s["side"] == side] for side in (LEFT, RIGHT)}
    for side, name in ((LEFT, "l"), (RIGHT, "r")):
        m[f"step_length_{name}_m"] = _mean(s["step_length_m"] for s in by_side[side])
        m[f"step_time_{name}_s"] = _mean(s["step_time_s"] for s in by_side[side])
        m[f"toe_clearance_{name}_m"] = _mean(s["toe_clearance_m"] for s in by_side[side])
        m[f"stride_cv_{name}_pct"] = _cv_pct(s["stride_time_s"] for s in strides if s["side"] == side)
        m[f"stance_{name}"] = _mean(s["stance_fraction"] for s in strides if s["side"] == side)
    m["steps"] = len(steps)
    m["strides"] = len(strides)
    walking_min = m["walking_time_s"] / 60.0 if math.isfinite(m["walking_time_s"]) else math.nan
    m["cadence_spm"] = len(steps) / walking_min if walking_min and walking_min > 0 else math.nan
    m["si_step_length_pct"] = symmetry_index_pct(m["step_length_l_m"], m["step_length_r_m"])
    m["si_step_time_pct"] = symmetry_index_pct(m["step_time_l_s"], m["step_time_r_s"])
    m["stride_cv_pct"] = _mean([m["stride_cv_l_pct"], m["stride_cv_r_pct"]])
    outcomes = [e for e in events if e["kind"] == "obstacle_outcome"]
    m["obstacles"] = len(outcomes)
    m["obstacles_cleared"] = sum(e["outcome"] in ("cleared", "passed") for e in outcomes)
    m["obstacles_hit"] = sum(e["outcome"] == "hit" for e in outcomes)
    m["obstacle_success_pct"] = 100.0 * m["obstacles_cleared"] / len(outcomes) if outcomes else math.nan
    m["alarms"] = sum(e["kind"] == "alarm_raised" for e in events)
    m["speed_class"] = speed_class(m["gait_speed_mps"])
    m["fall_risk"] = fall_risk_marker(m["gait_speed_mps"])
    return m


def goals_met(goals: dict, metrics: dict, events: list[dict]) -> list[dict]:
    """Each goal with its target, what was achieved and whether it was met."""
    reached = {int(e["code"]) for e in events if e["kind"] == "goal_reached" and e["code"] is not None}
    rows = []
    for key, code, achieved_key in (("steps", 0, "steps"), ("distance_m", 1, "distance_m"), ("time_s", 2, "walking_time_s")):
        for name in (key, f"goal_{key}"):
            if name in goals and goals[name]:
                target = float(goals[name])
                achieved = float(metrics.get(achieved_key, math.nan))
                met = code in reached or (math.isfinite(achieved) and achieved >= target)
                rows.append({"goal": key, "target": target, "achieved": achieved, "met": met})
                break
    for name, value in goals.items():
        if name not in ("steps", "distance_m", "time_s", "goal_steps", "goal_distance_m", "goal_time_s"):
            rows.append({"goal": name, "target": value, "achieved": None, "met": None})
    return rows
