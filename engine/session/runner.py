"""A whole session: virtual rig -> channels -> control core -> recorder -> app, then down again
in reverse with a controlled stop. The session always ends in the database with an outcome and
gets its report, whatever happened in between (an exception, Ctrl-C, a fault stop).

`run_headless` is the unattended path (`main.py run --headless`, `make run` without a display);
the therapist menu on a desktop is `engine.session.desktop` (it imports this module, never the
other way round).
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.control import layout
from engine.render.alarms import active_alarms
from engine.render.liveness import freeze_collector, thaw_collector
from engine.scene.outcomes import count_outcomes
from engine.session.controller import SceneChoice, SessionController

log = logging.getLogger(__name__)

# A core process that is alive but has not published yet is starting on a busy PC (imports and
# shared memory take seconds when the CPUs are taken): say so after CORE_SLOW_START_S and keep
# waiting; only a core silent for CORE_READY_TIMEOUT_S is taken as hung. A core that exits fails
# the start at once. (A 10 s limit failed sessions at load 15-20 on 2 cores, issue 17.)
CORE_SLOW_START_S = 10.0
CORE_READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0  # a controlled stop from 1.5 m/s at 0.5 m/s2 takes 3 s; leave room
# A core that stopped publishing ends the walk once lost this long (or exited): the UI's CORE_LOST
# alarm shows after 100 ms, and the devices' own watchdogs stop the belt after 90-100 ms whatever
# the UI does, but a core frozen for 100 ms by a virtual machine's host comes back (measured on
# the CI machines: the host takes a vCPU for 100 ms several times a minute under a CPU hog).
CORE_GONE_S = 1.0


@dataclass
class SessionOptions:
    scene: str | None = None
    patient: str | None = None  # no default: the command line asks for one (headless)
    duration_s: float = 120.0
    headless: bool = True
    db: str | None = None
    screenshots: str | None = None
    use_headset: bool = False
    vr_reason: str = ""
    seed: int = 0
    renderer: str | None = None
    scenes_dir: str | None = None
    size: tuple[int, int] | None = None
    frame_rate_hz: float = 30.0
    vr_module: object = None  # an openvr double in tests
    ports: dict[str, str] = field(default_factory=dict)  # real devices; empty = the virtual rig
    pace: str = "scene"  # scene | fixed | self (engine.control.layout.PaceMode)
    clinic_url: str | None = None  # `run --sync-to`: the menu asks therapists to log in (docs/clinic.md)

    @classmethod
    def from_args(cls, args, vr) -> SessionOptions:
        """From the `run` subcommand's arguments and the resolved VR choice."""
        from engine.render.panda_config import parse_size

        return cls(
            scene=args.scene, patient=args.patient, duration_s=float(args.duration_s), headless=bool(args.headless),
            db=args.db, screenshots=args.screenshots, use_headset=vr.use_headset, vr_reason=vr.reason,
            seed=int(args.seed), renderer=args.renderer, scenes_dir=args.scenes_dir, size=parse_size(args.size),
            ports={role: port for role, port in (("treadmill", getattr(args, "treadmill", None)),
                                                 ("exoskeleton", getattr(args, "exoskeleton", None)),
                                                 ("heart_rate", getattr(args, "heart_rate", None)),
                                                 ("insoles", getattr(args, "insoles", None))) if port},
            pace=getattr(args, "pace", None) or "scene",
            clinic_url=getattr(args, "sync_to", None),
        )


@dataclass
class SessionResult:
    session_id: int | None = None
    outcome: str = "interrupted"
    end_reason: str = ""  # why the session ended, in words (summary["end_reason"], event session_end)
    report_path: Path | None = None
    exit_code: int = 1
    summary: dict = field(default_factory=dict)
    frame_stats: dict = field(default_factory=dict)
    recorder_stats: dict = field(default_factory=dict)
    screenshots: list[str] = field(default_factory=list)
    hud_events: list = field(default_factory=list)
    audit: list = field(default_factory=list)


