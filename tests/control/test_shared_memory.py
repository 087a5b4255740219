"""Seqlock blocks and rings under real concurrency: readers never see a torn record."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import pytest

from engine.control import layout
from engine.control.layout import RunState
from engine.control.shm import Ring, SeqLockBlock
from tests.control.helpers import Session

pytestmark = pytest.mark.timeout(120)


def _writer(path: str, stop, seconds: float) -> None:
    """Child process: rewrite the whole command block with one counter value everywhere, until
    told to stop (or `seconds` pass: a bound if the test dies)."""
    block = SeqLockBlock(path, layout.COMMAND_DTYPE)
    record = np.zeros((), layout.COMMAND_DTYPE)
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end and not stop.is_set():
        k += 1
        record["ui_heartbeat"] = k
        record["timeline"]["at_m"] = k
        record["goal_steps"] = k
        block.write(record)
        # A seqlock reader retries while a write is in progress, so a writer that never pauses
        # starves it; the core writes every 1 ms, this one 20 times as often.
        pause_until = time.monotonic() + 50e-6
        while time.monotonic() < pause_until:
            pass
    block.close(unlink=False)


def test_seqlock_reader_hammering_a_writer_process_never_sees_a_torn_record():
    block = SeqLockBlock.create(layout.COMMAND_DTYPE, "test-hammer")
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    proc = ctx.Process(target=_writer, args=(block.path, stop, 60.0))
    proc.start()
    try:
        out = np.zeros((), layout.COMMAND_DTYPE)
        seen = set()
        # Until the reader has seen 200 different writes (not a span of wall time: a loaded
        # machine gives the two processes few turns), then the writer is told to stop.
        while len(seen) <= 200 and proc.is_alive():
            block.read(out, timeout_s=2.0)  # the writer may be preempted mid-write on a busy machine
            k = int(out["ui_heartbeat"])
            # Torn = fields from two different writes in one snapshot.
            assert np.all(out["timeline"]["at_m"] == np.float32(k)), "torn record"
            assert int(out["goal_steps"]) == k
            seen.add(k)
        assert len(seen) > 200, "the writer ended before the reader saw 200 writes"
    finally:
        stop.set()
        proc.join(5.0)
        if proc.is_alive():
            proc.kill()
            proc.join()
        block.close()


def test_core_state_block_is_consistent_under_a_hammering_reader():
    s = Session("healthy", seed=3)
    try:
        s.writer.set_settings(speed_fraction=0.6)
        s.writer.start()
        s.wait_for(lambda st: st["run_state"] == RunState.RUNNING, 5.0)
        out = np.zeros((), layout.STATE_DTYPE)
        cycles = set()
        last = 0
        reads = 0
        # Until 1000 distinct cycles were read, however long the machine takes to give this
        # reader that many turns (a wall-clock span failed at load 10+: 499-957 in 2 s). That
        # the reader also saw a cycle more than once says it read while the core wrote.
        deadline = time.monotonic() + 90.0
        while len(cycles) <= 1000 or reads <= len(cycles):
            assert time.monotonic() < deadline, (len(cycles), reads)
            s.channels.state.read(out, timeout_s=2.0)
            reads += 1
            cycle = int(out["cycle"])
            assert cycle == int(out["cycle_end"]), "torn state record"
            assert cycle >= last
            last = cycle
            cycles.add(cycle)
    finally:
        s.close()


def test_ring_producer_never_blocks_and_counts_overflow():
    ring = Ring.create(layout.EVENT_DTYPE, 8, "test-ring")
    try:
        record = np.zeros((), layout.EVENT_DTYPE)
        for i in range(20):
            record["cycle"] = i
            ring.push(record)
        assert ring.overflow == 12
        got = ring.drain()
        assert list(got["cycle"]) == list(range(8))
        assert ring.push(record)
    finally:
        ring.close()


def test_push_packed_writes_the_same_bytes_as_numpy_and_counts_overflow():
    from engine.control import layout
    from engine.control.packing import run_struct
    from engine.control.shm import Ring

    packer, offset = run_struct(layout.EVENT_DTYPE, "cycle", "v3")
    assert offset == 0
    ring = Ring.create(layout.EVENT_DTYPE, 4, "test-packed")
    try:
        for i in range(6):  # two more than fit: dropped and counted, never overwriting
            ring.push_packed(packer, i, 0.5 * i, 3, 1, -i, 1.0, 2.0, float(i))
        assert ring.overflow == 2
        out = ring.drain()
        assert list(out["cycle"]) == [0, 1, 2, 3]
        assert list(out["code"]) == [0, -1, -2, -3] and list(out["v3"]) == [0.0, 1.0, 2.0, 3.0]
        assert ring.push_packed(packer, 9, 0.0, 3, 0, 0, 0.0, 0.0, 0.0)  # room again after draining
        assert int(ring.drain()["cycle"][0]) == 9
    finally:
        ring.close()


# -- segments are removed on every exit a process can see; a start sweeps the rest ------------
_CHILD = """
import json, signal, sys, time
from engine.control.channels import Channels
# As started from a terminal: a process started in the background (nohup ... &, some CI runners)
# inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler for it.
signal.signal(signal.SIGINT, signal.default_int_handler)
channels = Channels.create()
print(json.dumps(channels.paths()), flush=True)
how = sys.argv[1]
if how in ("exception", "exit"):
    sys.stdin.readline()  # the test has seen the segments
if how == "exception":
    raise RuntimeError("campaign: an exception after the channels were created")
if how == "exit":
    sys.exit(0)
time.sleep(60)
"""


def _child_with_channels(how: str):
    import json
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _CHILD, how], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    paths = json.loads(line)
    for path in paths.values():
        assert os.path.exists(path)
    return proc, paths


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "exception", "exit"])
def test_segments_are_removed_on_every_exit_the_process_sees(how):
    import os
    import signal

    proc, paths = _child_with_channels(how)
    if how.startswith("SIG"):
        proc.send_signal(getattr(signal, how))
    else:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    proc.wait(30)
    assert proc.returncode != 0 or how == "exit"
    assert [p for p in paths.values() if os.path.exists(p)] == []


def test_a_start_sweeps_the_segments_of_a_killed_process_and_keeps_live_ones():
    import os
    import signal

    from engine.control.channels import Channels

    proc, dead_paths = _child_with_channels("sleep")
    live_proc, live_paths = _child_with_channels("sleep")
    try:
        proc.send_signal(signal.SIGKILL)  # no process can clean up after this
        proc.wait(30)
        assert all(os.path.exists(p) for p in dead_paths.values())
        mine = Channels.create()  # a new start
        try:
            assert [p for p in dead_paths.values() if os.path.exists(p)] == []
            assert all(os.path.exists(p) for p in live_paths.values())  # its creator still runs
        finally:
            mine.close()
    finally:
        live_proc.kill()
        live_proc.wait(30)


def test_a_reused_pid_does_not_keep_a_dead_creators_segments(tmp_path):
    import os

    from engine.control.shm import _start_time, sweep_stale_segments

    me = os.getpid()
    started = _start_time(me)
    stale = tmp_path / f"stepsync-{me}-{int(started) + 1}-state-deadbeef"  # same pid, other process
    live = tmp_path / f"stepsync-{me}-{started}-state-cafef00d"
    foreign = tmp_path / "PostgreSQL.12345"
    for path in (stale, live, foreign):
        path.write_bytes(b"x")
    assert sweep_stale_segments(tmp_path) == [stale.name]
    assert live.exists() and foreign.exists()
