"""`python -m bench simspeed [--quick] --json`: how fast `simulate` runs, and where its time goes.

Issue 10 asks simulate to run >= 20x faster than real time. `bench clinical` reports
`sim_speedup` over its whole validation run; this bench measures the same thing alone, on the same
scene (bench clinical's), for a few profiles that load the model differently, so that a change to
the simulation's speed can be measured in a minute rather than five:
- `sim_speedup`: simulated seconds per wall-clock second over all runs (the machine as it is,
  other work included); `sim_speedup_cpu`: per second of this process's CPU time.
- `core_us_per_cycle`, `rig_us_per_cycle`: thread CPU time of ControlCore.step and of the rig's
  tick per 1 ms core cycle (one extra run, timed around each call; the rest of a cycle is the
  loop, the UI heartbeat, the recorder drain). 20x needs all of it within 50 us.
- `sim_speedup_db`: one run that writes its records into a SQLite file, as `main.py simulate`
  does (the recorder's compaction thread included).
CPU time under load grows with the load (shared caches, SMT siblings): compare figures from one
run, or counts of instructions (valgrind), not figures taken at different moments.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

PROFILES = ("healthy", "parkinsonian-freezing", "hemiparetic-left")


def _options(profile: str, duration_s: float, scenes: Path, db=None):
    from engine.sim.session import SimOptions

    return SimOptions(scene="bench-clinical", profile=profile, duration_s=duration_s, seed=1, db=db,
                      scenes_dir=scenes)


def _split(profile: str, duration_s: float, scenes: Path) -> tuple[float, float]:
    """Thread CPU time per core cycle in ControlCore.step and in the rig's tick (us)."""
    from devices.sim.server import Rig
    from engine.control.core import ControlCore
    from engine.sim.session import run_simulation

    spent = {"core": 0.0, "rig": 0.0, "cycles": 0}
    clock = time.thread_time
    step, tick = ControlCore.step, Rig.tick

    def timed_step(self, t, lateness_s=0.0):
        t0 = clock()
        step(self, t, lateness_s)
        spent["core"] += clock() - t0
        spent["cycles"] += 1

    def timed_tick(self, now_s, full=True):
        t0 = clock()
        tick(self, now_s, full)
        spent["rig"] += clock() - t0

    ControlCore.step, Rig.tick = timed_step, timed_tick
    try:
        run_simulation(_options(profile, duration_s, scenes))
    finally:
        ControlCore.step, Rig.tick = step, tick
    n = max(1, spent["cycles"])
    return spent["core"] / n * 1e6, spent["rig"] / n * 1e6


def run(quick: bool) -> dict:
    """Simulate each profile once (no database), one instrumented run and one into a database."""
    from bench.clinical import _scene_dir
    from engine.sim.session import run_simulation

    duration_s = 8.0 if quick else 30.0
    results: dict = {}
    sim_s = wall_s = cpu_s = 0.0
    with tempfile.TemporaryDirectory(prefix="stepsync-simspeed-") as tmp:
        scenes = _scene_dir(Path(tmp))
        run_simulation(_options(PROFILES[0], 1.0, scenes))  # imports and caches warm, not counted
        for profile in PROFILES:
            cpu0 = time.process_time()
            res = run_simulation(_options(profile, duration_s, scenes))
            cpu = time.process_time() - cpu0
            sim_s += res.sim_s
            wall_s += res.wall_s
            cpu_s += cpu
            results[f"{profile}.sim_speedup"] = res.sim_s / res.wall_s
            results[f"{profile}.sim_speedup_cpu"] = res.sim_s / cpu
            print(f"bench simspeed: {profile}: {res.sim_s:.1f} s simulated, {res.speedup:.1f}x wall, "
                  f"{res.sim_s / cpu:.1f}x CPU", file=sys.stderr, flush=True)
        results["sim_speedup"] = sim_s / wall_s
        results["sim_speedup_cpu"] = sim_s / cpu_s
        results["simulated_s"] = sim_s
        core_us, rig_us = _split(PROFILES[0], duration_s, scenes)
        results["core_us_per_cycle"] = core_us
        results["rig_us_per_cycle"] = rig_us
        res = run_simulation(_options(PROFILES[0], duration_s, scenes, db=Path(tmp) / "simspeed.db"))
        results["sim_speedup_db"] = res.sim_s / res.wall_s
    return results
