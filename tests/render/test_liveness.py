"""The UI's liveness beat (engine/render/liveness.py): a hung main loop stops it, a main loop that
only waited, for the GIL or a CPU, does not. Threads of this test process stand in for the UI's."""

from __future__ import annotations

import ctypes
import os
import threading
import time

import pytest

from engine.render.liveness import HUNG_S, FrozenClock, MainLoopWatch

_KEEPING_GIL = ctypes.PyDLL(None)  # its usleep does not release the GIL


class Writer:
    """What the watch writes to the command block: beats and the UI pid it vouches for."""

    def __init__(self) -> None:
        self.beats = 0
        self.pids: list[int] = []

    def heartbeat(self) -> None:
        self.beats += 1

    def set_ui_pid(self, pid: int) -> None:
        self.pids.append(pid)


def _wait_beats(writer: Writer, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    start = writer.beats
    while writer.beats < start + count:
        assert time.monotonic() < deadline, "the watch never beat"
        time.sleep(0.005)


def test_frozen_clock_counts_samples_taken_on_time():
    clock = FrozenClock(gap_max_s=0.03)
    assert clock.observe(0.0, True, 0.0) == 0.0
    frozen = [clock.observe(0.02 * k, False, 0.0) for k in range(1, 5)]
    assert frozen == [0.02, 0.04, 0.06, 0.08]
    assert clock.observe(0.1, True, 0.0) == 0.0  # it moved


def test_frozen_clock_leaves_out_what_it_could_not_see_and_the_cpu_wait():
    clock = FrozenClock(gap_max_s=0.03)
    clock.observe(0.0, True, 1.0)
    # The watch itself could not run for 150 ms (the GIL held elsewhere): 30 ms of it count.
    assert abs(clock.observe(0.15, False, 1.0) - 0.03) < 1e-9
    # 20 ms seen, 15 ms of it the main thread waiting for a CPU: 5 ms more.
    assert abs(clock.observe(0.17, False, 1.015) - 0.035) < 1e-9
    # Samples on time after the gap count whole again: a hang is still judged.
    for k in range(1, 4):
        clock.observe(0.17 + 0.02 * k, False, 1.015)
    assert clock.frozen_s > HUNG_S


def test_a_main_loop_hung_in_a_wait_stops_the_beat_and_its_vouching():
    writer = Writer()
    watch = MainLoopWatch(writer)
    try:
        watch.enter("hud")  # not a long stage
        _wait_beats(writer, 2)
        never = threading.Event()
        deadline = time.monotonic() + 60.0
        while watch.hung_since_s is None and time.monotonic() < deadline:
            never.wait(0.5)  # the main thread blocked at one instruction, the GIL free
        assert watch.hung_since_s is not None, "a blocked main loop was not judged hung"
        assert writer.pids and writer.pids[-1] == 0  # no UI pid: the core gives no starved time
        beats = writer.beats
        never.wait(0.2)
        assert writer.beats == beats, "it went on beating for a hung loop"
    finally:
        watch.stop()


def test_a_main_loop_waiting_for_the_gil_is_not_taken_for_hung():
    """Another thread holds the GIL for 0.3 s (C code that keeps it) while the main thread waits
    at one instruction (blocked 30 ms before, seen there by the watch): neither the main thread
    nor the watch can run meanwhile. The watch did not see a frozen loop, it saw nothing; the old
    rule counted the whole wait as frozen and named no UI process (fails on it: judged hung at the
    first sample after the hold)."""
    go = threading.Event()
    released = threading.Event()
    ready = threading.Event()
    refused = []

    def hold_the_gil() -> None:
        # SCHED_FIFO below the watch's: once woken it takes the GIL the moment the main thread
        # blocks (no run-queue wait in between, whatever the load), and the watch goes first after.
        try:
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(5))
        except OSError:
            refused.append(True)
        ready.set()
        go.wait()
        time.sleep(0.03)  # the watch sees the main thread blocked first (GIL free): 1-2 samples
        _KEEPING_GIL.usleep(ctypes.c_uint(300_000))
        released.set()  # before this thread lets the GIL go: the main thread is woken after

    holder = threading.Thread(target=hold_the_gil)
    holder.start()
    ready.wait()
    if refused:
        holder_go_and_join(go, holder)
        pytest.skip("needs SCHED_FIFO to order the threads (refused here)")
    writer = Writer()
    watch = MainLoopWatch(writer)
    try:
        watch.enter("hud")  # not a long stage
        _wait_beats(writer, 2)
        go.set()
        released.wait()  # the main thread at one instruction from here through the hold
        holder.join()
        _wait_beats(writer, 3)  # the watch has looked again since
        assert watch.hung_since_s is None
        assert 0 not in writer.pids, "a main loop that waited for the GIL was judged hung"
    finally:
        watch.stop()


def holder_go_and_join(go: threading.Event, holder: threading.Thread) -> None:
    go.set()
    holder.join()
