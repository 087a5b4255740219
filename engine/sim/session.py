"""`simulate`: a whole session faster than real time, the real control core stepped on a sim clock.

What runs is what runs live, in one process and on one simulated clock:
- the virtual rig (devices/sim/server.Rig: firmware, watchdogs, the patient model) with in-memory
  links instead of pseudo-terminals (engine/sim/links.py), stepped every 2 ms like its loop;
- the serial drivers decoding its frames, and `engine.control.core.ControlCore` (the same class
  and code path as the core process) stepped every 1 ms;
- the therapist side as the headless runner drives it: SessionController and CommandWriter on the
  same shared-memory channels (heartbeat every 20 ms, start, stop on schedule);
- the recorder's SessionWriter draining the rings every 50 ms into the database, so the session
  is stored exactly as a live one, marked simulated.
Same seed, same session: nothing reads the wall clock (times in the database are sim seconds
from the session start; the session's start date is now, or the `started_at` given).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CORE_PERIOD_S = 0.001
RIG_EVERY = 2  # core cycles per rig tick (the rig's 2 ms loop)
HEARTBEAT_EVERY = 20  # core cycles between UI heartbeats (a 50 Hz frame loop)
DRAIN_EVERY = 50  # core cycles between recorder drains (its 50 ms period)
START_AFTER_S = 0.5  # idle time before the start, like the runner's warm-up
STOP_TIMEOUT_S = 15.0
SIM_T0_S = 1.0  # the sim clock starts here (never 0: 0.0 means "never" to some fields)


@dataclass
class SimResult:
    session_id: int | None
    outcome: str
    truth: dict
    summary: dict
    recorder_stats: dict
    sim_s: float
    wall_s: float
    patient_code: str
    profile: str
    records: tuple | None = None  # (telemetry, events) arrays when simulated without a database

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall-clock second."""
        return self.sim_s / self.wall_s if self.wall_s > 0 else math.inf


@dataclass
class SimOptions:
    scene: str
    profile: str
    duration_s: float = 120.0
    seed: int = 0
    db: str | Path | None = "stepsync-sim.db"  # None: keep the records in memory (SimResult.records)
    truth_path: str | Path | None = None
    patient_code: str | None = None
    scenes_dir: str | Path | None = None
    settings: dict = field(default_factory=dict)  # therapist settings over the scene's hints
    started_at: datetime.datetime | None = None
    progress: bool = False
    boost_max: float | None = None  # override the prescription's clearance_boost_max (0: no boost)
    pace: str = "scene"  # scene | fixed | self (engine.control.layout.PaceMode)
    intent_schedule: object = None  # t_s -> intended speed m/s for the patient (bench/tests)
    probe: object = None  # called (t_s, core, rig) every 10 ms after the start (bench/tests)
    protocol: str | None = None  # comfortable | fast: timed walk trials on the self-paced belt
    goals: dict | None = None  # therapist goals (steps, distance_m, time_s) instead of the scene's
    use_plan: bool = False  # start from the patient's accepted session plan (progression), as live


def sim_prescription(profile):
    """A prescription for a patient who is only a simulation profile: the belt's top speed a
    quarter above the comfortable speed, the true leg lengths, the affected side from labels."""
    from engine.control.prescription import Prescription

    leg = profile.thigh_m + profile.shank_m + profile.foot_height_m
    labels = set(profile.labels)
    affected = 0 if "paretic_left" in labels else 1 if "paretic_right" in labels else -1
    return Prescription(
        max_speed_mps=round(min(3.0, max(0.3, 1.25 * profile.comfortable_speed_mps)), 3),
        max_accel_mps2=0.5, max_decel_mps2=0.8, guidance_min=0.0, guidance_max=0.8, bws_min=0.0,
        bws_max=0.3, clearance_boost_max=1.0, leg_length_l_m=round(leg, 3), leg_length_r_m=round(leg, 3),
        affected_side=affected,
    )


