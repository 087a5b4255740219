"""Clinical validation: the core's measures against the simulated patient's ground truth.

`python -m bench clinical [--quick] [--profiles DIR] --json` simulates every shipped patient
profile (or every YAML in DIR) with `simulate` (engine/sim: the real control core on a simulated
clock) on a bench scene with step-over obstacles of several heights, curbs, a pedestrian to
yield to and a box beside the lane, for several seeds, and compares what the core measured (its
event ring) with the truth:
- event timing: each detected heel strike and toe off against the true event of that side
  nearest in time (within 250 ms); `event_offset_ms_max_abs` is the largest per-session median
  signed error (a constant clock offset);
- step length (core STEP v1) and minimum toe clearance (core STEP v3) against the true step and
  swing ending at the matched heel strike;
- obstacle outcomes: per leg-obstacle crossing from the core's OBSTACLE_LEG events (cleared,
  touched, tripped: agreement is equality, `obstacle_confusion` truth x core, 3 x 3; a crossing
  the core did not report counts as a disagreement, unless that foot landed after the records'
  end: the core decides at the landing, so such a leg has no verdict and is counted in
  `crossings_unjudged` instead); without them per obstacle (the truth's worst
  leg), truth cleared = core CLEARED, truth touched/tripped = core HIT, confusion truth x
  (cleared, hit, other);
- `healthy_clear_rate`: share of in-lane step-overs within both legs' capacity that profiles
  labelled healthy clear (truth);
- `boost_rescue_rate`: for profiles with a weak leg (capacity under 10 cm), each seed is walked twice, with the
  prescription's clearance boost and with none; of the weak leg's crossings beyond its capacity
  that fail without boost, the share that clear with it (crossings decided once a run's stop has
  begun left out: the exoskeleton is in its safe mode then);
- `sim_speedup`: simulated seconds per wall-clock second over all runs (this machine, whatever
  else it runs); `sim_speedup_cpu` per second of this process's CPU time;
- `alarms_acknowledged`: every run plays the therapist at the rig, who acknowledges each alarm
  ACK_AFTER_S after it shows (through the command block, as the UI does): the stumble guard caps
  the belt until then, and an unacknowledged false STUMBLE held slow profiles at 0.05 m/s for the
  rest of a run (a few crossings per profile). The count is reported, not hidden, and
  `alarms_by_reason` counts them per AlarmReason name;
- `profiles_refused`: with `--profiles DIR`, the error (`file:line:col key: message`) of each
  file there that is not a valid profile; it is left out and the others run. DIR's *.yaml and
  *.yml files are read (not its subfolders); each profile's figures are keyed by its `name`, or
  by its file name where two files in DIR carry the same name;
STEPSYNC_BENCH_JOBS=N runs N simulations at a time in worker processes (default 1; the figures
do not depend on it, the wall time does).
Targets (issue 10): event timing <= 5 ms median, <= 15 ms p95, offset <= 2 ms, step length <= 1 cm
median, <= 3 cm p95, toe clearance <= 1 cm median, <= 2.5 cm p95, obstacle agreement >= 0.97,
healthy_clear_rate >= 0.95, sim_speedup >= 20. The run also rewrites docs/validation.md.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KEYS = (
    "event_timing_ms_median", "event_timing_ms_p95", "event_offset_ms_max_abs", "step_length_cm_median",
    "step_length_cm_p95", "toe_clearance_cm_median", "toe_clearance_cm_p95", "obstacle_outcome_agreement", "obstacle_confusion", "healthy_clear_rate", "boost_rescue_rate", "sim_speedup",
)
SETTLE_S = 3.0  # events in the first seconds after the start are left out (the belt ramps up)
MATCH_S = 0.25
BENCH_SCENE = """extends: base-sidewalk.yaml
id: bench-clinical
title: Clinical validation course
description: step-overs of several heights, curbs, a pedestrian, a box beside the lane
difficulty: moderate
route_length_m: 80
assistance:
  guidance: 0.3
