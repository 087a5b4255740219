"""Closing StepSync during a session waits for the belt to stand before it ends the session
(engine/session/desktop.py, `wait_belt_standing`). The control core may be frozen by the host
while it writes its state (CI: the hypervisor took its CPU for 100 ms, "writer stuck mid-write");
the wait rides that out on a real shared-memory state block instead of raising, which skipped
the session's end and left it open."""

from __future__ import annotations

import threading
import time

import numpy as np

from engine.control import layout
from engine.control.channels import Channels
from engine.session.desktop import wait_belt_standing


def test_the_close_waits_through_a_core_frozen_mid_write():
    channels = Channels.create()
    try:
        block = channels.state
        record = np.zeros((), dtype=layout.STATE_DTYPE)
        record["belt_speed_mps"] = 0.8
        record["run_state"] = layout.RunState.STOPPING
        block.write(record)
        block.begin_write()  # the core frozen by the host in the middle of a write
        resumed = threading.Event()

        def core_resumes() -> None:
            time.sleep(0.3)  # six times the block's read timeout (50 ms)
            block.data["belt_speed_mps"] = 0.0
            block.data["run_state"] = layout.RunState.STOPPED
            block.end_write()
            resumed.set()

        thread = threading.Thread(target=core_resumes, daemon=True)
        thread.start()
        assert wait_belt_standing(channels, 10.0)
        assert resumed.is_set()  # it saw the belt stand only once the core had written it
        thread.join()
        # and a belt that never stands is waited for no longer than asked
        block.data["belt_speed_mps"] = 0.5
        block.data["run_state"] = layout.RunState.RUNNING
        started = time.monotonic()
        assert not wait_belt_standing(channels, 0.2)
        assert time.monotonic() - started >= 0.2
    finally:
        channels.close()
