"""The patient's heads-up display: goal progress, the next obstacle with its cue, feedback when
an obstacle is cleared or hit, the shopping list, the crossing timer, and the end summary.

Split in two: `HudModel` turns the state block (plus the scene's task state) into the strings to
show, with no Panda3D, so it is tested directly; `PatientHud` only puts those strings on screen
in large, high-contrast type.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from engine.control import layout
from engine.scene.outcomes import count_outcomes

log = logging.getLogger(__name__)

FEEDBACK_HOLD_S = 2.5  # how long "Cleared!" stays up: long enough to read while walking

# Points for the end-of-scenario score. Hits cost nothing: the game rewards, it never punishes.
POINTS_CLEARED = 10
POINTS_YIELD_PASSED = 5
POINTS_ITEM = 20


def obstacle_cue(row: np.void) -> str:
    """The cue for one timeline row: what the patient should do at it."""
    if int(row["category"]) == layout.ObstacleCategory.YIELD:
        return "wait"
    return "step high" if float(row["height_m"]) >= 0.03 else "step over"


@dataclass
class HudContent:
    """Everything the HUD shows this frame (strings, so tests read what the patient reads)."""

    goals: list[str] = field(default_factory=list)
    next_obstacle: str = ""
    feedback: str = ""
    feedback_kind: str = ""  # "cleared", "hit", "passed" or ""
    shopping: list[tuple[str, bool]] = field(default_factory=list)
    crossing: str = ""
    cue: str = ""  # dual-task cue from the scene: a colour word, name its ink colour
    cue_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    summary: str = ""
    score: int = 0


@dataclass
class TaskView:
    """What the HUD needs from the scene's task tracker (engine.scene.tasks.TaskState)."""

    shopping: list[tuple[str, bool]] = field(default_factory=list)
    crossing: str = ""  # e.g. "Wait for green: 12 s" or "Cross now: 8 s of green"
    cue: str = ""  # dual-task word
    cue_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)  # its ink colour (the answer)

    @classmethod
    def from_task_state(cls, task_state) -> TaskView:
        """Adapt engine.scene.tasks.TaskState."""
        if task_state is None:
            return cls()
        if isinstance(task_state, TaskView):
            return task_state
        shopping = [(item.name, bool(item.collected)) for item in getattr(task_state, "items", [])]
        crossing = ""
        current = getattr(task_state, "crossing", None)
        if current is not None:
            if current.status == "waiting" or (current.status == "ahead" and not current.is_green):
                crossing = f"Wait for green: {math.ceil(current.red_left_s):.0f} s"
            elif current.status == "crossing":
                crossing = f"Cross now: {math.ceil(current.green_left_s):.0f} s of green"
        cue = getattr(task_state, "cue", None)
        if cue is not None:
            return cls(shopping, crossing, str(cue.text), tuple(cue.colour))
        return cls(shopping, crossing)


