"""RecorderHandle.stop() always ends in a known state, recorded with the session: never a silent
give-up (issue 17). Real recorder processes against a real producer and SQLite file."""

from __future__ import annotations

import os
import signal

import numpy as np

from engine.records.recorder import STOP_EVENT, start_recorder
from engine.records.store import Store
from tests.records.conftest import producer_counts, wait_until


def _stop_events(db_path, session_id) -> list[dict]:
    with Store(db_path) as s:
        return [e["data"] for e in s.events(session_id) if e["kind"] == STOP_EVENT]


def test_a_clean_stop_is_recorded_as_clean(db_path, store, session_id, channels, processes):
    recorder = processes.add_handle(start_recorder(db_path, channels.paths(), session_id))
    counts = producer_counts(processes.producer(channels, duration_s=2.0))
    stats = recorder.stop()
    assert stats["stop_outcome"] == "clean" and stats["returncode"] == 0 and "killed" not in stats
    with Store(db_path) as s:
        cycles = s.telemetry(session_id)["cycle"]
    assert len(cycles) == counts["pushed"]
    (event,) = _stop_events(db_path, session_id)
    assert event["outcome"] == "clean" and event["last_committed_cycle"] == int(cycles.max())


def test_killed_after_its_last_commit_loses_no_record(db_path, store, session_id, channels, processes):
    # finish_timeout_s=0: killed as soon as it says every record is committed, before its last
    # compaction and statistics (what a recorder too slow to finish compacting gets).
    recorder = processes.add_handle(start_recorder(db_path, channels.paths(), session_id))
    counts = producer_counts(processes.producer(channels, duration_s=2.0))
    stats = recorder.stop(finish_timeout_s=0.0)
    assert stats["stop_outcome"] == "killed_after_flush" and stats["killed"] is True
    assert stats["returncode"] == -signal.SIGKILL
    with Store(db_path) as s:
        cycles = s.telemetry(session_id)["cycle"].astype(np.int64)
        assert s.integrity_check() == "ok"
    assert len(cycles) == counts["pushed"] and np.all(np.diff(cycles) == 1)  # nothing lost
    (event,) = _stop_events(db_path, session_id)
    assert event["outcome"] == "killed_after_flush"


def test_a_recorder_that_cannot_commit_its_last_records_is_reported(db_path, store, session_id, channels,
                                                                      processes, caplog):
    recorder = processes.add_handle(start_recorder(db_path, channels.paths(), session_id))
    producer = processes.producer(channels, duration_s=3.0)
    assert wait_until(lambda: channels.telemetry.write_count >= 1000, timeout_s=60.0)
    os.kill(recorder.pid, signal.SIGSTOP)  # frozen: it will not drain what the producer writes next
    counts = producer_counts(producer)
    with caplog.at_level("ERROR", logger="engine.records.recorder"):
        stats = recorder.stop(timeout_s=0.5)
    assert stats["stop_outcome"] == "not_flushed" and stats["killed"] is True
    with Store(db_path) as s:
        stored = len(s.telemetry(session_id))
    assert stored < counts["pushed"]  # the loss is real...
    (event,) = _stop_events(db_path, session_id)
    assert event["outcome"] == "not_flushed"  # ...and recorded, with where the records end
    assert event["last_committed_cycle"] is None or event["last_committed_cycle"] < counts["pushed"]
    assert any("without committing its last records" in r.getMessage() for r in caplog.records)
