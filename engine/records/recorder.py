"""The recorder: its own low-priority process that moves the control core's rings into SQLite.

Every DRAIN_PERIOD_S it drains the telemetry ring and the event ring and commits what it got in
one transaction: telemetry as one compressed chunk (first/last cycle in columns), STEP and STRIDE
events as per-step and per-stride rows, every other event (obstacle outcomes, alarms, run states,
settings the core applied) as an event row, and the rings' overflow counters. A commit every
50 ms keeps what a crash can lose well inside the 200 ms budget. Small chunks compress badly, so
every COMPACT_RECORDS records the recent small chunks are swapped for one big chunk in a single
transaction (crash-safe: either the small ones or the big one exist).

The recorder only reads the rings: the core never waits for it. If it falls behind, the ring
fills and the core counts dropped records in the ring's overflow counter, which is stored with
the session and shown in its report.

A core outlives sessions (the desktop menu keeps it running), so when a recorder opens a session
the rings may hold a stale backlog: up to 30 s of idle records from before the session, then a
full ring and dropped records. The recorder drops records older than STALE_BACKLOG_S when it
attaches and counts overflow from there, so a session's records, durations and dropped-record
counts are its own. A recorder that takes over a session that already has records (after a
recorder failure) keeps the backlog: it is that session's.

Signals: SIGTERM (or SIGINT) drains everything left, commits, writes final statistics and exits 0.
If its parent (the app) dies, it keeps recording until the core stops producing, then exits
without closing the session, so the next start marks it interrupted.

Run as `python -m engine.records.recorder --db PATH --session ID --telemetry RING --events RING`;
`start_recorder()` does that and returns a handle.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import multiprocessing
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from engine.control import layout
from engine.control.shm import Ring
from engine.records import codec
from engine.records.store import Store

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DRAIN_PERIOD_S = 0.05
COMPACT_RECORDS = 5000
RECORDER_NICE = -1  # absolute (the compaction process); the UI runs at -10 (engine/render/app.py UI_NICE)
# The draining thread alone runs SCHED_FIFO at this priority where allowed: below the UI's
# liveness beat (10), the rig (50) and the core (80), above every normal-priority program. At nice
# -1 a loaded machine woke it 230 ms late and preempted it inside commits (bench session: lag
# 0.34 s, commits up to 0.19 s). Its work is a few ms per 50 ms; compaction's compression runs in a
# normal-priority process (a thread would share the GIL: see run_recorder).
RECORDER_RT_PRIORITY = 5
ORPHAN_IDLE_S = 1.0  # after the app died: exit once the core has been silent this long
# A recorder that is alive but not ready yet is starting on a busy PC (Python, numpy and the
# compaction worker's spawn take seconds when the CPUs are taken): say so after READY_SLOW_S and
# keep waiting; only one silent for READY_TIMEOUT_S is taken as hung, and one that exits fails
# the start at once. (15 s failed headless sessions at load 12-16 on 2 cores, issue 17; the
# core's start has the same rule: engine/session/runner.py.) Waiting costs no records: the
# session opens when it is ready, and it drops what the idle core wrote before (STALE_BACKLOG_S).
READY_SLOW_S = 10.0
READY_TIMEOUT_S = 60.0
BUSY_TIMEOUT_MS = 100  # wait this long for another connection's lock, then retry next period
FAILURE_EXIT_S = 1.0  # commits failing this long: exit 1 (the UI raises RECORDER_FAILED)
# A recorder that opens a session drops ring records older than this when it attaches: they were
# written before the session (the idle menu, the previous session's last seconds) by a core that
# outlives sessions. A recorder taking over a session that already has records keeps everything.
STALE_BACKLOG_S = 2.0
# RecorderHandle.stop(): SIGTERM to the last commit (the final drain: milliseconds when healthy),
# then the last commit to exit (the last compaction, about a second of CPU: seconds under a CPU
# hog). Each wait has its own bound, and the outcome of a stop is always recorded (STOP_EVENT).
STOP_FLUSH_WAIT_S = 30.0
STOP_FINISH_WAIT_S = 60.0
FLUSHED_LINE = "flushed"
STOP_EVENT = "recorder_stopped"  # the session's event that says how its recorder ended


class RecorderFailed(RuntimeError):
    """The database kept refusing commits (disk full, locked, I/O errors)."""


class SessionWriter:
    """Writes one session's telemetry and core events through a Store, the way the recorder
    process does (demo-history uses it directly for simulated sessions).

    With an executor (the recorder: a process), compaction compresses there and only
    the swap of rows happens on the caller's thread, so a drain never waits for compression."""

    def __init__(
        self,
        store: Store,
        session_id: int,
        compact_records: int = COMPACT_RECORDS,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.compact_records = compact_records
        self.executor = executor
        self.live_codec = codec.CODEC  # demo-history writes big batches: it uses CODEC_COMPACT
        self._pending: list[tuple[int, np.ndarray]] = []  # small chunks awaiting compaction
        self._pending_records = 0
        self._in_flight: tuple[list[int], np.ndarray, concurrent.futures.Future] | None = None
        self.next_cycle: int | None = None
        self.stats = {
            "records": 0,
            "events": 0,
            "steps": 0,
            "strides": 0,
            "stances": 0,
            "commits": 0,
            "chunks_written": 0,
            "compactions": 0,
            "gaps": 0,
            "missing_records": 0,
            "first_cycle": None,
            "last_cycle": None,
            "telemetry_overflow": 0,
            "events_overflow": 0,
        }

    def _check_contiguity(self, telemetry: np.ndarray) -> None:
        cycles = telemetry["cycle"].astype(np.int64)
        expected = self.next_cycle
        if expected is not None and cycles[0] != expected:
            self.stats["gaps"] += 1
            self.stats["missing_records"] += int(max(0, cycles[0] - expected))
        steps = np.diff(cycles)
        bad = steps != 1
        if bad.any():
            self.stats["gaps"] += int(bad.sum())
            self.stats["missing_records"] += int(np.clip(steps[bad] - 1, 0, None).sum())
        self.next_cycle = int(cycles[-1]) + 1
        if self.stats["first_cycle"] is None:
            self.stats["first_cycle"] = int(cycles[0])
        self.stats["last_cycle"] = int(cycles[-1])

    def write(
        self,
        telemetry: np.ndarray,
        events: np.ndarray,
        telemetry_overflow: int | None = None,
        events_overflow: int | None = None,
    ) -> bool:
        """Commit one batch (one transaction); returns False when there was nothing to write."""
        self._apply_compaction(wait=False)
        overflow_changed = (
            telemetry_overflow is not None
            and (telemetry_overflow, events_overflow)
            != (self.stats["telemetry_overflow"], self.stats["events_overflow"])
        )
        if len(telemetry) == 0 and len(events) == 0 and not overflow_changed:
            return False
        # Bookkeeping changes only once the transaction committed: a failed commit (disk full,
        # database locked) is retried with the same batch and must not count it twice.
        chunk_id = None
        counts: dict[str, int] = {}
        with self.store.transaction():
            if len(telemetry):
                chunk_id = self.store.add_telemetry_chunk(self.session_id, telemetry, self.live_codec)
            if len(events):
                counts = self.store.add_core_events(self.session_id, events)
            if overflow_changed:
                self.store.set_recording_stats(self.session_id, int(telemetry_overflow), int(events_overflow or 0))
        if chunk_id is not None:
            self._check_contiguity(telemetry)
            self._pending.append((chunk_id, telemetry))
            self._pending_records += len(telemetry)
            self.stats["records"] += len(telemetry)
            self.stats["chunks_written"] += 1
        for key, value in counts.items():
            self.stats[key] += value
        if overflow_changed:
            self.stats["telemetry_overflow"] = int(telemetry_overflow)
            self.stats["events_overflow"] = int(events_overflow or 0)
        self.stats["commits"] += 1
        if self._pending_records >= self.compact_records and self._in_flight is None:
            self._start_compaction()
        return True

    def _start_compaction(self) -> None:
        if len(self._pending) < 2:
            self._pending.clear()
            self._pending_records = 0
            return
        ids = [chunk_id for chunk_id, _ in self._pending]
        records = np.concatenate([records for _, records in self._pending])
        self._pending.clear()
        self._pending_records = 0
        if self.executor is None:
            self.store.replace_telemetry_chunks(self.session_id, ids, records)
            self.stats["compactions"] += 1
            return
        future = self.executor.submit(codec.encode, records, codec.CODEC_COMPACT)
        self._in_flight = (ids, records, future)

    def _apply_compaction(self, wait: bool) -> None:
        if self._in_flight is None:
            return
        ids, records, future = self._in_flight
        if not wait and not future.done():
            return
        self.store.replace_telemetry_chunks(self.session_id, ids, records, blob=future.result())
        self._in_flight = None  # only once swapped: a failed swap is tried again next time
        self.stats["compactions"] += 1

    def compact(self) -> None:
        """Swap every small chunk written since the last compaction for one chunk, now."""
        self._apply_compaction(wait=True)
        self._start_compaction()
        self._apply_compaction(wait=True)

    def finish(self, extra_stats: dict | None = None) -> dict:
        """Compact what is left and store the final statistics with the session."""
        self.compact()
        stats = dict(self.stats, **(extra_stats or {}))
        self.store.set_recording_stats(
            self.session_id, stats["telemetry_overflow"], stats["events_overflow"], stats
        )
        return stats


# ---------------------------------------------------------------------------------------------
# The recorder process
# ---------------------------------------------------------------------------------------------
def _empty(dtype: np.dtype) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


def run_recorder(
    db_path: str | Path,
    session_id: int,
    telemetry_path: str,
    events_path: str | None,
    period_s: float = DRAIN_PERIOD_S,
    ready_out=None,
) -> dict:
    """The recorder loop (runs in the recorder process until SIGTERM); returns final stats."""
    stopping = False

    def request_stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        # Above background work (a busy PC's other programs), below the UI, the rig and the core:
        # at nice +10 a busy machine let the recorder fall 1.7-2 s behind (bench session).
        os.setpriority(os.PRIO_PROCESS, 0, RECORDER_NICE)
    except OSError:
        log.info("recorder: could not set nice %d; running at %d", RECORDER_NICE, os.getpriority(os.PRIO_PROCESS, 0))
    # Compaction compresses in another process, not a thread: a normal-priority thread preempted
    # while holding the GIL (numpy between LZMA calls) kept the draining thread waiting for the
    # GIL 0.23-0.37 s at every compaction on a loaded machine (bench session: the worst lags came
    # 8.5 s into both sessions, woken late with nothing else to wait for). Started now, before
    # this thread turns real-time: started later, from a SCHED_FIFO thread, the worker ran its
    # whole Python start-up at SCHED_FIFO 5 and starved normal-priority threads (among them the
    # tty flip-buffer kworker the devices' bytes wait for) for a few hundred milliseconds.
    executor = concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=_normal_priority)
    executor.submit(os.getpid)  # spawns the worker (and the pool's threads) at normal priority
    try:
        # RESET_ON_FORK: anything this thread starts later (a thread, a process) starts normal.
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(RECORDER_RT_PRIORITY))
    except (OSError, AttributeError):
        log.info("recorder: SCHED_FIFO %d refused; draining at nice %d", RECORDER_RT_PRIORITY,
                 os.getpriority(os.PRIO_PROCESS, 0))

    telemetry_ring = Ring(telemetry_path, layout.TELEMETRY_DTYPE, layout.TELEMETRY_CAPACITY)
    events_ring = Ring(events_path, layout.EVENT_DTYPE, layout.EVENT_CAPACITY) if events_path else None
    store = Store(db_path)
    store.set_busy_timeout(BUSY_TIMEOUT_MS)
    writer = SessionWriter(store, session_id, executor=executor)
    parent_pid = os.getppid()
    cpu0, wall0 = time.process_time(), time.monotonic()
    max_commit_s = 0.0
    max_lag_s = 0.0
    max_lag_detail: dict = {}  # where the worst lag came from (bench session prints it)
    wake_late_s = [0.0]  # how late the current drain woke up (the scheduler), seconds
    last_data_s = time.monotonic()
    orphaned = False

    backlog: tuple[np.ndarray, np.ndarray] | None = None  # drained, not yet committed
    failing_since: float | None = None
    failures = {"failed_commits": 0, "longest_outage_s": 0.0, "last_commit_error": None}

    def drain_once() -> int:
        nonlocal max_commit_s, max_lag_s, last_data_s, backlog, failing_since
        if backlog is None:
            telemetry = telemetry_ring.drain()
            events = events_ring.drain() if events_ring is not None else _empty(layout.EVENT_DTYPE)
            backlog = (telemetry, events)
        telemetry, events = backlog
        began = time.monotonic()
        try:
            wrote = writer.write(
                telemetry,
                events,
                telemetry_overflow=telemetry_ring.overflow - overflow_base[0],
                events_overflow=(events_ring.overflow - overflow_base[1]) if events_ring is not None else 0,
            )
        except sqlite3.Error as exc:
            # Disk full, database locked, I/O error: keep this batch and stop draining (the
            # rings hold 30 s, the core never waits), retry every period. A failure that lasts
            # FAILURE_EXIT_S is persistent: exit 1 so the UI raises RECORDER_FAILED; what was
            # committed stays intact and what is still in the rings a new recorder can take.
            now = time.monotonic()
            failures["failed_commits"] += 1
            failures["last_commit_error"] = str(exc)
            if failing_since is None:
                failing_since = now
                log.error("recorder: commit failed (%s); retrying", exc)
            if now - failing_since > FAILURE_EXIT_S:
                raise RecorderFailed(f"the database failed for {now - failing_since:.1f} s: {exc}") from exc
            return 0
        if failing_since is not None:
            outage_s = time.monotonic() - failing_since
            failures["longest_outage_s"] = max(failures["longest_outage_s"], outage_s)
            log.warning("recorder: commits work again after %.1f s", outage_s)
            failing_since = None
        backlog = None
        if wrote:
            done = time.monotonic()
            max_commit_s = max(max_commit_s, done - began)
            if len(telemetry):
                last_data_s = done
                # The core stamps records with CLOCK_MONOTONIC, the same clock as ours: this is
                # how old the oldest record was when it became durable.
                # Records the core wrote before this recorder started (the start-up backlog)
                # count from the start: their age says nothing about how far it falls behind.
                lag = done - max(float(telemetry["t_s"][0]), wall0)
                if 0.0 <= lag < 3600.0 and lag > max_lag_s:
                    max_lag_s = lag
                    max_lag_detail.update(after_start_s=round(began - wall0, 3), commit_s=round(done - began, 4),
                                          wake_late_s=round(wake_late_s[0], 4), records=int(len(telemetry)))
        return len(telemetry) + len(events)

    attach = _attach(store, session_id, telemetry_ring, events_ring)
    backlog = attach["backlog"]
    overflow_base = attach["overflow_base"]
    writer.stats["stale_records_dropped"] = attach["stale_records"]
    writer.stats["stale_events_dropped"] = attach["stale_events"]

    if ready_out is not None:
        ready_out.write("ready\n")
        ready_out.flush()
    next_s = time.monotonic()
    try:
        while not stopping:
            wake_late_s[0] = max(0.0, time.monotonic() - next_s)
            drain_once()
            if not orphaned and os.getppid() != parent_pid:
                orphaned = True
                log.warning("recorder: the app died; recording until the core falls silent")
            if orphaned and time.monotonic() - last_data_s > ORPHAN_IDLE_S:
                break
            next_s += period_s
            delay = next_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_s = time.monotonic()  # fell behind (machine stalled): do not try to catch up
        # Drain what is left (the core may still be stopping: take what is there now).
        while True:
            if drain_once():
                continue
            if failing_since is None:
                break
            time.sleep(period_s)  # the last commits failed: retry until FAILURE_EXIT_S
        if ready_out is not None and not orphaned:
            # Every record is committed: what follows (the last compaction, the statistics) can
            # be lost without losing data. RecorderHandle.stop() tells the two apart by this line.
            # (Not to a parent that died: nobody reads the pipe.)
            try:
                ready_out.write(FLUSHED_LINE + "\n")
                ready_out.flush()
            except OSError:
                pass
        stats = writer.finish(
            {
                "cpu_s": time.process_time() - cpu0,
                "wall_s": time.monotonic() - wall0,
                "max_commit_s": max_commit_s,
                "max_lag_s": max_lag_s,
                "max_lag_detail": max_lag_detail,
                "orphaned": orphaned,
                **failures,
            }
        )
    except BaseException:
        # Failing (or interrupted): exit now. Waiting for an in-flight compaction, whose result
        # would be thrown away, delayed the exit (and the UI's RECORDER_FAILED) by the worker's
        # remaining CPU time: 6 s instead of FAILURE_EXIT_S under a CPU hog (test_process_faults).
        _abandon_compaction(executor)
        raise
    else:
        executor.shutdown(wait=True)
    finally:
        store.close()
        telemetry_ring.close(unlink=False)
        if events_ring is not None:
            events_ring.close(unlink=False)
    return stats


