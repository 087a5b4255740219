"""The grocery store: aisles of stocked shelves along the route, cross aisles with end caps,
floor tiles, ceiling light panels, parked carts, a checkout near the end of the route.

The route runs down the middle of an aisle (x = 0). Row k of shelving on each side sits one
aisle further out, so the patient sees the neighbouring aisles through each cross aisle.
"""

from __future__ import annotations

import random

from engine.render.world.mesh import MeshBuilder
from engine.render.world.props import PRODUCT_COLOURS, cart, end_cap, shelf_products_far, shelf_unit
from engine.scene.model import GroceryStore, Scene

SHELF_DEPTH_M = 1.0
CROSS_AISLE_M = 2.4
CEILING_M = 4.0
ENTRANCE_M = -6.0  # the store's front wall, behind the start of the route

FLOORS = {
    "tiles": ((0.86, 0.85, 0.80), (0.70, 0.72, 0.72)),
    "concrete": ((0.62, 0.62, 0.60), (0.58, 0.58, 0.57)),
    "wood": ((0.62, 0.45, 0.28), (0.55, 0.38, 0.22)),
}
LIGHTING = {"bright": (0.62, 0.55), "normal": (0.50, 0.45), "dim": (0.34, 0.30)}  # ambient, directional


class GroceryLayout:
    """Where everything in the store goes, from the scene's environment parameters."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.env: GroceryStore = scene.environment
        env = self.env
        self.row_x = [env.aisle_width_m / 2 + SHELF_DEPTH_M / 2 + k * (env.aisle_width_m + SHELF_DEPTH_M) for k in range(env.aisles)]
        self.half_width_m = self.row_x[-1] + SHELF_DEPTH_M / 2 + env.aisle_width_m * 0.8
        self.length_m = scene.route_length_m
        self.checkout_y = self.length_m + 2.0 if env.checkout else None
        self.back_wall_y = self.length_m + (9.0 if env.checkout else 4.0)
        self.start_y = ENTRANCE_M
        self.end_y = self.back_wall_y + 0.5
        # People and carts crossing the route need a way through the shelves: open a cross aisle
        self.gaps = [(o.at_m - 0.9, o.at_m + 2.1) for o in scene.obstacles
                     if o.kind in ("pedestrian_crossing", "cart_crossing")]
        # pharmacy shelving (a fixture) stands in place of the nearest shelf row on its side
        self.side_gaps = {side: [(f.at_m, f.at_m + f.length_m) for f in scene.fixtures
                                 if f.kind == "pharmacy_shelf" and f.lateral_m is None
                                 and (f.side == "right") == (side > 0)] for side in (-1, 1)}
        self.background = (0.82, 0.84, 0.86)
        self.ambient, self.sun = LIGHTING[env.lighting]

    def shelf_segments(self, y0: float, y1: float) -> list[tuple[float, float, bool, bool]]:
        """Shelf stretches overlapping [y0, y1): (start, end, starts_here, ends_here)."""
        period = self.env.cross_aisle_every_m
        stop = self.length_m - 1.0
        out = []
        n = int(max(0.0, y0) // period)
        while True:
            start = n * period + CROSS_AISLE_M / 2
            end = min((n + 1) * period - CROSS_AISLE_M / 2, stop)
            if start >= y1 or start >= stop:
                break
            for a, b in self._minus_gaps(start, end):
                if b > y0 and a < y1 and b - a > 0.6:
                    out.append((max(a, y0), min(b, y1), a >= y0, b <= y1))
            n += 1
        return out

    def _minus_gaps(self, start: float, end: float) -> list[tuple[float, float]]:
        pieces = [(start, end)]
        for g0, g1 in self.gaps:
            pieces = [p for a, b in pieces for p in ((a, min(b, g0)), (max(a, g1), b)) if p[1] > p[0]]
        return pieces

    def eye_level_sign_y(self) -> list[float]:
        period = self.env.cross_aisle_every_m
        return [n * period for n in range(1, int(self.length_m // period) + 1)]

    def build_chunk(self, y0: float, y1: float, seed: int) -> tuple[MeshBuilder, MeshBuilder]:
        """(lit geometry, unlit emissive geometry) for the stretch [y0, y1)."""
        lit, glow, _ = self.build_chunk_lod(y0, y1, seed)
        return lit, glow

    def build_chunk_lod(self, y0: float, y1: float, seed: int) -> tuple[MeshBuilder, MeshBuilder, MeshBuilder]:
        """(lit, glow, lit far) for the stretch [y0, y1): `lit far` is what the chunk shows beyond
        FAR_DETAIL_M (world/__init__.py): the same floor, walls, shelf frames, end caps and carts,
        with the packages as strips and bands (shelf_products_far) and no price rails. The
        packages are most of a grocery chunk's vertices, and vertices most of a software
        renderer's frame; in the fog a package is a few pixels."""
        env = self.env
        rng = random.Random(seed)
        far_rng = random.Random(seed ^ 0x5F3759DF)  # its own: the near chunk stays as it always was
        lit = MeshBuilder("grocery-lit")
        products = MeshBuilder("grocery-products")  # near only
        far = MeshBuilder("grocery-far-products")
        glow = MeshBuilder("grocery-glow")
        hw = self.half_width_m
        a, b = FLOORS[env.floor]
        y_lo, y_hi = max(y0, self.start_y), min(y1, self.end_y)
        if y_hi <= y_lo:
            return lit, glow, lit.merged("grocery-far")
        # floor: 1 m tiles in a checker pattern (wood: planks along the route)
        if env.floor == "tiles":
            x = -hw
            while x < hw:
                y = float(int(y_lo) if y_lo >= 0 else int(y_lo) - 1)
                while y < y_hi:
                    ya, yb = max(y, y_lo), min(y + 1.0, y_hi)
                    colour = a if (int(x + 100) + int(y + 100)) % 2 == 0 else b
                    lit.floor_quad(x, min(x + 1.0, hw), ya, yb, 0.0, colour)
                    y += 1.0
                x += 1.0
        elif env.floor == "wood":
            x = -hw
            k = 0
            while x < hw:
                lit.floor_quad(x, min(x + 0.25, hw), y_lo, y_hi, 0.0, a if k % 2 else b)
                x += 0.25
                k += 1
        else:
            lit.floor_quad(-hw, hw, y_lo, y_hi, 0.0, a)
        # ceiling and light panels along every aisle
        lit.quad([(-hw, y_lo, CEILING_M), (-hw, y_hi, CEILING_M), (hw, y_hi, CEILING_M), (hw, y_lo, CEILING_M)], (0.75, 0.75, 0.78))
        aisle_x = [0.0] + [s * (x + SHELF_DEPTH_M / 2 + env.aisle_width_m / 2) for x in self.row_x for s in (-1, 1)]
        y = float(int(y_lo // 3.0) * 3.0)
        while y < y_hi:
            if y >= y_lo:
                for x in aisle_x:
                    glow.box(x, y + 0.9, CEILING_M - 0.06, 0.6, 1.2, 0.05, (1.0, 1.0, 0.96), bottom=True)
            y += 3.0
        # side walls with a coloured band
        for side in (-1, 1):
            lit.box_span(side * hw, side * (hw + 0.2), y_lo, y_hi, 0.0, CEILING_M, (0.90, 0.88, 0.82))
            lit.box_span(side * (hw - 0.02), side * hw, y_lo, y_hi, 2.4, 2.8, (0.15, 0.45, 0.25))
        # shelving rows and end caps
        for k, row in enumerate(self.row_x):
            for start, end, starts_here, ends_here in self.shelf_segments(y_lo, y_hi):
                for side in (-1, 1):
                    pieces = [(start, end)]
                    if k == 0:
                        for g0, g1 in self.side_gaps[side]:
                            pieces = [p for a, b in pieces for p in ((a, min(b, g0)), (max(a, g1), b)) if p[1] - p[0] > 0.3]
                    for a, b in pieces:
                        shelf_unit(lit, side * row, a, b, env.shelf_height_m, env.shelf_levels, env.shelf_density, rng,
                                   detail=(k == 0), products=products, rails=products)
                        shelf_products_far(far, side * row, a, b, env.shelf_height_m, env.shelf_levels,
                                           env.shelf_density, far_rng, aisle_side=-side if k == 0 else None)
                    if env.end_caps:
                        if starts_here:
                            end_cap(lit, side * row, start - 0.3, -1, rng)
                        if ends_here:
                            end_cap(lit, side * row, end + 0.3, 1, rng)
        # aisle signs hanging over each cross aisle (a scene's own aisle_sign replaces one)
        own = [f.at_m for f in self.scene.fixtures if f.kind == "aisle_sign"]
        for y_sign in self.eye_level_sign_y():
            if y_lo <= y_sign < y_hi and not any(abs(y_sign - a) < 3.0 for a in own):
                lit.box(0.0, y_sign, 2.8, 1.6, 0.06, 0.45, (0.10, 0.30, 0.65))
                lit.box(0.0, y_sign - 0.04, 2.9, 1.3, 0.02, 0.2, (0.97, 0.97, 0.97))
                lit.box(0.0, y_sign, 3.25, 0.03, 0.03, CEILING_M - 3.25, (0.4, 0.4, 0.4))
        # parked carts in the cross aisles and neighbouring aisles (never in the patient's lane)
        if self.scene.ambient.carts and self.length_m > 0:
            per_m = self.scene.ambient.carts / self.length_m
            expected = per_m * (y_hi - y_lo)
            count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for _ in range(count):
                y = rng.uniform(y_lo, y_hi)
                if len(aisle_x) > 1:
                    x = rng.choice(aisle_x[1:]) + rng.uniform(-0.4, 0.4)
                    cart(lit, x, y, rng.choice((0.0, 180.0)) + rng.uniform(-15, 15))
        # the store front behind the start, and the back wall
        if y_lo <= self.start_y < y_hi:
            lit.box_span(-hw, hw, self.start_y - 0.2, self.start_y, 0.0, CEILING_M, (0.85, 0.85, 0.82))
        if y_lo <= self.back_wall_y < y_hi:
            lit.box_span(-hw, hw, self.back_wall_y, self.back_wall_y + 0.2, 0.0, CEILING_M, (0.88, 0.86, 0.80))
            lit.box_span(-hw, hw, self.back_wall_y - 0.02, self.back_wall_y, 2.2, 2.9, (0.80, 0.15, 0.12))
            for k in range(int(hw * 2 / 1.5)):  # fridges along the back wall
                lit.box(-hw + 0.75 + k * 1.5, self.back_wall_y - 0.45, 0.0, 1.4, 0.8, 2.0, (0.92, 0.94, 0.96))
                glow.box(-hw + 0.75 + k * 1.5, self.back_wall_y - 0.86, 0.3, 1.2, 0.02, 1.5, (0.80, 0.90, 1.0))
        if self.checkout_y is not None and y_lo <= self.checkout_y < y_hi:
            self._checkout(lit, glow, rng)
        return lit.merged("grocery-lit", products), glow, lit.merged("grocery-far", far)

    def _checkout(self, lit: MeshBuilder, glow: MeshBuilder, rng: random.Random) -> None:
        y = self.checkout_y
        lane = 0
        x = self.env.aisle_width_m / 2 + 0.6
        while x < self.half_width_m - 1.0:
            for side in (-1, 1):
                cx = side * x
                lit.box(cx, y + 1.5, 0.0, 0.8, 3.0, 0.9, (0.25, 0.28, 0.32))
                lit.box(cx, y + 1.2, 0.9, 0.6, 2.2, 0.03, (0.10, 0.10, 0.10))  # conveyor belt
                lit.box(cx, y + 2.7, 0.9, 0.4, 0.3, 0.35, (0.2, 0.2, 0.2))  # register
                lit.box(cx, y + 2.7, 1.25, 0.35, 0.05, 0.25, (0.10, 0.10, 0.12))
                lit.box(cx, y + 0.2, 0.0, 0.06, 0.06, 2.2, (0.5, 0.5, 0.5))  # lane light pole
                glow.box(cx, y + 0.2, 2.2, 0.35, 0.1, 0.35, PRODUCT_COLOURS[(lane + 2) % len(PRODUCT_COLOURS)])
                for k in range(rng.randint(0, 4)):
                    lit.box(cx + rng.uniform(-0.2, 0.2), y + 0.5 + k * 0.4, 0.93, 0.2, 0.2, 0.15, rng.choice(PRODUCT_COLOURS))
                lane += 1
            x += 2.6
