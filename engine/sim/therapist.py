"""The therapist's side of a simulated session: commands to the core and the audit log.

What engine/session/controller.py does for a live session, reduced to what a scripted session
needs (engine/sim must not import the session orchestration: tests/test_import_layers.py): the
prescription, the scene's timeline, goals and settings go to the core through the CommandWriter,
guidance and body-weight support clamped to the prescription as the live controller clamps them,
and every choice lands in the session's audit log (`who` = "simulate").
"""

from __future__ import annotations

import datetime
import math

# Live settings and what they start at: the same table as the live controller's DEFAULT_SETTINGS
# (docs/engine.md "Settings and their units").
DEFAULT_SETTINGS: dict[str, float] = {
    "speed_fraction": 0.6,
    "guidance": 0.5,
    "guidance_min": 0.0,
    "guidance_max": 1.0,
    "assist_as_needed": 0.0,
    "guidance_locked": 0.0,
    "bws_fraction": 0.3,
}
RX_RANGES = {"guidance": ("guidance_min", "guidance_max"), "guidance_min": ("guidance_min", "guidance_max"),
             "guidance_max": ("guidance_min", "guidance_max"), "bws_fraction": ("bws_min", "bws_max")}
DATA_SOURCE = "walked by the virtual rig's simulated patient (simulate)"


class SimTherapist:
    """Scripted therapist actions for one simulated session."""

    def __init__(self, writer, store=None, who: str = "simulate") -> None:
        self.writer = writer
        self.store = store
        self.who = who
        self.patient_code: str | None = None
        self.rx = None
        self.scene_id: str | None = None
        self.goals: dict[str, float] = {"steps": 0, "distance_m": 0.0, "time_s": 0.0}
        self.settings = dict(DEFAULT_SETTINGS)
        self.session_id: int | None = None
        self._pending: list[tuple] = []

    def _audit(self, setting: str, old, new, applied) -> None:
        if self.store is None:
            return
        if self.session_id is None:
            self._pending.append((setting, old, new, applied))
        else:
            self.store.log_setting(self.session_id, self.who, setting, old, new, applied)

    def select_patient(self, code: str, rx) -> None:
        self.patient_code, self.rx = code, rx
        self.writer.set_prescription(rx)
        self._audit("patient", None, code, code)

    def select_scene(self, scene) -> None:
        from engine.scene.timeline import scene_to_timeline

        self.scene_id = scene.id
        self.writer.load_timeline(scene_to_timeline(scene), float(scene.route_length_m),
                                  float(scene.base_speed_fraction))
        self._audit("scene", None, scene.id, scene.id)

    def set_goals(self, **goals) -> None:
        self.writer.set_goals(**goals)
        for name, value in goals.items():
            old, self.goals[name] = self.goals.get(name), value
            self._audit(f"goal_{name}", old, value, value)

    def change_settings(self, **settings: float) -> None:
        clamped = dict(settings)
        for name, value in settings.items():
            if name in RX_RANGES and self.rx is not None and math.isfinite(float(value)):
                low, high = (float(getattr(self.rx, f)) for f in RX_RANGES[name])
                clamped[name] = min(max(float(value), low), high)
        for name, (_requested, applied) in self.writer.set_settings(**clamped).items():
            old, self.settings[name] = self.settings.get(name), applied
            self._audit(name, old, settings.get(name, applied), applied)

    def open_session(self, started_at: datetime.datetime | None = None) -> int | None:
        if self.store is None:
            return None
        settings = dict(self.settings, data_source=DATA_SOURCE)
        self.session_id = self.store.start_session(self.patient_code, self.scene_id, dict(self.goals), settings,
                                                   simulated=True, started_at=started_at)
        pending, self._pending = self._pending, []
        for row in pending:
            self._audit(*row)
        return self.session_id

    def start(self) -> None:
        self.writer.set_settings(**self.settings)
        self._audit("run", "idle", "start", "running")
        self.writer.heartbeat()
        self.writer.start()

    def stop(self, who: str) -> None:
        self.writer.stop()
        saved, self.who = self.who, who
        self._audit("run", "running", "stop", "stopping")
        self.who = saved

    def end(self, outcome: str, summary: dict, ended_at: datetime.datetime | None = None) -> None:
        if self.store is not None and self.session_id is not None:
            self.store.end_session(self.session_id, outcome, summary, ended_at=ended_at)
