"""Patient-view detail that follows the measured frame time on software renderers.

On a PC without a GPU the patient view is drawn by Mesa llvmpipe or Panda3D's tinydisplay, and a
frame of the grocery store can take 100-200 ms on a busy 2-core machine. What costs there is
geometry, not pixels (measured, grocery-first-visit at 640x360 on llvmpipe: a quarter of the
pixels 217 -> 233 ms a frame, i.e. no gain; a 30 m instead of 500 m view distance 217 -> 138 ms;
tinydisplay's buffer cannot even be resized). So the knob is the view distance: `DetailGovernor`
shortens the camera's far plane while frames are over budget and lengthens it again when they
are well under, never below VIEW_DISTANCE_MIN_M (beyond the planner's 15 m horizon: every
obstacle the core is planning for stays in view). With a GPU it does nothing.
"""

from __future__ import annotations

VIEW_DISTANCE_MAX_M = 500.0
VIEW_DISTANCE_MIN_M = 20.0
DECIDE_EVERY_S = 0.5
SHRINK = 0.75
GROW = 1.15
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "tinyxgraphicspipe", "tinyoffscreengraphicspipe",
                      "tinygraphicspipe", "tinydisplay", "software")


def is_software_renderer(renderer: str) -> bool:
    """True for the CPU rasterisers (their name as the GSG reports it)."""
    name = renderer.lower()
    return any(key in name for key in SOFTWARE_RENDERERS)


class DetailGovernor:
    """Chooses the view distance from the frame times it is shown (ms, smoothed)."""

    def __init__(self, budget_ms: float, enabled: bool = True, max_m: float = VIEW_DISTANCE_MAX_M) -> None:
        """max_m: the longest view it chooses (the world's own view distance: shortening a far
        plane beyond what the world draws changes nothing)."""
        self.budget_ms = budget_ms
        self.enabled = enabled
        self.max_m = max(VIEW_DISTANCE_MIN_M, max_m)
        self.view_distance_m = self.max_m
        self.min_seen_m = self.max_m
        self.smoothed_ms: float | None = None
        self._next_decision_s = 0.0

    def observe(self, now_s: float, frame_ms: float) -> bool:
        """One frame's time; returns True when the view distance changed."""
        if not self.enabled:
            return False
        s = self.smoothed_ms
        self.smoothed_ms = frame_ms if s is None else s + 0.2 * (frame_ms - s)
        if now_s < self._next_decision_s:
            return False
        self._next_decision_s = now_s + DECIDE_EVERY_S
        before = self.view_distance_m
        if self.smoothed_ms > self.budget_ms:
            self.view_distance_m = max(VIEW_DISTANCE_MIN_M, before * SHRINK)
        elif self.smoothed_ms < 0.6 * self.budget_ms:
            self.view_distance_m = min(self.max_m, before * GROW)
        self.min_seen_m = min(self.min_seen_m, self.view_distance_m)
        return self.view_distance_m != before