obstacles:
  - {kind: box, at_m: 3, height_m: 0.05, depth_m: 0.2}
  - {kind: cable, at_m: 5.5}
  - {kind: box, at_m: 8, height_m: 0.10, depth_m: 0.2}
  - {kind: box, at_m: 10.5, height_m: 0.15, depth_m: 0.3, lateral_m: 1.5}
  - {kind: uneven_paving, at_m: 12.5, height_m: 0.02, depth_m: 0.6}
  - {kind: box, at_m: 15, height_m: 0.08, depth_m: 0.15}
  - {kind: pedestrian_crossing, at_m: 19, trigger_before_m: 3, duration_s: 3}
  - {kind: curb_down, at_m: 22, height_m: 0.10}
  - {kind: curb_up, at_m: 26, height_m: 0.10}
  - {kind: box, at_m: 30, height_m: 0.15, depth_m: 0.3}
  - {kind: spilled_items, at_m: 34, height_m: 0.06, depth_m: 0.4}
  - {kind: box, at_m: 38, height_m: 0.05, depth_m: 0.2}
  - {kind: cable, at_m: 42}
  - {kind: box, at_m: 46, height_m: 0.12, depth_m: 0.2}
  - {kind: uneven_paving, at_m: 50, height_m: 0.02, depth_m: 0.6}
  - {kind: box, at_m: 54, height_m: 0.10, depth_m: 0.2}
  - {kind: cable, at_m: 58}
  - {kind: box, at_m: 62, height_m: 0.15, depth_m: 0.3}
  - {kind: uneven_paving, at_m: 66, height_m: 0.02, depth_m: 0.6}
  - {kind: box, at_m: 70, height_m: 0.05, depth_m: 0.2}
"""


def _scene_dir(root: Path) -> Path:
    from engine.scene.loader import SCENES_DIR

    folder = root / "scenes"
    folder.mkdir(parents=True, exist_ok=True)
    base = Path(SCENES_DIR) / "base-sidewalk.yaml"
    (folder / base.name).write_text(base.read_text())
    (folder / "bench-clinical.yaml").write_text(BENCH_SCENE)
    return folder


PROFILE_SUFFIXES = (".yaml", ".yml")  # either spelling, in any case, is a YAML file


def profile_files(folder: Path) -> list[Path]:
    """Every *.yaml and *.yml entry of folder (not its subfolders), sorted: what --profiles runs.
    Entries that are no regular file are kept, so that loading them names what they are."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PROFILE_SUFFIXES)


def profile_keys(named: list[tuple[str, str]]) -> dict[str, str]:
    """The PROFILE of each PROFILE.KEY figure, per (path or shipped name, profile name): the
    profile's own name, unless two files carry the same one (a copy edited without renaming):
    each of those is keyed by its file name without the suffix (then with it, should two differ
    only there), and stderr says so; no profile's figures overwrite another's."""
    counts: dict[str, int] = {}
    for _, name in named:
        counts[name] = counts.get(name, 0) + 1
    keys = {path: name for path, name in named if counts[name] == 1}
    taken = set(keys.values())
    for path, name in named:
        if counts[name] == 1:
            continue
        p = Path(path)
        stem = p.stem.replace(".", "_")  # (a dot would split PROFILE.KEY in the wrong place)
        key = stem if stem not in taken else f"{stem}-{p.suffix.lstrip('.').lower()}"
        n = 2
        while key in taken:  # (a file named like another profile: number it)
            key, n = f"{stem}-{n}", n + 1
        keys[path] = key
        taken.add(key)
        print(f"bench clinical: {path} names its profile {name!r}, as another file here does: "
              f"its figures are keyed {key!r}", file=sys.stderr, flush=True)
    return keys


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.abs(values), q)) if values else math.nan


def _nearest(truth: list[dict], side: int, t_s: float, key: str = "t_s") -> dict | None:
    best = None
    for item in truth:
        if item["side"] != side:
            continue
        if best is None or abs(item[key] - t_s) < abs(best[key] - t_s):
            best = item
    if best is None or abs(best[key] - t_s) > MATCH_S:
        return None
    return best


def _landed_by(heel_strikes: list[dict], side: int, from_s: float, until_s: float) -> bool:
    """Whether that foot landed at or after from_s and no later than until_s."""
    return any(h["side"] == side and from_s - 1e-9 <= h["t_s"] <= until_s for h in heel_strikes)


