"""The deadline timer's bookkeeping and the real-time setup's fallback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from engine.control.looptimer import DeadlineTimer


class SteppedClock:
    """A clock that advances a fixed step per reading, plus jumps the test injects."""

    def __init__(self, step_s: float = 1e-5) -> None:
        self.t = 100.0
        self.step_s = step_s

    def __call__(self) -> float:
        self.t += self.step_s
        return self.t


def test_deadlines_are_absolute_and_missed_ones_are_skipped():
    clock = SteppedClock()
    timer = DeadlineTimer(0.001, spin_s=0.0005, clock=clock)
    first = timer.deadline_s
    lateness = [timer.wait() for _ in range(5)]
    assert all(0.0 <= x < 2e-5 for x in lateness)
    # Deadlines stay on the grid t0 + k * period: no drift from the work or the wake-ups.
    assert abs(timer.deadline_s - (first + 5 * 0.001)) < 1e-9
    clock.t += 0.0035  # the machine stalled: the next deadline is now 2.5 periods past
    late = timer.wait()
    assert 0.0025 <= late < 0.0026
    assert timer.missed == 2  # the two deadlines that passed entirely while it was late
    # Re-anchored on the grid, not bursting: the next wait is on time again.
    assert abs((timer.deadline_s - first) / 0.001 - round((timer.deadline_s - first) / 0.001)) < 1e-6
    assert timer.wait() < 2e-5


def test_realtime_refused_is_logged_and_the_loop_runs_anyway():
    # A child process (so this test process keeps its scheduling): an impossible priority.
    code = textwrap.dedent(
        """
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        from engine.control.looptimer import acquire_realtime, DeadlineTimer
        granted, cpu = acquire_realtime(1000, None)
        timer = DeadlineTimer(0.001)
        for _ in range(20):
            timer.wait()
        print("granted" if granted else "refused", cpu)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "refused"
    assert out.stderr.count("SCHED_FIFO priority 1000 refused") == 1
    assert "real-time not granted" in out.stderr


def test_no_priority_asked_means_none_taken():
    code = "from engine.control.looptimer import acquire_realtime; print(acquire_realtime(0, 0)[0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_the_core_pins_itself_away_from_a_cpu_another_real_time_loop_holds():
    import pytest

    from engine.control.looptimer import quietest_cpu

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("one CPU: nothing to choose")
    busy = cpus[-1]  # where every core used to go
    # Several real-time loops pinned to the last CPU (sleeping: they cost nothing here).
    code = (f"import os, time; os.sched_setaffinity(0, {{{busy}}}); "
            "os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10)); print('ready', flush=True); time.sleep(60)")
    others = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        ready = [p.stdout.readline().strip() for p in others]
        if ready != ["ready"] * 3:
            pytest.skip("SCHED_FIFO refused here")
        assert quietest_cpu(cpus) != busy
    finally:
        for p in others:
            p.kill()
            p.wait()
