"""Findings benchmark: `python -m bench findings [--quick] [--profiles DIR] --json`.

Simulated sessions (`engine.sim`: the real control core on a simulated clock, the rig's patient
model) of every labelled profile (devices/sim/patients/, or every YAML in DIR) over several seeds
and two scenes with step-over obstacles and doorways, in assessment conditions: the exoskeleton
transparent (guidance 0, `ASSESSMENT_GUIDANCE`: the labels describe the patient's own gait, and
guidance pulls the legs toward the core's reference gait). A therapist attends (acknowledges
every alarm 5 s after it shows: `Attendant`); each recorded session is analysed exactly as a
clinic's would be (engine/analysis reads it back from the database) and each detector's verdict
is compared with the ground truth:

| detector | ground truth |
| --- | --- |
| asymmetry, shuffling, high_variability | the profile's label of that name |
| low_clearance | label low_clearance, foot_drop_left or foot_drop_right |
| foot_drop_left / foot_drop_right | label foot_drop_left / foot_drop_right (and the finding on that leg) |
| freezing | the rig's truth holds an episode >= 1 s in this session (with or without the label: listed as a contradiction without it); sessions of a freezing profile with no such episode are left out |
| long_double_support | the rig's true heel strikes and toe offs: median stance L + R - 1 > 30 % of the cycle |
| obstacle_performance | the rig's true crossings: some obstacle kind touched or tripped in > 4/24 of >= 2 leg crossings (a flat hazard longer than the longest true step minus the foot left out: no step could cross it) |
| slow_speed | not scored: simulated sessions hold no self-selected speed measure (the detector says "not measured") |
| heart_rate_zone | scored only where the prescription carries a heart-rate zone or limit |
| weight_bearing_asymmetry | the rig's true load under each foot: one leg's share of the two legs' mean stance impulse < 41 % |

A label is its author's claim about the patient's own gait; a session may not show it. For the
labelled detectors (asymmetry, low_clearance, foot_drop_*, shuffling, high_variability) the
rig's ground truth is judged by the detector's own published threshold (`physiology_truth`: the
true MTC per swing, the true steps, heel strikes and toe offs, the true stride times of the
strides the findings took as steady; asymmetry and shuffling over the rig's steps and strides at
the heel strikes the detectors took); where it disagrees with the label, the session is scored
against that truth, not the label (a detector that fires on a patient who truly does not deviate
is a false alarm, whatever the profile's author wrote), and listed (`FINDING.label_contradicted`,
`label_contradictions` with the label, the truth and its figures).

Rerunning and rescoring: `STEPSYNC_FINDINGS_SESSIONS=PROFILE:SEED,...` runs only those sessions
(as `misclassified` names them); `STEPSYNC_FINDINGS_KEEP=DIR` keeps each session's database and the
rig's truth in DIR, and `python -m bench.findings --rescore DIR` scores the kept sessions again
with the findings as they are now (a detector change needs no new simulation).

Keys: `FINDING.sensitivity`, `FINDING.specificity` (null where a class has no session),
`FINDING.positives`, `FINDING.negatives`, `FINDING.unassessed`, `FINDING.label_contradicted`,
`min_sensitivity`, `min_specificity` (over the scored detectors; targets >= 0.90 each),
`suggestions_per_finding` (mean suggestions per present finding), `sessions`,
`sessions_with_stumble_response`, `misclassified`, `label_contradictions`, `wall_s`.
"""

from __future__ import annotations

import bisect
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCUFF_M = 0.002  # a swing whose MTC is at most this scuffs (engine/analysis/findings.py)
MIN_TRUE_SWINGS = 8  # the rig's truth judges a leg from at least this many swings, steps or strides
SCENES = ("grocery-weekday-errands", "sidewalk-curb-crossing")
FINDINGS = ("asymmetry", "low_clearance", "foot_drop_left", "foot_drop_right", "shuffling", "freezing",
            "high_variability", "long_double_support", "obstacle_performance", "slow_speed", "heart_rate_zone",
            "weight_bearing_asymmetry")


def profile_paths(profiles_dir: str | Path | None) -> list[Path]:
    """Every profile YAML to run (shipped ones by default)."""
    folder = Path(profiles_dir) if profiles_dir else ROOT / "devices" / "sim" / "patients"
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not paths:
        raise ValueError(f"{folder}: no profile YAML files")
    return paths


