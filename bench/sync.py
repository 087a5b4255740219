"""Clinic sync benchmark: four rigs recording live sessions while they sync to one PostgreSQL.

A throwaway server (engine/records/pg_local.py) is set up with the real `clinic init` and one
database login per rig. Each rig is its own SQLite file written through the real repository
(`Store`) the way the recorder writes a session: every 200 ms one telemetry chunk of 200
records at 1 kHz, the steps, strides and gait events of that stretch, plus setting changes and
frame timing; a compaction pass swaps small chunks for big ones as the recorder does. Each rig
runs the real background sync (`SyncWorker`, a child process) against the server.

Figures:
- `sync_rigs`: rigs syncing at once (target 4);
- `sync_sessions_per_min`: sessions (of `SESSION_S` seconds of 1 kHz data each) that reach the
  server per minute, from finished rig files pushed by `sync_once` from all rigs at once;
- `sync_lag_s_p95`: for live sessions, the age of a committed telemetry chunk on the rig when
  the server has it (p95 over all chunks; target <= 2 s);
- `rows_lost`: rows recorded on the rigs and missing on the server after the final pass,
  including across a `kill -9` of the server mid-sync and its restart (target 0);
- `duplicate_rows`: rows stored twice on the server after that (target 0);
- `pg_mb_per_session_hour`: server disk per hour of recorded session (database size growth
  over recorded session time).
"""

from __future__ import annotations

import datetime
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from engine.control.layout import EVENT_DTYPE, TELEMETRY_DTYPE, EventKind
from engine.records.store import Store, ensure_demo_patient
from engine.records.sync_check import (
    duplicate_rows,
    local_counts,
    rig_id_of,
    rigs_synced_since,
    server_bytes,
    server_counts,
    server_last_cycle,
)

RATE_HZ = 1000
CHUNK_RECORDS = 200  # the recorder commits every <= 200 ms
PATIENTS = ("demo-healthy", "demo-hemiparetic", "demo-parkinsonian", "demo-frail")


