"""The therapist's desktop (`main.py run` with a display): the menu, the patient view, and
sessions started and stopped from the menu on the virtual rig.

Without a headset the window is shared: Tab switches between the menu and the patient's view
(the patient watches the screen); the STOP button and the space bar work in both. With a headset
the window is the therapist's: the menu plus a mirror of the patient's left eye.
Each session gets its recorder when it starts; when the belt has stopped after a stop, the
session is closed in the database and its report written, and the menu is ready for the next.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from engine.control import layout
from engine.session.controller import SessionController
from engine.session.runner import (
    HeartbeatThread,
    SessionOptions,
    _sky,
    _summary,
    _world_factory,
    scene_choice,
    wait_core_ready,
    warm_up,
)

log = logging.getLogger(__name__)


class Desktop:
    """Owns the processes and the app for an interactive run."""

    def __init__(self, options: SessionOptions) -> None:
        from devices.sim.rig import start_rig
        from engine.control.channels import Channels
        from engine.control.commands import CommandWriter
        from engine.control.config import CoreConfig
        from engine.control.process import start_core
        from engine.records.paths import default_db_path
        from engine.records.store import Store, ensure_demo_patient
        from engine.scene.loader import load_library

        self.options = options
        self.db_path = Path(options.db) if options.db else default_db_path()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.db_path)
        self.store.close_interrupted_sessions()
        if options.patient.startswith("demo-"):
            ensure_demo_patient(self.store, options.patient)
        self.library = load_library(options.scenes_dir) if options.scenes_dir else load_library()
        patient = self.store.get_patient(options.patient) or {}
        self.rig = None if options.ports else start_rig(profile=patient.get("sim_profile") or "healthy", seed=options.seed)
        self.channels = Channels.create()
        self.writer = CommandWriter(self.channels.command)
        self.heartbeat = HeartbeatThread(self.writer)
        self.controller = SessionController(self.writer, self.store, who="therapist")
        self.controller.simulated = self.rig is not None
        self.controller.vr = options.use_headset
        ports = self.rig.ports if self.rig is not None else dict(options.ports)
        self.core = start_core(CoreConfig(ports=ports), self.channels.paths())
        wait_core_ready(self.channels, self.core)
        self.recorder = None
        self.reports: list[Path] = []
        self.app = None
        self._stopping_since = None
        self._seen_walking = False
        self._started_at_s = 0.0
        self._build_app()
        self.heartbeat.covering.clear()

    def _build_app(self) -> None:
        from engine.render.app import AppConfig, StepSyncApp
        from engine.render.live_panel import LivePanel
        from engine.render.menu import TherapistMenu
        from engine.render.panda_config import configure_panda

        options = self.options
        configure_panda(headless=options.headless, renderer=options.renderer, size=options.size or (1600, 900),
                        title="StepSync: therapist")
        config = AppConfig(headless=options.headless, use_headset=options.use_headset, menu=True, hud=True,
                           frame_rate_hz=60.0, vr_module=options.vr_module,
                           display_latency_s=0.0 if options.headless else 1 / 60)
        app = StepSyncApp(config, self.channels, self.controller)
        self.app = app
        self.menu = TherapistMenu(app, app.aspect2d, self.controller, library=self.library,
                                  patients=self.patient_codes(), on_scene_chosen=self.choose_scene,
                                  thumbnail_for=self.thumbnail, on_start=self.session_started)
        app.menu = self.menu
        app.heartbeat_cover = self.heartbeat.cover
        app.frame_alive = self.heartbeat.frame
        app.live_panel = LivePanel(self.menu.root, origin=(1.05, 0.55))
        if app.vr_backend is not None:
            self.mirror = app.vr_backend.make_mirror(self.menu.root, (0.05, 0.85, -0.9, -0.45))
        else:
            app.accept("tab", self.toggle_menu)
        if options.patient:
            self.menu.pick_patient(options.patient)
        if options.scene and options.scene in self.library.scenes:
            self.menu.pick_scene(options.scene)
        app.task_mgr.add(self._session_task, "stepsync-desktop-session", sort=-10)
        from engine.scene.loader import SCENES_DIR
        from engine.scene.watch import SceneWatcher

        self.watcher = SceneWatcher(options.scenes_dir or SCENES_DIR)
        self._pending_reload: str | None = None
        app.task_mgr.do_method_later(0.5, self._watch_task, "stepsync-scene-watch")
        self.show_menu(True)  # the menu first; Start or Tab shows the patient view

    def patient_codes(self) -> list[str]:
        """The patient given on the command line first, then every other one in the records."""
        codes = [p["code"] for p in self.store.list_patients()]
        first = [self.options.patient] if self.options.patient else []
        return first + [code for code in codes if code not in first]

    # -- menu callbacks -------------------------------------------------------------------------
    def choose_scene(self, scene_id: str):
        """Load the scene into the app and hand its choice to the controller."""
        from engine.scene.tasks import TaskTracker

        scene = self.library.scenes[scene_id]
        choice = scene_choice(scene)
        self.controller.scene = choice  # the app builds the HUD from it below
        self.app.set_background_color(*_sky(scene))
        self.app.load_scene(_world_factory(scene), TaskTracker(scene), choice.names)
        return choice

    def thumbnail(self, scene_id: str):
        """The scene's thumbnail as a texture (rendered once by the scenes package)."""
        from engine.render.audio import cache_dir
        from engine.render.world import render_thumbnail

        path = cache_dir().parent / "thumbnails" / f"{scene_id}.png"
        result = render_thumbnail(self.library.scenes[scene_id], path)
        return self.app.loader.load_texture(str(result))

    def session_started(self) -> None:
        """Start pressed: open the session record and attach the recorder BEFORE the belt
        moves (every cycle recorded), then show the patient's view."""
        from engine.records.recorder import start_recorder

        self.app.refresh_goals()
        self.app.finished = False
        self._seen_walking = False
        self._started_at_s = time.monotonic()
        session_id = self.controller.open_session()
        if self.recorder is None and session_id is not None:
            self.heartbeat.covering.set()  # starting a process takes longer than a frame
            try:
                self.recorder = start_recorder(self.db_path, self.channels.paths(), session_id)
            finally:
                self.heartbeat.covering.clear()
            from engine.render.alarms import RecorderWatch

            self.app.recorder_watch = RecorderWatch(self.recorder.is_alive)  # RECORDER_FAILED on the banner
        self.heartbeat.covering.set()
        try:
            self.show_menu(False)
            warm_up(self.app)  # the patient view was not drawn while the menu was up
        finally:
            self.heartbeat.covering.clear()

    def show_menu(self, shown: bool) -> None:
        """Menu or patient view on the desktop window (with a headset the menu always shows).
        While the full-screen menu is up the 3D view is not drawn at all: it is hidden anyway,
        and a cheap frame keeps the UI heartbeat regular."""
        if self.app.vr_backend is not None:
            self.menu.show()
            return
        if shown:
            self.menu.show()
        else:
            self.menu.hide()
        if self.app.hud is not None:
            (self.app.hud.root.hide if shown else self.app.hud.root.show)()
        self.app.cam.node().set_active(not shown)

    def toggle_menu(self) -> None:
        """Tab: menu or patient view (no headset)."""
        self.show_menu(self.menu.root.is_hidden())

    # -- hot reload -----------------------------------------------------------------------------
    def _watch_task(self, task):
        """A scene file saved: the menu shows its errors, or the new version is used (the scene
        on screen is rebuilt at once when no session runs, else when the session ends)."""
        for result in self.watcher.poll():
            if result.errors:
                self.menu._status(f"{result.path.name}: {result.errors[0]}")
                continue
            if result.scene is None or result.removed:
                continue
            self.library.scenes[result.scene.id] = result.scene
            self.library.broken.pop(str(result.path), None)
            if result.scene.id == self.menu.selected_scene:
                self._pending_reload = result.scene.id
            log.info("scene %s reloaded from %s", result.scene.id, result.path)
        if self._pending_reload and self.controller.session_id is None:
            scene_id, self._pending_reload = self._pending_reload, None
            self.menu.pick_scene(scene_id)
            self.menu._status(f"scene {scene_id} reloaded")
        return task.again

    # -- session end ----------------------------------------------------------------------------
    def _session_task(self, task):
        state = self.app.state
        if self.controller.session_id is None:
            return task.cont
        run_state = int(state["run_state"])
        if run_state in (layout.RunState.RUNNING, layout.RunState.PAUSED, layout.RunState.STOPPING):
            self._seen_walking = True
        elif not self._seen_walking and time.monotonic() - self._started_at_s > 5.0:
            # The core never started (an alarm stands, or the devices are not armed).
            self.end_session("stopped")
            return task.cont
        ended = self._seen_walking and run_state in (layout.RunState.IDLE, layout.RunState.STOPPED) \
            and abs(float(state["belt_speed_mps"])) < 0.01
        if ended:
            if self._stopping_since is None:
                self._stopping_since = time.monotonic()
            elif time.monotonic() - self._stopping_since > 0.5:
                # Completed when a goal was reached; otherwise the therapist or a fault stopped it.
                reached = int(state["goal_reached"]) != 0 and run_state != layout.RunState.STOPPED
                self.end_session("completed" if reached else "stopped")
        else:
            self._stopping_since = None
        return task.cont

    def end_session(self, outcome: str) -> Path | None:
        """Close the session: recorder, outcome and summary in the database, report."""
        from engine.records.report import write_session_report

        session_id = self.controller.session_id
        if session_id is None:
            return None
        self.heartbeat.covering.set()
        try:
            if self.recorder is not None:
                self.app.recorder_watch = None  # stopped on purpose, not failed
                self.recorder.stop()
                self.recorder = None
            self.store.add_frame_timing(session_id, self.app.stats.summary())
            self.controller.end(outcome, _summary(self.channels, self.app, self.controller))
            report = Path(write_session_report(self.db_path, session_id))
            self.reports.append(report)
            log.info("session %d %s; report: %s", session_id, outcome, report)
        finally:
            self.heartbeat.covering.clear()
        self.app.finished = True
        self.controller.session_id = None
        self.controller.run_state = "idle"
        self.show_menu(True)
        self.menu._status(f"session {session_id} {outcome}; report written")
        return report

    def close(self) -> None:
        """Controlled stop, close the session, then everything down in reverse order."""
        self.heartbeat.covering.set()
        try:
            if self.controller.session_id is not None:
                self.controller.stop(who="system")
                state = np.zeros((), dtype=layout.STATE_DTYPE)
                deadline = time.monotonic() + 15.0
                while time.monotonic() < deadline:
                    self.channels.state.read(state)
                    if abs(float(state["belt_speed_mps"])) < 0.01 and int(state["run_state"]) != layout.RunState.STOPPING:
                        break
                    time.sleep(0.02)
                self.end_session("interrupted")
        finally:
            if self.app is not None:
                self.app.release()
            if self.recorder is not None:
                self.recorder.stop()
            self.heartbeat.stop()
            self.core.stop()
            if self.rig is not None:
                self.rig.stop()
            self.channels.close()
            self.store.close()


def run_desktop(options: SessionOptions, max_frames: int | None = None) -> int:
    """Open the therapist's desktop and run until the window closes (or max_frames)."""
    desktop = Desktop(options)
    try:
        frames = 0
        while max_frames is None or frames < max_frames:
            desktop.app.step()
            frames += 1
            if desktop.app.win is None or (not options.headless and desktop.app.win.is_closed()):
                break
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        desktop.close()
    for report in desktop.reports:
        print(f"report: {report}")
    return 0
