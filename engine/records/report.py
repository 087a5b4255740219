"""Therapist reports: one session, or a patient's progress, as a self-contained HTML file or a PDF.

What a report says is built once (report_render.Document: sections of paragraphs, tables and
plots) and rendered to either format. docs/records.md says how every number is computed; every
threshold cites its source (metrics.REFERENCES). Rules that keep a report true to the session:
- Only the session's own span counts (metrics.session_span: from the start to the belt stopped);
  idle records before the start or after the end neither lengthen it nor appear in its plots.
- An acknowledgement is listed only for an alarm raised in this session or active when it began.
- A measure without data reads "no data", never "within norm"; no speed risk class without a
  self-selected speed measure.
- Legs are named paretic / non-paretic when the prescription names the affected side.
- Settings are shown on one scale each, with the unit (docs/records.md, "Setting scales").
- Tables have at most report_render.MAX_TABLE_COLUMNS columns and fixed widths: they fit a page.
Simulated sessions are labelled as such wherever they appear.
"""

from __future__ import annotations

import datetime
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.analysis.report_section import findings_section
from engine.control.layout import AlarmReason
from engine.control.prescription import Prescription
from engine.records import metrics as gm
from engine.records.report_render import (
    Document,
    Plot,
    Section,
    Table,
    render_html,
    render_pdf,
    write_private,
)
from engine.records.repository import open_repository
from engine.records.store import Store
from engine.records.summary import prescription_at

log = logging.getLogger(__name__)

MAX_PLOT_POINTS = 3000
LEFT_COLOUR, RIGHT_COLOUR = "#1f77b4", "#d62728"
FORMATS = ("html", "pdf")

