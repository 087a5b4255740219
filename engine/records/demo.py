"""demo-history: fill a database with simulated sessions of a patient who improves over time.

Running the real rig and core would take minutes per session, so each session's telemetry and
events come from the parametric gait model (engine/records/gait_model.py, documented there) with
parameters that improve session by session: faster, more symmetric, less guidance and
body-weight support needed, more obstacles cleared. They are written through the same code as a
recorded session (SessionWriter -> Store), dated every few days up to today, and flagged
`simulated` in the database, which every report shows.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import numpy as np

from engine.records import codec
from engine.records.gait_model import PROFILES, params_for_session, simulate_session
from engine.records.recorder import SessionWriter
from engine.records.store import Store, ensure_demo_patient

log = logging.getLogger(__name__)

SCENES = ["sidewalk-crossing", "grocery-first-visit"]
DAYS_BETWEEN_SESSIONS = 3
BATCH_RECORDS = 5000


def fill_demo_history(
    db_path: str | Path,
    code: str = "demo-hemiparetic",
    sessions: int = 10,
    duration_s: float = 120.0,
    seed: int = 0,
    rate_hz: float = 1000.0,
) -> list[int]:
    """Add `sessions` simulated sessions for a demo patient; returns their ids, oldest first."""
    if sessions < 1:
        raise ValueError("sessions must be at least 1")
    ids = []
    with Store(db_path) as store:
        ensure_demo_patient(store, code)
        profile = store.get_patient(code)["sim_profile"]
        if profile not in PROFILES:
            raise KeyError(f"no gait model for profile {profile!r}")
        rx = store.current_prescription(code)
        today = datetime.datetime.now().astimezone().replace(hour=10, minute=0, second=0, microsecond=0)
        for k in range(sessions):
            params = params_for_session(profile, k, sessions, seed)
            started = today - datetime.timedelta(days=DAYS_BETWEEN_SESSIONS * (sessions - 1 - k))
            goal_steps = int(round(duration_s * 60.0 / params.stride_time_s / 60.0 * 2 * 0.8 / 10) * 10)
            speed_fraction = min(1.0, params.speed_mps / rx.max_speed_mps) if rx else 1.0
            settings = {"speed_fraction": round(speed_fraction, 3), "guidance": round(params.guidance, 3),
                        "bws_fraction": round(params.bws_fraction, 3), "assist_as_needed": True}
            sid = store.start_session(code, SCENES[k % len(SCENES)], {"steps": goal_steps}, settings,
                                      simulated=True, started_at=started)
            rec, ev, truth = simulate_session(params, duration_s, rate_hz, seed=seed * 1000 + k,
                                              t0_s=float(k) * 10_000.0, first_cycle=1, goal_steps=goal_steps)
            writer = SessionWriter(store, sid)
            writer.live_codec = codec.CODEC_COMPACT  # big batches: no compaction pass needed
            event_cycles = ev["cycle"]
            for i in range(0, len(rec), BATCH_RECORDS):
                batch = rec[i : i + BATCH_RECORDS]
                lo, hi = np.searchsorted(event_cycles, [batch["cycle"][0], batch["cycle"][-1] + 1])
                writer.write(batch, ev[lo:hi], telemetry_overflow=0, events_overflow=0)
            writer.finish({"simulated": True, "gait_model": profile, "session_index": k})
            # The therapist's live changes, as the audit log would show them.
            store.log_setting(sid, "therapist", "speed_fraction", round(speed_fraction * 0.8, 3),
                              round(speed_fraction, 3), applied=round(speed_fraction, 3))
            store.log_setting(sid, "assist-as-needed", "guidance", round(min(1.0, params.guidance + 0.1), 3),
                              round(params.guidance, 3), applied=round(params.guidance, 3))
            store.end_session(sid, "completed", {"simulated": True, "steps": truth["steps"],
                                                 "distance_m": round(truth["distance_m"], 1)},
                              ended_at=started + datetime.timedelta(seconds=duration_s))
            log.info("simulated session %d (%d of %d) for %s", sid, k + 1, sessions, code)
            ids.append(sid)
    return ids