def compare_session(truth: dict, events: np.ndarray, start_s: float) -> dict:
    """Errors of one simulated session's core events against its ground truth."""
    from engine.control.layout import EventKind, LegOutcome, ObstacleOutcome

    out = {"timing_ms": [], "offsets_ms": [], "step_cm": [], "clearance_cm": [], "crossings": []}
    t0 = start_s + SETTLE_S
    signed = []
    for kind, name in ((EventKind.HEEL_STRIKE, "heel_strikes"), (EventKind.TOE_OFF, "toe_offs")):
        for ev in events[events["kind"] == kind]:
            if ev["t_s"] < t0:
                continue
            match = _nearest(truth[name], int(ev["side"]), float(ev["t_s"]))
            if match is not None:
                signed.append((float(ev["t_s"]) - match["t_s"]) * 1000.0)
    out["timing_ms"] = signed
    if signed:
        out["offsets_ms"] = [statistics.median(signed)]
    swings = truth["toe_clearance"]
    for ev in events[events["kind"] == EventKind.STEP]:
        if ev["t_s"] < t0:
            continue
        side = int(ev["side"])
        step = _nearest(truth["steps"], side, float(ev["t_s"]))
        if step is not None and math.isfinite(float(ev["v1"])):
            out["step_cm"].append((float(ev["v1"]) - step["length_m"]) * 100.0)
        swing = _nearest(swings, side, float(ev["t_s"]), key="heel_strike_t_s")
        if swing is not None and math.isfinite(float(ev["v3"])):
            out["clearance_cm"].append((float(ev["v3"]) - swing["clearance_m"]) * 100.0)
    # obstacle outcomes
    core: dict[tuple[int, int], int] = {}
    per_leg = False
    for ev in events[events["kind"] == EventKind.OBSTACLE_OUTCOME]:
        outcome = int(ev["v3"]) if math.isfinite(float(ev["v3"])) else int(ev["code"])
        side = int(ev["side"])
        per_leg = per_leg or side in (0, 1)
        core[(int(ev["code"]), side)] = outcome
    # The core's own per-leg verdicts (OBSTACLE_LEG: v2 a LegOutcome), when it publishes them.
    leg_names = {int(LegOutcome.CLEARED): "cleared", int(LegOutcome.TOUCHED): "touched", int(LegOutcome.TRIPPED): "tripped"}
    leg_core = {(int(e["code"]), int(e["side"])): leg_names.get(int(e["v2"]), "other")
                for e in events[events["kind"] == EventKind.OBSTACLE_LEG]}
    leg_margin = {(int(e["code"]), int(e["side"])): float(e["v1"])
                  for e in events[events["kind"] == EventKind.OBSTACLE_LEG]}
    # The core decides a leg's crossing when that foot lands; a landing after the recorded
    # session's end (its last event: the walk stops at the duration, the belt after it) has no
    # verdict to compare, so that leg is left out (counted as unjudged), not called a disagreement
    records_end_s = float(events["t_s"].max()) if len(events) else math.inf
    out["unjudged_legs"] = 0
    out["disagreements"] = []  # one line per disagreeing leg, for the doc
    out["disagreeing_legs"] = []  # the same legs as data: truth's and core's outcome and margin (m)
    for ob in truth["obstacles"]:
        if not ob["in_lane"] or ob["outcome"] not in ("cleared", "touched", "tripped"):
            continue
        if leg_core:
            for side_name, leg in ob["legs"].items():
                side = 0 if side_name == "left" else 1
                got = leg_core.get((ob["obstacle"], side), "none")
                if got == "none" and not _landed_by(truth["heel_strikes"], side, leg["t_s"], records_end_s):
                    out["unjudged_legs"] += 1
                    continue
                out["crossings"].append((leg["outcome"], got))
                if got != leg["outcome"]:
                    truth_m = leg["margin_m"]
                    core_m = leg_margin.get((ob["obstacle"], side), math.nan)
                    out["disagreements"].append(
                        f"obstacle {ob['obstacle']} ({ob['kind']} at {ob['at_m']:g} m) {side_name} {leg['role']}: "
                        f"truth {leg['outcome']} {'-' if truth_m is None else f'{truth_m * 100:.1f} cm'}, "
                        f"core {got} {core_m * 100:.1f} cm")
                    out["disagreeing_legs"].append(
                        {"obstacle": ob["obstacle"], "side": side_name, "truth": leg["outcome"], "truth_margin_m": truth_m,
                         "core": got, "core_margin_m": core_m})
        elif per_leg:
            for side_name, leg in ob["legs"].items():
                side = 0 if side_name == "left" else 1
                got = core.get((ob["obstacle"], side))
                out["crossings"].append((leg["outcome"], _core_name(got, ObstacleOutcome)))
        else:
            got = core.get((ob["obstacle"], -1))
            out["crossings"].append((ob["outcome"], _core_name(got, ObstacleOutcome)))
    return out