def _outside(t_s: float, windows) -> bool:
    return not any(a <= t_s <= b for a, b in windows)


def true_double_support_pct(truth: dict, windows=()) -> float:
    """Median stance share per leg from the rig's true heel strikes and toe offs, summed minus 1
    (strides ending inside a stumble response left out, as the findings leave them out)."""
    stance = []
    for side in (0, 1):
        hs = sorted(e["t_s"] for e in truth.get("heel_strikes", []) if e["side"] == side)
        to = sorted(e["t_s"] for e in truth.get("toe_offs", []) if e["side"] == side)
        shares = []
        for a, b in zip(hs[:-1], hs[1:], strict=True):
            offs = [t for t in to if a < t < b]
            if offs and 0.3 < b - a < 3.0 and _outside(b, windows):
                shares.append((offs[0] - a) / (b - a))
        stance.append(statistics.median(shares) if shares else math.nan)
    return (stance[0] + stance[1] - 1.0) * 100.0


def true_unsteppable(truth: dict) -> set[int]:
    """The rig's flat hazards (a puddle) longer than the patient's longest true step minus the true
    foot (heel to toe): no step could cross them, so stepping in one is no obstacle failure
    (engine/analysis/findings.py unsteppable_hazards, from the core's steps and the prescription)."""
    from engine.analysis.progression import FLAT_HAZARD_KINDS

    geometry = truth.get("geometry", {})
    foot_m = float(geometry.get("foot_length_m", 0.0)) + float(geometry.get("heel_to_ankle_m", 0.0))
    longest_m = max((float(s["length_m"]) for s in truth.get("steps", []) if math.isfinite(s.get("length_m", math.nan))),
                    default=math.nan)
    return {int(o["obstacle"]) for o in truth.get("obstacles", [])
            if o.get("kind") in FLAT_HAZARD_KINDS and not longest_m >= float(o["depth_m"]) + foot_m}


def true_poor_obstacles(truth: dict, limit: float) -> bool | None:
    """Some obstacle kind failed (touched/tripped) in more than `limit` of its >= 2 leg crossings
    (crossings of a flat hazard no step could cross left out: `true_unsteppable`)."""
    by_kind: dict[str, list[bool]] = {}
    unsteppable = true_unsteppable(truth)
    for c in truth.get("crossings", []):
        if c.get("outcome") in ("cleared", "touched", "tripped") and c.get("obstacle") not in unsteppable:
            by_kind.setdefault(c["kind"], []).append(c["outcome"] != "cleared")
    if not by_kind:
        return None
    return any(len(v) >= 2 and sum(v) / len(v) > limit for v in by_kind.values())


def true_load_share(truth: dict, windows=()) -> float:
    """The less-loaded leg's share of the two legs' mean true stance impulse (nan without stances):
    stances of walking, as the findings take them (engine/analysis/balance.py): begun after the
    first heel strike (the stance the patient stood in before the belt started is not one) and
    neither begun nor ended in a stumble response."""
    first_hs = min((e["t_s"] for e in truth.get("heel_strikes", [])), default=math.inf)
    mean = []
    for side in (0, 1):
        imp = [st["impulse_ns"] for st in truth.get("stances", [])
               if st["side"] == side and 0.2 <= st.get("duration_s", 0.0) <= 3.0 and st["t_s"] >= first_hs - 0.05
               and _outside(st["t_s"], windows) and _outside(st["t_s"] + st["duration_s"], windows)]
        mean.append(statistics.mean(imp) if len(imp) >= 4 else math.nan)
    total = mean[0] + mean[1]
    return min(mean) / total if total > 0 else math.nan


def _true_clearance(truth: dict, windows=()) -> dict[int, tuple[float, float, int]]:
    """Per leg: (median MTC m, share of swings scuffing <= 0.2 cm, swings) from the rig's swings
    (MTC floored at 0, as the core reports a scraping toe), outside stumble responses."""
    out = {}
    for side in (0, 1):
        c = [max(0.0, s["signed_clearance_m"]) for s in truth.get("toe_clearance", [])
             if s["side"] == side and _outside(s["heel_strike_t_s"], windows)]
        out[side] = (statistics.median(c), sum(x <= SCUFF_M for x in c) / len(c), len(c)) if c else (math.nan, math.nan, 0)
    return out


MATCH_S = 0.1  # a recorded step or stride is the rig's one whose heel strike lies this close


