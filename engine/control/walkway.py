"""The ground along the route and each step-over obstacle's box, from the scene's timeline.

A curb_up raises the ground by its height from its near edge on; a curb_down lowers it by its
height beyond its far edge (the curb stone is at the old level). Each step-over obstacle is a
box [at_m, at_m + depth_m] x [ground before it, + its volume height] that a swinging foot must
stay out of; a curb_down's and a puddle's volume height is 0 (the edge or the water is the
hazard; standing on a curb down's stone before the edge is walking, not a fault, while a foot
in a puddle is). Heights the core measures are over this ground, so a toe over a curb is not "low".
Kind codes are engine/scene's OBSTACLE_KIND_CODES (stable: recordings store them).
"""

from __future__ import annotations

CURB_UP, CURB_DOWN, PUDDLE = 1, 2, 5
MAX_STEPS = 128


class Walkway:
    """Ground steps and obstacle box tops of the loaded timeline; plain lists for the hot path."""

    def __init__(self) -> None:
        self.step_at_m: list[float] = []
        self.step_dz_m: list[float] = []
        self.box_top_m: list[float] = []  # per timeline row
        self.box_ground_m: list[float] = []  # ground just before each obstacle
        self.in_lane: list[bool] = []
        self.landing_faults: list[bool] = []  # per row: a foot landing inside its box is a fault

    def load(self, rows, count: int, in_lane=None) -> None:
        """Adopt a timeline (TIMELINE_DTYPE rows); in_lane(i) says whether row i is in the lane."""
        steps = []
        for i in range(count):
            row = rows[i]
            kind = int(row["kind"])
            height = max(0.0, float(row["height_m"]))
            if kind == CURB_UP:
                steps.append((float(row["at_m"]), height))
            elif kind == CURB_DOWN:
                steps.append((float(row["at_m"]) + max(0.0, float(row["depth_m"])), -height))
        steps.sort()
        self.step_at_m = [at for at, _ in steps]
        self.step_dz_m = [dz for _, dz in steps]
        self.box_top_m = [0.0] * count
        self.box_ground_m = [0.0] * count
        self.in_lane = [True] * count
        self.landing_faults = [True] * count
        for i in range(count):
            row = rows[i]
            kind = int(row["kind"])
            volume = 0.0 if kind in (CURB_DOWN, PUDDLE) else max(0.0, float(row["height_m"]))
            # a curb down's stone is the walkway before its drop: standing on it is no fault
            self.landing_faults[i] = kind != CURB_DOWN
            self.box_ground_m[i] = self.ground_m(float(row["at_m"]) - 1e-6)
            self.box_top_m[i] = self.box_ground_m[i] + volume
            if in_lane is not None:
                self.in_lane[i] = bool(in_lane(i))

    def ground_m(self, x_m: float) -> float:
        """Walkway height at route position x_m (0 at the start)."""
        h = 0.0
        at = self.step_at_m
        dz = self.step_dz_m
        for k in range(len(at)):
            if x_m < at[k]:
                break
            h += dz[k]
        return h
