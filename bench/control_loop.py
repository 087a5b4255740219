"""Control-loop timing at 1 kHz under load, against peers and the machine's floor.

One child process (SCHED_FIFO where granted, pinned to the last CPU) opens the virtual rig's
devices and walks the simulated patient, driving the same `ControlCore.step` with, in turn:
- rt: the core's own timer (absolute deadlines, sleep until 150 us before, then spin);
- naive: a plain `time.sleep` until each absolute deadline, no spin;
- osl: opensourceleg's SoftRealtimeLoop (default mode, `maintain_original_phase=False`),
  reimplemented line for line from opensourceleg 3.5.0 `utilities/softrealtimeloop.py` because
  the package pins numpy<2 and pulls pandas; its lateness is measured as it measures its own
  error: each cycle's start against the previous start plus dt;
- floor: the core's timer doing no work at all (what the machine allows under this scheduling),
  interleaved with the core's own loop in blocks of 50 cycles so both see the same host stalls.
A CPU hog runs on every core the whole time (plain busy loops at normal priority); the rig runs
at a lower real-time priority on the first CPU, as real devices would not share the core's CPU.

Figures: rt_p50/p99/max_lateness_us, rt_missed_cycles, rt_granted, naive_p99_lateness_us,
osl_p99_lateness_us, floor_p99/max_lateness_us, floor_missed_cycles, core_cpu_fraction.
Targets with real-time priority: rt p99 <= 50 us and below both peers; rt max <= floor max +
200 us; rt missed cycles <= floor's; core_cpu_fraction < 0.40 (of one core).
60 s for the core and 60 s of floor, interleaved (10 s each with --quick); peers 60 s each
(2 s each with --quick, enough for a p99 of 2000 cycles).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time

PERIOD_S = 0.001
FLOOR_BLOCK = 50  # cycles per interleaved block of core work / floor


def _percentiles(lateness_s, period_s: float) -> dict:
    import numpy as np

    us = np.asarray(lateness_s) * 1e6
    return {
        "p50": float(np.percentile(us, 50)),
        "p99": float(np.percentile(us, 99)),
        "max": float(us.max()),
        "missed": int(np.sum(np.floor(np.asarray(lateness_s) / period_s).clip(min=0))),
        "cycles": int(len(us)),
    }


class OslSoftRealtimeLoop:
    """opensourceleg SoftRealtimeLoop, default (consistent-dt) mode, as in its 3.5.0 source."""

    PRECISION_OF_SLEEP = 1e-09 if sys.version_info.minor >= 11 else 1e-06

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.signals = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
        self.kill_now = False
        self.iteration_start_time = time.monotonic()
        self.sleep_t_agg = 0.0
        self.n = 0

    def next(self) -> float:
        """One iteration of `_next_consistent_dt`; returns this cycle's error (s)."""
        precision = self.PRECISION_OF_SLEEP
        if self.n == 0:
            self.n += 1
            self.iteration_start_time = time.monotonic()
            return 0.0
        time_since_last_loop = time.monotonic() - self.iteration_start_time
        sleep_time = max(self.dt - time_since_last_loop - 2 * precision, 0)
        actual_time_to_sleep = max(precision, sleep_time)
        time.sleep(actual_time_to_sleep)
        self.sleep_t_agg += actual_time_to_sleep
        time_to_busy_wait = time.monotonic() + precision
        while time.monotonic() < time_to_busy_wait and not self.kill_now:
            if hasattr(signal, "sigtimedwait") and signal.sigtimedwait(self.signals, 0):
                self.kill_now = True
        now = time.monotonic()
        error = (now - self.iteration_start_time) - self.dt
        self.n += 1
        self.iteration_start_time = now
        return error


def _keep_walking(core, writer) -> None:
    """Heartbeat, and restart the walk if a stall made the core stop."""
    writer.heartbeat()
    if core.run_state == 4:  # STOPPED
        writer.rearm()
        writer.start()


