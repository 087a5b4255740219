"""Findings benchmark: `python -m bench findings [--quick] [--profiles DIR] --json`.

Simulated sessions (`engine.sim`: the real control core on a simulated clock, the rig's patient
model) of every labelled profile (devices/sim/patients/, or every YAML in DIR) over several seeds
and two scenes with step-over obstacles and doorways; a therapist attends (acknowledges every
alarm 5 s after it shows: `Attendant`); each recorded session is analysed exactly as a clinic's
would be (engine/analysis reads it back from the database) and each detector's verdict is
compared with the ground truth:

| detector | ground truth |
| --- | --- |
| asymmetry, shuffling, high_variability | the profile's label of that name |
| low_clearance | label low_clearance, foot_drop_left or foot_drop_right |
| foot_drop_left / foot_drop_right | label foot_drop_left / foot_drop_right (and the finding on that leg) |
| freezing | label freezing AND the rig's truth holds an episode >= 1 s in this session; sessions of a freezing profile with no such episode are left out |
| long_double_support | the rig's true heel strikes and toe offs: median stance L + R - 1 > 30 % of the cycle |
| obstacle_performance | the rig's true crossings: some obstacle kind touched or tripped in > 4/24 of >= 2 leg crossings |
| slow_speed | not scored: simulated sessions hold no self-selected speed measure (the detector says "not measured") |
| heart_rate_zone | scored only where the prescription carries a heart-rate zone or limit |
| weight_bearing_asymmetry | the rig's true load under each foot: one leg's share of the two legs' mean stance impulse < 41 % |

Keys: `FINDING.sensitivity`, `FINDING.specificity` (null where a class has no session),
`FINDING.positives`, `FINDING.negatives`, `min_sensitivity`, `min_specificity` (over the scored
detectors; targets >= 0.90 each), `suggestions_per_finding` (mean suggestions per present
finding), `sessions`, `wall_s`. The labels are the profile author's claim; a detector that fires
on a profile whose physiology meets its published threshold but whose label is missing counts as
a false positive here (docs/findings.md lists such cases).
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def true_poor_obstacles(truth: dict, limit: float) -> bool | None:
    """Some obstacle kind failed (touched/tripped) in more than `limit` of its >= 2 leg crossings."""
    by_kind: dict[str, list[bool]] = {}
    for c in truth.get("crossings", []):
        if c.get("outcome") in ("cleared", "touched", "tripped"):
            by_kind.setdefault(c["kind"], []).append(c["outcome"] != "cleared")
    if not by_kind:
        return None
    return any(len(v) >= 2 and sum(v) / len(v) > limit for v in by_kind.values())


def true_load_share(truth: dict, windows=()) -> float:
    """The less-loaded leg's share of the two legs' mean true stance impulse (nan without stances)."""
    mean = []
    for side in (0, 1):
        imp = [st["impulse_ns"] for st in truth.get("stances", [])
               if st["side"] == side and 0.2 <= st.get("duration_s", 0.0) <= 3.0
               and _outside(st["t_s"] + st["duration_s"], windows)]
        mean.append(statistics.mean(imp) if len(imp) >= 4 else math.nan)
    total = mean[0] + mean[1]
    return min(mean) / total if total > 0 else math.nan


def ground_truth(labels: set[str], truth: dict, windows=()) -> dict[str, bool | None]:
    """Per finding: True/False, or None where this session cannot be scored for it. `windows`:
    the session's stumble responses (session_data.protective_windows), left out of the truths
    measured from the rig as the findings leave them out of the records."""
    from engine.analysis.norms import NORMS

    episodes = [f for f in truth.get("freezing", []) if f.get("duration_s", 0.0) >= NORMS["freeze_min_duration_s"].value]
    freezing = None if ("freezing" in labels and not episodes) else ("freezing" in labels and bool(episodes))
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


def _one(job: tuple) -> dict:
    """Simulate one session into its own database, analyse it as a clinic would, score it."""
    from devices.sim.profiles import load_profile
    from engine.analysis.findings import analyse_session
    from engine.analysis.session_data import load_session
    from engine.analysis.suggestions import suggest_all
    from engine.records.store import Store
    from engine.sim.session import SimOptions, run_simulation

    path, scene, seed, duration_s = job
    labels = set(load_profile(path).labels)
    with tempfile.TemporaryDirectory(prefix="bench-findings-") as tmp:
        db = Path(tmp) / "findings.db"
        result = run_simulation(SimOptions(scene=scene, profile=path, duration_s=duration_s, seed=seed, db=db,
                                           patient_code=f"bench-{Path(path).stem}", probe=Attendant()))
        with Store(db) as store:
            data = load_session(store, result.session_id)
            findings = analyse_session(data)
    sugg = suggest_all(findings)
    return {"profile": Path(path).stem, "seed": seed, "scene": scene, "truth": ground_truth(labels, result.truth, data.protective_windows),
            "stumble_responses": len(data.protective_windows),
            "pred": predictions(findings), "suggestions": [len(v) for v in sugg.values()], "speedup": result.speedup}


def run(quick: bool, profiles: str | None = None) -> dict:
    """Simulate, analyse, score; returns the figures (module docstring)."""
    import concurrent.futures
    import os

    paths = profile_paths(profiles)
    seeds = range(1) if quick else range(4)
    duration_s = 60.0 if quick else 150.0
    jobs = [(str(path), SCENES[seed % len(SCENES)], seed, duration_s) for path in paths for seed in seeds]
    workers = max(1, int(os.environ.get("STEPSYNC_BENCH_JOBS", "1")))
    counts = {k: {"tp": 0, "fn": 0, "tn": 0, "fp": 0, "unassessed": 0, "skipped": 0} for k in FINDINGS}
    per_finding_suggestions: list[int] = []
    wall0 = time.perf_counter()
    misses: list[str] = []
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
    for res in results:
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
    out["profiles"] = len(paths)
    out["sim_speedup_median"] = round(statistics.median(r["speedup"] for r in results), 1) if results else None
    out["session_s"] = duration_s
    out["misclassified"] = " ".join(misses[:60])
    out["wall_s"] = round(time.perf_counter() - wall0, 1)
    return out