class HudModel:
    """Turns state snapshots into HUD content; remembers outcomes to show feedback."""

    def __init__(self, timeline: np.ndarray, names: list[str] | None = None) -> None:
        self.timeline = np.asarray(timeline, dtype=layout.TIMELINE_DTYPE).reshape(-1)
        self.names = names or [f"obstacle {i + 1}" for i in range(len(self.timeline))]
        self._outcomes = np.zeros(len(self.timeline), dtype=np.uint8)
        self._feedback = ("", "", -math.inf)  # text, kind, shown at (scene time)
        self.events: list[tuple[int, str]] = []  # (obstacle index, "cleared"/"hit"/"passed") seen

    def _name(self, index: int) -> str:
        return self.names[index] if 0 <= index < len(self.names) else f"obstacle {index + 1}"

    def update(self, state: np.ndarray, tasks: TaskView | None = None, finished: bool = False) -> HudContent:
        """Content for this frame from one state snapshot."""
        tasks = tasks or TaskView()
        content = HudContent(shopping=list(tasks.shopping), cue=tasks.cue)
        now_s = float(state["scene_time_s"])
        content.goals = self._goal_lines(state)
        self._detect_outcomes(state, now_s)
        text, kind, at_s = self._feedback
        if text and now_s - at_s <= FEEDBACK_HOLD_S:
            content.feedback, content.feedback_kind = text, kind
        content.next_obstacle = self._next_line(state)
        content.crossing = tasks.crossing or self._crossing_from_state(state)
        content.cue_rgb = tasks.cue_rgb
        content.score = self.score(state, tasks)
        if finished:
            content.summary = self.summary(state, tasks)
        return content

    def _goal_lines(self, state: np.ndarray) -> list[str]:
        lines = [f"Steps {int(state['steps'])}", f"Distance {float(state['distance_m']):.0f} m",
                 f"Time {self._clock(float(state['scene_time_s']))}"]
        goals = getattr(self, "goals", None)
        if goals:
            steps, distance_m, time_s = goals
            if steps:
                lines[0] += f" / {int(steps)}"
            if distance_m:
                lines[1] += f" / {distance_m:.0f} m"
            if time_s:
                lines[2] += f" / {self._clock(time_s)}"
        return lines

    @staticmethod
    def _clock(seconds: float) -> str:
        seconds = max(0, int(seconds))
        return f"{seconds // 60}:{seconds % 60:02d}"

    def set_goals(self, steps: int = 0, distance_m: float = 0.0, time_s: float = 0.0) -> None:
        """Goals shown beside the progress (0 = none)."""
        self.goals = (steps, distance_m, time_s)

    def _detect_outcomes(self, state: np.ndarray, now_s: float) -> None:
        """New outcomes since the last frame become feedback. Outcomes that land in the same
        frame are all named (each by its own index: a box and a puddle hit together are "the box
        and the puddle"), a touch first: it is the one to act on."""
        outcomes = state["obstacles"]["outcome"][: len(self.timeline)]
        changed = np.nonzero(outcomes != self._outcomes)[0]
        if not len(changed):
            return
        landed: dict[str, list[int]] = {"hit": [], "cleared": [], "passed": []}
        for index in sorted(int(i) for i in changed):  # timeline order = route order
            outcome = int(outcomes[index])
            self._outcomes[index] = outcome
            kind = {layout.ObstacleOutcome.CLEARED: "cleared", layout.ObstacleOutcome.HIT: "hit",
                    layout.ObstacleOutcome.PASSED: "passed"}.get(outcome)
            if kind:
                landed[kind].append(index)
                self.events.append((index, kind))
        phrases = []
        if landed["hit"]:
            phrases.append(f"Touched {self._names_text(landed['hit'])}: lift your foot higher")
        if landed["cleared"]:
            text = f"Cleared {self._names_text(landed['cleared'])}!"
            if len(landed["cleared"]) == 1:
                margin_cm = float(state["obstacles"]["margin_m"][landed["cleared"][0]]) * 100.0
                if math.isfinite(margin_cm) and margin_cm > 0:
                    text += f" (+{margin_cm:.0f} cm)"
            phrases.append(text)
        if landed["passed"]:
            phrases.append(f"Well waited at {self._names_text(landed['passed'])}")
        if phrases:
            kind = next(k for k in ("hit", "cleared", "passed") if landed[k])
            text = phrases[0]
            for phrase in phrases[1:]:  # "Cleared the box! Well waited ...", never "box!. Well"
                text += (" " if text.endswith("!") else ". ") + phrase
            self._feedback = (text, kind, now_s)

    def _names_text(self, indices: list[int]) -> str:
        """'the box', 'the box and the puddle', 'the box, the cable and the puddle'."""
        names = [f"the {self._name(i)}" for i in indices]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def _next_line(self, state: np.ndarray) -> str:
        index = int(state["next_obstacle"])
        if index < 0 or index >= len(self.timeline):
            return ""
        row = self.timeline[index]
        distance_m = float(row["at_m"]) - float(state["s_m"])
        cue = obstacle_cue(row)
        if int(row["category"]) == layout.ObstacleCategory.YIELD and not state["obstacles"]["active"][index]:
            cue = "look ahead"
        if distance_m <= 0.0:
            return f"{self._name(index).capitalize()}: {cue}"
        return f"{self._name(index).capitalize()} in {distance_m:.0f} m: {cue}"

    def _crossing_from_state(self, state: np.ndarray) -> str:
        index = int(state["next_obstacle"])
        if 0 <= index < len(self.timeline):
            row = self.timeline[index]
            if int(row["category"]) == layout.ObstacleCategory.YIELD and state["obstacles"]["active"][index]:
                remaining = self._yield_remaining_s(row, state["obstacles"][index], float(state["scene_time_s"]))
                if remaining is not None:
                    return f"Wait: {math.ceil(remaining):.0f} s"
                return "Wait"
        return ""

    @staticmethod
    def _yield_remaining_s(row: np.void, obstacle: np.void, scene_time_s: float) -> float | None:
        if float(row["period_s"]) > 0.0:
            phase = (scene_time_s + float(row["phase_s"])) % float(row["period_s"])
            return max(0.0, float(row["active_s"]) - phase)
        started = float(obstacle["triggered_at_s"])
        if math.isfinite(started):
            return max(0.0, started + float(row["duration_s"]) - scene_time_s)
        return None

    def score(self, state: np.ndarray, tasks: TaskView | None = None) -> int:
        """Points: cleared step-overs, yields waited out, shopping items collected."""
        counts = count_outcomes(state["obstacles"]["outcome"][: len(self.timeline)])
        items = sum(1 for _, done in (tasks.shopping if tasks else []) if done)
        return counts.cleared * POINTS_CLEARED + counts.waited * POINTS_YIELD_PASSED + items * POINTS_ITEM

    def summary(self, state: np.ndarray, tasks: TaskView | None = None) -> str:
        """The end-of-scenario text."""
        items = [name for name, done in (tasks.shopping if tasks else [])]
        got = sum(1 for _, done in (tasks.shopping if tasks else []) if done)
        lines = [
            "Well done!",
            f"{int(state['steps'])} steps, {float(state['distance_m']):.0f} m in {self._clock(float(state['scene_time_s']))}",
            count_outcomes(state["obstacles"]["outcome"][: len(self.timeline)]).text(),
        ]
        if items:
            lines.append(f"Shopping {got} of {len(items)}")
        lines.append(f"Score {self.score(state, tasks)}")
        return "\n".join(lines)


