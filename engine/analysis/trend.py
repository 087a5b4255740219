"""Findings over a patient's sessions: what persists and what is getting worse.

A trend finding is a detector that found a deviation in at least PERSIST_OF of the last
PERSIST_IN assessed sessions (one bad day is not a pattern), or whose primary measure moved the
wrong way by more than a published meaningful change between the first and the latest assessed
session (where a meaningful change is published: speed, Perera 2006; stride-time SD, Brach 2010;
weight-bearing share, the 5 % minimal detectable change of standing weight bearing).
"""

from __future__ import annotations

import math

from engine.analysis.findings import Finding, analyse_session
from engine.analysis.norms import NORMS
from engine.analysis.session_data import load_session

PERSIST_IN = 3
PERSIST_OF = 2


def _primary(f: Finding) -> float | None:
    """The detector's headline number, oriented so that larger is worse; None if none."""
    e = f.evidence
    if f.key == "high_variability" and "legs" in e:
        sds = [leg["sd_s"] for leg in e["legs"] if leg.get("sd_s") is not None]
        return sum(sds) / len(sds) if sds else None
    if f.key == "slow_speed" and e.get("self_selected_speed_mps") is not None:
        return -e["self_selected_speed_mps"]
    if f.key == "weight_bearing_asymmetry" and "legs" in e:
        shares = [leg["load_share"] for leg in e["legs"] if leg.get("load_share") is not None]
        return -min(shares) if len(shares) == 2 else None  # the under-loaded leg's share, falling is worse
    return None


MEANINGFUL = {"high_variability": ("stride_sd_mcid_s", "stride-time SD"), "slow_speed": ("speed_mcid_mps", "self-selected speed"),
              "weight_bearing_asymmetry": ("load_share_mdc", "under-loaded leg's load share")}


def analyse_patient(store, code: str, last: int | None = None) -> tuple[list[list[Finding]], list[Finding]]:
    """Per-session findings (oldest first) and the trend findings of one patient."""
    sessions = [s for s in store.list_sessions(code) if s.get("ended_at")]
    if last:
        sessions = sessions[-last:]
    per_session = [analyse_session(load_session(store, s["id"])) for s in sessions]
    trends: list[Finding] = []
    if not per_session:
        return per_session, trends
    keys = [f.key for f in per_session[0]]
    for i, key in enumerate(keys):
        series = [fs[i] for fs in per_session if fs[i].assessed]
        recent = series[-PERSIST_IN:]
        hits = [f for f in recent if f.present]
        t = Finding(key, per_session[0][i].title, False, scope="trend", norms=list(per_session[0][i].norms),
                    session_ids=[f.session_ids[0] for f in recent])
        t.assessed = len(series) > 0
        t.evidence = {"sessions_assessed": len(series), "recent": [{"session": f.session_ids[0], "present": f.present,
                                                                      "summary": f.summary} for f in recent]}
        if len(hits) >= min(PERSIST_OF, len(recent)) and hits:
            t.present = True
            t.side = hits[-1].side
            t.summary = f"found in {len(hits)} of the last {len(recent)} assessed sessions; latest: {hits[-1].summary}"
        else:
            t.summary = f"found in {len(hits)} of the last {len(recent)} assessed sessions"
        if key in MEANINGFUL:
            values = [(f.session_ids[0], _primary(f)) for f in series if _primary(f) is not None]
            if len(values) >= 2:
                norm_key, label = MEANINGFUL[key]
                change = values[-1][1] - values[0][1]
                mcid = NORMS[norm_key].value
                t.evidence["change"] = {"measure": label, "first": values[0], "latest": values[-1],
                                        "worse_by": round(change, 4), "meaningful_change": mcid}
                if math.isfinite(change) and change > mcid:
                    t.present = True
                    t.summary += f"; {label} worse by {abs(change):.3f} (meaningful change {mcid:g})"
                    t.norms.append(norm_key)
        trends.append(t)
    return per_session, trends
