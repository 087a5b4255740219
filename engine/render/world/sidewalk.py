"""The street: a paved sidewalk along the route, the curb and road on the left, building fronts
with shop windows on the right, trees, benches, lamp posts, parked cars, and a side street with a
zebra crossing wherever the scene has a traffic light.
"""

from __future__ import annotations

import random

from engine.render.world.mesh import MeshBuilder
from engine.render.world.props import CAR_COLOURS, bench, building, car, streetlight, tree
from engine.scene.model import Scene, Sidewalk

CURB_M = 0.25
ROAD_DROP_M = 0.12
LANE_M = 3.3
BEFORE_START_M = -20.0
AFTER_END_M = 60.0

SKY = {
    "morning": (0.70, 0.80, 0.92),
    "noon": (0.55, 0.72, 0.95),
    "evening": (0.92, 0.62, 0.42),
    "night": (0.05, 0.07, 0.15),
}
LIGHT = {"morning": (0.50, 0.60), "noon": (0.50, 0.70), "evening": (0.42, 0.50), "night": (0.30, 0.18)}  # ambient, sun


class SidewalkLayout:
    """Where everything on the street goes, from the scene's environment parameters."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.env: Sidewalk = scene.environment
        env = self.env
        self.half_m = env.sidewalk_width_m / 2
        self.curb_x = -self.half_m - CURB_M
        self.road_x0 = self.curb_x - env.road_lanes * LANE_M  # far edge of the road
        self.lane_x = [self.curb_x - (k + 0.5) * LANE_M for k in range(env.road_lanes)]
        self.start_y = BEFORE_START_M
        self.end_y = scene.route_length_m + AFTER_END_M
        self.crossings = [(o.at_m, o.at_m + o.depth_m) for o in scene.obstacles if o.kind == "traffic_light"]
        self.dropped = self._dropped_stretches(scene)
        self.night = env.time_of_day == "night"
        sky = SKY[env.time_of_day]
        self.ambient, self.sun = LIGHT[env.time_of_day]
        if env.weather != "clear":
            grey = 0.55 if env.weather == "overcast" else 0.45
            sky = tuple(0.4 * c + 0.6 * grey * (0.3 if self.night else 1.0) for c in sky)
            self.sun *= 0.5
            self.ambient += 0.1
        self.background = sky
        self.wet = env.weather == "rain"

    @staticmethod
    def _dropped_stretches(scene: Scene) -> list[tuple[float, float, float]]:
        """(start, end, depth) of the road-level stretches between a curb_down and its curb_up:
        the pavement is not drawn there, so a kerb reads as the drop it is."""
        out = []
        down = None
        for o in sorted(scene.obstacles, key=lambda o: o.at_m):
            if o.kind == "curb_down":
                down = o
            elif o.kind == "curb_up" and down is not None:
                out.append((down.at_m + down.depth_m, o.at_m, down.height_m))
                down = None
        return out

    def in_dropped(self, y0: float, y1: float) -> float | None:
        """The drop height if [y0, y1) lies in a road-level stretch, else None."""
        for a, b, depth in self.dropped:
            if y0 < b and y1 > a:
                return depth
        return None

    def in_crossing(self, y0: float, y1: float, margin: float = 0.0) -> bool:
        return any(y0 < b + margin and y1 > a - margin for a, b in self.crossings)

    def build_chunk(self, y0: float, y1: float, seed: int) -> tuple[MeshBuilder, MeshBuilder]:
        """(lit geometry, unlit emissive geometry) for the stretch [y0, y1)."""
        env = self.env
        rng = random.Random(seed)
        lit = MeshBuilder("street-lit")
        glow = MeshBuilder("street-glow")
        y_lo, y_hi = max(y0, self.start_y), min(y1, self.end_y)
        if y_hi <= y_lo:
            return lit, glow
        wet = 0.75 if self.wet else 1.0
        road = tuple(c * wet for c in (0.30, 0.30, 0.32))
        paving = [tuple(c * wet for c in rgb) for rgb in ((0.74, 0.72, 0.68), (0.68, 0.66, 0.63))]
        # cut the chunk into stretches of sidewalk and of side-street crossing
        edges = [v for a, b in self.crossings for v in (a, b)] + [v for a, b, _ in self.dropped for v in (a, b)]
        cuts = sorted({y_lo, y_hi, *[v for v in edges if y_lo < v < y_hi]})
        for a, b in zip(cuts, cuts[1:], strict=False):
            crossing = self.in_crossing(a + 1e-3, b - 1e-3)
            drop = self.in_dropped(a + 1e-3, b - 1e-3)
            if crossing:
                self._crossing(lit, a, b, road)
            elif drop is not None:
                self._road_level(lit, a, b, road, drop)
            else:
                self._sidewalk(lit, a, b, paving, rng)
        if self.wet:
            self._wet_sheen(lit, y_lo, y_hi, rng)
        # the road, its lane markings, the far sidewalk and the buildings across the street
        lit.floor_quad(self.road_x0, self.curb_x, y_lo, y_hi, -ROAD_DROP_M, road)
        for k in range(1, env.road_lanes):
            x = self.curb_x - k * LANE_M
            y = float(int(y_lo // 6.0) * 6.0)
            while y < y_hi:
                if y >= y_lo:
                    lit.floor_quad(x - 0.07, x + 0.07, y, min(y + 3.0, y_hi), -ROAD_DROP_M + 0.005, (0.92, 0.92, 0.88))
                y += 6.0
        lit.floor_quad(self.road_x0 - 0.15, self.road_x0 - 0.05, y_lo, y_hi, -ROAD_DROP_M + 0.005, (0.95, 0.85, 0.2))
        lit.box_span(self.road_x0 - 4.0, self.road_x0, y_lo, y_hi, -ROAD_DROP_M, 0.0, paving[0])
        y = y_lo
        while y < y_hi - 4.0:
            width = rng.uniform(7.0, 14.0)
            end = min(y + width, y_hi)
            if end - y > 3.0:
                building(lit, self.road_x0 - 4.0, y, end - 0.2, rng, "mixed", self.night, direction=-1)
            y = end
        # parked cars in the lane next to the curb, never on a crossing
        per_m = self.scene.ambient.parked_cars_per_100m / 100.0
        y = y_lo + rng.uniform(0, 6.0)
        while per_m > 0 and y < y_hi - 2.5:
            if rng.random() < min(1.0, per_m * 6.0) and not self.in_crossing(y - 3.0, y + 3.0, margin=2.0):
                car(lit, self.lane_x[0] + 0.5, y, 0.0, rng.choice(CAR_COLOURS), z=-ROAD_DROP_M)
            y += 6.0
        return lit, glow

    def _sidewalk(self, lit: MeshBuilder, a: float, b: float, paving, rng: random.Random) -> None:
        env = self.env
        hw = self.half_m
        # 1 m paving slabs in two shades
        y = float(int(a) if a >= 0 else int(a) - 1)
        while y < b:
            ya, yb = max(y, a), min(y + 1.0, b)
            x = -hw
            k = int(y)
            while x < hw:
                lit.floor_quad(x, min(x + 1.0, hw), ya, yb, 0.0, paving[(k + int(x + 10)) % 2])
                x += 1.0
            y += 1.0
        lit.box_span(self.curb_x, -hw, a, b, -ROAD_DROP_M, 0.0, (0.82, 0.82, 0.80))  # curb stones
        lit.floor_quad(hw, hw + 0.6, a, b, 0.0, (0.55, 0.55, 0.55))
        # buildings on the right with shop fronts
        y = a
        while y < b - 1.0:
            width = min(rng.uniform(7.0, 14.0), b - y)
            if width > 2.5:
                building(lit, hw + 0.6, y, y + width - 0.15, rng, env.buildings, self.night)
            y += width
        # trees, lamp posts and benches at fixed spacings (so neighbouring chunks agree)
        for every, make in ((env.trees_every_m, "tree"), (25.0, "lamp"), (env.benches_every_m, "bench")):
            if every <= 0:
                continue
            offset = {"tree": 4.0, "lamp": 11.0, "bench": 17.0}[make]
            n = int((a - offset) // every)
            while True:
                y = offset + n * every
                if y >= b:
                    break
                if y >= a and not self.in_crossing(y - 2.0, y + 2.0):
                    if make == "tree":
                        tree(lit, -hw + 0.55, y, random.Random(int(y * 10) + self.scene.seed))
                    elif make == "lamp":
                        streetlight(lit, -hw + 0.3, y, -2.0)
                    else:
                        bench(lit, hw - 0.3, y, facing_left=True)
                n += 1

    def _road_level(self, lit: MeshBuilder, a: float, b: float, road, drop_m: float) -> None:
        """A stretch at road level between a kerb down and a kerb up: a side street running off to
        the right (no zebra: that comes with a traffic light)."""
        lit.floor_quad(self.curb_x, 40.0, a, b, -drop_m, road)

    def _wet_sheen(self, lit: MeshBuilder, y0: float, y1: float, rng: random.Random) -> None:
        """Rain: pale streaks of reflected sky and lamp light on the wet paving and road."""
        for _ in range(int((y1 - y0) * 1.5)):
            y = rng.uniform(y0, y1 - 0.8)
            if self.in_crossing(y, y + 0.8) or self.in_dropped(y, y + 0.8) is not None:
                continue
            x = rng.uniform(-self.half_m + 0.1, self.half_m - 0.5)
            lit.floor_quad(x, x + rng.uniform(0.15, 0.4), y, y + rng.uniform(0.3, 0.8), 0.003, (0.62, 0.66, 0.72))
        for _ in range(int((y1 - y0) * 0.8)):
            y = rng.uniform(y0, y1 - 1.5)
            x = rng.uniform(self.road_x0 + 0.3, self.curb_x - 0.6)
            lit.floor_quad(x, x + 0.1, y, y + rng.uniform(0.8, 1.5), -ROAD_DROP_M + 0.004, (0.55, 0.56, 0.60))

    def _crossing(self, lit: MeshBuilder, a: float, b: float, road) -> None:
        """A side street across the route with a zebra crossing, running off to the right."""
        lit.floor_quad(self.curb_x, 40.0, a, b, -ROAD_DROP_M, road)
        hw = self.half_m
        x = -hw
        while x < hw:  # zebra stripes run along the walking direction
            lit.floor_quad(x, x + 0.5, a + 0.3, b - 0.3, -ROAD_DROP_M + 0.005, (0.96, 0.96, 0.94))
            x += 1.0
        for y in (a - 0.3, b + 0.3):  # stop lines on the side street
            lit.floor_quad(hw + 0.5, hw + 3.5, min(y, y + 0.3), max(y, y + 0.3), -ROAD_DROP_M + 0.005, (0.96, 0.96, 0.94))
