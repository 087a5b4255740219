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


def _writer(path: str, seconds: float) -> None:
    """Child process: rewrite the whole command block with one counter value everywhere."""
    block = SeqLockBlock(path, layout.COMMAND_DTYPE)
    record = np.zeros((), layout.COMMAND_DTYPE)
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
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
    proc = ctx.Process(target=_writer, args=(block.path, 2.5))
    proc.start()
    try:
        out = np.zeros((), layout.COMMAND_DTYPE)
        seen = set()
        deadline = time.monotonic() + 20.0
        while proc.is_alive() and time.monotonic() < deadline:
            block.read(out, timeout_s=2.0)  # the writer may be preempted mid-write on a busy machine
            k = int(out["ui_heartbeat"])
            # Torn = fields from two different writes in one snapshot.
            assert np.all(out["timeline"]["at_m"] == np.float32(k)), "torn record"
            assert int(out["goal_steps"]) == k
            seen.add(k)
        assert len(seen) > 20, "reader and writer did not overlap"
    finally:
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
        end = time.monotonic() + 2.0
        reads = 0
        while time.monotonic() < end:
            s.channels.state.read(out, timeout_s=2.0)
            reads += 1
            cycle = int(out["cycle"])
            assert cycle == int(out["cycle_end"]), "torn state record"
            assert cycle >= last
            last = cycle
            cycles.add(cycle)
        assert len(cycles) > 1000  # the core wrote ~2000 records while we read
        assert reads > len(cycles)
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
