"""The control core's obstacle timeline, derived from the same Scene object the world is built from.

Row i is the i-th obstacle in `Scene.obstacles_in_timeline_order()` (sorted by at_m, stable), so
the core's obstacle index, the state block's `obstacles[i]` and `World.obstacle_nodes[i]` all
name the same obstacle. `YieldClock` replays the core's activity rule (see TIMELINE_DTYPE in
engine/control/layout.py) for code that has no core to ask: preview, thumbnails, tests.
"""

from __future__ import annotations

import math

import numpy as np

from engine.control.layout import (
    MAX_OBSTACLES,
    OBSTACLE_STATE_DTYPE,
    TIMELINE_DTYPE,
    ObstacleCategory,
)
from engine.scene.model import (
    OBSTACLE_CATEGORY,
    OBSTACLE_KIND_CODES,
    Scene,
    obstacle_extent_m,
    obstacle_width_m,
)


def scene_to_timeline(scene: Scene) -> np.ndarray:
    """TIMELINE_DTYPE rows, one per obstacle, sorted by at_m."""
    obstacles = scene.obstacles_in_timeline_order()
    if len(obstacles) > MAX_OBSTACLES:  # the model already refuses this; keep the core safe anyway
        raise ValueError(f"{len(obstacles)} obstacles; the timeline holds {MAX_OBSTACLES}")
    rows = np.zeros(len(obstacles), dtype=TIMELINE_DTYPE)
    for i, o in enumerate(obstacles):
        row = rows[i]
        row["kind"] = OBSTACLE_KIND_CODES[o.kind]
        category = OBSTACLE_CATEGORY[o.kind]
        row["category"] = int(category)
        row["at_m"] = o.at_m
        row["depth_m"] = obstacle_extent_m(o)
        row["height_m"] = getattr(o, "height_m", 0.0)
        row["lateral_m"] = o.lateral_m
        row["width_m"] = obstacle_width_m(o)
        row["speed_fraction"] = o.speed_fraction
        if category == ObstacleCategory.YIELD:
            row["stop_gap_m"] = o.stop_gap_m
            if o.kind == "traffic_light":
                row["period_s"] = o.cycle_s
                row["active_s"] = o.red_s
                row["phase_s"] = o.phase_s
            else:
                row["trigger_m"] = max(0.0, o.at_m - o.trigger_before_m)
                row["duration_s"] = o.duration_s
    return rows


def periodic_active(row, scene_time_s: float) -> bool:
    """Whether a periodic yield row is active (e.g. the light is red) at this scene time."""
    return ((scene_time_s + float(row["phase_s"])) % float(row["period_s"])) < float(row["active_s"])


def seconds_until_change(row, scene_time_s: float) -> float:
    """For a periodic row: seconds until its phase flips (red to green or green to red)."""
    period = float(row["period_s"])
    t = (scene_time_s + float(row["phase_s"])) % period
    active = float(row["active_s"])
    return active - t if t < active else period - t


class YieldClock:
    """Replays the core's yield activity rule: periodic by scene time, or triggered by s."""

    def __init__(self, timeline: np.ndarray) -> None:
        self.timeline = timeline
        self.triggered_at_s = np.full(len(timeline), np.nan)

    def update(self, s_m: float, scene_time_s: float) -> np.ndarray:
        """Active flags (bool array) after moving to s_m at scene_time_s."""
        active = np.zeros(len(self.timeline), dtype=bool)
        for i, row in enumerate(self.timeline):
            if row["category"] != ObstacleCategory.YIELD:
                continue
            if row["period_s"] > 0:
                active[i] = periodic_active(row, scene_time_s)
                continue
            if math.isnan(self.triggered_at_s[i]) and s_m >= row["trigger_m"]:
                self.triggered_at_s[i] = scene_time_s
            started = self.triggered_at_s[i]
            active[i] = not math.isnan(started) and scene_time_s - started < row["duration_s"]
        return active

    def states(self, s_m: float, scene_time_s: float) -> np.ndarray:
        """OBSTACLE_STATE_DTYPE rows as the core would publish them (outcomes left PENDING)."""
        active = self.update(s_m, scene_time_s)
        out = np.zeros(len(self.timeline), dtype=OBSTACLE_STATE_DTYPE)
        out["active"] = active
        out["triggered_at_s"] = self.triggered_at_s
        out["margin_m"] = np.nan
        return out
