"""What the simulated patient sees of the running scene: obstacles on the route and the walkway.

The scene reaches the patient on the simulation side only (`RigHandle.show_scene`, the rig's
control socket): real devices know nothing of the scene, so this never touches the wire protocol.
Positions are route distances in metres, the same s the control core integrates from the belt;
the rig takes the belt's displacement when the scene is shown (the belt standing) as s = 0.

The walking lane: the patient's feet travel within +/- LANE_HALF_WIDTH_M of the route's centre
line (a treadmill belt is about 0.5 m wide and the feet land about 0.1 m either side of the
midline). An obstacle whose lateral extent does not reach into the lane is beside the path: the
patient walks past it and never crosses it.

The walkway: a curb_up raises the ground by its height from its near edge on; a curb_down lowers
it by its height beyond its far edge (the curb stone itself is at the old level). Each step-over
obstacle is a box [at_m, at_m + depth_m] x [ground, ground + height] that a swing foot must not
enter and a foot must not land in; a curb_down's box has no height (its hazard is the edge) and
a puddle's none either (landing in it is the fault). Uneven paving and a kerb ramp are walked on:
only their lip (the first 5 cm) is a box.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import asdict, dataclass

LANE_HALF_WIDTH_M = 0.45
YIELD_KINDS = frozenset({"pedestrian_crossing", "cart_crossing", "automatic_door", "person_stopping", "traffic_light"})
DOORWAY_KINDS = frozenset({"automatic_door", "door_threshold"})
# Surfaces the patient walks on: the hazard is the lip at the near edge, not the whole stretch.
WALK_ON_KINDS = frozenset({"uneven_paving", "kerb_ramp"})
LIP_DEPTH_M = 0.05
# Half of an obstacle's extent across the route when the scene does not give one (m): curbs,
# ramps, thresholds and paving span the whole path; loose objects are about this wide.
DEFAULT_HALF_WIDTH_M = {
    "curb_up": 3.0, "curb_down": 3.0, "kerb_ramp": 3.0, "door_threshold": 3.0, "uneven_paving": 3.0,
    "box": 0.2, "puddle": 0.4, "spilled_items": 0.3, "cable": 1.0,
}


@dataclass(frozen=True)
class SceneObstacle:
    """One obstacle as the patient perceives it (timeline order = the core's obstacle index)."""

    index: int
    kind: str
    at_m: float
    depth_m: float
    height_m: float
    lateral_m: float = 0.0
    half_width_m: float = 0.3

    @property
    def step_over(self) -> bool:
        return self.kind not in YIELD_KINDS

    @property
    def end_m(self) -> float:
        """Far edge of the part a foot must not enter or land in (a walk-on surface: its lip)."""
        return self.at_m + (min(self.depth_m, LIP_DEPTH_M) if self.kind in WALK_ON_KINDS else self.depth_m)

    @property
    def in_lane(self) -> bool:
        """Whether any part of it lies in the walking lane."""
        return abs(self.lateral_m) - self.half_width_m < LANE_HALF_WIDTH_M

    @property
    def volume_height_m(self) -> float:
        """Height of the box a swing foot must stay out of (0 for a drop or a puddle)."""
        return 0.0 if self.kind in ("curb_down", "puddle") else self.height_m

    def to_dict(self) -> dict:
        return asdict(self)


def obstacles_from(scene_or_rows) -> list[SceneObstacle]:
    """SceneObstacles from a Scene (engine.scene.model, duck-typed: devices never import the
    engine), a list of dicts (at_m, kind, and optional depth_m/length_m, height_m, lateral_m,
    width_m), or SceneObstacles. Sorted by at_m (stable), like the core's timeline."""
    if hasattr(scene_or_rows, "obstacles_in_timeline_order"):
        items = list(scene_or_rows.obstacles_in_timeline_order())
    else:
        items = list(scene_or_rows)
    out: list[SceneObstacle] = []
    rows = []
    for item in items:
        if isinstance(item, SceneObstacle):
            rows.append(item.to_dict())
            continue
        get = item.get if isinstance(item, dict) else (lambda key, default=None, o=item: getattr(o, key, default))
        kind = str(get("kind"))
        at_m = float(get("at_m"))
        depth = get("depth_m")
        if depth is None:
            depth = get("length_m", 0.0)
        width = get("width_m")
        half = float(width) / 2.0 if width is not None else get("half_width_m", DEFAULT_HALF_WIDTH_M.get(kind, 0.3))
        rows.append({"kind": kind, "at_m": at_m, "depth_m": float(depth or 0.0),
                     "height_m": float(get("height_m", 0.0) or 0.0), "lateral_m": float(get("lateral_m", 0.0) or 0.0),
                     "half_width_m": float(half)})
    rows = sorted(rows, key=lambda r: r["at_m"])  # stable: equal at_m keep their order
    for i, r in enumerate(rows):
        r = dict(r)
        r["index"] = i
        if r["depth_m"] < 0.0 or r["height_m"] < 0.0:
            raise ValueError(f"obstacle {i} ({r['kind']} at {r['at_m']} m): negative depth or height")
        out.append(SceneObstacle(**r))
    return out


class Walkway:
    """Ground height along the route and the obstacles in the lane, for fast look-ups."""

    def __init__(self, obstacles: list[SceneObstacle]) -> None:
        self.obstacles = obstacles
        self.in_lane = [o for o in obstacles if o.step_over and o.in_lane]
        # (route position, height change) of every ground step, in order
        steps = []
        for o in self.in_lane:
            if o.kind == "curb_up":
                steps.append((o.at_m, o.height_m))
            elif o.kind == "curb_down":
                steps.append((o.end_m, -o.height_m))
        self._steps = sorted(steps)
        # For near(): when the lane's obstacles come in route order, only those between the first
        # whose running far edge reaches x0 and the last starting before x1 can overlap (bisect).
        at = [o.at_m for o in self.in_lane]
        self._near_sorted = all(a <= b for a, b in zip(at, at[1:], strict=False))
        self._near_at = at
        self._near_end_max = list(itertools.accumulate((o.end_m for o in self.in_lane), max))

    def ground_m(self, x_m: float) -> float:
        """Walkway height at route position x_m (0 at the start)."""
        h = 0.0
        for at, dh in self._steps:
            if x_m < at:
                break
            h += dh
        return h

    def box_top_m(self, o: SceneObstacle) -> float:
        """Top of the obstacle's box: ground just before it plus its volume height."""
        return self.ground_m(o.at_m - 1e-6) + o.volume_height_m

    def next_crossing(self, x_m: float) -> SceneObstacle | None:
        """The first in-lane step-over obstacle whose far edge is ahead of x_m."""
        for o in self.in_lane:
            if o.end_m > x_m:
                return o
        return None

    def near(self, x0_m: float, x1_m: float) -> list[SceneObstacle]:
        """In-lane step-over obstacles overlapping [x0_m, x1_m]."""
        if not self._near_sorted or x1_m != x1_m:
            return [o for o in self.in_lane if o.at_m <= x1_m and o.end_m >= x0_m]
        lo = bisect.bisect_left(self._near_end_max, x0_m)
        hi = bisect.bisect_right(self._near_at, x1_m)
        return [o for o in self.in_lane[lo:hi] if o.end_m >= x0_m]
