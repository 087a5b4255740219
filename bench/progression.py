"""Automatic progression benchmark: `python -m bench progression [--quick] --json`.

Three simulated patients each walk SESSIONS sessions (engine.sim `run_simulation`: the real
control core and virtual rig on a simulated clock, recorded into a real SQLite file). After
each session the progression proposal (engine/analysis/progression.py) is read from the records
and accepted as the therapist would (`record_decision`, who = "bench"), and the next session
starts from the accepted plan (`SimOptions.use_plan`, the scene the plan names):

- improving: the hemiparetic profile with `recovery_rate` RATE (devices/sim/recovery.py: each
  session closes that share of the remaining gap to a healthy adult's gait);
- stable: the same profile, `recovery_rate` 0;
- worsening: recovers like the first until WORSEN_AT, then declines: each later session moves
  it DECLINE of the way toward the moderate hemiparetic profile (WORSE_PROFILE: lower clearance,
  a stiff knee, a dropped foot, a slower comfortable speed and so a lower capacity) and it tires:
  fatigue_per_min FATIGUED (a bad spell, e.g. an illness).

Each patient walks with the effort model of devices/sim/effort.py: heart rate from the oxygen cost
of the pace against an aerobic capacity from age and gait-speed deficit, and strain above the
comfortable speed (quicker, more variable steps, lower toe clearance, faster fatigue). Recovery
raises the comfortable speed and with it the capacity; the stable patient's stays.

Each patient has a prescription (speed <= MAX_SPEED_MPS, guidance 0..1, BWS 0..0.4, heart-rate
limit 120 bpm ~ 55 % of the heart-rate reserve of the profile: Karvonen, REFERENCES.md section 8).
MAX_SPEED_MPS was 1.0 m/s until the effort model: below the stable patient's own fast walking
speed (1.43 m/s by Jonkers 2009's ratio), so the ceiling, not the patient, stopped all three and
nothing could tell them apart; 1.4 m/s is a fast pace for a recovered older adult (Bohannon 1997:
comfortable 1.27-1.46 m/s) and within what 20 sessions of +0.05 m/s can reach from 0.45. Keys:
- `improving_guidance_start`, `improving_guidance_end`: the guidance floor (absolute) of the
  first session and of the plan accepted after the last;
- `improving_speed_start_mps`, `improving_speed_end_mps`: the belt speed, the same way;
- `max_step_guidance`, `max_step_speed_mps`: the largest change between consecutive plans, over
  all three patients (bounds: engine/analysis/progression.py GUIDANCE_STEP, SPEED_UP_MPS /
  SPEED_DOWN_MPS);
- `worsening_stepped_back`: an accepted proposal for the worsening patient stepped back after
  its decline began;
- `prescription_violations` (0): plans beyond the prescription, plus telemetry cycles whose
  belt command, applied guidance or body-weight support left it (the core's own records, not
  the plan).
Added so that the figures tell the three patients apart (a stable patient who steps back as often
as the worsening one makes `worsening_stepped_back` prove little):
- `improving_step_backs`, `stable_step_backs`: step-back proposals over all their sessions;
- `worsening_step_backs_before_decline`, `worsening_step_backs_after_decline`: the worsening
  patient's, in its first WORSEN_AT sessions and after;
- `stable_step_backs_after`: the stable patient's over the same later sessions;
- `stable_speed_end_mps`, `stable_guidance_end`: where the stable patient's plan ended;
- `worsening_speed_peak_mps`, `worsening_speed_end_mps`: the worsening patient's fastest accepted
  plan and its last;
- `stumbles`, `stumbles_not_counted`, `true_trips`: the core's STUMBLE warnings over all sessions,
  those the rules did not count as trips (the tripped side's next step on time), and the trips in
  the rig's ground truth (the simulation knows; the rules never read it);
- `stable_comfortable_speed_mps`, `stable_max_speed_mps`: the stable patient's capacity
  (devices/sim/effort.py `Capacity`), so "plateaus near its capacity" can be read off;
  `improving_comfortable_speed_end_mps`, `improving_max_speed_end_mps`: the improving patient's
  in its last session;
- `discriminates` (its first definition, replaced below): true when the improving patient ends
  ahead of the stable one (faster, or less guidance, and behind in neither), and the worsening patient steps back after its decline more
  often than the stable patient does over the same sessions.
Added with assist-as-needed on the patient's need and the no-repeat step-back rule (issue 12):
- `step_backs_not_repeated`: proposals that held instead of repeating a step back whose cause did
  not improve (engine/analysis/progression.py STEP_BACK_LOOKBACK), over all three patients;
- `improving_guidance_used_mean`, `stable_guidance_used_mean`: the mean applied guidance while
  walking over all their sessions; `worsening_guidance_used_after_decline_mean`: the worsening
  patient's over its declining sessions (assist-as-needed should use more for the patient who
  needs more).
Each session's log line (stderr) names the rule behind the speed and the guidance floor, with
its numbers.
`discriminates` (issue 12, third round) is the conjunction of three parts, each a key of its own so
a false one says which part failed, and none satisfiable by a degenerate outcome (everyone held at
the start, everyone stepped down, the ceiling stopping everyone):
- `discriminates_improving_ahead`: the improving patient ended faster than it started and its end
  plan is ahead of the stable one's: at least one of the rules' steps past it in total over speed,
  guidance floor, body-weight support and scene difficulty (engine/analysis/progression.py
  `is_ahead`; docs/progression.md "Which plan is ahead"; until issue 12's fourth round: faster or
  less guidance, behind in neither, scene and support not compared); `improving_ahead_steps` the
  same comparison axis by axis (positive: the improving patient's plan demands more);
- `discriminates_stable_plateau`: the stable patient's plans over its last PLATEAU_SESSIONS
  sessions span at most one step back (SPEED_DOWN_MPS, the largest single move of the rules: a
  step back and the climb after it stay on a plateau) and end at most one step up above where
  they began (it stopped climbing), below the prescription's top (not the
  ceiling), at least its comfortable speed less one step back and at most its fast speed (near
  its capacity: devices/sim/effort.py), and most of those sessions' speed holds name a sign of
  strain (heart rate, stride variability, assistance needed, toe clearance: STRAIN_REASONS), not an
  obstacle, a trip or a short walk;
- `discriminates_worsening_back`: the worsening patient stepped back after its decline more often
  than the stable one over the same sessions and ended below its peak.
`stable_plateau_reasons` counts the rules behind the stable patient's speed over those sessions.
`sessions_stumbles_judged_not_trips`: sessions whose stumbles the bench's therapist judged not a
trip (REVIEW_ENV; 0 unless it is set).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

PROFILE = "hemiparetic-right-mild"
START_SCENE = "grocery-pharmacy-aisle"
SESSIONS = 20
RATE = 0.15
WORSEN_AT = 10  # the worsening patient's sessions after this one decline
WORSE_PROFILE = "hemiparetic-right"
DECLINE = 0.35  # share of the way to WORSE_PROFILE per declining session
FATIGUED = 0.8  # fatigue_per_min while declining (1/min; the profile's is 0.03)
HR_LIMIT_BPM = 120.0
MAX_SPEED_MPS = 1.4
SEED0 = 100
# STEPSYNC_BENCH_REVIEW_STUMBLES=1: a therapist who watched judges the stumble warnings of a session
# whose rig truth has no trip "not a trip" (engine/analysis/progression.py record_stumble_review,
# who = "bench-therapist") before the proposal is read. Off by default: the bench's figures are the
# rules' own. On, it shows what the other rules do while the core's stumble detector raises false
# alarms on this patient (issue 13); the rules still never read the truth, the therapist does.
REVIEW_ENV = "STEPSYNC_BENCH_REVIEW_STUMBLES"
PLATEAU_SESSIONS = 5  # the stable patient's last sessions over which its plateau is judged
# What the speed rule's reason names (engine/analysis/progression.py), first match wins: strain
# (a pace beyond the patient's capacity) or something else.
REASON_WORDS = (("heart_rate", "heart rate"), ("variability", "strides more variable"),
                ("assistance", "assist-as-needed"), ("clearance", "toe clearance"), ("clearance", "fatigue"),
                ("clearance", "decline"), ("obstacles", "obstacle"), ("trips", "trip"), ("symmetry", "symmetry"),
                ("goals", "goals"), ("short", "too little to judge"), ("repeat", "not stepped back again"),
                ("ceiling", "prescription's maximum"))
STRAIN_REASONS = ("heart_rate", "variability", "assistance", "clearance")


def _rx():
    from devices.sim.profiles import load_profile
    from engine.sim.session import sim_prescription

    return replace(sim_prescription(load_profile(PROFILE)), max_speed_mps=MAX_SPEED_MPS, guidance_min=0.0, guidance_max=1.0,
                   bws_min=0.0, bws_max=0.4, max_heart_rate_bpm=HR_LIMIT_BPM)


def _start_plan():
    from engine.analysis.progression import Plan

    return Plan(scene_id=START_SCENE, speed_mps=0.45, guidance=0.7, guidance_min=0.6, bws_fraction=0.3,
                assist_as_needed=True)


def _profile_for(kind: str, session: int, folder: Path) -> str:
    """The YAML file of the patient as they walk session `session` (1-based)."""
    from devices.sim.profiles import load_profile, profile_to_yaml
    from devices.sim.recovery import progress_after, recovered, toward

    base = load_profile(PROFILE)
    rate = 0.0 if kind == "stable" else RATE
    done = session - 1  # sessions trained before this one
    profile = recovered(base, progress_after(rate, min(done, WORSEN_AT) if kind == "worsening" else done))
    profile = replace(profile, name=f"{PROFILE}-{kind}-{session}", recovery_rate=rate)
    if kind == "worsening" and done >= WORSEN_AT:
        share = 1.0 - (1.0 - DECLINE) ** (done - WORSEN_AT + 1)
        profile = toward(profile, load_profile(WORSE_PROFILE), share)
        profile = replace(profile, fatigue_per_min=FATIGUED, recovery_rate=-DECLINE)
    path = folder / f"{kind}-{session}.yaml"
    path.write_text(profile_to_yaml(profile))
    return str(path)


def _violations(store, session_id: int, rx) -> int:
    """Telemetry cycles of a session with a belt command, guidance or BWS beyond the prescription."""
    tel = store.telemetry(session_id)
    if not len(tel):
        return 0
    tol = 1e-3  # float32 telemetry
    bad = (tel["belt_speed_cmd_mps"] > rx.max_speed_mps + tol) | (tel["guidance"] > rx.guidance_max + tol) \
        | (tel["guidance"] < rx.guidance_min - tol) | (tel["bws_fraction"] > rx.bws_max + tol) \
        | (tel["bws_fraction"] < rx.bws_min - tol)
    return int(bad.sum())


def _patient(kind: str, sessions: int, duration_s: float, folder: Path) -> dict:
    """Walk one patient's sessions; returns the plans, directions and violations."""
    from devices.sim.effort import Capacity
    from devices.sim.profiles import load_profile
    from engine.analysis.progression import (
        Plan,
        proposal_for,
        record_decision,
        record_stumble_review,
        within_prescription,
    )
    from engine.records.store import Store
    from engine.sim.session import SimOptions, run_simulation

    db = folder / f"{kind}.db"
    code = f"bench-{kind}"
    rx = _rx()
    with Store(db) as store:
        store.ensure_patient(code, sim_profile=PROFILE)
        store.add_prescription(code, rx, who="bench")
    plans = [_start_plan()]
    directions: list[str] = []
    violations = 0
    stumbles = not_counted = true_trips = repeat_holds = 0
    used: list[float] = []
    reasons: list[str] = []
    reviewed = 0
    review = os.environ.get(REVIEW_ENV, "") not in ("", "0")
    for k in range(1, sessions + 1):
        plan = plans[-1]
        wall0 = time.perf_counter()
        profile_file = _profile_for(kind, k, folder)
        result = run_simulation(SimOptions(
            scene=plan.scene_id, profile=profile_file, duration_s=duration_s, seed=SEED0 + k, db=db,
            patient_code=code, goals={"time_s": duration_s}, use_plan=k > 1,
            settings=plan.settings(rx) if k == 1 else {}))
        with Store(db) as store:
            violations += _violations(store, result.session_id, rx)
            if review and not result.truth.get("trips") and any(
                    e["kind"] == "stumble" for e in store.events(result.session_id)):
                record_stumble_review(store, result.session_id, "bench-therapist")
                reviewed += 1
            proposal = proposal_for(store, code)
            violations += len(within_prescription(proposal.plan, rx))
            record_decision(store, proposal, "accepted", "bench")
            stored = Plan.from_dict(store.current_session_plan(code)["plan"])
        plans.append(stored)
        directions.append(proposal.direction)
        perf = proposal.performance
        stumbles += perf.stumbles
        not_counted += perf.stumbles_not_trips_data + perf.stumbles_not_trips_therapist
        true_trips += len(result.truth.get("trips") or [])
        why = next((c.reason for c in proposal.changes if c.name == "speed_mps"), "")
        why_floor = next((c.reason for c in proposal.changes if c.name == "guidance_min"), "")
        used.append(perf.guidance_used)
        reasons.append(reason_of(why))
        repeat_holds += int("not stepped back again" in why)
        sys.stderr.write(
            f"progression: {kind:<9} session {k:2d}/{sessions} {plan.scene_id:<24} speed {plan.speed_mps:.2f} "
            f"floor {plan.guidance_min:.2f} bws {plan.bws_fraction:.2f} -> {proposal.direction:<9} "
            f"(guidance used {perf.guidance_used:.2f}, obstacles {perf.obstacles_attempted - perf.obstacles_failed}/"
            f"{perf.obstacles_attempted}, trips {perf.trips}, stumbles {perf.stumbles} "
            f"(not counted {perf.stumbles_not_trips_data}), true trips {len(result.truth.get('trips') or [])}, "
            f"clearance {perf.clearance_m * 1000:.1f} mm (baseline {perf.baseline_clearance_m * 1000:.1f}), "
            f"HR above {perf.hr_above_share:.2f}, late {perf.hr_late_mean_bpm:.0f} bpm, heading for "
            f"{perf.hr_steady_bpm:.0f} bpm, stride SD "
            f"{perf.stride_time_sd_s * 1000:.0f} ms (baseline {perf.baseline_stride_time_sd_s * 1000:.0f}), "
            f"strain at this speed {Capacity.of(load_profile(profile_file)).strain(plan.speed_mps):.2f}, "
            f"assist-as-needed at its top {perf.guidance_saturated_share:.2f} of the time, "
            f"{time.perf_counter() - wall0:.0f} s) speed: {why} | floor: {why_floor}\n")
        sys.stderr.flush()
    capacity = Capacity.of(load_profile(profile_file))  # as the patient walked the last session
    return {"plans": plans, "directions": directions, "violations": violations, "stumbles": stumbles,
            "comfortable_speed_mps": capacity.comfortable_speed_mps, "max_speed_mps": capacity.max_speed_mps,
            "not_counted": not_counted, "true_trips": true_trips, "repeat_holds": repeat_holds,
            "guidance_used": used, "speed_reasons": reasons, "reviewed": reviewed}


