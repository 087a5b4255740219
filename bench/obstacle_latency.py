"""Obstacle to actuation: control cycles from the planner's decision to the device receiving it.

The virtual rig's firmware runs in this process (devices.sim.server.Rig, the same code as the
rig process, its devices on real pseudo-terminals) so the moment the treadmill firmware decodes
a changed set-point can be timestamped on the same clock as the core's cycles. The core walks
the simulated patient towards a traffic light (a periodic yield obstacle) and a crossing; every
time the planner changes its decision (OBSTACLE_PLAN event) the bench waits for the first
belt set-point the firmware receives after it and counts control cycles from the start of the
deciding cycle: 1 means the device had the new command before the next cycle began.

Figures: obstacle_to_device_cycles (the worst over all decisions; target <= 2),
obstacle_to_device_cycles_median, decisions (how many were measured).
"""

from __future__ import annotations

import math
import threading
import time

PERIOD_S = 0.001


def run(quick: bool) -> dict:
    """Walk through obstacles and time each decision to the device; returns the figures."""
    import numpy as np

    from devices.discovery import open_devices
    from devices.sim.server import Rig
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter
    from engine.control.config import CoreConfig
    from engine.control.core import ControlCore
    from engine.control.layout import TIMELINE_DTYPE, EventKind, ObstacleCategory
    from engine.control.looptimer import DeadlineTimer
    from engine.control.prescription import Prescription

    rig = Rig("healthy", seed=11)
    # Answer the drivers' handshakes from a thread while they open, then drive the rig from the
    # loop below so every firmware read happens at a known moment.
    running = threading.Event()
    running.set()

    def pace() -> None:
        while running.is_set():
            rig.tick(time.monotonic())
            time.sleep(0.002)

    pacer = threading.Thread(target=pace, daemon=True)
    pacer.start()
    channels = Channels.create()
    try:
        devices = open_devices(rig.ports)
    finally:
        running.clear()
        pacer.join()
    try:
        writer = CommandWriter(channels.command)
        writer.heartbeat()
        writer.set_prescription(Prescription(max_speed_mps=1.0))
        writer.set_settings(speed_fraction=0.8, guidance=0.3)
        # Traffic lights every 2 m (red 1 s of every 2 s, staggered) and a slow zone of
        # crossings: each turns the planner's decision over at least once.
        rows = np.zeros(12, TIMELINE_DTYPE)
        for i in range(12):
            at_m = 2.0 + 2.0 * i
            if i % 3 == 2:  # a pedestrian crossing, triggered 1.5 m before, slow to 30 %
                rows[i] = (0, ObstacleCategory.YIELD, at_m, 0.5, 0.0, 0.0, 0.3, 0.3, at_m - 1.5, 1.0, 0.0, 0.0, 0.0)
            else:
                rows[i] = (0, ObstacleCategory.YIELD, at_m, 0.5, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 2.0, 1.0, 0.37 * i)
        writer.load_timeline(rows, route_length_m=40.0, base_speed_fraction=1.0)
        core = ControlCore(CoreConfig(ports=rig.ports), channels, devices)
        timer = DeadlineTimer(PERIOD_S, 150e-6)
        tm_fw = rig.treadmill
        seconds = 12.0 if quick else 40.0
        pending: list[tuple[float, float]] = []  # (decision cycle start, set-point before)
        results: list[float] = []
        last_setpoint = tm_fw.setpoint_mps
        plan_cycle_seen = -1
        for k in range(int(seconds / PERIOD_S)):
            lateness = timer.wait()
            start = timer.cycle_start_s
            if k % 10 == 0:
                writer.heartbeat()
            if k == 20:
                writer.start()
            core.step(start, lateness)
            core.finish_cycle(time.monotonic() - start)
            if core.last_plan_cycle != plan_cycle_seen and core.last_plan_cycle == core.cycle:
                plan_cycle_seen = core.last_plan_cycle
                pending.append((start, last_setpoint))
            # The firmware reads its port (as the rig process does on each of its ticks).
            now = time.monotonic()
            tm_fw.receive(now)
            rig.exo.receive(now)
            if k % 2 == 0:
                rig.tick(now)
            setpoint = tm_fw.setpoint_mps
            if pending and setpoint != pending[0][1]:
                decided_at, _ = pending.pop(0)
                results.append(math.ceil((now - decided_at) / PERIOD_S - 1e-9))
                pending.clear()  # later decisions in the same burst are served by this command
            last_setpoint = setpoint
        events = channels.events.drain()
        plans = int(np.sum(events["kind"] == EventKind.OBSTACLE_PLAN))
    finally:
        devices.close()
        rig.close()
        channels.close()
    if not results:
        raise RuntimeError("no planner decision reached the treadmill")
    return {
        "obstacle_to_device_cycles": int(max(results)),
        "obstacle_to_device_cycles_median": float(np.median(results)),
        "decisions": len(results),
        "plan_events": plans,
    }