def _matched(t_s: float, side: int, used: dict[int, list[float]] | None) -> bool:
    """Whether the rig's heel strike (t_s, side) is one of the steps/strides a detector used
    (None: no selection, every one counts)."""
    if used is None:
        return True
    times = used.get(side, [])
    k = bisect.bisect_left(times, t_s)
    return any(abs(times[i] - t_s) < MATCH_S for i in (k - 1, k) if 0 <= i < len(times))


def _by_side(pairs) -> dict[int, list[float]] | None:
    if pairs is None:
        return None
    out: dict[int, list[float]] = {0: [], 1: []}
    for t_s, side in pairs:
        out.setdefault(int(side), []).append(float(t_s))
    return {k: sorted(v) for k, v in out.items()}


def _true_stance_swing(truth: dict, windows=(), used: dict[int, list[float]] | None = None) -> dict[int, tuple[float, float]]:
    """Per leg: median (stance s, swing s) from the rig's heel strikes and toe offs (of the strides
    ending at a heel strike in `used`, by side, where given)."""
    out = {}
    for side in (0, 1):
        hs = sorted(e["t_s"] for e in truth.get("heel_strikes", []) if e["side"] == side)
        to = sorted(e["t_s"] for e in truth.get("toe_offs", []) if e["side"] == side)
        stance, swing = [], []
        for a, b in zip(hs[:-1], hs[1:], strict=True):
            offs = [t for t in to if a < t < b]
            if offs and 0.3 < b - a < 3.0 and _outside(b, windows) and _matched(b, side, used):
                stance.append(offs[0] - a)
                swing.append(b - offs[0])
        out[side] = (statistics.median(stance), statistics.median(swing)) if stance else (math.nan, math.nan)
    return out


def physiology_truth(truth: dict, windows=(), steady=(), steps_used=None,
                     strides_used=None) -> dict[str, tuple[bool, str] | None]:
    """What the simulated patient really did in this session, judged by each labelled detector's
    own published threshold on the rig's ground truth (not on the core's measures): (deviates,
    the figures), None where the truth holds too little to say. `steady`: (t_s, side) of the
    strides the findings took as steady (variability is judged over the same strides);
    `steps_used` / `strides_used`: (t_s, side) of the steps and strides the asymmetry and
    shuffling detectors took (steady ones, or all where too few were steady). The truth of those
    is judged over the rig's own steps and strides at the same heel strikes, so that a patient
    near a cut-off is not judged on other strides than the detector's (a median of other
    strides differs by sampling alone); where fewer than MIN_TRUE_SWINGS per leg match, over all.

    A profile's label is its author's claim about the patient's own gait; what a session shows
    can differ (the exoskeleton's guidance moves the legs toward its reference gait, a profile's
    parameters may sit on the other side of a published cut-off than its label). Such a session
    is scored against this truth and listed (`label_contradicted`)."""
    from engine.analysis.norms import NORMS

    out: dict[str, tuple[bool, str] | None] = {}
    clear = _true_clearance(truth, windows)
    legs = {}
    for side in (0, 1):
        med, scuff, n = clear[side]
        if n < MIN_TRUE_SWINGS:
            legs[side] = None
            continue
        drop = med < NORMS["mtc_foot_drop_m"].value or scuff > NORMS["scuff_share_max"].value
        legs[side] = (drop, med < NORMS["mtc_reduced_m"].value or drop, f"MTC {med * 100:.2f} cm, scuffs {scuff:.0%}")
    for side, key in ((0, "foot_drop_left"), (1, "foot_drop_right")):
        out[key] = None if legs[side] is None else (legs[side][0], legs[side][2])
    out["low_clearance"] = None if None in legs.values() else (
        legs[0][1] or legs[1][1], f"left {legs[0][2]}; right {legs[1][2]}")
    steps = [s for s in truth.get("steps", []) if _outside(s["t_s"], windows) and not s.get("frozen")]
    used = _by_side(steps_used)
    chosen = [s for s in steps if _matched(s["t_s"], s["side"], used)]
    if min(sum(1 for s in chosen if s["side"] == side) for side in (0, 1)) >= MIN_TRUE_SWINGS:
        steps = chosen
    per = {side: [s for s in steps if s["side"] == side] for side in (0, 1)}
    if min(len(v) for v in per.values()) >= MIN_TRUE_SWINGS:
        length = statistics.median(s["length_m"] for s in steps)
        cadence = 60.0 / statistics.median(s["time_s"] for s in steps)
        out["shuffling"] = (length / cadence < NORMS["walk_ratio_min_m_per_spm"].value,
                            f"walk ratio {length / cadence:.4f} m/(steps/min)")
        strides = _by_side(strides_used)
        timing = _true_stance_swing(truth, windows, strides)
        if strides is not None and any(math.isnan(x) for leg in timing.values() for x in leg):
            timing = _true_stance_swing(truth, windows)
        ratios = {
            "step length": _ratio(*(statistics.median(s["length_m"] for s in per[k]) for k in (0, 1))),
            "step time": _ratio(*(statistics.median(s["time_s"] for s in per[k]) for k in (0, 1))),
            "stance time": _ratio(timing[0][0], timing[1][0]),
            "swing time": _ratio(timing[0][1], timing[1][1]),
        }
        limits = {"step length": "step_length_ratio_max", "step time": "step_time_ratio_max",
                  "stance time": "stance_time_ratio_max", "swing time": "swing_time_ratio_max"}
        out["asymmetry"] = (any(r > NORMS[limits[k]].value for k, r in ratios.items() if math.isfinite(r)),
                            ", ".join(f"{k} {r:.2f}" for k, r in ratios.items()))
    else:
        out["shuffling"] = out["asymmetry"] = None
    # stride times of the findings' steady strides, from the rig's own heel strikes
    cvs = []
    for side in (0, 1):
        hs = sorted(e["t_s"] for e in truth.get("heel_strikes", []) if e["side"] == side)
        times = []
        for t_s, s in steady:
            if s != side or not hs:
                continue
            k = min(range(len(hs)), key=lambda i: abs(hs[i] - t_s))
            if k > 0 and abs(hs[k] - t_s) < 0.1:
                times.append(hs[k] - hs[k - 1])
        if len(times) >= MIN_TRUE_SWINGS:
            cvs.append(statistics.stdev(times) / statistics.mean(times) * 100.0)
    out["high_variability"] = (statistics.mean(cvs) > NORMS["stride_cv_adult_max_pct"].value,
                               f"stride-time CV {statistics.mean(cvs):.1f} %") if len(cvs) == 2 else None
    return out