def reason_of(why: str) -> str:
    """The category (REASON_WORDS) of a speed rule's reason; 'other' when none matches."""
    lower = why.lower()
    if "prescription's maximum" in lower:
        return "ceiling"
    if not (lower.startswith("hold: ") or lower.startswith("step back: ")):
        return "advance"
    lower = lower.split(": ", 1)[1]
    return next((name for name, words in REASON_WORDS if words in lower), "other")


def _patient_job(job: tuple) -> tuple[str, dict]:
    """A process-pool worker: one patient's sessions (plans go back as dicts)."""
    kind, sessions, duration_s, folder = job
    res = _patient(kind, sessions, duration_s, Path(folder))
    res["plans"] = [p.to_dict() for p in res["plans"]]
    return kind, res


def run(quick: bool = False) -> dict:
    """STEPSYNC_BENCH_JOBS=N walks N patients at a time in worker processes (default 1; each
    patient's sessions are sequential, with its own records file, so the figures are the same)."""
    from engine.analysis.progression import Plan

    duration_s = 16.0 if quick else 45.0
    kinds = ("improving", "stable", "worsening")
    workers = min(len(kinds), max(1, int(os.environ.get("STEPSYNC_BENCH_JOBS", "1"))))
    with tempfile.TemporaryDirectory(prefix="stepsync-progression-") as tmp:
        folder = Path(tmp)
        if workers == 1:
            out = {kind: _patient(kind, SESSIONS, duration_s, folder) for kind in kinds}
        else:
            import multiprocessing

            jobs = [(kind, SESSIONS, duration_s, str(folder)) for kind in kinds]
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                out = dict(pool.imap_unordered(_patient_job, jobs))
            for res in out.values():
                res["plans"] = [Plan.from_dict(p) for p in res["plans"]]
    return keys(out)


