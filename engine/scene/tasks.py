"""Task logic shared by the HUD, the session summary and reports (pure: no Panda3D, no clock).

Everything is decided from the route distance s_m, the scene clock and the obstacle states, so a
headless session (no voice, no controller) gets the same results as a patient in the headset:

- Shopping list: an item is collected when the patient spends `dwell_s` of scene time inside its
  collection zone (at_m - zone_m .. at_m + zone_m); leaving the zone past its far end without
  that dwell marks it missed. Pausing freezes the scene clock, so pausing does not collect.
- Crossing: the patient must cross the street (at_m .. at_m + depth_m of its traffic light)
  while the light is green; if it turns red while the patient is on the road, the task fails.
- Dual task: a colour cue appears when s reaches each cue position and stays `show_s` seconds
  of scene time; the patient names the ink colour (with `stroop`, the word names another one).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from engine.scene.model import Scene, colour_rgb
from engine.scene.timeline import periodic_active, scene_to_timeline, seconds_until_change


@dataclass
class ShoppingItemState:
    name: str
    at_m: float
    side: str
    colour: tuple[float, float, float]
    collected: bool = False
    missed: bool = False
    dwell_s: float = 0.0  # scene time spent in the zone so far
    collected_at_s: float = math.nan
    entered_at_s: float = math.nan  # scene time the patient first stood in the zone
    missed_at_s: float = math.nan  # scene time the patient left the zone without the dwell


@dataclass
class CrossingState:
    light_index: int  # timeline row of the traffic light
    light_id: str
    start_m: float  # kerb where the road starts
    end_m: float  # far kerb
    status: str = "ahead"  # ahead | waiting | crossing | crossed | failed
    is_green: bool = True
    green_left_s: float = 0.0  # seconds of green left (0 while red)
    red_left_s: float = 0.0  # seconds of red left (0 while green)
    waited_s: float = 0.0  # scene time spent waiting at the kerb for green
    stepped_on_at_s: float = math.nan  # scene time the patient stepped onto the road
    on_green: bool | None = None  # the light was green when the patient stepped onto the road
    green_left_on_step_s: float = math.nan  # seconds of green left at that moment
    off_road_at_s: float = math.nan  # scene time the patient reached the far kerb
    failed_at_m: float = math.nan  # where the patient was when the light turned red on the road


@dataclass
class CueState:
    index: int
    text: str  # the word shown
    colour: tuple[float, float, float]  # ink colour: the answer
    colour_name: str
    started_s: float
    left_s: float


@dataclass
class TaskState:
    items: list[ShoppingItemState] = field(default_factory=list)
    crossings: list[CrossingState] = field(default_factory=list)
    cue: CueState | None = None
    cues_shown: int = 0
    cues_total: int = 0
    cue_log: list[dict] = field(default_factory=list)  # each cue shown: at_m, ink, word, shown_at_s

    @property
    def crossing(self) -> CrossingState | None:
        """The crossing the patient is at or approaching next (None when all are done)."""
        for c in self.crossings:
            if c.status in ("ahead", "waiting", "crossing"):
                return c
        return None

    def score_inputs(self) -> dict[str, int]:
        """Counts the session summary and reports score from."""
        return {
            "items_total": len(self.items),
            "items_collected": sum(i.collected for i in self.items),
            "items_missed": sum(i.missed for i in self.items),
            "crossings_total": len(self.crossings),
            "crossings_done": sum(c.status == "crossed" for c in self.crossings),
            "crossings_failed": sum(c.status == "failed" for c in self.crossings),
            "cues_total": self.cues_total,
            "cues_shown": self.cues_shown,
        }

    def results(self) -> dict:
        """Per-task results for the stored session summary and the report (plain JSON data):
        each item collected or missed (and when), each crossing's status, cues shown."""
        return {
            "shopping": [{"name": i.name, "at_m": i.at_m, "side": i.side,
                          "status": "collected" if i.collected else ("missed" if i.missed else "not reached"),
                          "collected_at_s": _seconds(i.collected_at_s), "entered_at_s": _seconds(i.entered_at_s),
                          "missed_at_s": _seconds(i.missed_at_s), "dwell_s": round(i.dwell_s, 2)}
                         for i in self.items],
            "crossings": [{"light": c.light_id, "start_m": c.start_m, "end_m": c.end_m,
                           "status": "not reached" if c.status in ("ahead", "waiting") else c.status,
                           "on_green": c.on_green, "waited_s": round(c.waited_s, 2),
                           "stepped_on_at_s": _seconds(c.stepped_on_at_s),
                           "green_left_on_step_s": _seconds(c.green_left_on_step_s),
                           "time_on_road_s": _seconds(c.off_road_at_s - c.stepped_on_at_s),
                           "failed_at_m": _seconds(c.failed_at_m)}
                          for c in self.crossings],
            "cues": {"shown": self.cues_shown, "total": self.cues_total, "list": [dict(c) for c in self.cue_log]},
            **self.score_inputs(),
        }


def _seconds(value: float) -> float | None:
    """A stored figure: rounded, None when not measured (NaN)."""
    return None if math.isnan(value) else round(value, 2)


