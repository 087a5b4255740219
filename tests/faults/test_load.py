"""CPU starvation (a busy-looping process on every CPU) and a long soak at 1 kHz: no safety
deadline missed (no stop the fault did not call for, no device watchdog tripped, no overrun
streak), nothing lost, memory flat. Short versions run in CI; the long ones in `make faults`."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from engine.control.layout import RunState
from tests.faults.harness import CpuHogs, proc_rss_kb, records_lost, stops_by_the_machine

pytestmark = pytest.mark.timeout(2400)


def _walk_under(stack, seconds: float, sample_every_s: float = 1.0) -> dict:
    """Walk for `seconds`, checking every sample that nothing stopped; returns what was seen."""
    s = stack
    rss = []
    start_cycle = int(s.state()["cycle"])
    started = time.monotonic()
    next_sample = started
    while time.monotonic() - started < seconds:
        state = s.state()
        if state["run_state"] != RunState.RUNNING:
            _stopped_under_load(s)
        if time.monotonic() >= next_sample:
            rss.append((time.monotonic() - started, proc_rss_kb(s.core.pid), proc_rss_kb(s.recorder.pid)))
            next_sample += sample_every_s
        time.sleep(0.02)
    state = s.state()
    elapsed = time.monotonic() - started
    return {"rss": rss, "cycles_per_s": (int(state["cycle"]) - start_cycle) / elapsed,
            "max_lateness_ms": float(state["max_lateness_us"]) / 1000.0, "overruns": int(state["overruns"])}


def _stopped_under_load(stack) -> None:
    """The walk stopped: not judged when the machine made the stop (the hypervisor froze the
    SCHED_FIFO core longer than a device's watchdog: a true stop, harness.stops_by_the_machine),
    after checking that it lost nothing; otherwise a false stop, and the test fails."""
    s = stack
    alarms = s.state()["alarms"]
    stats = s.stop_recorder()
    telemetry, events = s.records()
    stops = [e for e in events if e["kind"] == "alarm_raised"]
    machine = stops_by_the_machine(events, stops)
    assert machine is not None, f"stopped under load: {alarms}; raised {[e.get('reason') for e in stops]}"
    assert records_lost(telemetry, stats) == 0
    pytest.xfail(f"not judged: {machine}")


def _check_and_record(stack, seen: dict, reliability, case: str, limit: str) -> None:
    s = stack
    status = s.rig.status()
    for device in ("treadmill", "exoskeleton"):
        assert not status[device]["watchdog_tripped"], device
    assert s.state()["highest_unacked_priority"] == 0
    stats = s.stop_recorder()
    telemetry, events = s.records()
    raised = [e["reason"] for e in events if e["kind"] == "alarm_raised"]
    assert raised == [], raised
    lost = records_lost(telemetry, stats)
    assert lost == 0
    # The cycle rate is recorded, not asserted: on a virtual machine whose host steals the CPU
    # (CI: 880 cycles/s with SCHED_FIFO granted) a cycle can start late whatever the core does.
    # What safety needs is held above: no overrun streak (LOOP_OVERRUNS would be raised), no
    # watchdog trip, nothing lost. `python -m bench control_loop` and `bench session` measure
    # the missed cycles against the do-nothing floor in the same run.
    assert seen["cycles_per_s"] > 0.0, seen
    lateness = telemetry["lateness_us"].astype(float) / 1000.0
    rss = np.array(seen["rss"])
    growth_mb = 0.0
    if len(rss) >= 4:
        settled = rss[len(rss) // 4:]  # after start-up allocations
        growth_mb = float(max(settled[-1, 1] - settled[0, 1], 0)) / 1024.0
        assert growth_mb < 2.0, f"core memory grew {growth_mb:.1f} MB"
    recorder_mb = None
    if len(rss) >= 4 and rss[-1, 0] > 100.0:
        # The recorder's first compactions (LZMA, every 5 s of records) grow its heap to a
        # plateau; after two minutes it must stay there.
        later = rss[rss[:, 0] > 60.0]
        recorder_mb = float(later[-1, 2] - later[0, 2]) / 1024.0
        assert recorder_mb < 8.0, f"recorder memory grew {recorder_mb:.1f} MB"
    reliability.record(case, limit, None, None, lost,
                       f"{seen['cycles_per_s']:.0f} cycles/s, lateness p99 {np.percentile(lateness, 99):.2f} ms, "
                       f"max {lateness.max():.1f} ms, {seen['overruns']} overruns, core RSS growth {growth_mb:.2f} MB, "
                       f"recorder after 1 min {'n/a' if recorder_mb is None else f'{recorder_mb:.1f} MB'}; "
                       f"no alarm, no watchdog trip")


def _starvation(stack, reliability, seconds: float) -> None:
    stack.walk(0.8)
    with CpuHogs(os.cpu_count() or 2):
        seen = _walk_under(stack, seconds)
    _check_and_record(stack, seen, reliability, f"CPU starvation {seconds:.0f} s (a hog on every CPU)",
                      "no false stop, no watchdog trip, nothing lost")


def test_cpu_starvation_short(stack, reliability):
    _starvation(stack, reliability, 6.0)


@pytest.mark.slow
def test_cpu_starvation_long(stack, reliability):
    _starvation(stack, reliability, 120.0)


def _soak(stack, reliability, seconds: float) -> None:
    stack.walk(0.6)
    seen = _walk_under(stack, seconds, sample_every_s=max(1.0, seconds / 120.0))
    _check_and_record(stack, seen, reliability, f"soak {seconds / 60:.0f} min at 1 kHz" if seconds >= 60 else f"soak {seconds:.0f} s at 1 kHz",
                      "no deadline missed, memory flat, nothing lost")


def test_soak_short(stack, reliability):
    _soak(stack, reliability, 15.0)


@pytest.mark.slow
def test_soak_30_minutes(stack, reliability):
    _soak(stack, reliability, 1800.0)
