"""A whole session within budget: core, UI, rig and recorder together, and the floor beside them.

For each of two scenes (a grocery store and a sidewalk) it runs the real thing,
`python main.py run --headless` (virtual rig, control core, recorder, Panda3D app rendering
offscreen), reads the session back from its database and samples /proc for each process's CPU
time. During each session a do-nothing floor loop (the core's timer, no work) runs on the core's
CPU at SCHED_FIFO 79, one below the core: it meets the same host stalls, the same other real-time
loops and the same throttling in the same seconds, and the core preempts it at once (its cost to
the floor: the core's compute, ~0.1-0.3 ms, when they collide). With --hog a busy loop at normal
priority runs on every CPU too. Diagnostics go to stderr: the core's lateness histogram, its
scheduler statistics (/proc/PID/schedstat run and run-queue wait, involuntary switches,
migrations) and page faults over the session, and the real-time tasks running beside it.

Figures (the worse of the two scenes; CPU fractions are means, of one CPU):
- session_core_missed_cycles, session_core_p99_lateness_us, session_core_max_lateness_us: from
  the lateness the core records in every telemetry record;
- session_floor_missed_cycles, session_floor_max_lateness_us: the floor loop, which runs from
  the core's start to the session's end; missed and max of both are taken over the seconds both
  ran (`same_window`: the recorded telemetry starts when the session opens);
- ui_frame_ms_p50, ui_frame_ms_p99, visual_belt_error_mm_p99: the app's frame statistics;
- recorder_max_lag_s: the recorder's own statistics (newest record's age at commit);
- cpu_fraction_core / _ui / _rig / _recorder: /proc/PID/stat utime + stime over the session;
- false_stops: stop alarms (other than a requested stop) plus sessions that did not complete.
Targets (issue 17), with and without --hog: core missed <= floor missed; core max <= floor max +
200 us; visual_belt_error_mm_p99 <= 5; false_stops = 0; recorder_max_lag_s <= 0.2.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PERIOD_S = 0.001
SCENES = ("grocery-first-visit", "sidewalk-morning-stroll")
KEYS = (
    "session_core_missed_cycles", "session_floor_missed_cycles", "session_core_p99_lateness_us",
    "session_core_max_lateness_us", "session_floor_max_lateness_us", "ui_frame_ms_p50", "ui_frame_ms_p99",
    "visual_belt_error_mm_p99", "recorder_max_lag_s", "cpu_fraction_core", "cpu_fraction_ui",
    "cpu_fraction_rig", "cpu_fraction_recorder", "false_stops",
)


FLOOR_RT_PRIORITY = 79  # one below the core's 80
FLOOR_EXTRA_S = 120.0  # the floor runs until the session ends: its start-up, walk and stop


def floor_loop(cpu: int, max_s: float, stop, queue) -> None:
    """Child: the core's timer doing nothing, SCHED_FIFO 79 pinned to `cpu`, until `stop` is set
    (the session ended) or max_s; puts its lateness and the time of each wake-up."""
    from engine.control.looptimer import DeadlineTimer, acquire_realtime, freeze_gc

    acquire_realtime(FLOOR_RT_PRIORITY, cpu)
    freeze_gc()
    n = int(max_s / PERIOD_S)
    late = np.zeros(n)
    wake = np.zeros(n)
    timer = DeadlineTimer(PERIOD_S)
    k = 0
    while k < n and not (k % 100 == 0 and stop.is_set()):
        late[k] = timer.wait()
        wake[k] = timer.cycle_start_s
        k += 1
    late, wake = late[:k], wake[:k]
    queue.put({"missed": int(timer.missed), "max_us": float(late.max() * 1e6),
               "p99_us": float(np.percentile(late, 99) * 1e6), "late_s": late, "wake_s": wake})


def same_window(core_t_s: np.ndarray, core_late_us: np.ndarray, floor_wake_s: np.ndarray,
                floor_late_s: np.ndarray) -> dict:
    """Missed cycles and max lateness of the core and the floor over the seconds both ran.

    The core's telemetry spans the session (from its opening to the core's stop) and the floor
    started when the core pinned itself: compared over different spans, a host that stalls the
    machine a few times a second gives the longer one more missed cycles whatever the loops do.
    Missed = whole periods of lateness, summed (what DeadlineTimer.missed counts)."""
    start_s = max(float(core_t_s[0]), float(floor_wake_s[0]))
    end_s = min(float(core_t_s[-1]), float(floor_wake_s[-1]))
    core = core_late_us[(core_t_s >= start_s) & (core_t_s <= end_s)]
    floor = floor_late_s[(floor_wake_s >= start_s) & (floor_wake_s <= end_s)] * 1e6
    period_us = PERIOD_S * 1e6

    def missed(late_us):
        return int(np.floor(late_us / period_us).clip(min=0).sum())

    return {"window_s": max(0.0, end_s - start_s), "core_missed": missed(core), "floor_missed": missed(floor),
            "core_max_us": float(core.max()) if len(core) else None,
            "floor_max_us": float(floor.max()) if len(floor) else None}


def _cpu_s(pid: int) -> float | None:
    """utime + stime of a process in seconds (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sched(pid: int) -> dict | None:
    """Scheduler and fault counters of a process (None once it is gone)."""
    try:
        run_ns, wait_ns, slices = (int(x) for x in Path(f"/proc/{pid}/schedstat").read_text().split())
        stat = Path(f"/proc/{pid}/stat").read_text()
        sched = Path(f"/proc/{pid}/sched").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    out = {"run_ns": run_ns, "wait_ns": wait_ns, "slices": slices, "minflt": int(fields[7]), "majflt": int(fields[9]),
           "cpu": int(fields[36])}
    for line in sched.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("nr_involuntary_switches", "nr_voluntary_switches", "se.nr_migrations"):
            out[key] = int(float(value))
    return out


def _rt_tasks() -> list[str]:
    """Real-time processes on the machine now: 'pid:policy/prio:cpu:name'."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[38]) in (1, 2) and not stat[stat.index("(") + 1:].startswith(("migration", "watchdog")):
            found.append(f"{entry}:{'FIFO' if fields[38] == '1' else 'RR'}/{fields[37]}:cpu{fields[36]}")
    return found


def _affinity(pid: int) -> set[int]:
    try:
        return os.sched_getaffinity(pid)
    except OSError:
        return set()


def _children(pid: int) -> dict[str, int]:
    """The session's rig, core and recorder processes, by command line."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) != pid:
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if "devices.sim.server" in cmdline:
            found["rig"] = int(entry)
        elif "engine.records.recorder" in cmdline:
            found["recorder"] = int(entry)
        elif "multiprocessing.spawn" in cmdline and "resource_tracker" not in cmdline:
            found["core"] = int(entry)
    return found


def run_session(scene: str, duration_s: float, workdir: Path) -> dict:
    """One headless session with the floor loop beside it; returns its raw figures."""
    from engine.control.layout import AlarmReason
    from engine.control.supervisor import STOP_REASONS
    from engine.records.store import Store

    db = workdir / f"{scene}.db"
    log_path = workdir / f"{scene}.log"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    floor_stop = ctx.Event()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "main.py", "run", "--scene", scene, "--patient", "demo-healthy", "--duration-s",
             str(duration_s), "--headless", "--db", str(db), "--vr", "off"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        floor = None
        first: dict[str, tuple[float, float]] = {}
        last: dict[str, tuple[float, float]] = {}
        sched_first = sched_last = None
        core_seen_s = 0.0
        rt_seen: set[str] = set()
        try:
            while proc.poll() is None:
                pids = {"ui": proc.pid, **_children(proc.pid)}
                now = time.monotonic()
                for role, pid in pids.items():
                    cpu = _cpu_s(pid)
                    if cpu is not None:
                        first.setdefault(role, (now, cpu))
                        last[role] = (now, cpu)
                if "core" in pids:
                    sched = _sched(pids["core"])
                    core_seen_s = core_seen_s or now
                    if sched is not None and now - core_seen_s > 5.0:  # after its imports and start
                        sched_first = sched_first or sched
                        sched_last = sched
                    rt_seen.update(t.split(":", 1)[1] + ":" + t.split(":")[0] for t in _rt_tasks()
                                   if int(t.split(":")[0]) not in pids.values())
                core_cpus = _affinity(pids["core"]) if "core" in pids else set()
                if floor is None and len(core_cpus) == 1:
                    # The core has pinned itself: the floor shares its CPU, one priority below.
                    floor = ctx.Process(target=floor_loop,
                                        args=(core_cpus.pop(), duration_s + FLOOR_EXTRA_S, floor_stop, queue))
                    floor.start()
                time.sleep(0.25)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            floor_stop.set()
    floor_figures = queue.get(timeout=duration_s + FLOOR_EXTRA_S + 60) if floor is not None else {}
    floor_late_s = floor_figures.pop("late_s", None)
    floor_wake_s = floor_figures.pop("wake_s", None)
    if floor is not None:
        floor.join(10)
    with Store(db) as store:
        sessions = store.list_sessions()
        telemetry = store.telemetry(sessions[0]["id"]) if sessions else []
        if not sessions or not len(telemetry):
            # The app ended before it opened a session, or before anything of it was recorded: a
            # failed session, with its log to say why.
            tail = log_path.read_text(errors="replace")[-3000:]
            what = "no session" if not sessions else "a session without telemetry"
            print(f"bench session: {scene}: {what} recorded (exit {proc.returncode}); log tail:\n{tail}",
                  file=sys.stderr, flush=True)
            return {"scene": scene, "outcome": "failed", "core_missed": None, "core_p99_us": None,
                    "core_max_us": None, "floor_missed": floor_figures.get("missed"),
                    "floor_max_us": floor_figures.get("max_us"), "frame_ms_p50": None, "frame_ms_p99": None,
                    "visual_belt_error_mm_p99": None, "recorder_max_lag_s": None, "cpu": {},
                    "stop_alarms": [], "false_stops": 1}
        session = sessions[0]
        sid = session["id"]
        telemetry = store.telemetry(sid)
        events = store.events(sid)
        frames = store.frame_timing(sid)
        recorder = store.get_session(sid).get("recorder") or {}
        outcome = store.get_session(sid)["outcome"]
    # The core's port reader: how often (and how long) a read waited in the kernel for the tty
    # flip-buffer worker (docs/control.md, "Device silence"); those waits no longer stall the loop.
    log_lines = log_path.read_text(errors="replace").splitlines()
    reader_line = [line for line in log_lines if "port reader:" in line]
    # Why a device fell silent: the core's silence warnings and the rig's late ticks.
    silence_lines = [line for line in log_lines if "_SILENT: nothing for" in line or "rig tick" in line][:6]
    # Why the session stopped, when it did: the core's and the UI's own words.
    stop_lines = [line for line in log_lines if any(key in line for key in (
        "UI_HEARTBEAT_LOST", "main loop frozen", "stopped the session", "before its watchdog"))][:8]
    late_us = telemetry["lateness_us"].astype(float)
    compute_us = telemetry["compute_us"].astype(float)
    window = (same_window(telemetry["t_s"], late_us, floor_wake_s, floor_late_s)
              if floor_wake_s is not None and len(floor_wake_s) and len(telemetry) else None)
    missed_at = np.flatnonzero(late_us >= PERIOD_S * 1e6)
    diagnostics = {
        "lateness_us_histogram": dict(zip(
            ["<50", "50-100", "100-200", "200-500", "500-1000", "1-2ms", "2-5ms", "5-10ms", "10-50ms", ">=50ms"],
            np.histogram(late_us, bins=[0, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 1e9])[0].tolist(),
            strict=True)),
        # A telemetry record carries the compute time of the cycle before it: record k's
        # compute_us is how long the cycle that ended just before cycle k's late wake-up took.
        "late_cycles_after_a_long_compute": int(np.sum(compute_us[missed_at] > 900)),
        "lateness_after_long_compute_us": float(late_us[missed_at][compute_us[missed_at] > 900].sum()),
        "lateness_of_late_cycles_us": float(late_us[missed_at].sum()),
        "late_cycles": int(len(missed_at)),
        "compute_us_p99": float(np.percentile(compute_us, 99)),
        "compute_us_max": float(compute_us.max()),
        "core_sched_delta": ({k: sched_last[k] - sched_first[k] for k in sched_last if k != "cpu"}
                             if sched_first and sched_last else None),
        "other_rt_tasks_seen": sorted(rt_seen)[:20],
        "floor": floor_figures,
        "core_t_s_span": [float(telemetry["t_s"][0]), float(telemetry["t_s"][-1])] if len(telemetry) else None,
        "floor_wake_s_span": ([float(floor_wake_s[0]), float(floor_wake_s[-1])]
                              if floor_wake_s is not None and len(floor_wake_s) else None),
        "whole_session": {"core_missed": int(np.floor(late_us / (PERIOD_S * 1e6)).clip(min=0).sum()),
                          "core_max_us": float(late_us.max()), "floor_missed": floor_figures.get("missed"),
                          "floor_max_us": floor_figures.get("max_us")},
        "same_window": window,
        "port_reader": reader_line[-1].split("port reader: ", 1)[1] if reader_line else None,
        "frames": {k: (frames[-1] if frames else {}).get(k) for k in (
            "frames", "frame_ms_p50", "render_ms_p50", "render_ms_p99", "hold_ms_p50", "late_presentations",
            "visual_belt_error_mm_p50", "visual_belt_error_mm_p99", "visual_belt_error_mm_mean", "wake_late_ms_p50",
            "wake_late_ms_p99", "view_distance_m_min", "present_late_ms_p50", "present_late_ms_p99",
            "timing_error_mm_p99", "model_error_mm_p99", "truth_age_ms_p99", "hold_runq_ms_p99")},
        "recorder": {k: recorder.get(k) for k in ("max_lag_s", "max_lag_detail", "max_commit_s", "commits",
                                                  "compactions", "cpu_s")},
        "silence_log": silence_lines,
        "stop_log": stop_lines,
    }
    print("bench session diagnostics " + json.dumps({"scene": scene, **diagnostics}), file=sys.stderr, flush=True)
    stop_names = {AlarmReason(r).name.lower() for r in STOP_REASONS if r != AlarmReason.STOP_REQUEST}
    stops = [e for e in events if e["kind"] == "alarm_raised" and e.get("reason") in stop_names]
    frame = frames[-1] if frames else {}
    cpu = {role: (last[role][1] - first[role][1]) / max(1e-6, last[role][0] - first[role][0])
           for role in last if role in first and last[role][0] > first[role][0]}
    return {
        "scene": scene,
        "outcome": outcome,
        # Core and floor over the same seconds (same_window); the whole-session figures are in
        # the diagnostics.
        "core_missed": window["core_missed"] if window else None,
        "core_p99_us": float(np.percentile(late_us, 99)),
        "core_max_us": window["core_max_us"] if window else None,
        "floor_missed": window["floor_missed"] if window else None,
        "floor_max_us": window["floor_max_us"] if window else None,
        "frame_ms_p50": frame.get("frame_ms_p50"),
        "frame_ms_p99": frame.get("frame_ms_p99"),
        "visual_belt_error_mm_p99": frame.get("visual_belt_error_mm_p99"),
        "recorder_max_lag_s": recorder.get("max_lag_s"),
        "cpu": cpu,
        "stop_alarms": [e.get("reason") for e in stops],
        "false_stops": len(stops) + (0 if outcome == "completed" else 1),
    }


def run(quick: bool, hog: bool = False) -> dict:
    """Both scenes; returns exactly the issue's keys (details on stderr)."""
    from bench.control_loop import _start_hogs

    duration_s = 20.0 if quick else 60.0
    hogs = _start_hogs() if hog else []
    sessions = []
    try:
        with tempfile.TemporaryDirectory(prefix="stepsync-bench-session-") as tmp:
            for scene in SCENES:
                print(f"bench session: {scene}, {duration_s:.0f} s{' with a hog on every CPU' if hog else ''} ...",
                      file=sys.stderr, flush=True)
                result = run_session(scene, duration_s, Path(tmp))
                print(json.dumps(result), file=sys.stderr, flush=True)
                sessions.append(result)
    finally:
        for proc in hogs:
            proc.kill()
            proc.wait()

    def worst(key):
        values = [s[key] for s in sessions if s[key] is not None]
        return max(values) if values else None

    def total(key):
        values = [s[key] for s in sessions if s[key] is not None]
        return int(sum(values)) if values else None

    def cpu(role):
        values = [s["cpu"][role] for s in sessions if role in s["cpu"]]
        return float(np.mean(values)) if values else None

    return {
        "session_core_missed_cycles": total("core_missed"),
        "session_floor_missed_cycles": total("floor_missed"),
        "session_core_p99_lateness_us": worst("core_p99_us"),
        "session_core_max_lateness_us": worst("core_max_us"),
        "session_floor_max_lateness_us": worst("floor_max_us"),
        "ui_frame_ms_p50": worst("frame_ms_p50"),
        "ui_frame_ms_p99": worst("frame_ms_p99"),
        "visual_belt_error_mm_p99": worst("visual_belt_error_mm_p99"),
        "recorder_max_lag_s": worst("recorder_max_lag_s"),
        "cpu_fraction_core": cpu("core"),
        "cpu_fraction_ui": cpu("ui"),
        "cpu_fraction_rig": cpu("rig"),
        "cpu_fraction_recorder": cpu("recorder"),
        "false_stops": total("false_stops"),
    }