# -- on screen ----------------------------------------------------------------------------------
COLOURS = {
    "text": (1, 1, 1, 1),
    "panel": (0, 0, 0, 0.6),
    "cleared": (0.3, 1.0, 0.3, 1),
    "hit": (1.0, 0.6, 0.2, 1),
    "passed": (0.5, 0.8, 1.0, 1),
    "tick": (0.3, 1.0, 0.3, 1),
}


class PatientHud:
    """Large, high-contrast text on `parent` (aspect2d, or a headset's HUD plane)."""

    def __init__(self, parent) -> None:
        from direct.gui.DirectGui import DirectFrame
        from direct.gui.OnscreenText import OnscreenText
        from panda3d.core import TextNode

        self.parent = parent
        self.root = parent.attach_new_node("patient-hud")
        self.content = HudContent()

        def text(pos, align=TextNode.A_left, scale=0.07, fg=COLOURS["text"]):
            return OnscreenText(parent=self.root, text="", pos=pos, scale=scale, fg=fg, align=align,
                                shadow=(0, 0, 0, 1), mayChange=True)

        self.goal_panel = DirectFrame(parent=self.root, frameColor=COLOURS["panel"], frameSize=(-1.75, -0.85, 0.62, 0.97))
        self.goal_text = text((-1.72, 0.88))
        self.next_text = text((0.0, 0.86), TextNode.A_center, 0.085)
        self.feedback_text = text((0.0, 0.25), TextNode.A_center, 0.11)
        self.crossing_text = text((0.0, 0.05), TextNode.A_center, 0.12, (1, 0.9, 0.2, 1))
        self.cue_text = text((0.0, -0.75), TextNode.A_center, 0.08)
        self.shopping_panel = DirectFrame(parent=self.root, frameColor=COLOURS["panel"], frameSize=(0.95, 1.75, 0.2, 0.97))
        self.shopping_text = text((0.98, 0.88), scale=0.065)
        self.score_text = text((1.72, -0.92), TextNode.A_right, 0.07)
        self.summary_panel = DirectFrame(parent=self.root, frameColor=(0, 0, 0, 0.8), frameSize=(-0.9, 0.9, -0.55, 0.55))
        self.summary_text = text((0.0, 0.35), TextNode.A_center, 0.085)
        self.summary_panel.hide()
        self.shopping_panel.hide()

    def show(self, content: HudContent) -> None:
        """Put one frame's content on screen (only what changed is re-laid out)."""
        old, self.content = self.content, content
        if content.goals != old.goals:
            self.goal_text.setText("\n".join(content.goals))
        if content.next_obstacle != old.next_obstacle:
            self.next_text.setText(content.next_obstacle)
        if (content.feedback, content.feedback_kind) != (old.feedback, old.feedback_kind):
            self.feedback_text.setText(content.feedback)
            self.feedback_text.setFg(COLOURS.get(content.feedback_kind, COLOURS["text"]))
        if content.crossing != old.crossing:
            self.crossing_text.setText(content.crossing)
        if (content.cue, content.cue_rgb) != (old.cue, old.cue_rgb):
            self.cue_text.setText(content.cue)
            self.cue_text.setFg((*content.cue_rgb, 1))
        if content.shopping != old.shopping:
            if content.shopping:
                lines = ["Shopping list"] + [("[x] " if done else "[ ] ") + name for name, done in content.shopping]
                self.shopping_text.setText("\n".join(lines))
                self.shopping_panel.show()
            else:
                self.shopping_text.setText("")
                self.shopping_panel.hide()
        if content.score != old.score:
            self.score_text.setText(f"Score {content.score}")
        if content.summary != old.summary:
            self.summary_text.setText(content.summary)
            if content.summary:
                self.summary_panel.show()
            else:
                self.summary_panel.hide()

    def visible_text(self) -> dict[str, str]:
        """What is on screen now, by element (tests read this)."""
        return {
            "goals": self.goal_text.getText(),
            "next": self.next_text.getText(),
            "feedback": self.feedback_text.getText(),
            "crossing": self.crossing_text.getText(),
            "cue": self.cue_text.getText(),
            "shopping": self.shopping_text.getText(),
            "score": self.score_text.getText(),
            "summary": self.summary_text.getText(),
        }

    def destroy(self) -> None:
        """Remove every node."""
        self.root.remove_node()
