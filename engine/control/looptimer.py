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
    """Pin this process to `cpu` (None: the last CPU) and ask for SCHED_FIFO at `priority`.

    Returns (real-time granted, cpu pinned to). Logs once what it got; never raises.
    """
    pinned: int | None = None
    try:
        cpus = sorted(os.sched_getaffinity(0))
        target = cpus[-1] if cpu is None else cpu
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
