"""Regression tests, one per fix the campaign made, each at the level where the bug was."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from devices.sim.rig import start_rig
from engine.control import layout
from engine.records.recorder import SessionWriter
from engine.records.store import Store, ensure_demo_patient
from engine.render.alarms import CORE_LOST_AFTER_S, CoreWatch, RecorderWatch

pytestmark = pytest.mark.timeout(60)


def test_rig_asks_for_realtime_below_the_core_so_load_cannot_starve_it(reliability):
    """Under load the core stopped sessions for 20 ms device silence because the rig process got
    no CPU; the rig now asks for SCHED_FIFO (50, below the core's 80) itself."""
    from devices.sim.server import RIG_RT_PRIORITY

    with start_rig("healthy", seed=0) as rig:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            allowed = True
        except PermissionError:
            allowed = False
        policy = os.sched_getscheduler(rig.pid)
        if allowed:
            assert policy == os.SCHED_FIFO
            assert os.sched_getparam(rig.pid).sched_priority == RIG_RT_PRIORITY < 80
        else:
            assert policy == os.SCHED_OTHER  # refused: falls back silently
    reliability.record("regression: rig starved under load", "rig SCHED_FIFO 50 (< core 80), silent fallback",
                       note="fixed in devices/sim/server.py")


def test_core_watch_counts_from_the_core_cycle_time_and_alarms_within_200_ms(reliability):
    """The UI's CORE_LOST came 0.5 s (+ a frame) after the core died; the issue asks 200 ms."""
    assert CORE_LOST_AFTER_S <= 0.1
    watch = CoreWatch()
    core_last_s = 10.0
    assert not watch.update(5, 10.03, core_t_s=core_last_s)  # the frame saw it 30 ms late
    assert not watch.update(5, 10.09, core_t_s=core_last_s)
    assert watch.update(5, 10.11, core_t_s=core_last_s)  # 110 ms after the core's last cycle
    assert watch.alarm().priority == layout.Priority.HIGH
    reliability.record("regression: CORE_LOST after 0.5 s + a frame", "UI alarm 100 ms after the core's last cycle",
                       note="fixed in engine/render/alarms.py, app.py")


def test_recorder_watch_raises_recorder_failed_until_acknowledged(reliability):
    """Nothing raised RECORDER_FAILED: a recorder that exited went unnoticed."""
    alive = {"value": True}
    watch = RecorderWatch(lambda: alive["value"])
    assert not watch.update(1.0) and watch.alarm() is None
    alive["value"] = False
    assert watch.update(2.0)
    alarm = watch.alarm()
    assert alarm.reason == layout.AlarmReason.RECORDER_FAILED and alarm.priority == layout.Priority.MEDIUM
    watch.watch(lambda: True)  # a new recorder took over: the alarm stays until acknowledged
    assert not watch.update(3.0) and watch.alarm() is not None
    watch.acked = True
    assert watch.alarm() is None
    reliability.record("regression: RECORDER_FAILED never raised", "alarm while failed, until acknowledged",
                       note="RecorderWatch in engine/render/alarms.py; runner and desktop use it")


def _records(first: int, n: int) -> np.ndarray:
    tel = np.zeros(n, dtype=layout.TELEMETRY_DTYPE)
    tel["cycle"] = np.arange(first, first + n)
    tel["t_s"] = tel["cycle"] * 1e-3
    return tel


def test_a_failed_commit_is_retried_without_double_counting_or_false_gaps(tmp_path, reliability):
    """SessionWriter counted a batch (stats, contiguity, pending chunk ids) before its commit; a
    commit refused by a locked database then made the retry look like a gap and double count."""
    db = tmp_path / "r.db"
    store = Store(db)
    ensure_demo_patient(store, "demo-healthy")
    sid = store.start_session("demo-healthy", "x", {}, {})
    store.set_busy_timeout(10)
    writer = SessionWriter(store, sid)
    empty = np.zeros(0, dtype=layout.EVENT_DTYPE)
    assert writer.write(_records(0, 50), empty)
    other = sqlite3.connect(str(db), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    batch = _records(50, 50)
    with pytest.raises(sqlite3.OperationalError):
        writer.write(batch, empty)
    other.execute("COMMIT")
    other.close()
    assert writer.write(batch, empty)  # the same batch again
    assert writer.write(_records(100, 50), empty)
    assert writer.stats["records"] == 150
    assert writer.stats["gaps"] == 0 and writer.stats["missing_records"] == 0
    writer.finish()
    stored = store.telemetry(sid)
    assert list(stored["cycle"]) == list(range(150))
    assert store.integrity_check() == "ok"
    store.close()
    reliability.record("regression: a failed commit killed the recorder", "retried, counted once, no false gap",
                       records_lost=0, note="fixed in engine/records/recorder.py, store.py")