def _segment_child(ports: dict, paths: dict, plan: list, result_queue) -> None:
    """Child: run the segments of `plan` [(name, seconds)] on one ControlCore; report figures."""
    import gc
    import resource

    import numpy as np

    from devices.discovery import open_devices
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter
    from engine.control.config import CoreConfig
    from engine.control.core import ControlCore
    from engine.control.looptimer import DeadlineTimer, acquire_realtime, freeze_gc

    channels = Channels.attach(paths)
    writer = CommandWriter(channels.command)
    devices = open_devices(ports)
    granted, _ = acquire_realtime(80, None)
    # Timing is measured here, not safety: a host stall of tens of milliseconds (seen on a busy
    # virtual machine) must not end the walk, so silence and heartbeat limits are relaxed and a
    # stopped core is re-armed and restarted (the work per cycle stays that of a walking session).
    config = CoreConfig(ports=ports, device_silence_s=0.25, ui_heartbeat_timeout_s=0.5)
    core = ControlCore(config, channels, devices, rt_granted=granted)
    results: dict = {"granted": granted}
    clock = time.monotonic
    try:
        # Warm up and start walking under the core's own timer.
        timer = DeadlineTimer(PERIOD_S, config.spin_us * 1e-6)
        writer.heartbeat()
        for k in range(1500):
            lateness = timer.wait()
            if k % 20 == 0:
                writer.heartbeat()
            if k == 10:
                writer.start()
            start = timer.cycle_start_s
            core.step(start, lateness)
            core.finish_cycle(clock() - start)
        freeze_gc()
        for name, seconds in plan:
            n = int(seconds / PERIOD_S)
            late = np.zeros(n)
            compute = np.zeros(n)
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            wall0 = clock()
            if name == "rt+floor":
                # The core's loop and the do-nothing floor interleaved in blocks of FLOOR_BLOCK
                # cycles on one timer, so both meet the same machine (a host stall hits either
                # with the same odds). Blocks are shorter than the device and UI watchdogs.
                timer = DeadlineTimer(PERIOD_S, config.spin_us * 1e-6)
                is_floor = np.zeros(n, dtype=bool)
                missed_rt = missed_floor = 0
                for k in range(n):
                    floor = (k // FLOOR_BLOCK) % 2 == 1
                    before = timer.missed
                    lateness = timer.wait()
                    late[k] = lateness
                    is_floor[k] = floor
                    if floor:
                        missed_floor += timer.missed - before
                        continue
                    missed_rt += timer.missed - before
                    if k % 20 == 0:
                        _keep_walking(core, writer)
                    start = timer.cycle_start_s
                    core.step(start, lateness)
                    compute[k] = clock() - start
                    core.finish_cycle(compute[k])
                wall = clock() - wall0
                usage1 = resource.getrusage(resource.RUSAGE_SELF)
                cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
                rt_late = late[~is_floor]
                rt_compute = compute[~is_floor]
                figures = _percentiles(rt_late, PERIOD_S)
                figures["missed"] = int(missed_rt)
                # CPU of the blocks that worked; the floor blocks' spinning is counted too, so
                # this overestimates the core's share a little.
                figures["cpu_fraction"] = cpu / wall
                figures["run_state"] = int(core.run_state)
                figures["compute_p99_us"] = float(np.percentile(rt_compute, 99) * 1e6)
                figures["compute_max_us"] = float(rt_compute.max() * 1e6)
                results["rt"] = figures
                floor_figures = _percentiles(late[is_floor], PERIOD_S)
                floor_figures["missed"] = int(missed_floor)
                results["floor"] = floor_figures
                continue
            elif name == "naive":
                deadline = clock() + PERIOD_S
                for k in range(n):
                    remaining = deadline - clock()
                    if remaining > 0:
                        time.sleep(remaining)
                    start = clock()
                    late[k] = start - deadline
                    deadline += PERIOD_S
                    if k % 20 == 0:
                        _keep_walking(core, writer)
                    core.step(start, late[k])
                    core.finish_cycle(clock() - start)
            elif name == "osl":
                loop = OslSoftRealtimeLoop(PERIOD_S)
                for k in range(n):
                    late[k] = loop.next()
                    start = loop.iteration_start_time
                    if k % 20 == 0:
                        _keep_walking(core, writer)
                    core.step(start, late[k])
                    core.finish_cycle(clock() - start)
            wall = clock() - wall0
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
            figures = _percentiles(late, PERIOD_S)
            figures["cpu_fraction"] = cpu / wall
            figures["run_state"] = int(core.run_state)

            results[name] = figures
        gc.enable()
    finally:
        devices.close()
        channels.close(unlink=False)
        result_queue.put(results)


def _start_hogs() -> list[subprocess.Popen]:
    """One busy loop per CPU at normal priority."""
    hogs = []
    for cpu in sorted(os.sched_getaffinity(0)):
        proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            os.sched_setaffinity(proc.pid, {cpu})
        except OSError:
            pass
        hogs.append(proc)
    return hogs


def run(quick: bool) -> dict:
    """Run the comparison; returns the named figures."""
    from devices.sim.rig import start_rig
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter
    from engine.control.prescription import Prescription

    core_s = 10.0 if quick else 60.0
    peer_s = 2.0 if quick else 60.0
    # The core and the floor interleave, each getting core_s in total.
    plan = [("rt+floor", 2 * core_s), ("naive", peer_s), ("osl", peer_s)]
    rig = start_rig("healthy", seed=7)
    cpus = sorted(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(rig.pid, {cpus[0]})
        os.sched_setscheduler(rig.pid, os.SCHED_FIFO, os.sched_param(50))
    except (OSError, AttributeError):
        pass
    channels = Channels.create()
    writer = CommandWriter(channels.command)
    writer.heartbeat()
    writer.set_prescription(Prescription())
    writer.set_settings(speed_fraction=0.8, guidance=0.4)
    hogs = _start_hogs()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_segment_child, args=(dict(rig.ports), channels.paths(), plan, queue))
    try:
        child.start()
        results = queue.get(timeout=sum(s for _, s in plan) + 60.0)
        child.join(10.0)
    finally:
        if child.is_alive():
            child.kill()
            child.join()
        for hog in hogs:
            hog.kill()
            hog.wait()
        rig.stop()
        channels.close()
    rt, naive, osl, floor = results["rt"], results["naive"], results["osl"], results["floor"]
    return {
        "rt_p50_lateness_us": rt["p50"],
        "rt_p99_lateness_us": rt["p99"],
        "rt_max_lateness_us": rt["max"],
        "rt_missed_cycles": rt["missed"],
        "rt_granted": bool(results["granted"]),
        "naive_p99_lateness_us": naive["p99"],
        "osl_p99_lateness_us": osl["p99"],
        "floor_p99_lateness_us": floor["p99"],
        "floor_max_lateness_us": floor["max"],
        "floor_missed_cycles": floor["missed"],
        "core_cpu_fraction": rt["cpu_fraction"],
        "naive_max_lateness_us": naive["max"],
        "osl_max_lateness_us": osl["max"],
        "rt_seconds": core_s,
        "peer_seconds": peer_s,
        "walking_throughout": rt["run_state"] == 1 and osl["run_state"] == 1,
        "rt_compute_p99_us": rt["compute_p99_us"],
        "rt_compute_max_us": rt["compute_max_us"],
    }