def run_simulation(options: SimOptions) -> SimResult:
    """Simulate one session into the database; returns its id, the ground truth and figures."""
    from devices.sim.profiles import load_profile
    from devices.sim.server import Rig
    from engine.control import layout
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter
    from engine.control.config import CoreConfig
    from engine.control.core import ControlCore
    from engine.records.recorder import SessionWriter
    from engine.records.store import DEMO_PATIENTS, Store, ensure_demo_patient
    from engine.scene.loader import find_scene
    from engine.sim.links import MemoryEndpoint, open_in_process
    from engine.sim.therapist import SimTherapist

    wall0 = time.perf_counter()
    profile = load_profile(options.profile)
    scene = find_scene(options.scene, options.scenes_dir) if options.scenes_dir else find_scene(options.scene)
    code = options.patient_code or f"sim-{profile.name}"
    store = None
    if options.db is not None:
        db_path = Path(options.db)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        store = Store(db_path)
        if code in DEMO_PATIENTS:
            ensure_demo_patient(store, code)
        else:
            store.ensure_patient(code, sim_profile=str(options.profile))
            if store.current_prescription(code) is None:
                store.add_prescription(code, sim_prescription(profile), who="simulate")

    clock = {"t": SIM_T0_S}
    rig = Rig(str(options.profile), options.seed, endpoint_factory=MemoryEndpoint)
    rig.show_scene(scene)
    channels = Channels.create()
    session_id = None
    executor = None
    outcome = "interrupted"
    summary: dict = {}
    recorder_stats: dict = {}
    try:
        devices = open_in_process(rig, lambda: clock["t"])
        writer = CommandWriter(channels.command)
        controller = SimTherapist(writer, store)
        rx = (store.current_prescription(code) if store is not None else None) or sim_prescription(profile)
        if options.boost_max is not None:
            rx = dataclasses.replace(rx, clearance_boost_max=float(options.boost_max))
        controller.select_patient(code, rx)
        controller.select_scene(scene)
        goals = scene.goals
        if options.goals is not None:
            controller.set_goals(steps=int(options.goals.get("steps", 0)),
                                 distance_m=float(options.goals.get("distance_m", 0.0)),
                                 time_s=float(options.goals.get("time_s", 0.0)))
        else:
            controller.set_goals(steps=int(goals.steps), distance_m=float(goals.distance_m),
                                 time_s=float(goals.time_s) or float(options.duration_s))
        hints = scene.assistance
        settings = {"speed_fraction": min(1.0, profile.comfortable_speed_mps / rx.max_speed_mps)}
        if hints.guidance is not None:
            settings["guidance"] = float(hints.guidance)
        if hints.bws_fraction is not None:
            settings["bws_fraction"] = float(hints.bws_fraction)
        if options.use_plan and store is not None and store.current_session_plan(code) is not None:
            from engine.analysis.progression import Plan

            settings.update(Plan.from_dict(store.current_session_plan(code)["plan"]).settings(rx))
        settings.update(options.settings)
        walk_samples: list[tuple[float, float, float]] = []
        if options.protocol is not None:
            # A comfortable- or fast-speed test (engine/analysis/walk_test.py): self-paced belt,
            # the simulated patient walks the trials at its comfortable speed, or at its fast speed
            # from the effort model (Jonkers, Delp & Patten 2009 ratios; devices/sim/effort.py).
            from devices.sim.effort import Capacity
            from devices.sim.intent import IntentSchedule
            from engine.analysis.walk_test import PROTOCOLS, trial_schedule

            if options.protocol not in PROTOCOLS:
                raise ValueError(f"protocol {options.protocol!r}: one of {', '.join(PROTOCOLS)}")
            options = dataclasses.replace(options, pace="self")
            capacity = Capacity.of(profile)
            speed = capacity.max_speed_mps if options.protocol == "fast" else capacity.comfortable_speed_mps
            if options.intent_schedule is None:
                points = trial_schedule(speed)
                options = dataclasses.replace(options, intent_schedule=IntentSchedule(points).shifted(
                    SIM_T0_S + START_AFTER_S), duration_s=min(options.duration_s, points[-1][0] + 1.0))
        settings["pace_mode"] = float(layout.PaceMode[options.pace.upper()])
        controller.change_settings(**settings)
        if options.intent_schedule is not None:
            rig.patient.intent_schedule = options.intent_schedule
        core = ControlCore(CoreConfig(ports={}), channels, devices)
        tele, events = channels.telemetry, channels.events
        kept: list[tuple] = []
        if store is None:
            swriter = None

            def drain() -> None:
                kept.append((tele.drain(), events.drain()))
        else:
            session_id = controller.open_session(options.started_at)
            # as the recorder process: small live-codec chunks, compacted by a worker thread
            executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="compactor")
            swriter = SessionWriter(store, session_id, executor=executor)

            def drain() -> None:
                swriter.write(tele.drain(), events.drain(), telemetry_overflow=tele.overflow,
                              events_overflow=events.overflow)

        route_m = float(scene.route_length_m)
        cycle = 0
        started_at_s = None
        stop_began_s = None
        stopping = False
        outcome = "completed"
        total_s = START_AFTER_S + options.duration_s + STOP_TIMEOUT_S
        next_progress = 0.0
        rig_tick = rig.tick
        core_step = core.step
        # No compute time to report on a simulated clock: every cycle's finish_cycle(0.0) would set
        # the 0.0 the core starts with, so it is set once here instead of called every cycle.
        core.finish_cycle(0.0)
        duration_s, probe, protocol, progress = options.duration_s, options.probe, options.protocol, options.progress
        route_end_m = route_m - 0.05
        # (bound once: an Enum class attribute is slow in CPython 3.11 and these are read every cycle)
        core_stopped = (layout.RunState.STOPPING, layout.RunState.STOPPED, layout.RunState.IDLE)
        core_at_rest = (layout.RunState.IDLE, layout.RunState.STOPPED)
        while True:
            t = SIM_T0_S + cycle * CORE_PERIOD_S
            clock["t"] = t
            if cycle % RIG_EVERY == 0:
                rig_tick(t)  # the rig's 2 ms loop (it reads commands and runs watchdogs then too)
            if cycle % HEARTBEAT_EVERY == 0:
                writer.heartbeat()
            if started_at_s is None and t - SIM_T0_S >= START_AFTER_S:
                controller.start()
                started_at_s = t
            core_step(t)
            cycle += 1
            if cycle % DRAIN_EVERY == 0:
                drain()
            if started_at_s is None:
                continue
            if cycle % 10 == 0:
                if probe is not None:
                    probe(t - started_at_s, core, rig)
                if protocol is not None:
                    # over-ground distance = belt distance + the patient's (averaged) place on it
                    pos = core.self_paced.avg_m
                    tm = rig.treadmill  # the truth beside it: belt travel + true place on the belt
                    walk_samples.append((t - started_at_s, core.s_m + (pos if pos == pos else 0.0),
                                         core.belt_speed_mps, tm.belt_m + tm.patient_position_m))
            run_state = core.run_state
            elapsed = t - started_at_s
            if not stopping:
                if elapsed >= duration_s or core.s_m >= route_end_m:
                    controller.stop(who="schedule")
                    stopping, stop_began_s = True, t
                elif elapsed > 2.0 and run_state in core_stopped:
                    outcome = "stopped"  # the core stopped on its own: a fault or an alarm
                    log.warning("simulate: the control core stopped the session (alarms %#x)",
                                core.alarms.active_bits)
                    stopping, stop_began_s = True, t
            elif (run_state in core_at_rest and core.belt_speed_mps < 0.01) \
                    or t - stop_began_s > STOP_TIMEOUT_S:
                break
            if progress and elapsed >= next_progress:
                _progress(elapsed, duration_s, wall0)
                next_progress = elapsed + max(1.0, duration_s / 50.0)
            if elapsed > total_s:
                break
        drain()
        sim_s = cycle * CORE_PERIOD_S
        summary = _summary(core)
        wall_s = time.perf_counter() - wall0
        if options.protocol is not None:
            from engine.analysis.walk_test import EVENT_KIND, protocol_result, trial_speeds

            cols = np.array(walk_samples, float).reshape(-1, 4)
            result = protocol_result(options.protocol, trial_speeds(cols[:, 0], cols[:, 1], cols[:, 2]))
            truth_speeds = trial_speeds(cols[:, 0], cols[:, 3], cols[:, 2])  # simulation only
            result_truth = {"true_trials_mps": [round(v, 4) for v in truth_speeds]}
            summary[EVENT_KIND[options.protocol]] = {**result, **result_truth}
            if store is not None and session_id is not None and result["speed_mps"] is not None:
                store.add_event(session_id, EVENT_KIND[options.protocol], float(cols[-1, 0]), **result)
        if swriter is not None:
            recorder_stats = swriter.finish({"simulated": True, "profile": profile.name, "seed": options.seed,
                                             "sim_s": sim_s, "wall_s": wall_s, "sim_speedup": sim_s / wall_s})
            ended_at = options.started_at + datetime.timedelta(seconds=sim_s) if options.started_at else None
            controller.end(outcome, summary, ended_at)
        if options.progress:
            _progress(options.duration_s, options.duration_s, wall0, done=True)
        devices.close()
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        channels.close()
        rig.close()
        if store is not None:
            store.close()
    truth = rig.ground_truth()
    truth["session_id"] = session_id
    truth["scene"] = scene.id
    truth["sim_clock"] = {"t0_s": SIM_T0_S, "core_period_s": CORE_PERIOD_S,
                          "note": "host and device clocks are both the simulated clock"}
    truth["core_obstacles"] = _core_obstacles(core)
    if options.truth_path:
        Path(options.truth_path).write_text(json.dumps(truth, indent=1))
    records = None
    if store is None:
        records = (np.concatenate([k[0] for k in kept]), np.concatenate([k[1] for k in kept]))
    return SimResult(session_id, outcome, truth, summary, recorder_stats, sim_s, wall_s, code, profile.name, records)