def _ratio(a: float, b: float) -> float:
    return max(a, b) / min(a, b) if math.isfinite(a) and math.isfinite(b) and min(a, b) > 0 else math.nan


def true_freezes(truth: dict) -> list[dict]:
    """The rig's freezing episodes long enough to count (>= freeze_min_duration_s, Mancini 2021)."""
    from engine.analysis.norms import NORMS

    return [f for f in truth.get("freezing", []) if f.get("duration_s", 0.0) >= NORMS["freeze_min_duration_s"].value]


def ground_truth(labels: set[str], truth: dict, windows=()) -> dict[str, bool | None]:
    """Per finding: True/False, or None where this session cannot be scored for it. `windows`:
    the session's stumble responses (session_data.protective_windows), left out of the truths
    measured from the rig as the findings leave them out of the records."""
    from engine.analysis.norms import NORMS

    # what happened, not the label's claim: a freeze in the rig's truth is one whatever the label
    # says (a profile may freeze without the label); a freezing profile that did not freeze in
    # this session leaves nothing to judge the detector by
    freezing = True if true_freezes(truth) else (None if "freezing" in labels else False)
    ds = true_double_support_pct(truth, windows)
    return {
        "asymmetry": "asymmetry" in labels,
        "low_clearance": bool(labels & {"low_clearance", "foot_drop_left", "foot_drop_right"}),
        "foot_drop_left": "foot_drop_left" in labels,
        "foot_drop_right": "foot_drop_right" in labels,
        "shuffling": "shuffling" in labels,
        "freezing": freezing,
        "high_variability": "high_variability" in labels,
        "long_double_support": None if math.isnan(ds) else ds > NORMS["double_support_max_pct"].value,
        "obstacle_performance": true_poor_obstacles(truth, NORMS["obstacle_fail_share_max"].value),
        "slow_speed": None,
        "heart_rate_zone": None,
        "weight_bearing_asymmetry": None if math.isnan(share := true_load_share(truth, windows))
        else share < NORMS["load_share_min"].value,
    }


