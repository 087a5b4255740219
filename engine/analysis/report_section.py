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


def findings_grid_png(per_session: list) -> str:
    """An <img>: which detector found a deviation in which session (the patient's course)."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    titles = [f.title for f in per_session[0]]
    grid = np.array([[1.0 if f.present else (0.0 if f.assessed else np.nan) for f in fs] for fs in per_session]).T
    fig, ax = plt.subplots(figsize=(min(10, 2 + 0.5 * len(per_session)), 0.35 * len(titles) + 1.2))
    cmap = matplotlib.colormaps["RdYlGn_r"].copy()
    cmap.set_bad("#dddddd")
    ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(titles)), titles, fontsize=8)
    ax.set_xticks(range(len(per_session)), [str(i + 1) for i in range(len(per_session))], fontsize=8)
    ax.set_xlabel("session (oldest first): red finding, green within norm, grey not assessed")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="findings per session" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode("ascii")}">'


def findings_section_html(store, session_id: int | None = None, patient_code: str | None = None) -> str:
    """The whole <section> for a session report (session_id) or a progress report (patient_code)."""
    from engine.analysis import findings_for_patient, findings_for_session

    key, title = SECTION
    try:
        result = findings_for_session(store, session_id) if session_id is not None else findings_for_patient(store, patient_code)
        body = render_findings_html(result)
        if patient_code is not None:
            grid = findings_grid_png(result["per_session"]) if result["per_session"] else ""
            body = ("<p>Over the patient's sessions: a finding is listed when it persists or worsens.</p>"
                    + grid + body)
    except Exception as exc:  # a report must still be written when analysis fails; say why
        body = f'<p class="flag">Findings could not be computed: {_esc(exc)}</p>'
    return f'<section id="{key}"><h2>{_esc(title)}</h2>\n{body}\n</section>'


def latest_findings_line(store, patient_code: str) -> str:
    """One line for the therapist's menu: the findings of the patient's latest ended session."""
    from engine.analysis import findings_for_session

    if store is None or not patient_code:
        return ""
    try:
        ended = [s for s in store.list_sessions(patient_code) if s.get("ended_at")]
        if not ended:
            return "Findings: no session yet"
        last = ended[-1]
        result = findings_for_session(store, last["id"])
    except Exception as exc:  # the menu must stay usable when a record cannot be analysed
        return f"Findings: not available ({exc})"
    present = [f for f in result["findings"] if f.present]
    if not present:
        return f"Findings (session {last['id']}): none, every assessed measure within its norm"
    sides = {0: " L", 1: " R"}
    items = "; ".join(f"{f.title}{sides.get(f.side, '')}" for f in present)
    return f"Findings (session {last['id']}): {items}. Suggestions: main.py findings --session {last['id']}"
