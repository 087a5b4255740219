"""demo-history: fill a database with simulated sessions of a patient who trains over weeks.

Each session is a real `simulate` run (engine/sim): the demo patient's virtual-rig profile walks a
scene on the real control core on a simulated clock, and the session is recorded through the
recorder's code, so every figure in the history is physically consistent (step lengths, times and
clearances come from one walking body). Across the sessions the patient recovers part of the way
toward symmetric gait (`recovered_profile`: asymmetry, stance times and clearance move a third of
the way to a sound leg's by the last session) and the therapist's settings progress as a training
course does: the belt speed rises while guidance and body-weight support are reduced. Sessions are dated every few days up to today and
flagged `simulated` in the database, which every report shows.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

from engine.records.store import Store, ensure_demo_patient

log = logging.getLogger(__name__)

SCENES = ["sidewalk-curb-crossing", "grocery-first-visit"]
DAYS_BETWEEN_SESSIONS = 3


def session_settings(k: int, sessions: int) -> dict:
    """The therapist's settings for session k of n: faster, less guidance and support over time."""
    progress = k / max(1, sessions - 1)
    return {
        "speed_fraction": round(0.55 + 0.3 * progress, 3),
        "guidance": round(0.6 - 0.35 * progress, 3),
        "bws_fraction": round(0.25 - 0.2 * progress, 3),
        "assist_as_needed": True,
    }


RECOVERY_BY_LAST_SESSION = 1.0 / 3.0


def recovered_profile(profile, share: float):
    """The profile with `share` (0..1) of its asymmetry and clearance deficit recovered."""
    import dataclasses

    def toward(pair, target):
        return tuple(v + (target - v) * share for v in pair)

    mean_stance = sum(profile.stance_fraction) / 2.0
    best_mtc = max(profile.mtc_m)
    return dataclasses.replace(
        profile,
        name=profile.name,
        step_length_asymmetry=toward(profile.step_length_asymmetry, 1.0),
        right_heel_strike_phase=profile.right_heel_strike_phase + (0.5 - profile.right_heel_strike_phase) * share,
        stance_fraction=toward(profile.stance_fraction, mean_stance),
        mtc_m=toward(profile.mtc_m, best_mtc),
        max_toe_clearance_m=toward(profile.max_toe_clearance_m, max(profile.max_toe_clearance_m)),
        comfortable_speed_mps=profile.comfortable_speed_mps * (1.0 + 0.3 * share),
    )


def fill_demo_history(
    db_path: str | Path,
    code: str = "demo-hemiparetic",
    sessions: int = 10,
    duration_s: float = 120.0,
    seed: int = 0,
    progress: bool = False,
) -> list[int]:
    """Add `sessions` simulated sessions for a demo patient; returns their ids, oldest first."""
    import tempfile

    from devices.sim.profiles import load_profile, profile_to_yaml
    from engine.sim.session import SimOptions, run_simulation

    if sessions < 1:
        raise ValueError("sessions must be at least 1")
    with Store(db_path) as store:
        ensure_demo_patient(store, code)
        profile = store.get_patient(code)["sim_profile"]
    today = datetime.datetime.now().astimezone().replace(hour=10, minute=0, second=0, microsecond=0)
    base = load_profile(profile)
    ids = []
    with tempfile.TemporaryDirectory(prefix="stepsync-demo-") as folder:
        for k in range(sessions):
            started = today - datetime.timedelta(days=DAYS_BETWEEN_SESSIONS * (sessions - 1 - k))
            share = RECOVERY_BY_LAST_SESSION * k / max(1, sessions - 1)
            path = Path(folder) / f"{base.name}-session-{k + 1}.yaml"
            path.write_text(profile_to_yaml(recovered_profile(base, share)))
            result = run_simulation(SimOptions(
                scene=SCENES[k % len(SCENES)], profile=str(path), duration_s=duration_s, seed=seed * 1000 + k,
                db=db_path, patient_code=code, settings=session_settings(k, sessions), started_at=started,
                progress=progress,
            ))
            log.info("simulated session %d (%d of %d) for %s: %.1fx real time", result.session_id, k + 1,
                     sessions, code, result.speedup)
            ids.append(result.session_id)
    return ids
