"""The UI watchdog thread never vouches for a hung frame loop while the patient walks."""

from __future__ import annotations

import time

from engine.control import layout
from engine.control.commands import CommandWriter
from engine.control.shm import SeqLockBlock
from engine.session.runner import HeartbeatThread


def _beats(block: SeqLockBlock) -> int:
    return int(block.read()["ui_heartbeat"])


def test_thread_beats_only_while_covering_not_for_a_hung_frame_loop():
    block = SeqLockBlock.create(layout.COMMAND_DTYPE, "test-command")
    thread = HeartbeatThread(CommandWriter(block), period_s=0.005)
    try:
        time.sleep(0.1)  # covering at start-up: the thread beats
        assert _beats(block) > 3
        thread.covering.clear()
        thread.frame()  # the frame loop starts one frame... and hangs in it
        time.sleep(0.02)
        before = _beats(block)
        time.sleep(0.15)
        assert _beats(block) == before, "a hung frame loop must let the heartbeat go stale"
        with thread.cover():  # one declared slow operation
            time.sleep(0.1)
        assert _beats(block) > before
    finally:
        thread.stop()
        block.close()
