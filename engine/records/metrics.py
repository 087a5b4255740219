"""Gait numbers of a recorded session, computed from what the store holds.

Definitions follow DESIGN.md: symmetry index SI = (L - R) / (0.5 (L + R)) * 100 (0 = symmetric,
positive = left larger), stride-time variability as the coefficient of variation (%), cadence in
steps per minute of walking, walking speed as the mean belt speed while walking (on a treadmill the
belt speed is the walking speed, but it is the therapist's set-point, so it is never given a
gait-speed risk class: only a self-selected speed is). Per-leg measures are medians with their
interquartile range, not means and not the last stride. Also the published norms and thresholds
the reports mark values against, each with its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.control.layout import RunState
from engine.scene.outcomes import count_outcomes

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
    "perera2006": Reference(
        "perera2006",
        "Perera S, Mody SH, Woodman RC, Studenski SA. Meaningful change and responsiveness in common "
        "physical performance measures in older adults. J Am Geriatr Soc. 2006;54(5):743-749. Gait "
        "speed: small meaningful change about 0.05 m/s, substantial about 0.10 m/s (older adults and "
        "subacute stroke).",
    ),
    "tilson2010": Reference(
        "tilson2010",
        "Tilson JK, Sullivan KJ, Cen SY, et al. Meaningful gait speed improvement during the first 60 "
        "days poststroke: minimal clinically important difference. Phys Ther. 2010;90(2):196-208. "
        "MCID of comfortable gait speed 0.16 m/s (LEAPS, 283 subacute stroke).",
    ),
    "karvonen1957": Reference(
        "karvonen1957",
        "Karvonen MJ, Kentala E, Mustala O. The effects of training on heart rate; a longitudinal "
        "study. Ann Med Exp Biol Fenn. 1957;35(3):307-315. Target heart rate = resting + fraction x "
        "(maximum - resting): the heart-rate reserve (HRR).",
    ),
    "bmcneurol2021": Reference(
        "bmcneurol2021",
        "Pilot randomised trial of aerobic training after stroke, BMC Neurology 2021 "
        "(doi 10.1186/s12883-021-02052-8): low intensity below 40 % HRR, moderate 40-59 % HRR "
        "(RPE 11-13).",
    ),
    "chen1991": Reference(
        "chen1991",
        "Chen HC, Ashton-Miller JA, Alexander NB, Schultz AB. Stepping over obstacles: gait patterns "
        "of healthy young and old adults. J Gerontol. 1991;46(6):M196-M203. Lead-foot clearance rises "
        "with obstacle height (0-152 mm); older adults stepped on obstacles more often.",
    ),
    "chen1994": Reference(
        "chen1994",
        "Chen HC, Ashton-Miller JA, Alexander NB, Schultz AB. Age effects on strategies used to avoid "
        "obstacles. Gait Posture. 1994;2(3):139-146. Strides seldom adjusted more than two steps "
        "before an obstacle (used for the steady-stride rule).",
    ),
    "plotnik2015": Reference(
        "plotnik2015",
        "Plotnik M, Azrad T, Bondi M, et al. Self-selected gait speed - over ground versus "
        "self-paced treadmill walking, a solution for a paradox. J Neuroeng Rehabil. 2015;12:20. "
        "About 25-37 m of walking to reach a steady speed (used for the 10 s warm-up).",
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


def _finite(values) -> np.ndarray:
    return np.array([float(v) for v in values if v is not None and math.isfinite(float(v))], dtype=float)


def _mean(values) -> float:
    values = _finite(values)
    return float(values.mean()) if len(values) else math.nan


def _median(values) -> float:
    values = _finite(values)
    return float(np.median(values)) if len(values) else math.nan


def _iqr(values) -> float:
    """Interquartile range (75th minus 25th percentile, linear interpolation); nan below 4 values."""
    values = _finite(values)
    if len(values) < 4:
        return math.nan
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def _cv_pct(values) -> float:
    values = _finite(values)
    if len(values) < 3 or values.mean() == 0:
        return math.nan
    return float(values.std(ddof=1) / values.mean() * 100.0)


def walking_mask(telemetry: np.ndarray) -> np.ndarray:
    """Records where the belt moves with the session running."""
    running = np.isin(telemetry["run_state"], (int(RunState.RUNNING),))
    return running & (telemetry["belt_speed_mps"] > WALKING_SPEED_MPS)


# Steady-state rule for stride-time variability (docs/records.md, "Steady strides"): a stride
# counts when, over the whole stride, the session was running, the commanded belt speed stayed
# within STEADY_SPEED_TOLERANCE_MPS of its median (no scene stop, yield or speed change) and
# within SESSION_SPEED_TOLERANCE of the session's median walking command (stride time changes with
# speed, so strides of a slow stretch would inflate the CV of the usual speed's strides), no
# obstacle was crossed in it or in the next stride's time (walkers adjust the one or two steps
# before an obstacle: Chen et al. 1994, Gait Posture 2:139), and it started at least WARM_UP_S
# after the belt began to move (time to reach a steady speed: Plotnik et al. 2015).
STEADY_SPEED_TOLERANCE_MPS = 0.02
SESSION_SPEED_TOLERANCE = 0.05  # fraction of the session's median walking command
WARM_UP_S = 10.0
OBSTACLE_KINDS = ("obstacle_outcome",)


def steady_flagged_by_core(strides: list[dict]) -> bool:
    """Whether steady_strides takes the control core's recorded flags (at least one stride flagged
    steady) rather than the rule from the recorded belt command (see steady_strides)."""
    return any(s.get("steady") for s in strides)


def steady_strides(strides: list[dict], telemetry: np.ndarray, events: list[dict]) -> list[bool]:
    """Per stride: True when it is a steady-state stride. The control core's steady flag recorded
    with the stride (`steady`) wins when the session's strides carry it, i.e. when at least one
    stride is flagged steady (older recordings and the gait model write 0 for every stride, which
    means "not judged", not "unsteady"); otherwise the rule above decides from the recorded belt
    command, run state and obstacle events."""
    trust_recorded = steady_flagged_by_core(strides)
    out = []
    if len(telemetry):
        t = np.ascontiguousarray(telemetry["t_s"])  # a field view is strided: searchsorted would copy it per call
        cmd = telemetry["belt_speed_cmd_mps"].astype(float)
        running = telemetry["run_state"] == int(RunState.RUNNING)
        moving = running & (cmd > WALKING_SPEED_MPS)
        walk_start = float(t[np.argmax(moving)]) if moving.any() else math.inf
        usual_mps = float(np.median(cmd[moving])) if moving.any() else math.nan
    obstacle_times = np.sort(np.array([e["t_s"] for e in events if e["kind"] in OBSTACLE_KINDS], dtype=float))
    for stride in strides:
        recorded = stride.get("steady")
        if trust_recorded and recorded is not None:
            out.append(bool(recorded))
            continue
        duration = stride.get("stride_time_s")
        if not len(telemetry) or duration is None or not math.isfinite(duration) or duration <= 0:
            out.append(False)
            continue
        end = float(stride["t_s"])
        start = end - float(duration)
        i, j = np.searchsorted(t, [start, end])
        j = max(j, i + 1)
        window_cmd = cmd[i:j]
        ok = (start >= walk_start + WARM_UP_S and bool(running[i:j].all()) and len(window_cmd) > 0
              and float(np.max(np.abs(window_cmd - np.median(window_cmd)))) <= STEADY_SPEED_TOLERANCE_MPS
              and abs(float(np.median(window_cmd)) - usual_mps) <= SESSION_SPEED_TOLERANCE * usual_mps)
        if ok and len(obstacle_times):
            k = np.searchsorted(obstacle_times, start)
            ok = not (k < len(obstacle_times) and obstacle_times[k] <= end + float(duration))
        out.append(bool(ok))
    return out


def self_selected_speed_mps(events: list[dict]) -> float:
    """The patient's self-selected (comfortable) walking speed when the session measured one: the
    last `self_selected_speed` event's `speed_mps` (written by a comfortable-speed test). NaN
    when none was measured: the belt set-point is the therapist's choice, not the patient's
    speed, and must not be classified."""
    found = [e for e in events if e["kind"] == "self_selected_speed" and (e.get("data") or {}).get("speed_mps")]
    return float(found[-1]["data"]["speed_mps"]) if found else math.nan


def session_span(telemetry: np.ndarray) -> tuple[int, int]:
    """Index range [first, last) of the records that belong to the walking session: from the first
    RUNNING record (the therapist pressed start) to the last record that is running, paused,
    stopping or has the belt moving (the belt has stopped after it). Idle records before the start
    and after the stop (a menu left open, a recorder stopped late) are outside; (0, 0) when the
    session never ran."""
    n = len(telemetry)
    if not n:
        return 0, 0
    state = telemetry["run_state"]
    running = state == int(RunState.RUNNING)
    if not running.any():
        return 0, 0
    first = int(np.argmax(running))
    active = np.isin(state, (int(RunState.RUNNING), int(RunState.PAUSED), int(RunState.STOPPING)))
    active |= np.abs(telemetry["belt_speed_mps"]) > WALKING_SPEED_MPS
    active[:first] = False
    last = int(n - 1 - np.argmax(active[::-1]))
    return first, min(n, last + 1)


def session_metrics(telemetry: np.ndarray, steps: list[dict], strides: list[dict], events: list[dict],
                    affected_side: int = -1) -> dict:
    """The session's gait numbers as aggregates (see the module docstring and docs/records.md):
    per leg the median and interquartile range of every per-step and per-stride measure, counts,
    symmetry from the medians, stride-time CV over steady strides only, and the paretic /
    non-paretic naming of the legs when the prescription names an affected side."""
    m: dict = {}
    n = len(telemetry)
    if n:
        t = telemetry["t_s"]
        m["duration_s"] = float(t[-1] - t[0])
        m["distance_m"] = float(telemetry["s_m"][-1] - telemetry["s_m"][0])
        walking = walking_mask(telemetry)
        dt = np.diff(t, prepend=t[0])
        m["walking_time_s"] = float(dt[walking].sum())
        m["belt_speed_mps"] = float(telemetry["belt_speed_mps"][walking].mean()) if walking.any() else math.nan
        m["guidance_mean"] = float(telemetry["guidance"][walking].mean()) if walking.any() else math.nan
        m["bws_mean"] = float(telemetry["bws_fraction"][walking].mean()) if walking.any() else math.nan
        hr = telemetry["heart_rate_bpm"]
        hr = hr[np.isfinite(hr) & (hr > 0)]
        m["heart_rate_mean_bpm"] = float(hr.mean()) if len(hr) else math.nan
        m["heart_rate_max_bpm"] = float(hr.max()) if len(hr) else math.nan
    else:
        for key in ("duration_s", "distance_m", "walking_time_s", "belt_speed_mps", "guidance_mean",
                    "bws_mean", "heart_rate_mean_bpm", "heart_rate_max_bpm"):
            m[key] = math.nan
    # Walking speed on a treadmill is the belt speed while walking: reported as such, never
    # classified (below) unless a self-selected speed was measured.
    m["gait_speed_mps"] = m["belt_speed_mps"]
    steady = steady_strides(strides, telemetry, events)
    for side, name in ((LEFT, "l"), (RIGHT, "r")):
        side_steps = [s for s in steps if s["side"] == side]
        side_strides = [s for s in strides if s["side"] == side]
        for key, rows in (("step_length_m", side_steps), ("step_time_s", side_steps), ("toe_clearance_m", side_steps),
                          ("stride_time_s", side_strides), ("stance_fraction", side_strides),
                          ("stride_length_m", side_strides)):
            base, unit = key.rsplit("_", 1) if key != "stance_fraction" else ("stance", "")
            suffix = f"_{unit}" if unit else ""
            values = [r[key] for r in rows]
            m[f"{base}_{name}{suffix}"] = _median(values)
            m[f"{base}_{name}_iqr{suffix}"] = _iqr(values)
        m[f"steps_{name}"] = len(side_steps)
        m[f"strides_{name}"] = len(side_strides)
        steady_times = [s["stride_time_s"] for s, ok in zip(strides, steady, strict=True) if ok and s["side"] == side]
        m[f"steady_strides_{name}"] = len(steady_times)
        m[f"stride_cv_{name}_pct"] = _cv_pct(steady_times)
    m["steps"] = len(steps)
    m["strides"] = len(strides)
    m["steady_strides"] = int(sum(steady))
    walking_min = m["walking_time_s"] / 60.0 if math.isfinite(m["walking_time_s"]) else math.nan
    m["cadence_spm"] = len(steps) / walking_min if walking_min and walking_min > 0 and steps else math.nan
    m["si_step_length_pct"] = symmetry_index_pct(m["step_length_l_m"], m["step_length_r_m"])
    m["si_step_time_pct"] = symmetry_index_pct(m["step_time_l_s"], m["step_time_r_s"])
    m["stride_cv_pct"] = _mean([m["stride_cv_l_pct"], m["stride_cv_r_pct"]])
    # Counted with the HUD's and the session summary's rule (engine.scene.outcomes), so the three agree.
    counts = count_outcomes(e["outcome"] for e in events if e["kind"] == "obstacle_outcome")
    m["obstacle_counts"] = counts
    m["obstacles"] = counts.decided
    m["obstacles_cleared"] = counts.done_well  # stored key: cleared step-overs + yield obstacles waited for
    m["obstacles_hit"] = counts.touched
    m["obstacle_success_pct"] = 100.0 * counts.done_well / counts.decided if counts.decided else math.nan
    m["alarms"] = sum(e["kind"] == "alarm_raised" for e in events)
    m["self_selected_speed_mps"] = self_selected_speed_mps(events)
    m["speed_class"] = speed_class(m["self_selected_speed_mps"])
    m["fall_risk"] = fall_risk_marker(m["self_selected_speed_mps"])
    m["affected_side"] = affected_side
    m["side_roles"] = side_roles(affected_side)
    return m


def side_roles(affected_side: int) -> dict[str, str]:
    """{'l': 'paretic' / 'non-paretic' / 'left', 'r': ...}: what to call each leg."""
    if affected_side not in (LEFT, RIGHT):
        return {"l": "left", "r": "right"}
    return {"l": "paretic" if affected_side == LEFT else "non-paretic",
            "r": "paretic" if affected_side == RIGHT else "non-paretic"}


SUMMARY_VERSION = 2


def session_summary(m: dict) -> dict:
    """The stored session summary (`sessions.summary_json`) from session_metrics: aggregates only,
    JSON-safe (NaN becomes null), legs named left/right and, with an affected side, paretic and
    non-paretic."""
    def clean(value):
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        return value

    roles = m["side_roles"]
    per_leg = {}
    for name, side in (("l", "left"), ("r", "right")):
        leg = {"role": roles[name], "steps": m[f"steps_{name}"], "strides": m[f"strides_{name}"],
               "steady_strides": m[f"steady_strides_{name}"], "stride_time_cv_pct": clean(m[f"stride_cv_{name}_pct"])}
        for key in ("step_length", "step_time", "toe_clearance", "stride_time", "stride_length"):
            unit = {"step_length": "m", "step_time": "s", "toe_clearance": "m", "stride_time": "s",
                    "stride_length": "m"}[key]
            leg[f"{key}_median_{unit}"] = clean(m[f"{key}_{name}_{unit}"])
            leg[f"{key}_iqr_{unit}"] = clean(m[f"{key}_{name}_iqr_{unit}"])
        leg["stance_fraction_median"] = clean(m[f"stance_{name}"])
        leg["stance_fraction_iqr"] = clean(m[f"stance_{name}_iqr"])
        per_leg[side] = leg
    if m["affected_side"] in (LEFT, RIGHT):
        paretic = "left" if m["affected_side"] == LEFT else "right"
        per_leg_roles = {"paretic": paretic, "non_paretic": "right" if paretic == "left" else "left"}
    else:
        per_leg_roles = {}
    ss = clean(m["self_selected_speed_mps"])
    summary = {"summary_version": SUMMARY_VERSION}
    summary.update({stored: clean(m[key]) for stored, key in SUMMARY_FIELDS.items()})
    summary.update({
        "speed_class": m["speed_class"] if ss is not None else None,
        "speed_class_note": None if ss is not None else
        "not classified: no self-selected speed was measured; the belt speed is the therapist's set-point",
        "legs": per_leg,
        **per_leg_roles,
    })
    return summary


# Stored summary key: session_metrics key (aggregates; units in the names).
SUMMARY_FIELDS = {
    "duration_s": "duration_s", "walking_time_s": "walking_time_s", "distance_m": "distance_m",
    "steps": "steps", "strides": "strides", "steady_strides": "steady_strides", "cadence_spm": "cadence_spm",
    "belt_speed_mean_mps": "belt_speed_mps", "self_selected_speed_mps": "self_selected_speed_mps",
    "symmetry_index_step_length_pct": "si_step_length_pct", "symmetry_index_step_time_pct": "si_step_time_pct",
    "stride_time_cv_pct": "stride_cv_pct", "guidance_mean_fraction": "guidance_mean",
    "bws_mean_fraction_of_body_weight": "bws_mean", "heart_rate_mean_bpm": "heart_rate_mean_bpm",
    "heart_rate_max_bpm": "heart_rate_max_bpm", "obstacles": "obstacles", "obstacles_cleared": "obstacles_cleared",
    "obstacles_hit": "obstacles_hit", "alarms_raised": "alarms",
}


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
