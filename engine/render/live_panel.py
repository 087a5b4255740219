"""The therapist's live panel: gait numbers from the state block and two strip charts (gait speed
and symmetry index). `live_lines` is pure; `LivePanel` draws, redrawing charts a few times a
second (a chart is for trends; redrawing it every frame would only cost frame time).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from engine.control import layout


def _num(value: float, fmt: str, unit: str = "") -> str:
    value = float(value)
    return "-" if not math.isfinite(value) else f"{value:{fmt}}{unit}"


# Gait measures are only meaningful while the patient walks: after a stop the core's last values
# come from the deceleration (partial steps, one-sided strides) and would contradict the report.
WALKING_STATES = (layout.RunState.RUNNING, layout.RunState.PAUSED)
NOT_WALKING = "- (not walking)"


def live_lines(state: np.ndarray, goal_steps: int = 0) -> list[tuple[str, str]]:
    """(label, value) rows for the live panel. Guidance is absolute (0-1 of full robot
    assistance) and body-weight support is % of body weight, as on the menu's sliders."""
    steps = int(state["steps"])
    code = int(state["run_state"])
    run = layout.RunState(code).name.lower() if code in layout.RunState._value2member_map_ else "?"
    walking = code in WALKING_STATES

    def gait(text: str) -> str:
        return text if walking else NOT_WALKING

    return [
        ("State", run),
        ("Steps", f"{steps} / {goal_steps}" if goal_steps else str(steps)),
        ("Belt speed", _num(state["belt_speed_mps"], ".2f", " m/s")),
        ("Gait speed (belt)", gait(_num(state["gait_speed_mps"], ".2f", " m/s"))),
        ("Cadence", gait(_num(state["cadence_spm"], ".0f", " steps/min"))),
        ("Step length L / R", gait(f"{_num(state['step_length_m'][0] * 100, '.0f')} / "
                                   f"{_num(state['step_length_m'][1] * 100, '.0f')} cm")),
        ("Symmetry index", gait(_num(state["symmetry_index_pct"], "+.1f", " %"))),
        ("Toe clearance L / R", gait(f"{_num(state['toe_clearance_m'][0] * 100, '.1f')} / "
                                     f"{_num(state['toe_clearance_m'][1] * 100, '.1f')} cm")),
        ("Guidance (0-1)", _num(state["guidance"], ".2f", " of full")),
        ("Body-weight supp.", _num(state["bws_fraction"] * 100, ".0f", " % body wt")),
        ("Heart rate", _num(state["heart_rate_bpm"], ".0f", " bpm") if float(state["heart_rate_bpm"]) > 0 else "-"),
        ("Obstacles", f"{int(state['obstacles_cleared'])} cleared, {int(state['obstacles_hit'])} hit"),
    ]


class StripChart:
    """A small line chart of the last `capacity` samples, drawn with LineSegs."""

    def __init__(self, parent, label: str, frame: tuple[float, float, float, float],
                 value_range: tuple[float, float], capacity: int = 240, colour=(0.3, 0.9, 1.0, 1)) -> None:
        from direct.gui.DirectGui import DirectFrame
        from direct.gui.OnscreenText import OnscreenText
        from panda3d.core import TextNode

        self.frame = frame
        self.low, self.high = value_range
        self.samples: deque[float] = deque(maxlen=capacity)
        self.colour = colour
        left, right, bottom, top = frame
        self.background = DirectFrame(parent=parent, frameColor=(0.08, 0.08, 0.1, 1), frameSize=frame)
        self.title = OnscreenText(parent=parent, text=label, pos=(left + 0.01, top - 0.04), scale=0.035,
                                  fg=(0.9, 0.9, 0.9, 1), align=TextNode.A_left, mayChange=True)
        self.line = parent.attach_new_node("chart-line")

    def add(self, value: float) -> None:
        """Append one sample (NaN leaves a gap-free chart: it is skipped)."""
        if math.isfinite(value):
            self.samples.append(float(value))

    def redraw(self) -> None:
        """Rebuild the line from the samples."""
        from panda3d.core import LineSegs

        self.line.remove_node()
        segs = LineSegs("chart")
        segs.set_color(*self.colour)
        segs.set_thickness(2.0)
        left, right, bottom, top = self.frame
        count = len(self.samples)
        if count >= 2:
            span = self.high - self.low or 1.0
            for i, value in enumerate(self.samples):
                x = left + (right - left) * i / (self.samples.maxlen - 1)
                z = bottom + (top - bottom - 0.05) * min(1.0, max(0.0, (value - self.low) / span))
                (segs.move_to if i == 0 else segs.draw_to)(x, 0, z)
        self.line = self.background.getParent().attach_new_node(segs.create())


class LivePanel:
    """The live numbers and the two strip charts, on the therapist's screen."""

    CHART_EVERY_S = 0.25

    def __init__(self, parent, origin: tuple[float, float] = (0.55, 0.75)) -> None:
        from direct.gui.OnscreenText import OnscreenText
        from panda3d.core import TextNode

        x, z = origin
        self.root = parent.attach_new_node("live-panel")
        self.labels = OnscreenText(parent=self.root, text="", pos=(x, z), scale=0.04, fg=(0.85, 0.85, 0.85, 1),
                                   align=TextNode.A_left, mayChange=True)
        self.values = OnscreenText(parent=self.root, text="", pos=(x + 0.42, z), scale=0.04, fg=(1, 1, 1, 1),
                                   align=TextNode.A_left, mayChange=True)
        # Charts end above the STOP button's corner (bottom right of the screen).
        self.speed_chart = StripChart(self.root, "Gait speed, belt (0-2 m/s)", (x, x + 0.7, z - 0.85, z - 0.63), (0.0, 2.0))
        self.symmetry_chart = StripChart(self.root, "Symmetry index (-30..+30 %)", (x, x + 0.7, z - 1.1, z - 0.88),
                                         (-30.0, 30.0), colour=(1.0, 0.8, 0.3, 1))
        self.rows: list[tuple[str, str]] = []
        self.changed = True  # the numbers changed in the last update (the desktop redraws then)
        self._chart_at_s = -math.inf

    def text(self) -> dict[str, str]:
        """What the panel shows, row by row."""
        return dict(self.rows)

    def update(self, state: np.ndarray, now_s: float, goal_steps: int = 0) -> None:
        """Refresh the numbers; sample and redraw the charts a few times a second."""
        rows = live_lines(state, goal_steps)
        if rows != self.rows:
            self.changed = True  # until whoever draws on change has drawn it
            self.rows = rows
            self.labels.setText("\n".join(label for label, _ in rows))
            self.values.setText("\n".join(value for _, value in rows))
        if now_s - self._chart_at_s >= self.CHART_EVERY_S and int(state["run_state"]) in WALKING_STATES:
            self._chart_at_s = now_s
            self.speed_chart.add(float(state["gait_speed_mps"]))
            self.symmetry_chart.add(float(state["symmetry_index_pct"]))
            self.speed_chart.redraw()
            self.symmetry_chart.redraw()