class TaskTracker:
    """Feeds on (s_m, scene time, obstacle states) each frame or cycle; returns the task state."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.timeline = scene_to_timeline(scene)
        order = scene.obstacles_in_timeline_order()
        self._last_s: float | None = None
        self._last_t: float | None = None
        shopping = scene.tasks.shopping_list
        self._zone_m = shopping.zone_m if shopping else 1.0
        self._dwell_s = shopping.dwell_s if shopping else 0.0
        items = [
            ShoppingItemState(i.name, i.at_m, i.side, colour_rgb(i.colour))
            for i in (shopping.items if shopping else [])
        ]
        crossings = []
        for task in scene.tasks.crossings:
            index = next(k for k, o in enumerate(order) if o.kind == "traffic_light" and o.id == task.light)
            light = order[index]
            crossings.append(CrossingState(index, task.light, light.at_m, light.at_m + light.depth_m))
        dual = scene.tasks.dual_task
        self._cue_at_m: list[float] = []
        self._cue_started: list[float] = []
        self._cue_colours: list[tuple[str, str]] = []  # (ink name, word)
        if dual is not None:
            end = min(dual.end_m if dual.end_m is not None else scene.route_length_m, scene.route_length_m)
            at = dual.start_m
            rng = random.Random(scene.seed * 7919 + 17)
            while at <= end and len(self._cue_at_m) < 1000:
                ink = rng.choice(dual.colours)
                word = ink
                if dual.stroop:
                    others = [c for c in dual.colours if c != ink]
                    word = rng.choice(others) if others else ink
                self._cue_at_m.append(at)
                self._cue_colours.append((ink, word))
                at += dual.every_m
            self._cue_started = [math.nan] * len(self._cue_at_m)
        self.state = TaskState(items=items, crossings=crossings, cues_total=len(self._cue_at_m))

    def update(self, s_m: float, scene_time_s: float, obstacle_states: np.ndarray | None = None) -> TaskState:
        """Advance to (s_m, scene_time_s); obstacle_states are the core's OBSTACLE_STATE rows."""
        last_s = s_m if self._last_s is None else self._last_s
        dt = 0.0 if self._last_t is None else max(0.0, scene_time_s - self._last_t)
        self._update_items(last_s, s_m, dt, scene_time_s)
        self._update_crossings(s_m, scene_time_s, obstacle_states, dt)
        self._update_cue(s_m, scene_time_s)
        self._last_s, self._last_t = s_m, scene_time_s
        return self.state

    def _update_items(self, last_s: float, s_m: float, dt: float, now_s: float) -> None:
        zone = self._zone_m
        for item in self.state.items:
            if item.collected or item.missed:
                continue
            low, high = item.at_m - zone, item.at_m + zone
            inside = low <= s_m <= high
            if inside:
                if math.isnan(item.entered_at_s):
                    item.entered_at_s = now_s
                item.dwell_s += dt if low <= last_s <= high else 0.0
                # dwell_s == 0 collects on entering the zone
                if item.dwell_s >= self._dwell_s:
                    item.collected, item.collected_at_s = True, now_s
            elif s_m > high:
                if self._dwell_s == 0.0 and last_s <= high:
                    item.collected, item.collected_at_s = True, now_s  # passed through in one step
                else:
                    item.missed, item.missed_at_s = True, now_s

    def _update_crossings(self, s_m: float, now_s: float, obstacle_states: np.ndarray | None, dt: float = 0.0) -> None:
        for c in self.state.crossings:
            row = self.timeline[c.light_index]
            if obstacle_states is not None and len(obstacle_states) > c.light_index:
                red = bool(obstacle_states[c.light_index]["active"])
            else:
                red = periodic_active(row, now_s)
            change = seconds_until_change(row, now_s)
            c.is_green = not red
            c.green_left_s = 0.0 if red else change
            c.red_left_s = change if red else 0.0
            if c.status in ("crossed", "failed"):
                continue
            if s_m >= c.start_m and math.isnan(c.stepped_on_at_s):  # onto the road (or over it in one step)
                c.stepped_on_at_s, c.on_green = now_s, not red
                c.green_left_on_step_s = 0.0 if red else change
            if c.status == "waiting":
                c.waited_s += dt
            if s_m > c.end_m:
                c.status = "crossed"
                c.off_road_at_s = now_s
            elif s_m >= c.start_m:
                c.status = "failed" if red else "crossing"
                if red:
                    c.failed_at_m = s_m
            else:
                near = s_m >= c.start_m - float(row["stop_gap_m"]) - 1.0
                c.status = "waiting" if (red and near) else "ahead"

    def _update_cue(self, s_m: float, now_s: float) -> None:
        dual = self.scene.tasks.dual_task
        self.state.cue = None
        if dual is None:
            return
        for i, at in enumerate(self._cue_at_m):
            if at > s_m:
                break
            if math.isnan(self._cue_started[i]):
                self._cue_started[i] = now_s
                self.state.cues_shown += 1
                ink, word = self._cue_colours[i]
                self.state.cue_log.append({"at_m": round(at, 2), "ink": ink, "word": word,
                                           "stroop": ink != word, "shown_at_s": round(now_s, 2)})
            left = dual.show_s - (now_s - self._cue_started[i])
            if left > 0:
                ink, word = self._cue_colours[i]
                self.state.cue = CueState(i, word.upper(), colour_rgb(ink), ink, self._cue_started[i], left)