def _core_obstacles(core) -> list[dict]:
    """The core's own obstacle outcomes at the end (what the bench compares with the truth)."""
    out = []
    for ob in core.planner.obstacles:
        margin = ob.margin_m
        out.append({"obstacle": ob.index, "outcome": int(ob.outcome),
                    "margin_m": margin if margin == margin else None})
    return out


def _summary(core) -> dict:
    """The session summary from the core's last state (the keys a live session stores)."""
    m = core.metrics

    def finite(value):
        value = float(value)
        return value if math.isfinite(value) else None

    from engine.control.layout import ObstacleOutcome

    cleared = sum(1 for ob in core.planner.obstacles if ob.outcome == ObstacleOutcome.CLEARED)
    hit = sum(1 for ob in core.planner.obstacles if ob.outcome == ObstacleOutcome.HIT)
    return {
        "steps": int(m.steps),
        "distance_m": finite(core.distance_m),
        "scene_time_s": finite(core.scene_time_s),
        "gait_speed_mps": finite(m.gait_speed_mps),
        "cadence_spm": finite(m.cadence_spm),
        "symmetry_index_pct": finite(m.symmetry_index_pct),
        "obstacles_cleared": cleared,
        "obstacles_hit": hit,
        "goal_reached": int(core.goal_bits),
        "simulated": True,
    }


def _progress(done_s: float, total_s: float, wall0: float, done: bool = False) -> None:
    wall = time.perf_counter() - wall0
    share = min(1.0, done_s / total_s) if total_s > 0 else 1.0
    bar = "#" * int(30 * share)
    sys.stderr.write(f"\rsimulate [{bar:<30}] {done_s:6.1f}/{total_s:.0f} s simulated, "
                     f"{done_s / wall if wall > 0 else 0:5.1f}x real time")
    if done:
        sys.stderr.write("\n")
    sys.stderr.flush()
