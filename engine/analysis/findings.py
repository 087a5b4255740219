"""Gait findings of one session: each detector compares a measure with a published norm.

A detector returns a `Finding` whether or not it found anything, so that a report can say
"symmetric", "not measured" or "too few steady strides" as plainly as it names a deviation. The
evidence of a finding holds the numbers (medians per leg, ratios, counts), how many steps or
strides went into them, the norm with its source, and whether that norm was confirmed in the
source (engine/analysis/norms.py). Detectors never change a setting: they describe.

Physiology behind each detector (docs/findings.md has the table):
- asymmetry: Patterson et al. 2008/2010 symmetry ratios (larger over smaller side) of step length,
  step time, stance time and swing time, over steady steps;
- clearance: minimum toe clearance per swing (Winter 1992) per leg, and toe scuffs;
- shuffling: the walk ratio (step length over cadence) is nearly constant across speeds for one
  person (Sekiya & Nagasaki 1998), so it judges steps on a treadmill whose speed is set;
- freezing: trembling in place, runs of fast steps (Moore et al. 2008) that barely progress (Nutt
  et al. 2011), or no step at all while the belt runs (akinesia);
- variability: stride-time CV over steady strides (Hausdorff 2005), SD for older adults (Hausdorff
  et al. 2001);
- double support from the two legs' stance shares: DS = stance_L + stance_R - 1 of the cycle;
- speed: only from a self-selected measure, never from the belt set-point;
- obstacles: share of step-over crossings touched or tripped, per obstacle kind (Chen et al. 1991);
- heart rate: time outside the prescribed zone, or a Karvonen zone (Billinger et al. 2014).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.analysis.balance import balance_summary
from engine.analysis.norms import NORMS, hr_max_tanaka_bpm
from engine.analysis.session_data import SessionData

SIDES = ("left", "right")
MIN_STEPS_PER_SIDE = 8
MIN_STEADY_STRIDES_PER_SIDE = 8
MIN_CROSSINGS_PER_KIND = 2
AKINESIA_BELT_STEPS = 2.0  # an akinetic freeze: the belt carried the feet this many median steps
DETECTORS = ("asymmetry", "low_clearance", "foot_drop", "shuffling", "freezing", "high_variability",
             "long_double_support", "slow_speed", "obstacle_performance", "heart_rate_zone",
             "weight_bearing_asymmetry")


@dataclass
class Finding:
    """One detector's verdict on one session (or a trend over sessions)."""

    key: str  # one of DETECTORS
    title: str
    present: bool  # a deviation from the norm was found
    assessed: bool = True  # False: not enough data or no suitable measure (see `summary`)
    summary: str = ""
    side: int = -1  # 0 left, 1 right, -1 both or n/a
    evidence: dict = field(default_factory=dict)
    norms: list[str] = field(default_factory=list)
    session_ids: list[int] = field(default_factory=list)
    scope: str = "session"

    @property
    def unconfirmed(self) -> bool:
        return any(not NORMS[k].confirmed for k in self.norms)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["norm_text"] = [NORMS[k].describe() for k in self.norms]
        out["unconfirmed"] = self.unconfirmed
        return out


def _finite(a: np.ndarray) -> np.ndarray:
    return a[np.isfinite(a)]


def _r(x: float, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def steady_step_mask(d: SessionData) -> np.ndarray:
    """Steps that fall inside a steady stride of either leg."""
    mask = np.zeros(len(d.step_t_s), dtype=bool)
    for t1, dur, ok in zip(d.stride_t_s, d.stride_time_s, d.stride_steady, strict=True):
        if ok and math.isfinite(dur):
            mask |= (d.step_t_s > t1 - dur + 1e-6) & (d.step_t_s <= t1 + 1e-6)
    return mask


def _steps_for_side_stats(d: SessionData) -> tuple[np.ndarray, str]:
    mask = steady_step_mask(d)
    if all(np.count_nonzero(mask & (d.step_side == s)) >= MIN_STEPS_PER_SIDE for s in (0, 1)):
        return mask, "steady steps"
    return np.ones(len(d.step_t_s), dtype=bool), "all steps (too few steady ones)"


def _ratio(a: float, b: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)) or min(a, b) <= 0:
        return math.nan
    return max(a, b) / min(a, b)


