"""Recorded sessions written straight through the Store, fast: a simulated session's records and
events with the timing of a real control loop (a period a little off 1 ms, jitter, a stall with
a gap) and events stamped with their sample time rather than the cycle that detected them."""

from __future__ import annotations

import datetime

import numpy as np

from engine.control.layout import EVENT_DTYPE
from engine.records.store import Store, ensure_demo_patient
from engine.sim.producer import records_for

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
    records, events = records_for(duration_s, 1000.0, seed=seed, first_cycle=1, profile=profile)
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


def write_desktop_session(
    store: Store,
    walk_s: float = 5.0,
    idle_before_s: float = 30.0,
    idle_after_s: float = 10.0,
    patient: str = "demo-hemiparetic",
    profile: str = "hemiparetic-right",
    scene: str = "sidewalk-curb-crossing",
    with_steps: bool = True,
    who: str = "therapist",
) -> int:
    """A session as a desktop menu records it on today's code: idle records before the start (the
    ring's backlog, with the previous session's alarm acknowledgement in it), walk_s of walking
    with its own heart-rate alarm (raised, acknowledged) and three obstacles of the scene, a
    controlled stop, then idle records until the recorder stops."""
    from engine.control.layout import AlarmReason, EventKind, Priority, RunState

    ensure_demo_patient(store, patient)
    walk, walk_events = records_for(walk_s, 1000.0, seed=4, first_cycle=1, profile=profile)
    n_before, n_after = int(idle_before_s * 1000), int(idle_after_s * 1000)
    records = np.zeros(n_before + len(walk) + n_after, dtype=walk.dtype)
    records[n_before:n_before + len(walk)] = walk
    records["cycle"] = np.arange(len(records)) + 1
    records["t_s"] = 2000.0 + np.arange(len(records)) / 1000.0
    records["run_state"][:n_before] = int(RunState.IDLE)
    records["run_state"][n_before:n_before + len(walk)] = int(RunState.RUNNING)
    stop = n_before + len(walk)
    records["run_state"][stop:stop + 600] = int(RunState.STOPPING)
    records["belt_speed_mps"][stop:stop + 600] = np.linspace(float(walk["belt_speed_mps"][-1]), 0.0, 600)
    records["run_state"][stop + 600:] = int(RunState.IDLE)
    for field in ("belt_speed_mps", "belt_speed_cmd_mps"):
        records[field][:n_before] = 0.0
        records[field][stop + 600:] = 0.0
    records["heart_rate_bpm"][:n_before] = 70.0
    records["heart_rate_bpm"][stop:] = 80.0
    records["s_m"][:n_before] = 0.0
    records["s_m"][stop:] = walk["s_m"][-1]
    kept = walk_events[np.isin(walk_events["kind"], (int(EventKind.HEEL_STRIKE), int(EventKind.TOE_OFF),
                                                     int(EventKind.STEP), int(EventKind.STRIDE)))]
    if not with_steps:
        kept = kept[:0]
    events = np.zeros(len(kept) + 7, dtype=EVENT_DTYPE)
    events[:len(kept)] = kept
    events["cycle"][:len(kept)] += n_before
    events["t_s"][:len(kept)] = records["t_s"][events["cycle"][:len(kept)].astype(np.int64) - 1]

    def put(i, at_s, kind, code=0, v1=np.nan):
        cycle = int(at_s * 1000) + 1
        events[len(kept) + i] = (cycle, records["t_s"][cycle - 1], int(kind), -1, code, v1, np.nan, np.nan)

    hr = int(AlarmReason.HEART_RATE_HIGH)
    put(0, 1.0, EventKind.ALARM_ACKED, hr)  # the previous session's, in the backlog
    put(1, idle_before_s + 1.0, EventKind.ALARM_RAISED, int(AlarmReason.EXO_SILENT), float(Priority.MEDIUM))
    put(2, idle_before_s + 2.0, EventKind.ALARM_ACKED, int(AlarmReason.EXO_SILENT))
    put(3, idle_before_s + 1.5, EventKind.OBSTACLE_OUTCOME, 0, 0.03)  # box, cleared
    put(4, idle_before_s + 2.5, EventKind.OBSTACLE_OUTCOME, 1, -0.01)  # curb down, hit
    put(5, idle_before_s + 3.5, EventKind.OBSTACLE_OUTCOME, 5, 0.02)  # cable, cleared
    put(6, idle_before_s + walk_s, EventKind.RUN_STATE, int(RunState.STOPPING))
    events = np.sort(events, order="cycle")
    sid = store.start_session(patient, scene, {"steps": 20}, {"speed_fraction": 0.5, "guidance": 0.7,
                                                             "bws_fraction": 0.5})
    store.add_telemetry_chunk(sid, records)
    store.add_core_events(sid, events)
    store.log_setting(sid, who, "guidance", 0.5, 0.7, applied=0.7)
    store.log_setting(sid, who, "bws_fraction", 0.3, 0.5, applied=0.5)
    store.log_setting(sid, who, "run", None, "start")
    store.end_session(sid, "stopped")
    return sid
