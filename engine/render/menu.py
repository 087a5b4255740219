"""The therapist menu (DirectGUI, keyboard and mouse): patient, scene, goals, run controls and
live settings. Every widget calls the SessionController, which writes the command block and the
audit log; the menu itself holds no state the core or the records need.

Sliders are debounced: dragging one produces many values, and the audit log should hold the
value the therapist settled on, not every pixel of the drag (`SLIDER_SETTLE_S`).
The software stop is a big red button and the space bar, reachable whatever panel is open.

Settings have one meaning each, shown with their unit on the slider, in the live panel and in the
audit log (docs/engine.md, "Settings and their units"): speed is a fraction of the prescribed
maximum speed; guidance is absolute, 0..1 of full robot assistance; body-weight support is
absolute, % of body weight. Guidance and body-weight-support sliders span the prescribed range.

The status line always agrees with the core's run state: a change of state the therapist did
not ask for (a fault stop, a refused start) replaces it with what happened and why.
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
DESIGN_ASPECT = 16 / 9  # the layout fills a 16:9 window; a narrower one scales it down to fit
SLIDERS = ("speed_fraction", "guidance", "bws_fraction")
# (prescription field, label with unit, factor from the stored value to the one shown)
RX_FIELDS = [
    ("max_speed_mps", "Max speed (m/s)", 1.0),
    ("max_accel_mps2", "Accel (m/s2)", 1.0),
    ("max_decel_mps2", "Decel (m/s2)", 1.0),
    ("guidance_min", "Guidance min (0-1)", 1.0),
    ("guidance_max", "Guidance max (0-1)", 1.0),
    ("leg_length_l_m", "Leg L (m)", 1.0),
    ("bws_min", "BWS min (% body wt)", 100.0),
    ("bws_max", "BWS max (% body wt)", 100.0),
    ("leg_length_r_m", "Leg R (m)", 1.0),
]
SIDES = {"none": -1, "left": 0, "right": 1}
NO_PATIENT = "(choose a patient)"  # the drop-down's first item: nobody is selected until picked
SCENE_ROW_RGBA = (0, 0, 0, 0)
SCENE_CHOSEN_RGBA = (0.2, 0.45, 0.75, 1)


def setting_text(name: str, value: float, rx: Prescription | None) -> str:
    """A live setting with its unit and meaning, as the slider label shows it."""
    rx = rx or Prescription()
    if name == "speed_fraction":
        return (f"Speed: {value:.2f} x prescribed max {rx.max_speed_mps:.2f} m/s "
                f"= {value * rx.max_speed_mps:.2f} m/s")
    if name == "guidance":
        return (f"Guidance: {value:.2f} of full robot assistance "
                f"(prescribed {rx.guidance_min:.2f}-{rx.guidance_max:.2f})")
    if name == "bws_fraction":
        return (f"Body-weight support: {value * 100:.0f} % of body weight "
                f"(prescribed {rx.bws_min * 100:.0f}-{rx.bws_max * 100:.0f} %)")
    return f"{name}: {value:.2f}"


def _shown(value: float, factor: float) -> str:
    return f"{value * factor:.4g}"


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
    core (the app loads the scene and its timeline); `thumbnail_for(scene_id)` gives a texture;
    `on_quit()` is called when the therapist confirms Quit.

    Layout (16:9, aspect2d units): patient and prescription top left, scenes below them, session
    and live settings in the middle, the live panel on the right (added by the desktop), the
    status line above a band at the bottom that is kept free for the alarm banner, STOP bottom
    right, Quit top right.
    """

    def __init__(self, base, parent, controller, library=None, patients: list[str] | None = None,
                 on_scene_chosen=None, thumbnail_for=None, on_start=None, on_stop=None, on_quit=None,
                 notice: str = "") -> None:
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
        self.on_quit = on_quit
        self.root = parent.attach_new_node("therapist-menu")
        self.buttons: dict = {}
        self.entries: dict = {}
        self.sliders: dict = {}
        self.slider_labels: dict = {}
        self.labels: list = []  # every caption and text (the layout test checks none overlaps)
        self.scene_rows = scene_entries(library) if library is not None else []
        self.selected_scene: str | None = None
        self.patients: list[str] = list(patients or [])
        self.message = ""
        self.last_state = None
        self._run_state: int | None = None
        self._pending: dict[str, tuple[float, float]] = {}  # setting -> (value, changed at)
        self._now_s = 0.0
        self.changed = True  # something on screen changed since the desktop last drew

        def label(text, pos, scale=FONT_SCALE, fg=(1, 1, 1, 1), parent=None, align=TextNode.A_left, wrap=None):
            widget = DirectLabel(parent=parent or self.root, text=text, pos=pos, text_scale=scale, text_fg=fg,
                                 text_align=align, frameColor=(0, 0, 0, 0))
            if wrap:
                widget["text_wordwrap"] = wrap
            self.labels.append(widget)
            return widget

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

        def small(text, pos):  # a field's caption, clear of the box under it
            return label(text, pos, 0.032, (0.75, 0.75, 0.75, 1))

        self.background = DirectFrame(parent=self.root, frameColor=(0.12, 0.13, 0.16, 1), frameSize=(-1.78, 1.78, -1, 1))
        self.background.set_bin("background", 0)
        # -- patient ----------------------------------------------------------------------------
        label("Patient", (-1.72, 0, 0.9), 0.06, (0.6, 0.85, 1, 1))
        small("Code (pseudonymous)", (-1.72, 0, 0.835))
        entry("patient_code", "", (-1.72, 0, 0.78), width=8)
        button("select_patient", "Select", (-1.24, 0, 0.785), self.select_patient_from_entry)
        button("create_patient", "Create", (-1.03, 0, 0.785), self.create_patient_from_entries)
        small("Known patients", (-0.84, 0, 0.835))
        self.patient_menu = DirectOptionMenu(
            parent=self.root, items=[NO_PATIENT, *self.patients], initialitem=0, scale=0.04, pos=(-0.84, 0, 0.785),
            command=self.pick_patient, highlightColor=(0.5, 0.6, 0.8, 1), text_align=TextNode.A_left,
            popupMarker_scale=0.6)
        self.patient_label = label("", (-1.72, 0, 0.69), 0.036, (0.8, 0.8, 0.8, 1), wrap=44)
        rx = Prescription()
        for i, (name, text, factor) in enumerate(RX_FIELDS):
            x = -1.72 + (i % 3) * 0.4
            z = 0.55 - (i // 3) * 0.13
            small(text, (x, 0, z + 0.055))
            entry(f"rx_{name}", _shown(getattr(rx, name), factor), (x, 0, z), width=5)
        small("Affected side", (-1.72, 0, 0.19))
        self.side_menu = DirectOptionMenu(parent=self.root, items=list(SIDES), initialitem=0, scale=0.04,
                                          pos=(-1.45, 0, 0.19))
        # -- scenes -----------------------------------------------------------------------------
        label("Scenes", (-1.72, 0, 0.07), 0.06, (0.6, 0.85, 1, 1))
        scene_buttons = []
        self.scene_buttons: dict = {}
        row_scale = 0.036
        row_frame = (-0.3, 1.42 / row_scale, -0.45, 1.05)  # the whole row lights up when chosen
        for row in self.scene_rows:
            if row.error:
                text = f"BROKEN {row.title}: {row.error}"[:80]
                widget = DirectButton(text=text, scale=0.03, text_fg=(1, 0.45, 0.45, 1), frameColor=SCENE_ROW_RGBA,
                                      text_align=TextNode.A_left, relief=DGG.FLAT, command=self._show_error,
                                      extraArgs=[row], frameSize=(-0.3, 1.42 / 0.03, -0.45, 1.05))
            else:
                text = f"{row.title}  [{row.environment}, {row.difficulty}]"
                widget = DirectButton(text=text, scale=row_scale, text_fg=(1, 1, 1, 1), frameColor=SCENE_ROW_RGBA,
                                      text_align=TextNode.A_left, relief=DGG.FLAT, command=self.pick_scene,
                                      extraArgs=[row.scene_id], frameSize=row_frame)
                self.buttons[f"scene:{row.scene_id}"] = widget
                self.scene_buttons[row.scene_id] = widget
            scene_buttons.append(widget)
        self.scene_list = DirectScrolledList(
            parent=self.root, items=scene_buttons, numItemsVisible=6, itemFrame_frameSize=(-0.02, 1.45, -0.33, 0.05),
            itemFrame_pos=(0, 0, 0), itemFrame_frameColor=(0.2, 0.22, 0.27, 1), pos=(-1.7, 0, 0.0),
            frameColor=(0, 0, 0, 0), forceHeight=0.062,
            decButton_text="^", decButton_scale=0.05, decButton_pos=(1.5, 0, 0.02),
            incButton_text="v", incButton_scale=0.05, incButton_pos=(1.5, 0, -0.3),
        )
        # Title and description left, thumbnail right: they never share space.
        self.scene_title = label("", (-1.72, 0, -0.42), 0.042, (1, 1, 0.7, 1), wrap=23)
        self.scene_description = label("", (-1.72, 0, -0.55), 0.032, (0.85, 0.85, 0.85, 1), wrap=30)
        self.thumbnail = DirectFrame(parent=self.root, frameSize=(0, 0.6, 0, 0.3375), pos=(-0.66, 0, -0.74),
                                     frameColor=(0.2, 0.2, 0.2, 1))
        # -- session ----------------------------------------------------------------------------
        label("Session", (-0.1, 0, 0.9), 0.06, (0.6, 0.85, 1, 1))
        for i, (name, text, initial) in enumerate((("goal_steps", "Goal steps", 100), ("goal_distance_m", "Goal distance (m)", 0),
                                                  ("goal_time_s", "Goal time (s)", 0))):
            small(text, (-0.1 + i * 0.3, 0, 0.835))
            entry(name, initial, (-0.1 + i * 0.3, 0, 0.78), width=5)
        button("set_goals", "Set goals", (0.9, 0, 0.785), self.set_goals_from_entries)
        button("start", "Start", (-0.03, 0, 0.64), self.start, 0.06, (0.1, 0.5, 0.2, 1))
        button("pause", "Pause", (0.24, 0, 0.64), self.pause, 0.06)
        button("resume", "Resume", (0.52, 0, 0.64), self.resume, 0.06)
        button("ack", "Acknowledge alarms", (-0.1 + 0.32, 0, 0.53), self.ack_alarms, 0.045, (0.6, 0.5, 0.1, 1))
        button("rearm", "Re-arm", (0.72, 0, 0.53), self.rearm, 0.045, (0.35, 0.35, 0.6, 1))
        # -- live settings ----------------------------------------------------------------------
        for i, name in enumerate(SLIDERS):
            z = 0.4 - i * 0.15
            value = float(controller.settings.get(name, 0.5))
            self.slider_labels[name] = label("", (-0.1, 0, z + 0.035), 0.036, wrap=30)
            low, high = self._slider_range(name)
            slider = DirectSlider(parent=self.root, range=(low, high), value=min(max(value, low), high), pageSize=0.05,
                                  scale=0.5, pos=(0.42, 0, z - 0.03), command=self._slider_moved, extraArgs=[name])
            self.sliders[name] = slider
        self.assist_check = DirectCheckButton(parent=self.root, text="Assist as needed", scale=0.04,
                                              pos=(0.1, 0, -0.05), command=self.set_assist_as_needed,
                                              indicatorValue=int(controller.settings.get("assist_as_needed", 0)))
        self.buttons["assist_as_needed"] = self.assist_check
        # Pace mode (issue 12): one button cycling scene -> fixed -> self-paced, live and audited.
        button("pace", self._pace_text(), (0.62, 0, -0.05), self.cycle_pace, 0.04, (0.3, 0.4, 0.3, 1))
        # Progression (issue 12): the next session's proposal, Accept / Edit / Reject (progression_panel.py).
        from engine.render.progression_panel import ProgressionPanel

        self.progression = ProgressionPanel(base, self.root, controller, getattr(library, "scenes", None),
                                            on_plan_applied=self.pick_planned_scene)
        button("progression", "Progression", (1.08, 0, -0.05), self.progression.open, 0.04, (0.3, 0.35, 0.5, 1))
        # -- status line: above the band kept free for the alarm banner --------------------------
        self.status_label = label("", (-1.72, 0, -0.8), 0.04, (1, 0.9, 0.5, 1), wrap=68)
        self.findings_label = label("", (-1.72, 0, -0.74), 0.032, (0.8, 0.9, 1, 1), wrap=85)  # engine/analysis
        # -- quit: a button and Escape, both ask first --------------------------------------------
        button("quit", "Quit", (1.64, 0, 0.9), self.ask_quit, 0.045, (0.3, 0.3, 0.33, 1))
        self.quit_dialog = DirectFrame(parent=parent, frameColor=(0.05, 0.05, 0.07, 0.97),
                                       frameSize=(-0.75, 0.75, -0.22, 0.22), pos=(0, 0, 0.1))
        self.quit_dialog.set_bin("gui-popup", 95)
        self.quit_text = label("", (0, 0, 0.1), 0.045, parent=self.quit_dialog, align=TextNode.A_center, wrap=30)
        button("quit_confirm", "Quit", (-0.25, 0, -0.13), self.confirm_quit, 0.055, (0.6, 0.15, 0.15, 1),
               parent=self.quit_dialog)
        button("quit_cancel", "Cancel", (0.25, 0, -0.13), self.cancel_quit, 0.055, parent=self.quit_dialog)
        self.quit_dialog.hide()
        # -- the software stop: always visible, always on top ----------------------------------
        # Parented beside the menu, not in it: hiding the menu (patient view) keeps the stop visible.
        stop = button("stop", "STOP", (1.45, 0, -0.86), self.software_stop, 0.12, (0.8, 0.05, 0.05, 1), parent=parent)
        stop.set_bin("gui-popup", 100)
        base.accept("space", self.software_stop)
        base.accept("escape", self.escape)
        from direct.showbase.DirectObject import DirectObject

        self._events = DirectObject()  # not base.accept: ShowBase handles window-event itself
        self._events.accept("window-event", self._fit_window)
        self._fit_window()
        self._refresh_sliders()
        self._update_patient_label()
        if notice:
            self._status(notice)

    # -- layout ---------------------------------------------------------------------------------
    def _fit_window(self, window=None) -> None:
        """Scale the menu down when the window is narrower than 16:9 (nothing overlaps)."""
        win = getattr(self.base, "win", None)
        if win is None or win.get_y_size() <= 0:
            return
        aspect = win.get_x_size() / win.get_y_size()
        self.root.set_scale(min(1.0, aspect / DESIGN_ASPECT))
        self.changed = True

    # -- patient --------------------------------------------------------------------------------
    def _update_patient_label(self, text: str | None = None) -> None:
        code = self.controller.patient_code
        if text is None:
            text = (f"{code}: the prescription below is the one in use (edit it and press Create to save "
                    f"a new version)" if code else "no patient selected: pick one or type a new code")
        self.patient_label["text"] = text
        self.changed = True

    def _fill_form(self, rx: Prescription) -> None:
        for name, _, factor in RX_FIELDS:
            self.entries[f"rx_{name}"].enterText(_shown(getattr(rx, name), factor))
        side = {v: k for k, v in SIDES.items()}[rx.affected_side]
        self.side_menu.set(list(SIDES).index(side), fCommand=0)

    def _show_patient_in_list(self, code: str) -> None:
        """The drop-down shows `code` (added to the list when new)."""
        if code not in self.patients:
            self.patients.append(code)
            self.patient_menu["items"] = [NO_PATIENT, *self.patients]
        self.patient_menu.set(self.patients.index(code) + 1, fCommand=0)

    def set_patients(self, codes: list[str]) -> None:
        """Replace the drop-down's patients (after a therapist logs in: only theirs)."""
        self.patients = list(codes)
        self.patient_menu["items"] = [NO_PATIENT, *self.patients]
        self._show_current_in_list()
        self.changed = True

    def _show_current_in_list(self) -> None:
        code = self.controller.patient_code
        self.patient_menu.set(self.patients.index(code) + 1 if code in self.patients else 0, fCommand=0)

    def select_patient_from_entry(self) -> None:
        """Select the patient typed in the code box."""
        self.pick_patient(self.entries["patient_code"].get().strip())

    def pick_patient(self, code: str) -> None:
        """Select a patient and load their prescription into the form and the core. A code the
        records do not know selects nobody: the form offers a new prescription to Create."""
        code = code.strip()
        if code == NO_PATIENT:
            self._show_current_in_list()
            return
        if not code:
            self._status("type a patient code")
            return
        if self.entries["patient_code"].get().strip() != code:
            self.entries["patient_code"].enterText(code)
        if not self.controller.known_patient(code):
            self._fill_form(Prescription())
            self._update_patient_label(f"new patient {code}: not in the records yet. Check the prescription "
                                       f"below and press Create")
            current = self.controller.patient_code
            self._status(f"no patient {code!r} in the records: press Create to add them"
                         + (f" ({current} stays selected)" if current else ""))
            return
        rx = self.controller.select_patient(code)
        self._fill_form(rx)
        self._show_patient_in_list(code)
        self._refresh_sliders()
        self._update_patient_label()
        self.findings_label["text"] = latest_findings_line(getattr(self.controller, "store", None), code)
        self._status(f"patient {code} selected")
        self.pick_planned_scene()  # issue 12: the accepted plan's scene, chosen by itself

    def prescription_from_entries(self) -> Prescription:
        """The prescription in the form (PrescriptionError names a bad field)."""
        values = {}
        for name, text_label, factor in RX_FIELDS:
            text = self.entries[f"rx_{name}"].get().strip()
            try:
                values[name] = float(text) / factor
            except ValueError as exc:
                raise PrescriptionError(f"{text_label}: {text!r} is not a number") from exc
        values["affected_side"] = SIDES[self.side_menu.get()]
        return Prescription.from_dict(values)

    def create_patient_from_entries(self) -> None:
        """Save the prescription shown in the form for the code in the box (a new patient, or a
        new prescription version of a known one) and select them."""
        code = self.entries["patient_code"].get().strip()
        if not code:
            self._status("type a pseudonymous patient code")
            return
        try:
            rx = self.prescription_from_entries()
        except PrescriptionError as exc:
            self._status(f"prescription: {exc}")
            return
        existed = self.controller.known_patient(code)
        try:
            saved = self.controller.create_patient(code, rx)
        except PermissionError as exc:  # a logged-in therapist and another team's patient (issue 14)
            self._status(str(exc))
            return
        self._fill_form(saved)  # what the records now hold, read back
        self._show_patient_in_list(code)
        self._refresh_sliders()
        self._update_patient_label()
        self._status(f"patient {code}: new prescription version saved" if existed else f"patient {code} created")

    # -- scene ----------------------------------------------------------------------------------
    def pick_scene(self, scene_id: str) -> None:
        """Select a scene: details, thumbnail, highlight, and its timeline to the core."""
        row = next((r for r in self.scene_rows if r.scene_id == scene_id and not r.error), None)
        if row is None:
            self._status(f"no scene {scene_id!r}")
            return
        self.selected_scene = scene_id
        for other, widget in self.scene_buttons.items():
            chosen = other == scene_id
            widget["frameColor"] = SCENE_CHOSEN_RGBA if chosen else SCENE_ROW_RGBA
            widget["text_fg"] = (1, 1, 0.6, 1) if chosen else (1, 1, 1, 1)
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

    def pick_planned_scene(self) -> str | None:
        """Select the scene of the patient's accepted session plan (issue 12), the way a click
        on it does; the therapist may pick another one after. None when there is no plan, its
        scene is not in the list, or a session is running (the scene is not changed under it)."""
        planned = getattr(self.controller, "planned_scene_id", None)
        if not planned or planned not in self.scene_buttons:
            return None
        if getattr(self.controller, "run_state", None) in ("running", "paused"):
            return None
        self.pick_scene(planned)
        self._status(f"scene {planned} selected: the accepted session plan's")
        return planned

    def _show_error(self, row: SceneEntry) -> None:
        self._status(f"{row.title}: {row.error}")

    def highlighted_scenes(self) -> list[str]:
        """Scene ids whose row is lit (exactly the chosen one)."""
        return [scene_id for scene_id, widget in self.scene_buttons.items()
                if tuple(widget["frameColor"]) == SCENE_CHOSEN_RGBA]

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
        """Start the session (after picking a patient and a scene). Nothing here may take the
        app down: whatever goes wrong is said on the status line."""
        self.flush_pending(force=True)
        try:
            deferred = False
            if self.on_start is not None:
                # e.g. open the session record and attach the recorder first; True: the caller
                # starts the belt itself once the patient view is drawn
                deferred = bool(self.on_start())
            if not deferred:
                self.controller.start()
        except (RuntimeError, KeyError, ValueError) as exc:
            self._status(f"cannot start: {exc.args[0] if exc.args else exc}")
            return
        self._status("starting: waiting for the devices")

    def pause(self) -> None:
        """Pause: belt to a stop, scene frozen."""
        self.controller.pause()
        self._status("pausing")

    def resume(self) -> None:
        """Resume after a pause."""
        self.controller.resume()
        self._status("resuming")

    def software_stop(self) -> None:
        """The software stop (button and space bar): controlled stop of belt and exoskeleton."""
        self.controller.stop()
        if self.on_stop is not None:
            self.on_stop()
        self._status("STOP pressed: controlled stop")

    def ack_alarms(self) -> None:
        """Acknowledge the alarms on the banner."""
        self.controller.ack_alarms(self.last_state)
        self._status("alarms acknowledged")

    def rearm(self) -> None:
        """After a fault stop, the therapist confirms the cause is gone: the devices are re-armed
        and the core goes back to IDLE, so Start can walk again (nothing restarts by itself)."""
        self.controller.rearm()
        self._status("devices re-armed: press Start when ready")

    # -- quit -----------------------------------------------------------------------------------
    def escape(self) -> None:
        """Escape: while the belt may move it is a stop (as it always was); then it asks to quit
        (a second Escape cancels)."""
        if not self.quit_dialog.is_hidden():
            self.cancel_quit()
            return
        if self.controller.session_id is not None and self.controller.run_state in ("running", "paused"):
            self.software_stop()
        self.ask_quit()

    def ask_quit(self) -> None:
        running = self.controller.session_id is not None
        self.quit_text["text"] = ("Quit StepSync? The session is stopped and saved with its report first."
                                  if running else "Quit StepSync?")
        self.quit_dialog.show()
        self._status("quit? press Quit to close StepSync, Cancel or Escape to stay")

    def cancel_quit(self) -> None:
        self.quit_dialog.hide()
        self._status("quit cancelled")

    def confirm_quit(self) -> None:
        self.quit_dialog.hide()
        self._status("quitting: stopping and saving")
        if self.on_quit is not None:
            self.on_quit()

    # -- live settings --------------------------------------------------------------------------
    def _slider_range(self, name: str) -> tuple[float, float]:
        low, high = self.controller.setting_range(name) if hasattr(self.controller, "setting_range") else (0.0, 1.0)
        return low, max(high, low + 1e-3)  # a fixed prescription still gives a (still) slider

    def _refresh_sliders(self) -> None:
        """Slider ranges and labels from the selected patient's prescription and the settings."""
        for name, slider in self.sliders.items():
            low, high = self._slider_range(name)
            value = min(max(float(self.controller.settings.get(name, low)), low), high)
            slider["range"] = (low, high)
            slider["value"] = value
            self._pending.pop(name, None)
            self.slider_labels[name]["text"] = setting_text(name, value, self.controller.prescription)
        self.changed = True

    def _slider_moved(self, name: str) -> None:
        value = float(self.sliders[name]["value"])
        self.slider_labels[name]["text"] = setting_text(name, value, self.controller.prescription)
        self.changed = True
        if abs(value - float(self.controller.settings.get(name, math.nan))) < 1e-4:
            return
        self._pending[name] = (value, None)  # stamped by the next update(): its clock is the frame's

    def set_assist_as_needed(self, on) -> None:
        """Assist-as-needed on or off."""
        self.controller.change_settings(assist_as_needed=1.0 if on else 0.0)
        self.changed = True

    def _pace_text(self) -> str:
        mode = int(self.controller.settings.get("pace_mode", 0.0))
        return "Pace: " + {0: "scene", 1: "fixed", 2: "self-paced"}.get(mode, "scene")

    def cycle_pace(self) -> None:
        """Next pace mode (scene -> fixed -> self-paced -> scene), applied at once."""
        mode = int(self.controller.settings.get("pace_mode", 0.0))
        self.controller.set_pace(("fixed", "self", "scene")[mode % 3])
        self.buttons["pace"]["text"] = self._pace_text()
        self.changed = True

    def set_setting(self, name: str, value: float) -> None:
        """Move a slider as the therapist would and apply it at once."""
        self.sliders[name]["value"] = value
        self._pending[name] = (float(self.sliders[name]["value"]), self._now_s)
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
        result = self.controller.change_settings(**ready)
        for name, (_, applied) in result.items():
            if name in self.slider_labels:
                self.slider_labels[name]["text"] = setting_text(name, applied, self.controller.prescription)
        self.changed = True

    # -- per frame ------------------------------------------------------------------------------
    def update(self, now_s: float, state=None) -> None:
        """Per-frame: settle sliders, keep the status line true to the core's run state."""
        self._now_s = now_s
        if state is not None:
            self.last_state = state
            self._follow_run_state(state)
        self.flush_pending()

    def _follow_run_state(self, state) -> None:
        from engine.control import layout
        from engine.render.alarms import active_alarms

        run_state = int(state["run_state"])
        if run_state == self._run_state:
            return
        before, self._run_state = self._run_state, run_state
        if before is None:
            return
        alarms = active_alarms(state, include_acked=True)
        why = alarms[0].text if alarms else ""
        if run_state == layout.RunState.RUNNING:
            self._status("running")
        elif run_state == layout.RunState.PAUSED:
            self._status("paused")
        elif run_state == layout.RunState.STOPPING:
            self._status(f"stopping: {why}" if why else "stopping (controlled stop)")
        elif run_state == layout.RunState.STOPPED:
            self._status(f"stopped: {why}" if why else "stopped")
        elif run_state == layout.RunState.IDLE and before != layout.RunState.IDLE:
            self._status("stopped: the belt stands; ready" if before != layout.RunState.STOPPED
                         else "re-armed: ready to start")

    def _status(self, text: str) -> None:
        self.message = text
        self.status_label["text"] = text
        self.changed = True
        log.info("menu: %s", text)

    def visible(self) -> dict:
        """What the menu shows now (tests and the UI harness read this)."""
        return {
            "status": self.status_label["text"],
            "patient_code": self.entries["patient_code"].get(),
            "patient_dropdown": self.patient_menu.get(),
            "patient_label": self.patient_label["text"],
            "prescription": {name: self.entries[f"rx_{name}"].get() for name, _, _ in RX_FIELDS},
            "scene_title": self.scene_title["text"],
            "scenes_highlighted": self.highlighted_scenes(),
            "sliders": {name: self.slider_labels[name]["text"] for name in self.sliders},
            "slider_values": {name: float(self.sliders[name]["value"]) for name in self.sliders},
            "slider_ranges": {name: list(self.sliders[name]["range"]) for name in self.sliders},
            "quit_dialog": "" if self.quit_dialog.is_hidden() else self.quit_text["text"],
            "shown": not self.root.is_hidden(),
        }

    def show(self) -> None:
        self.root.show()
        self.changed = True

    def hide(self) -> None:
        self.root.hide()
        self.changed = True

    def destroy(self) -> None:
        """Remove the widgets and the key bindings."""
        for event in ("space", "escape"):
            self.base.ignore(event)
        self._events.ignore_all()
        self.buttons["stop"].destroy()
        self.quit_dialog.destroy()
        self.root.remove_node()
