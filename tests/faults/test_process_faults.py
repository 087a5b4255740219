"""Process and storage faults under the real core, rig and recorder: the control core killed or
frozen, the recorder killed, the database locked, the disk full."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from engine.control.layout import RunState
from engine.records.store import Store
from tests.faults.harness import RECORDER_STOP_S, Stack, on_time, records_lost

pytestmark = pytest.mark.timeout(120)

WATCHDOG_LIMIT_MS = 100.0
RECORDING_WINDOW_S = 0.2


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_control_core_killed_or_frozen_devices_stop_on_their_watchdogs(stack, reliability, how):
    s = stack
    s.walk(0.6)
    speed = float(s.rig.status()["treadmill"]["belt_speed_mps"])
    pid = s.core.pid
    hit_s = time.monotonic()
    os.kill(pid, getattr(signal, how))
    try:
        still_s = s.wait_belt_still(timeout_s=6.0)
        status = s.rig.status()
    finally:
        if how == "SIGSTOP":
            os.kill(pid, signal.SIGKILL)  # a frozen core is not trusted to come back
    for device in ("treadmill", "exoskeleton"):
        assert status[device]["watchdog_tripped"], device
        assert not status[device]["armed"], device
    tripped_ms = max(status[d]["tripped_at_s"] - hit_s for d in ("treadmill", "exoskeleton")) * 1000.0
    # The firmware trips when its rig wakes at the deadline: as late as a busy host lets the rig's
    # loop wake (its own record), no later.
    rig_late_ms = float(status["loop"]["max_lateness_s"]) * 1000.0
    assert tripped_ms <= WATCHDOG_LIMIT_MS + rig_late_ms + 1.0, (tripped_ms, rig_late_ms)
    # Then the firmware's own safe deceleration (0.8 m/s^2): the belt stands within v / a.
    stop_ms = (still_s - hit_s) * 1000.0
    assert stop_ms <= WATCHDOG_LIMIT_MS + speed / 0.8 * 1000.0 + 100.0, stop_ms
    stats = s.stop_recorder()
    telemetry, _ = s.records()
    lost = records_lost(telemetry, stats)
    assert lost == 0
    assert telemetry["t_s"][-1] > hit_s - RECORDING_WINDOW_S
    reliability.record(f"control core {how}", "device watchdogs <= 100 ms, then safe deceleration",
                       tripped_ms, stop_ms, lost, f"belt at {speed:.2f} m/s; UI alarm: see the app cases")


def test_recorder_killed_control_goes_on_and_committed_data_is_intact(stack, reliability):
    s = stack
    s.walk(0.6)
    time.sleep(0.5)
    kill_s = time.monotonic()
    s.recorder.process.kill()
    s.recorder.process.wait()
    s.recorder.stop()
    s.recorder = None
    time.sleep(1.0)
    state = s.state()
    assert state["run_state"] == RunState.RUNNING and state["highest_unacked_priority"] == 0
    assert float(state["belt_speed_mps"]) > 0.5
    with Store(s.db_path) as store:
        telemetry = store.telemetry(s.session_id)
        assert store.integrity_check() == "ok"
    # Everything up to (at most) 200 ms before the kill is in the file, without a gap.
    last_s = float(telemetry["t_s"][-1])
    behind_ms = (kill_s - last_s) * 1000.0
    assert behind_ms <= RECORDING_WINDOW_S * 1000.0, behind_ms
    lost = records_lost(telemetry)
    assert lost == 0
    reliability.record("recorder SIGKILL", "control unaffected; data up to <= 200 ms before the kill",
                       None, None, lost, f"last stored record {behind_ms:.0f} ms before the kill; core kept walking")


def test_database_locked_for_a_while_recorder_waits_and_loses_nothing(stack, reliability):
    s = stack
    s.walk(0.6)
    other = sqlite3.connect(str(s.db_path), isolation_level=None)
    try:
        with on_time():  # 0.6 s, not whatever a loaded machine makes of it (the recorder gives up at 1 s)
            other.execute("BEGIN EXCLUSIVE")  # a backup tool or a report holding the write lock
            locked_s = time.monotonic()
            time.sleep(0.6)
            assert s.recorder.is_alive()
            other.execute("COMMIT")
    finally:
        other.close()
    time.sleep(0.5)
    assert s.state()["run_state"] == RunState.RUNNING
    stats = s.stop_recorder()
    assert stats.get("returncode") == 0, stats
    assert stats["failed_commits"] > 0 and "locked" in stats["last_commit_error"]  # it really happened
    telemetry, _ = s.records()
    lost = records_lost(telemetry, stats)
    assert lost == 0
    assert telemetry["t_s"][0] < locked_s < telemetry["t_s"][-1]
    with Store(s.db_path) as store:
        assert store.integrity_check() == "ok"
    reliability.record("database locked 0.6 s", "session continues; nothing lost; DB consistent", None, None, lost,
                       f"recorder retried {stats['failed_commits']} commits; the rings held the data meanwhile")


@pytest.fixture
def small_disk(tmp_path):
    """A 32 MiB tmpfs (real ENOSPC); skipped where mounting is not allowed."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _empty_the_wal(db_path: Path, timeout_s: float = 30.0) -> None:
    """Fold the WAL into the database and truncate it, retrying while the recorder writes.

    SQLite reuses a WAL's space after a checkpoint: once the WAL had wrapped (about 4 MB, some
    15 s of recording; a slow start on a busy machine gets there before the walk does), the
    recorder's commits overwrote space the file already had and a full disk failed none of them
    (measured: 0 failed commits with the tmpfs full for 0.6 s). From an empty WAL every commit
    needs new space."""
    conn = sqlite3.connect(str(db_path), timeout=5.0)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            busy, log_frames, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy == 0 and log_frames == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the WAL could not be truncated: busy {busy}, {log_frames} frames")
            time.sleep(0.01)
    finally:
        conn.close()


