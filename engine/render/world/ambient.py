"""Ambient life: shoppers, pedestrians and passing cars that move on the scene clock.

Each mover follows a closed-form path: position = start + velocity x scene time, wrapped over a
loop of LOOP_M that travels with the patient (the wrap happens behind the patient, out of view).
So the picture depends only on the scene clock and s: pausing freezes them, a replay shows the
same thing, nothing accumulates error, and the count depends on density, not route length. They keep out of the patient's lane: they
are scenery; anything that blocks the path is an obstacle in the scene file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from panda3d.core import NodePath

from engine.render.world.mesh import MeshBuilder
from engine.render.world.props import CAR_COLOURS, car, person

MAX_PEOPLE = 60
MAX_CARS = 16
LOOP_M = 160.0  # people and cars live in [s - LOOP_BEHIND_M, s - LOOP_BEHIND_M + LOOP_M)
LOOP_BEHIND_M = 30.0


@dataclass
class Mover:
    node: NodePath
    x_m: float
    y0_m: float
    speed_mps: float  # signed: + walks along the route, - towards the patient
    still: bool = False


class AmbientLife:
    """Builds the movers once; `update` places them and shows only those in view."""

    def __init__(self, scene, layout, parent: NodePath) -> None:
        self.root = parent.attachNewNode("ambient")
        self.start_y = layout.start_y
        self.end_y = layout.end_y
        self.span_m = LOOP_M
        self.movers: list[Mover] = []
        rng = random.Random(scene.seed * 31 + 7)
        amb = scene.ambient
        count = min(MAX_PEOPLE, int(round(amb.people_per_100m * LOOP_M / 100.0)))
        grocery = scene.environment.type == "grocery_store"
        for k in range(count):
            mb = MeshBuilder(f"person-{k}")
            person(mb, rng)
            node = self.root.attachNewNode(mb.node())
            speed = amb.walk_speed_mps * rng.uniform(0.8, 1.2) * rng.choice((-1.0, 1.0))
            if grocery:
                side = rng.choice((-1.0, 1.0))
                aisles = [side * (x + 0.5 + layout.env.aisle_width_m / 2) for x in layout.row_x]
                if rng.random() < 0.3:  # a shopper at the shelf in the patient's aisle, standing still
                    x = side * (layout.env.aisle_width_m / 2 - 0.35)
                    self.movers.append(Mover(node, x, rng.uniform(0.0, LOOP_M), 0.0, still=True))
                    node.setH(-90.0 * side)
                    continue
                x = rng.choice(aisles) + rng.uniform(-0.3, 0.3)
            else:
                if rng.random() < 0.5:
                    x = layout.half_m - 0.45  # on the patient's sidewalk, by the shop windows
                else:
                    x = layout.road_x0 - 2.0 + rng.uniform(-0.8, 0.8)  # across the street
            self.movers.append(Mover(node, x, rng.uniform(0.0, self.span_m), speed))
            node.setH(0.0 if speed > 0 else 180.0)
        if not grocery and amb.passing_cars_per_min > 0:
            car_speed = 9.0
            n_cars = min(MAX_CARS, max(1, int(round(amb.passing_cars_per_min * self.span_m / (car_speed * 60.0)))))
            lanes = layout.lane_x
            for k in range(n_cars):
                mb = MeshBuilder(f"car-{k}")
                lane = k % len(lanes)
                # keep the parking lane (next to the curb) free when cars are parked there
                if amb.parked_cars_per_100m > 0 and len(lanes) > 1 and lane == 0:
                    lane = 1
                direction = 1.0 if lane % 2 == 0 else -1.0
                car(mb, 0.0, 0.0, 0.0, rng.choice(CAR_COLOURS), lights_on=layout.night)
                node = self.root.attachNewNode(mb.node())
                node.setH(0.0 if direction > 0 else 180.0)
                x = lanes[lane] + (-0.2 if direction > 0 else 0.2)
                self.movers.append(Mover(node, x, rng.uniform(0.0, self.span_m), direction * car_speed * rng.uniform(0.85, 1.15)))
        for m in self.movers:
            m.node.setZ(-0.12 if abs(m.speed_mps) > 3.0 else 0.0)

    def update(self, s_m: float, scene_time_s: float, y_from_m: float, y_to_m: float) -> None:
        """Move everyone to where they are at (s_m, scene_time_s); hide those outside [y_from, y_to]."""
        origin = s_m - LOOP_BEHIND_M
        for m in self.movers:
            y = origin + (m.y0_m + m.speed_mps * scene_time_s - origin) % self.span_m
            m.node.setPos(m.x_m, y, m.node.getZ())
            if y_from_m <= y <= y_to_m and self.start_y <= y <= self.end_y:
                m.node.show()
            else:
                m.node.hide()
