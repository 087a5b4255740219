"""The "Findings and suggestions" section of the session and progress reports, and the menu line.

report.py calls `findings_section` once per report (a Section of paragraphs, tables and a plot,
rendered to HTML and PDF by report_render.py); everything about findings stays here.
"""

from __future__ import annotations

import json

SECTION = ("findings", "Findings and suggestions")


def _evidence_text(evidence: dict) -> str:
    """The evidence as compact text (numbers, strides involved, episodes, kinds)."""
    parts = []
    for key, value in evidence.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            rows = "; ".join(", ".join(f"{k} {v}" for k, v in item.items() if v is not None) for item in value[:12])
            more = f" (+{len(value) - 12} more)" if len(value) > 12 else ""
            parts.append(f"{key}: {rows}{more}")
        elif isinstance(value, dict):
            parts.append(f"{key}: {json.dumps(value, default=str)}")
        elif value is not None:
            parts.append(f"{key}: {value}")
    return " | ".join(parts)


def findings_blocks(result: dict, Table) -> list:  # noqa: N803 - the report's Table class
    """Report blocks (paragraphs, tables) for {'findings': [...], 'suggestions': {...}}."""
    from engine.analysis.norms import NORMS
    from engine.analysis.suggestions import EVIDENCE_LEVELS

    findings = result["findings"]
    present = [f for f in findings if f.present]
    rows = []
    for f in findings:
        status = ("finding", "flag") if f.present else (("within norm", "ok") if f.assessed else "not assessed")
        rows.append([f.title, status, f.summary + (" (norm unconfirmed)" if f.present and f.unconfirmed else ""),
                     "; ".join(NORMS[k].describe() for k in f.norms)])
    blocks: list = [f"{len(present)} finding(s)." if present else "No finding: every assessed measure is within its norm.",
                    Table(["detector", "result", "what was found", "norm and source"], rows)]
    blocks += balance_blocks(findings, Table)
    for f in present:
        blocks.append(f"{f.title}: {f.summary}. Evidence: {_evidence_text(f.evidence)}")
        sugg = result["suggestions"].get(f.key, [])
        if sugg:
            blocks.append(Table(["suggestion", "kind", "evidence", "source"],
                                [[s.text, s.kind, f"{s.evidence_level}: {EVIDENCE_LEVELS[s.evidence_level]}", s.source]
                                 for s in sugg]))
    blocks.append("Findings describe; they never change a setting. A suggestion becomes a change only when the "
                  "therapist makes it or accepts a progression proposal (docs/findings.md).")
    return blocks


def balance_blocks(findings: list, Table) -> list:  # noqa: N803 - the report's Table class
    """The insoles' balance per leg (engine/analysis/balance.py), from the weight-bearing finding's
    evidence: centre-of-pressure path, AP progression, ML sway, load and double support."""
    wb = next((f for f in findings if f.key == "weight_bearing_asymmetry"), None)
    legs = (wb.evidence.get("legs") if wb is not None else None) or []
    if not legs or "cop_path_cm" not in legs[0]:
        return []

    def cell(value, fmt: str = "{}") -> str:
        return "-" if value is None else fmt.format(value)

    rows = [[leg["side"], cell(leg["stances"]), cell(leg["cop_path_cm"], "{:.1f}"), cell(leg["cop_ap_cm"], "{:.1f}"),
             cell(leg["ml_sway_mm"], "{:.1f}") if leg["ml_resolved"] else "no lateral cells",
             cell(leg["peak_load"], "{:.2f}"), cell(None if leg["load_share"] is None else leg["load_share"] * 100, "{:.0f} %"),
             cell(leg["double_support_pct"], "{:.0f} %")] for leg in legs]
    return ["Balance from the insoles, per stance (medians; load as a share of the standing load): the centre of "
            "pressure's path and its progression heel to toe, its medio-lateral sway (SD; no published walking "
            "norm, reported only), the leg's share of both legs' stance load (weight bearing: 41-59 % is "
            "symmetric) and double support as a share of the gait cycle.",
            Table(["leg", "stances", "COP path cm", "AP progression cm", "ML sway mm", "peak load", "load share",
                   "double support"], rows)]


def findings_grid_plot(per_session: list, Plot):  # noqa: N803 - the report's Plot class
    """A Plot: which detector found a deviation in which session (the patient's course)."""
    titles = [f.title for f in per_session[0]]

    def draw(ax) -> None:
        import matplotlib
        import numpy as np

        grid = np.array([[1.0 if f.present else (0.0 if f.assessed else np.nan) for f in fs] for fs in per_session]).T
        cmap = matplotlib.colormaps["RdYlGn_r"].copy()
        cmap.set_bad("#dddddd")
        ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(range(len(titles)), titles, fontsize=7)
        ax.set_xticks(range(len(per_session)), [str(i + 1) for i in range(len(per_session))], fontsize=7)
        ax.set_xlabel("session (oldest first): red finding, green within norm, grey not assessed")

    return Plot(draw, height_in=0.25 * len(titles) + 1.0)


def findings_section(store, Section, Table, Plot, session_id: int | None = None,  # noqa: N803
                     patient_code: str | None = None):
    """The report Section for a session report (session_id) or a progress report (patient_code).

    The report's block classes come in as arguments: engine.records imports this module, so this
    module does not import engine.records back (tests/test_import_layers.py)."""
    from engine.analysis import findings_for_patient, findings_for_session

    key, title = SECTION
    section = Section(key, title)
    try:
        if session_id is not None:
            section.add(*findings_blocks(findings_for_session(store, session_id), Table))
        else:
            result = findings_for_patient(store, patient_code)
            if not result["per_session"]:
                return section.add("No recorded sessions yet.")
            section.add("Over the patient's sessions: a finding is listed when it persists or worsens.",
                        findings_grid_plot(result["per_session"], Plot), *findings_blocks(result, Table))
    except Exception as exc:  # a report must still be written when analysis fails; say why
        section.add(f"Findings could not be computed: {exc}")
    return section


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