# ---------------------------------------------------------------------------------------------
# A rig recording (also used by the tests)
# ---------------------------------------------------------------------------------------------
def telemetry_block(first_cycle: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n telemetry records at 1 kHz from first_cycle: a walking pattern with sensor noise."""
    rec = np.zeros(n, dtype=TELEMETRY_DTYPE)
    cycles = np.arange(first_cycle, first_cycle + n)
    t = cycles / RATE_HZ
    rec["cycle"] = cycles
    rec["t_s"] = t
    phase = 2 * np.pi * t / 1.1
    rec["belt_speed_cmd_mps"] = 0.8
    rec["belt_speed_mps"] = 0.8 + rng.normal(0, 0.005, n)
    rec["s_m"] = 0.8 * t
    both = np.stack([phase, phase + np.pi], axis=1)  # left, right
    rec["hip_ref_rad"] = 0.35 * np.sin(both)
    rec["hip_rad"] = rec["hip_ref_rad"] + rng.normal(0, 0.01, (n, 2))
    rec["knee_ref_rad"] = 0.6 * np.clip(np.sin(both + 1.2), 0, None)
    rec["knee_rad"] = rec["knee_ref_rad"] + rng.normal(0, 0.01, (n, 2))
    rec["guidance"] = 0.5
    return rec


def gait_events(first_cycle: int, n: int) -> np.ndarray:
    """Steps every 550 ms and strides every 1100 ms inside [first_cycle, first_cycle + n)."""
    rows = []
    for cycle in range(first_cycle, first_cycle + n):
        if cycle % 550 == 0 and cycle > 0:
            side = (cycle // 550) % 2
            rows.append((cycle, cycle / RATE_HZ, int(EventKind.STEP), side, 0, 0.55, 0.55, 0.04))
            rows.append((cycle, cycle / RATE_HZ, int(EventKind.HEEL_STRIKE), side, 0, 0.0, 0.0, 0.0))
        if cycle % 1100 == 0 and cycle > 0:
            rows.append((cycle, cycle / RATE_HZ, int(EventKind.STRIDE), (cycle // 1100) % 2, 0, 1.1, 0.62, 1.1))
    return np.array(rows, dtype=EVENT_DTYPE)


class LiveSession:
    """One session recorded into a rig's Store chunk by chunk (call `step()` every 200 ms)."""

    def __init__(self, store: Store, code: str, seed: int = 0, started_at: datetime.datetime | None = None) -> None:
        self.store = store
        ensure_demo_patient(store, code)
        self.session_id = store.start_session(code, "sidewalk-test", {"steps": 100}, {"speed_fraction": 0.6},
                                              started_at=started_at)
        store.log_setting(self.session_id, "therapist", "speed_fraction", None, 0.6, 0.6)
        self.rng = np.random.default_rng(seed)
        self.next_cycle = 0
        self.small_chunks: list[int] = []  # ids of the chunks written since the last compaction
        self.pending: list[np.ndarray] = []  # ... and their records
        self.commits: list[tuple[int, float]] = []  # (last cycle, monotonic time of the commit)

    def step(self, n: int = CHUNK_RECORDS) -> None:
        """Commit the next n records with their events (as one recorder commit)."""
        records = telemetry_block(self.next_cycle, n, self.rng)
        with self.store.transaction():
            self.small_chunks.append(self.store.add_telemetry_chunk(self.session_id, records))
            self.pending.append(records)
            events = gait_events(self.next_cycle, n)
            if len(events):
                self.store.add_core_events(self.session_id, events)
        self.next_cycle += n
        self.commits.append((self.next_cycle - 1, time.monotonic()))
        if self.next_cycle % 10_000 == 0:
            self.store.add_frame_timing(self.session_id, {"p99_ms": 11.0, "missed": 0})

    def compact(self) -> None:
        """Swap the small chunks since the last compaction for one chunk, as the recorder does."""
        if len(self.small_chunks) < 2:
            return
        self.store.replace_telemetry_chunks(self.session_id, self.small_chunks, np.concatenate(self.pending))
        self.small_chunks, self.pending = [], []

    def end(self, outcome: str = "completed") -> None:
        self.store.set_recording_stats(self.session_id, 0, 0, {"commits": len(self.commits)})
        self.store.end_session(self.session_id, outcome, {"steps": self.next_cycle // 550})


def record_sessions(db_path: Path, code: str, sessions: int, seconds: float, seed: int = 0,
                    compact: bool = True) -> list[int]:
    """Fill a rig file with finished sessions of `seconds` of 1 kHz data; returns their ids."""
    ids = []
    with Store(db_path) as store:
        for k in range(sessions):
            live = LiveSession(store, code, seed=seed * 100 + k)
            n_chunks = int(seconds * RATE_HZ / CHUNK_RECORDS)
            for i in range(n_chunks):
                live.step()
                if compact and (i + 1) % 25 == 0:
                    live.compact()
            live.end()
            ids.append(live.session_id)
    return ids


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------
def run(quick: bool) -> dict:
    """Four rigs: a burst of finished sessions, live sessions with background sync, a kill -9."""
    import psycopg

    from engine.records import pg_admin
    from engine.records.pg_local import LocalPostgres
    from engine.records.sync import SyncWorker, sync_once

    n_rigs = 4
    session_s = 20.0 if quick else 60.0
    burst_sessions = 1 if quick else 3
    live_s = 10.0 if quick else 30.0
    with tempfile.TemporaryDirectory(prefix="stepsync-bench-sync-") as folder:
        folder = Path(folder)
        pg = LocalPostgres(tls=False)
        pg.start()
        try:
            owner = pg.url()
            pg_admin.init_clinic(owner, "admin", "admin-password-1")
            urls = [pg.url(pg_admin.add_login(owner, f"rig{i}", "rig", "rig-password-1"), "rig-password-1")
                    for i in range(n_rigs)]
            size0 = server_bytes(owner)
            # 1. Finished sessions, all rigs at once.
            paths = [folder / f"rig{i}.db" for i in range(n_rigs)]
            for i, path in enumerate(paths):
                record_sessions(path, PATIENTS[i], burst_sessions, session_s, seed=i)
            t0 = time.monotonic()
            errors = sync_all(paths, urls)
            burst_s = time.monotonic() - t0
            sessions_per_min = n_rigs * burst_sessions / burst_s * 60.0
            # 2. Live sessions with the background sync; the lag of every chunk.
            lags = _live(paths, urls, owner, live_s, SyncWorker)
            # 3. kill -9 of the server in the middle of a sync pass, restart, sync again.
            for i, path in enumerate(paths):
                record_sessions(path, PATIENTS[i], 1, session_s, seed=50 + i)
            killer = threading.Timer(0.3, pg.kill9)
            killer.start()
            kill_errors = sync_all(paths, urls)
            killer.join()
            pg.start()
            for p, u in zip(paths, urls, strict=True):
                sync_once(p, u)
            lost = 0
            with psycopg.connect(owner) as conn:
                for path in paths:
                    local, server = local_counts(path), server_counts(conn, rig_id_of(path))
                    lost += sum(max(0, local[k] - server[k]) for k in local)
                dup = duplicate_rows(conn)
            size1 = server_bytes(owner)
            recorded_h = n_rigs * ((burst_sessions + 1) * session_s + live_s) / 3600.0
        finally:
            pg.cleanup()
    return {
        "sync_rigs": n_rigs,
        "sync_sessions_per_min": round(sessions_per_min, 1),
        "sync_lag_s_p95": round(float(np.percentile(lags, 95)), 3) if lags else None,
        "sync_lag_s_max": round(float(np.max(lags)), 3) if lags else None,
        "rows_lost": int(lost),
        "duplicate_rows": int(dup),
        "pg_mb_per_session_hour": round((size1 - size0) / 1e6 / recorded_h, 1),
        "kill9_passes_refused": len(kill_errors),
        "burst_errors": len(errors),
    }


def sync_all(paths: list[Path], urls: list[str]) -> list[str]:
    """One sync pass per rig, all at once (a thread each); returns the refusals."""
    from engine.records.sync import SyncRefused, sync_once

    errors: list[str] = []

    def one(path: Path, url: str) -> None:
        try:
            sync_once(path, url)
        except SyncRefused as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=one, args=pu) for pu in zip(paths, urls, strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def _live(paths, urls, owner: str, live_s: float, worker_cls) -> list[float]:
    """Record one live session per rig for live_s with a SyncWorker each; per-chunk lags."""
    import psycopg

    stores = [Store(p) for p in paths]
    lives = [LiveSession(s, PATIENTS[i], seed=900 + i) for i, s in enumerate(stores)]
    rig_ids = [rig_id_of(p) for p in paths]
    started = datetime.datetime.now(datetime.timezone.utc)
    workers = [worker_cls(p, u, interval_s=0.25) for p, u in zip(paths, urls, strict=True)]
    # As in `run --sync-to`, the worker is up before the session records: wait for its first pass.
    with psycopg.connect(owner, autocommit=True) as conn:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and rigs_synced_since(conn, started) < len(paths):
            time.sleep(0.1)
    seen: dict[tuple[int, int], float] = {}  # (rig, last cycle) -> monotonic time the server had it
    stop = threading.Event()

    def watch() -> None:
        with psycopg.connect(owner, autocommit=True) as conn:
            while not stop.is_set():
                now = time.monotonic()
                for i, rig_id in enumerate(rig_ids):
                    server_last = server_last_cycle(conn, rig_id, lives[i].session_id)
                    if server_last is not None:
                        for last, _ in lives[i].commits:
                            if last <= server_last and (i, last) not in seen:
                                seen[(i, last)] = now
                stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        t_next = time.monotonic()
        end = t_next + live_s
        while time.monotonic() < end:
            for live in lives:
                live.step()
            t_next += CHUNK_RECORDS / RATE_HZ
            time.sleep(max(0.0, t_next - time.monotonic()))
        for live in lives:
            live.end()
        deadline = time.monotonic() + 60.0
        total = sum(len(live.commits) for live in lives)
        while len(seen) < total and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        watcher.join(5.0)
        for w in workers:
            w.stop()
        for s in stores:
            s.close()
    lags = []
    for i, live in enumerate(lives):
        for last, committed in live.commits:
            if (i, last) in seen:
                lags.append(max(0.0, seen[(i, last)] - committed))
            else:
                lags.append(float("inf"))  # never arrived: counts against the target
    return lags


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick=bool(os.environ.get("QUICK"))), indent=2))
