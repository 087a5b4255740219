"""The session summary stored with a session (`sessions.summary_json`): aggregates computed from
what was recorded, once the recorder has committed everything, never the live panel's last-stride
values. docs/records.md lists its keys."""

from __future__ import annotations

import datetime
import logging

from engine.control.prescription import Prescription
from engine.records import metrics as gm
from engine.records.store import Store

log = logging.getLogger(__name__)

# Live-state values a session runner may hand in that describe only the last stride or the last
# instant: dropped from the stored summary (the aggregates replace them).
LAST_STRIDE_KEYS = ("gait_speed_mps", "cadence_spm", "symmetry_index_pct")


def prescription_at(store: Store, code: str, at_iso: str | None) -> Prescription | None:
    """The patient's prescription in force at a time (ISO 8601): the latest version created at or
    before it; the first version for sessions older than every version; None without one."""
    history = store.prescription_history(code)
    if not history:
        return None
    chosen = history[0]
    if at_iso:
        at = datetime.datetime.fromisoformat(at_iso)
        for row in history:
            if datetime.datetime.fromisoformat(row["created_at"]) <= at:
                chosen = row
    return Prescription.from_dict(chosen["rx"])


def recorded_metrics(store: Store, session_id: int) -> dict:
    """session_metrics over the session's own span (metrics.session_span), with its affected side."""
    session = store.get_session(session_id)
    rx = prescription_at(store, session["patient_code"], session["started_at"])
    telemetry = store.telemetry(session_id)
    first, last = gm.session_span(telemetry)
    span = telemetry[first:last]
    steps, strides, events = store.steps(session_id), store.strides(session_id), store.events(session_id)
    if len(span):
        t_lo, t_hi = float(span["t_s"][0]), float(span["t_s"][-1])

        def inside(rows):
            return [r for r in rows if t_lo <= r["t_s"] <= t_hi]

        steps, strides = inside(steps), inside(strides)
    else:
        steps, strides = [], []
    return gm.session_metrics(span, steps, strides, events, affected_side=rx.affected_side if rx else -1)


def finalize_summary(store: Store, session_id: int, live: dict | None = None) -> dict:
    """The summary to store when a session ends: `live` (HUD text, score, tasks, alarms) without its
    last-stride gait values, plus `gait`: aggregates from the recorded data. Never raises: if the
    records cannot be read the live part is kept and `gait_error` says why."""
    summary = {k: v for k, v in (live or {}).items() if k not in LAST_STRIDE_KEYS}
    try:
        summary["gait"] = gm.session_summary(recorded_metrics(store, session_id))
    except Exception as exc:  # the session must still be closed
        log.exception("session %s: summary from the records failed", session_id)
        summary["gait_error"] = str(exc)
    return summary
