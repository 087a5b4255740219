"""The therapist menu (DirectGUI, keyboard and mouse): patient, scene, goals, run controls and
live settings. Every widget calls the SessionController, which writes the command block and the
audit log; the menu itself holds no state the core or the records need.

Sliders are debounced: dragging one produces many values, and the audit log should hold the
value the therapist settled on, not every pixel of the drag (`SLIDER_SETTLE_S`).
The software stop is a big red button and the space bar, reachable whatever panel is open.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from engine.analysis.report_section import latest_findings_line
from engine.control.prescription import Prescription, PrescriptionError

log = logging.getLogger(__name__)

SLIDER_SETTLE_S = 0.3
FONT_SCALE = 0.045
SLIDERS = {  # setting -> label
    "speed_fraction": "Speed (fraction of max)",
    "guidance": "Guidance",
    "bws_fraction": "Body-weight support",
}
RX_FIELDS = [
    ("max_speed_mps", "Max speed m/s"),
    ("max_accel_mps2", "Accel m/s2"),
    ("max_decel_mps2", "Decel m/s2"),
    ("guidance_min", "Guidance min"),
    ("guidance_max", "Guidance max"),
    ("bws_min", "BWS min"),
    ("bws_max", "BWS max"),
    ("leg_length_l_m", "Leg L m"),
    ("leg_length_r_m", "Leg R m"),
]
SIDES = {"none": -1, "left": 0, "right": 1}


@dataclass
class SceneEntry:
    """One line of the scene list."""

    scene_id: str
    title: str
    environment: str = ""
    difficulty: str = ""
    description: str = ""
    error: str = ""  # non-empty for a broken scene
    thumbnail: object = None  # a Texture or a file path


def scene_entries(library) -> list[SceneEntry]:
    """Scene list rows from a SceneLibrary (valid scenes first, then broken ones with errors)."""
    rows = []
    scenes = getattr(library, "scenes", {}) or {}
    items = scenes.items() if isinstance(scenes, dict) else ((getattr(s, "id", str(i)), s) for i, s in enumerate(scenes))
    for scene_id, scene in items:
        rows.append(
            SceneEntry(
                scene_id=str(getattr(scene, "id", scene_id)),
                title=str(getattr(scene, "title", scene_id)),
                environment=str(getattr(getattr(scene, "environment", None), "type", "")).replace("_", " "),
                difficulty=str(getattr(scene, "difficulty", "")),
                description=str(getattr(scene, "description", "") or ""),
            )
        )
    broken = getattr(library, "broken", {}) or {}
    items = broken.items() if isinstance(broken, dict) else ((str(getattr(b, "path", i)), b) for i, b in enumerate(broken))
    for path, error in items:
        text = error if isinstance(error, str) else "; ".join(map(str, error)) if isinstance(error, (list, tuple)) else str(getattr(error, "message", error))
        rows.append(SceneEntry(scene_id="", title=str(path), error=text))
    return rows


class TherapistMenu:
    """Builds the widgets on `parent` (aspect2d) and routes every action to `controller`.

    `on_scene_chosen(scene_id) -> SceneChoice` turns a list click into the scene handed to the
    core (the app loads the scene and its timeline); `thumbnail_for(scene_id)` gives a texture.
    """

    def __init__(self, base, parent, controller, library=None, patients: list[str] | None = None,
                 on_scene_chosen=None, thumbnail_for=None, on_start=None, on_stop=None) -> None:
        from direct.gui.DirectGui import (
            DGG,
            DirectButton,
            DirectCheckButton,
            DirectEntry,
            DirectFrame,
            DirectLabel,
            DirectOptionMenu,
            DirectScrolledList,
            DirectSlider,
        )
        from panda3d.core import TextNode

        self.base = base
        self.controller = controller
        self.on_scene_chosen = on_scene_chosen
        self.thumbnail_for = thumbnail_for
        self.on_start = on_start
        self.on_stop = on_stop
        self.root = parent.attach_new_node("therapist-menu")
        self.buttons: dict = {}
        self.entries: dict = {}
        self.sliders: dict = {}
        self.scene_rows = scene_entries(library) if library is not None else []
        self.selected_scene: str | None = None
        self.message = ""
        self._pending: dict[str, tuple[float, float]] = {}  # setting -> (value, changed at)
        self._now_s = 0.0

        def label(text, pos, scale=FONT_SCALE, fg=(1, 1, 1, 1), parent=None, align=TextNode.A_left):
            return DirectLabel(parent=parent or self.root, text=text, pos=pos, text_scale=scale, text_fg=fg,
                               text_align=align, frameColor=(0, 0, 0, 0))

        def button(name, text, pos, command, scale=0.05, colour=(0.25, 0.3, 0.4, 1), fg=(1, 1, 1, 1), parent=None):
            widget = DirectButton(parent=parent or self.root, text=text, pos=pos, scale=scale, command=command,
                                  frameColor=colour, text_fg=fg, pad=(0.3, 0.2), relief=DGG.FLAT)
            self.buttons[name] = widget
            return widget

        def entry(name, initial, pos, width=6, command=None):
            widget = DirectEntry(parent=self.root, initialText=str(initial), pos=pos, scale=0.04, width=width,
                                 numLines=1, command=command, focus=0, frameColor=(0.9, 0.9, 0.9, 1))
            self.entries[name] = widget
            return widget

        self.background = DirectFrame(parent=self.root, frameColor=(0.12, 0.13, 0.16, 1), frameSize=(-1.78, 1.78, -1, 1))
        self.background.set_bin("background", 0)
        # -- patient ----------------------------------------------------------------------------
        label("Patient", (-1.72, 0, 0.9), 0.06, (0.6, 0.85, 1, 1))
        entry("patient_code", patients[0] if patients else "", (-1.72, 0, 0.82), width=9)
        button("select_patient", "Select", (-1.2, 0, 0.83), self.select_patient_from_entry)
        button("create_patient", "Create", (-1.0, 0, 0.83), self.create_patient_from_entries)
        self.patient_menu = None
        if patients:
            # Pick from the known patients, or type a new code and press Create.
            self.patient_menu = DirectOptionMenu(parent=self.root, items=list(patients), initialitem=0, scale=0.04,
                                                 pos=(-0.78, 0, 0.83), command=self.pick_patient,
                                                 highlightColor=(0.5, 0.6, 0.8, 1))
        self.patient_label = label("", (-1.72, 0, 0.75), 0.04, (0.8, 0.8, 0.8, 1))
        rx = Prescription()
        for i, (name, text) in enumerate(RX_FIELDS):
            x = -1.72 + (i % 3) * 0.36
            z = 0.66 - (i // 3) * 0.1
            label(text, (x, 0, z + 0.035), 0.032, (0.75, 0.75, 0.75, 1))
            entry(f"rx_{name}", getattr(rx, name), (x, 0, z - 0.01), width=4.5)
        label("Affected side", (-1.72, 0, 0.36), 0.032, (0.75, 0.75, 0.75, 1))
        self.side_menu = DirectOptionMenu(parent=self.root, items=list(SIDES), initialitem=0, scale=0.04,
                                          pos=(-1.45, 0, 0.355))
        # -- scenes -----------------------------------------------------------------------------
        label("Scenes", (-1.72, 0, 0.24), 0.06, (0.6, 0.85, 1, 1))
        scene_buttons = []
        for row in self.scene_rows:
            if row.error:
                text = f"BROKEN {row.title}: {row.error}"[:90]
                widget = DirectButton(text=text, scale=0.032, text_fg=(1, 0.45, 0.45, 1), frameColor=(0, 0, 0, 0),
                                      text_align=TextNode.A_left, relief=None, command=self._show_error, extraArgs=[row])
            else:
                text = f"{row.title}  [{row.environment}, {row.difficulty}]"
                widget = DirectButton(text=text, scale=0.038, text_fg=(1, 1, 1, 1), frameColor=(0, 0, 0, 0),
                                      text_align=TextNode.A_left, relief=None, command=self.pick_scene,
                                      extraArgs=[row.scene_id])
                self.buttons[f"scene:{row.scene_id}"] = widget
            scene_buttons.append(widget)
        self.scene_list = DirectScrolledList(
            parent=self.root, items=scene_buttons, numItemsVisible=7, itemFrame_frameSize=(-0.02, 1.5, -0.4, 0.06),
            itemFrame_pos=(0, 0, 0), itemFrame_frameColor=(0.2, 0.22, 0.27, 1), pos=(-1.7, 0, 0.12),
            frameColor=(0, 0, 0, 0), forceHeight=0.065,
            decButton_text="^", decButton_scale=0.05, decButton_pos=(1.55, 0, 0.03),
            incButton_text="v", incButton_scale=0.05, incButton_pos=(1.55, 0, -0.38),
        )
        self.scene_title = label("", (-1.72, 0, -0.36), 0.045, (1, 1, 0.7, 1))
        self.scene_description = label("", (-1.72, 0, -0.42), 0.035, (0.85, 0.85, 0.85, 1))
        self.scene_description["text_wordwrap"] = 28
        self.thumbnail = DirectFrame(parent=self.root, frameSize=(0, 0.64, 0, 0.36), pos=(-0.66, 0, -0.72),
                                     frameColor=(0.2, 0.2, 0.2, 1))
        # -- session ----------------------------------------------------------------------------
        label("Session", (-0.12, 0, 0.9), 0.06, (0.6, 0.85, 1, 1))
        for i, (name, text, initial) in enumerate((("goal_steps", "Goal steps", 100), ("goal_distance_m", "Goal distance m", 0),
                                                  ("goal_time_s", "Goal time s", 0))):
            label(text, (-0.12 + i * 0.3, 0, 0.84), 0.032, (0.75, 0.75, 0.75, 1))
            entry(name, initial, (-0.12 + i * 0.3, 0, 0.79), width=5)
        button("set_goals", "Set goals", (0.85, 0, 0.8), self.set_goals_from_entries)
        button("start", "Start", (-0.05, 0, 0.66), self.start, 0.06, (0.1, 0.5, 0.2, 1))
        button("pause", "Pause", (0.22, 0, 0.66), self.pause, 0.06)
        button("resume", "Resume", (0.5, 0, 0.66), self.resume, 0.06)
        button("ack", "Acknowledge alarms", (0.98, 0, 0.66), self.ack_alarms, 0.045, (0.6, 0.5, 0.1, 1))
        button("rearm", "Re-arm", (1.45, 0, 0.66), self.rearm, 0.045, (0.35, 0.35, 0.6, 1))
        # -- live settings ----------------------------------------------------------------------
        for i, (name, text) in enumerate(SLIDERS.items()):
            z = 0.5 - i * 0.14
            label(text, (-0.12, 0, z + 0.03), 0.038)
            value = controller.settings.get(name, 0.5)
            slider = DirectSlider(parent=self.root, range=(0, 1), value=value, pageSize=0.05, scale=0.42,
                                  pos=(0.42, 0, z - 0.03), command=self._slider_moved, extraArgs=[name])
            self.sliders[name] = slider
            self.entries[f"value:{name}"] = label(f"{value:.2f}", (0.9, 0, z - 0.04), 0.04)
        self.assist_check = DirectCheckButton(parent=self.root, text="Assist as needed", scale=0.04,
                                              pos=(0.1, 0, 0.03), command=self.set_assist_as_needed,
                                              indicatorValue=int(controller.settings.get("assist_as_needed", 0)))
        self.buttons["assist_as_needed"] = self.assist_check
        # -- the software stop: always visible, always on top ----------------------------------
        # Parented beside the menu, not in it: hiding the menu (patient view) keeps the stop visible.
        stop = button("stop", "STOP", (1.45, 0, -0.82), self.software_stop, 0.12, (0.8, 0.05, 0.05, 1), parent=parent)
        stop.set_bin("gui-popup", 100)
        self.status_label = label("", (-0.12, 0, -0.93), 0.04, (1, 0.9, 0.5, 1))
        self.findings_label = label("", (-0.12, 0, -0.87), 0.032, (0.8, 0.9, 1, 1))  # engine/analysis
        base.accept("space", self.software_stop)
        self._update_patient_label()

    # -- patient --------------------------------------------------------------------------------
    def _update_patient_label(self) -> None:
        rx = self.controller.prescription
        code = self.controller.patient_code
        self.patient_label["text"] = (
            f"{code}: max {rx.max_speed_mps:.2f} m/s, guidance {rx.guidance_min:.1f}-{rx.guidance_max:.1f}, "
            f"BWS {rx.bws_min:.2f}-{rx.bws_max:.2f}" if code and rx else "no patient selected"
        )

    def select_patient_from_entry(self) -> None:
        """Select the patient typed in the code box."""
        self.pick_patient(self.entries["patient_code"].get().strip())

    def pick_patient(self, code: str) -> None:
        """Select a patient and load their prescription into the form and the core."""
        if not code:
            self._status("type a patient code")
            return
        rx = self.controller.select_patient(code)
        if self.entries["patient_code"].get().strip() != code:
            self.entries["patient_code"].enterText(code)
        for name, _ in RX_FIELDS:
            self.entries[f"rx_{name}"].enterText(f"{getattr(rx, name):g}")
        side = {v: k for k, v in SIDES.items()}[rx.affected_side]
        self.side_menu.set(list(SIDES).index(side), fCommand=0)
        self._update_patient_label()
        self.findings_label["text"] = latest_findings_line(getattr(self.controller, "store", None), code)
        self._status(f"patient {code} selected")

    def prescription_from_entries(self) -> Prescription:
        """The prescription in the form (PrescriptionError names a bad field)."""
        values = {}
        for name, _ in RX_FIELDS:
            text = self.entries[f"rx_{name}"].get().strip()
            try:
                values[name] = float(text)
            except ValueError as exc:
                raise PrescriptionError(f"{name}: {text!r} is not a number") from exc
        values["affected_side"] = SIDES[self.side_menu.get()]
        return Prescription.from_dict(values)

    def create_patient_from_entries(self) -> None:
        """Create the patient typed in the code box with the prescription in the form."""
        code = self.entries["patient_code"].get().strip()
        try:
            rx = self.prescription_from_entries()
        except PrescriptionError as exc:
            self._status(f"prescription: {exc}")
            return
        if not code:
            self._status("type a pseudonymous patient code")
            return
        self.controller.create_patient(code, rx)
        self._update_patient_label()
        self._status(f"patient {code} created")

    # -- scene ----------------------------------------------------------------------------------
    def pick_scene(self, scene_id: str) -> None:
        """Select a scene: details, thumbnail, and its timeline to the core."""
        row = next((r for r in self.scene_rows if r.scene_id == scene_id and not r.error), None)
        if row is None:
            self._status(f"no scene {scene_id!r}")
            return
        self.selected_scene = scene_id
        self.scene_title["text"] = f"{row.title} ({row.environment}, {row.difficulty})"
        self.scene_description["text"] = row.description
        if self.thumbnail_for is not None:
            try:
                texture = self.thumbnail_for(scene_id)
                if texture is not None:
                    self.thumbnail["frameTexture"] = texture
                    self.thumbnail["frameColor"] = (1, 1, 1, 1)
            except Exception as exc:  # a missing thumbnail must not block picking the scene
                log.warning("thumbnail for %s: %s", scene_id, exc)
        if self.on_scene_chosen is not None:
            choice = self.on_scene_chosen(scene_id)
            self.controller.select_scene(choice)
        self._status(f"scene {row.title} selected")

    def _show_error(self, row: SceneEntry) -> None:
        self._status(f"{row.title}: {row.error}")

    # -- session --------------------------------------------------------------------------------
    def set_goals_from_entries(self) -> None:
        """Send the goals typed in the three boxes."""
        try:
            steps = int(float(self.entries["goal_steps"].get() or 0))
            distance_m = float(self.entries["goal_distance_m"].get() or 0)
            time_s = float(self.entries["goal_time_s"].get() or 0)
        except ValueError:
            self._status("goals must be numbers")
            return
        if not all(math.isfinite(v) and v >= 0 for v in (steps, distance_m, time_s)):
            self._status("goals must be positive numbers")
            return
        self.controller.set_goals(steps=steps, distance_m=distance_m, time_s=time_s)
        self._status(f"goals: {steps} steps, {distance_m:g} m, {time_s:g} s")

    def start(self) -> None:
        """Start the session (after picking a patient and a scene)."""
        self.flush_pending(force=True)
        try:
            if self.on_start is not None:
                self.on_start()  # e.g. open the session record and attach the recorder first
            self.controller.start()
        except RuntimeError as exc:
            self._status(str(exc))
            return
        self._status("running")

    def pause(self) -> None:
        """Pause: belt to a stop, scene frozen."""
        self.controller.pause()
        self._status("paused")

    def resume(self) -> None:
        """Resume after a pause."""
        self.controller.resume()
        self._status("running")

    def software_stop(self) -> None:
        """The software stop (button and space bar): controlled stop of belt and exoskeleton."""
        self.controller.stop()
        if self.on_stop is not None:
            self.on_stop()
        self._status("STOP: controlled stop")

    def ack_alarms(self) -> None:
        """Acknowledge the alarms on the banner."""
        self.controller.ack_alarms(getattr(self, "last_state", None))

    def rearm(self) -> None:
        """After a fault stop, the therapist confirms the cause is gone: the devices are re-armed
        and the core goes back to IDLE, so Start can walk again (nothing restarts by itself)."""
        self.controller.rearm()
        self._status("devices re-armed: press Start when ready")

    # -- live settings --------------------------------------------------------------------------
    def _slider_moved(self, name: str) -> None:
        value = float(self.sliders[name]["value"])
        self.entries[f"value:{name}"]["text"] = f"{value:.2f}"
        if abs(value - float(self.controller.settings.get(name, math.nan))) < 1e-4:
            return
        self._pending[name] = (value, None)  # stamped by the next update(): its clock is the frame's

    def set_assist_as_needed(self, on) -> None:
        """Assist-as-needed on or off."""
        self.controller.change_settings(assist_as_needed=1.0 if on else 0.0)

    def set_setting(self, name: str, value: float) -> None:
        """Move a slider as the therapist would and apply it at once."""
        self.sliders[name]["value"] = value
        self._pending[name] = (float(value), self._now_s)
        self.entries[f"value:{name}"]["text"] = f"{value:.2f}"
        self.flush_pending(force=True)

    def flush_pending(self, force: bool = False) -> None:
        """Apply slider values that settled (or all of them when forced)."""
        for name, (value, at) in list(self._pending.items()):
            if at is None:
                self._pending[name] = (value, self._now_s)
        ready = {n: v for n, (v, at) in self._pending.items() if force or self._now_s - at >= SLIDER_SETTLE_S}
        if not ready:
            return
        for name in ready:
            del self._pending[name]
        self.controller.change_settings(**ready)

    def update(self, now_s: float, state=None) -> None:
        """Per-frame: settle sliders and remember the state for acknowledging alarms."""
        self._now_s = now_s
        if state is not None:
            self.last_state = state
        self.flush_pending()

    def _status(self, text: str) -> None:
        self.message = text
        self.status_label["text"] = text
        log.info("menu: %s", text)

    def show(self) -> None:
        self.root.show()

    def hide(self) -> None:
        self.root.hide()

    def destroy(self) -> None:
        """Remove the widgets and the space-bar binding."""
        self.base.ignore("space")
        self.buttons["stop"].destroy()
        self.root.remove_node()
