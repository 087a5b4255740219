"""A stand-in for the control core's ring writer, for recorder tests and the recorder benchmark.

It pushes records the real core wrote in a simulated session (engine/sim/clip.py: a simulated
patient walking on the real control core, replayed) into the real telemetry and event rings at
`rate_hz` on absolute deadlines, one record per cycle with consecutive cycle numbers, stamped with
the CLOCK_MONOTONIC deadline of their cycle like the core's. A clip shorter than the run is repeated (cycles renumbered).
`--alarm` adds one heart-rate alarm (raised, acknowledged, in the telemetry's alarm bits) in the
middle, as the core would report it. When the machine stalls it catches up by pushing every record
that fell due (the cycle count stays exact; only the spacing suffers).

Run: `python -m engine.sim.producer --telemetry RING --events RING --duration-s 10`.
Prints "started" once pushing, and a JSON line {"pushed", "dropped", "events"} at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

import numpy as np

from engine.control import layout
from engine.control.shm import Ring

CLIP_S = 20.0  # one simulated clip per (seed, obstacles), cut or repeated to the run's length


def records_for(duration_s: float, rate_hz: float = 1000.0, seed: int = 0, first_cycle: int = 1,
                profile: str = "hemiparetic-right", obstacle_spacing_m: float | None = None,
                alarm: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """duration_s of telemetry (one record per cycle from first_cycle) and the core's events."""
    from engine.sim.clip import simulated_clip

    clip_t, clip_e = simulated_clip(CLIP_S, seed, profile, obstacle_spacing_m)
    n = int(round(duration_s * rate_hz))
    reps = -(-n // len(clip_t))
    tele = np.concatenate([clip_t] * reps)[:n].copy()
    base = int(clip_t["cycle"][0])
    events = []
    for r in range(reps):
        ev = clip_e.copy()
        ev["cycle"] = ev["cycle"].astype(np.int64) - base + r * len(clip_t) + first_cycle
        events.append(ev)
    tele["cycle"] = np.arange(first_cycle, first_cycle + n)
    ev = np.concatenate(events)
    ev = ev[ev["cycle"] < first_cycle + n]
    if alarm and duration_s > 10.0:
        raised = n // 2
        cleared = min(n - 1, raised + int(5.0 * rate_hz))
        tele["alarms"][raised:cleared] |= np.uint32(1 << int(layout.AlarmReason.HEART_RATE_HIGH))
        extra = np.zeros(2, dtype=layout.EVENT_DTYPE)
        extra["cycle"] = [first_cycle + raised, first_cycle + raised + int(2.0 * rate_hz)]
        extra["kind"] = [int(layout.EventKind.ALARM_RAISED), int(layout.EventKind.ALARM_ACKED)]
        extra["side"] = -1
        extra["code"] = int(layout.AlarmReason.HEART_RATE_HIGH)
        extra["v1"] = [1.0, np.nan]
        extra["v2"] = extra["v3"] = np.nan
        ev = np.sort(np.concatenate([ev, extra]), order="cycle", kind="stable")
    return tele, ev


def produce(
    telemetry: Ring,
    events: Ring | None,
    duration_s: float,
    rate_hz: float = 1000.0,
    profile: str = "hemiparetic-right",
    seed: int = 0,
    first_cycle: int = 1,
    should_stop=lambda: False,
    obstacle_spacing_m: float | None = None,
    alarm: bool = False,
) -> dict:
    """Push records at rate_hz until duration_s has elapsed (or should_stop()); returns counts."""
    records, event_records = records_for(duration_s, rate_hz, seed, first_cycle, profile, obstacle_spacing_m, alarm)
    n, n_events = len(records), len(event_records)
    event_cycles = event_records["cycle"].tolist()
    pushed = dropped = pushed_events = 0
    i = j = 0
    start = time.monotonic()
    period_s = 1.0 / rate_hz
    while i < n and not should_stop():
        now = time.monotonic()
        due = min(n, int((now - start) * rate_hz) + 1)
        while i < due:
            cycle = int(records["cycle"][i])
            slot = telemetry.claim()
            if slot is None:
                dropped += 1
            else:
                slot[...] = records[i]
                slot["t_s"] = start + i * period_s  # the cycle's deadline, as the core stamps it
                telemetry.commit()
                pushed += 1
            while j < n_events and event_cycles[j] <= cycle:
                if events is not None:
                    event = event_records[j].copy()
                    event["t_s"] = start + i * period_s
                    pushed_events += bool(events.push(event))
                j += 1
            i += 1
        delay = start + i * period_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return {"pushed": pushed, "dropped": dropped, "events": pushed_events, "cycles": i}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the producer process."""
    parser = argparse.ArgumentParser(prog="python -m engine.sim.producer")
    parser.add_argument("--telemetry", required=True)
    parser.add_argument("--events")
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--rate-hz", type=float, default=1000.0)
    parser.add_argument("--first-cycle", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--obstacle-spacing-m", type=float, help="an obstacle every this many metres")
    parser.add_argument("--alarm", action="store_true", help="raise (and acknowledge) one alarm mid-session")
    args = parser.parse_args(argv)
    stopping = False

    def request_stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    telemetry = Ring(args.telemetry, layout.TELEMETRY_DTYPE, layout.TELEMETRY_CAPACITY)
    events = Ring(args.events, layout.EVENT_DTYPE, layout.EVENT_CAPACITY) if args.events else None
    from engine.sim.clip import simulated_clip

    simulated_clip(CLIP_S, args.seed, "hemiparetic-right", args.obstacle_spacing_m)  # cached after the first run
    print("started", flush=True)
    counts = produce(telemetry, events, args.duration_s, args.rate_hz, seed=args.seed,
                     first_cycle=args.first_cycle, should_stop=lambda: stopping,
                     obstacle_spacing_m=args.obstacle_spacing_m, alarm=args.alarm)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
