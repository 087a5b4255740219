"""Obstacle nodes: step-over obstacles on the route, and yield obstacles that move on the scene clock.

Each obstacle is one node placed at (lateral_m, at_m, 0) with its geometry running from y = 0 to
its depth, so the near edge is exactly where the control core expects it. Colours are strong
and edges carry hazard stripes: the patients are often older and must see them from afar.
Yield obstacles animate from the core's obstacle state (active, triggered_at_s) when the
caller passes it, else from the same rule replayed locally (engine.scene.timeline.YieldClock).
"""

from __future__ import annotations

import math
import random

from panda3d.core import NodePath

from engine.render.world.mesh import MeshBuilder
from engine.render.world.props import HAZARD_YELLOW, PRODUCT_COLOURS, cart, person
from engine.scene.model import colour_rgb

KERB_ROAD_M = 0.6  # road surface drawn with a kerb (beyond a drop, before a rise), m

DEFAULT_COLOURS = {
    "curb_up": (0.78, 0.78, 0.76),
    "curb_down": (0.78, 0.78, 0.76),
    "kerb_ramp": (0.98, 0.80, 0.05),
    "box": (0.90, 0.45, 0.10),
    "puddle": (0.22, 0.32, 0.48),
    "cable": (0.08, 0.08, 0.08),
    "door_threshold": (0.80, 0.80, 0.85),
    "spilled_items": (0.95, 0.55, 0.05),
    "uneven_paving": (0.62, 0.60, 0.56),
}


def _stripe(mb: MeshBuilder, width: float, y: float, z: float) -> None:
    """A yellow hazard line across the route at y, on top of height z."""
    mb.box(0.0, y, z, width, 0.05, 0.012, HAZARD_YELLOW)


def _step_over_mesh(o, rng: random.Random) -> MeshBuilder:
    mb = MeshBuilder(f"obstacle-{o.kind}")
    colour = colour_rgb(o.colour) if o.colour else DEFAULT_COLOURS[o.kind]
    kind = o.kind
    w = o.width_m
    d = o.depth_m
    h = getattr(o, "height_m", 0.0)
    if kind == "curb_down":
        # a drop: the kerb stone at pavement level, its edge falling away to the road below
        road = (0.28, 0.28, 0.30)
        mb.box(0.0, d / 2, -h, w, d, h + 0.005, colour)  # the stone, its top just above the pavement
        mb.quad([(-w / 2, d, 0.0), (w / 2, d, 0.0), (w / 2, d, -h), (-w / 2, d, -h)][::-1], tuple(c * 0.55 for c in colour))
        mb.floor_quad(-w / 2, w / 2, d, d + KERB_ROAD_M, -h + 0.002, road)  # the road surface below
        mb.floor_quad(-w / 2, w / 2, d - 0.08, d - 0.01, 0.004, HAZARD_YELLOW)  # edge line on the lip
        for k in range(int(w / 0.5)):  # dark drop shadows make the step read from afar
            mb.floor_quad(-w / 2 + k * 0.5, -w / 2 + k * 0.5 + 0.25, d + 0.01, d + 0.12, -h + 0.004, (0.12, 0.12, 0.13))
    elif kind == "curb_up":
        # a rise: road surface before it, the kerb face climbing to pavement level
        road = (0.28, 0.28, 0.30)
        mb.floor_quad(-w / 2, w / 2, -KERB_ROAD_M, 0.0, -h + 0.002, road)
        mb.box(0.0, d / 2, -h, w, d, h + 0.005, colour)
        mb.floor_quad(-w / 2, w / 2, 0.01, 0.08, 0.004, HAZARD_YELLOW)
    elif kind == "kerb_ramp":
        steps = 6
        for k in range(steps):  # a ramp drawn as a shallow staircase of tactile paving
            z = h + (k / steps) * 0.10
            mb.box(0.0, d * (k + 0.5) / steps, 0.0, w, d / steps, z, colour)
        for k in range(int(d / 0.12)):
            mb.box(0.0, 0.06 + k * 0.12, h + 0.1 * k * 0.12 / d, w * 0.9, 0.03, 0.008, tuple(c * 0.8 for c in colour))
    elif kind == "box":
        mb.box(0.0, d / 2, 0.0, w, d, h, colour)
        mb.box(0.0, d / 2, h, 0.06, d + 0.004, 0.004, (0.85, 0.80, 0.65))  # tape
        _stripe(mb, w, 0.025, h)
    elif kind == "puddle":
        # an irregular rounded shape from overlapping flat slabs
        for k, (fw, fd) in enumerate(((1.0, 0.7), (0.8, 0.9), (0.55, 1.0))):
            shade = tuple(min(1.0, c * (1.0 + 0.15 * k)) for c in colour)
            mb.floor_quad(-w * fw / 2, w * fw / 2, d * (1 - fd) / 2, d * (1 + fd) / 2, 0.003 + 0.001 * k, shade)
        mb.floor_quad(-w * 0.25, w * 0.05, d * 0.3, d * 0.45, 0.007, (0.75, 0.82, 0.92))  # sky reflection
    elif kind == "cable":
        mb.box(0.0, d / 2, 0.0, w, d, h, colour)
        for k in range(int(w / 0.3)):
            mb.box(-w / 2 + 0.15 + k * 0.3, d / 2, h, 0.12, d, 0.003, HAZARD_YELLOW)
    elif kind == "door_threshold":
        mb.box(0.0, d / 2, 0.0, w, d, h, colour)
        _stripe(mb, w, 0.025, h)
        for side in (-1, 1):  # door frame posts make the threshold read as a doorway
            mb.box(side * (w / 2 + 0.05), d / 2, 0.0, 0.1, 0.12, 2.2, (0.35, 0.35, 0.40))
        mb.box(0.0, d / 2, 2.2, w + 0.2, 0.12, 0.12, (0.35, 0.35, 0.40))
    elif kind == "spilled_items":
        for k in range(o.count):
            size = rng.uniform(0.5, 1.0) * h
            c = colour if k % 3 == 0 else rng.choice(PRODUCT_COLOURS)
            mb.box(rng.uniform(-w / 2, w / 2), rng.uniform(size / 2, d - size / 2), 0.0, size * 0.9, size * 0.9, size, c,
                   heading_deg=rng.uniform(0, 90))
        mb.floor_quad(-w / 2, w / 2, 0.0, d, 0.002, (0.95, 0.92, 0.70))  # a spill stain marks the area
    elif kind == "uneven_paving":
        n_x, n_y = max(1, int(w / 0.5)), max(1, int(d / 0.5))
        for i in range(n_x):
            for j in range(n_y):
                z = rng.uniform(0.0, h)
                shade = tuple(c * rng.uniform(0.85, 1.05) for c in colour)
                mb.box(-w / 2 + (i + 0.5) * w / n_x, (j + 0.5) * d / n_y, 0.0, w / n_x - 0.03, d / n_y - 0.03, 0.004 + z, shade)
        _stripe(mb, w, 0.02, 0.01)
    return mb


