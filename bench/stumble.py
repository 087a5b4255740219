"""Stumble-warning benchmark: `python -m bench stumble [--quick] [--profiles DIR] --json`.

The real control core with the rig's insoles (`engine.sim`, in-memory links, no database) walks
every profile (devices/sim/patients/, or every YAML in DIR):
- trip sessions: scenes with step-over obstacles and the clearance boost off, so that legs whose
  capacity is below an obstacle catch it (the rig's ground truth lists each trip: time, leg);
- normal walking: the obstacle-free scene, for false alarms.

Keys:
- `trips` (stumble episodes: the rig's trips of either leg less than EPISODE_S apart, the recovery
  steps of one stumble), `detected`, `sensitivity` (target >= 0.95): an episode counts as detected
  when a STUMBLE event follows its first onset, at most MATCH_S after its last;
- `detection_latency_ms_median`, `detection_latency_ms_p95` (target <= 50): event time minus
  the ground-truth onset (the sample at which the swing foot entered the obstacle deeper than the
  rig's trip depth), both on the simulated clock;
- `false_alarms`, `normal_walking_h`, `false_alarms_per_hour` (target <= 0.5): STUMBLE events
  in normal walking of every profile; `false_alarms_obstacle_sessions` those in trip sessions
  that match no trip;
- `response_peak_decel_mps2`: the largest belt deceleration (measured belt speed, 20 ms
  differences) within 6 s after a detection, against `prescription_max_decel_mps2`; and
  `response_guidance_at_max`: share of detections after which guidance reached the prescription's
  maximum within 2 cycles.
STEPSYNC_BENCH_JOBS=N runs N simulations in parallel processes (default 1).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIP_SCENES = ("sidewalk-curb-crossing", "grocery-busy-saturday", "grocery-weekday-errands")
NORMAL_SCENE = "grocery-first-visit"
MATCH_S = 0.2
EPISODE_S = 1.0


def _profiles(profiles_dir: str | None) -> list[str]:
    folder = Path(profiles_dir) if profiles_dir else ROOT / "devices" / "sim" / "patients"
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not paths:
        raise ValueError(f"{folder}: no profile YAML files")
    return [str(p) for p in paths]


def _one(job: tuple) -> dict:
    """One simulated session: the figures bench needs (runs in a worker process)."""
    import numpy as np

    from devices.sim.profiles import load_profile
    from engine.control.layout import EventKind, RunState
    from engine.sim.session import SimOptions, run_simulation, sim_prescription

    kind, profile, scene, seed, duration_s = job
    rx = sim_prescription(load_profile(profile))
    r = run_simulation(SimOptions(scene=scene, profile=profile, duration_s=duration_s, seed=seed, db=None,
                                  boost_max=0.0 if kind == "trip" else None))
    tel, ev = r.records
    stumbles = ev[ev["kind"] == int(EventKind.STUMBLE)]
    walking = (tel["run_state"] == int(RunState.RUNNING)) & (tel["belt_speed_mps"] > 0.05)
    dt = np.diff(tel["t_s"], prepend=tel["t_s"][0]) if len(tel) else np.zeros(0)
    decel, guidance_ok = [], []
    t = tel["t_s"]
    v = tel["belt_speed_mps"].astype(float)
    for e in stumbles:
        i0 = int(np.searchsorted(t, e["t_s"]))
        i1 = int(np.searchsorted(t, e["t_s"] + 6.0))
        if i1 - i0 > 40:
            seg = v[i0:i1]
            d = (seg[:-20] - seg[20:]) / (t[i0 + 20:i1] - t[i0:i1 - 20])
            decel.append(float(d.max()))
        g = tel["guidance"][i0:i0 + 3]
        guidance_ok.append(bool(len(g) and float(g.max()) >= rx.guidance_max - 1e-3))
    return {
        "kind": kind, "profile": Path(profile).stem, "scene": scene, "seed": seed,
        "trips": [(float(x["t_s"]), int(x["side"]), bool(x.get("loss_of_balance"))) for x in r.truth.get("trips", [])],
        "stumbles": [(float(e["t_s"]), int(e["side"])) for e in stumbles],
        "walking_s": float(dt[walking].sum()), "decel": decel, "guidance_ok": guidance_ok,
        "max_decel_mps2": rx.max_decel_mps2,
        "speedup": r.speedup,
    }


def run(quick: bool, profiles: str | None = None) -> dict:
    """Simulate trip and normal-walking sessions; returns the figures (module docstring)."""
    paths = _profiles(profiles)
    trip_seeds = range(1) if quick else range(6)
    trip_s = 45.0 if quick else 150.0
    normal_s = 45.0 if quick else 600.0
    jobs = [("trip", p, TRIP_SCENES[s % len(TRIP_SCENES)], s, trip_s) for p in paths for s in trip_seeds]
    jobs += [("normal", p, NORMAL_SCENE, 100 + k, normal_s) for p in paths for k in range(1 if quick else 2)]
    workers = max(1, int(os.environ.get("STEPSYNC_BENCH_JOBS", "1")))
    wall0 = time.perf_counter()
    results = []
    if workers == 1:
        for i, job in enumerate(jobs, 1):
            results.append(_one(job))
            print(f"bench stumble: {i}/{len(jobs)} {job[0]} {Path(job[1]).stem} on {job[2]}", file=sys.stderr, flush=True)
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            for i, res in enumerate(pool.map(_one, jobs), 1):
                results.append(res)
                print(f"bench stumble: {i}/{len(jobs)} {res['kind']} {res['profile']}", file=sys.stderr, flush=True)
    latencies, trips, detected, fa_obstacle, lob = [], 0, 0, 0, 0
    fa_normal, normal_s_total, decel, guidance_ok = 0, 0.0, [], []
    for res in results:
        decel += res["decel"]
        guidance_ok += res["guidance_ok"]
        matched = set()
        # one stumble episode: trips of either leg less than EPISODE_S apart (the recovery steps)
        episodes: list[list] = []
        for t0, side, severe in sorted(res["trips"]):
            if episodes and t0 - episodes[-1][-1][0] < EPISODE_S:
                episodes[-1].append((t0, side, severe))
            else:
                episodes.append([(t0, side, severe)])
        for episode in episodes:
            trips += 1
            lob += any(x[2] for x in episode)
            t0, side = episode[0][0], episode[0][1]
            t_last = episode[-1][0]
            hits = [i for i, (t, _) in enumerate(res["stumbles"]) if 0.0 <= t - t0 and t - t_last <= MATCH_S]
            if hits:
                detected += 1
                matched.update(hits)
                latencies.append((res["stumbles"][hits[0]][0] - t0) * 1000.0)
        unmatched = len(res["stumbles"]) - len(matched)
        if res["kind"] == "normal":
            fa_normal += unmatched
            normal_s_total += res["walking_s"]
        else:
            fa_obstacle += unmatched
    hours = normal_s_total / 3600.0
    return {
        "trips": trips,
        "loss_of_balance_trips": lob,
        "detected": detected,
        "sensitivity": round(detected / trips, 3) if trips else None,
        "detection_latency_ms_median": round(statistics.median(latencies), 1) if latencies else None,
        "detection_latency_ms_p95": round(float(sorted(latencies)[max(0, math.ceil(0.95 * len(latencies)) - 1)]), 1)
        if latencies else None,
        "false_alarms": fa_normal,
        "normal_walking_h": round(hours, 3),
        "false_alarms_per_hour": round(fa_normal / hours, 2) if hours > 0 else None,
        "false_alarms_obstacle_sessions": fa_obstacle,
        "response_peak_decel_mps2": round(max(decel), 3) if decel else None,
        "prescription_max_decel_mps2": min((r["max_decel_mps2"] for r in results), default=None),
        "response_guidance_at_max": round(sum(guidance_ok) / len(guidance_ok), 3) if guidance_ok else None,
        "sessions": len(results),
        "sim_speedup_median": round(statistics.median(r["speedup"] for r in results), 1) if results else None,
        "wall_s": round(time.perf_counter() - wall0, 1),
    }
