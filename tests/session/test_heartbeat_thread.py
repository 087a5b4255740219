"""The UI watchdog thread never vouches for a hung frame loop while the patient walks."""

from __future__ import annotations

import time

from engine.control import layout
from engine.control.commands import CommandWriter
from engine.control.shm import SeqLockBlock
from engine.session.runner import HeartbeatThread


def _beats(block: SeqLockBlock) -> int:
    return int(block.read()["ui_heartbeat"])


def _wait_beats_above(block: SeqLockBlock, count: int, timeout_s: float = 30.0) -> int:
    """Until the block shows more than `count` beats (a loaded machine runs the thread late)."""
    deadline = time.monotonic() + timeout_s
    while (beats := _beats(block)) <= count:
        assert time.monotonic() < deadline, f"{beats} beats, waited for more than {count}"
        time.sleep(0.005)
    return beats


def test_thread_beats_only_while_covering_not_for_a_hung_frame_loop():
    block = SeqLockBlock.create(layout.COMMAND_DTYPE, "test-command")
    thread = HeartbeatThread(CommandWriter(block), period_s=0.005)
    try:
        _wait_beats_above(block, 3)  # covering at start-up: the thread beats
        thread.covering.clear()
        thread.frame()  # the frame loop starts one frame... and hangs in it
        time.sleep(0.02)
        before = _beats(block)
        time.sleep(0.15)  # 30 periods
        # At most the one beat a preempted thread had decided on before covering was cleared.
        assert _beats(block) <= before + 1, "a hung frame loop must let the heartbeat go stale"
        with thread.cover():  # one declared slow operation
            _wait_beats_above(block, before + 1)
    finally:
        thread.stop()
        block.close()
