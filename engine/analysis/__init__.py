"""Gait analysis after the session: findings with their evidence and suggestions (numpy only).

Reads records through the repository's public methods, never SQL and never the control core's
hot path. `findings_for_session` and `findings_for_patient` are the entry points; the report
section (report_section.py) and `main.py findings` (cli.py) use them.
"""

from __future__ import annotations


def findings_for_session(store, session_id: int) -> dict:
    """{'findings': [Finding], 'suggestions': {key: [Suggestion]}} for one session."""
    from engine.analysis.findings import analyse_session
    from engine.analysis.session_data import load_session
    from engine.analysis.suggestions import suggest_all

    findings = analyse_session(load_session(store, session_id))
    return {"findings": findings, "suggestions": suggest_all(findings)}


def findings_for_patient(store, code: str, last: int | None = None) -> dict:
    """Trend findings over a patient's sessions, with suggestions for the persistent ones."""
    from engine.analysis.suggestions import suggest_all
    from engine.analysis.trend import analyse_patient

    per_session, trends = analyse_patient(store, code, last)
    return {"per_session": per_session, "findings": trends, "suggestions": suggest_all(trends)}