def detect_asymmetry(d: SessionData) -> Finding:
    """Step length, step time, stance and swing time symmetry ratios (Patterson 2008/2010)."""
    f = Finding("asymmetry", "Gait asymmetry", False,
                norms=["step_length_ratio_max", "step_time_ratio_max", "stance_time_ratio_max", "swing_time_ratio_max"],
                session_ids=[d.session_id])
    mask, basis = _steps_for_side_stats(d)
    per = {}
    for s in (0, 1):
        sel = mask & (d.step_side == s)
        per[s] = {"steps": int(np.count_nonzero(sel)),
                  "step_length_m": float(np.median(_finite(d.step_length_m[sel]))) if _finite(d.step_length_m[sel]).size else math.nan,
                  "step_time_s": float(np.median(_finite(d.step_time_s[sel]))) if _finite(d.step_time_s[sel]).size else math.nan}
        ssel = (d.stride_side == s) & (d.stride_steady if np.count_nonzero(d.stride_steady & (d.stride_side == s)) >= MIN_STEADY_STRIDES_PER_SIDE else True)
        stance_t = d.stance_fraction[ssel] * d.stride_time_s[ssel]
        swing_t = (1.0 - d.stance_fraction[ssel]) * d.stride_time_s[ssel]
        per[s]["stance_time_s"] = float(np.median(_finite(stance_t))) if _finite(stance_t).size else math.nan
        per[s]["swing_time_s"] = float(np.median(_finite(swing_t))) if _finite(swing_t).size else math.nan
        per[s]["strides"] = int(np.count_nonzero(ssel))
    if min(per[0]["steps"], per[1]["steps"]) < MIN_STEPS_PER_SIDE:
        f.assessed, f.summary = False, f"too few steps ({per[0]['steps']} left, {per[1]['steps']} right)"
        return f
    measures = []
    for name, key, norm_key in (("step length", "step_length_m", "step_length_ratio_max"),
                                ("step time", "step_time_s", "step_time_ratio_max"),
                                ("stance time", "stance_time_s", "stance_time_ratio_max"),
                                ("swing time", "swing_time_s", "swing_time_ratio_max")):
        lv, rv = per[0][key], per[1][key]
        ratio = _ratio(lv, rv)
        limit = NORMS[norm_key].value
        longer = "left" if lv > rv else "right"
        row = {"measure": name, "left": _r(lv), "right": _r(rv), "ratio": _r(ratio, 3), "limit": limit,
               "larger_side": longer, "asymmetric": bool(math.isfinite(ratio) and ratio > limit)}
        measures.append(row)
    f.evidence = {"basis": basis, "steps_left": per[0]["steps"], "steps_right": per[1]["steps"],
                  "strides_left": per[0]["strides"], "strides_right": per[1]["strides"], "measures": measures}
    bad = [m for m in measures if m["asymmetric"]]
    f.present = bool(bad)
    if bad:
        f.summary = "; ".join(f"{m['measure']} ratio {m['ratio']:.2f} > {m['limit']:.2f} (larger on the {m['larger_side']})" for m in bad)
        # the paretic leg takes the longer swing (Patterson 2008): name that side
        swing = measures[3]
        f.side = 0 if swing["larger_side"] == "left" else 1
    else:
        f.summary = "symmetric: " + ", ".join(f"{m['measure']} {m['ratio']:.2f}" for m in measures if m["ratio"] is not None)
    return f


def _clearance_per_side(d: SessionData) -> dict[int, dict]:
    out = {}
    for s in (0, 1):
        c = _finite(d.toe_clearance_m[d.step_side == s])
        if c.size == 0:
            out[s] = {"swings": 0}
            continue
        out[s] = {"swings": int(c.size), "median_m": float(np.median(c)), "p10_m": float(np.percentile(c, 10)),
                  "scuff_share": float(np.mean(c <= 0.002))}
    return out