def predictions(findings) -> dict[str, bool | None]:
    """Per finding: the detector's verdict, None where it could not assess."""
    f = {x.key: x for x in findings}
    drop = f["foot_drop"]
    out = {
        "foot_drop_left": drop.present and drop.side in (-1, 0) if drop.assessed else None,
        "foot_drop_right": drop.present and drop.side in (-1, 1) if drop.assessed else None,
    }
    for key in ("asymmetry", "low_clearance", "shuffling", "freezing", "high_variability", "long_double_support",
                "obstacle_performance", "slow_speed", "heart_rate_zone", "weight_bearing_asymmetry"):
        out[key] = f[key].present if f[key].assessed else None
    return out


# Assessment conditions: the exoskeleton transparent. The labels describe the patient's own gait;
# guidance pulls the legs toward the core's reference gait and changes what is measured (quick
# bench, seed 0, the scenes' guidance 0.5: parkinsonian true MTC 1.5/1.4 cm against its profile's
# 0.9, frail-older 0.8/0.7 cm against 1.0; at guidance 0: 0.8/1.0 and 1.0/1.1 cm).
# STEPSYNC_FINDINGS_GUIDANCE sets another level (the scenes' own hint is 0.5) to compare.
ASSESSMENT_GUIDANCE = 0.0
ACK_AFTER_S = 5.0  # the attending therapist acknowledges an alarm this long after it is shown (assumed)


class Attendant:
    """The therapist beside the treadmill: acknowledges every alarm ACK_AFTER_S after it shows
    (an engine.sim probe, called every 10 ms with the core). In a clinic nobody leaves a stumble
    alarm standing for the rest of a session; unacknowledged, the core would keep the belt at its
    protective 30 % to the end (engine/control/stumble.py), and findings would judge nothing but
    the protective walk. The findings still leave the response window out (session_data)."""

    def __init__(self) -> None:
        self.writer = None
        self.acks = 0

    def __call__(self, elapsed_s: float, core, rig) -> None:
        now = core.t_s
        if any(slot[0] and not slot[2] and now - slot[4] >= ACK_AFTER_S for slot in core.alarms.slots):
            if self.writer is None:
                from engine.control.commands import CommandWriter

                self.writer = CommandWriter(core.cmd_block)
            self.writer.ack_alarms()
            self.acks += 1


def _guidance() -> float:
    import os

    value = os.environ.get("STEPSYNC_FINDINGS_GUIDANCE", "")
    try:
        return float(value) if value else ASSESSMENT_GUIDANCE
    except ValueError:
        raise ValueError(f"STEPSYNC_FINDINGS_GUIDANCE={value!r}: a guidance level 0..1") from None


def detector_selection(data) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """(t_s, side) of the steps and strides the asymmetry and shuffling detectors took
    (engine/analysis/findings.py: steady ones, or all where too few were steady)."""
    import numpy as np

    from engine.analysis.findings import MIN_STEADY_STRIDES_PER_SIDE, _steps_for_side_stats

    mask, _ = _steps_for_side_stats(data)
    steps = [(float(t), int(side)) for t, side in zip(data.step_t_s[mask], data.step_side[mask], strict=True)]
    strides = []
    for side in (0, 1):
        sel = data.stride_side == side
        steady = sel & data.stride_steady
        if np.count_nonzero(steady) >= MIN_STEADY_STRIDES_PER_SIDE:
            sel = steady
        strides += [(float(t), side) for t in data.stride_t_s[sel]]
    return steps, strides


def assess(labels: set[str], rig_truth: dict, data) -> dict:
    """Analyse one recorded session (engine.analysis.session_data.SessionData) and score it
    against the labels and the rig's ground truth: truth, predictions, label contradictions."""
    from engine.analysis.findings import analyse_session
    from engine.analysis.suggestions import suggest_all

    findings = analyse_session(data)
    sugg = suggest_all(findings)
    truth = ground_truth(labels, rig_truth, data.protective_windows)
    steady = [(float(t), int(side)) for t, side, ok in zip(data.stride_t_s, data.stride_side, data.stride_steady, strict=True) if ok]
    steps_used, strides_used = detector_selection(data)
    contradicted = {}
    for key, done in physiology_truth(rig_truth, data.protective_windows, steady, steps_used, strides_used).items():
        if done is not None and truth[key] is not None and done[0] != truth[key]:
            contradicted[key] = f"label {'yes' if truth[key] else 'no'}, the rig's truth {'yes' if done[0] else 'no'} ({done[1]})"
            truth[key] = done[0]  # scored against what the patient did, not the label's claim
    if "freezing" not in labels and truth["freezing"]:
        contradicted["freezing"] = "label no, the rig's truth yes (" + ", ".join(
            f"{f['duration_s']:.1f} s at {f['t_s']:.0f} s" for f in true_freezes(rig_truth)) + ")"
    return {"truth": truth, "contradicted": contradicted, "stumble_responses": len(data.protective_windows),
            "pred": predictions(findings), "suggestions": [len(v) for v in sugg.values()]}