def _core_name(outcome: int | None, enum) -> str:
    if outcome == enum.CLEARED:
        return "cleared"
    if outcome == enum.HIT:
        return "hit"
    return "other"


def capacity_crossings(profile, truth: dict) -> list[dict]:
    """The leg crossings whose required lift is beyond that leg's capacity (max toe clearance)."""
    from devices.sim.patient import required_lift_m

    out = []
    for rec in truth["crossings"]:
        ob = next(o for o in truth["obstacles"] if o["obstacle"] == rec["obstacle"])
        need = required_lift_m(profile, ob["kind"], ob["height_m"], rec["role"], rec["side"])
        if need > profile.max_toe_clearance_m[rec["side"]]:
            out.append(rec)
    return out


def _within_capacity_share(profile, truth: dict) -> tuple[int, int]:
    """(cleared, total) in-lane step-overs within both legs' capacity."""
    from devices.sim.patient import required_lift_m

    cleared = total = 0
    for ob in truth["obstacles"]:
        if not ob["in_lane"] or ob["outcome"] not in ("cleared", "touched", "tripped"):
            continue
        fits = all(required_lift_m(profile, ob["kind"], ob["height_m"], role, side) <= profile.max_toe_clearance_m[side]
                   for side in (0, 1) for role in ("lead", "trail"))
        if fits:
            total += 1
            cleared += ob["outcome"] == "cleared"
    return cleared, total


def _summarise(parts: list[dict]) -> dict:
    timing = [x for p in parts for x in p["timing_ms"]]
    offsets = [x for p in parts for x in p["offsets_ms"]]
    step = [x for p in parts for x in p["step_cm"]]
    clearance = [x for p in parts for x in p["clearance_cm"]]
    crossings = [x for p in parts for x in p["crossings"]]
    rows = ("cleared", "touched", "tripped")
    # a core that names each leg's outcome (OBSTACLE_LEG) is held to the three classes exactly
    three = any(c in ("touched", "tripped") for _, c in crossings) or not any(c == "hit" for _, c in crossings)
    cols = rows if three else ("cleared", "hit", "other")
    confusion = [[sum(1 for t, c in crossings if t == r and c == k) for k in cols] for r in rows]
    agree = sum(1 for t, c in crossings if t == c or (not three and t != "cleared" and c == "hit"))
    return {
        "event_timing_ms_median": float(np.median(np.abs(timing))) if timing else math.nan,
        "event_timing_ms_p95": _percentile(timing, 95),
        "event_offset_ms_max_abs": max((abs(o) for o in offsets), default=math.nan),
        "step_length_cm_median": float(np.median(np.abs(step))) if step else math.nan,
        "step_length_cm_p95": _percentile(step, 95),
        "toe_clearance_cm_median": float(np.median(np.abs(clearance))) if clearance else math.nan,
        "toe_clearance_cm_p95": _percentile(clearance, 95),
        "obstacle_outcome_agreement": agree / len(crossings) if crossings else math.nan,
        "obstacle_confusion": confusion,
        "crossings_compared": len(crossings),
        # legs whose foot landed after the records' end: no verdict of the core to compare
        "crossings_unjudged": sum(p.get("unjudged_legs", 0) for p in parts),
    }