def detect_clearance(d: SessionData) -> list[Finding]:
    """Reduced toe clearance and foot drop, per leg (Winter 1992; Santhiranayagam 2015)."""
    per = _clearance_per_side(d)
    low = Finding("low_clearance", "Reduced toe clearance", False, norms=["mtc_reduced_m", "mtc_mean_young_m"],
                  session_ids=[d.session_id])
    drop = Finding("foot_drop", "Foot drop (very low clearance, toe scuffs)", False,
                   norms=["mtc_foot_drop_m", "scuff_share_max"], session_ids=[d.session_id])
    if min(per[0]["swings"], per[1]["swings"]) < MIN_STEPS_PER_SIDE:
        for f in (low, drop):
            f.assessed, f.summary = False, f"too few swings with a clearance ({per[0]['swings']} left, {per[1]['swings']} right)"
        return [low, drop]
    legs = []
    for s in (0, 1):
        p = per[s]
        legs.append({"side": SIDES[s], "swings": p["swings"], "median_cm": _r(p["median_m"] * 100, 2),
                     "p10_cm": _r(p["p10_m"] * 100, 2), "scuff_share": _r(p["scuff_share"], 3),
                     "reduced": p["median_m"] < NORMS["mtc_reduced_m"].value,
                     "foot_drop": p["median_m"] < NORMS["mtc_foot_drop_m"].value or p["scuff_share"] > NORMS["scuff_share_max"].value})
    evidence = {"legs": legs, "norm_cm": f"{NORMS['mtc_mean_young_m'].value * 100:.2f} +/- {NORMS['mtc_sd_young_m'].value * 100:.2f} cm (young)"}
    low.evidence = drop.evidence = evidence
    reduced = [x for x in legs if x["reduced"] or x["foot_drop"]]
    dropped = [x for x in legs if x["foot_drop"]]
    low.present, drop.present = bool(reduced), bool(dropped)
    if reduced:
        low.side = -1 if len(reduced) == 2 else SIDES.index(reduced[0]["side"])
        low.summary = "; ".join(f"{x['side']} median {x['median_cm']:.2f} cm" for x in reduced) + \
            f" (below {NORMS['mtc_reduced_m'].value * 100:.2f} cm)"
    else:
        low.summary = "within norm: " + ", ".join(f"{x['side']} {x['median_cm']:.2f} cm" for x in legs)
    if dropped:
        drop.side = -1 if len(dropped) == 2 else SIDES.index(dropped[0]["side"])
        drop.summary = "; ".join(f"{x['side']}: median {x['median_cm']:.2f} cm, scuffs in {x['scuff_share'] * 100:.0f} % of swings" for x in dropped)
    else:
        drop.summary = "no foot drop"
    return [low, drop]