class ObstacleView:
    """One obstacle's node and how it moves."""

    def __init__(self, obstacle, index: int, parent: NodePath, seed: int, width_hint_m: float) -> None:
        self.obstacle = obstacle
        self.index = index
        self.kind = obstacle.kind
        self.node = parent.attachNewNode(f"obstacle-{index}-{obstacle.kind}")
        self.node.setPos(obstacle.lateral_m, obstacle.at_m, 0.0)
        self.node.setTag("obstacle_index", str(index))
        self.node.setTag("obstacle_kind", obstacle.kind)
        self._seed = seed * 1009 + index
        self._width_hint_m = width_hint_m
        self.built = False

    def ensure_built(self) -> None:
        """Make the geometry (done when the obstacle first comes near, so long routes build fast)."""
        if self.built:
            return
        self.built = True
        rng = random.Random(self._seed)
        if hasattr(self.obstacle, "width_m") and self.obstacle.kind != "automatic_door":
            self.node.attachNewNode(_step_over_mesh(self.obstacle, rng).node())
        else:
            getattr(self, f"_build_{self.obstacle.kind}")(rng)
        # Each MeshBuilder is already one Geom (one draw call), so no flattening is needed here,
        # and the moving parts keep their own nodes.

    # ---- yield obstacles ---------------------------------------------------------------------

    def _mover(self, mb: MeshBuilder) -> NodePath:
        holder = self.node.attachNewNode("moving")
        holder.attachNewNode(mb.node())
        return holder

    def _build_pedestrian_crossing(self, rng: random.Random) -> None:
        mb = MeshBuilder("pedestrian")
        person(mb, rng, height_m=1.75)
        self._mover(mb)

    def _build_person_stopping(self, rng: random.Random) -> None:
        mb = MeshBuilder("person")
        person(mb, rng, height_m=1.7)
        self._mover(mb)

    def _build_cart_crossing(self, rng: random.Random) -> None:
        mb = MeshBuilder("cart")
        cart(mb, 0.0, 0.3, 0.0, colour=(0.75, 0.78, 0.82))
        person(mb, rng, 0.0, -0.55, height_m=1.65)
        self._mover(mb)

    def _build_automatic_door(self, rng: random.Random) -> None:
        o = self.obstacle
        frame = MeshBuilder("door-frame")
        half = o.width_m / 2
        grey = (0.30, 0.32, 0.36)
        for side in (-1, 1):
            frame.box(side * (half + 0.08), 0.15, 0.0, 0.16, 0.3, 2.4, grey)
            frame.box_span(side * (half + 0.16), side * (half + 6.0), 0.1, 0.2, 0.0, 2.6, (0.55, 0.65, 0.72))  # glass front
            frame.box_span(side * (half + 0.16), side * (half + 6.0), 0.0, 0.3, 2.6, 3.4, (0.85, 0.85, 0.82))
        frame.box(0.0, 0.15, 2.4, o.width_m + 0.3, 0.3, 0.25, grey)
        frame.box(0.0, 0.0, 2.45, 0.9, 0.02, 0.15, (0.1, 0.6, 0.2))  # green "entrance" sign
        self.node.attachNewNode(frame.node())
        for side in (-1, 1):
            panel = MeshBuilder(f"door-{side}")
            panel.box(side * half / 2, 0.15, 0.02, half - 0.02, 0.04, 2.36, (0.55, 0.75, 0.90), alpha=0.55)
            panel.box(side * half / 2, 0.15, 1.05, half - 0.02, 0.05, 0.06, (0.9, 0.1, 0.1))  # a red band, visible on glass
            np_ = self.node.attachNewNode(f"moving-door{side}")
            np_.attachNewNode(panel.node())
            np_.setTransparency(True)

    def _build_traffic_light(self, rng: random.Random) -> None:
        o = self.obstacle
        pole = MeshBuilder("light-pole")
        y_far = o.depth_m + 0.4  # the light the patient watches stands across the street
        for y, x in ((y_far, -1.4), (-0.5, 1.4)):
            pole.box(x, y, -0.12, 0.12, 0.12, 3.0, (0.20, 0.22, 0.25))
            pole.box(x, y, 2.1, 0.35, 0.3, 0.85, (0.08, 0.08, 0.08))
            pole.box(x, y - 0.16, 2.5, 0.3, 0.02, 0.02, (0.0, 0.0, 0.0))
        self.node.attachNewNode(pole.node())
        for name, z, rgb in (("red", 2.53, (1.0, 0.1, 0.05)), ("green", 2.14, (0.1, 1.0, 0.3))):
            lamp = MeshBuilder(f"lamp-{name}")
            for y, x in ((y_far, -1.4), (-0.5, 1.4)):
                lamp.box(x, y - 0.17, z, 0.26, 0.03, 0.36, rgb)
            np_ = self.node.attachNewNode(f"moving-lamp-{name}")
            np_.attachNewNode(lamp.node())
            np_.setLightOff(1)

    # ---- animation -----------------------------------------------------------------------------

    def update(self, s_m: float, scene_time_s: float, active: bool, triggered_at_s: float) -> None:
        """Pose the obstacle for this moment."""
        self.ensure_built()
        o = self.obstacle
        kind = self.kind
        if kind == "traffic_light":
            red = self.node.find("**/moving-lamp-red")
            green = self.node.find("**/moving-lamp-green")
            red.setColorScale((1, 1, 1, 1) if active else (0.18, 0.18, 0.18, 1))
            green.setColorScale((0.18, 0.18, 0.18, 1) if active else (1, 1, 1, 1))
            return
        started = not math.isnan(triggered_at_s)
        progress = 0.0
        if started:
            progress = (scene_time_s - triggered_at_s) / o.duration_s
        progress = min(1.0, max(0.0, progress))
        mover = self.node.find("**/moving")
        if kind in ("pedestrian_crossing", "cart_crossing"):
            sign = -1.0 if o.from_side == "left" else 1.0
            reach = max(2.5, self._width_hint_m / 2 + 1.0)
            x = sign * reach - sign * 2 * reach * progress
            if started and not active and progress >= 1.0:
                x = -sign * reach - sign * max(0.0, scene_time_s - triggered_at_s - o.duration_s) * 1.0
            mover.setPos(x - o.lateral_m, 0.5, 0.0)
            mover.setH(-90.0 if sign < 0 else 90.0)
        elif kind == "person_stopping":
            aside = max(0.6, self._width_hint_m / 2 - 0.35)  # browsing by the shelf / shop window
            if not started:
                mover.setPos(aside - o.lateral_m, 0.25, 0.0)
                mover.setH(-90.0)  # browsing, facing the side
            elif active:
                step_in = min(1.0, (scene_time_s - triggered_at_s) / 1.0)
                mover.setPos(aside * (1.0 - step_in), 0.25, 0.0)
                mover.setH(180.0)  # facing the patient
            else:
                gone = max(0.0, scene_time_s - triggered_at_s - o.duration_s)
                mover.setPos(min(aside, 0.4 * gone), 0.25 + 1.2 * gone, 0.0)
                mover.setH(0.0)
        elif kind == "automatic_door":
            opened = 0.0 if not started else (progress if active else 1.0)
            half = o.width_m / 2
            for side in (-1, 1):
                self.node.find(f"**/moving-door{side}").setX(side * half * 0.95 * opened)
