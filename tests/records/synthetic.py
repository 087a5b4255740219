"""Recorded sessions written straight through the Store, fast: the gait model's records and
events with the timing of a real control loop (a period a little off 1 ms, jitter, a stall with
a gap) and events stamped with their sample time rather than the cycle that detected them."""

from __future__ import annotations

import datetime

import numpy as np

from engine.control.layout import EVENT_DTYPE
from engine.records.gait_model import params_for_session, simulate_session
from engine.records.store import Store, ensure_demo_patient

CHUNK_RECORDS = 50_000


def write_session(
    store: Store,
    duration_s: float,
    patient: str = "demo-hemiparetic",
    profile: str = "hemiparetic-right",
    seed: int = 1,
    actual_rate_hz: float = 998.7,
    jitter_s: float = 0.0002,
    stall: tuple[float, float] | None = (30.0, 0.25),
    detection_delay_s: tuple[float, float] = (0.002, 0.030),
    started_at: datetime.datetime | None = None,
    t_start_s: float = 5000.0,
    goals: dict | None = None,
) -> int:
    """Record a session of duration_s into store; returns its id.

    The loop runs at actual_rate_hz (not 1 kHz), each record's t_s jitters by up to jitter_s,
    and `stall` (at_s, length_s) drops the records of a stall (a gap in the cycle numbers too).
    Each event's t_s is its detecting record's t_s minus a random detection delay in
    detection_delay_s: the sample time of the event, as the core stamps it."""
    ensure_demo_patient(store, patient)
    rng = np.random.default_rng(seed)
    params = params_for_session(profile, 3, 10, seed)
    records, events, _ = simulate_session(params, duration_s, 1000.0, seed=seed, first_cycle=1)
    n = len(records)
    t = t_start_s + np.arange(n) / actual_rate_hz + rng.uniform(0.0, jitter_s, n)
    records["t_s"] = t
    keep = np.ones(n, dtype=bool)
    if stall is not None:
        at_s, length_s = stall
        keep &= ~((t - t_start_s >= at_s) & (t - t_start_s < at_s + length_s))
    cycle_index = records["cycle"].astype(np.int64) - 1
    events = events[keep[np.clip(cycle_index[np.searchsorted(records["cycle"], events["cycle"])], 0, n - 1)]]
    delays = rng.uniform(*detection_delay_s, len(events))
    events["t_s"] = t[np.searchsorted(records["cycle"], events["cycle"])] - delays
    records = records[keep]
    sid = store.start_session(patient, "sidewalk-test", goals or {"steps": 500}, {"speed_fraction": 0.7},
                              simulated=True, started_at=started_at)
    for first in range(0, len(records), CHUNK_RECORDS):
        store.add_telemetry_chunk(sid, records[first:first + CHUNK_RECORDS])
    store.add_core_events(sid, np.asarray(events, dtype=EVENT_DTYPE))
    return sid