def _one(job: tuple) -> dict:
    """Simulate one session into its own database, analyse it as a clinic would, score it
    (STEPSYNC_FINDINGS_KEEP=DIR keeps the database and the rig's truth there: `rescore`)."""
    import json
    import os

    from devices.sim.profiles import load_profile
    from engine.sim.session import SimOptions, run_simulation

    path, scene, seed, duration_s = job
    keep = os.environ.get("STEPSYNC_FINDINGS_KEEP", "")
    name = f"{Path(path).stem}-{seed}"
    with tempfile.TemporaryDirectory(prefix="bench-findings-") as tmp:
        folder = Path(keep) if keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / f"{name}.db"
        for old in (db, folder / f"{name}.db-wal", folder / f"{name}.db-shm"):
            old.unlink(missing_ok=True)
        result = run_simulation(SimOptions(scene=scene, profile=path, duration_s=duration_s, seed=seed, db=db,
                                           patient_code=f"bench-{Path(path).stem}", probe=Attendant(),
                                           settings={"guidance": _guidance()}))
        if keep:
            (folder / f"{name}.truth.json").write_text(json.dumps(result.truth))
            (folder / f"{name}.session.json").write_text(json.dumps(
                {"profile": str(path), "scene": scene, "seed": seed, "session_id": result.session_id,
                 "labels": sorted(load_profile(path).labels), "speedup": result.speedup}))
        return _score(str(path), scene, seed, db, result.session_id, result.truth, result.speedup)


def _score(path: str, scene: str, seed: int, db: Path, session_id: int, truth: dict, speedup: float | None) -> dict:
    from devices.sim.profiles import load_profile
    from engine.analysis.session_data import load_session
    from engine.records.store import Store

    with Store(db) as store:
        data = load_session(store, session_id)
    out = {"profile": Path(path).stem, "seed": seed, "scene": scene, **assess(set(load_profile(path).labels), truth, data)}
    if speedup is not None:
        out["speedup"] = speedup
    return out


def rescore(folder: str | Path) -> dict:
    """Score the sessions a run kept (STEPSYNC_FINDINGS_KEEP) with the findings as they are now:
    the same figures without simulating again (the profiles must still be where they were)."""
    import json

    results = []
    for meta_path in sorted(Path(folder).glob("*.session.json")):
        meta = json.loads(meta_path.read_text())
        stem = meta_path.name[: -len(".session.json")]
        truth = json.loads((meta_path.parent / f"{stem}.truth.json").read_text())
        results.append(_score(meta["profile"], meta["scene"], meta["seed"], meta_path.parent / f"{stem}.db",
                              meta["session_id"], truth, meta.get("speedup")))
    if not results:
        raise ValueError(f"{folder}: no kept session (*.session.json)")
    return summarise(results)


def selected_jobs(jobs: list[tuple], only: str) -> list[tuple]:
    """The jobs named in `only` ("PROFILE:SEED,..." as `misclassified` names them), all if empty."""
    if not only.strip():
        return jobs
    wanted = {tuple(x.strip().rsplit(":", 1)) for x in only.split(",") if x.strip()}
    chosen = [j for j in jobs if (Path(j[0]).stem, str(j[2])) in wanted]
    missing = wanted - {(Path(j[0]).stem, str(j[2])) for j in chosen}
    if missing:
        raise ValueError(f"STEPSYNC_FINDINGS_SESSIONS: no such session {', '.join(':'.join(m) for m in sorted(missing))}")
    return chosen


