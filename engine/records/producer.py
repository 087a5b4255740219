"""A stand-in for the control core's ring writer, for recorder tests and the recorder benchmark.

It pushes gait-model records (engine/records/gait_model.py) into the real telemetry and event
rings at `rate_hz` on absolute deadlines, one record per cycle with consecutive cycle numbers,
stamped with CLOCK_MONOTONIC like the core's. When the machine stalls it catches up by pushing
every record that fell due (the cycle count stays exact; only the spacing suffers). A later
integration test drives the recorder from the real core instead.

Run: `python -m engine.records.producer --telemetry RING --events RING --duration-s 10`.
Prints "started" once pushing, and a JSON line {"pushed", "dropped", "events"} at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import replace

from engine.control import layout
from engine.control.shm import Ring
from engine.records.gait_model import params_for_session, simulate_session


def produce(
    telemetry: Ring,
    events: Ring | None,
    duration_s: float,
    rate_hz: float = 1000.0,
    profile: str = "hemiparetic-right",
    seed: int = 0,
    first_cycle: int = 1,
    should_stop=lambda: False,
    **overrides,
) -> dict:
    """Push records at rate_hz until duration_s has elapsed (or should_stop()); returns counts.

    overrides: GaitParams fields to change (e.g. obstacle_spacing_m, alarm_probability)."""
    params = replace(params_for_session(profile, 3, 10, seed), **overrides)
    records, event_records, _ = simulate_session(params, duration_s, rate_hz, seed=seed, first_cycle=first_cycle)
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
                slot["t_s"] = now
                telemetry.commit()
                pushed += 1
            while j < n_events and event_cycles[j] <= cycle:
                if events is not None:
                    event = event_records[j].copy()
                    event["t_s"] = now
                    pushed_events += bool(events.push(event))
                j += 1
            i += 1
        delay = start + i * period_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return {"pushed": pushed, "dropped": dropped, "events": pushed_events, "cycles": i}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the producer process."""
    parser = argparse.ArgumentParser(prog="python -m engine.records.producer")
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
    print("started", flush=True)
    overrides = {}
    if args.obstacle_spacing_m:
        overrides["obstacle_spacing_m"] = args.obstacle_spacing_m
    if args.alarm:
        overrides["alarm_probability"] = 1.0
    counts = produce(telemetry, events, args.duration_s, args.rate_hz, seed=args.seed,
                     first_cycle=args.first_cycle, should_stop=lambda: stopping, **overrides)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
