"""Balance of one session from the insoles' per-stance rows (Store.stances; engine/control/balance.py).

Per leg, over the stances of walking (0.2-3 s long): the centre-of-pressure (COP) path length and
its AP progression along the sole, the medio-lateral sway (SD of the ML COP within a stance:
only from insoles with medial/lateral cells), the peak load and the load impulse, and double
support (time in the stance with the other foot down, as a share of the gait cycle: a stance
holds both double-support phases of its cycle, so its double support over the stride time is
the cycle's).

Weight-bearing asymmetry: each leg's share of the two legs' mean stance load impulse (body
weight carried times the time it is carried). Below `load_share_min` (41 %) on one leg, i.e.
above 59 % on the other, the legs bear weight asymmetrically (the WBA criterion of standing
posturography; stroke survivors stand with 60.3 +/- 7.1 % on the sound leg). The walking
impulse mixes stance time with load: a leg that stands briefly and takes weight slowly is the
under-loaded one. ML sway has no published walking norm (REFERENCES.md): it is reported, never
judged. The finding itself is findings.detect_weight_bearing.
"""

from __future__ import annotations

import math

import numpy as np

from engine.analysis.session_data import SessionData

SIDES = ("left", "right")
MIN_STANCE_S = 0.2
MAX_STANCE_S = 3.0


def _r(x: float, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def walking_stances(d: SessionData, side: int) -> list[dict]:
    """The stance rows of one leg that the balance measures take: 0.2-3 s long, walking throughout."""
    out = []
    for row in d.stances:
        if row["side"] != side or row["duration_s"] is None:
            continue
        if not MIN_STANCE_S <= row["duration_s"] <= MAX_STANCE_S:
            continue
        if len(d.tel_t_s):
            # walking from its start to its end (toe off): not the stance the patient stood in
            # before the belt started, nor one begun in a stumble response
            k0, k1 = (int(k) for k in np.searchsorted(d.tel_t_s, [row["t_s"] - row["duration_s"], row["t_s"]]))
            if k1 >= len(d.walking) or not d.walking[k0:k1 + 1].all():
                continue
        out.append(row)
    return out


def _median(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r.get(key) is not None and math.isfinite(r[key])]
    return float(np.median(values)) if values else math.nan


def _mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r.get(key) is not None and math.isfinite(r[key])]
    return float(np.mean(values)) if values else math.nan


def balance_summary(d: SessionData) -> dict:
    """Per-leg balance measures and the load shares (module docstring); {} without stance rows."""
    if not d.stances:
        return {}
    stride = d.stride_time_s[np.isfinite(d.stride_time_s)]
    stride_s = float(np.median(stride)) if stride.size else math.nan
    legs = []
    for side in (0, 1):
        rows = walking_stances(d, side)
        ds = _median(rows, "double_support_s")
        legs.append({
            "side": SIDES[side], "stances": len(rows),
            "ml_resolved": bool(rows) and all((r["flags"] or 0) & 1 for r in rows),
            "stance_s": _r(_median(rows, "duration_s"), 3),
            "cop_path_cm": _r(_median(rows, "cop_path_m") * 100, 1),
            "cop_ap_cm": _r(_median(rows, "cop_ap_m") * 100, 1),
            "ml_sway_mm": _r(_median(rows, "cop_ml_sd_m") * 1000, 1),
            "peak_load": _r(_median(rows, "peak_load"), 3),
            "impulse": _mean(rows, "load_impulse"),
            "double_support_pct": _r(ds / stride_s * 100, 1) if math.isfinite(stride_s) and stride_s > 0 else None,
        })
    total = legs[0]["impulse"] + legs[1]["impulse"]
    for leg in legs:
        leg["load_share"] = _r(leg["impulse"] / total, 3) if math.isfinite(total) and total > 0 else None
        leg["impulse"] = _r(leg["impulse"], 4)
    ds = [leg["double_support_pct"] for leg in legs if leg["double_support_pct"] is not None]
    return {"legs": legs, "stride_s": _r(stride_s, 3),
            "double_support_pct": _r(float(np.mean(ds)), 1) if ds else None}