SESSION_SECTIONS = [
    ("summary", "Summary"),
    ("legs", "Per leg"),
    ("goals", "Goals"),
    ("speed", "Speed, guidance and body-weight support"),
    ("steps", "Step length and step time per leg"),
    ("symmetry", "Symmetry"),
    ("cadence", "Cadence"),
    ("variability", "Stride-time variability"),
    ("clearance", "Toe clearance"),
    ("obstacles", "Obstacle outcomes"),
    ("tasks", "Shopping, crossing and dual task"),
    ("heart-rate", "Heart rate"),
    ("alarms", "Alarms"),
    ("settings", "Setting changes (audit log)"),
    ("frames", "Headset frame timing"),
    ("recording", "Recording completeness"),
    ("findings", "Findings and suggestions"),  # engine/analysis/report_section.py
    ("references", "References"),
]
PATIENT_SECTIONS = [
    ("summary", "Summary"),
    ("sessions", "Sessions"),
    ("speed-trend", "Walking speed"),
    ("cadence-trend", "Cadence"),
    ("step-length-trend", "Step length"),
    ("symmetry-trend", "Symmetry"),
    ("clearance-trend", "Toe clearance"),
    ("distance-trend", "Distance"),
    ("steps-goal-trend", "Steps against the goal"),
    ("heart-rate-trend", "Heart rate"),
    ("guidance-trend", "Guidance and body-weight support needed"),
    ("obstacle-trend", "Obstacle success"),
    ("variability-trend", "Stride-time variability"),
    ("findings", "Findings and suggestions"),  # engine/analysis/report_section.py
    ("references", "References"),
]


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------
def _fmt(value, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "no data"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "no data"
        text = f"{value:.{digits}f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))


def _median_iqr(median: float, iqr: float, digits: int, unit: str, scale: float = 1.0) -> str:
    if not _finite(median):
        return "no data"
    text = f"{median * scale:.{digits}f}"
    if _finite(iqr):
        text += f" (IQR {iqr * scale:.{digits}f})"
    return f"{text} {unit}"


def _si_cell(value: float, limit: float) -> str | tuple[str, str]:
    if not _finite(value):
        return "no data"
    text = f"{value:.1f} % [patterson2008]"
    return (f"{text}: asymmetric (|SI| > {limit:.1f} %)", "flag") if abs(value) > limit else (f"{text}: within the healthy range", "ok")


# ---------------------------------------------------------------------------------------------
# Setting scales (docs/engine.md, docs/records.md): guidance and body-weight support are ABSOLUTE
# (fraction of full robot assistance; fraction of body weight), held to the prescription's range
# by the session controller and again by the core's supervisor. Speed is a fraction of the
# prescription's maximum. Reports show each with its unit and the prescribed range beside it.
# ---------------------------------------------------------------------------------------------
def guidance_absolute(setting: float, rx: Prescription | None) -> float:
    """Guidance as the core applies it: the absolute setting held to the prescribed range."""
    if rx is None:
        return float(setting)
    return min(max(float(setting), rx.guidance_min), rx.guidance_max)


def bws_absolute(setting: float, rx: Prescription | None) -> float:
    """Body-weight support as the core applies it (fraction of body weight), held to the range."""
    if rx is None:
        return float(setting)
    return min(max(float(setting), rx.bws_min), rx.bws_max)


def setting_text(name: str, value, rx: Prescription | None) -> str:
    """A therapist setting on its one scale with its unit, e.g. 'guidance 0.40 of full robot
    assistance (prescribed 0.20-1.00)'."""
    if value is None:
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if name in ("guidance", "guidance_min", "guidance_max"):
        text = f"{number:.2f} of full robot assistance"
        return text + (f" (prescribed {rx.guidance_min:.2f}-{rx.guidance_max:.2f})" if rx is not None else "")
    if name == "bws_fraction":
        text = f"{number * 100:.0f} % of body weight"
        return text + (f" (prescribed {rx.bws_min * 100:.0f}-{rx.bws_max * 100:.0f} %)" if rx is not None else "")
    if name == "speed_fraction" and rx is not None:
        return f"{number:.2f} of the prescribed maximum {rx.max_speed_mps:.2f} m/s = {number * rx.max_speed_mps:.2f} m/s"
    units = {"goal_distance_m": "m", "goal_time_s": "s", "goal_steps": "steps"}
    return f"{number:g} {units.get(name, '')}".strip()


# ---------------------------------------------------------------------------------------------
# What a session report is built from
# ---------------------------------------------------------------------------------------------
@dataclass
class SessionView:
    session: dict
    patient: dict
    rx: Prescription | None
    telemetry: np.ndarray  # the session's span only
    recorded: int  # records stored, span or not
    t0: float  # core time of the span's start (or of the first record)
    t_end: float
    steps: list[dict]
    strides: list[dict]
    events: list[dict]  # every event recorded for the session
    alarms: list[dict]  # alarm rows that belong to this session
    audit: list[dict]
    frames: list[dict]
    metrics: dict
    roles: dict[str, str]


def session_alarms(events: list[dict], first_record_alarm_bits: int) -> list[dict]:
    """Alarm events of a session: every raise, and an acknowledgement only for an alarm raised in
    the session or active at its first record (a leftover acknowledgement of the previous
    session's alarm is not this session's)."""
    raised: set[int] = set()
    out = []
    for e in events:
        if e["kind"] == "alarm_raised":
            raised.add(int(e["code"]))
            out.append(e)
        elif e["kind"] == "alarm_acked":
            code = int(e["code"])
            if code in raised or first_record_alarm_bits & (1 << code):
                out.append(e)
    return out


def display_of(session: dict, audit: list[dict]) -> str:
    """How the patient saw the scene: the session's recorded display, else what the records show."""
    display = (session.get("settings") or {}).get("display")
    if display:
        return str(display)
    if session["vr"]:
        return "VR headset"
    if session["simulated"] and not (session.get("settings") or {}).get("data_source"):
        return "none (generated by demo-history, no patient view)"
    if any(a["who"] == "headless-runner" for a in audit):
        return "none (headless run, no patient view)"
    return "desktop window"


# The telemetry columns this module and engine/records/metrics.py read from a session view.
REPORT_TELEMETRY_FIELDS = ("t_s", "s_m", "run_state", "alarms", "belt_speed_mps", "belt_speed_cmd_mps",
                           "guidance", "bws_fraction", "heart_rate_bpm")

def load_session_view(store: Store, session_id: int) -> SessionView:
    session = store.get_session(session_id)
    patient = store.get_patient(session["patient_code"]) or {}
    rx = prescription_at(store, session["patient_code"], session["started_at"])
    # only the columns the report and its metrics read (REPORT_TELEMETRY_FIELDS): the whole
    # records of a 30-minute session are 210 MB, held while the report is drawn (issue 17's soak)
    recorded = store.telemetry(session_id, REPORT_TELEMETRY_FIELDS)
    first, last = gm.session_span(recorded)
    telemetry = recorded[first:last]
    events = store.events(session_id)
    if len(telemetry):
        t0, t_end = float(telemetry["t_s"][0]), float(telemetry["t_s"][-1])
    elif len(recorded):
        t0 = t_end = float(recorded["t_s"][0])
    else:
        t0 = t_end = min((e["t_s"] for e in events), default=0.0)

    def inside(rows):
        return [r for r in rows if len(telemetry) and t0 <= r["t_s"] <= t_end]

    steps, strides = inside(store.steps(session_id)), inside(store.strides(session_id))
    span_events = [e for e in events if e["kind"] not in ("alarm_raised", "alarm_acked") and t0 <= e["t_s"] <= t_end]
    alarms = session_alarms(events, int(recorded["alarms"][0]) if len(recorded) else 0)
    affected = rx.affected_side if rx else -1
    m = gm.session_metrics(telemetry, steps, strides, span_events + alarms, affected_side=affected)
    return SessionView(session, patient, rx, telemetry, len(recorded), t0, t_end, steps, strides, events, alarms,
                       store.audit_log(session_id), store.frame_timing(session_id), m, gm.side_roles(affected))


def _leg_name(view_roles: dict[str, str], side: int) -> str:
    key = "l" if side == gm.LEFT else "r"
    name = "left" if side == gm.LEFT else "right"
    role = view_roles[key]
    return name if role == name else f"{role} ({name})"


def _data_source(session: dict) -> str:
    """Where a simulated session's data came from: the virtual rig or demo-history's model."""
    return str(session.get("settings", {}).get("data_source") or "generated by `demo-history` from a parametric gait model")


def _decimate(n: int) -> slice:
    return slice(None, None, max(1, n // MAX_PLOT_POINTS))


def scene_obstacles(scene_id: str) -> list | None:
    """The scene's obstacles in timeline order (an outcome's index points into it); None when the
    scene cannot be loaded any more (renamed, removed or broken since the session)."""
    try:
        from engine.scene.loader import find_scene

        return list(find_scene(scene_id).obstacles_in_timeline_order())
    except Exception:
        return None


def _num(value, digits: int = 1, unit: str = "s") -> str:
    return _fmt(value, digits, unit) if isinstance(value, (int, float)) else "?"


def task_result_rows(tasks: dict) -> list[list]:
    """Report rows for each shopping item, crossing and dual-task cue of a stored
    TaskState.results() (engine/scene/tasks.py): found or missed and when, crossed on green or
    not with the numbers, each cue shown."""
    rows: list[list] = []
    for i in tasks.get("shopping") or []:
        where = f" (at {_num(i['at_m'], 0, 'm')} {i.get('side') or ''}".rstrip() + ")" if i.get("at_m") is not None else ""
        status = i.get("status", "")
        if status == "collected":
            numbers = f"found at {_num(i.get('collected_at_s'))}"
            if i.get("entered_at_s") is not None and i.get("collected_at_s") is not None:
                numbers += f", {_num(i['collected_at_s'] - i['entered_at_s'])} after reaching it"
            result: object = "found"
        elif status == "missed":
            numbers = f"walked past at {_num(i.get('missed_at_s'))} after {_num(i.get('dwell_s'))} in reach"
            result = ("missed", "flag")
        else:
            numbers, result = "", "not reached"
        rows.append([f"item: {i.get('name')}{where}", result, numbers])
    for c in tasks.get("crossings") or []:
        span = (f" ({_num(c['start_m'], 0, '')}-{_num(c['end_m'], 0, 'm')})"
                if c.get("start_m") is not None and c.get("end_m") is not None else "")
        status = c.get("status", "")
        parts = []
        if c.get("waited_s"):
            parts.append(f"waited {_num(c['waited_s'])} for green")
        if c.get("stepped_on_at_s") is not None:
            light = "green" if c.get("on_green") else "red"
            left = f" with {_num(c.get('green_left_on_step_s'))} of green left" if c.get("on_green") else ""
            parts.append(f"stepped onto the road at {_num(c['stepped_on_at_s'])} on {light}{left}")
        if c.get("time_on_road_s") is not None:
            parts.append(f"{_num(c['time_on_road_s'])} on the road")
        if status == "crossed":
            result = "crossed on green"
        elif status == "failed":
            result = ("not on green", "flag")
            if c.get("failed_at_m") is not None:
                parts.append(f"red while at {_num(c['failed_at_m'], 1, 'm')}")
        else:
            result = status or "not reached"
        rows.append([f"crossing: {c.get('light')}{span}", result, "; ".join(parts)])
    cues = tasks.get("cues") if isinstance(tasks.get("cues"), dict) else {}
    for k, cue in enumerate(cues.get("list") or [], 1):
        word = str(cue.get("word", "")).upper()
        ink = cue.get("ink", "")
        shown = f"'{word}' in {ink} ink" if cue.get("stroop") else f"{ink}"
        rows.append([f"cue {k} (at {_num(cue.get('at_m'), 0, 'm')})", f"shown at {_num(cue.get('shown_at_s'))}",
                     f"{shown}: the right answer is {ink} (spoken answers are not recorded)"])
    return rows


MIN_DIFFICULTY_HEIGHT_M = 0.01


def obstacle_results(outcomes: list[dict], obstacles: list | None) -> tuple[list[dict], dict]:
    """Per obstacle kind: count, cleared, hit, success %, median margin, height; and the
    height-weighted success of the whole session (docs/records.md, "Obstacle difficulty")."""
    per_kind: dict[str, dict] = {}
    weight_all = weight_cleared = 0.0
    for e in outcomes:
        index = e.get("obstacle")
        o = obstacles[index] if obstacles is not None and index is not None and 0 <= index < len(obstacles) else None
        kind = o.kind if o is not None else "unknown (scene changed)"
        height = float(getattr(o, "height_m", 0.0) or 0.0) if o is not None else math.nan
        row = per_kind.setdefault(kind, {"kind": kind, "n": 0, "cleared": 0, "hit": 0, "margins": [], "height_m": height})
        row["n"] += 1
        ok = e["outcome"] in ("cleared", "passed")
        row["cleared"] += ok
        row["hit"] += e["outcome"] == "hit"
        if e.get("margin_m") is not None:
            row["margins"].append(e["margin_m"])
        weight = max(height, MIN_DIFFICULTY_HEIGHT_M) if math.isfinite(height) else MIN_DIFFICULTY_HEIGHT_M
        weight_all += weight
        weight_cleared += weight * ok
    rows = []
    for row in sorted(per_kind.values(), key=lambda r: r["kind"]):
        row["success_pct"] = 100.0 * row["cleared"] / row["n"]
        row["margin_median_m"] = float(np.median(row["margins"])) if row["margins"] else math.nan
        rows.append(row)
    heights = [max(r["height_m"], 0.0) for r in rows if math.isfinite(r["height_m"]) for _ in range(r["n"])]
    overall = {"weighted_success_pct": 100.0 * weight_cleared / weight_all if weight_all else math.nan,
               "mean_height_m": float(np.mean(heights)) if heights else math.nan}
    return rows, overall


# ---------------------------------------------------------------------------------------------
# Heart-rate zones (docs/records.md): Karvonen heart-rate reserve with the prescription's limit
# as the ceiling and the session's resting estimate as the floor.
# ---------------------------------------------------------------------------------------------
HR_ZONES = [(0.0, 0.40, "low (< 40 % HRR)"), (0.40, 0.60, "moderate (40-59 % HRR)"),
            (0.60, 1.0, "vigorous (60-100 % HRR)")]


def heart_rate_zones(hr_bpm: np.ndarray, dt_s: np.ndarray, limit_bpm: float) -> dict | None:
    """Time in each heart-rate-reserve zone and above the prescribed limit; None without a limit
    or readings. Resting heart rate: the 5th percentile of the session's readings (an estimate)."""
    valid = np.isfinite(hr_bpm) & (hr_bpm > 0)
    if not limit_bpm or not valid.any():
        return None
    hr, dt = hr_bpm[valid], dt_s[valid]
    rest = float(np.percentile(hr, 5))
    reserve = max(1.0, limit_bpm - rest)
    fraction = (hr - rest) / reserve
    zones = []
    for low, high, name in HR_ZONES:
        inside = ((fraction >= low) | (low == 0.0)) & ((fraction < high) if high < 1.0 else (hr <= limit_bpm))
        zones.append((f"{name}: {rest + low * reserve:.0f}-{rest + high * reserve:.0f} bpm", float(dt[inside].sum())))
    zones.append((f"above the prescribed limit {limit_bpm:.0f} bpm", float(dt[hr > limit_bpm].sum())))
    return {"rest_bpm": rest, "limit_bpm": limit_bpm, "zones": zones}


# ---------------------------------------------------------------------------------------------
# Session report
# ---------------------------------------------------------------------------------------------
ALARM_STOP_WINDOW_S = 1.0  # an alarm this close before the stop caused it (the core stops within 100 ms)


def _why_it_ended(view: SessionView) -> str:
    session = view.session
    stops = [a for a in view.audit if a["setting"] == "run" and a["new"] in ("stop", "end")]
    raised = [e for e in view.alarms if e["kind"] == "alarm_raised"]
    stopping = [e for e in view.events if e["kind"] == "run_state" and e.get("run_state") in ("stopping", "stopped")]
    if stopping and raised:
        at = stopping[0]["t_s"]
        before = [e for e in raised if at - ALARM_STOP_WINDOW_S <= e["t_s"] <= at + 0.01]
        if before:
            return f"controlled stop after the alarm '{before[-1].get('text') or before[-1].get('reason')}'"
    if stops:
        who = stops[-1]["who"]
        return {"schedule": "the planned duration ended"}.get(who, f"stopped by {who}")
    if session["outcome"] == "interrupted":
        return "interrupted (the application or the recorder ended without closing the session)"
    return session["outcome"] or "still open"


def _core_freezes_text(events: list[dict]) -> tuple[str, str]:
    """The control core's own stalls (HOST_FREEZE events), for the clinic's IT: how many, the
    longest, and whether the PC's host (a virtual machine's hypervisor) took its CPU."""
    freezes = [e for e in events if e["kind"] == "host_freeze" and e.get("v1") is not None]
    if not freezes:
        return "none", "ok"
    worst = max(freezes, key=lambda e: e["v1"])
    steal = worst.get("v2")
    taken = steal is not None and steal >= 0.5 * worst["v1"]
    return (f"{len(freezes)} time(s), the longest {worst['v1'] * 1e3:.0f} ms"
            + (f" (the hypervisor took {steal * 1e3:.0f} ms of its CPU: this PC is a virtual machine whose host "
               "takes its CPUs; the devices' 90-100 ms watchdogs stop the belt when it does)" if taken else ""),
            "flag")


def build_session_document(store: Store, session_id: int) -> Document:
    """The session report as a Document (sections of text, tables and plots)."""
    v = load_session_view(store, session_id)
    m, session = v.metrics, v.session
    t0 = v.t0
    walked = len(v.telemetry) > 0
    sections = {key: Section(key, title) for key, title in SESSION_SECTIONS}

    # Summary
    rows: list[list] = [
        ["Patient", session["patient_code"] + (f" ({v.patient.get('name')})" if v.patient.get("name") else "")],
        ["Scene", session["scene_id"]],
        ["Started / ended (wall clock)", f"{session['started_at']} / {session['ended_at'] or 'still open'}"],
        ["Outcome", f"{session['outcome'] or 'open'}: {_why_it_ended(v)}"],
        ["Display", display_of(session, v.audit)],
        ["Data", f"SIMULATED ({_data_source(session)}, not a real patient)" if session["simulated"] else "recorded"],
        ["Session time, start to belt stopped", _fmt(m["duration_s"], 1, "s") if walked else "0 s: the belt never started"],
        ["Walking time", _fmt(m["walking_time_s"], 1, "s")],
        ["Distance", _fmt(m["distance_m"], 1, "m")],
    ]
    if m["steps"]:
        rows += [
            ["Steps", f"{m['steps']} ({_leg_name(v.roles, 0)} {m['steps_l']}, {_leg_name(v.roles, 1)} {m['steps_r']})"],
            ["Cadence", _fmt(m["cadence_spm"], 0, "steps/min")],
        ]
    else:
        rows.append(["Steps", "No steps were recorded: no gait measures for this session."])
    rows.append(["Walking speed (belt, mean while walking)",
                 _fmt(m["belt_speed_mps"], 2, "m/s") + ": the therapist's set-point, not classified"])
    if _finite(m["self_selected_speed_mps"]):
        flag = m["fall_risk"]
        rows.append(["Self-selected speed", (f"{m['self_selected_speed_mps']:.2f} m/s: {m['speed_class']} ambulation "
                                             f"[perry1995]; " + (flag or "above the risk thresholds") + " [fritz2009]",
                                             "flag" if flag else "ok")])
    else:
        rows.append(["Self-selected speed", "not measured in this session: no gait-speed risk class is given "
                     "(classes [perry1995] and risk markers [fritz2009] need a self-selected speed)"])
    if m["steps"]:
        rows += [
            ["Symmetry index, step length", _si_cell(m["si_step_length_pct"], gm.STEP_LENGTH_SI_LIMIT_PCT)],
            ["Symmetry index, step time", _si_cell(m["si_step_time_pct"], gm.STEP_TIME_SI_LIMIT_PCT)],
            ["Stride-time CV (steady strides) [hausdorff2005]",
             f"{_fmt(m['stride_cv_pct'], 1, '%')} over {m['steady_strides']} of {m['strides']} strides"],
        ]
    rows += [
        ["Guidance applied (mean while walking)", _fmt(m["guidance_mean"], 2, "of full stiffness")],
        ["Body-weight support applied (mean)",
         _fmt(m["bws_mean"] * 100 if _finite(m["bws_mean"]) else math.nan, 0, "% of body weight")],
        ["Obstacles", m["obstacle_counts"].text().removeprefix("Obstacles ").removeprefix("Obstacles: ")],
        ["Heart rate mean / max", f"{_fmt(m['heart_rate_mean_bpm'], 0)} / {_fmt(m['heart_rate_max_bpm'], 0, 'bpm')}"],
        ["Alarms raised", str(sum(e["kind"] == "alarm_raised" for e in v.alarms))],
    ]
    sections["summary"].add(Table(["", ""], rows),
                            "Walking speed on a treadmill is the belt speed, which the therapist sets; the overground "
                            "norms cited are a guide, not a diagnosis.")

    # Per leg
    if m["steps"]:
        leg_rows = []
        for label, key, digits, unit, scale in (
            ("Step length", "step_length_{}_m", 2, "m", 1.0), ("Step time", "step_time_{}_s", 2, "s", 1.0),
            ("Toe clearance [winter1992]", "toe_clearance_{}_m", 1, "cm", 100.0),
            ("Stride time", "stride_time_{}_s", 2, "s", 1.0), ("Stride length", "stride_length_{}_m", 2, "m", 1.0),
        ):
            iqr_key = key.replace("_{}_", "_{}_iqr_")
            leg_rows.append([label] + [_median_iqr(m[key.format(s)], m[iqr_key.format(s)], digits, unit, scale)
                                       for s in ("l", "r")])
        leg_rows.append(["Stance share"] + [_median_iqr(m[f"stance_{s}"], m[f"stance_{s}_iqr"], 2, "of the stride")
                                            for s in ("l", "r")])
        leg_rows.append(["Stride-time CV, steady strides"] + [
            f"{_fmt(m[f'stride_cv_{s}_pct'], 1, '%')} (n = {m[f'steady_strides_{s}']})" for s in ("l", "r")])
        sections["legs"].add(Table(["median (interquartile range)", _leg_name(v.roles, 0), _leg_name(v.roles, 1)],
                                   leg_rows))
        if v.rx is None or v.rx.affected_side not in (0, 1):
            sections["legs"].add("The prescription names no affected side: legs are named left and right.")
    else:
        sections["legs"].add("No steps were recorded.")

    # Goals
    goal_rows = [[g["goal"], _fmt(g["target"], 1), _fmt(g["achieved"], 1),
                  "-" if g["met"] is None else (("met", "ok") if g["met"] else ("not met", "flag"))]
                 for g in gm.goals_met(session["goals"], m, v.events)]
    sections["goals"].add(Table(["goal", "target", "achieved", ""], goal_rows) if goal_rows else "No goals were set.")

    tel = v.telemetry
    dec = _decimate(len(tel))
    t_rel = (tel["t_s"][dec] - t0) if walked else np.zeros(0)

    # Speed, guidance and body-weight support
    if walked:
        def speed(ax):
            ax.plot(t_rel, tel["belt_speed_cmd_mps"][dec], label="commanded belt speed (m/s)", lw=1)
            ax.plot(t_rel, tel["belt_speed_mps"][dec], label="measured belt speed (m/s)", lw=1)
            ax.plot(t_rel, tel["guidance"][dec], label="guidance (fraction of full stiffness)", lw=1)
            ax.plot(t_rel, tel["bws_fraction"][dec], label="body-weight support (fraction of body weight)", lw=1)
            ax.set_xlabel("session time (s)")
            ax.set_ylabel("m/s, or fraction")
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=7, loc="lower right")
        sections["speed"].add(Plot(speed, 3.2))
    else:
        sections["speed"].add("The belt never started: nothing to plot.")

    def per_leg_points(rows_all, key, scale, ylabel):
        def draw(ax):
            for side, colour in ((gm.LEFT, LEFT_COLOUR), (gm.RIGHT, RIGHT_COLOUR)):
                rows_side = [r for r in rows_all if r["side"] == side and r[key] is not None]
                ax.plot([r["t_s"] - t0 for r in rows_side], [r[key] * scale for r in rows_side], ".", color=colour,
                        label=_leg_name(v.roles, side), ms=3)
            ax.set_ylabel(ylabel)
            ax.set_xlabel("session time (s)")
            ax.legend(fontsize=7)
        return draw

    if v.steps:
        sections["steps"].add(Plot(per_leg_points(v.steps, "step_length_m", 1.0, "step length (m)")),
                              Plot(per_leg_points(v.steps, "step_time_s", 1.0, "step time (s)")))
    else:
        sections["steps"].add("No steps were recorded.")

    windows = _windowed(v.steps, t0, v.t_end - t0)
    if len(windows["t"]):
        def symmetry(ax):
            ax.axhspan(-gm.STEP_LENGTH_SI_LIMIT_PCT, gm.STEP_LENGTH_SI_LIMIT_PCT, color="#2ca02c", alpha=0.12,
                       label="healthy range, step length (Patterson 2008)")
            ax.plot(windows["t"], windows["si_len"], "o-", label="SI step length")
            ax.plot(windows["t"], windows["si_time"], "s-", label="SI step time")
            ax.axhline(0, color="k", lw=0.5)
            ax.set_ylabel("symmetry index (%)")
            ax.set_xlabel("session time (s), 30 s windows")
            ax.legend(fontsize=7)
        sections["symmetry"].add(Plot(symmetry, 3.0), "SI = (L - R) / (0.5 (L + R)) x 100 from the legs' medians; "
                                 "0 is symmetric, positive: the left leg's value is larger [patterson2008] [patterson2010].")

        def cadence(ax):
            ax.plot(windows["t"], windows["cadence"], "o-")
            ax.set_ylabel("cadence (steps/min)")
            ax.set_xlabel("session time (s), 30 s windows")
        sections["cadence"].add(Plot(cadence, 2.6), f"Cadence over the walking time: {_fmt(m['cadence_spm'], 0, 'steps/min')}.")
    else:
        sections["symmetry"].add("Not enough steps for symmetry.")
        sections["cadence"].add("Not enough steps for cadence.")

    if v.strides:
        steady = gm.steady_strides(v.strides, tel, v.events)

        def variability(ax):
            for side, colour in ((gm.LEFT, LEFT_COLOUR), (gm.RIGHT, RIGHT_COLOUR)):
                pairs = [(s, ok) for s, ok in zip(v.strides, steady, strict=True) if s["side"] == side]
                ax.plot([s["t_s"] - t0 for s, _ in pairs], [s["stride_time_s"] for s, _ in pairs], "-", color=colour,
                        lw=0.5, alpha=0.5)
                ax.plot([s["t_s"] - t0 for s, ok in pairs if ok], [s["stride_time_s"] for s, ok in pairs if ok], ".",
                        color=colour, ms=4, label=f"{_leg_name(v.roles, side)}, steady")
            ax.set_ylabel("stride time (s)")
            ax.set_xlabel("session time (s)")
            ax.legend(fontsize=7)
        low, high = gm.STRIDE_CV_HEALTHY_PCT
        if gm.steady_flagged_by_core(v.strides):
            # the rule the control core applied when it flagged each stride (engine/control/steady_state.py)
            from engine.control import steady_state as ss

            rule = (f"Steady, as the control core flagged each stride: belt speed within {ss.SPEED_TOL_MPS:g} m/s "
                    f"+ {ss.SPEED_TOL_SHARE * 100:g} % over the stride, no obstacle, clearance boost, raised guidance "
                    f"or pause acting on it, after {ss.WARMUP_STRIDES} strides and {ss.WARMUP_S:g} s of walking "
                    "(docs/control.md).")
        else:
            rule = ("Steady (this session's strides carry no flags from the control core, so the recorded belt "
                    "command decides): belt speed constant at the session's usual speed, no obstacle in the stride "
                    "or the next, after a 10 s warm-up (docs/records.md).")
        sections["variability"].add(Plot(variability, 2.8), (
            f"Coefficient of variation of stride time over steady strides: {_fmt(m['stride_cv_pct'], 1, '%')} "
            f"(healthy adults about {low:.0f}-{high:.0f} % [hausdorff2005]), {m['steady_strides']} of "
            f"{m['strides']} strides. {rule}"))
    else:
        sections["variability"].add("No strides were recorded.")

    if v.steps:
        def clearance(ax):
            low, high = gm.TOE_CLEARANCE_HEALTHY_M
            ax.axhspan(low * 100, high * 100, color="#2ca02c", alpha=0.12, label="healthy minimum toe clearance (Winter 1992)")
            per_leg_points(v.steps, "toe_clearance_m", 100.0, "toe clearance (cm)")(ax)
        sections["clearance"].add(Plot(clearance, 2.8), "Minimum toe clearance per swing [winter1992].")
    else:
        sections["clearance"].add("No steps were recorded.")

    # Obstacles per kind, normalised for difficulty
    outcomes = [e for e in v.events if e["kind"] == "obstacle_outcome" and t0 <= e["t_s"] <= v.t_end]
    if outcomes:
        kinds, overall = obstacle_results(outcomes, scene_obstacles(session["scene_id"]))
        sections["obstacles"].add(Table(
            ["kind", "height", "obstacles", "cleared", "hit", "success", "median margin"],
            [[r["kind"], _fmt(r["height_m"] * 100, 0, "cm"), str(r["n"]), str(r["cleared"]),
              (str(r["hit"]), "flag") if r["hit"] else "0", _fmt(r["success_pct"], 0, "%"),
              _fmt(r["margin_median_m"] * 100, 1, "cm")] for r in kinds]),
            f"Success weighted by obstacle height (taller obstacles count more; flat ones as 1 cm): "
            f"{_fmt(overall['weighted_success_pct'], 0, '%')}; the scene's mean obstacle height "
            f"{_fmt(overall['mean_height_m'] * 100, 1, 'cm')} (docs/records.md, 'Obstacle difficulty'; "
            "clearance grows with obstacle height [chen1991]).")

        def margins(ax):
            ts = [e["t_s"] - t0 for e in outcomes]
            ys = [(e.get("margin_m") or 0.0) * 100 for e in outcomes]
            ax.scatter(ts, ys, c=["#d62728" if e["outcome"] == "hit" else "#2ca02c" for e in outcomes], s=12)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xlabel("session time (s)")
            ax.set_ylabel("clearance margin (cm)")
        sections["obstacles"].add(Plot(margins, 2.4))
    else:
        sections["obstacles"].add("No obstacles in this session.")

    # Tasks
    tasks = (session.get("summary") or {}).get("tasks") or {}
    task_rows = []
    if tasks.get("items_total"):
        task_rows.append(["shopping list", f"{tasks.get('items_collected', 0)} of {tasks['items_total']} collected",
                          f"{tasks.get('items_missed', 0)} missed"])
    if tasks.get("crossings_total"):
        task_rows.append(["street crossings", f"{tasks.get('crossings_done', 0)} of {tasks['crossings_total']} crossed",
                          (f"{tasks.get('crossings_failed', 0)} failed", "flag") if tasks.get("crossings_failed") else "0 failed"])
    if tasks.get("cues_total"):
        task_rows.append(["dual task (colour cues)", f"{tasks.get('cues_shown', 0)} of {tasks['cues_total']} shown",
                          "answers are not recorded"])
    sections["tasks"].add(Table(["task", "result", ""], task_rows) if task_rows
                          else "The scene had no shopping, crossing or dual task, or none was recorded.")
    # Per item, per crossing and per cue when the summary holds TaskState.results().
    detail_rows = task_result_rows(tasks)
    if detail_rows:
        sections["tasks"].add(Table(["task", "result", "numbers"], detail_rows),
                              "Times are scene time (s) from the start of the walk; a paused scene clock stands still.")

    # Heart rate
    hr_all = tel["heart_rate_bpm"].astype(float) if walked else np.zeros(0)
    if walked and (np.isfinite(hr_all) & (hr_all > 0)).any():
        limit = v.rx.max_heart_rate_bpm if v.rx else 0.0

        def heart(ax):
            hr = tel["heart_rate_bpm"][dec].astype(float)
            hr[~(hr > 0)] = np.nan
            ax.plot(t_rel, hr, color="#9467bd", label="heart rate")
            if limit:
                ax.axhline(limit, color="#d62728", ls="--", lw=1, label=f"prescribed limit {limit:.0f} bpm")
            ax.set_ylabel("heart rate (bpm)")
            ax.set_xlabel("session time (s)")
            ax.legend(fontsize=7)
        sections["heart-rate"].add(Plot(heart, 2.6))
        zones = heart_rate_zones(hr_all, np.diff(tel["t_s"], prepend=tel["t_s"][0]), limit)
        if zones:
            sections["heart-rate"].add(
                Table(["zone", "time"], [[name, _fmt(seconds, 1, "s")] for name, seconds in zones["zones"]]),
                f"Zones of heart-rate reserve (Karvonen [karvonen1957]) between a resting estimate of "
                f"{zones['rest_bpm']:.0f} bpm (5th percentile of this session) and the prescribed limit "
                f"{zones['limit_bpm']:.0f} bpm; moderate 40-59 % HRR is an aerobic target used after stroke [bmcneurol2021].")
        else:
            sections["heart-rate"].add("The prescription sets no heart-rate limit: no zones.")
    else:
        sections["heart-rate"].add("No heart-rate data.")

    # Alarms
    alarm_rows = [[_fmt(e["t_s"] - t0, 1, "s"), e["kind"].replace("_", " "), e.get("priority", ""),
                   e.get("text") or e.get("reason", str(e["code"]))] for e in v.alarms]
    if v.alarms and (int(v.telemetry["alarms"][0]) if walked else 0):
        active = [AlarmReason(b).name.lower() for b in range(32) if int(v.telemetry["alarms"][0]) & (1 << b)
                  and b in AlarmReason._value2member_map_]
        alarm_rows.append(["start", "active when the session began", "", ", ".join(active)])
    sections["alarms"].add(Table(["time", "event", "priority", "alarm"], alarm_rows) if alarm_rows else "No alarms.")

    # Audit log, on one scale per setting
    audit_rows = [[a["at"][11:19], a["who"], a["setting"], setting_text(a["setting"], a["old"], v.rx),
                   setting_text(a["setting"], a["new"], v.rx),
                   "" if a["applied"] is None else setting_text(a["setting"], a["applied"], v.rx)] for a in v.audit]
    sections["settings"].add(Table(["time (UTC)", "who", "setting", "from", "to", "applied"], audit_rows)
                             if audit_rows else "No setting changes.",
                             "Guidance and body-weight support are set as a fraction of the range the prescription "
                             "allows and shown with the absolute value they give (docs/records.md, 'Setting scales').")

    # Frame timing
    if v.frames:
        keys = sorted({k for f in v.frames for k in f if k != "at"})[:7]
        sections["frames"].add(Table(["at", *keys], [[f["at"][11:19], *[_fmt(f.get(k), 2) for k in keys]]
                                                     for f in v.frames]))
    else:
        sections["frames"].add("No headset frame timing was recorded (desktop or headless session).")

    # Recording completeness
    gaps = [(a, b) for a, b in store.cycle_gaps(session_id)
            if walked and int(v.telemetry["cycle"][0]) <= a <= int(v.telemetry["cycle"][-1])]
    rec = session.get("recorder") or {}
    rows = [
        ["Telemetry records", f"{len(v.telemetry)} in the session's span, {v.recorded} stored"],
        ["Gaps in the cycle sequence", (f"{len(gaps)} gap(s): {gaps[:5]}", "flag") if gaps else ("none", "ok")],
        ["Records dropped by the core (telemetry ring overflow)",
         (str(session["telemetry_overflow"]), "flag") if session["telemetry_overflow"] else ("0", "ok")],
        ["Events dropped (event ring overflow)",
         (str(session["events_overflow"]), "flag") if session["events_overflow"] else ("0", "ok")],
        ["Recorder", ", ".join(f"{k} {round(v_, 3) if isinstance(v_, float) else v_}" for k, v_ in rec.items()
                               if k in ("commits", "cpu_s", "max_lag_s")) or "-"],
        ["Control core not running (30 ms or more)", _core_freezes_text(v.events)],
    ]
    sections["recording"].add(Table(["", ""], rows))
    sections["findings"] = findings_section(store, Section, Table, Plot, session_id=session_id)
    sections["references"].add()

    title = f"StepSync session {session_id}: {session['patient_code']}, {session['scene_id']}"
    banner = (f"SIMULATED SESSION: {_data_source(session)}; these are not measurements of a real patient."
              if session["simulated"] else "")
    return Document(title, [sections[k] for k, _ in SESSION_SECTIONS], banner,
                    {k: r.citation for k, r in gm.REFERENCES.items()})


def _windowed(steps: list[dict], t0: float, span_s: float, window_s: float = 30.0) -> dict:
    """Per-window medians of step length and time per leg, and cadence, for trend lines."""
    if not steps:
        return {"t": np.zeros(0)}
    t = np.array([s["t_s"] for s in steps]) - t0
    out = {"t": [], "si_len": [], "si_time": [], "cadence": []}
    for start in np.arange(0.0, max(span_s, float(t.max())) + 1e-9, window_s):
        inside = [s for s, ts in zip(steps, t, strict=True) if start <= ts < start + window_s]
        if len(inside) < 4:
            continue
        med = {}
        for side in (gm.LEFT, gm.RIGHT):
            rows = [s for s in inside if s["side"] == side]
            med[("len", side)] = gm._median(r["step_length_m"] for r in rows)
            med[("time", side)] = gm._median(r["step_time_s"] for r in rows)
        length = min(window_s, span_s - start)
        out["t"].append(start + length / 2)
        out["si_len"].append(gm.symmetry_index_pct(med[("len", 0)], med[("len", 1)]))
        out["si_time"].append(gm.symmetry_index_pct(med[("time", 0)], med[("time", 1)]))
        out["cadence"].append(len(inside) / length * 60.0 if length > 0 else math.nan)
    return {k: np.array(v) for k, v in out.items()}


def build_session_html(store: Store, session_id: int) -> str:
    """The session report as an HTML string."""
    return render_html(build_session_document(store, session_id))


# ---------------------------------------------------------------------------------------------
# Patient progress report
# ---------------------------------------------------------------------------------------------
def patient_progress(store: Store, code: str) -> list[dict]:
    """Per-session metrics of a patient, oldest first (sessions with telemetry only); each row has
    the session, its metrics (over its span), and its goals and heart-rate limit."""
    rows = []
    for session in store.list_sessions(code):
        view = load_session_view(store, session["id"])
        if not view.recorded:
            continue
        m = view.metrics
        outcomes = [e for e in view.events if e["kind"] == "obstacle_outcome" and view.t0 <= e["t_s"] <= view.t_end]
        _, overall = obstacle_results(outcomes, scene_obstacles(session["scene_id"])) if outcomes else (None, {})
        rows.append({"session": session, "rx": view.rx, "roles": view.roles, **m,
                     "weighted_obstacle_success_pct": overall.get("weighted_success_pct", math.nan),
                     "goal_steps": float((session["goals"] or {}).get("steps") or (session["goals"] or {}).get("goal_steps")
                                         or math.nan)})
    return rows


# Minimal clinically important differences of gait speed (m/s), with their sources.
SPEED_MCID = [
    (0.05, "small meaningful change", "perera2006"),
    (0.10, "substantial meaningful change", "perera2006"),
    (0.16, "MCID after subacute stroke", "tilson2010"),
]


def speed_change_text(first: float, last: float, stroke: bool) -> str:
    """A change of walking speed with the MCIDs beside it."""
    if not (_finite(first) and _finite(last)):
        return "no data"
    change = last - first
    thresholds = [(v, name, key) for v, name, key in SPEED_MCID if stroke or key != "tilson2010"]
    reached = [f"{name} {v:.2f} m/s [{key}]" for v, name, key in thresholds if abs(change) >= v]
    missed = [f"{name} {v:.2f} m/s [{key}]" for v, name, key in thresholds if abs(change) < v]
    text = f"{first:.2f} -> {last:.2f} m/s ({change:+.2f} m/s)"
    if reached:
        text += "; at least the " + ", ".join(reached)
    if missed:
        text += "; below the " + ", ".join(missed)
    return text


def _dates(progress: list[dict]) -> list[datetime.datetime]:
    return [datetime.datetime.fromisoformat(p["session"]["started_at"]) for p in progress]


def build_patient_document(store: Store, code: str) -> Document:
    """The patient progress report as a Document."""
    patient = store.get_patient(code)
    if patient is None:
        raise KeyError(f"unknown patient {code!r}")
    progress = patient_progress(store, code)
    rx = store.current_prescription(code)
    roles = gm.side_roles(rx.affected_side if rx else -1)
    stroke = rx is not None and rx.affected_side in (0, 1)
    simulated = any(p["session"]["simulated"] for p in progress)
    sections = {key: Section(key, title) for key, title in PATIENT_SECTIONS}

    summary = [
        ["Patient", code + (f" ({patient['name']})" if patient.get("name") else "")],
        ["Sessions with data", str(len(progress))],
        ["Simulated profile", patient.get("sim_profile") or "-"],
    ]
    if rx:
        summary += [
            ["Prescription: speed", f"up to {rx.max_speed_mps:.2f} m/s"],
            ["Prescription: guidance", f"{rx.guidance_min:.2f}-{rx.guidance_max:.2f} of full stiffness"],
            ["Prescription: body-weight support", f"{rx.bws_min * 100:.0f}-{rx.bws_max * 100:.0f} % of body weight"],
            ["Prescription: affected side", {0: "left", 1: "right"}.get(rx.affected_side, "none")],
            ["Prescription: heart-rate limit", f"{rx.max_heart_rate_bpm:.0f} bpm" if rx.max_heart_rate_bpm else "not set"],
        ]
    if progress:
        first, last = progress[0], progress[-1]
        summary.append(["Walking speed on the belt, first -> latest",
                        speed_change_text(first["belt_speed_mps"], last["belt_speed_mps"], stroke)
                        + ". These MCIDs were established for self-selected speed; the belt speed is the therapist's setting."])
        ss = [p for p in progress if _finite(p["self_selected_speed_mps"])]
        if len(ss) >= 2:
            summary.append(["Self-selected speed, first -> latest",
                            speed_change_text(ss[0]["self_selected_speed_mps"], ss[-1]["self_selected_speed_mps"], stroke)])
        if ss:
            summary.append(["Latest ambulation class", f"{ss[-1]['speed_class']} [perry1995]; "
                            f"{ss[-1]['fall_risk'] or 'above the risk thresholds'} [fritz2009]"])
        else:
            summary.append(["Ambulation class", "not given: no session measured a self-selected speed "
                            "(classes [perry1995] and risk markers [fritz2009] need one)"])
        for key, label, digits, unit in (("si_step_length_pct", "Symmetry index, step length", 1, "%"),
                                         ("cadence_spm", "Cadence", 0, "steps/min"),
                                         ("guidance_mean", "Guidance applied", 2, "of full stiffness"),
                                         ("obstacle_success_pct", "Obstacle success", 0, "%")):
            summary.append([f"{label}, first -> latest", f"{_fmt(first[key], digits)} -> {_fmt(last[key], digits, unit)}"])
    sections["summary"].add(Table(["", ""], summary))

    def leg(value_l, value_r, digits, scale=1.0):
        parts = []
        for name, value in (("l", value_l), ("r", value_r)):
            parts.append(f"{roles[name][:1].upper() if roles[name] in ('left', 'right') else roles[name]} "
                         f"{_fmt(value * scale if _finite(value) else math.nan, digits)}")
        return " / ".join(parts)

    if progress:
        sections["sessions"].add(Table(
            ["#", "date", "scene", "outcome", "data", "time", "distance", "steps / goal"],
            [[str(i), p["session"]["started_at"][:10], p["session"]["scene_id"], p["session"]["outcome"] or "open",
              "simulated" if p["session"]["simulated"] else "recorded", _fmt(p["duration_s"] / 60, 1, "min"),
              _fmt(p["distance_m"], 0, "m"), f"{p['steps']} / {_fmt(p['goal_steps'], 0)}"]
             for i, p in enumerate(progress, 1)]))
        sections["sessions"].add(Table(
            ["#", "belt speed", "cadence", "step length (m)", "SI length", "stride CV", "clearance (cm)", "obstacles"],
            [[str(i), _fmt(p["belt_speed_mps"], 2, "m/s"), _fmt(p["cadence_spm"], 0, "/min"),
              leg(p["step_length_l_m"], p["step_length_r_m"], 2), _fmt(p["si_step_length_pct"], 1, "%"),
              _fmt(p["stride_cv_pct"], 1, "%"), leg(p["toe_clearance_l_m"], p["toe_clearance_r_m"], 1, 100.0),
              _fmt(p["obstacle_success_pct"], 0, "%")] for i, p in enumerate(progress, 1)]))
        sections["sessions"].add("Per-leg values are medians; legs: " + ", ".join(
            f"{'left' if k == 'l' else 'right'} = {r}" for k, r in roles.items()) + ".")
    else:
        sections["sessions"].add("No recorded sessions yet.")

    dates = _dates(progress)
    col = {key: np.array([p[key] for p in progress], dtype=float) for key in (
        "belt_speed_mps", "self_selected_speed_mps", "cadence_spm", "step_length_l_m", "step_length_r_m",
        "si_step_length_pct", "si_step_time_pct", "toe_clearance_l_m", "toe_clearance_r_m", "distance_m",
        "goal_steps", "heart_rate_mean_bpm", "heart_rate_max_bpm", "guidance_mean", "bws_mean",
        "obstacle_success_pct", "weighted_obstacle_success_pct", "stride_cv_pct")} if progress else {}
    col["steps"] = np.array([p["steps"] for p in progress], dtype=float)

    def trend(draw, ylabel: str) -> Plot:
        def plot(ax):
            draw(ax)
            ax.set_xlabel("session date")
            ax.set_ylabel(ylabel)
            import matplotlib.dates as mdates

            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
            for label in ax.get_xticklabels():
                label.set_rotation(20)
                label.set_fontsize(7)
            handles, _ = ax.get_legend_handles_labels()
            if handles:
                ax.legend(fontsize=7, loc="best")
        return Plot(plot, 2.8)

    def per_leg(ax, key, scale=1.0):
        for side, name in ((LEFT_COLOUR, "l"), (RIGHT_COLOUR, "r")):
            ax.plot(dates, col[key.format(name)] * scale, "o-", color=side, label=roles[name])

    if progress:
        def speed(ax):
            ax.plot(dates, col["belt_speed_mps"], "o-", color="k", label="belt speed while walking (set-point)")
            if np.isfinite(col["self_selected_speed_mps"]).any():
                ax.plot(dates, col["self_selected_speed_mps"], "s--", label="self-selected speed")
            ax.set_ylim(bottom=0)
        sections["speed-trend"].add(trend(speed, "speed (m/s)"), "Meaningful changes of gait speed: 0.05 m/s small, "
                                    "0.10 m/s substantial [perera2006]; 0.16 m/s after stroke [tilson2010].")
        sections["cadence-trend"].add(trend(lambda ax: ax.plot(dates, col["cadence_spm"], "o-", label="cadence"),
                                            "cadence (steps/min)"))
        sections["step-length-trend"].add(trend(lambda ax: per_leg(ax, "step_length_{}_m"), "median step length (m)"))

        def symmetry(ax):
            ax.axhspan(-gm.STEP_LENGTH_SI_LIMIT_PCT, gm.STEP_LENGTH_SI_LIMIT_PCT, color="#2ca02c", alpha=0.12,
                       label="healthy step-length symmetry (Patterson 2008)")
            ax.plot(dates, col["si_step_length_pct"], "o-", label="SI step length")
            ax.plot(dates, col["si_step_time_pct"], "s-", label="SI step time")
            ax.axhline(0, color="k", lw=0.5)
        sections["symmetry-trend"].add(trend(symmetry, "symmetry index (%)"), "[patterson2008] [patterson2010]")

        def clearance(ax):
            low, high = gm.TOE_CLEARANCE_HEALTHY_M
            ax.axhspan(low * 100, high * 100, color="#2ca02c", alpha=0.12, label="healthy (Winter 1992)")
            per_leg(ax, "toe_clearance_{}_m", 100.0)
        sections["clearance-trend"].add(trend(clearance, "median toe clearance (cm)"), "[winter1992]")
        sections["distance-trend"].add(trend(lambda ax: ax.bar(dates, col["distance_m"], width=0.6, label="distance"),
                                             "distance walked (m)"))

        def steps_goal(ax):
            ax.bar(dates, col["steps"], width=0.6, color="#1f77b4", label="steps")
            ax.plot(dates, col["goal_steps"], "_", ms=25, mew=2, color="k", label="goal")
        sections["steps-goal-trend"].add(trend(steps_goal, "steps"))

        def heart(ax):
            ax.plot(dates, col["heart_rate_mean_bpm"], "o-", label="mean")
            ax.plot(dates, col["heart_rate_max_bpm"], "^-", label="maximum")
            limits = [p["rx"].max_heart_rate_bpm if p["rx"] else 0.0 for p in progress]
            if any(limits):
                ax.plot(dates, [x or np.nan for x in limits], "--", color="#d62728", label="prescribed limit")
        sections["heart-rate-trend"].add(trend(heart, "heart rate (bpm)"))

        def guidance(ax):
            ax.plot(dates, col["guidance_mean"], "o-", label="guidance (fraction of full stiffness)")
            ax.plot(dates, col["bws_mean"], "s-", label="body-weight support (fraction of body weight)")
            ax.set_ylim(0, 1)
        sections["guidance-trend"].add(trend(guidance, "mean while walking"))

        def obstacles(ax):
            ax.plot(dates, col["obstacle_success_pct"], "o-", label="cleared")
            ax.plot(dates, col["weighted_obstacle_success_pct"], "s--", label="cleared, weighted by height")
            ax.set_ylim(0, 105)
        sections["obstacle-trend"].add(trend(obstacles, "obstacles cleared (%)"),
                                       "Height-weighted success normalises for the scene's difficulty (docs/records.md).")

        def variability(ax):
            low, high = gm.STRIDE_CV_HEALTHY_PCT
            ax.axhspan(low, high, color="#2ca02c", alpha=0.12, label="healthy adults (Hausdorff 2005)")
            ax.plot(dates, col["stride_cv_pct"], "o-", label="stride-time CV, steady strides")
            ax.set_ylim(bottom=0)
        sections["variability-trend"].add(trend(variability, "CV (%)"), "[hausdorff2005]")
    else:
        for key, _ in PATIENT_SECTIONS[2:-1]:
            sections[key].add("No recorded sessions yet.")
    sections["findings"] = findings_section(store, Section, Table, Plot, patient_code=code)
    sections["references"].add()

    banner = ("Includes SIMULATED SESSIONS generated from a gait model: they show what a progress report "
              "looks like, not a real patient's course.") if simulated else ""
    return Document(f"StepSync progress report: {code}", [sections[k] for k, _ in PATIENT_SECTIONS], banner,
                    {k: r.citation for k, r in gm.REFERENCES.items()})


def build_patient_html(store: Store, code: str) -> str:
    """The patient progress report as an HTML string."""
    return render_html(build_patient_document(store, code))


# ---------------------------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------------------------
def _default_out(db_path: Path, name: str) -> Path:
    return Path(db_path).parent / "reports" / name


def _write(doc: Document, path: Path, fmt: str) -> Path:
    if fmt not in FORMATS:
        raise ValueError(f"report format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "html":
        return write_private(path, render_html(doc))
    write_private(path, b"")  # create it owner-only before the PDF writer fills it
    result = render_pdf(doc, path)
    if result["overflows"]:
        log.warning("%s: %d text(s) crossed the page edge", path, len(result["overflows"]))
    return path


def write_session_report(db_path, session_id: int, out_path: str | Path | None = None, fmt: str = "html") -> Path:
    """Write the report of one session (html or pdf); returns its path (default: reports/ beside the DB)."""
    with open_repository(db_path) as store:
        doc = build_session_document(store, session_id)
    path = _write(doc, Path(out_path) if out_path else _default_out(Path(db_path), f"session-{session_id}.{fmt}"), fmt)
    log.info("session report written to %s", path)
    return path


def write_patient_report(db_path, code: str, out_path: str | Path | None = None, fmt: str = "html") -> Path:
    """Write the progress report of a patient (html or pdf); returns its path."""
    with open_repository(db_path) as store:
        doc = build_patient_document(store, code)
    path = _write(doc, Path(out_path) if out_path else _default_out(Path(db_path), f"patient-{code}.{fmt}"), fmt)
    log.info("patient report written to %s", path)
    return path


__all__ = [
    "PATIENT_SECTIONS",
    "SESSION_SECTIONS",
    "build_patient_document",
    "build_session_document",
    "patient_progress",
    "write_patient_report",
    "write_session_report",
]
