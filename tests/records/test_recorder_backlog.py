"""The recorder and a core that outlives sessions (the desktop menu): a session's records are its
own. Regression tests for issue 15: a 5 s session reported 35 s long, 7,095 "dropped records",
a cycle gap and a 40.7 s recorder lag, and the previous session's acknowledged alarm."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from engine.control import layout
from engine.records.recorder import start_recorder
from engine.records.store import Store
from engine.sim.producer import records_for
from tests.records.conftest import wait_until


def _push(ring, records, t_s: np.ndarray) -> None:
    for record, t in zip(records, t_s, strict=True):
        record = record.copy()
        record["t_s"] = t
        ring.push(record)


def _ack_event(t_s: float, cycle: int) -> np.ndarray:
    event = np.zeros((), dtype=layout.EVENT_DTYPE)
    event["cycle"], event["t_s"], event["kind"] = cycle, t_s, int(layout.EventKind.ALARM_ACKED)
    event["side"], event["code"] = -1, int(layout.AlarmReason.HEART_RATE_HIGH)
    return event


def test_stale_backlog_of_a_running_core_is_not_the_sessions(db_path, store, session_id, channels, processes):
    records, _ = records_for(40.0, first_cycle=1)
    # The previous session ended 40 s ago; its acknowledged alarm and 40 s of idle menu records
    # went into the rings with no recorder attached: the telemetry ring filled and dropped.
    now = time.monotonic()
    stale = records[:36000]
    _push(channels.telemetry, stale, now - 40.0 + np.arange(len(stale)) / 1000.0)
    channels.events.push(_ack_event(now - 39.0, 1000))
    assert channels.telemetry.overflow == len(stale) - layout.TELEMETRY_CAPACITY > 0
    recorder = processes.add_handle(start_recorder(db_path, channels.paths(), session_id))
    # The session: 3 s of fresh records after the recorder attached.
    fresh = records[36000:39000]
    start = time.monotonic()
    _push(channels.telemetry, fresh, start + np.arange(len(fresh)) / 1000.0)
    stats = recorder.stop(timeout_s=30.0)
    assert stats["returncode"] == 0
    with Store(db_path) as s:
        telemetry = s.telemetry(session_id)
        session = s.get_session(session_id)
        events = s.events(session_id)
        gaps = s.cycle_gaps(session_id)
    assert len(telemetry) == len(fresh), "only the session's records"
    assert float(telemetry["t_s"][-1] - telemetry["t_s"][0]) < 3.1
    assert session["telemetry_overflow"] == 0 and stats["telemetry_overflow"] == 0
    assert gaps == [] and stats["gaps"] == 0
    assert stats["max_lag_s"] < 30.0
    assert stats["stale_records_dropped"] == layout.TELEMETRY_CAPACITY
    assert not [e for e in events if e["kind"] == "alarm_acked"], "the previous session's alarm"


def test_overflow_while_recording_is_counted(db_path, store, session_id, channels, processes):
    recorder = processes.add_handle(start_recorder(db_path, channels.paths(), session_id))
    records, _ = records_for(34.0, first_cycle=1)
    os.kill(recorder.pid, signal.SIGSTOP)  # the recorder falls behind (a stalled machine)
    try:
        _push(channels.telemetry, records, time.monotonic() + np.arange(len(records)) / 1000.0)
    finally:
        os.kill(recorder.pid, signal.SIGCONT)
    extra = len(records) - layout.TELEMETRY_CAPACITY
    assert channels.telemetry.overflow == extra > 0
    stats = recorder.stop(timeout_s=30.0)
    assert stats["telemetry_overflow"] == extra
    assert stats["records"] == layout.TELEMETRY_CAPACITY
    with Store(db_path) as s:
        assert s.get_session(session_id)["telemetry_overflow"] == extra
        assert len(s.telemetry(session_id)) == layout.TELEMETRY_CAPACITY


def test_a_recorder_taking_over_keeps_the_sessions_backlog(db_path, store, session_id, channels, processes):
    records, _ = records_for(12.0, first_cycle=1)
    now = time.monotonic()
    store.add_telemetry_chunk(session_id, records[:1000])  # the first recorder wrote these, then failed
    store.set_recording_stats(session_id, 5, 0)
    _push(channels.telemetry, records[1000:11000], now - 10.0 + np.arange(10000) / 1000.0)
    recorder = processes.add_handle(start_recorder(db_path, channels.paths(), session_id))
    assert wait_until(lambda: len(store.telemetry_chunks(session_id)) > 1, timeout_s=30.0)
    stats = recorder.stop(timeout_s=30.0)
    with Store(db_path) as s:
        assert len(s.telemetry(session_id)) == 11000, "the backlog is this session's: kept"
        assert s.get_session(session_id)["telemetry_overflow"] == 5
    assert stats["stale_records_dropped"] == 0
