"""The ShowBase application: wires per-frame tasks together and stays thin.

Task order each frame (lower sort runs first):
  -1000 openvr poses (VR only: waitGetPoses paces the frame)
    -60 read state   heartbeat to the core, then a non-blocking seqlock read of the state block
    -55 world        (headset only here; see 61) scenery chunks, obstacles, ambient life
    -30 hud          (headset only here; see 62) goal progress, next obstacle, feedback, tasks
    -20 therapist    alarm banner, live panel, menu
     45 camera       a fresh state sample; s extrapolated to this frame's display time ->
                     patient node (the last thing before drawing); without a headset the main
                     thread runs SCHED_FIFO 1 from here to the flip (HOLD_RT_PRIORITY)
     50 igLoop       Panda3D draws (without a headset: not flipped yet)
     51 complete     the frame is drawn
     60 frame done   without a headset: hold the frame until its presentation time, flip it
                     (camera_sync.PresentClock; headless, timed_flip's native thread flips it
                     then, the GIL released meanwhile); measure the draw time and the
                     visual-versus-belt error of this frame; the frame counter to the core
                     (its age is graded: supervisor.ViewPolicy)
  61/62 world, hud   without a headset: for the next frame, after this one is shown

A thread (liveness.MainLoopWatch) beats the core's liveness heartbeat while the main loop is
alive; each task names its stage so the thread can tell a slow frame from a hung loop.
Another (alarm_watch.UiAlarmWatch) raises the UI's own alarms (core lost, recorder failed) as
soon as they happen, records them and wakes the frame loop, which draws them.

The app never waits on the control core: a stale or unreadable state block just leaves the last
snapshot in place (and raises the CORE_LOST alarm after half a second).
"""

from __future__ import annotations

import array
import collections
import contextlib
import ctypes
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from direct.showbase.ShowBase import ShowBase
from panda3d.core import Filename, GraphicsWindow

from engine.control import layout
from engine.render.alarms import AlarmBanner, CoreWatch, active_alarms
from engine.render.camera_sync import (
    MAX_HORIZON_S,
    DisplayClock,
    PresentClock,
    belt_at_s,
    extrapolate_s,
)
from engine.render.hud import HudModel, PatientHud, TaskView

log = logging.getLogger(__name__)

DEFAULT_EYE_HEIGHT_M = 1.6
# The UI's CPU priority: above background work (nice 0), below the rig (SCHED_FIFO 50) and the
# core (SCHED_FIFO 80), and below the recorder's drain (SCHED_FIFO 5). Set where the process may.
# (Where real-time is refused the simulated rig falls back to nice -5, below this.)
# -10, not -3: at -3 a loaded machine (2 CPUs, load 10) woke the frame's hold 2.5 ms late at p50,
# 13 ms at p99, and delayed draws past their presentation time (docs/control.md, "Where the view
# is drawn"); -10 is still a normal-priority process, below every real-time one.
UI_NICE = -10
# While a frame is held for its presentation time and flipped (a few milliseconds per frame), the
# main thread runs at SCHED_FIFO 1, where allowed: still below every other real-time thread (the
# UI's own watch threads at 10, the recorder's drain at 5, rig 50, core 80), above all background
# work. At nice -10 alone the hold woke for want of a CPU up to 42 ms late (p99, load 9), and the
# frame showed the belt where it had been drawn for that long before (docs/benchmarks.md).
# The draw runs there too: the main thread is at SCHED_FIFO 1 from placing the camera to the
# flip (on a software renderer 5-25 ms of CPU a frame, ~25 % of one CPU at 30 frames/s). The
# camera-to-complete time is the presentation budget, i.e. how far ahead the camera is
# extrapolated, and at nice -10 under load it was mostly waiting for a CPU (p50 44-348 ms, p99
# 128 ms+); dropped between the draw and the hold, the thread was preempted there and the frame
# flipped up to 15 ms late (load 6-8). The scenery and HUD updates for the next frame, and the
# pacing sleep, stay at the normal policy.
HOLD_RT_PRIORITY = 1
HOLD_GUARD_MAX_S = 0.02  # the longest a hold keeps the GIL (see StepSyncApp._hold_until)
_LIBC_KEEPING_GIL = ctypes.PyDLL(None)  # PyDLL: its calls (usleep) do not release the GIL
# Fault-campaign hooks (tests/faults): a renderer this much slower per frame (a sleep inside the
# draw stage), or a main loop that hangs for good after this many frames while walking.
FAULT_DRAW_DELAY_ENV = "STEPSYNC_FAULT_DRAW_DELAY_S"
FAULT_HANG_ENV = "STEPSYNC_FAULT_HANG_AFTER_FRAMES"


def favour_ui_process() -> int:
    """Raise every thread of this process to UI_NICE where allowed (never lowers one); returns
    the calling thread's nice value.

    On Linux a nice value belongs to a thread: setting it for "the process" sets only the caller,
    and threads started before (the session runner's heartbeat thread, Panda3D's) kept nice 0
    (vb: `ps -L` of a bench session's UI showed two). One of them preempted while it held the
    GIL kept the frame's hold waiting behind ordinary programs. Threads started later inherit
    the value of the thread that starts them."""
    try:
        tids = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) > UI_NICE:
                os.setpriority(os.PRIO_PROCESS, tid, UI_NICE)
        except (PermissionError, OSError):
            continue  # not allowed (a normal user), or the thread ended meanwhile
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except OSError:
        return 0