WEAK_LEG_CAPACITY_M = 0.10  # a leg that cannot lift its foot this high needs the boost over most obstacles


def _weak_leg(profile) -> bool:
    return min(profile.max_toe_clearance_m) < WEAK_LEG_CAPACITY_M


def _one(job: tuple) -> dict:
    """One profile and seed: the boosted run compared with its truth (and, for a weak leg, the run
    without boost for the rescue count). A process-pool worker (STEPSYNC_BENCH_JOBS)."""
    from devices.sim.profiles import load_profile
    from engine.sim.session import SimOptions, run_simulation

    name_or_path, seed, duration_s, scenes = job
    profile = load_profile(name_or_path)
    out = {"sim_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0, "healthy": [0, 0], "rescue": [0, 0]}
    therapist = _Therapist()
    options = SimOptions(scene="bench-clinical", profile=name_or_path, duration_s=duration_s, seed=seed,
                         db=None, scenes_dir=scenes, probe=therapist)
    cpu0 = time.process_time()
    res = run_simulation(options)
    out["cpu_s"] += time.process_time() - cpu0
    out["sim_s"] += res.sim_s
    out["wall_s"] += res.wall_s
    out["speedup"] = res.speedup
    _, events = res.records
    start = _start_time(events)
    out["part"] = compare_session(res.truth, events, start)
    out["alarms"] = therapist.acknowledged
    out["alarm_reasons"] = therapist.reasons
    if "healthy" in profile.labels:
        out["healthy"] = list(_within_capacity_share(profile, res.truth))
    if _weak_leg(profile):
        cpu0 = time.process_time()
        plain = run_simulation(SimOptions(scene="bench-clinical", profile=name_or_path, duration_s=duration_s,
                                          seed=seed, db=None, scenes_dir=scenes, boost_max=0.0, probe=_Therapist()))
        out["cpu_s"] += time.process_time() - cpu0
        out["sim_s"] += plain.sim_s
        out["wall_s"] += plain.wall_s
        # (a crossing decided after the run's scheduled stop began is left out: the exoskeleton is
        # in its safe mode then, no boost, and one such crossing a run was counted as not rescued)
        plain_stop_s = _stop_time(plain.records[1])
        failed = {(r["obstacle"], r["side"]) for r in capacity_crossings(profile, plain.truth)
                  if r["outcome"] != "cleared" and r["t_s"] <= plain_stop_s}
        boosted_stop_s = _stop_time(events)
        boosted = {(r["obstacle"], r["side"]): r["outcome"] for r in res.truth["crossings"]
                   if r["t_s"] <= boosted_stop_s}
        for key in failed:
            if key in boosted:
                out["rescue"][1] += 1
                out["rescue"][0] += boosted[key] == "cleared"
    return out


def run(quick: bool, profiles: str | None = None, write_doc: bool = True) -> dict:
    """Simulate, compare, return the figures (and per profile PROFILE.KEY).

    STEPSYNC_BENCH_JOBS=N runs N simulations in parallel processes (default 1)."""
    import concurrent.futures
    import os

    from devices.sim.profiles import load_profile, profile_names

    refused: list[str] = []
    if profiles:
        if not Path(profiles).is_dir():
            raise SystemExit(f"bench clinical: --profiles {profiles}: "
                             f"{'not a folder' if Path(profiles).exists() else 'no such folder'}")
        paths = []
        for path in (str(p) for p in profile_files(Path(profiles))):
            # a file that is not a valid profile is named with its error and left out; the
            # others run (one bad file in a folder of profiles must not cost the rest)
            try:
                load_profile(path)
                paths.append(path)
            except ValueError as exc:
                refused.append(str(exc))
                print(f"bench clinical: refused {exc}", file=sys.stderr, flush=True)
        if not paths:
            raise SystemExit(f"bench clinical: no valid *.yaml or *.yml profiles in {profiles}"
                             + "".join(f"\n{r}" for r in refused))
    else:
        paths = profile_names()
    keys = profile_keys([(path, load_profile(path).name) for path in paths])
    seeds = [1] if quick else [1, 2, 3]
    duration_s = 15.0 if quick else 60.0
    results: dict = {}
    all_parts: list[dict] = []
    sim_s = wall_s = cpu_s = 0.0
    healthy = [0, 0]
    rescue = [0, 0]
    total_alarms = 0
    by_reason: dict[str, int] = {}
    disagreements: list[str] = []
    table = []
    workers = max(1, int(os.environ.get("STEPSYNC_BENCH_JOBS", "1")))

    load_start = os.getloadavg()[0]
    wall0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stepsync-clinical-") as tmp:
        scenes = _scene_dir(Path(tmp))
        jobs = [(name_or_path, seed, duration_s, scenes) for name_or_path in paths for seed in seeds]
        done: dict = {}

        def finished(job: tuple, res: dict) -> None:
            done[(job[0], job[1])] = res
            print(f"bench clinical: {keys[job[0]]} seed {job[1]}: {res['speedup']:.1f}x "
                  f"({len(done)}/{len(jobs)})", file=sys.stderr, flush=True)

        if workers == 1:
            for job in jobs:
                finished(job, _one(job))
        else:
            with concurrent.futures.ProcessPoolExecutor(workers) as pool:
                for job, res in zip(jobs, pool.map(_one, jobs), strict=True):
                    finished(job, res)
        for name_or_path in paths:
            parts = []
            p_rescue = [0, 0]
            alarms = 0
            for seed in seeds:
                res = done[(name_or_path, seed)]
                cpu_s += res["cpu_s"]
                sim_s += res["sim_s"]
                wall_s += res["wall_s"]
                parts.append(res["part"])
                disagreements += [f"{keys[name_or_path]} seed {seed}: {d}" for d in res["part"].get("disagreements", [])]
                alarms += res["alarms"]
                for name, n in res.get("alarm_reasons", {}).items():
                    by_reason[name] = by_reason.get(name, 0) + n
                healthy[0] += res["healthy"][0]
                healthy[1] += res["healthy"][1]
                p_rescue[0] += res["rescue"][0]
                p_rescue[1] += res["rescue"][1]
            summary = _summarise(parts)
            summary["boost_rescue_rate"] = p_rescue[0] / p_rescue[1] if p_rescue[1] else math.nan
            summary["alarms_acknowledged"] = alarms
            total_alarms += alarms
            rescue[0] += p_rescue[0]
            rescue[1] += p_rescue[1]
            all_parts += parts
            for key, value in summary.items():
                results[f"{keys[name_or_path]}.{key}"] = value
            table.append((keys[name_or_path], summary))
    overall = _summarise(all_parts)
    overall["healthy_clear_rate"] = healthy[0] / healthy[1] if healthy[1] else math.nan
    overall["boost_rescue_rate"] = rescue[0] / rescue[1] if rescue[1] else math.nan
    overall["sim_speedup"] = sim_s / wall_s if wall_s > 0 else math.nan
    overall["sim_speedup_cpu"] = sim_s / cpu_s if cpu_s > 0 else math.nan
    overall["simulated_s"] = sim_s
    overall["alarms_acknowledged"] = total_alarms
    overall["alarms_by_reason"] = dict(sorted(by_reason.items()))  # what the therapist acknowledged
    overall["obstacle_disagreements"] = disagreements  # each crossing where core and truth differ
    overall["load_start"] = load_start
    overall["load_end"] = os.getloadavg()[0]
    overall["wall_s"] = time.perf_counter() - wall0
    overall["jobs"] = workers
    overall["profiles_refused"] = refused  # errors of the files in --profiles DIR left out
    ordered = {key: overall[key] for key in KEYS}
    ordered.update({k: v for k, v in overall.items() if k not in ordered})
    ordered.update(results)
    if write_doc and not profiles:
        write_validation_doc(ordered, table, quick, seeds, duration_s)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in ordered.items()}