def scene_choice(scene) -> SceneChoice:
    """The scene as the controller hands it to the core: timeline rows and obstacle names."""
    from engine.scene.model import obstacle_names
    from engine.scene.timeline import scene_to_timeline

    timeline = scene_to_timeline(scene)
    names = obstacle_names(scene)
    return SceneChoice(scene_id=scene.id, title=scene.title, route_length_m=float(scene.route_length_m),
                       base_speed_fraction=float(scene.base_speed_fraction), timeline=timeline, names=names,
                       scene=scene)


# How long after a frame started the watchdog thread keeps beating for it. 0: the thread never
# hides a slow or hung frame loop while the belt moves, so a frozen patient view stops the belt
# within the design's 100 ms (a stuck frame is a frozen world in front of a walking patient).
UI_STALL_S = 0.0


class HeartbeatThread:
    """The UI's watchdog thread (the command block's heartbeat has two writers: every frame, and
    this thread). It beats every `period_s` while either
    - `covering` is set: start-up, teardown, a screenshot, starting the recorder; or
    - the frame loop started a frame (`frame()`) less than `stall_s` ago (0 by default: only
      the frame loop itself vouches for a walking patient's view).
    A UI whose frame loop stops beating is stopped by the core 100 ms after its last frame. A main
    thread stuck in C code holding the GIL stops this thread too: it fails safe."""

    def __init__(self, writer, period_s: float = 0.02, stall_s: float = UI_STALL_S) -> None:
        self.writer = writer
        self.period_s = period_s
        self.stall_s = stall_s
        self.covering = threading.Event()
        self.covering.set()
        self._last_frame_s = -math.inf
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ui-heartbeat", daemon=True)
        self._thread.start()

    def frame(self) -> None:
        """Called at the start of every frame by the app."""
        self._last_frame_s = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            if self.covering.is_set() or time.monotonic() - self._last_frame_s < self.stall_s:
                self.writer.heartbeat()

    @contextlib.contextmanager
    def cover(self):
        """Beat from the thread while the main thread does one slow thing (a screenshot)."""
        was_covering = self.covering.is_set()
        self.covering.set()
        try:
            yield
        finally:
            if not was_covering:
                self.covering.clear()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


WARM_UP_FRAMES = 5


STEADY_FRAMES = 3  # the belt starts after this many frames in a row ...
STEADY_FRAME_MS = 50.0  # ... each shorter than this (half the core's 100 ms UI heartbeat timeout)
WARM_UP_MAX_S = 4.0  # ... or after this long: a slow machine still walks


def warm_up(app, frames: int = WARM_UP_FRAMES, max_s: float = WARM_UP_MAX_S) -> None:
    """Draw frames before the belt moves (the heartbeat thread covering): the first frames
    upload geometry and compile shaders and can take far longer than the 100 ms the core allows
    between UI heartbeats once walking. At least `frames`, then until STEADY_FRAMES in a row
    took under STEADY_FRAME_MS, at most `max_s`."""
    started_s = time.monotonic()
    drawn = 0
    while True:
        app.step()
        drawn += 1
        recent = app.stats.frame_ms[-STEADY_FRAMES:]
        steady = len(recent) == STEADY_FRAMES and max(recent) < STEADY_FRAME_MS
        if (drawn >= frames and steady) or time.monotonic() - started_s >= max_s:
            return


def _read_state(channels, out: np.ndarray) -> np.ndarray:
    try:
        channels.state.read(out, timeout_s=0.01)
    except TimeoutError:
        pass
    return out


def wait_core_ready(channels, core, timeout_s: float = CORE_READY_TIMEOUT_S) -> np.ndarray:
    """Wait until the core publishes cycles; raises if it dies or stays silent for `timeout_s`."""
    state = np.zeros((), dtype=layout.STATE_DTYPE)
    started_s = time.monotonic()
    said_slow = False
    while time.monotonic() - started_s < timeout_s:
        _read_state(channels, state)
        if int(state["cycle"]) > 10:
            return state
        if not core.is_alive():
            raise RuntimeError("the control core exited during start-up")
        if not said_slow and time.monotonic() - started_s >= CORE_SLOW_START_S:
            log.warning("the control core is slow to start (a busy PC?): still waiting, up to %.0f s", timeout_s)
            said_slow = True
        time.sleep(0.01)
    raise RuntimeError(f"the control core published no state within {timeout_s:.0f} s")


