"""Every therapist action, in one place: it goes to the control core through the CommandWriter
AND to the records database's audit log through Store.log_setting.

The menu's widgets, the keyboard shortcuts and the headless runner all call this class, so no
path can change a setting without it being logged. No Panda3D here.

Audit log: a setting changed during a session is logged at once with (old, requested, applied).
Choices made before the session exists (patient, scene, goals, settings) are logged right after
`start()` creates the session row, so the log of a session is complete from its first line.
While the belt moves (`write_in_background`) the rows, and the events the frame loop records,
are written by a thread in order (store_writes.py): the frame loop never waits on the database.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from engine.control import layout
from engine.control.prescription import Prescription

log = logging.getLogger(__name__)

# Live settings the therapist may change, with what they start at. One meaning each, everywhere
# (menu, command block, core, audit, telemetry, report; docs/engine.md "Settings and their units"):
#   speed_fraction  fraction 0..1 of the prescribed maximum belt speed;
#   guidance        ABSOLUTE guidance, 0..1 of full robot assistance (1 = the exoskeleton moves
#                   the legs along the reference gait at full stiffness), clamped to the
#                   prescription's guidance_min..guidance_max; guidance_min/max bound assist-as-needed;
#   bws_fraction    ABSOLUTE body-weight support, fraction of body weight (shown as % of body
#                   weight), clamped to the prescription's bws_min..bws_max.
DEFAULT_SETTINGS: dict[str, float] = {
    "speed_fraction": 0.6,
    "guidance": 0.5,
    "guidance_min": 0.0,
    "guidance_max": 1.0,
    "assist_as_needed": 0.0,
    "guidance_locked": 0.0,
    "bws_fraction": 0.3,
    "pace_mode": 0.0,  # engine.control.layout.PaceMode: 0 scene-paced, 1 fixed, 2 self-paced
}


# setting -> the prescription fields bounding it
RX_RANGES: dict[str, tuple[str, str]] = {
    "guidance": ("guidance_min", "guidance_max"),
    "guidance_min": ("guidance_min", "guidance_max"),
    "guidance_max": ("guidance_min", "guidance_max"),
    "bws_fraction": ("bws_min", "bws_max"),
}


@dataclass
class SceneChoice:
    """The scene the therapist picked, as handed to the core."""

    scene_id: str
    title: str = ""
    route_length_m: float = 0.0
    base_speed_fraction: float = 1.0
    timeline: Any = None
    names: list[str] = field(default_factory=list)
    scene: Any = None


class SessionController:
    """The therapist's actions on one patient and one session at a time."""

    def __init__(self, writer, store=None, who: str = "therapist") -> None:
        self.writer = writer
        self.store = store
        self.who = who
        self.patient_code: str | None = None
        self.prescription: Prescription | None = None
        self.scene: SceneChoice | None = None
        self.goals: dict[str, float] = {"steps": 0, "distance_m": 0.0, "time_s": 0.0}
        self.settings: dict[str, float] = dict(DEFAULT_SETTINGS)
        self.session_id: int | None = None
        self.vr: bool = False
        self.simulated: bool = False  # the virtual rig, not a patient
        self.run_state: str = "idle"
        self._pending: list[tuple[str, Any, Any, Any, str]] = []  # audit rows (and who) before the session exists
        self.audit_errors = 0
        self.writes = None  # a store_writes.StoreWrites while the belt moves (write_in_background)
        self.planned_scene_id: str | None = None  # the session plan's scene (apply_session_plan)

    # -- audit ----------------------------------------------------------------------------------
    def _audit(self, setting: str, old: Any, new: Any, applied: Any) -> None:
        """One row in the audit log (or queued until the session exists)."""
        if self.store is None:
            return
        if self.session_id is None:
            self._pending.append((setting, old, new, applied, self.who))
            return
        if self.writes is not None:
            self.writes.submit(self._log_setting, self.session_id, self.who, setting, old, new, applied,
                               what=f"the audit row of {setting}")
        else:
            self._log_setting(self.session_id, self.who, setting, old, new, applied)

    def _log_setting(self, session_id: int, who: str, setting: str, old: Any, new: Any, applied: Any) -> None:
        try:
            self.store.log_setting(session_id, who, setting, old, new, applied)
        except Exception:  # never let the audit log take the session down; count and log it
            self.audit_errors += 1
            log.exception("audit log: could not record %s", setting)

    def record_event(self, kind: str, t_s: float, **data) -> None:
        """An event of the UI's (HUD feedback, ...) into the session's events; queued while the
        belt moves."""
        if self.store is None or self.session_id is None:
            return
        if self.writes is not None:
            self.writes.submit(self.store.add_event, self.session_id, kind, t_s, what=f"the {kind} event", **data)
        else:
            self.store.add_event(self.session_id, kind, t_s, **data)

    def write_in_background(self, on: bool) -> None:
        """From the start of the walk (on) to its end (off, which waits for what is queued):
        database writes go through a thread, so the frame loop never waits on SQLite."""
        if on and self.writes is None and self.store is not None:
            from engine.session.store_writes import StoreWrites

            self.writes = StoreWrites()
        elif not on and self.writes is not None:
            writes, self.writes = self.writes, None
            if not writes.close():
                log.error("records: queued writes still waiting on the database after 60 s")

    # -- patient and prescription ---------------------------------------------------------------
    def known_patient(self, code: str) -> bool:
        """Is there a patient with this code in the records?"""
        return self.store is None or self.store.get_patient(code) is not None

    def select_patient(self, code: str) -> Prescription:
        """Load the patient's current prescription and hand it to the core. Raises KeyError for a
        code the records do not know (create the patient first: nothing is selected then)."""
        rx = None
        if self.store is not None:
            if self.store.get_patient(code) is None:
                raise KeyError(f"unknown patient {code!r}")
            rx = self.store.current_prescription(code)
        rx = rx or Prescription()
        old = self.patient_code
        self.patient_code = code
        self.prescription = rx
        self.writer.set_prescription(rx)
        self._audit("patient", old, code, code)
        self._fit_settings_to(rx)
        self.apply_session_plan(code, rx)
        return rx

    def apply_session_plan(self, code: str, rx: Prescription) -> dict | None:
        """Start from the settings of the patient's session plan, the last progression proposal
        the therapist accepted or edited (engine/analysis/progression.py); audited as "plan vN".
        `planned_scene_id` names its scene for the menu. None when the patient has no plan."""
        self.planned_scene_id = None
        getter = getattr(self.store, "current_session_plan", None)
        row = getter(code) if getter is not None else None
        if row is None:
            return None
        from engine.analysis.progression import Plan

        plan = Plan.from_dict(row["plan"])
        saved, self.who = self.who, f"plan v{row['version']} ({row['decision']} by {row['who']})"
        try:
            self.change_settings(**plan.settings(rx))
        finally:
            self.who = saved
        self.planned_scene_id = plan.scene_id
        return row

    def _fit_settings_to(self, rx: Prescription) -> None:
        """Bring guidance and body-weight support inside the prescription's ranges (logged when
        they move), so the menu, the core and the audit show the value the devices get."""
        fitted = {name: value for name, value in self.clamp_to_prescription(dict(self.settings)).items()
                  if name in ("guidance", "bws_fraction") and value != self.settings.get(name)}
        if fitted:
            self.change_settings(**fitted)

    def setting_range(self, name: str) -> tuple[float, float]:
        """The range a setting may take for the selected patient (absolute units, see above)."""
        rx = self.prescription or Prescription()
        if name in RX_RANGES:
            low_field, high_field = RX_RANGES[name]
            return float(getattr(rx, low_field)), float(getattr(rx, high_field))
        return 0.0, 1.0

    def clamp_to_prescription(self, settings: dict[str, float]) -> dict[str, float]:
        """Guidance and body-weight support values limited to the prescribed ranges."""
        out = dict(settings)
        for name, value in settings.items():
            # Only finite real numbers are clamped here; anything else goes on to the writer,
            # which refuses it naming the field (SettingError), never a bare ValueError.
            if name in RX_RANGES and isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and not math.isnan(float(value)):  # +-inf clamps to the range's ends
                low, high = self.setting_range(name)
                out[name] = min(max(float(value), low), high)
        return out

    def create_patient(self, code: str, rx: Prescription, **details) -> Prescription:
        """A new pseudonymous patient with a prescription; selects them."""
        if self.store is not None:
            self.store.ensure_patient(code, **details)
            self.store.add_prescription(code, rx)
        self._audit("patient_created", None, code, code)
        return self.select_patient(code)

    def set_prescription(self, rx: Prescription) -> None:
        """A new prescription version for the selected patient (the core takes it while stopped)."""
        old = self.prescription.to_dict() if self.prescription else None
        if self.store is not None and self.patient_code:
            self.store.add_prescription(self.patient_code, rx)
        self.prescription = rx
        self.writer.set_prescription(rx)
        self._audit("prescription", old, rx.to_dict(), rx.to_dict())
        self._fit_settings_to(rx)

    # -- scene and goals ------------------------------------------------------------------------
    def select_scene(self, choice: SceneChoice) -> None:
        """Hand the scene's obstacle timeline to the core (it resets s to 0)."""
        old = self.scene.scene_id if self.scene else None
        self.scene = choice
        self.writer.load_timeline(choice.timeline, choice.route_length_m, choice.base_speed_fraction)
        self._audit("scene", old, choice.scene_id, choice.scene_id)

    def set_goals(self, steps: int | None = None, distance_m: float | None = None, time_s: float | None = None) -> None:
        """Session goals (0 = no goal)."""
        given = {"steps": steps, "distance_m": distance_m, "time_s": time_s}
        self.writer.set_goals(**given)
        for name, value in given.items():
            if value is None:
                continue
            old = self.goals.get(name)
            self.goals[name] = value
            self._audit(f"goal_{name}", old, value, value)

    # -- live settings --------------------------------------------------------------------------
    def change_settings(self, **settings: float) -> dict[str, tuple[float, float]]:
        """Change live settings; returns {field: (requested, applied)} and logs each one.
        Guidance and body-weight support are clamped to the prescription before they are sent,
        so `applied` is what the core applies (it clamps to the same range)."""
        clamped = self.clamp_to_prescription(settings)
        result = self.writer.set_settings(**clamped)
        result = {name: (settings.get(name, requested), applied) for name, (requested, applied) in result.items()}
        for name, (requested, applied) in result.items():
            old = self.settings.get(name)
            self.settings[name] = applied
            self._audit(name, old, requested, applied)
        return result

    def set_pace(self, pace: str) -> None:
        """Pace mode by name (scene, fixed, self), live; audited like any setting."""
        try:
            mode = layout.PaceMode[pace.upper()]
        except KeyError:
            raise ValueError(f"pace: {pace!r} is not one of scene, fixed, self") from None
        self.change_settings(pace_mode=float(mode))

    def apply_all_settings(self) -> None:
        """Send every current setting (at session start, so the core starts from the menu's values)."""
        self.writer.set_settings(**self.settings)

    # -- run ------------------------------------------------------------------------------------
    def open_session(self) -> int | None:
        """Create the session record (patient, scene, goals, settings) without starting the belt,
        so the recorder can attach before the first step; flushes the audit rows queued so far."""
        if self.scene is None:
            raise RuntimeError("pick a scene before starting")
        if self.patient_code is None:
            raise RuntimeError("pick a patient before starting")
        if self.store is not None and self.session_id is None:
            settings = dict(self.settings)
            if self.simulated:
                settings["data_source"] = "walked by the virtual rig's simulated patient"
            self.session_id = self.store.start_session(
                self.patient_code, self.scene.scene_id, dict(self.goals), settings,
                vr=self.vr, simulated=self.simulated,
            )
            pending, self._pending = self._pending, []
            saved = self.who
            try:
                for *row, who in pending:
                    self.who = who  # who made the change then (a therapist, a session plan)
                    self._audit(*row)
            finally:
                self.who = saved
        return self.session_id

    def start(self) -> int | None:
        """Open the session record if needed, send the settings and ask the core to walk."""
        self.open_session()
        self.apply_all_settings()
        # The audit row first: a database write can take a while on a busy disk, and once the
        # belt moves the frame loop must not miss its 100 ms heartbeat for it.
        old, self.run_state = self.run_state, "running"
        self._audit("run", old, "start", "running")
        # The core refuses to start on a stale heartbeat; a start pressed after a slow frame
        # (a thumbnail, a screenshot) must not be dropped for that.
        self.writer.heartbeat()
        self.writer.start()
        return self.session_id

    def pause(self) -> None:
        """Belt to a stop, scene frozen."""
        self.writer.pause()
        old, self.run_state = self.run_state, "paused"
        self._audit("run", old, "pause", "paused")

    def resume(self) -> None:
        """Continue after a pause."""
        self.writer.heartbeat()
        self.writer.resume()
        old, self.run_state = self.run_state, "running"
        self._audit("run", old, "resume", "running")

    def stop(self, who: str | None = None) -> None:
        """Software stop: a controlled stop of the belt and the exoskeleton."""
        self.writer.stop()
        old, self.run_state = self.run_state, "stopping"
        if who is not None:
            saved, self.who = self.who, who
            self._audit("run", old, "stop", "stopping")
            self.who = saved
        else:
            self._audit("run", old, "stop", "stopping")

    def rearm(self) -> None:
        """The therapist confirms the devices are safe after a fault stop."""
        self.writer.rearm()
        self._audit("rearm", None, 1, 1)

    def ack_alarms(self, state=None) -> None:
        """Acknowledge every alarm on screen."""
        reasons = []
        if state is not None:
            reasons = [int(a["reason"]) for a in state["alarms"] if a["reason"] and not a["acked"]]
        self.writer.ack_alarms()
        names = ",".join(layout.AlarmReason(r).name for r in reasons if r in layout.AlarmReason._value2member_map_)
        self._audit("alarms_acked", None, names or "all", names or "all")

    def end(self, outcome: str, summary: dict) -> None:
        """Close the session record with its outcome (idempotent)."""
        self.write_in_background(False)  # what is queued first
        if self.store is not None and self.session_id is not None:
            from engine.records.summary import finalize_summary  # aggregates, not the last stride

            self.store.end_session(self.session_id, outcome, finalize_summary(self.store, self.session_id, summary))
        self.run_state = "ended"


def wait_for_state(channels, done, timeout_s: float, poll_s: float = 0.01) -> bool:
    """Poll the core's state block until done(snapshot), at most timeout_s; True when it was.
    A read that finds the core mid-write for longer than the block's timeout (the host froze its
    CPU there: 100 ms in CI) is tried again at the next poll."""
    import numpy as np

    snapshot = np.zeros((), dtype=layout.STATE_DTYPE)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            channels.state.read(snapshot)
            if done(snapshot):
                return True
        except TimeoutError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)

