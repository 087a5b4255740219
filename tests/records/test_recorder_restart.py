"""The headless runner's recorder keeper (engine/session/runner.py, RecorderKeeper): a recorder
that died is replaced by a new one started on a thread, so the frame loop that polls the keeper
never waits for a process to start (a frame loop held 3.4 s under a CPU hog left the view stale
and the core stopped the session). Real recorder processes and a real SQLite file."""

from __future__ import annotations

import os
import signal
import threading

import engine.records.recorder as recorder_module
from engine.records.recorder import start_recorder
from engine.session.runner import RecorderKeeper
from tests.records.conftest import wait_until


def test_a_dead_recorder_is_replaced_without_holding_up_the_caller(db_path, store, session_id, channels,
                                                                   processes, monkeypatch):
    first = processes.add_handle(start_recorder(db_path, channels.paths(), session_id))
    keeper = RecorderKeeper(first, db_path, channels, session_id)
    os.kill(first.pid, signal.SIGKILL)
    assert wait_until(lambda: keeper.watch.update(0.0), timeout_s=60.0)  # what the alarm thread does

    may_start = threading.Event()
    started_on = []

    def slow_start(*args, **kwargs):
        started_on.append(threading.current_thread())
        may_start.wait(60.0)  # the new process is not started before the caller has returned
        return processes.add_handle(start_recorder(*args, **kwargs))

    monkeypatch.setattr(recorder_module, "start_recorder", slow_start)
    keeper.poll(None, 0.0)  # schedules the restart RETRY_S later
    assert keeper.failures == 1 and keeper.handle is first
    keeper.poll(None, keeper.RETRY_S + 1.0)  # due: returns while the new recorder cannot exist yet
    assert keeper.handle is first and keeper.watch.failed
    assert wait_until(lambda: started_on, timeout_s=60.0)
    assert started_on[0] is not threading.current_thread()
    keeper.poll(None, keeper.RETRY_S + 2.0)  # a restart in progress: nothing more is started
    may_start.set()
    keeper.finish()
    assert len(started_on) == 1
    assert keeper.handle is not first and keeper.handle.is_alive() and not keeper.watch.failed
    keeper.handle.stop()