def eye_height_from_legs_m(leg_length_m: float) -> float:
    """Standing eye height from leg length (anthropometric ratios: leg ~0.53 of stature, eyes
    ~0.936 of stature); used when there is no headset to measure the head."""
    if not math.isfinite(leg_length_m) or leg_length_m <= 0:
        return DEFAULT_EYE_HEIGHT_M
    return round(leg_length_m / 0.53 * 0.936, 3)


def s_time_s(state: np.ndarray) -> float:
    """The core time s_m refers to: when the treadmill measured it if the core says so, else
    the cycle time (s then updates in steps at the treadmill's status rate)."""
    measured = float(state["s_measured_t_s"]) if "s_measured_t_s" in state.dtype.names else 0.0
    return measured if measured > 0.0 else float(state["t_s"])


@dataclass
class AppConfig:
    headless: bool = True
    use_headset: bool = False
    menu: bool = False  # the therapist menu (desktop window)
    hud: bool = True
    frame_rate_hz: float = 30.0  # pacing without a headset (headless: modest, the machine is shared)
    eye_height_m: float = DEFAULT_EYE_HEIGHT_M
    display_latency_s: float = 0.0  # scan-out after the buffer is complete (window: ~1 frame)
    vr_module: object = None  # an openvr double in tests
    background_rgba: tuple[float, float, float, float] = (0.55, 0.7, 0.9, 1.0)
    record_frames: bool = False  # keep (done, drawn s, predicted display) per frame (benchmark)
    fault_draw_delay_s: float = float(os.environ.get(FAULT_DRAW_DELAY_ENV, "0") or 0)
    fault_hang_after_frames: int = int(os.environ.get(FAULT_HANG_ENV, "0") or 0)


def _series() -> array.array:
    """A per-frame series: 4-byte floats in one buffer (a Python list of floats took ~32 bytes a
    value; a dozen of them, kept for a whole session, grew the UI by ~0.9 MB a minute at 28
    frames/s. Not the soak's whole growth under a hog, which is still open: docs/control.md)."""
    return array.array("f")


@dataclass
class FrameStats:
    """Per-frame measurements kept for the session record and the benchmark (the series in
    `_series` buffers; `frames` only when AppConfig.record_frames asks)."""

    frame_ms: array.array = field(default_factory=_series)
    draw_ms: array.array = field(default_factory=_series)  # frame start to complete (before a hold)
    hold_ms: array.array = field(default_factory=_series)  # complete to presented (paced frames)
    render_ms: array.array = field(default_factory=_series)  # camera placed to complete (the budget's input)
    wake_late_ms: array.array = field(default_factory=_series)  # held frames: flipped this long after their time
    late_presentations: int = 0  # paced frames complete after their presentation time
    belt_error_mm: array.array = field(default_factory=_series)  # drawn s - belt s at display time
    # (belt speed m/s, error mm, error mm had s been drawn as read without extrapolation), three
    # values a moving frame, one after the other
    belt_samples: array.array = field(default_factory=_series)
    late_state_frames: int = 0  # frames where the state block could not be read
    # Where the error comes from (moving frames): presented this long after the time the frame
    # was drawn for (> 0 = late: the hold woke late, or the frame was complete after its time),
    # the error's share from that timing (-v * lateness) and the rest (extrapolation: a speed
    # change over the horizon, the sample's time), and the truth sample's age at presentation.
    present_late_ms: array.array = field(default_factory=_series)
    timing_error_mm: array.array = field(default_factory=_series)
    model_error_mm: array.array = field(default_factory=_series)
    truth_age_ms: array.array = field(default_factory=_series)
    hold_runq_ms: array.array = field(default_factory=_series)  # held frames: waiting for a CPU in the hold
    frames: list[tuple[float, float, float]] = field(default_factory=list)  # see AppConfig.record_frames

    def summary(self) -> dict:
        """Percentiles as a JSON-able dict."""

        def pct(values, q):
            return float(np.percentile(values, q)) if values else None

        moving = [abs(e) for e in self.belt_error_mm]
        return {
            "source": "window",
            "frames": len(self.frame_ms),
            "frame_ms_mean": float(np.mean(self.frame_ms)) if self.frame_ms else None,
            "frame_ms_p50": pct(self.frame_ms, 50),
            "frame_ms_p99": pct(self.frame_ms, 99),
            "draw_ms_p50": pct(self.draw_ms, 50),
            "draw_ms_p99": pct(self.draw_ms, 99),
            "render_ms_p50": pct(self.render_ms, 50),
            "render_ms_p90": pct(self.render_ms, 90),
            "render_ms_p99": pct(self.render_ms, 99),
            "hold_ms_p50": pct(self.hold_ms, 50),
            "late_presentations": self.late_presentations,
            "visual_belt_error_mm_p50": pct(moving, 50),
            "visual_belt_error_mm_p99": pct(moving, 99),
            "visual_belt_error_mm_max": max(moving) if moving else None,
            # signed: < 0 = drawn behind the belt (shown later than it was drawn for)
            "visual_belt_error_mm_mean": float(np.mean(self.belt_error_mm)) if self.belt_error_mm else None,
            "wake_late_ms_p50": pct(self.wake_late_ms, 50),
            "wake_late_ms_p99": pct(self.wake_late_ms, 99),
            "state_read_failures": self.late_state_frames,
            "present_late_ms_p50": pct(self.present_late_ms, 50),
            "present_late_ms_p99": pct(self.present_late_ms, 99),
            "timing_error_mm_p99": pct([abs(e) for e in self.timing_error_mm], 99),
            "model_error_mm_p99": pct([abs(e) for e in self.model_error_mm], 99),
            "truth_age_ms_p99": pct(self.truth_age_ms, 99),
            "hold_runq_ms_p99": pct(self.hold_runq_ms, 99),
        }