def run_headless(options: SessionOptions, on_frame=None) -> SessionResult:
    """One unattended session on the virtual rig, offscreen; returns where the report is.

    `on_frame(app, result)` is called after every frame (tests use it to watch the HUD)."""
    from devices.sim.rig import start_rig
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter
    from engine.control.config import CoreConfig
    from engine.control.process import start_core
    from engine.records.dbcheck import check_records_file
    from engine.records.paths import default_db_path
    from engine.records.recorder import start_recorder
    from engine.records.report_child import write_session_report_in_child
    from engine.records.store import DEMO_PATIENTS, Store, ensure_demo_patient
    from engine.scene.loader import find_scene
    from engine.session.patients import ensure_demo_patients

    result = SessionResult()
    if not options.patient:
        raise ValueError("a headless session needs a patient code")
    db_path = Path(options.db) if options.db else default_db_path()
    check_records_file(db_path)  # never let SQLite touch a file that is not a database
    db_path.parent.mkdir(parents=True, exist_ok=True)
    scene = find_scene(options.scene, options.scenes_dir) if options.scenes_dir else find_scene(options.scene)
    store = Store(db_path)
    interrupted = store.close_interrupted_sessions()
    if interrupted:
        log.warning("closed %d session(s) left open by a crash: %s", len(interrupted), interrupted)
    ensure_demo_patients(store)
    if options.patient in DEMO_PATIENTS:
        ensure_demo_patient(store, options.patient)
    patient = store.get_patient(options.patient)
    if patient is None:
        raise SystemExit(f"run: unknown patient {options.patient!r} (create it in the menu, or use a demo-* patient)")
    profile = patient.get("sim_profile") or "healthy"

    rig = channels = core = recorder = heartbeat = app = recorders = None
    controller = None
    stop_requested = {"signal": None}
    previous_handlers = {}

    def on_signal(signum, frame):  # finish the frame, then a controlled stop and a clean end
        stop_requested["signal"] = signum

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous_handlers[signum] = signal.signal(signum, on_signal)
        except ValueError:  # not the main thread (tests may run us in one)
            pass
    try:
        rig = None if options.ports else start_rig(profile=profile, seed=options.seed)
        if rig is not None:
            rig.show_scene(scene)  # the simulated patient sees the scene (devices/sim/scene_view.py)
        channels = Channels.create()
        writer = CommandWriter(channels.command)
        controller = SessionController(writer, store, who="headless-runner")
        controller.simulated = rig is not None
        controller.vr = options.use_headset
        heartbeat = HeartbeatThread(writer)
        rx = controller.select_patient(options.patient)
        choice = scene_choice(scene)
        controller.select_scene(choice)
        goals = scene.goals
        controller.set_goals(steps=int(goals.steps), distance_m=float(goals.distance_m),
                             time_s=float(goals.time_s) or float(options.duration_s))
        hints = scene.assistance
        settings = {"speed_fraction": float(scene.base_speed_fraction)}
        if hints.guidance is not None:
            settings["guidance"] = float(hints.guidance)
        if hints.bws_fraction is not None:
            settings["bws_fraction"] = float(hints.bws_fraction)
        controller.change_settings(**settings)
        controller.set_pace(options.pace)
        core = start_core(CoreConfig(ports=rig.ports if rig is not None else dict(options.ports),
                                     sim_rig_pid=rig.pid if rig is not None else 0), channels.paths())
        wait_core_ready(channels, core)
        session_id = controller.open_session()
        result.session_id = session_id
        recorder = start_recorder(db_path, channels.paths(), session_id)

        app = _make_app(options, channels, controller, scene, rx)
        app.heartbeat_cover = heartbeat.cover
        app.frame_alive = heartbeat.frame
        recorders = RecorderKeeper(recorder, db_path, channels, session_id)
        app.recorder_watch = recorders.watch
        shots = Path(options.screenshots) if options.screenshots else None
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
        warm_up(app)
        log.info("Start: the view drew %d warm-up frames, the last %s ms", app.frames,
                 ", ".join(f"{ms:.0f}" for ms in app.stats.frame_ms[-STEADY_FRAMES:]))
        freeze_collector()  # the belt stands: a full collection now, none of these objects later
        heartbeat.covering.clear()  # the frame loop beats from here on
        controller.start()
        controller.write_in_background(True)  # the walk's records: the frame loop never waits on SQLite
        started_s = time.monotonic()
        outcome = _walk(app, controller, options, started_s, shots, result, stop_requested, on_frame, recorders,
                        core.is_alive)
        recorders.finish()
        recorder = recorders.handle
        heartbeat.covering.set()
        result.outcome = outcome
    except BaseException as exc:
        log.error("session failed: %s", exc, exc_info=not isinstance(exc, KeyboardInterrupt))
        result.outcome = "interrupted"
        result.end_reason = f"the session failed: {exc!r}" if not isinstance(exc, KeyboardInterrupt) else "Ctrl-C"
        if controller is not None:
            try:
                controller.stop(who="system")
            except Exception:
                pass
        if not isinstance(exc, Exception):
            raise
    finally:
        if heartbeat is not None:
            heartbeat.covering.set()
        thaw_collector()
        if controller is not None:
            controller.write_in_background(False)  # what the walk queued, before the session is closed
        result.summary = _summary(channels, app, controller) if channels is not None else {}
        result.end_reason = result.end_reason or result.outcome
        result.summary["end_reason"] = result.end_reason
        if app is not None:
            try:
                result.frame_stats = app.release()
            except Exception:
                log.exception("closing the app")
        # The core first: its controlled stop (after an exception or a signal the belt may
        # still be moving) is recorded, and the heartbeat thread covers it until the end.
        if core is not None:
            try:
                core.stop()
            except Exception:
                log.exception("stopping the control core")
                core.kill()
        if recorders is not None:
            recorders.finish()
            recorder = recorders.handle
        if recorder is not None:
            try:
                result.recorder_stats = recorder.stop() or {}
            except Exception:
                log.exception("stopping the recorder")
        if heartbeat is not None:
            heartbeat.stop()
        if rig is not None:
            try:
                rig.stop()
            except Exception:
                log.exception("stopping the virtual rig")
        if channels is not None:
            channels.close()
        if controller is not None and controller.session_id is not None:
            try:
                if result.frame_stats:
                    store.add_frame_timing(controller.session_id, result.frame_stats)
                store.add_event(controller.session_id, "session_end", float(result.summary.get("scene_time_s") or 0.0),
                                outcome=result.outcome, reason=result.end_reason)
                controller.end(result.outcome, result.summary)
                result.audit = store.audit_log(controller.session_id)
            except Exception:
                log.exception("closing the session record")
        store.close()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    if result.session_id is not None:
        try:
            result.report_path = write_session_report_in_child(db_path, result.session_id)
        except Exception:
            log.exception("writing the session report")
    result.exit_code = 0 if result.outcome in ("completed", "stopped") and result.report_path else 1
    if result.outcome == "stopped" and stop_requested["signal"] is None:
        result.exit_code = 1  # stopped by a fault (alarm), not by the schedule
    return result


