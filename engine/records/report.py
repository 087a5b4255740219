"""Therapist reports: one self-contained HTML file per session or per patient.

Plots are drawn with matplotlib's Agg backend and embedded as base64 PNG, so the file can be
mailed or archived on its own. Every threshold drawn or flagged cites its published source
(engine/records/metrics.py REFERENCES). Simulated sessions (demo-history) are labelled as such
in every place they appear.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import logging
import math
import os
from pathlib import Path

import numpy as np

from engine.records import metrics as gm
from engine.records.store import Store

log = logging.getLogger(__name__)

MAX_PLOT_POINTS = 3000
LEFT_COLOUR, RIGHT_COLOUR = "#1f77b4", "#d62728"

SESSION_SECTIONS = [
    ("summary", "Summary"),
    ("goals", "Goals"),
    ("speed", "Speed, guidance and body-weight support"),
    ("steps", "Step length and step time per leg"),
    ("symmetry", "Symmetry"),
    ("cadence", "Cadence"),
    ("variability", "Stride-time variability"),
    ("clearance", "Toe clearance"),
    ("obstacles", "Obstacle outcomes along the route"),
    ("heart-rate", "Heart rate"),
    ("alarms", "Alarms"),
    ("settings", "Setting changes (audit log)"),
    ("frames", "Headset frame timing"),
    ("recording", "Recording completeness"),
    ("references", "References"),
]
PATIENT_SECTIONS = [
    ("summary", "Summary"),
    ("sessions", "Sessions"),
    ("speed-trend", "Gait speed"),
    ("symmetry-trend", "Symmetry"),
    ("step-length-trend", "Step length"),
    ("guidance-trend", "Guidance and body-weight support needed"),
    ("obstacle-trend", "Obstacle success"),
    ("variability-trend", "Stride-time variability"),
    ("references", "References"),
]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; } td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
th { background: #f4f4f4; } .flag { color: #b00; font-weight: 600; } .ok { color: #070; }
.sim { background: #fff3cd; border: 1px solid #e0c060; padding: .5em 1em; } img { max-width: 100%; }
.note { color: #555; font-size: .9em; }
"""


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    """Embed a matplotlib figure as an <img> with a base64 PNG, and close it."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _fmt(value, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        text = f"{value:.{digits}f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _decimate(n: int) -> slice:
    return slice(None, None, max(1, n // MAX_PLOT_POINTS))


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _cite(*keys: str) -> str:
    return " ".join(f'<a href="#ref-{k}">[{k}]</a>' for k in keys)


def _references(keys: list[str]) -> str:
    items = "".join(
        f'<li id="ref-{k}"><b>[{k}]</b> {html.escape(gm.REFERENCES[k].citation)}</li>' for k in keys
    )
    return f"<ol>{items}</ol>"


def _page(title: str, sections: list[str], simulated_note: str = "") -> str:
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"note\">Generated {generated} by StepSync.</p>\n"
        + (f'<p class="sim" id="simulated">{simulated_note}</p>\n' if simulated_note else "")
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _default_out(db_path: Path, name: str) -> Path:
    return Path(db_path).parent / "reports" / name


def _write(out_path: Path, text: str) -> Path:
    # Reports are health data: owner-only, like the database.
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return out_path


def _flag(text: str) -> str:
    return f'<span class="flag">{html.escape(text)}</span>' if text else '<span class="ok">within norm</span>'


# ---------------------------------------------------------------------------------------------
# Session report
# ---------------------------------------------------------------------------------------------
def _windowed(steps: list[dict], t0: float, window_s: float = 30.0) -> dict:
    """Per-window means of step length and time per leg, and step counts, for trend lines."""
    if not steps:
        return {"t": np.zeros(0)}
    t = np.array([s["t_s"] for s in steps]) - t0
    edges = np.arange(0.0, t.max() + window_s, window_s)
    out = {"t": [], "si_len": [], "si_time": [], "cadence": []}
    for start in edges:
        inside = [s for s, ts in zip(steps, t, strict=True) if start <= ts < start + window_s]
        if len(inside) < 4:
            continue
        mean = {}
        for side in (gm.LEFT, gm.RIGHT):
            rows = [s for s in inside if s["side"] == side]
            mean[("len", side)] = gm._mean(r["step_length_m"] for r in rows)
            mean[("time", side)] = gm._mean(r["step_time_s"] for r in rows)
        out["t"].append(start + window_s / 2)
        out["si_len"].append(gm.symmetry_index_pct(mean[("len", 0)], mean[("len", 1)]))
        out["si_time"].append(gm.symmetry_index_pct(mean[("time", 0)], mean[("time", 1)]))
        span = min(window_s, t.max() - start) if start + window_s > t.max() else window_s
        out["cadence"].append(len(inside) / span * 60.0 if span > 0 else math.nan)
    return {k: np.array(v) for k, v in out.items()}


def build_session_html(store: Store, session_id: int) -> str:
    """The session report as an HTML string."""
    plt = _pyplot()
    session = store.get_session(session_id)
    patient = store.get_patient(session["patient_code"]) or {}
    telemetry = store.telemetry(session_id)
    steps, strides, events = store.steps(session_id), store.strides(session_id), store.events(session_id)
    audit = store.audit_log(session_id)
    frames = store.frame_timing(session_id)
    m = gm.session_metrics(telemetry, steps, strides, events)
    t0 = float(telemetry["t_s"][0]) if len(telemetry) else (min((e["t_s"] for e in events), default=0.0))
    dec = _decimate(len(telemetry))
    t_rel = telemetry["t_s"][dec] - t0 if len(telemetry) else np.zeros(0)
    sections = []

    # Summary
    rows = [
        ["Patient", html.escape(f"{session['patient_code']}" + (f" ({patient.get('name')})" if patient.get("name") else ""))],
        ["Scene", html.escape(session["scene_id"])],
        ["Started / ended", html.escape(f"{session['started_at']} / {session['ended_at'] or 'still open'}")],
        ["Outcome", html.escape(session["outcome"] or "open")],
        ["Display", "VR headset" if session["vr"] else "desktop window"],
        ["Data", "SIMULATED (parametric gait model, not a real patient)" if session["simulated"] else "recorded"],
        ["Duration", _fmt(m["duration_s"], 0, "s")],
        ["Distance", _fmt(m["distance_m"], 1, "m")],
        ["Steps", str(m["steps"])],
        ["Gait speed (mean belt speed while walking)",
         f"{_fmt(m['gait_speed_mps'], 2, 'm/s')}: {html.escape(m['speed_class'])} ambulation {_cite('perry1995')}; "
         f"{_flag(m['fall_risk'])} {_cite('fritz2009')}"],
        ["Cadence", _fmt(m["cadence_spm"], 0, "steps/min")],
        ["Step length left / right", f"{_fmt(m['step_length_l_m'], 2)} / {_fmt(m['step_length_r_m'], 2)} m"],
        ["Step time left / right", f"{_fmt(m['step_time_l_s'], 2)} / {_fmt(m['step_time_r_s'], 2)} s"],
        ["Symmetry index, step length",
         f"{_fmt(m['si_step_length_pct'], 1, '%')} "
         f"{_flag('asymmetric' if abs(m['si_step_length_pct']) > gm.STEP_LENGTH_SI_LIMIT_PCT else '') if math.isfinite(m['si_step_length_pct']) else ''} {_cite('patterson2008')}"],
        ["Symmetry index, step time",
         f"{_fmt(m['si_step_time_pct'], 1, '%')} "
         f"{_flag('asymmetric' if abs(m['si_step_time_pct']) > gm.STEP_TIME_SI_LIMIT_PCT else '') if math.isfinite(m['si_step_time_pct']) else ''} {_cite('patterson2008')}"],
        ["Stride-time CV left / right", f"{_fmt(m['stride_cv_l_pct'], 1)} / {_fmt(m['stride_cv_r_pct'], 1)} % {_cite('hausdorff2005')}"],
        ["Stance share left / right", f"{_fmt(m['stance_l'], 2)} / {_fmt(m['stance_r'], 2)}"],
        ["Toe clearance left / right", f"{_fmt(m['toe_clearance_l_m'] * 100, 1)} / {_fmt(m['toe_clearance_r_m'] * 100, 1)} cm {_cite('winter1992')}"],
        ["Guidance (mean, 0..1)", _fmt(m["guidance_mean"], 2)],
        ["Body-weight support (mean)", _fmt(m["bws_mean"] * 100 if math.isfinite(m["bws_mean"]) else math.nan, 0, "%")],
        ["Obstacles cleared", f"{m['obstacles_cleared']} of {m['obstacles']} ({_fmt(m['obstacle_success_pct'], 0, '%')})"],
        ["Heart rate mean / max", f"{_fmt(m['heart_rate_mean_bpm'], 0)} / {_fmt(m['heart_rate_max_bpm'], 0)} bpm"],
        ["Alarms raised", str(m["alarms"])],
    ]
    sections.append(_section("summary", "Summary", _table(["", ""], rows)
                             + '<p class="note">Gait speed on a treadmill is the belt speed; the overground '
                               "norms cited are a guide, not a diagnosis.</p>"))

    # Goals
    goal_rows = [
        [html.escape(g["goal"]), _fmt(g["target"], 1), _fmt(g["achieved"], 1),
         "-" if g["met"] is None else ('<span class="ok">met</span>' if g["met"] else '<span class="flag">not met</span>')]
        for g in gm.goals_met(session["goals"], m, events)
    ]
    sections.append(_section("goals", "Goals", _table(["goal", "target", "achieved", ""], goal_rows) if goal_rows else "<p>No goals were set.</p>"))

    # Speed, guidance, BWS
    if len(telemetry):
        fig, axes = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
        axes[0].plot(t_rel, telemetry["belt_speed_cmd_mps"][dec], label="commanded", lw=1)
        axes[0].plot(t_rel, telemetry["belt_speed_mps"][dec], label="measured", lw=1)
        axes[0].set_ylabel("belt speed (m/s)")
        axes[0].legend(loc="lower right")
        axes[1].plot(t_rel, telemetry["guidance"][dec], label="guidance (0..1)")
        axes[1].plot(t_rel, telemetry["bws_fraction"][dec], label="body-weight support (fraction)")
        axes[1].set_ylim(-0.05, 1.05)
        axes[1].set_xlabel("session time (s)")
        axes[1].legend(loc="upper right")
        body = _png(fig)
    else:
        body = "<p>No telemetry was recorded.</p>"
    sections.append(_section("speed", "Speed, guidance and body-weight support", body))

    # Step length and step time per leg
    if steps:
        fig, axes = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
        for side, colour, name in ((gm.LEFT, LEFT_COLOUR, "left"), (gm.RIGHT, RIGHT_COLOUR, "right")):
            rows_side = [s for s in steps if s["side"] == side]
            ts = [s["t_s"] - t0 for s in rows_side]
            axes[0].plot(ts, [s["step_length_m"] for s in rows_side], ".", color=colour, label=name, ms=3)
            axes[1].plot(ts, [s["step_time_s"] for s in rows_side], ".", color=colour, label=name, ms=3)
        axes[0].set_ylabel("step length (m)")
        axes[1].set_ylabel("step time (s)")
        axes[1].set_xlabel("session time (s)")
        axes[0].legend()
        body = _png(fig)
    else:
        body = "<p>No steps were recorded.</p>"
    sections.append(_section("steps", "Step length and step time per leg", body))

    windows = _windowed(steps, t0)
    # Symmetry
    if len(windows["t"]):
        fig, ax = plt.subplots(figsize=(10, 3.2))
        ax.axhspan(-gm.STEP_LENGTH_SI_LIMIT_PCT, gm.STEP_LENGTH_SI_LIMIT_PCT, color="#2ca02c", alpha=0.12,
                   label="healthy range, step length (Patterson 2008)")
        ax.plot(windows["t"], windows["si_len"], "o-", label="SI step length")
        ax.plot(windows["t"], windows["si_time"], "s-", label="SI step time")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("symmetry index (%)")
        ax.set_xlabel("session time (s), 30 s windows")
        ax.legend(fontsize=8)
        body = _png(fig) + f"<p>SI = (L - R) / (0.5 (L + R)) x 100; 0 is symmetric. {_cite('patterson2008', 'patterson2010')}</p>"
    else:
        body = "<p>Not enough steps for symmetry.</p>"
    sections.append(_section("symmetry", "Symmetry", body))

    # Cadence
    if len(windows["t"]):
        fig, ax = plt.subplots(figsize=(10, 2.8))
        ax.plot(windows["t"], windows["cadence"], "o-")
        ax.set_ylabel("cadence (steps/min)")
        ax.set_xlabel("session time (s), 30 s windows")
        body = _png(fig) + f"<p>Mean cadence {_fmt(m['cadence_spm'], 0, 'steps/min')}.</p>"
    else:
        body = "<p>Not enough steps for cadence.</p>"
    sections.append(_section("cadence", "Cadence", body))

    # Stride-time variability
    if strides:
        fig, ax = plt.subplots(figsize=(10, 3))
        for side, colour, name in ((gm.LEFT, LEFT_COLOUR, "left"), (gm.RIGHT, RIGHT_COLOUR, "right")):
            rows_side = [s for s in strides if s["side"] == side]
            ax.plot([s["t_s"] - t0 for s in rows_side], [s["stride_time_s"] for s in rows_side], ".-", color=colour,
                    label=f"{name}: CV {_fmt(m[f'stride_cv_{name[0]}_pct'], 1)} %", ms=3, lw=0.5)
        ax.set_ylabel("stride time (s)")
        ax.set_xlabel("session time (s)")
        ax.legend()
        low, high = gm.STRIDE_CV_HEALTHY_PCT
        body = _png(fig) + (f"<p>Coefficient of variation of stride time: {_fmt(m['stride_cv_pct'], 1, '%')} "
                            f"(healthy adults about {low:.0f}-{high:.0f} %) {_cite('hausdorff2005')}.</p>")
    else:
        body = "<p>No strides were recorded.</p>"
    sections.append(_section("variability", "Stride-time variability", body))

    # Toe clearance
    if steps:
        fig, ax = plt.subplots(figsize=(10, 3))
        low, high = gm.TOE_CLEARANCE_HEALTHY_M
        ax.axhspan(low * 100, high * 100, color="#2ca02c", alpha=0.12, label="healthy minimum toe clearance (Winter 1992)")
        for side, colour, name in ((gm.LEFT, LEFT_COLOUR, "left"), (gm.RIGHT, RIGHT_COLOUR, "right")):
            rows_side = [s for s in steps if s["side"] == side and s["toe_clearance_m"] is not None]
            ax.plot([s["t_s"] - t0 for s in rows_side], [s["toe_clearance_m"] * 100 for s in rows_side], ".",
                    color=colour, label=name, ms=3)
        ax.set_ylabel("toe clearance (cm)")
        ax.set_xlabel("session time (s)")
        ax.legend(fontsize=8)
        body = _png(fig) + f"<p>{_cite('winter1992')}</p>"
    else:
        body = "<p>No steps were recorded.</p>"
    sections.append(_section("clearance", "Toe clearance", body))

    # Obstacles along the route
    outcomes = [e for e in events if e["kind"] == "obstacle_outcome"]
    if outcomes:
        cycles = telemetry["cycle"].astype(np.int64) if len(telemetry) else np.zeros(0, dtype=np.int64)
        rows, xs, ys, colours = [], [], [], []
        for e in outcomes:
            at_m = math.nan
            if len(cycles) and e["cycle"] is not None:
                i = min(len(cycles) - 1, int(np.searchsorted(cycles, e["cycle"])))
                at_m = float(telemetry["s_m"][i])
            margin = e.get("margin_m")
            rows.append([str(e.get("obstacle", e["code"])), _fmt(at_m, 1, "m"), _fmt(e["t_s"] - t0, 1, "s"),
                         _flag("hit") if e["outcome"] == "hit" else html.escape(e["outcome"]),
                         _fmt(margin * 100 if margin is not None else None, 1, "cm")])
            xs.append(at_m)
            ys.append((margin or 0.0) * 100)
            colours.append("#d62728" if e["outcome"] == "hit" else "#2ca02c")
        fig, ax = plt.subplots(figsize=(10, 2.8))
        ax.scatter(xs, ys, c=colours)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("route position (m)")
        ax.set_ylabel("clearance margin (cm)")
        body = _png(fig) + _table(["obstacle", "at", "time", "outcome", "margin"], rows)
    else:
        body = "<p>No obstacles in this session.</p>"
    sections.append(_section("obstacles", "Obstacle outcomes along the route", body))

    # Heart rate
    if len(telemetry) and (telemetry["heart_rate_bpm"] > 0).any():
        fig, ax = plt.subplots(figsize=(10, 2.8))
        hr = telemetry["heart_rate_bpm"][dec].astype(float)
        hr[hr <= 0] = np.nan
        ax.plot(t_rel, hr, color="#9467bd")
        ax.set_ylabel("heart rate (bpm)")
        ax.set_xlabel("session time (s)")
        body = _png(fig)
    else:
        body = "<p>No heart-rate data.</p>"
    sections.append(_section("heart-rate", "Heart rate", body))

    # Alarms
    alarm_rows = [
        [_fmt(e["t_s"] - t0, 1, "s"), html.escape(e["kind"].replace("_", " ")), html.escape(e.get("priority", "")),
         html.escape(e.get("text") or e.get("reason", str(e["code"])))]
        for e in events if e["kind"] in ("alarm_raised", "alarm_acked")
    ]
    sections.append(_section("alarms", "Alarms", _table(["time", "event", "priority", "alarm"], alarm_rows) if alarm_rows else "<p>No alarms.</p>"))

    # Audit log
    audit_rows = [
        [html.escape(a["at"]), html.escape(a["who"]), html.escape(a["setting"]), html.escape(str(a["old"])),
         html.escape(str(a["new"])), html.escape("" if a["applied"] is None else str(a["applied"]))]
        for a in audit
    ]
    applied = [e for e in events if e["kind"] == "setting_applied"]
    body = _table(["when", "who", "setting", "from", "to", "applied"], audit_rows) if audit_rows else "<p>No setting changes.</p>"
    if applied:
        body += f"<p>The control core confirmed {len(applied)} applied setting(s).</p>"
    sections.append(_section("settings", "Setting changes (audit log)", body))

    # Frame timing
    if frames:
        keys = sorted({k for f in frames for k in f if k != "at"})
        body = _table(["at", *keys], [[html.escape(f["at"]), *[_fmt(f.get(k), 2) for k in keys]] for f in frames])
    else:
        body = "<p>No headset frame timing was recorded (desktop or headless session).</p>"
    sections.append(_section("frames", "Headset frame timing", body))

    # Recording completeness
    gaps = store.cycle_gaps(session_id)
    rec = session.get("recorder") or {}
    rows = [
        ["Telemetry records", str(len(telemetry))],
        ["Cycles", f"{int(telemetry['cycle'][0])} .. {int(telemetry['cycle'][-1])}" if len(telemetry) else "-"],
        ["Gaps in the cycle sequence", _flag(f"{len(gaps)} gap(s): {gaps[:5]}") if gaps else '<span class="ok">none</span>'],
        ["Records dropped by the core (telemetry ring overflow)",
         _flag(str(session["telemetry_overflow"])) if session["telemetry_overflow"] else '<span class="ok">0</span>'],
        ["Events dropped (event ring overflow)",
         _flag(str(session["events_overflow"])) if session["events_overflow"] else '<span class="ok">0</span>'],
        ["Recorder", html.escape(", ".join(f"{k} {v}" for k, v in rec.items() if k in ("commits", "cpu_s", "max_lag_s")) or "-")],
    ]
    sections.append(_section("recording", "Recording completeness", _table(["", ""], rows)))
    sections.append(_section("references", "References", _references(list(gm.REFERENCES))))

    title = f"StepSync session {session_id}: {session['patient_code']}, {session['scene_id']}"
    note = ("SIMULATED SESSION: generated by `demo-history` from a parametric gait model; "
            "these are not measurements of a real patient.") if session["simulated"] else ""
    return _page(title, sections, note)


def write_session_report(db_path, session_id: int, out_path: str | Path | None = None) -> Path:
    """Write the HTML report of one session; returns its path (default: reports/ beside the DB)."""
    with Store(db_path) as store:
        text = build_session_html(store, session_id)
    path = _write(Path(out_path) if out_path else _default_out(Path(db_path), f"session-{session_id}.html"), text)
    log.info("session report written to %s", path)
    return path


# ---------------------------------------------------------------------------------------------
# Patient progress report
# ---------------------------------------------------------------------------------------------
def patient_progress(store: Store, code: str) -> list[dict]:
    """Per-session metrics of a patient, oldest first (sessions with telemetry only)."""
    rows = []
    for session in store.list_sessions(code):
        sid = session["id"]
        telemetry = store.telemetry(sid)
        if not len(telemetry):
            continue
        m = gm.session_metrics(telemetry, store.steps(sid), store.strides(sid), store.events(sid))
        rows.append({"session": session, **m})
    return rows


def build_patient_html(store: Store, code: str) -> str:
    """The patient progress report as an HTML string."""
    plt = _pyplot()
    patient = store.get_patient(code)
    if patient is None:
        raise KeyError(f"unknown patient {code!r}")
    progress = patient_progress(store, code)
    simulated = any(p["session"]["simulated"] for p in progress)
    x = np.arange(1, len(progress) + 1)
    col = {key: np.array([p[key] for p in progress], dtype=float) for key in (
        "gait_speed_mps", "si_step_length_pct", "si_step_time_pct", "step_length_l_m", "step_length_r_m",
        "guidance_mean", "bws_mean", "obstacle_success_pct", "stride_cv_pct", "cadence_spm")} if progress else {}
    sections = []

    rx = store.current_prescription(code)
    summary = [
        ["Patient", html.escape(code + (f" ({patient['name']})" if patient.get("name") else ""))],
        ["Sessions with data", str(len(progress))],
        ["Simulated profile", html.escape(patient.get("sim_profile") or "-")],
        ["Current prescription", html.escape(", ".join(f"{k} {v}" for k, v in rx.to_dict().items())) if rx else "-"],
    ]
    if progress:
        first, last = progress[0], progress[-1]
        for key, label, unit, digits in (("gait_speed_mps", "Gait speed", "m/s", 2), ("si_step_length_pct", "SI step length", "%", 1),
                                         ("guidance_mean", "Guidance", "", 2), ("obstacle_success_pct", "Obstacle success", "%", 0)):
            summary.append([f"{label}: first / latest", f"{_fmt(first[key], digits)} / {_fmt(last[key], digits)} {unit}"])
        summary.append(["Latest ambulation class", f"{html.escape(last['speed_class'])} {_cite('perry1995')}; {_flag(last['fall_risk'])} {_cite('fritz2009')}"])
    sections.append(_section("summary", "Summary", _table(["", ""], summary)))

    session_rows = [
        [str(i), html.escape(p["session"]["started_at"][:16]), html.escape(p["session"]["scene_id"]),
         html.escape(p["session"]["outcome"] or "open"), "simulated" if p["session"]["simulated"] else "recorded",
         _fmt(p["duration_s"] / 60, 1), _fmt(p["gait_speed_mps"], 2), html.escape(p["speed_class"]), _flag(p["fall_risk"]),
         _fmt(p["si_step_length_pct"], 1), _fmt(p["step_length_l_m"], 2) + " / " + _fmt(p["step_length_r_m"], 2),
         _fmt(p["guidance_mean"], 2), _fmt(p["obstacle_success_pct"], 0)]
        for i, p in enumerate(progress, 1)
    ]
    sections.append(_section("sessions", "Sessions", _table(
        ["#", "date", "scene", "outcome", "data", "min", "speed m/s", "class", "risk", "SI len %", "step L/R m", "guidance", "obstacles %"],
        session_rows) if session_rows else "<p>No recorded sessions yet.</p>"))

    def trend_plot(draw, ylabel: str) -> str:
        fig, ax = plt.subplots(figsize=(10, 3.4))
        draw(ax)
        ax.set_xlabel("session")
        ax.set_ylabel(ylabel)
        ax.set_xticks(x)
        ax.legend(fontsize=8, loc="best")
        return _png(fig)

    if progress:
        def speed(ax):
            top = max(1.4, float(np.nanmax(col["gait_speed_mps"])) + 0.1)
            ax.axhspan(0, 0.4, color="#d62728", alpha=0.10, label="household < 0.4 m/s (Perry 1995)")
            ax.axhspan(0.4, 0.8, color="#ff7f0e", alpha=0.10, label="limited community 0.4-0.8 m/s (Perry 1995)")
            ax.axhspan(0.8, top, color="#2ca02c", alpha=0.08, label="community > 0.8 m/s (Perry 1995)")
            ax.axhline(1.0, color="#d62728", ls="--", lw=1, label="fall risk below 1.0 m/s (Fritz & Lusardi 2009)")
            ax.axhline(0.6, color="#8c564b", ls=":", lw=1, label="high risk below 0.6 m/s (Fritz & Lusardi 2009)")
            ax.plot(x, col["gait_speed_mps"], "o-", color="k", label="gait speed")
            ax.set_ylim(0, top)
        sections.append(_section("speed-trend", "Gait speed", trend_plot(speed, "gait speed (m/s)")
                                 + f"<p>Bands and markers: {_cite('perry1995', 'fritz2009')}.</p>"))

        def symmetry(ax):
            ax.axhspan(-gm.STEP_LENGTH_SI_LIMIT_PCT, gm.STEP_LENGTH_SI_LIMIT_PCT, color="#2ca02c", alpha=0.12,
                       label="healthy step-length symmetry (Patterson 2008)")
            ax.plot(x, col["si_step_length_pct"], "o-", label="SI step length")
            ax.plot(x, col["si_step_time_pct"], "s-", label="SI step time")
            ax.axhline(0, color="k", lw=0.5)
        sections.append(_section("symmetry-trend", "Symmetry", trend_plot(symmetry, "symmetry index (%)")
                                 + f"<p>{_cite('patterson2008', 'patterson2010')}</p>"))

        def step_length(ax):
            ax.plot(x, col["step_length_l_m"], "o-", color=LEFT_COLOUR, label="left")
            ax.plot(x, col["step_length_r_m"], "o-", color=RIGHT_COLOUR, label="right")
        sections.append(_section("step-length-trend", "Step length", trend_plot(step_length, "mean step length (m)")))

        def guidance(ax):
            ax.plot(x, col["guidance_mean"], "o-", label="guidance (0..1)")
            ax.plot(x, col["bws_mean"], "s-", label="body-weight support (fraction)")
            ax.set_ylim(0, 1)
        sections.append(_section("guidance-trend", "Guidance and body-weight support needed", trend_plot(guidance, "mean while walking")))

        def obstacles(ax):
            ax.bar(x, col["obstacle_success_pct"], color="#2ca02c", label="obstacles cleared")
            ax.set_ylim(0, 105)
        sections.append(_section("obstacle-trend", "Obstacle success", trend_plot(obstacles, "cleared (%)")))

        def variability(ax):
            low, high = gm.STRIDE_CV_HEALTHY_PCT
            ax.axhspan(low, high, color="#2ca02c", alpha=0.12, label="healthy adults (Hausdorff 2005)")
            ax.plot(x, col["stride_cv_pct"], "o-", label="stride-time CV")
            ax.set_ylim(bottom=0)
        sections.append(_section("variability-trend", "Stride-time variability", trend_plot(variability, "CV (%)")
                                 + f"<p>{_cite('hausdorff2005')}</p>"))
    else:
        for key, title in PATIENT_SECTIONS[2:-1]:
            sections.append(_section(key, title, "<p>No recorded sessions yet.</p>"))
    sections.append(_section("references", "References", _references(list(gm.REFERENCES))))

    note = ("Includes SIMULATED SESSIONS generated by `demo-history` from a parametric gait model: "
            "they show what a progress report looks like, not a real patient's course.") if simulated else ""
    return _page(f"StepSync progress report: {code}", sections, note)


def write_patient_report(db_path, code: str, out_path: str | Path | None = None) -> Path:
    """Write the HTML progress report of a patient; returns its path (default: reports/ beside the DB)."""
    with Store(db_path) as store:
        text = build_patient_html(store, code)
    path = _write(Path(out_path) if out_path else _default_out(Path(db_path), f"patient-{code}.html"), text)
    log.info("patient report written to %s", path)
    return path