def _abandon_compaction(executor: concurrent.futures.ProcessPoolExecutor) -> None:
    """Kill the compaction worker and leave without waiting for it."""
    for worker in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            worker.kill()
        except (OSError, AttributeError):
            pass
    executor.shutdown(wait=False, cancel_futures=True)


def _normal_priority() -> None:
    """The compaction process inherits the draining thread's SCHED_FIFO: compression (about a
    second of CPU per compaction) goes back to normal scheduling, at the recorder's nice."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, 0, RECORDER_NICE)
    except (OSError, AttributeError):
        pass


def _attach(store: Store, session_id: int, telemetry_ring: Ring, events_ring: Ring | None) -> dict:
    """Take over the rings for a session: returns the backlog to write first, the rings' overflow
    counts to subtract, and how many stale records and events were dropped (see the docstring)."""
    telemetry = telemetry_ring.drain()
    events = events_ring.drain() if events_ring is not None else _empty(layout.EVENT_DTYPE)
    events_overflow = events_ring.overflow if events_ring is not None else 0
    session = store.get_session(session_id)
    if store.telemetry_chunks(session_id):  # taking over: the backlog is this session's
        return {"backlog": (telemetry, events), "stale_records": 0, "stale_events": 0,
                "overflow_base": (telemetry_ring.overflow - int(session["telemetry_overflow"]),
                                  events_overflow - int(session["events_overflow"]))}
    oldest_s = time.monotonic() - STALE_BACKLOG_S  # the core stamps with CLOCK_MONOTONIC too
    fresh_t = telemetry["t_s"] >= oldest_s
    fresh_e = events["t_s"] >= oldest_s
    # Counted after the drain: what the full ring dropped before it was pre-session too.
    return {"backlog": (telemetry[fresh_t], events[fresh_e]), "stale_records": int((~fresh_t).sum()),
            "stale_events": int((~fresh_e).sum()),
            "overflow_base": (telemetry_ring.overflow, events_overflow)}


class RecorderHandle:
    """The parent's handle on a running recorder process."""

    def __init__(self, process: subprocess.Popen, db_path: Path, session_id: int) -> None:
        self.process = process
        self.pid = process.pid
        self.db_path = db_path
        self.session_id = session_id
        self.stats: dict | None = None

    def is_alive(self) -> bool:
        """True while the recorder process runs."""
        return self.process.poll() is None

    def stop(self, timeout_s: float = STOP_FLUSH_WAIT_S, finish_timeout_s: float = STOP_FINISH_WAIT_S) -> dict:
        """SIGTERM, wait for the final drain and commit, then for the exit; return its statistics.

        A stop always ends in a known state, recorded with the session (event STOP_EVENT) and
        in the statistics ("stop_outcome"):
        - "clean": every record committed, the last compaction done, statistics stored;
        - "killed_after_flush": every record committed, but the recorder did not exit within
          finish_timeout_s after that (its last compaction) and was killed: no data lost, the
          statistics come from the database;
        - "not_flushed": the recorder did not commit its last records within timeout_s (killed),
          or it failed (exit code != 0): records after the last committed cycle are missing. This
          is logged as an error and recorded with that cycle; never a silent give-up."""
        if self.stats is not None:
            return self.stats
        if self.is_alive():
            self.process.send_signal(signal.SIGTERM)
        lines, flushed, killed = self._wait_for_exit(timeout_s, finish_timeout_s)
        stats = None
        for line in lines:
            if line.startswith("stats "):
                stats = json.loads(line[len("stats ") :])
        if stats is None:
            with Store(self.db_path) as store:
                stats = dict(store.get_session(self.session_id).get("recorder") or {})
            stats["killed"] = killed
        stats["returncode"] = self.process.returncode
        if flushed and self.process.returncode == 0 and not killed:
            outcome = "clean"
        elif flushed:
            outcome = "killed_after_flush"
            log.warning("recorder %d was killed during its last compaction (%.0f s after its last commit): every "
                        "record was committed; the compaction and its final statistics are lost",
                        self.pid, finish_timeout_s)
        else:
            outcome = "not_flushed"
        stats["stop_outcome"] = outcome
        self._record_stop(stats, timeout_s)
        self.stats = stats
        return stats

    def _wait_for_exit(self, flush_timeout_s: float, finish_timeout_s: float) -> tuple[list[str], bool, bool]:
        """Read the recorder's lines until it exits: (lines, FLUSHED_LINE seen, killed by us).
        The wait is flush_timeout_s for the last commit, then finish_timeout_s more for the exit."""
        lines: list[str] = []
        flushed = killed = False
        deadline = time.monotonic() + flush_timeout_s
        stream = self.process.stdout
        while stream is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0.0:
                log.error("recorder %d did not %s within %.1f s: killing it", self.pid,
                          "exit after its last commit" if flushed else "commit its last records", flush_timeout_s
                          if not flushed else finish_timeout_s)
                self.kill()
                killed = True
                break
            ready, _, _ = select.select([stream], [], [], min(remaining, 0.5))
            if not ready:
                continue
            line = stream.readline()
            if not line:
                break  # EOF: the recorder exited
            line = line.rstrip("\n")
            lines.append(line)
            if line == FLUSHED_LINE and not flushed:
                flushed = True
                deadline = time.monotonic() + finish_timeout_s
        if not killed:
            self.process.wait()
            if stream is not None:
                stream.close()
        return lines, flushed, killed

    def _record_stop(self, stats: dict, timeout_s: float) -> None:
        """Record how the recorder ended with its session; a loss as an error with the last
        committed cycle (after it, records are missing)."""
        outcome = stats["stop_outcome"]
        try:
            with Store(self.db_path) as store:
                chunks = store.telemetry_chunks(self.session_id)
                last_cycle = max((int(c["last_cycle"]) for c in chunks), default=None)
                if outcome == "not_flushed":
                    log.error("recorder %d ended without committing its last records (exit code %s%s): session %d "
                              "has telemetry up to cycle %s (the rest is lost unless a new recorder takes the rings "
                              "over)", self.pid, self.process.returncode,
                              f", killed after {timeout_s:.0f} s" if stats.get("killed") else "", self.session_id,
                              last_cycle)
                store.add_event(self.session_id, STOP_EVENT, time.monotonic(), outcome=outcome,
                                returncode=self.process.returncode, last_committed_cycle=last_cycle)
        except Exception as exc:  # noqa: BLE001 - the database may be the very fault
            log.error("recorder %d: could not record how it ended (%s): %s", self.pid, outcome, exc)

    def kill(self) -> None:
        """SIGKILL the recorder (no final drain) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout,):
            if stream is not None:
                stream.close()


def start_recorder(db_path: str | Path, channel_paths: dict[str, str], session_id: int) -> RecorderHandle:
    """Start the recorder process for a session; returns once it is draining the rings.

    channel_paths is Channels.paths() (only "telemetry" and "events" are used)."""
    db_path = Path(db_path)
    command = [
        sys.executable,
        "-m",
        "engine.records.recorder",
        "--db",
        str(db_path),
        "--session",
        str(session_id),
        "--telemetry",
        channel_paths["telemetry"],
    ]
    if channel_paths.get("events"):
        command += ["--events", channel_paths["events"]]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    wait_ready_line(process)
    log.info("recorder pid %d recording session %d into %s", process.pid, session_id, db_path)
    return RecorderHandle(process, db_path, session_id)


def wait_ready_line(process: subprocess.Popen, timeout_s: float | None = None) -> None:
    """Wait for a starting recorder's "ready" line: said once when slow, failed at once when it
    exits, killed and failed when silent for timeout_s (READY_TIMEOUT_S by default)."""
    timeout_s = READY_TIMEOUT_S if timeout_s is None else timeout_s
    started = time.monotonic()
    said_slow = False
    line = ""
    while True:
        waited_s = time.monotonic() - started
        if waited_s >= timeout_s:
            break
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline()
            break
        if process.poll() is not None:
            break
        if not said_slow and waited_s >= READY_SLOW_S:
            log.warning("recorder %d is slow to start (%.0f s; a busy PC?): still waiting, up to %.0f s",
                        process.pid, waited_s, timeout_s)
            said_slow = True
    if line.strip() != "ready":
        silent = process.poll() is None
        if silent:
            process.kill()
        process.wait()
        reason = f"not ready within {timeout_s:.0f} s" if silent else f"exit code {process.returncode}"
        raise RuntimeError(f"recorder failed to start ({reason})")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the recorder process."""
    parser = argparse.ArgumentParser(prog="python -m engine.records.recorder")
    parser.add_argument("--db", required=True)
    parser.add_argument("--session", type=int, required=True)
    parser.add_argument("--telemetry", required=True, help="path of the telemetry ring")
    parser.add_argument("--events", help="path of the event ring")
    parser.add_argument("--period-s", type=float, default=DRAIN_PERIOD_S)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s recorder: %(message)s")
    try:
        stats = run_recorder(args.db, args.session, args.telemetry, args.events, args.period_s, ready_out=sys.stdout)
    except Exception:
        log.exception("recorder failed")
        return 1
    sys.stdout.write("stats " + json.dumps(stats) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