def _make_app(options: SessionOptions, channels, controller, scene, rx):
    from engine.render.app import AppConfig, StepSyncApp, eye_height_from_legs_m
    from engine.render.panda_config import configure_panda
    from engine.scene.tasks import TaskTracker

    configure_panda(headless=options.headless, renderer=options.renderer, size=options.size)
    config = AppConfig(
        headless=options.headless, use_headset=options.use_headset, menu=False, hud=True,
        frame_rate_hz=options.frame_rate_hz, vr_module=options.vr_module,
        eye_height_m=eye_height_from_legs_m(0.5 * (rx.leg_length_l_m + rx.leg_length_r_m)),
        background_rgba=_sky(scene),
    )
    return StepSyncApp(config, channels, controller, scene=scene, world_factory=_world_factory(scene),
                       task_tracker=TaskTracker(scene))


def _sky(scene) -> tuple[float, float, float, float]:
    if getattr(scene.environment, "type", "") == "sidewalk":
        return {"night": (0.05, 0.06, 0.12, 1), "evening": (0.85, 0.55, 0.4, 1)}.get(
            getattr(scene.environment, "time_of_day", "noon"), (0.55, 0.72, 0.92, 1))
    return (0.82, 0.82, 0.8, 1)


def _world_factory(scene):
    """Build the scene's world with the scenes package (engine.render.world)."""
    def factory(app):
        from engine.render.world import build_world

        return build_world(scene, app.render, app.loader)

    return factory


