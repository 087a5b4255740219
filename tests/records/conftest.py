"""Fixtures for the records tests: real SQLite files, real shared-memory rings, real processes."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.control.channels import Channels
from engine.records.store import Store, ensure_demo_patient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database path in a fresh folder (the file does not exist yet)."""
    return tmp_path / "records" / "stepsync.db"


@pytest.fixture
def store(db_path: Path):
    """An open Store on a fresh file, closed after the test."""
    s = Store(db_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def session_id(store: Store) -> int:
    """A started session of the demo hemiparetic patient."""
    ensure_demo_patient(store, "demo-hemiparetic")
    return store.start_session("demo-hemiparetic", "sidewalk-test", {"steps": 50}, {"speed_fraction": 0.6})


@pytest.fixture
def channels():
    """Fresh shared-memory channels, unlinked after the test."""
    ch = Channels.create()
    try:
        yield ch
    finally:
        ch.close(unlink=True)


class Processes:
    """Starts child processes and makes sure every one is gone after the test."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.handles = []

    def producer(self, channels: Channels, duration_s: float, seed: int = 0, extra: tuple = ()) -> subprocess.Popen:
        """Start the 1 kHz stand-in core on the channels' rings; returns once it pushes."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.sim.producer", "--telemetry", channels.telemetry.path,
             "--events", channels.events.path, "--duration-s", str(duration_s), "--seed", str(seed), *extra],
            stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
        )
        self.procs.append(proc)
        # the first producer of a clip simulates it (engine/sim/clip.py; cached): allow for that
        ready, _, _ = select.select([proc.stdout], [], [], 300.0)
        assert ready and proc.stdout.readline().strip() == "started"
        return proc

    def add_handle(self, handle):
        self.handles.append(handle)
        return handle

    def cleanup(self) -> None:
        for handle in self.handles:
            try:
                handle.kill()
            except Exception:
                pass
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
def processes():
    p = Processes()
    try:
        yield p
    finally:
        p.cleanup()


def producer_counts(proc: subprocess.Popen, timeout_s: float = 60.0) -> dict:
    """Wait for a producer to finish and return its final counts."""
    out, _ = proc.communicate(timeout=timeout_s)
    return json.loads(out.strip().splitlines()[-1])


def wait_until(predicate, timeout_s: float, interval_s: float = 0.02) -> bool:
    """Poll predicate until it is true or timeout_s passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()




from tests.pg_server import clinic, pg_server  # noqa: E402,F401  (the throwaway PostgreSQL)