ACK_AFTER_S = 2.0  # the therapist at the rig acknowledges an alarm this long after it shows (project's choice)


class _Therapist:
    """The probe that plays the therapist at the rig: acknowledges each alarm ACK_AFTER_S after
    it shows, as the clinic does and the tests do (the stumble guard caps the belt until then:
    without this a false STUMBLE held a slow profile's belt at 0.05 m/s for the rest of the run,
    and hemiparetic-left met 2 obstacles in 60 s). Counts the alarms it acknowledged."""

    def __init__(self) -> None:
        self.writer = None
        self.seen_s = -1.0
        self.reasons: dict[str, int] = {}  # acknowledged alarms per AlarmReason name

    @property
    def acknowledged(self) -> int:
        """How many alarms it acknowledged."""
        return sum(self.reasons.values())

    def __call__(self, t_s: float, core, rig) -> None:
        unacked = [slot[0] for slot in core.alarms.slots if slot[0] and not slot[2]]
        if not unacked:
            self.seen_s = -1.0
            return
        if self.seen_s < 0.0:
            self.seen_s = t_s
        elif t_s - self.seen_s >= ACK_AFTER_S:
            from engine.control.commands import CommandWriter
            from engine.control.layout import AlarmReason

            if self.writer is None:
                self.writer = CommandWriter(core.cmd_block)
            self.writer.ack_alarms()  # through the command block, as the UI does
            for reason in unacked:
                name = AlarmReason(reason).name
                self.reasons[name] = self.reasons.get(name, 0) + 1
            self.seen_s = -1.0


