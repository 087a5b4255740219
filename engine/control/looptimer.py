"""Absolute-deadline loop timing and the real-time setup of the core's process.

Each cycle k has the deadline t0 + k * period. The timer sleeps until `spin_s` before the
deadline (the kernel's wake-up latency hides in that margin) and spins for the rest, so the loop
never drifts (the lesson of opensourceleg issue #397) and never spins a whole period (the
kernel throttles real-time tasks that never sleep). A cycle that starts more than a period late
is counted as missed and skipped: the loop re-anchors on the next deadline instead of bursting.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import time

log = logging.getLogger(__name__)


class DeadlineTimer:
    """Waits for absolute deadlines; `wait()` returns the lateness of the cycle in seconds."""

    def __init__(self, period_s: float, spin_s: float = 150e-6, clock=time.monotonic) -> None:
        self.period_s = period_s
        self.spin_s = min(spin_s, 0.5 * period_s)
        self.clock = clock
        self.deadline_s = clock() + period_s
        self.missed = 0  # deadlines skipped because a cycle started a whole period late
        self.cycle_start_s = 0.0

    def wait(self) -> float:
        """Block until the next deadline; returns lateness (s) of the wake-up."""
        clock = self.clock
        deadline = self.deadline_s
        remaining = deadline - clock() - self.spin_s
        if remaining > 0.0:
            time.sleep(remaining)
        now = clock()
        while now < deadline:
            now = clock()
        lateness = now - deadline
        period = self.period_s
        if lateness >= period:
            skipped = int(lateness / period)
            self.missed += skipped
            deadline += skipped * period
        self.deadline_s = deadline + period
        self.cycle_start_s = now
        return lateness


def acquire_realtime(priority: int, cpu: int | None) -> tuple[bool, int | None]:
    """Pin this process to `cpu` (None: the CPU with the fewest pinned real-time tasks, the last
    one when tied) and ask for SCHED_FIFO at `priority`.

    Returns (real-time granted, cpu pinned to). Logs once what it got; never raises.
    """
    pinned: int | None = None
    try:
        cpus = sorted(os.sched_getaffinity(0))
        target = quietest_cpu(cpus) if cpu is None else cpu
        os.sched_setaffinity(0, {target})
        pinned = target
    except (OSError, AttributeError, ValueError) as exc:
        log.warning("could not pin the control core to a CPU (%s); running unpinned", exc)
    granted = False
    if priority > 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
            granted = True
        except (OSError, AttributeError) as exc:
            log.warning(
                "SCHED_FIFO priority %d refused (%s): running with normal scheduling, expect jitter",
                priority, exc,
            )
    _lock_memory()
    log.info("control core: real-time %s, priority %d, cpu %s", "granted" if granted else "not granted", priority if granted else 0, pinned)
    return granted, pinned


def quietest_cpu(cpus: list[int]) -> int:
    """The CPU with the fewest other real-time tasks pinned to it (the last CPU when tied).

    Two SCHED_FIFO loops of one priority on one CPU delay each other by a whole cycle of the
    other's work: on a machine running several sessions or test suites, where every core used to
    pin itself to the last CPU, that was most of the missed cycles (bench session: the core
    waited on the run queue for 4.8 s of a 40 s session, behind two other FIFO 80 loops)."""
    load = dict.fromkeys(cpus, 0)
    me = os.getpid()
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit() and int(e) != me]
    except OSError:
        return cpus[-1]
    for entry in entries:
        try:
            stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115 - tiny file, read once at start
            if int(stat[stat.rindex(")") + 2:].split()[38]) not in (1, 2):  # SCHED_FIFO, SCHED_RR
                continue
            allowed = os.sched_getaffinity(int(entry))
        except (OSError, ValueError, IndexError):
            continue
        if len(allowed) == 1:
            (only,) = allowed
            if only in load:
                load[only] += 1
    return min(reversed(cpus), key=lambda c: load[c])


def _lock_memory() -> None:
    """mlockall so no page of the core is swapped out mid-loop (best effort)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        MCL_CURRENT, MCL_FUTURE = 1, 2
        if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
            log.debug("mlockall refused (errno %d)", ctypes.get_errno())
    except (OSError, AttributeError):
        pass


def freeze_gc() -> None:
    """Move every object allocated so far out of the collector's reach and stop collecting."""
    gc.collect()
    gc.freeze()
    gc.disable()