def _fill(path: Path) -> int:
    """Write zeros until the file system is full; returns the bytes written (0 when it already was)."""
    written = 0
    try:
        with open(path, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
                written += 65536
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    return written


def test_disk_full_recorder_holds_on_and_the_database_stays_consistent(small_disk, reliability):
    s = Stack(small_disk / "records.db")
    try:
        s.walk(0.6)
        time.sleep(0.3)
        _empty_the_wal(small_disk / "records.db")
        filler = small_disk / "filler"
        filled = _fill(filler)
        with on_time():  # 0.6 s, not whatever a loaded machine makes of it
            full_s = time.monotonic()
            # The recording itself is far from filling 32 MiB (DB + WAL under 1 MiB here,
            # measured); if it ever does, say what was there.
            assert filled > 16 * 2**20, {p.name: p.stat().st_size for p in small_disk.iterdir()}
            time.sleep(0.6)  # below the recorder's 1 s give-up: it retries, the rings hold the data
            assert s.recorder.is_alive()
            assert s.state()["run_state"] == RunState.RUNNING
            filler.unlink()
        time.sleep(0.6)
        stats = s.stop_recorder()
    finally:
        s.close()
    assert stats.get("returncode") == 0, stats
    assert stats["failed_commits"] > 0 and "full" in stats["last_commit_error"]  # SQLite saw ENOSPC
    with Store(small_disk / "records.db") as store:
        assert store.integrity_check() == "ok"
        telemetry = store.telemetry(s.session_id)
    lost = records_lost(telemetry, stats)
    assert lost == 0
    assert telemetry["t_s"][0] < full_s < telemetry["t_s"][-1]
    assert np.all(np.diff(telemetry["cycle"].astype(np.int64)) == 1)
    reliability.record("disk full for 0.6 s", "session continues; nothing lost; DB consistent", None, None, lost,
                       f"32 MiB tmpfs filled to ENOSPC; {stats['failed_commits']} commits retried until space came back")


def test_database_locked_for_good_recorder_exits_1_and_what_it_committed_is_intact(stack, reliability):
    """A persistent failure ends the recorder with exit code 1 (the UI's RECORDER_FAILED; see
    test_app_faults) after FAILURE_EXIT_S, never corrupting the file."""
    from engine.records.recorder import FAILURE_EXIT_S

    s = stack
    s.walk(0.6)
    other = sqlite3.connect(str(s.db_path), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        locked_s = time.monotonic()
        code = s.recorder.process.wait(FAILURE_EXIT_S + 5.0)
        gone_s = time.monotonic()
        other.execute("COMMIT")
    finally:
        other.close()
    stats = s.recorder.stop(timeout_s=RECORDER_STOP_S)
    s.recorder = None
    assert code == 1, stats
    assert s.state()["run_state"] == RunState.RUNNING  # control does not depend on recording
    with Store(s.db_path) as store:
        assert store.integrity_check() == "ok"
        telemetry = store.telemetry(s.session_id)
    behind_ms = (locked_s - float(telemetry["t_s"][-1])) * 1000.0
    assert behind_ms <= RECORDING_WINDOW_S * 1000.0, behind_ms
    lost = records_lost(telemetry)
    assert lost == 0
    reliability.record("database locked for good", "recorder exits 1 (UI: RECORDER_FAILED); file intact",
                       (gone_s - locked_s) * 1000.0, None, lost,
                       f"recorder gave up after {gone_s - locked_s:.1f} s; last stored record {behind_ms:.0f} ms before the lock")