def run(quick: bool, profiles: str | None = None) -> dict:
    """Simulate, analyse, score; returns the figures (module docstring)."""
    import concurrent.futures
    import os

    paths = profile_paths(profiles)
    seeds = range(1) if quick else range(4)
    duration_s = 60.0 if quick else 150.0
    jobs = [(str(path), SCENES[seed % len(SCENES)], seed, duration_s) for path in paths for seed in seeds]
    # rerun only some sessions (e.g. those `misclassified` named): STEPSYNC_FINDINGS_SESSIONS=parkinsonian:1,...
    jobs = selected_jobs(jobs, os.environ.get("STEPSYNC_FINDINGS_SESSIONS", ""))
    workers = max(1, int(os.environ.get("STEPSYNC_BENCH_JOBS", "1")))
    wall0 = time.perf_counter()
    results = []
    if workers == 1:
        for i, job in enumerate(jobs, 1):
            results.append(_one(job))
            print(f"bench findings: {i}/{len(jobs)} {Path(job[0]).stem} seed {job[2]} on {job[1]}", file=sys.stderr, flush=True)
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            for i, res in enumerate(pool.map(_one, jobs), 1):
                results.append(res)
                print(f"bench findings: {i}/{len(jobs)} {res['profile']} seed {res['seed']}", file=sys.stderr, flush=True)
    out = summarise(results)
    out["profiles"] = len(paths)
    out["session_s"] = duration_s
    out["guidance"] = _guidance()
    out["wall_s"] = round(time.perf_counter() - wall0, 1)
    return out


def summarise(results: list[dict]) -> dict:
    """Sensitivity and specificity per detector over scored sessions (`assess` results)."""
    counts = {k: {"tp": 0, "fn": 0, "tn": 0, "fp": 0, "unassessed": 0, "skipped": 0} for k in FINDINGS}
    per_finding_suggestions: list[int] = []
    misses: list[str] = []
    contradictions: list[str] = []
    contradicted = dict.fromkeys(FINDINGS, 0)
    for res in results:
        for key, why in res.get("contradicted", {}).items():
            contradicted[key] += 1
            contradictions.append(f"{key}:{res['profile']}:{res['seed']}: {why}")
        per_finding_suggestions += res["suggestions"]
        for key in FINDINGS:
            t, p = res["truth"][key], res["pred"][key]
            c = counts[key]
            if t is None:
                c["skipped"] += 1
            elif p is None:  # could not assess: a miss on a positive, no false alarm on a negative
                c["unassessed"] += 1
                c["fn" if t else "tn"] += 1
                if t:
                    misses.append(f"{key}:{res['profile']}:{res['seed']}:unassessed")
            else:
                c[("tp" if p else "fn") if t else ("fp" if p else "tn")] += 1
                if p != t:
                    misses.append(f"{key}:{res['profile']}:{res['seed']}:{'FP' if p else 'FN'}")
    sessions = len(results)
    out: dict = {}
    sens_all, spec_all = [], []
    for key in FINDINGS:
        c = counts[key]
        pos, neg = c["tp"] + c["fn"], c["tn"] + c["fp"]
        sens = c["tp"] / pos if pos else None
        spec = c["tn"] / neg if neg else None
        out[f"{key}.sensitivity"] = None if sens is None else round(sens, 3)
        out[f"{key}.specificity"] = None if spec is None else round(spec, 3)
        out[f"{key}.positives"] = pos
        out[f"{key}.negatives"] = neg
        out[f"{key}.unassessed"] = c["unassessed"]
        out[f"{key}.label_contradicted"] = contradicted[key]
        if sens is not None:
            sens_all.append(sens)
        if spec is not None:
            spec_all.append(spec)
    out["min_sensitivity"] = round(min(sens_all), 3) if sens_all else None
    out["min_specificity"] = round(min(spec_all), 3) if spec_all else None
    out["suggestions_per_finding"] = round(statistics.mean(per_finding_suggestions), 2) if per_finding_suggestions else 0.0
    out["sessions"] = sessions
    # sessions whose core answered a stumble (the rest of the walk at a protective speed until
    # acknowledged, which nobody does in a simulated session): their gait findings leave it out
    out["sessions_with_stumble_response"] = sum(1 for r in results if r.get("stumble_responses"))
    speedups = [r["speedup"] for r in results if "speedup" in r]
    out["sim_speedup_median"] = round(statistics.median(speedups), 1) if speedups else None
    out["misclassified"] = " ".join(misses[:60])
    out["label_contradictions"] = contradictions
    return out


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.findings", description="score kept sessions again")
    parser.add_argument("--rescore", metavar="DIR", required=True, help="a STEPSYNC_FINDINGS_KEEP folder")
    print(json.dumps(rescore(parser.parse_args().rescore)))