class RecorderKeeper:
    """The session's recorder process and its watch: when it dies (a persistent database failure,
    a crash) the UI raises RECORDER_FAILED at once and, every RETRY_S, starts a new one, which
    takes what the rings still hold (30 s) from where the old one stopped.

    The new recorder is started by a thread, never by the frame loop: starting a Python process
    took 3.4 s beside a CPU hog (the old one's stop 0.5 s, the new one's start-up 2.9 s), and a
    frame loop held that long leaves the patient's view stale: the core stopped the session with
    UI_VIEW_STALE (test_app_faults, recorder killed under a hog, 1 run of 3)."""

    RETRY_S = 3.0

    def __init__(self, handle, db_path, channels, session_id) -> None:
        from engine.render.alarms import RecorderWatch

        self.handle = handle
        self.db_path = db_path
        self.channels = channels
        self.session_id = session_id
        self.watch = RecorderWatch(handle.is_alive, handle.process.poll)
        self.failures = 0
        self._retry_at_s = math.inf
        self._replacing: threading.Thread | None = None

    def poll(self, controller, now_s: float) -> None:
        """Called every frame after the app updated the watch (returns at once)."""
        if self._replacing is not None and not self._replacing.is_alive():
            self._replacing = None
        if self._replacing is not None:
            return  # a new recorder is being started
        if self.watch.failed and self._retry_at_s == math.inf:
            # The app's alarm thread raised and recorded RECORDER_FAILED when it found the
            # recorder dead (engine/render/alarm_watch.py); here the restart is scheduled.
            self.failures += 1
            log.warning("the recorder exited (code %s); the session goes on, a new recorder in %.0f s",
                        self.handle.process.poll(), self.RETRY_S)
            self._retry_at_s = now_s + self.RETRY_S
        if self.watch.failed and now_s >= self._retry_at_s:
            self._replacing = threading.Thread(target=self._replace, name="recorder-restart", daemon=True)
            self._replacing.start()

    def _replace(self) -> None:
        """On the restart thread: the dead recorder's end, then a new one on the same rings."""
        from engine.records.recorder import start_recorder

        try:
            self.handle.stop(timeout_s=0.5)
            handle = start_recorder(self.db_path, self.channels.paths(), self.session_id)
            self.handle = handle
            self.watch.watch(handle.is_alive, handle.process.poll)
            self._retry_at_s = math.inf
            log.warning("a new recorder took over (pid %d)", handle.pid)
        except Exception as exc:
            log.error("restarting the recorder failed: %s", exc)
            self._retry_at_s = time.monotonic() + self.RETRY_S

    def finish(self, timeout_s: float = 60.0) -> None:
        """Wait for a restart in progress (at the session's end, before `handle` is stopped)."""
        replacing = self._replacing
        if replacing is not None:
            replacing.join(timeout_s)
            if replacing.is_alive():
                log.error("the recorder restart still runs after %.0f s", timeout_s)