def _start_time(events: np.ndarray) -> float:
    from engine.control.layout import EventKind, RunState

    runs = events[(events["kind"] == EventKind.RUN_STATE) & (events["code"] == int(RunState.RUNNING))]
    return float(runs["t_s"][0]) if len(runs) else float(events["t_s"][0]) if len(events) else 0.0


def _stop_time(events: np.ndarray) -> float:
    """When the run's stop began (its first STOPPING after RUNNING); inf if it never stopped."""
    from engine.control.layout import EventKind, RunState

    stops = events[(events["kind"] == EventKind.RUN_STATE) & (events["code"] == int(RunState.STOPPING))]
    return float(stops["t_s"][0]) if len(stops) else math.inf


TABLE_KEYS = (
    ("event_timing_ms_median", "timing median ms", "<= 5"), ("event_timing_ms_p95", "timing p95 ms", "<= 15"),
    ("event_offset_ms_max_abs", "offset ms", "<= 2"), ("step_length_cm_median", "step median cm", "<= 1"),
    ("step_length_cm_p95", "step p95 cm", "<= 3"), ("toe_clearance_cm_median", "MTC median cm", "<= 1"),
    ("toe_clearance_cm_p95", "MTC p95 cm", "<= 2.5"), ("obstacle_outcome_agreement", "obstacle agreement", ">= 0.97"),
    ("crossings_compared", "crossings", ""), ("crossings_unjudged", "unjudged", ""), ("boost_rescue_rate", "boost rescue", ""),
    ("alarms_acknowledged", "alarms acked", ""),
)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def write_validation_doc(figures: dict, table: list, quick: bool, seeds: list, duration_s: float) -> None:
    """docs/validation.md: the table per profile, as this run measured it."""
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    from bench.__main__ import machine_description

    machine = machine_description()
    lines = [
        "# Validation: the core's measures against the simulated patient's ground truth",
        "",
        f"Written by `python -m bench clinical{' --quick' if quick else ''}` (and `make bench`) on {now}: every "
        f"profile walks the bench scene (bench/clinical.py) for {duration_s:g} s with seeds {seeds} under "
        "`simulate`, and the control core's event ring is compared with the rig's ground truth. How each "
        "figure is computed is in bench/clinical.py; the profiles in docs/patients.md. Figures outside "
        "their targets are reported as measured.",
        "",
        f"Machine: {machine}; load average (1 min) {figures.get('load_start', math.nan):.1f} at the start and "
        f"{figures.get('load_end', math.nan):.1f} at the end of the run, {figures.get('wall_s', math.nan):.0f} s wall "
        f"({figures.get('jobs', 1)} simulation(s) at a time). "
        "The therapist at the rig is played by the bench: each alarm is acknowledged "
        f"{ACK_AFTER_S:g} s after it shows (the stumble guard caps the belt until then), "
        f"{figures.get('alarms_acknowledged', 0)} in all"
        + (f" ({', '.join(f'{k} {v}' for k, v in figures['alarms_by_reason'].items())})"
           if figures.get("alarms_by_reason") else "") + ".",
        "",
        "| profile | " + " | ".join(label for _, label, _ in TABLE_KEYS) + " |",
        "| --- | " + " | ".join("---" for _ in TABLE_KEYS) + " |",
        "| target | " + " | ".join(target for _, _, target in TABLE_KEYS) + " |",
    ]
    for name, summary in table:
        lines.append(f"| {name} | " + " | ".join(_fmt(summary.get(key)) for key, _, _ in TABLE_KEYS) + " |")
    lines += [
        "",
        "## All profiles",
        "",
        "| figure | value | target |",
        "| --- | --- | --- |",
    ]
    targets = dict((key, target) for key, _, target in TABLE_KEYS)
    targets.update({"healthy_clear_rate": ">= 0.95", "sim_speedup": ">= 20"})
    for key in (*KEYS, "sim_speedup_cpu", "simulated_s", "alarms_acknowledged"):
        lines.append(f"| `{key}` | {_fmt(figures.get(key))} | {targets.get(key, '')} |")
    lines += [
        "",
        "`obstacle_confusion`: rows are the truth (cleared, touched, tripped), columns the core's "
        "per-leg verdicts (cleared, touched, tripped). `sim_speedup` is wall-clock on a machine shared with other work; "
        "`sim_speedup_cpu` counts this process's CPU time only.",
        "",
        "## Crossing outcomes",
        "",
        "One definition, in the core (engine/control/clearance.py) and in the rig's ground truth "
        "(devices/sim/patient_truth.py), per leg and in-lane step-over obstacle:",
        "",
        "- the obstacle's hazard is its box along the route [at_m, at_m + depth_m] from the ground "
        "before it up to its height; a walk-on surface (uneven paving, a kerb ramp) and a curb up "
        "are judged over their lip only (the first 5 cm at the near edge): the top of a curb past "
        "its lip is the raised walkway, and landing there is stepping up. A curb down's stone is "
        "the walkway before the drop (its box has no height); a puddle's box has none either;",
        "- margin: the lowest point of the swinging sole (the line from heel to toe) over the hazard, "
        "minus the box's top; the minimum over the crossing, the toe's height where it reached the "
        "near face (below) included: a point of the foot's path over the hazard that no sample need "
        "fall on; a foot that lands in the box has a "
        "margin of at most minus the box's height (a puddle: -1 cm);",
        "- cleared: margin >= 0 and the foot did not land in the box; touched: the sole dipped in by "
        "less than 1.5 cm, or the foot landed on or in the box; tripped: the swinging sole went 1.5 cm or "
        "deeper into the box (the foot is caught);",
        "- a trip is a swing foot caught by the obstacle, a touch a foot that brushed it or stepped on "
        "it (Chen et al. 1991 report stepping on an obstacle as its own failure, 4 of 24 older adults). "
        "So a foot that lands on or in the box touched it unless its toe met the box's near face at "
        "least 1.5 cm below the top: the toe's height at the instant it reached the near edge "
        "(x = at_m), interpolated linearly between the last sample of the foot before that edge and "
        "the first over it (devices/obstacle_face.py, the one function both sides call; the sole's "
        "height at the edge in that first sample when the toe was already past it before). Judged "
        "by the first sample alone, the outcome depended on when each side samples (the core at its "
        "insole and encoder instants, the truth every 2 ms rig tick). A sole that "
        "reached the face higher and came down into the box later came down on it from above: the "
        "descent onto the landing place, however deep;",
        "- the swing ends at the foot's contact: the core drops samples taken at or after the "
        "detected contact time, and takes each sample's foot pitch from the insole reports around "
        "its instant (interpolated), not extrapolated past the latest one (docs/control.md).",
        "",
        "The 1.5 cm trip depth is the rig's (TRIP_PENETRATION_M), not a published threshold.",
        "",
        "## Crossings where the core and the truth differ",
        "",
    ]
    lines += [f"- {d}" for d in figures.get("obstacle_disagreements", [])] or ["- none"]
    lines.append("")
    (ROOT / "docs" / "validation.md").write_text("\n".join(lines))
