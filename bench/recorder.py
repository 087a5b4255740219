"""Recorder benchmark: the recorder process draining real rings fed at 1 kHz.

A producer process (engine/sim/producer.py, the gait model with sensor noise) writes one
telemetry record per millisecond plus gait events into real shared-memory rings; the real
recorder process drains them into a real SQLite file, as in a session.

Figures and targets (issue 6):
- `recorder_records_per_s`: records stored per second of production (target: the 1 kHz rate,
  with `records_lost` 0);
- `recorder_cpu_fraction`: the recorder's CPU time (all threads, compaction included) over its
  wall time (target under 0.05 of one core);
- `db_mb_per_10min`: growth of the database per 10 minutes of 1 kHz recording (pages in use
  after a WAL checkpoint; pages freed by compaction are reused, so the file converges to this),
  target under 20 MB;
- `recorder_max_lag_s`: the oldest record's age when it became durable, worst commit (the crash
  budget is 0.2 s); `recorder_capacity_records_per_s`: records per CPU second (headroom).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.control.channels import Channels
from engine.records.recorder import start_recorder
from engine.records.store import Store, ensure_demo_patient

ROOT = Path(__file__).resolve().parent.parent


def run(quick: bool) -> dict:
    """Record 10 s (quick) or 60 s of 1 kHz telemetry and report the figures."""
    duration_s = 10.0 if quick else 60.0
    with tempfile.TemporaryDirectory(prefix="stepsync-bench-") as folder:
        db_path = Path(folder) / "bench.db"
        with Store(db_path) as store:
            ensure_demo_patient(store, "demo-hemiparetic")
            session_id = store.start_session("demo-hemiparetic", "bench", {}, {})
            store.checkpoint()
            used_before = store.used_bytes()
        channels = Channels.create()
        recorder = None
        producer = None
        try:
            recorder = start_recorder(db_path, channels.paths(), session_id)
            producer = subprocess.run(
                [sys.executable, "-m", "engine.sim.producer", "--telemetry", channels.telemetry.path,
                 "--events", channels.events.path, "--duration-s", str(duration_s)],
                cwd=ROOT, capture_output=True, text=True, timeout=duration_s + 120,
            )
            stats = recorder.stop(timeout_s=60.0)
        finally:
            if recorder is not None:
                recorder.kill()
            channels.close(unlink=True)
        counts = json.loads(producer.stdout.strip().splitlines()[-1])
        with Store(db_path) as store:
            store.checkpoint()
            stored = len(store.telemetry(session_id))
            gaps = len(store.cycle_gaps(session_id))
            used_after = store.used_bytes()
            file_bytes = os.path.getsize(db_path)
    records = stats["records"]
    return {
        "duration_s": duration_s,
        "recorder_records_per_s": stored / duration_s,
        "records_lost": counts["pushed"] + counts["dropped"] - stored,
        "cycle_gaps": gaps,
        "ring_overflow": stats["telemetry_overflow"],
        "recorder_cpu_fraction": stats["cpu_s"] / stats["wall_s"],
        "recorder_capacity_records_per_s": records / stats["cpu_s"] if stats["cpu_s"] > 0 else float("inf"),
        "recorder_max_lag_s": stats["max_lag_s"],
        "recorder_max_commit_s": stats["max_commit_s"],
        "db_bytes_per_record": (used_after - used_before) / records,
        "db_mb_per_10min": (used_after - used_before) / records * 1000.0 * 600.0 / 1e6,
        "db_file_mb": file_bytes / 1e6,
    }