def _walk(app, controller, options, started_s, shots, result, stop_requested, on_frame, recorders=None,
          core_alive=None) -> str:
    """Frames until the duration is walked, the route ends, or the core stops on its own (or
    is lost for CORE_GONE_S, or exits: then the devices have stopped on their watchdogs and
    nothing waits for it). core_alive: whether the core's process still exists."""
    state = app.state
    core_lost_s = None  # when this frame loop first saw the core lost
    next_shot_s = 3.0
    stopping = False
    stop_reason = "completed"
    shot_index = 0
    seen_events = 0
    route_m = controller.scene.route_length_m if controller.scene else math.inf
    progress = WalkLog(started_s)
    while True:
        app.step()
        if on_frame is not None:
            on_frame(app, result)
        now_s = time.monotonic()
        elapsed_s = now_s - started_s
        progress.frame(state, now_s, app.stats.frame_ms[-1] if app.stats.frame_ms else math.nan)
        if recorders is not None:
            recorders.poll(controller, now_s)
        if app.core_watch.lost:
            # The app's alarm thread raised, logged and recorded CORE_LOST when it happened (the
            # therapist sees it then). The walk ends once the core has exited or stayed lost for
            # CORE_GONE_S: a core the machine froze for 100 ms (a virtual machine's host taking its
            # CPU) comes back, and then it decides, with the devices' watchdog flags in hand.
            if core_lost_s is None:
                core_lost_s = now_s
                log.warning("the control core stopped publishing; devices stop on their watchdogs")
            if now_s - core_lost_s >= CORE_GONE_S or (core_alive is not None and not core_alive()):
                log.error("the control core stopped publishing (%.0f ms); devices stop on their watchdogs",
                          (now_s - core_lost_s) * 1e3)
                stop_reason = "stopped"
                result.end_reason = "the control core stopped responding; the devices stopped on their watchdogs"
                break
        elif core_lost_s is not None:
            log.warning("the control core publishes again after %.0f ms", (now_s - core_lost_s) * 1e3)
            core_lost_s = None
        run_state = int(state["run_state"])
        new_events = app.hud_model.events[seen_events:]
        if new_events:
            _log_hud_feedback(controller, app, new_events)
        if shots is not None and (elapsed_s >= next_shot_s or new_events):
            suffix = "-feedback" if new_events else ""
            path = shots / f"patient-{shot_index:03d}-{elapsed_s:05.1f}s{suffix}.png"
            if app.save_view(path):
                result.screenshots.append(str(path))
            shot_index += 1
            next_shot_s = elapsed_s + 15.0
        seen_events += len(new_events)
        if not stopping:
            if stop_requested["signal"] is not None:
                stop_reason = "interrupted"
                result.end_reason = f"interrupted by signal {signal.Signals(stop_requested['signal']).name}"
                controller.stop(who="signal")
                stopping = True
            elif elapsed_s >= options.duration_s or float(state["s_m"]) >= route_m - 0.05:
                stop_reason = "completed"
                result.end_reason = (f"the planned {options.duration_s:g} s were walked" if elapsed_s >= options.duration_s
                                     else f"the end of the route ({route_m:g} m) was reached")
                controller.stop(who="schedule")
                stopping = True
            elif elapsed_s > 2.0 and run_state in (layout.RunState.STOPPING, layout.RunState.STOPPED, layout.RunState.IDLE):
                # The core stopped without being asked: a fault or an alarm stop.
                stop_reason = "stopped"
                result.end_reason = f"stopped by the control core: {_alarm_text(state)}"
                log.warning("the control core stopped the session: %s", _alarm_text(state))
                stopping = True
            if stopping:
                stop_began_s = time.monotonic()
        else:
            belt_still = abs(float(state["belt_speed_mps"])) < 0.01
            if (run_state in (layout.RunState.IDLE, layout.RunState.STOPPED) and belt_still) or \
                    time.monotonic() - stop_began_s > STOP_TIMEOUT_S:
                break
    app.finished = True
    app.audio.play("summary")
    for _ in range(3):
        app.step()
    if shots is not None and app.save_view(shots / "patient-summary.png"):
        result.screenshots.append(str(shots / "patient-summary.png"))
    result.hud_events = list(app.hud_model.events)
    return stop_reason


