"""The therapist's desktop (`main.py run` with a display): the menu, the patient view, and
sessions started and stopped from the menu on the virtual rig.

Without a headset the window is shared: Tab switches between the menu and the patient's view
(the patient watches the screen); the STOP button and the space bar work in both. With a headset
the window is the therapist's: the menu plus a mirror of the patient's left eye.
Each session gets its recorder when it starts; when the belt has stopped after a stop, the
session is closed in the database with its outcome and the reason it ended, its report written,
and the menu says both and is ready for the next.

Idle (the menu up, no session): the window is drawn only when something on it changed (a click,
a key, the pointer, a new status or alarm, the live numbers at most every 2 s) and every 2 s
otherwise; input is polled IDLE_POLL_HZ times a second. That keeps an idle menu under 5 % of a
core (`python -m bench ui`); a session draws at 60 frames a second.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from engine.control import layout
from engine.render.liveness import freeze_collector, thaw_collector
from engine.session.controller import SessionController, wait_for_state
from engine.session.runner import (
    STEADY_FRAME_MS,
    STEADY_FRAMES,
    WARM_UP_FRAMES,
    WARM_UP_MAX_S,
    HeartbeatThread,
    SessionOptions,
    _sky,
    _summary,
    _world_factory,
    scene_choice,
    wait_core_ready,
)

log = logging.getLogger(__name__)

SESSION_FRAME_RATE_HZ = 60.0
IDLE_POLL_HZ = 12.0  # input and state polled while idle: a click is answered within ~80 ms
IDLE_REDRAW_S = 2.0  # an idle menu is redrawn at least this often (a text cursor)
IDLE_NUMBERS_HZ = 0.5  # the live numbers (heart rate) on an idle menu are redrawn this often
MENU_NUMBERS_HZ = 4.0  # the live numbers on the menu are redrawn this often during a session
NOT_LOGGED_IN = "(not logged in)"  # the audit's author of actions at the login screen
PATIENTS_REFRESH_S = 2.0  # with a login: the patient list follows what the background sync copies down
START_TIMEOUT_S = 5.0  # Start pressed and the core never walked: the session ends with the reason


def wait_belt_standing(channels, timeout_s: float) -> bool:
    """After a stop: wait until the belt stands and the stop is done, at most timeout_s; True
    when it did. A core frozen mid-write by the host is read again (an exception here skipped the
    session's end and left the session open)."""
    return wait_for_state(channels, lambda s: abs(float(s["belt_speed_mps"])) < 0.01
                          and int(s["run_state"]) != layout.RunState.STOPPING, timeout_s, poll_s=0.02)


class Desktop:
    """Owns the processes and the app for an interactive run."""

    def __init__(self, options: SessionOptions) -> None:
        from devices.sim.rig import start_rig
        from engine.control.channels import Channels
        from engine.control.commands import CommandWriter
        from engine.control.config import CoreConfig
        from engine.control.process import start_core
        from engine.records.dbcheck import check_records_file
        from engine.records.paths import default_db_path
        from engine.records.store import DEMO_PATIENTS, Store, ensure_demo_patient
        from engine.scene.loader import load_library
        from engine.session.patients import ensure_demo_patients, first_run_message

        self.options = options
        self.db_path = Path(options.db) if options.db else default_db_path()
        check_records_file(self.db_path)  # never let SQLite touch a file that is not a database
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.db_path)
        self.store.close_interrupted_sessions()
        self.notice = first_run_message(ensure_demo_patients(self.store))
        if options.patient in DEMO_PATIENTS:
            ensure_demo_patient(self.store, options.patient)
        log.info("records: %s (%d patients)", self.db_path, len(self.store.list_patients()))
        self.library = load_library(options.scenes_dir) if options.scenes_dir else load_library()
        patient = (self.store.get_patient(options.patient) if options.patient else None) or {}
        self.rig = None if options.ports else start_rig(profile=patient.get("sim_profile") or "healthy", seed=options.seed)
        self.channels = Channels.create()
        self.writer = CommandWriter(self.channels.command)
        self.heartbeat = HeartbeatThread(self.writer)
        self.controller = SessionController(self.writer, self.store, who="therapist")
        self.controller.simulated = self.rig is not None
        self.controller.vr = options.use_headset
        if options.pace != "scene":
            self.controller.set_pace(options.pace)
        ports = self.rig.ports if self.rig is not None else dict(options.ports)
        self.core = start_core(CoreConfig(ports=ports, sim_rig_pid=self.rig.pid if self.rig is not None else 0),
                               self.channels.paths())
        wait_core_ready(self.channels, self.core)
        self.recorder = None
        self.reports: list[Path] = []
        self.ended: list[dict] = []  # {session_id, outcome, reason, report} per session closed
        self._report_jobs: list[tuple] = []  # (ReportJob, its entry in ended) while a child writes it
        self.app = None
        self.quit_requested = False
        self._stopping_since = None
        self._seen_walking = False
        self._started_at_s = 0.0
        self._warm_frames = 0
        self._warm_from_frame = 0
        self._stop_reason = ""
        self._drawn_at_s = -1e9
        self._pointer = None
        self._input_seen = False
        self._draw_ticks = 0
        self.login = None  # the therapist logged in at the menu (a rig with a clinic server)
        self.login_screen = None
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
                           frame_rate_hz=SESSION_FRAME_RATE_HZ, vr_module=options.vr_module,
                           display_latency_s=0.0 if options.headless else 1 / 60)
        app = StepSyncApp(config, self.channels, self.controller)
        self.app = app
        self.menu = TherapistMenu(app, app.aspect2d, self.controller, library=self.library,
                                  patients=[] if options.clinic_url else self.patient_codes(),
                                  on_scene_chosen=self.choose_scene,
                                  thumbnail_for=self.thumbnail, on_start=self.session_started,
                                  on_stop=self.stop_pressed, on_quit=self.request_quit, notice=self.notice)
        app.menu = self.menu
        app.heartbeat_cover = self.heartbeat.cover
        app.frame_alive = self.heartbeat.frame
        app.live_panel = LivePanel(self.menu.root, origin=(1.0, 0.42))
        if app.vr_backend is not None:
            self.mirror = app.vr_backend.make_mirror(self.menu.root, (0.05, 0.85, -0.9, -0.45))
        else:
            app.accept("tab", self.toggle_menu)
        self._watch_input()
        if options.patient and not options.clinic_url:  # with a clinic: once someone logged in
            self.menu.pick_patient(options.patient)
        if options.scene and options.scene in self.library.scenes:
            self.menu.pick_scene(options.scene)
        if self.notice and self.menu.message != self.notice:
            self.menu._status(self.notice)  # the first-run message outlives the picks above
        app.task_mgr.add(self._session_task, "stepsync-desktop-session", sort=-10)
        app.task_mgr.add(self._report_task, "stepsync-desktop-reports", sort=-11)
        from engine.scene.loader import SCENES_DIR
        from engine.scene.watch import SceneWatcher

        self.watcher = SceneWatcher(options.scenes_dir or SCENES_DIR)
        self._pending_reload: str | None = None
        app.task_mgr.do_method_later(0.5, self._watch_task, "stepsync-scene-watch")
        self.show_menu(True)  # the menu first; Start or Tab shows the patient view
        if options.clinic_url:
            self._ask_login()  # issue 14: with a clinic server, therapists log in to the menu

    # -- login (a rig with a clinic server) ----------------------------------------------------
    def _ask_login(self) -> None:
        """The login screen over the menu; nothing on the menu is reachable until a therapist
        or admin has logged in (engine/render/login_screen.py, engine/records/rig_accounts.py)."""
        from engine.records.accounts import LoginRefused
        from engine.records.rig_accounts import audit_login, login_for_menu
        from engine.render.login_screen import LoginScreen

        url = self.options.clinic_url

        def check(user: str, password: str):  # runs in the login screen's thread (Store is thread-safe)
            try:
                login = login_for_menu(self.db_path, url, user, password)
            except LoginRefused as exc:
                audit_login(self.store, user, refused=exc)
                raise
            audit_login(self.store, user, login)
            return login

        # No session can run before a login: a space typed here belongs to the password, not STOP.
        self.app.ignore("space")
        self.controller.who = NOT_LOGGED_IN  # what is done before a login (acknowledging an alarm) says so
        self.login_screen = LoginScreen(self.app, self.menu.root, check, self.logged_in,
                                        clinic=_server_name(url), on_quit=self.menu.ask_quit)
        if self.app.banner is not None:  # an alarm shows (and is acknowledged) over the login screen
            self.app.banner.frame.reparent_to(self.app.aspect2d)  # last child: drawn after it

    def logged_in(self, login) -> None:
        """A therapist logged in: their name goes into every audit row and prescription version
        the menu writes, and the menu lists only the patients they may see."""
        from engine.records.rig_accounts import CareTeamStore

        self.login = login
        self.controller.who = login.username
        self.controller.store = CareTeamStore(self.store, login)
        self.app.accept("space", self.menu.software_stop)
        if self.login_screen is not None:
            self.login_screen.destroy()
            self.login_screen = None
        codes = self.patient_codes()
        self.menu.set_patients(codes)
        if self.options.patient in codes:
            self.menu.pick_patient(self.options.patient)
        scope = ("every patient" if login.patients is None
                 else f"{len(codes)} patient{'s' if len(codes) != 1 else ''} on the care team")
        self.menu._status(f"{login.username} logged in ({login.account.role}, {login.source}): {scope}")
        self.app.task_mgr.do_method_later(PATIENTS_REFRESH_S, self._refresh_patients, "stepsync-patient-list")

    def _refresh_patients(self, task):
        """The background sync copies down patients made at other rigs (and the care team may
        have them): the drop-down follows between sessions."""
        if self.controller.session_id is None:
            codes = self.patient_codes()
            if set(codes) != set(self.menu.patients):
                self.menu.set_patients(codes)
        return task.again

    def patient_codes(self) -> list[str]:
        """The patient given on the command line first, then every other one in the records
        (with a login: every one the therapist may see)."""
        codes = [p["code"] for p in self.controller.store.list_patients()]
        first = [self.options.patient] if self.options.patient in codes else []
        return first + [code for code in codes if code not in first]

    # -- the frame loop -------------------------------------------------------------------------
    def _watch_input(self) -> None:
        """Every key, typed character and mouse button marks the screen as changed (an idle menu
        redraws on them). A second button thrower sits straight on the keyboard-and-mouse node,
        before the mouse watcher, which would swallow clicks on widgets; its own events carry a
        prefix nobody listens to, so no action happens twice."""
        from panda3d.core import ButtonThrower

        source = getattr(self.app, "mouseWatcher", None)
        if source is None:
            return
        thrower = ButtonThrower("stepsync-input-watch")
        thrower.set_prefix("stepsync-raw-")
        thrower.set_button_down_event("stepsync-input")
        thrower.set_button_up_event("stepsync-input")
        thrower.set_keystroke_event("stepsync-input")
        self._input_thrower = source.attach_new_node(thrower)
        self.app.accept("stepsync-input", self._on_input)

    def _on_input(self, *_args) -> None:
        self._input_seen = True

    def idle(self) -> bool:
        """The menu is up and no session runs (or starts): poll slowly, draw on change."""
        return self.controller.session_id is None and self.menu_up()

    def menu_up(self) -> bool:
        """The full-screen menu covers the window (no headset): the 3D view is not drawn."""
        return self.app.vr_backend is None and not self.menu.root.is_hidden()

    def _screen_changed(self, now_s: float) -> bool:
        """Draw now? On input and on what the therapist did or must see (status, banner) at once;
        the live numbers at MENU_NUMBERS_HZ; otherwise every IDLE_REDRAW_S."""
        app = self.app
        urgent = self._input_seen or self.menu.changed or bool(app.banner is not None and app.banner.changed)
        urgent |= bool(self.login_screen is not None and self.login_screen.changed)
        watcher = app.mouseWatcherNode
        pointer = (watcher.get_mouse_x(), watcher.get_mouse_y()) if watcher is not None and watcher.has_mouse() else None
        urgent |= pointer != self._pointer
        self._pointer = pointer
        if urgent:
            self._draw_ticks = 2  # and the next ticks: what the input set off (a list opening) shows too
        self._draw_ticks -= 1
        numbers = bool(app.live_panel is not None and app.live_panel.changed)
        since_s = now_s - self._drawn_at_s
        numbers_hz = IDLE_NUMBERS_HZ if self.controller.session_id is None else MENU_NUMBERS_HZ
        return self._draw_ticks >= 0 or (numbers and since_s >= 1.0 / numbers_hz) or since_s >= IDLE_REDRAW_S

    def tick(self) -> None:
        """One pass of the loop. The frame loop runs at 60 Hz in a session (each pass writes the
        UI heartbeat the core needs), at IDLE_POLL_HZ when idle. While the full-screen menu is up
        a pass draws only when the screen changed: drawing the menu costs more than the pass."""
        app = self.app
        app.set_frame_rate(IDLE_POLL_HZ if self.idle() else SESSION_FRAME_RATE_HZ)
        now_s = time.monotonic()
        draw = not self.menu_up() or self._screen_changed(now_s)
        if app.win is not None:
            app.win.set_active(draw)
        app.step()
        if draw:
            self._drawn_at_s = now_s
            self._input_seen = False
            self.menu.changed = False
            if self.login_screen is not None:
                self.login_screen.changed = False
            if app.banner is not None:
                app.banner.changed = False
            if app.live_panel is not None:
                app.live_panel.changed = False

    # -- menu callbacks -------------------------------------------------------------------------
    def choose_scene(self, scene_id: str):
        """Load the scene into the app and hand its choice to the controller."""
        from engine.scene.tasks import TaskTracker

        scene = self.library.scenes[scene_id]
        choice = scene_choice(scene)
        self.controller.scene = choice  # the app builds the HUD from it below
        if self.rig is not None:
            self.rig.show_scene(scene)  # the simulated patient sees the scene, as the headless runner does
        self.app.set_background_color(*_sky(scene))
        self.app.load_scene(_world_factory(scene), TaskTracker(scene), choice.names)
        return choice

    def thumbnail(self, scene_id: str):
        """The scene's thumbnail as a texture (rendered once by the scenes package)."""
        from engine.render.audio import cache_dir
        from engine.render.world import render_thumbnail

        path = cache_dir().parent / "thumbnails" / f"{scene_id}.png"
        with self.heartbeat.cover():  # the first render of a thumbnail takes longer than a frame
            result = render_thumbnail(self.library.scenes[scene_id], path)
        return self.app.loader.load_texture(str(result))

    def session_started(self) -> bool:
        """Start pressed: open the session record and attach the recorder BEFORE the belt
        moves (every cycle recorded), show the patient's view and draw it a few times; the
        belt is started by the session task once those frames are drawn. Returns True: the
        start is deferred (the menu does not start the controller itself)."""
        from engine.records.recorder import start_recorder
        from engine.render.alarms import RecorderWatch, active_alarms

        state = self.app.state
        if int(state["run_state"]) == layout.RunState.STOPPED:
            alarms = active_alarms(state, include_acked=True)
            why = f" ({alarms[0].text})" if alarms else ""
            raise RuntimeError(f"the devices need Re-arm after the last stop{why}: fix the cause, "
                               f"press Acknowledge, then Re-arm")
        if self._warm_frames:
            return True  # already starting
        self.app.refresh_goals()
        self.app.finished = False
        self._seen_walking = False
        self._stop_reason = ""
        session_id = self.controller.open_session()
        self.heartbeat.covering.set()  # starting a process and the first frames take longer than a frame
        if self.recorder is None and session_id is not None:
            self.recorder = start_recorder(self.db_path, self.channels.paths(), session_id)
            self.app.recorder_watch = RecorderWatch(self.recorder.is_alive, self.recorder.process.poll)  # RECORDER_FAILED
        self.show_menu(False)
        self._warm_frames = WARM_UP_FRAMES  # the patient view was not drawn while the menu was up
        self._warm_from_frame = self.app.frames
        self._started_at_s = time.monotonic()
        return True

    def _walk_after_warm_up(self) -> None:
        """Called by the session task each frame after Start: once the patient view has been
        drawn WARM_UP_FRAMES times and the last STEADY_FRAMES frames each took less than
        STEADY_FRAME_MS (the first frames of a scene upload geometry and textures and can take
        longer than the 100 ms the core allows between UI heartbeats while walking), the belt
        may move. After WARM_UP_MAX_S it starts anyway: a slow machine still walks."""
        self._warm_frames = max(1, self._warm_frames - 1)
        recent = self.app.stats.frame_ms[-STEADY_FRAMES:]
        steady = len(recent) == STEADY_FRAMES and max(recent) < STEADY_FRAME_MS
        drawn = self.app.frames - self._warm_from_frame
        if not (drawn >= WARM_UP_FRAMES and steady) and time.monotonic() - self._started_at_s < WARM_UP_MAX_S:
            return
        self._warm_frames = 0
        freeze_collector()  # the belt stands: a full collection now, none of these objects later
        self.heartbeat.covering.clear()  # the frame loop beats from here on
        try:
            self.controller.start()
            self.controller.write_in_background(True)  # the frame loop never waits on SQLite
        except Exception as exc:  # the app must not die on a start; say why
            log.exception("start")
            self.menu._status(f"cannot start: {exc}")
        self._started_at_s = time.monotonic()

    def stop_pressed(self) -> None:
        """STOP (button, space bar, Escape): the reason the session ends, unless a fault comes first."""
        if self.controller.session_id is not None and not self._stop_reason:
            self._stop_reason = "the therapist pressed STOP"
        if self._warm_frames:  # stopped before the belt ever moved
            self._warm_frames = 0
            self.heartbeat.covering.clear()

    def request_quit(self) -> None:
        """Quit confirmed in the menu: the loop ends and `close` stops and saves everything."""
        self.quit_requested = True
        if self.controller.session_id is not None and not self._stop_reason:
            self._stop_reason = "the therapist quit StepSync"

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
        """Tab: menu or patient view (no headset); nothing while the login screen is up."""
        if self.login_screen is not None:
            return
        self.show_menu(self.menu.root.is_hidden())

    # -- what the screen shows ------------------------------------------------------------------
    def screen(self) -> dict:
        """Everything the therapist can read now: the menu, the banner, the live panel, the HUD."""
        app = self.app
        shown = self.menu.visible()
        if self.login_screen is not None:
            shown.update(self.login_screen.visible())
        shown["logged_in"] = self.login.username if self.login is not None else None
        code = int(app.state["run_state"])
        shown.update(
            banner=app.banner.text if app.banner is not None else "",
            live=app.live_panel.text() if app.live_panel is not None else {},
            hud=app.hud.visible_text() if app.hud is not None and not app.hud.root.is_hidden() else {},
            run_state=layout.RunState(code).name.lower() if code in layout.RunState._value2member_map_ else "?",
            session_id=self.controller.session_id,
        )
        return shown

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
    def _end_reason(self, state, reached: bool) -> str:
        """Why the session ended, in the therapist's words."""
        from engine.render.alarms import active_alarms

        if self.app.core_watch.lost:
            return "the control core stopped responding; the devices stopped on their watchdogs"
        faults = [a for a in active_alarms(state, include_acked=True) if a.reason != layout.AlarmReason.STOP_REQUEST]
        if int(state["run_state"]) == layout.RunState.STOPPED and faults:
            return f"fault stop: {faults[0].text}"
        if self._stop_reason:
            return self._stop_reason + ("; goal reached" if reached else "")
        if reached:
            return "goal reached"
        if faults:
            return f"stopped by the control core: {faults[0].text}"
        return "stopped by the control core without an alarm"

    def _not_started_reason(self, state) -> str:
        from engine.render.alarms import active_alarms

        alarms = active_alarms(state, include_acked=True)
        if alarms:
            return f"did not start: {alarms[0].text} (fix the cause, Acknowledge, Re-arm, then Start)"
        return (f"did not start: the control core did not begin walking within {START_TIMEOUT_S:.0f} s "
                f"(no valid prescription, or the devices are not armed)")

    def _session_task(self, task):
        state = self.app.state
        if self.controller.session_id is None:
            return task.cont
        if self._warm_frames:
            self._walk_after_warm_up()
            return task.cont
        run_state = int(state["run_state"])
        if run_state in (layout.RunState.RUNNING, layout.RunState.PAUSED, layout.RunState.STOPPING):
            self._seen_walking = True
        elif not self._seen_walking and time.monotonic() - self._started_at_s > START_TIMEOUT_S:
            # The core never started (an alarm stands, or the devices are not armed).
            self.end_session("stopped", self._stop_reason or self._not_started_reason(state))
            return task.cont
        ended = self._seen_walking and run_state in (layout.RunState.IDLE, layout.RunState.STOPPED) \
            and abs(float(state["belt_speed_mps"])) < 0.01
        if ended:
            if self._stopping_since is None:
                self._stopping_since = time.monotonic()
            elif time.monotonic() - self._stopping_since > 0.5:
                # Completed when a goal was reached; otherwise the therapist or a fault stopped it.
                reached = int(state["goal_reached"]) != 0 and run_state != layout.RunState.STOPPED
                self.end_session("completed" if reached else "stopped", self._end_reason(state, reached))
        else:
            self._stopping_since = None
        return task.cont

    def end_session(self, outcome: str, reason: str = "") -> None:
        """Close the session: recorder, outcome, reason and summary in the database; the menu comes
        back at once saying how the session ended, while a child process writes its report
        (`_report_task` says where it is when it is written: no report work inside a frame)."""
        from engine.records.report_child import ReportJob

        session_id = self.controller.session_id
        if session_id is None:
            return None
        reason = reason or outcome
        job = None
        self.heartbeat.covering.set()
        thaw_collector()
        self.controller.write_in_background(False)  # what the walk queued, first
        try:
            if self.recorder is not None:
                if self.app.recorder_watch is not None:
                    self.app.recorder_watch.retire()  # stopped on purpose, not failed
                self.app.recorder_watch = None
                self.recorder.stop()
                self.recorder = None
            self.store.add_frame_timing(session_id, self.app.stats.summary())
            summary = _summary(self.channels, self.app, self.controller)
            summary["end_reason"] = reason
            try:
                self.store.add_event(session_id, "session_end", float(self.app.state["t_s"]), outcome=outcome,
                                     reason=reason)
            except Exception:
                log.exception("recording the end of session %d", session_id)
            self.controller.end(outcome, summary)
            try:
                job = ReportJob(self.db_path, session_id)
            except OSError as exc:  # no process could be started (out of memory or processes)
                log.exception("starting the report of session %d", session_id)
                reason += f"; the report could not be written ({exc})"
            log.info("session %d %s (%s); report %s", session_id, outcome, reason,
                     "being written" if job is not None else "not written")
        finally:
            self.heartbeat.covering.clear()
        entry = {"session_id": session_id, "outcome": outcome, "reason": reason, "report": None}
        self.ended.append(entry)
        if job is not None:
            self._report_jobs.append((job, entry))
        self.app.finished = True
        self.controller.session_id = None
        self.controller.run_state = "idle"
        self._warm_frames = 0
        self._stop_reason = ""
        self.show_menu(True)
        where = "writing its report ..." if job is not None else "no report"
        self.menu._status(f"session {session_id} {outcome}: {reason}. {where}")

    def report_pending(self) -> bool:
        """A child process is still writing a session's report."""
        return bool(self._report_jobs)

    def _report_task(self, task):
        """Each frame: a report child that has ended is read (waitpid, never a wait)."""
        for job, entry in list(self._report_jobs):
            if job.poll():
                self._report_done(job, entry)
        return task.cont

    def _report_done(self, job, entry: dict) -> None:
        """A session's report is written (or failed): the records of ended sessions and the menu say so."""
        self._report_jobs = [(j, e) for j, e in self._report_jobs if j is not job]
        if job.path is not None:
            self.reports.append(job.path)
            entry["report"] = str(job.path)
            log.info("session %d: report written to %s", entry["session_id"], job.path)
            where = f"report written: {job.path}"
        else:
            log.error("session %d: %s", entry["session_id"], job.error)
            entry["reason"] += f"; the report could not be written ({job.error})"
            where = "no report"
        if self.controller.session_id is None:  # a new session's own status stands
            self.menu._status(f"session {entry['session_id']} {entry['outcome']}: {entry['reason']}. {where}")

    def _wait_for_reports(self) -> None:
        """At exit: the reports still being written are waited for (each within its own timeout)."""
        from engine.records.report_child import ReportFailed

        for job, entry in list(self._report_jobs):
            try:
                job.wait()
            except ReportFailed:
                pass  # its error is in job.error
            self._report_done(job, entry)

    def close(self) -> None:
        """Controlled stop, close the session, then everything down in reverse order."""
        self.heartbeat.covering.set()
        try:
            if self.controller.session_id is not None:
                self.controller.stop(who="system")
                wait_belt_standing(self.channels, 15.0)
                self.end_session("interrupted", self._stop_reason or "StepSync was closed during the session")
            self._wait_for_reports()
        finally:
            if self.app is not None:
                self.app.release()
            if self.recorder is not None:
                self.recorder.stop()
            if self.login is not None:
                from engine.records.rig_accounts import audit_login

                try:
                    audit_login(self.store, self.login.username, logout=True)
                except Exception:  # the rest of the shutdown must still run
                    log.exception("audit of the logout")
            self.heartbeat.stop()
            self.core.stop()
            if self.rig is not None:
                self.rig.stop()
            self.channels.close()
            self.store.close()


def _server_name(url: str) -> str:
    """The clinic server as the login screen names it: database and host, never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a URL psycopg cannot read is refused at the login, not here
        return "(unreadable address)"
    host = str(info.get("host") or "localhost")
    return f"database {info.get('dbname', '?')} on {host}" + (f":{info['port']}" if info.get("port") else "")


def run_desktop(options: SessionOptions, max_frames: int | None = None) -> int:
    """Open the therapist's desktop and run until Quit, the window closes (or max_frames)."""
    desktop = Desktop(options)
    log.info("therapist desktop ready: Quit (top right) or Escape to close")
    try:
        frames = 0
        while max_frames is None or frames < max_frames:
            desktop.tick()
            frames += 1
            if desktop.quit_requested:
                break
            if desktop.app.win is None or (not options.headless and desktop.app.win.is_closed()):
                break
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        desktop.close()
    for ended in desktop.ended:
        print(f"session {ended['session_id']} {ended['outcome']}: {ended['reason']}")
        if ended["report"]:
            print(f"report: {ended['report']}")
    return 0