def detect_shuffling(d: SessionData) -> Finding:
    """Short steps for the cadence: walk ratio below the norm (Sekiya & Nagasaki 1998)."""
    f = Finding("shuffling", "Short shuffling steps", False, norms=["walk_ratio_min_m_per_spm"], session_ids=[d.session_id])
    mask, basis = _steps_for_side_stats(d)
    length = _finite(d.step_length_m[mask])
    time = _finite(d.step_time_s[mask])
    if length.size < 2 * MIN_STEPS_PER_SIDE or time.size < 2 * MIN_STEPS_PER_SIDE:
        f.assessed, f.summary = False, f"too few steps ({length.size})"
        return f
    step_m = float(np.median(length))
    cadence = 60.0 / float(np.median(time))
    wr = step_m / cadence
    limit = NORMS["walk_ratio_min_m_per_spm"].value
    f.evidence = {"basis": basis, "steps": int(length.size), "step_length_m": _r(step_m, 3),
                  "cadence_spm": _r(cadence, 1), "walk_ratio_m_per_spm": _r(wr, 5), "limit": limit,
                  "scuffs_both_legs": None}
    f.present = wr < limit
    f.summary = (f"walk ratio {wr:.4f} m/(steps/min) (step {step_m * 100:.0f} cm at {cadence:.0f} steps/min)"
                 f" {'<' if f.present else '>='} {limit:.4f}")
    return f


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of consecutive True values."""
    out = []
    i, n = 0, len(flags)
    while i < n:
        if not flags[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and flags[j + 1]:
            j += 1
        out.append((i, j))
        i = j + 1
    return out


def detect_freezing(d: SessionData) -> Finding:
    """Freezing episodes: runs of fast, very short steps, or no step while the belt runs. Over the
    whole session, stumble responses included: a freeze is an event of the session like a trip
    (a stumble response slows the belt, it does not end a freeze; trembling feet may even raise
    one), and neither criterion is met by slower protective walking (longer, not faster, steps)."""
    f = Finding("freezing", "Freezing of gait", False,
                norms=["freeze_step_time_share", "freeze_step_length_share", "freeze_min_duration_s"],
                session_ids=[d.session_id])
    whole = d.whole_steps if d.whole_steps else {"t_s": d.step_t_s, "time_s": d.step_time_s, "length_m": d.step_length_m}
    walking = d.whole_walking if d.whole_walking is not None else d.walking
    n = len(whole["t_s"])
    if n < 2 * MIN_STEPS_PER_SIDE:
        f.assessed, f.summary = False, f"too few steps ({n})"
        return f
    order = np.argsort(whole["t_s"], kind="stable")
    t = whole["t_s"][order]
    st = whole["time_s"][order]
    sl = whole["length_m"][order]
    # the patient's own step as the reference: the steps outside stumble responses where there
    # are enough (a response's protective crawl takes 1.2-1.5 s steps: rig, parkinsonian seed 1,
    # 23 responses, whole-session median step 0.89 s against 0.47 s outside them)
    ref_t, ref_l = (d.step_time_s, d.step_length_m) if _finite(d.step_time_s).size >= 2 * MIN_STEPS_PER_SIDE else (st, sl)
    med_t = float(np.median(_finite(ref_t)))
    med_l = float(np.median(_finite(ref_l))) if _finite(ref_l).size else math.nan
    k_t = NORMS["freeze_step_time_share"].value
    k_l = NORMS["freeze_step_length_share"].value
    fast = np.isfinite(st) & (st < k_t * med_t)
    short = np.isfinite(sl) & (sl < k_l * med_l) if math.isfinite(med_l) else np.ones(n, dtype=bool)
    episodes = []
    for i, j in _runs(fast):
        # A freeze is the "absence or marked reduction of forward progression of the feet" (Nutt
        # et al. 2011, Lancet Neurol 10:734), a property of the episode, not of each step: a
        # trembling foot on a running belt lands wherever the belt has carried the other heel,
        # so one step of the run may measure long (rig, parkinsonian-freezing seed 1: 7 steps at
        # 0.225 s of 0.6, -5.3, 24.1, 3.3, 7.9, 13.5 and 11.4 cm against a median 47.5 cm). So a
        # run of trembling-fast steps counts when its mean step length (its progression per
        # step) is below the share; a run that progresses more still holds any sub-run of steps
        # that are each fast and short.
        lengths = sl[i:j + 1][np.isfinite(sl[i:j + 1])]
        whole_run_short = (lengths.size > 0 and float(lengths.mean()) < k_l * med_l) if math.isfinite(med_l) else True
        for a, b in ([(i, j)] if whole_run_short else [(i + a, i + b) for a, b in _runs(short[i:j + 1])]):
            start = t[a] - st[a]
            duration = t[b] - start
            if b - a + 1 >= 3 and duration >= NORMS["freeze_min_duration_s"].value:
                run = sl[a:b + 1][np.isfinite(sl[a:b + 1])]
                episodes.append({"t_s": _r(start, 2), "duration_s": _r(duration, 2), "steps": int(b - a + 1),
                                 "kind": "trembling",
                                 "mean_step_length_m": _r(float(run.mean()), 3) if run.size else None})
    # akinesia: no heel strike for more than 3 median step times while the belt ran and carried
    # the stance foot back by more than AKINESIA_BELT_STEPS median steps: no forward progression
    # of the feet despite the walking surface's (Nutt et al. 2011's definition of freezing). The
    # distance keeps a crawl on a belt slowed to a protective speed (long, slow steps) from
    # reading as a freeze; the time keeps one missed heel strike (two step times) from doing so.
    if len(d.tel_t_s) and math.isfinite(med_l):
        dt = np.diff(d.tel_t_s, prepend=d.tel_t_s[0])
        belt_m = np.cumsum(np.where(np.isfinite(d.belt_speed_mps), d.belt_speed_mps, 0.0) * dt)
        for a, b in zip(t[:-1], t[1:], strict=True):
            if b - a > max(3.0 * med_t, NORMS["freeze_min_duration_s"].value):
                i0, i1 = np.searchsorted(d.tel_t_s, [a, b])
                carried = float(belt_m[min(i1, len(belt_m)) - 1] - belt_m[i0]) if i1 > i0 else 0.0
                if i1 > i0 and walking[i0:i1].all() and carried > AKINESIA_BELT_STEPS * med_l:
                    episodes.append({"t_s": _r(a, 2), "duration_s": _r(b - a, 2), "steps": 0, "kind": "akinetic",
                                     "belt_m": _r(carried, 2)})
    episodes.sort(key=lambda e: e["t_s"])
    durations = [e["duration_s"] for e in episodes]
    f.evidence = {"steps": n, "median_step_time_s": _r(med_t, 3), "median_step_length_m": _r(med_l, 3),
                  "episodes": episodes, "count": len(episodes),
                  "total_s": _r(sum(durations), 2) if durations else 0.0,
                  "longest_s": max(durations) if durations else 0.0,
                  "classes": {"under_2_s": sum(x < 2 for x in durations), "2_to_5_s": sum(2 <= x <= 5 for x in durations),
                              "over_5_s": sum(x > 5 for x in durations)}}
    f.present = bool(episodes)
    f.summary = (f"{len(episodes)} episode(s): " + ", ".join(f"{e['duration_s']:.1f} s at {e['t_s']:.0f} s" for e in episodes[:8])
                 if episodes else "no freezing episode")
    return f


def detect_variability(d: SessionData) -> Finding:
    """Stride-time variability over steady strides against the age norm."""
    age = d.age_years
    older = age is not None and age >= 70
    f = Finding("high_variability", "Stride-time variability above the age norm", False,
                norms=["stride_sd_older_max_s" if older else "stride_cv_adult_max_pct"], session_ids=[d.session_id])
    per = []
    for s in (0, 1):
        sel = d.stride_steady & (d.stride_side == s)
        x = _finite(d.stride_time_s[sel])
        per.append({"side": SIDES[s], "steady_strides": int(x.size),
                    "cv_pct": _r(float(x.std(ddof=1) / x.mean() * 100), 2) if x.size >= 3 else None,
                    "sd_s": _r(float(x.std(ddof=1)), 4) if x.size >= 3 else None,
                    "mean_s": _r(float(x.mean()), 3) if x.size else None})
    total = sum(p["steady_strides"] for p in per)
    f.evidence = {"legs": per, "steady_strides": total, "all_strides": int(len(d.stride_t_s)),
                  "age_years": age, "norm": "older adults (>= 70 y): stride-time SD" if older else
                  ("adults: stride-time CV" + ("" if age is not None else " (age not recorded: adult norm)"))}
    if min(p["steady_strides"] for p in per) < MIN_STEADY_STRIDES_PER_SIDE:
        f.assessed, f.summary = False, f"too few steady strides ({per[0]['steady_strides']} left, {per[1]['steady_strides']} right)"
        return f
    if older:
        value = float(np.mean([p["sd_s"] for p in per]))
        limit = NORMS["stride_sd_older_max_s"].value
        f.present = value > limit
        f.summary = f"stride-time SD {value * 1000:.0f} ms {'>' if f.present else '<='} {limit * 1000:.0f} ms over {total} steady strides"
    else:
        value = float(np.mean([p["cv_pct"] for p in per]))
        limit = NORMS["stride_cv_adult_max_pct"].value
        f.present = value > limit
        f.summary = f"stride-time CV {value:.1f} % {'>' if f.present else '<='} {limit:.1f} % over {total} steady strides"
    f.evidence["value"] = _r(value, 4)
    f.evidence["limit"] = limit
    return f


def detect_double_support(d: SessionData) -> Finding:
    """Double support share of the gait cycle (Perry & Burnfield): the time both feet bear weight,
    from the insoles' stances where they exist (a dragging toe is not support: balance.py);
    otherwise from both legs' stance shares, DS = stance_L + stance_R - 1 (where a toe that drags
    into the swing still counts as stance)."""
    f = Finding("long_double_support", "Long double support", False,
                norms=["double_support_max_pct", "double_support_normal_pct"], session_ids=[d.session_id])
    stance = []
    for s in (0, 1):
        sel = (d.stride_side == s) & d.stride_steady
        if np.count_nonzero(sel) < MIN_STEADY_STRIDES_PER_SIDE:
            sel = d.stride_side == s
        x = _finite(d.stance_fraction[sel])
        stance.append((float(np.median(x)) if x.size else math.nan, int(x.size)))
    summary = balance_summary(d)
    insole_legs = summary.get("legs", []) if summary else []
    insoles = (len(insole_legs) == 2 and summary.get("double_support_pct") is not None
               and min(leg["stances"] for leg in insole_legs) >= MIN_STEPS_PER_SIDE)
    if not insoles and min(n for _, n in stance) < MIN_STEADY_STRIDES_PER_SIDE:
        f.assessed, f.summary = False, f"too few strides ({stance[0][1]} left, {stance[1][1]} right)"
        return f
    shares_ds = (stance[0][0] + stance[1][0] - 1.0) * 100.0
    ds = float(summary["double_support_pct"]) if insoles else shares_ds
    limit = NORMS["double_support_max_pct"].value
    f.evidence = {"stance_left_pct": _r(stance[0][0] * 100, 1), "stance_right_pct": _r(stance[1][0] * 100, 1),
                  "strides_left": stance[0][1], "strides_right": stance[1][1], "double_support_pct": _r(ds, 1),
                  "basis": "both insoles bearing weight" if insoles else "stance shares L + R - 1",
                  "stance_shares_double_support_pct": _r(shares_ds, 1),
                  "limit_pct": limit, "normal_pct": NORMS["double_support_normal_pct"].value}
    if insoles:
        f.evidence["insole_stances"] = [leg["stances"] for leg in insole_legs]
        f.evidence["insole_double_support_pct"] = summary["double_support_pct"]
    f.present = ds > limit
    f.summary = f"double support {ds:.0f} % of the gait cycle ({'>' if f.present else '<='} {limit:.0f} %; textbook 20 %)"
    return f


def speed_class(speed_mps: float) -> str:
    """Perry et al. 1995 ambulation class."""
    if speed_mps < NORMS["speed_household_mps"].value:
        return "household"
    if speed_mps < NORMS["speed_limited_mps"].value:
        return "limited community"
    return "community"


def detect_slow_speed(d: SessionData) -> Finding:
    """Slow self-selected speed with its class; 'not measured' without a self-selected measure."""
    f = Finding("slow_speed", "Slow self-selected speed", False,
                norms=["speed_risk_mps", "speed_limited_mps", "speed_household_mps"], session_ids=[d.session_id])
    v = d.self_selected_speed_mps
    if v is None:
        f.assessed = False
        f.summary = "not measured: no self-selected speed in this session (the belt set-point is not one)"
        return f
    cls = speed_class(v)
    f.evidence = {"self_selected_speed_mps": _r(v, 3), "source": d.self_selected_speed_source, "class": cls,
                  "risk_below_mps": NORMS["speed_risk_mps"].value}
    f.present = v < NORMS["speed_risk_mps"].value
    f.summary = f"{v:.2f} m/s self-selected: {cls} walker" + (" (below 1.0 m/s: higher risk)" if f.present else "")
    return f


def unsteppable_hazards(d: SessionData) -> dict[int, dict]:
    """The scene's flat hazards (a puddle) that no step of this session could cross: obstacle
    index -> its length, the step it needs and the longest step. Stepping over a flat hazard takes
    one step from before its near edge to beyond its far edge, its length plus a foot length (the
    rule of engine/analysis/progression.py, FLAT_HAZARD_KINDS); a longer one on a treadmill's lane
    can only be walked through. Stepping in it then says nothing of how the patient crosses
    obstacles: Chen et al. 1991 count stepping on an obstacle the walker steps over."""
    from engine.analysis.progression import FOOT_PER_LEG_LENGTH, _flat_hazard_lengths

    flat = _flat_hazard_lengths(d.scene_id)
    if not flat:
        return {}
    lengths = d.step_length_m[np.isfinite(d.step_length_m)] if len(d.step_length_m) else np.zeros(0)
    longest_m = float(lengths.max()) if len(lengths) else math.nan
    foot_m = FOOT_PER_LEG_LENGTH * max(float(d.prescription.get("leg_length_l_m") or 0.9),
                                       float(d.prescription.get("leg_length_r_m") or 0.9))
    return {i: {"length_m": _r(length, 2), "step_needed_m": _r(length + foot_m, 2), "longest_step_m": _r(longest_m, 2)}
            for i, length in flat.items() if not longest_m >= length + foot_m}


def detect_obstacles(d: SessionData) -> Finding:
    """Share of step-over crossings touched or tripped, per obstacle kind (Chen et al. 1991);
    crossings of a flat hazard no step of the session could cross are left out (named)."""
    f = Finding("obstacle_performance", "Poor obstacle performance", False, norms=["obstacle_fail_share_max"],
                session_ids=[d.session_id])
    unsteppable = unsteppable_hazards(d) if d.obstacle_results else {}
    by_kind: dict[str, list[dict]] = {}
    left_out: dict[int, dict] = {}
    for r in d.obstacle_results:
        if r["obstacle"] in unsteppable:
            row = left_out.setdefault(r["obstacle"], {"obstacle": r["obstacle"], "kind": r["kind"], "crossings": 0,
                                                      **unsteppable[r["obstacle"]]})
            row["crossings"] += 1
            continue
        by_kind.setdefault(r["kind"], []).append(r)
    if not by_kind:
        f.assessed, f.summary = False, "no step-over obstacle in this session"
        if left_out:
            f.summary += " that a step could cross (" + _left_out_text(left_out) + ")"
            f.evidence = {"left_out": list(left_out.values())}
        return f
    limit = NORMS["obstacle_fail_share_max"].value
    kinds = []
    for kind, rows in sorted(by_kind.items()):
        failed = [r for r in rows if r["failed"]]
        share = len(failed) / len(rows)
        margins = [r["margin_m"] for r in rows if r["margin_m"] is not None and math.isfinite(r["margin_m"])]
        per_side = {SIDES[s]: sum(1 for r in failed if r["side"] == s) for s in (0, 1)}
        kinds.append({"kind": kind, "crossings": len(rows), "failed": len(failed), "fail_share": _r(share, 3),
                      "median_margin_cm": _r(float(np.median(margins)) * 100, 1) if margins else None,
                      "failed_by_side": per_side,
                      "poor": len(rows) >= MIN_CROSSINGS_PER_KIND and share > limit})
    f.evidence = {"kinds": kinds, "limit_share": _r(limit, 3)}
    if left_out:
        f.evidence["left_out"] = list(left_out.values())
    poor = [k for k in kinds if k["poor"]]
    f.present = bool(poor)
    if poor:
        f.summary = "; ".join(f"{k['kind']}: {k['failed']} of {k['crossings']} crossings touched or tripped" for k in poor)
        sides = [s for s in (0, 1) if sum(k["failed_by_side"][SIDES[s]] for k in poor) > 0]
        f.side = sides[0] if len(sides) == 1 else -1
    else:
        f.summary = "obstacles crossed within norm: " + ", ".join(f"{k['kind']} {k['failed']}/{k['crossings']}" for k in kinds)
    if left_out:
        f.summary += "; left out: " + _left_out_text(left_out)
    return f


def _left_out_text(left_out: dict[int, dict]) -> str:
    def m(x: float | None) -> str:
        return "unknown" if x is None else f"{x:.2f} m"

    return ", ".join(f"{v['kind']} {m(v['length_m'])} ({v['crossings']} crossings: a step over it needs "
                     f"{m(v['step_needed_m'])}, the longest step was {m(v['longest_step_m'])})" for v in left_out.values())


def heart_rate_zone(d: SessionData) -> tuple[float, float, str] | None:
    """(low, high, how) in bpm: prescribed zone, or Karvonen 40-70 % HRR from rest and max."""
    rx = d.prescription
    low, high = rx.get("hr_zone_low_bpm"), rx.get("hr_zone_high_bpm")
    if low and high:
        return float(low), float(high), "prescribed zone"
    hr_max = rx.get("max_heart_rate_bpm") or 0.0  # the prescription's limit (0: none set)
    how = "prescribed limit"
    if not hr_max and d.age_years is not None:
        hr_max, how = hr_max_tanaka_bpm(d.age_years), "age-predicted maximum (Tanaka 2001)"
    rest = rx.get("hr_rest_bpm")
    if not rest and len(d.heart_rate_bpm):
        samples = d.heart_rate_bpm[d.heart_rate_bpm > 0]
        # the session's 5th percentile, as the report's heart-rate zones take it (docs/records.md)
        rest = float(np.percentile(samples, 5)) if samples.size else None
    if not hr_max or not rest:
        return None
    reserve = float(hr_max) - float(rest)
    return (float(rest) + NORMS["hrr_low"].value * reserve, float(rest) + NORMS["hrr_high"].value * reserve,
            f"Karvonen 40-70 % of heart-rate reserve ({how} {float(hr_max):.0f} bpm, rest {float(rest):.0f} bpm)")


def detect_heart_rate(d: SessionData) -> Finding:
    """Time above or below the heart-rate zone while walking."""
    f = Finding("heart_rate_zone", "Heart rate outside the zone", False, norms=["hrr_low", "hrr_high", "hr_out_share_max"],
                session_ids=[d.session_id])
    hr = d.heart_rate_bpm[d.walking] if len(d.heart_rate_bpm) else np.zeros(0)
    hr = hr[np.isfinite(hr) & (hr > 0)]
    if hr.size == 0:
        f.assessed, f.summary = False, "no heart-rate samples while walking"
        return f
    zone = heart_rate_zone(d)
    if zone is None:
        f.assessed, f.summary = False, "no zone: the prescription has no heart-rate limit and the age is not recorded"
        return f
    low, high, how = zone
    above = float(np.mean(hr > high))
    below = float(np.mean(hr < low))
    limit = NORMS["hr_out_share_max"].value
    f.evidence = {"zone_bpm": [_r(low, 0), _r(high, 0)], "zone_from": how, "median_bpm": _r(float(np.median(hr)), 0),
                  "max_bpm": _r(float(hr.max()), 0), "above_share": _r(above, 3), "below_share": _r(below, 3),
                  "samples": int(hr.size)}
    parts = []
    if above > limit:
        parts.append(f"above {high:.0f} bpm for {above * 100:.0f} % of walking (max {hr.max():.0f})")
    if below > 0.5:
        parts.append(f"below {low:.0f} bpm for {below * 100:.0f} % of walking (training stimulus low)")
    f.present = bool(parts)
    f.evidence["direction"] = "above" if above > limit else ("below" if below > 0.5 else "")
    f.summary = "; ".join(parts) if parts else f"in zone {low:.0f}-{high:.0f} bpm (median {np.median(hr):.0f})"
    return f


def detect_weight_bearing(d: SessionData) -> Finding:
    """Weight-bearing asymmetry from the legs' stance load impulse shares (engine/analysis/balance.py)."""
    f = Finding("weight_bearing_asymmetry", "Weight-bearing asymmetry", False,
                norms=["load_share_min", "load_share_mdc"], session_ids=[d.session_id])
    summary = balance_summary(d)
    if not summary:
        f.assessed, f.summary = False, "no per-stance insole load in this session (insoles absent or older records)"
        return f
    legs = summary["legs"]
    f.evidence = summary
    if min(leg["stances"] for leg in legs) < MIN_STEPS_PER_SIDE or any(leg["load_share"] is None for leg in legs):
        f.assessed = False
        f.summary = f"too few stances ({legs[0]['stances']} left, {legs[1]['stances']} right)"
        return f
    limit = NORMS["load_share_min"].value
    low = min((0, 1), key=lambda s: legs[s]["load_share"])
    share = legs[low]["load_share"]
    f.evidence["limit_share"] = limit
    f.present = share < limit
    f.side = low if f.present else -1
    f.summary = (f"{SIDES[low]} leg carries {share * 100:.0f} % of the stance load "
                 f"({'<' if f.present else '>='} {limit * 100:.0f} %; peak load {legs[low]['peak_load']:.2f} vs "
                 f"{legs[1 - low]['peak_load']:.2f} of standing)")
    return f


def analyse_session(d: SessionData) -> list[Finding]:
    """Every detector on one session, in DETECTORS order."""
    out = [detect_asymmetry(d), *detect_clearance(d), detect_shuffling(d), detect_freezing(d),
           detect_variability(d), detect_double_support(d), detect_slow_speed(d), detect_obstacles(d),
           detect_heart_rate(d)]
    out.append(detect_weight_bearing(d))
    if d.protective_windows:
        left_out = {"windows_s": [[_r(a, 1), _r(b, 1)] for a, b in d.protective_windows], **d.excluded}
        for f in out:
            if f.key not in ("obstacle_performance", "heart_rate_zone", "slow_speed", "freezing"):
                f.evidence["stumble_responses_left_out"] = left_out
    # shuffling is short steps that also scuff: add clearance of both legs to its evidence
    clear = next(x for x in out if x.key == "low_clearance")
    shuffle = next(x for x in out if x.key == "shuffling")
    if clear.assessed and shuffle.assessed:
        shuffle.evidence["scuffs_both_legs"] = clear.present and clear.side == -1
    return out