class WalkLog:
    """What the log says about a walk, so that a session that does not walk says why: when the
    belt first moves, every alarm of the core's as it is raised (a late view's LOW alarm is the one
    that slows the belt), and a belt still standing WALK_WAIT_S after Start (the core refused the
    start: its run state and alarms). A few comparisons a frame."""

    WALK_WAIT_S = 5.0
    MOVING_MPS = 0.05

    def __init__(self, started_s: float) -> None:
        self.started_s = started_s
        self.moving = False
        self.said_standing = False
        self.seen: set[tuple[int, float]] = set()

    def frame(self, state, now_s: float, frame_ms: float) -> None:
        for alarm in active_alarms(state, include_acked=True):
            key = (alarm.reason, alarm.t_s)
            if key not in self.seen:
                self.seen.add(key)
                level = logging.INFO if alarm.priority <= int(layout.Priority.LOW) else logging.WARNING
                log.log(level, "core alarm %s (priority %d): %s; belt %.2f m/s (command %.2f), last frame %.0f ms",
                        _name(layout.AlarmReason, alarm.reason), alarm.priority, alarm.text, float(state["belt_speed_mps"]), float(state["belt_speed_cmd_mps"]), frame_ms)
        speed_mps = float(state["belt_speed_mps"])
        if not self.moving and speed_mps > self.MOVING_MPS:
            self.moving = True
            log.info("walking: the belt moves (%.2f m/s) %.1f s after Start", speed_mps, now_s - self.started_s)
        elif not self.moving and not self.said_standing and now_s - self.started_s > self.WALK_WAIT_S:
            self.said_standing = True
            alarms = "; ".join(a.text for a in active_alarms(state, include_acked=True)) or "no alarm"
            log.warning("the belt still stands %.0f s after Start: core run state %s, alarms: %s",
                        now_s - self.started_s, _name(layout.RunState, int(state["run_state"])), alarms)


def _name(kind, value: int) -> str:
    """An enum member's name, or the number where it is none (a newer core)."""
    try:
        return kind(value).name
    except ValueError:
        return str(value)


def _log_hud_feedback(controller, app, events) -> None:
    """What the patient was shown, into the session's events (the report can line it up with
    the core's obstacle outcomes)."""
    for index, outcome in events:
        try:
            controller.record_event("hud_feedback", float(app.state["t_s"]), obstacle=int(index), outcome=outcome,
                                    text=app.hud_content.feedback)
        except Exception:
            log.exception("recording HUD feedback")


def _alarm_text(state) -> str:
    alarms = active_alarms(state, include_acked=True)
    return "; ".join(a.text for a in alarms) or "no alarm"


def _summary(channels, app, controller) -> dict:
    """The session summary stored with the session (from the last state snapshot)."""
    state = app.state if app is not None else _read_state(channels, np.zeros((), dtype=layout.STATE_DTYPE))

    def finite(value):
        value = float(value)
        return value if math.isfinite(value) else None

    summary = {
        "steps": int(state["steps"]),
        "distance_m": finite(state["distance_m"]),
        "scene_time_s": finite(state["scene_time_s"]),
        "gait_speed_mps": finite(state["gait_speed_mps"]),
        "cadence_spm": finite(state["cadence_spm"]),
        "symmetry_index_pct": finite(state["symmetry_index_pct"]),
        "obstacles_cleared": int(state["obstacles_cleared"]),
        "obstacles_hit": int(state["obstacles_hit"]),
        "goal_reached": int(state["goal_reached"]),
        "alarms": [a.text for a in active_alarms(state, include_acked=True)],
        "outcomes": count_outcomes(state["obstacles"]["outcome"]).as_dict(),  # the HUD's and report's count
    }
    if app is not None:  # the UI's own alarms (core lost, recorder failed) too
        summary["alarms"] = [a.text for a in app.ui_alarms()] + summary["alarms"]
    if app is not None:
        summary["score"] = app.hud_model.score(state, app.task_view)
        summary["hud_summary"] = app.hud_model.summary(state, app.task_view)
        if app.task_tracker is not None:
            try:
                summary["tasks"] = app.task_tracker.update(float(state["s_m"]), float(state["scene_time_s"]),
                                                           state["obstacles"]).results()  # counts + per item/crossing
            except Exception:
                log.exception("task summary")
    return summary
