"""The "Findings and suggestions" section of the session and progress reports (self-contained HTML).

report.py calls `findings_section_html` once per report; everything about findings stays here.
"""

from __future__ import annotations

import html
import json

SECTION = ("findings", "Findings and suggestions")


def _esc(x) -> str:
    return html.escape(str(x))


def _evidence_text(evidence: dict) -> str:
    """The evidence as a compact, readable list (numbers, strides involved, episodes, kinds)."""
    parts = []
    for key, value in evidence.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            rows = "; ".join(", ".join(f"{k} {v}" for k, v in item.items() if v is not None) for item in value[:12])
            more = f" (+{len(value) - 12} more)" if len(value) > 12 else ""
            parts.append(f"<b>{_esc(key)}</b>: {_esc(rows)}{more}")
        elif isinstance(value, dict):
            parts.append(f"<b>{_esc(key)}</b>: {_esc(json.dumps(value, default=str))}")
        elif value is not None:
            parts.append(f"<b>{_esc(key)}</b>: {_esc(value)}")
    return "<br>".join(parts)


def render_findings_html(result: dict) -> str:
    """HTML body for {'findings': [...], 'suggestions': {...}} (a session's or a trend's)."""
    from engine.analysis.norms import NORMS
    from engine.analysis.suggestions import EVIDENCE_LEVELS

    findings = result["findings"]
    present = [f for f in findings if f.present]
    rows = []
    for f in findings:
        status = ('<span class="flag">finding</span>' if f.present else
                  ('<span class="ok">within norm</span>' if f.assessed else "not assessed"))
        norms = "<br>".join(_esc(NORMS[k].describe()) for k in f.norms)
        rows.append(f"<tr><td>{_esc(f.title)}</td><td>{status}</td><td>{_esc(f.summary)}</td><td class=\"note\">{norms}</td></tr>")
    table = ("<table><tr><th>detector</th><th>result</th><th>what was found</th><th>norm and source</th></tr>"
             + "".join(rows) + "</table>")
    details = []
    for f in present:
        sugg = result["suggestions"].get(f.key, [])
        items = "".join(
            f"<li>[{_esc(s.kind)}] {_esc(s.text)} <span class=\"note\">evidence {s.evidence_level} "
            f"({_esc(EVIDENCE_LEVELS[s.evidence_level])}): {_esc(s.source)}</span></li>" for s in sugg)
        details.append(f'<h3 id="finding-{_esc(f.key)}">{_esc(f.title)}</h3><p>{_esc(f.summary)}'
                       + (" <i>(norm not confirmed in its source)</i>" if f.unconfirmed else "") + "</p>"
                       + f'<p class="note">{_evidence_text(f.evidence)}</p>'
                       + (f"<p>Suggestions:</p><ul>{items}</ul>" if items else ""))
    lead = (f"<p>{len(present)} finding(s).</p>" if present else "<p>No finding: every assessed measure is within its norm.</p>")
    return (lead + table + "".join(details)
            + '<p class="note">Findings describe; they never change a setting. A suggestion becomes a change only '
              "when the therapist makes it or accepts a progression proposal. Evidence levels: "
            + "; ".join(f"{k} {v}" for k, v in EVIDENCE_LEVELS.items()) + ".</p>")


def findings_section_html(store, session_id: int | None = None, patient_code: str | None = None) -> str:
    """The whole <section> for a session report (session_id) or a progress report (patient_code)."""
    from engine.analysis import findings_for_patient, findings_for_session

    key, title = SECTION
    try:
        result = findings_for_session(store, session_id) if session_id is not None else findings_for_patient(store, patient_code)
        body = render_findings_html(result)
        if patient_code is not None:
            body = "<p>Over the patient's sessions: a finding is listed when it persists or worsens.</p>" + body
    except Exception as exc:  # a report must still be written when analysis fails; say why
        body = f'<p class="flag">Findings could not be computed: {_esc(exc)}</p>'
    return f'<section id="{key}"><h2>{_esc(title)}</h2>\n{body}\n</section>'