def _mean(values) -> float:
    finite = [v for v in values or [] if math.isfinite(v)]
    return round(sum(finite) / len(finite), 4) if finite else math.nan


def keys(out: dict) -> dict:
    """The bench's figures from each patient's plans, directions and counts (`_patient`)."""
    improving = out["improving"]["plans"]
    steps_g, steps_v = [], []
    for res in out.values():
        for a, b in zip(res["plans"], res["plans"][1:], strict=False):
            steps_g.append(abs(b.guidance_min - a.guidance_min))
            steps_v.append(abs(b.speed_mps - a.speed_mps))
    worse = out["worsening"]["directions"][WORSEN_AT:]
    stable = out["stable"]["plans"]
    worsening = out["worsening"]["plans"]

    def backs(kind: str, start: int = 0, end: int | None = None) -> int:
        return out[kind]["directions"][start:end].count("step_back")

    stable_after = backs("stable", WORSEN_AT)
    worse_after = backs("worsening", WORSEN_AT)
    from engine.analysis.progression import is_ahead, steps_ahead
    from engine.scene.loader import load_library

    scenes = load_library().scenes
    # ahead over the four axes of progression, in the rules' steps (docs/progression.md "Which plan is ahead")
    ahead_steps = steps_ahead(improving[-1], stable[-1], scenes)
    improving_ahead = is_ahead(improving[-1], stable[-1], scenes) and improving[-1].speed_mps > improving[0].speed_mps + 1e-9
    # the stable patient's plateau: the plans it walked in its last sessions and the one after them
    last = [p.speed_mps for p in stable[-(PLATEAU_SESSIONS + 1):]]
    why = (out["stable"].get("speed_reasons") or [])[-PLATEAU_SESSIONS:]
    counted = {name: why.count(name) for name in sorted(set(why))}
    comfortable = out["stable"].get("comfortable_speed_mps", math.nan)
    fast = out["stable"].get("max_speed_mps", math.nan)
    from engine.analysis.progression import SPEED_DOWN_MPS, SPEED_UP_MPS

    end = stable[-1].speed_mps
    plateau = (len(stable) > PLATEAU_SESSIONS and max(last) - min(last) <= SPEED_DOWN_MPS + 1e-9
               and last[-1] <= last[0] + SPEED_UP_MPS + 1e-9
               and end < MAX_SPEED_MPS - 1e-9 and comfortable - SPEED_DOWN_MPS - 1e-9 <= end <= fast + 1e-9
               and sum(counted.get(name, 0) for name in STRAIN_REASONS) * 2 > len(why))
    worsening_back = worse_after > stable_after and worsening[-1].speed_mps < max(p.speed_mps for p in worsening) - 1e-9
    return {
        "improving_guidance_start": round(improving[0].guidance_min, 4),
        "improving_guidance_end": round(improving[-1].guidance_min, 4),
        "improving_speed_start_mps": round(improving[0].speed_mps, 4),
        "improving_speed_end_mps": round(improving[-1].speed_mps, 4),
        "max_step_guidance": round(max(steps_g, default=math.nan), 4),
        "max_step_speed_mps": round(max(steps_v, default=math.nan), 4),
        "worsening_stepped_back": "step_back" in worse,
        "prescription_violations": sum(res["violations"] for res in out.values()),
        "improving_step_backs": backs("improving"),
        "stable_step_backs": backs("stable"),
        "stable_step_backs_after": stable_after,
        "worsening_step_backs_before_decline": backs("worsening", 0, WORSEN_AT),
        "worsening_step_backs_after_decline": worse_after,
        "stable_speed_end_mps": round(stable[-1].speed_mps, 4),
        "stable_guidance_end": round(stable[-1].guidance_min, 4),
        "worsening_speed_peak_mps": round(max(p.speed_mps for p in worsening[:WORSEN_AT + 1]), 4),
        "worsening_speed_end_mps": round(worsening[-1].speed_mps, 4),
        "stumbles": sum(res["stumbles"] for res in out.values()),
        "stumbles_not_counted": sum(res["not_counted"] for res in out.values()),
        "true_trips": sum(res["true_trips"] for res in out.values()),
        "stable_comfortable_speed_mps": round(out["stable"].get("comfortable_speed_mps", math.nan), 4),
        "stable_max_speed_mps": round(out["stable"].get("max_speed_mps", math.nan), 4),
        "improving_comfortable_speed_end_mps": round(out["improving"].get("comfortable_speed_mps", math.nan), 4),
        "improving_max_speed_end_mps": round(out["improving"].get("max_speed_mps", math.nan), 4),
        "discriminates": bool(improving_ahead and plateau and worsening_back),
        "discriminates_improving_ahead": bool(improving_ahead),
        "discriminates_stable_plateau": bool(plateau),
        "discriminates_worsening_back": bool(worsening_back),
        "improving_ahead_steps": ahead_steps,
        "stable_plateau_reasons": counted,
        "sessions_stumbles_judged_not_trips": sum(res.get("reviewed", 0) for res in out.values()),
        "step_backs_not_repeated": sum(res.get("repeat_holds", 0) for res in out.values()),
        "improving_guidance_used_mean": _mean(out["improving"].get("guidance_used")),
        "stable_guidance_used_mean": _mean(out["stable"].get("guidance_used")),
        "worsening_guidance_used_after_decline_mean": _mean((out["worsening"].get("guidance_used") or [])[WORSEN_AT:]),
    }