class StepSyncApp(ShowBase):
    """The patient view (and, with a display, the therapist's desktop)."""

    def __init__(self, config: AppConfig, channels, controller, scene=None, world_factory=None,
                 task_tracker=None, names: list[str] | None = None) -> None:
        super().__init__()
        from engine.render.liveness import MainLoopWatch

        self.app_config = config
        self.nice = favour_ui_process()
        # The two beats the core watches: liveness from this thread, the frame counter per frame.
        self.liveness = MainLoopWatch(controller.writer)
        controller.writer.set_ui_pid(os.getpid())
        self._walking_frames = 0
        self.channels = channels
        self.controller = controller
        self.scene = scene
        self.state = np.zeros((), dtype=layout.STATE_DTYPE)
        self._probe = np.zeros((), dtype=layout.STATE_DTYPE)
        self._camera_state = np.zeros((), dtype=layout.STATE_DTYPE)
        self.camera_state = self.state
        self.state_valid = False
        self.finished = False
        self.heartbeat_cover = contextlib.nullcontext  # set by the runner to its heartbeat thread's cover
        self.frame_alive = lambda: None  # and this to its frame(): the watchdog thread sees frames
        self.stats = FrameStats()
        self.display_clock = DisplayClock(display_latency_s=config.display_latency_s)
        self.present_clock = PresentClock(display_latency_s=config.display_latency_s)
        self.present_s = math.nan  # when the frame being built is flipped (paced frames)
        self._guard_s = 0.002  # the hold takes the GIL back this early (see _hold_until)
        self._hold_runq_s: float | None = None
        self._hold_rt = False  # the main thread is at HOLD_RT_PRIORITY now (a draw or a hold in progress)
        self._hold_rt_refused = False
        self._overshoots: collections.deque = collections.deque()
        self.core_watch = CoreWatch()
        self.recorder_watch = None  # a RecorderWatch, set by whoever starts the recorder
        # Set by the alarm thread when it raises an alarm: a pacing sleep or a frame's hold ends
        # at once, so the banner is drawn by the next frame without waiting for its slot.
        self._alarm_wake = threading.Event()
        from engine.render.alarm_watch import UiAlarmWatch

        self.alarm_watch = UiAlarmWatch(channels.state, self.core_watch, lambda: self.recorder_watch,
                                        self._on_ui_alarm)
        self.drawn_s_m = 0.0
        self.camera_core_lost = False  # whether the camera of the last frame saw the core lost
        self.alarm_flip = False  # the last frame was flipped at once (not held) for a UI alarm
        self.read_s_m = 0.0
        self.drawn_scene_time_s = 0.0
        self.predicted_display_s = math.nan
        self.frames = 0
        self._frame_start_s = math.nan
        self._camera_at_s = math.nan
        self._last_frame_done_s = math.nan
        self.set_background_color(*config.background_rgba)
        self.disable_mouse()

        # The patient: a node that moves along the route; the camera (or the headset's tracking
        # space) rides on it at eye height.
        self.patient = self.render.attach_new_node("patient")
        self.vr_backend = None
        if config.use_headset:
            from engine.render.vr.openvr_backend import OpenVRBackend

            self.vr_backend = OpenVRBackend(self, self.patient, vr_module=config.vr_module,
                                            background_rgba=config.background_rgba)
            self.vr_backend.start()
            # OpenVR poses are relative to the floor of the tracking space: no eye height to add.
        self.camera.reparent_to(self.patient)
        self.camera.set_pos(0.0, 0.0, config.eye_height_m)
        if self.vr_backend is None:
            self.camera.set_p(-6.0)  # a screen is not a headset: tilt down a little to see the floor
        self.camLens.set_near_far(0.05, 500.0)
        self.camLens.set_fov(90.0 if self.win.get_x_size() > self.win.get_y_size() else 70.0)
        # On a software renderer the view distance follows the measured frame time (frame_budget).
        from engine.render.frame_budget import DetailGovernor, is_software_renderer

        gsg = self.win.get_gsg()
        renderer = f"{self.pipe.get_type().get_name()} {gsg.get_driver_renderer() if gsg else ''}"
        budget_ms = 800.0 / config.frame_rate_hz if config.frame_rate_hz > 0 else 30.0
        from engine.render.world import VIEW_AHEAD_M

        # It starts at the world's view distance (60 m, not the 500 m far plane) and shortens the
        # world's view with its fog (World.set_view_distance_m), not only the far plane.
        self.detail = DetailGovernor(budget_ms, enabled=self.vr_backend is None and is_software_renderer(renderer),
                                     max_m=VIEW_AHEAD_M)

        self.world = None
        self.task_tracker = None
        self.load_scene(world_factory, task_tracker, names)
        self.hud = None
        if config.hud:
            hud_parent = self.aspect2d
            if self.vr_backend is not None:
                # In the headset the HUD floats 1.5 m ahead, always drawn on top.
                hud_parent = self.vr_backend.hmd_anchor.attach_new_node("vr-hud")
                hud_parent.set_pos(0, 1.5, -0.1)
                hud_parent.set_scale(0.45)
                hud_parent.set_depth_test(False)
                hud_parent.set_depth_write(False)
                hud_parent.set_bin("fixed", 100)
            self.hud = PatientHud(hud_parent)
        from engine.render.audio import AudioCues

        self.audio = AudioCues(self.loader)
        self._heard = 0
        self._last_cue = ""
        self.banner = None
        self.live_panel = None
        self.menu = None
        if config.menu or self.vr_backend is not None:
            self.banner = AlarmBanner(self.aspect2d, self._ack_alarms)
        if not config.headless:
            self.accept("space", self.software_stop)  # the menu rebinds it to the same action
            self.accept("escape", self.software_stop)

        # Pacing: without a headset the app sleeps to absolute frame deadlines at the START of a
        # frame, before reading the state block (Panda3D's own limiter sleeps after drawing, which
        # would put a sleep between the drawn position and the moment the frame is shown).
        self._period_s = 1.0 / config.frame_rate_hz if self.vr_backend is None and config.frame_rate_hz > 0 else 0.0
        self._next_frame_s = time.monotonic()
        # Without a headset the app flips each frame itself, at its presentation time (camera_sync.
        # PresentClock); a headset's compositor presents at its own vsync.
        self._hold_frames = self.vr_backend is None
        if self._hold_frames:
            self.graphicsEngine.set_auto_flip(False)
        # Headless on the software renderer (an offscreen tinydisplay buffer: no GL context, no X
        # connection to own): flipped by a native thread at the presentation time.
        self.timed_flip = None
        if self._hold_frames and not isinstance(self.win, GraphicsWindow) and renderer.startswith("Tiny"):
            from engine.render.timed_flip import TimedFlip

            self.timed_flip = TimedFlip.load(self.graphicsEngine)
        self._complete_s = math.nan
        self.task_mgr.add(self._read_state_task, "stepsync-read-state", sort=-60)
        self.task_mgr.add(self._camera_task, "stepsync-camera", sort=45)
        self.task_mgr.add(self._complete_task, "stepsync-frame-complete", sort=51)
        # Without a headset the scenery and the HUD update after the frame is shown, for the next
        # one (with a headset they come before the camera). Not during the hold: at the normal
        # policy under load they overran the presentation time, and the frame was flipped late
        # (sidewalk, load 9 with the hog: the belt error's p99 was 4.9 mm, all of it lateness).
        self.task_mgr.add(self._world_task, "stepsync-world", sort=61 if self._hold_frames else -55)
        self.task_mgr.add(self._hud_task, "stepsync-hud", sort=62 if self._hold_frames else -30)
        self.task_mgr.add(self._therapist_task, "stepsync-therapist", sort=-20)
        self.task_mgr.add(self._frame_done_task, "stepsync-frame-done", sort=60)
        from engine.render import mem_probe

        self.mem_probe = mem_probe.install(self)  # off unless STEPSYNC_MEM_PROBE names a log file

    def load_scene(self, world_factory=None, task_tracker=None, names: list[str] | None = None) -> None:
        """(Re)build the world and the HUD for the controller's current scene."""
        if self.world is not None:
            self.world.root.remove_node()
        self.world = world_factory(self) if world_factory is not None else None
        if self.world is not None:
            self.world.root.reparent_to(self.render)
            background = getattr(self.world, "background_rgb", None)
            if background is not None and self.vr_backend is None:
                self.set_background_color(*background, 1.0)
            self._world_view_distance()  # a reloaded scene keeps the view the renderer can afford
        self.task_tracker = task_tracker
        timeline = getattr(self.controller.scene, "timeline", None) if self.controller.scene else None
        if timeline is None:
            timeline = np.zeros(0, dtype=layout.TIMELINE_DTYPE)
        self.hud_model = HudModel(timeline, names or getattr(self.controller.scene, "names", None))
        self.refresh_goals()
        self.task_view = TaskView()
        self.finished = False
        self._heard = 0
        self._collected: set[int] = set()

    def _world_view_distance(self) -> None:
        """The governor's view distance to the world (scenery and fog), where it takes one."""
        detail = getattr(self, "detail", None)
        if detail is not None and detail.enabled and hasattr(self.world, "set_view_distance_m"):
            self.world.set_view_distance_m(detail.view_distance_m)

    def refresh_goals(self) -> None:
        """Show the controller's goals on the HUD."""
        goals = self.controller.goals
        self.hud_model.set_goals(int(goals.get("steps", 0)), float(goals.get("distance_m", 0)), float(goals.get("time_s", 0)))

    # -- tasks ----------------------------------------------------------------------------------
    def _pace(self) -> None:
        """Sleep until this frame's deadline; a late frame starts at once and the schedule
        moves on (never a burst of catch-up frames)."""
        if self._period_s <= 0.0:
            self._alarm_wake.clear()
            return
        now = time.monotonic()
        if self._next_frame_s > now:
            if self._alarm_wake.wait(self._next_frame_s - now):
                self._alarm_wake.clear()  # an alarm of the UI's own: draw it now
            self._next_frame_s += self._period_s
        else:
            self._next_frame_s = now + self._period_s

    def _read_state_task(self, task):
        self.liveness.enter("pace")
        self._pace()
        self.liveness.enter("read")
        self._frame_start_s = time.monotonic()
        self.frame_alive()
        self.controller.writer.heartbeat()
        try:
            self.channels.state.read(self.state, timeout_s=0.002)
            self.state_valid = int(self.state["cycle"]) > 0
        except TimeoutError:
            self.stats.late_state_frames += 1  # keep the last snapshot; never wait on the core
        # (the core watch and the recorder watch are fed by the alarm thread, alarm_watch.py)
        return task.cont

    def _on_ui_alarm(self, alarm, now_s: float, details: dict) -> None:
        """From the alarm thread: an alarm of the UI's own was raised at now_s. Log and record it
        at once, and wake the frame loop to draw it."""
        self._alarm_wake.set()
        reason = layout.AlarmReason(alarm.reason)
        priority = layout.Priority(alarm.priority)
        log.error("ALARM %s (%s): %s", reason.name, priority.name.lower(), alarm.text)
        store = getattr(self.controller, "store", None)
        session_id = getattr(self.controller, "session_id", None)
        if store is None or session_id is None:
            return
        try:
            store.add_event(session_id, "ui_alarm", now_s, reason=reason.name.lower(),
                            priority=priority.name.lower(), text=alarm.text, **details)
        except Exception as exc:  # noqa: BLE001 - best effort: the database may be the fault
            log.error("could not record the %s alarm: %s", reason.name, exc)

    def ui_alarms(self) -> list:
        """The UI's own alarms (core lost, recorder failed) to show above the core's."""
        alarms = []
        for watch in (self.core_watch, self.recorder_watch):
            alarm = watch.alarm() if watch is not None else None
            if alarm is not None:
                alarms.append(alarm)
        return alarms

    def display_time_s(self, now_s: float) -> float:
        """When the frame being built will be on the display: without a headset, its presentation
        time (PresentClock); with one, the draw-time estimate (the runtime paces the frames)."""
        if self._hold_frames:
            return self.present_clock.display_at(now_s)
        return self.display_clock.predict(now_s)

    def _camera_task(self, task):
        self.liveness.enter("camera")
        if self._hold_frames:
            self._hold_priority(True)  # from here to the flip (see HOLD_RT_PRIORITY)
        # A fresh sample: the one read at the frame's start is older by the world, HUD and menu
        # work since, and a shorter extrapolation follows a changing speed better.
        state = self.state
        if self.state_valid:
            try:
                state = self.channels.state.read(self._camera_state, timeout_s=0.002)
            except TimeoutError:
                state = self.state
        self.camera_state = state  # what this frame is drawn from
        now = time.monotonic()
        self._camera_at_s = now
        self.predicted_display_s = self.display_time_s(now)
        if self._hold_frames:
            self.present_s = self.present_clock.present_at(now)
        # Never further ahead than MAX_HORIZON_S past the sample's age now: a stalled core freezes
        # the view; the time until the frame is displayed is added to that.
        horizon_s = MAX_HORIZON_S + max(0.0, self.predicted_display_s - now)
        # Read once: the alarm thread may declare the core lost at any moment (alarm_watch.py).
        self.camera_core_lost = lost = self.core_watch.lost
        running = int(state["run_state"]) == layout.RunState.RUNNING and not lost
        if running:
            self.drawn_s_m = extrapolate_s(float(state["s_m"]), float(state["belt_speed_mps"]),
                                           float(state["belt_accel_mps2"]), s_time_s(state),
                                           self.predicted_display_s, horizon_s)
            # The scene clock runs with wall time while walking; extrapolate it the same way.
            self.drawn_scene_time_s = float(state["scene_time_s"]) + min(
                max(0.0, self.predicted_display_s - float(state["t_s"])), horizon_s)
        else:
            self.drawn_s_m = extrapolate_s(float(state["s_m"]), float(state["belt_speed_mps"]),
                                           float(state["belt_accel_mps2"]), s_time_s(state),
                                           self.predicted_display_s, horizon_s) if self.state_valid and not lost else float(state["s_m"])
            self.drawn_scene_time_s = float(state["scene_time_s"])
        self.read_s_m = float(state["s_m"])
        self.patient.set_y(self.drawn_s_m)
        self.liveness.enter("draw")  # igLoop next: one long call into Panda3D
        return task.cont

    def _world_task(self, task):
        # Never between the camera and the draw: updating the scenery can take a while, and the
        # display-time prediction must be made after that work, not before it. With a headset it
        # runs before the camera; without one after this frame is shown, for the next frame.
        self.liveness.enter("world")
        # (not while the 3D view is off: the therapist's full-screen menu covers it)
        if self.world is not None and self.cam.node().is_active():
            now = time.monotonic()
            if self._hold_frames:
                state = self.camera_state
                estimate_s = max(now, self.present_s) + self._period_s + self.present_clock.budget_s() \
                    if math.isfinite(self.present_s) else self.display_time_s(now)
            else:
                state = self.state
                estimate_s = self.display_time_s(now)
            s_m = extrapolate_s(float(state["s_m"]), float(state["belt_speed_mps"]), float(state["belt_accel_mps2"]),
                                s_time_s(state), estimate_s) if self.state_valid else float(state["s_m"])
            scene_time_s = float(state["scene_time_s"])
            if int(state["run_state"]) == layout.RunState.RUNNING:
                scene_time_s += min(max(0.0, estimate_s - float(state["t_s"])), 0.1)
            self.world.update(s_m, scene_time_s, state["obstacles"])
        return task.cont

    def _hud_task(self, task):
        self.liveness.enter("hud")
        if self.task_tracker is not None:
            task_state = self.task_tracker.update(float(self.state["s_m"]), float(self.state["scene_time_s"]),
                                                  self.state["obstacles"])
            self.task_view = TaskView.from_task_state(task_state)
            if self.world is not None and hasattr(self.world, "set_item_collected"):
                # Collected items leave the shelf (index = position in the shopping list).
                for index, item in enumerate(getattr(task_state, "items", [])):
                    if item.collected and index not in self._collected:
                        self._collected.add(index)
                        self.world.set_item_collected(index)
                        self.audio.play("cleared")
        content = self.hud_model.update(self.state, self.task_view, finished=self.finished)
        if self.hud is not None:
            self.hud.show(content)
        self.hud_content = content
        for _, outcome in self.hud_model.events[self._heard:]:
            self.audio.play("cleared" if outcome in ("cleared", "passed") else "hit")
        self._heard = len(self.hud_model.events)
        if content.cue and content.cue != self._last_cue:
            self.audio.play("cue")
        self._last_cue = content.cue
        self.audio.metronome(getattr(self.world, "scene", None), float(self.state["scene_time_s"]),
                             int(self.state["run_state"]) == layout.RunState.RUNNING)
        if self.state_valid:
            self.audio.stumble(self.state)  # the patient hears the stumble warning
        return task.cont

    def _therapist_task(self, task):
        self.liveness.enter("therapist")
        now = self._frame_start_s
        if self.banner is not None:
            alarms = active_alarms(self.state) if self.state_valid else []
            alarms = sorted(self.ui_alarms() + alarms, key=lambda a: -a.priority)  # stable: UI's first
            self.banner.show(alarms)
        if self.live_panel is not None:
            self.live_panel.update(self.state, now, int(self.controller.goals.get("steps", 0)))
        if self.menu is not None:
            self.menu.update(now, self.state)
        return task.cont

    def _complete_task(self, task):
        """Right after Panda3D drew: the frame is complete (not yet presented when held)."""
        if self.app_config.fault_draw_delay_s > 0.0:
            time.sleep(self.app_config.fault_draw_delay_s)  # fault campaign: a renderer this much slower
        self._complete_s = time.monotonic()
        return task.cont

    def _frame_done_task(self, task):
        """Present the frame (held: at its presentation time) and measure it."""
        config = self.app_config
        complete = self._complete_s
        held = False
        if self._hold_frames:
            # Presented at the time it was drawn for (PresentClock), not whenever drawing ended;
            # at once while the UI raises an alarm of its own (core lost, recorder failed): the
            # alarm goes out first (these frames are counted as neither held nor late).
            self.liveness.enter("pace")
            self.alarm_flip = self.core_watch.lost or (self.recorder_watch is not None and self.recorder_watch.failed)
            if self.alarm_flip:
                pass
            elif self.present_s > complete:
                self._hold_priority(True)
                if self.timed_flip is not None:
                    held = True  # an alarm raised meanwhile is drawn by the next frame
                else:
                    held = not self._hold_until(self.present_s)
                    self.alarm_flip = not held
            else:
                self.stats.late_presentations += 1
            # The instant this frame was presented (flipped): what its error is measured at.
            presented_s = self._flip(self.present_s if held else complete)
            truth = self._read_truth()  # before the priority drops (see _read_truth)
            if held:
                self._hold_measured(self.present_s, presented_s)
            self._hold_priority(False)
            self.present_clock.observe(self._camera_at_s, complete)
        else:
            presented_s = time.monotonic()
            truth = self._read_truth()
        done = presented_s
        self.controller.writer.frame()
        self.liveness.enter("between")
        # What the prediction needs: from placing the camera to the frame being complete.
        self.display_clock.observe(complete - self._camera_at_s)
        self.stats.render_ms.append((complete - self._camera_at_s) * 1000.0)
        if self._hold_frames:
            self.stats.hold_ms.append((done - complete) * 1000.0)
        self.stats.draw_ms.append((complete - self._frame_start_s) * 1000.0)
        if self.detail.observe(done, self.stats.draw_ms[-1]):
            self.camLens.set_near_far(0.05, self.detail.view_distance_m)
            self._world_view_distance()
        if math.isfinite(self._last_frame_done_s):
            self.stats.frame_ms.append((done - self._last_frame_done_s) * 1000.0)
        self._last_frame_done_s = done
        self.frames += 1
        if self.app_config.record_frames:
            self.stats.frames.append((done, self.drawn_s_m, self.predicted_display_s))
        if config.fault_hang_after_frames and int(self.state["run_state"]) == layout.RunState.RUNNING:
            self._walking_frames += 1
            if self._walking_frames >= config.fault_hang_after_frames:
                log.warning("fault campaign: the main loop hangs now")
                import threading

                threading.Event().wait()  # fault campaign: a main loop that never returns
        if truth is not None:
            # Where the belt really is when this frame appears: the fresh state sample read right
            # after the flip, carried to the display time from the treadmill's own sample time
            # (forward from a sample at most one status period old, back from one newer than it).
            display_s = presented_s + self.display_clock.display_latency_s
            belt_s = belt_at_s(float(truth["s_m"]), float(truth["belt_speed_mps"]),
                               float(truth["belt_accel_mps2"]), s_time_s(truth), display_s)
            speed_mps = float(truth["belt_speed_mps"])
            if speed_mps > 0.05:
                error_mm = (self.drawn_s_m - belt_s) * 1000.0
                self.stats.belt_error_mm.append(error_mm)
                self.stats.belt_samples.extend((speed_mps, error_mm, (self.read_s_m - belt_s) * 1000.0))
                late_s = display_s - self.predicted_display_s
                if math.isfinite(late_s):
                    self.stats.present_late_ms.append(late_s * 1000.0)
                    self.stats.timing_error_mm.append(-speed_mps * late_s * 1000.0)
                    self.stats.model_error_mm.append(error_mm + speed_mps * late_s * 1000.0)
                self.stats.truth_age_ms.append((display_s - s_time_s(truth)) * 1000.0)
        return task.cont

    def _flip(self, at_s: float) -> float:
        """Flip the frame drawn last at at_s (at once when that has passed); returns when it was
        flipped. By the native flip thread where there is one (timed_flip: it needs neither this
        thread nor the GIL at at_s; this thread waits with the GIL released), else here: the
        caller has held the frame until at_s (_hold_until)."""
        if self.timed_flip is not None:
            self._hold_runq_s = None  # the flip thread's wake-up is not this thread's to measure
            self.timed_flip.arm(at_s)
            return self.timed_flip.wait_flipped()
        self.graphicsEngine.flip_frame()
        return time.monotonic()

    def _read_truth(self):
        """A fresh state sample for the error of the frame just flipped, or None (not walking, or
        the block unreadable). Read at once, at the hold's priority: read after the priority
        dropped, a preempted main thread took it up to ~8 ms after the flip (bench session
        --hog), and the belt's travel meanwhile counted as the frame's error."""
        if not (self.state_valid and int(self.state["run_state"]) == layout.RunState.RUNNING):
            return None
        try:
            return self.channels.state.read(self._probe, timeout_s=0.002)
        except TimeoutError:
            return None

    def _hold_until(self, present_s: float) -> bool:
        """Wait until present_s: asleep with the GIL released until `_guard_s` before it, then
        asleep holding the GIL. True when a UI alarm cut it short.

        A sleep that releases the GIL wakes as late as the scheduler lets it and then as late as
        the GIL's holder lets go; with the main thread at SCHED_FIFO 1 for the hold the first is
        gone, the second is not: another thread of this process preempted while holding the GIL
        kept the woken hold waiting (wake 32-122 ms late at p99 with 0.4-2.3 ms of it waiting
        for a CPU, load 14-17). So the hold takes the GIL back `_guard_s` early, learnt from how
        late recent wake-ups came (the latest of the last 30, 0.5 to HOLD_GUARD_MAX_S), and waits out
        the rest without letting it go (a C sleep that keeps the GIL; at SCHED_FIFO a sleep has
        no timer slack and wakes within tens of microseconds). The
        UI's other threads wait at most that long for the GIL (the liveness beat's period is
        20 ms, the core's limit 100 ms); an alarm raised meanwhile is drawn one frame later."""
        wake_s = present_s - self._guard_s
        now = time.monotonic()
        runq_s = self._runqueue_wait_s()
        if wake_s > now:
            if self._alarm_wake.wait(wake_s - now):
                return True  # an alarm of the UI's own: show this frame, and the alarm next, at once
            overshoot_s = time.monotonic() - wake_s
            self._overshoots.append(overshoot_s)
            if len(self._overshoots) > 30:
                self._overshoots.popleft()
            # The latest, not the p90 (as until issue 17's vb branch): with the draw at FIFO 1 the
            # frames still flipped late were mostly wake-ups later than a p90 guard (2-30 ms, load
            # 7-11); simulated on those recorded wake-ups, the latest of the last 30 halves the p99
            # lateness (6.4 -> 3.1 ms, 10.2 -> 4.6 ms).
            self._guard_s = min(HOLD_GUARD_MAX_S, max(0.0005, max(self._overshoots)))
        # From here to the flip no Python function is entered and no loop jumps back: the points
        # where CPython hands the GIL to a thread that asked for it (a spin loop here did, and
        # the frame was flipped when that thread let go).
        self._hold_runq_s = runq_s
        # (rounded up: never flipped before its time)
        _LIBC_KEEPING_GIL.usleep(ctypes.c_uint(max(0, int((present_s - time.monotonic()) * 1e6) + 1)))
        return False

    def _hold_measured(self, present_s: float, presented_s: float) -> None:
        """After a held frame's flip: how late it was flipped, and of that, how long the main
        thread waited for a CPU (the rest was the GIL or the sleep's own wake-up)."""
        self.stats.wake_late_ms.append((presented_s - present_s) * 1000.0)
        runq_end_s = self._runqueue_wait_s()
        if self._hold_runq_s is not None and runq_end_s is not None:
            self.stats.hold_runq_ms.append((runq_end_s - self._hold_runq_s) * 1000.0)

    def _hold_priority(self, on: bool) -> None:
        """The main thread to SCHED_FIFO HOLD_RT_PRIORITY for a frame's draw, and its hold and flip,
        and back to its normal policy (its nice value stays UI_NICE); nothing where real-time is refused."""
        if HOLD_RT_PRIORITY <= 0 or on == self._hold_rt or (on and self._hold_rt_refused):
            return
        tid = threading.get_native_id()
        try:
            if on:
                # RESET_ON_FORK: a thread or process started meanwhile (none is, by design) starts
                # at the normal policy, not real-time (recorder.py learnt this the hard way).
                os.sched_setscheduler(tid, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK,
                                      os.sched_param(HOLD_RT_PRIORITY))
            else:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            self._hold_rt = on
        except OSError:
            self._hold_rt_refused = True

    def _runqueue_wait_s(self) -> float | None:
        """The main thread's total time runnable but without a CPU (schedstat), or None: tells a
        hold that woke late for want of a CPU from one that waited for the GIL."""
        try:
            with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
                return int(f.read().split()[1]) * 1e-9
        except (OSError, ValueError, IndexError):
            return None

    # -- actions --------------------------------------------------------------------------------
    def software_stop(self) -> None:
        """Space bar / STOP: controlled stop through the session controller (logged)."""
        self.controller.stop()

    def _ack_alarms(self) -> None:
        self.core_watch.acked = True
        if self.recorder_watch is not None:
            self.recorder_watch.acked = True
        self.controller.ack_alarms(self.state)

    def set_frame_rate(self, frame_rate_hz: float) -> None:
        """Pace frames at this rate from the next frame on (no headset; the desktop idles slower)."""
        self._period_s = 1.0 / frame_rate_hz if self.vr_backend is None and frame_rate_hz > 0 else 0.0

    def step(self) -> None:
        """Run one frame."""
        self.task_mgr.step()

    def save_view(self, path) -> bool:
        """Save what the window (or offscreen buffer) shows now, i.e. the last frame drawn."""
        from engine.render.png_writer import grab_rgb, write_png_async

        with self.heartbeat_cover():
            self.liveness.enter("covered")
            rgb = grab_rgb(self.win)
            if rgb is not None:
                write_png_async(path, rgb)  # encoding off the frame loop (see png_writer)
                return True
            # A window that cannot hand its pixels back: Panda3D writes it (GIL held).
            return bool(self.win.save_screenshot(Filename.from_os_specific(str(path))))

    def release(self) -> dict:
        """Release the headset and the window; returns frame statistics (VR ones when present)."""
        from engine.render.png_writer import wait_for_writes

        wait_for_writes()
        if self.timed_flip is not None:
            self.timed_flip.wait_flipped()  # never destroy a buffer with a flip armed on it
        self.alarm_watch.stop()
        self.liveness.stop()
        stats = self.stats.summary()
        stats["drawn_s_m_final"] = self.drawn_s_m
        stats["view_distance_m_min"] = self.detail.min_seen_m
        stats["state_s_m_final"] = float(self.state["s_m"])
        if self.vr_backend is not None:
            stats = {**stats, **self.vr_backend.stop()}
            self.vr_backend = None
        self.destroy()
        return stats
