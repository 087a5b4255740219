"""Procedural props drawn into a MeshBuilder: shelves and products, carts, people, cars, trees...

Every function adds boxes around a given spot (x across, y along the route, z up, metres).
Nothing is loaded from disk; colours come from palettes and a seeded random generator so a
scene looks the same every time it is built.
"""

from __future__ import annotations

import random

from engine.render.world.mesh import FACE_NX, FACE_PX, FACES_NO_BOTTOM, MeshBuilder

PRODUCT_COLOURS = [
    (0.85, 0.15, 0.12), (0.95, 0.75, 0.10), (0.15, 0.45, 0.85), (0.20, 0.65, 0.25),
    (0.95, 0.55, 0.10), (0.60, 0.25, 0.65), (0.95, 0.95, 0.92), (0.35, 0.20, 0.10),
    (0.90, 0.40, 0.60), (0.10, 0.70, 0.75), (0.75, 0.85, 0.20), (0.20, 0.20, 0.25),
]
SHELF_METAL = (0.80, 0.80, 0.78)
SHELF_BACK = (0.62, 0.66, 0.70)
SKIN = [(0.94, 0.78, 0.65), (0.80, 0.60, 0.45), (0.55, 0.38, 0.26), (0.36, 0.24, 0.16)]
CLOTHES = [(0.20, 0.30, 0.60), (0.60, 0.15, 0.15), (0.25, 0.45, 0.25), (0.35, 0.35, 0.38),
           (0.85, 0.70, 0.30), (0.55, 0.35, 0.55), (0.15, 0.15, 0.18), (0.80, 0.45, 0.20)]
CAR_COLOURS = [(0.75, 0.10, 0.10), (0.15, 0.25, 0.55), (0.85, 0.85, 0.85), (0.12, 0.12, 0.14),
               (0.55, 0.58, 0.60), (0.20, 0.45, 0.30), (0.90, 0.75, 0.15)]
FACADE_COLOURS = [(0.85, 0.78, 0.65), (0.70, 0.45, 0.35), (0.92, 0.90, 0.85), (0.60, 0.62, 0.66),
                  (0.78, 0.60, 0.45), (0.55, 0.40, 0.32), (0.88, 0.82, 0.55), (0.65, 0.72, 0.70)]
AWNING_COLOURS = [(0.75, 0.12, 0.12), (0.12, 0.45, 0.25), (0.15, 0.30, 0.65), (0.90, 0.60, 0.10)]
GLASS = (0.18, 0.30, 0.40)
HAZARD_YELLOW = (1.0, 0.85, 0.0)


def _hidden_back(side: int) -> int:
    """Face bits of a package on the `side` face of a shelf unit: all but its back, which faces
    the unit's back panel (no camera in an aisle can see it; it would only cost vertices)."""
    return FACES_NO_BOTTOM & ~(FACE_NX if side > 0 else FACE_PX)


def shelf_unit(mb: MeshBuilder, x: float, y0: float, y1: float, height_m: float, levels: int,
               density: float, rng: random.Random, detail: bool, depth_m: float = 1.0,
               products: MeshBuilder | None = None, rails: MeshBuilder | None = None) -> None:
    """A double-sided gondola shelf centred at x from y0 to y1, stocked on both faces. The frame
    goes into `mb`, the packages into `products` and the price rails into `rails` (both default
    `mb`): a chunk's far version (shelf_products_far) shares the frame and has its own packages."""
    products = mb if products is None else products
    rails = mb if rails is None else rails
    half = depth_m / 2
    mb.box_span(x - 0.04, x + 0.04, y0, y1, 0.0, height_m, SHELF_BACK)  # back panel
    mb.box_span(x - half, x + half, y0, y1, 0.0, 0.12, (0.30, 0.32, 0.35))  # kick plate
    for end in (y0, y1 - 0.04):
        mb.box_span(x - half, x + half, end, end + 0.04, 0.0, height_m, SHELF_METAL)  # uprights
    level_h = (height_m - 0.15) / levels
    for k in range(levels):
        z = 0.12 + k * level_h
        mb.box_span(x - half, x + half, y0, y1, z, z + 0.03, SHELF_METAL)
        for side in (-1, 1):
            face_x = x + side * (half - 0.2)
            faces = _hidden_back(side)
            if not detail:
                # far rows: one coloured strip per metre is enough at that distance
                y = y0 + 0.05
                while y < y1 - 0.1:
                    length = min(1.0, y1 - 0.05 - y)
                    if rng.random() < density:
                        products.box(face_x, y + length / 2, z + 0.03, 0.34, length, level_h * 0.7,
                                     rng.choice(PRODUCT_COLOURS), faces=faces)
                    y += length
                continue
            label = FACE_PX if side > 0 else FACE_NX  # a label is 1 cm thick: only its front shows
            y = y0 + 0.06
            while y < y1 - 0.1:
                width = rng.uniform(0.12, 0.32)
                if y + width > y1 - 0.06:
                    break
                if rng.random() < density:
                    h = min(level_h * 0.85, rng.uniform(0.12, 0.34))
                    colour = rng.choice(PRODUCT_COLOURS)
                    products.box(face_x, y + width / 2, z + 0.03, 0.32, width * 0.92, h, colour, faces=faces)
                    if h > 0.18 and rng.random() < 0.5:  # a label band makes packages read as products
                        products.box(face_x + side * 0.165, y + width / 2, z + 0.03 + h * 0.4, 0.01, width * 0.8,
                                     h * 0.25, (0.97, 0.97, 0.95), faces=label)
                y += width
    # a price rail at each level edge
    for k in range(levels):
        z = 0.12 + k * level_h
        for side in (-1, 1):
            rails.box(x + side * (half - 0.005), (y0 + y1) / 2, z - 0.04, 0.02, y1 - y0, 0.05, (0.95, 0.95, 0.95))


FAR_STRIP_M = 1.0  # a far chunk's packages on the face toward the patient's aisle: one strip a metre
FAR_BAND_M = 2.5  # ... on faces seen only through cross aisles: one band per level this long


def shelf_products_far(mb: MeshBuilder, x: float, y0: float, y1: float, height_m: float, levels: int,
                       density: float, rng: random.Random, aisle_side: int | None, depth_m: float = 1.0) -> None:
    """The packages of shelf_unit as a chunk far from the patient shows them (in the fog, a few
    pixels each): coloured strips along the face toward the patient's aisle (`aisle_side`, or
    None when neither face is), longer bands on the others. About a tenth of the vertices."""
    half = depth_m / 2
    level_h = (height_m - 0.15) / levels
    for k in range(levels):
        z = 0.12 + k * level_h
        for side in (-1, 1):
            face_x = x + side * (half - 0.2)
            step = FAR_STRIP_M if side == aisle_side else FAR_BAND_M
            y = y0 + 0.05
            while y < y1 - 0.1:
                length = min(step, y1 - 0.05 - y)
                if rng.random() < density:
                    mb.box(face_x, y + length / 2, z + 0.03, 0.34, length, level_h * 0.7,
                           rng.choice(PRODUCT_COLOURS), faces=_hidden_back(side))
                y += length


def end_cap(mb: MeshBuilder, x: float, y: float, facing: int, rng: random.Random) -> None:
    """A promotional display at the end of a shelf unit: stacked boxes and a sign."""
    colour = rng.choice(PRODUCT_COLOURS)
    mb.box(x, y, 0.0, 0.9, 0.5, 0.5, (0.85, 0.20, 0.15))
    for row in range(3):
        for col in range(3 - row):
            mb.box(x - 0.3 + col * 0.3 + row * 0.15, y, 0.5 + row * 0.22, 0.26, 0.4, 0.2, colour)
    mb.box(x, y, 1.5, 0.9, 0.04, 0.35, (0.98, 0.90, 0.10))


def cart(mb: MeshBuilder, x: float, y: float, heading_deg: float = 0.0, colour=(0.70, 0.72, 0.75)) -> None:
    """A shopping cart (basket, handle, wheels) pointing along +Y at heading 0."""
    import math

    h = math.radians(heading_deg)

    def at(dx: float, dy: float) -> tuple[float, float]:
        return x + dx * math.cos(h) - dy * math.sin(h), y + dx * math.sin(h) + dy * math.cos(h)

    for dx, dy in ((-0.22, -0.35), (0.22, -0.35), (-0.22, 0.35), (0.22, 0.35)):
        wx, wy = at(dx, dy)
        mb.box(wx, wy, 0.0, 0.05, 0.1, 0.1, (0.1, 0.1, 0.1), heading_deg=heading_deg)
    bx, by = at(0, 0)
    mb.box(bx, by, 0.1, 0.5, 0.8, 0.05, colour, heading_deg=heading_deg)  # base frame
    mb.box(bx, by, 0.45, 0.56, 0.85, 0.45, colour, alpha=1.0, heading_deg=heading_deg)  # basket
    hx, hy = at(0, -0.5)
    mb.box(hx, hy, 0.95, 0.56, 0.05, 0.05, (0.85, 0.15, 0.10), heading_deg=heading_deg)  # handle


def person(mb: MeshBuilder, rng: random.Random, x: float = 0.0, y: float = 0.0, heading_deg: float = 0.0,
           height_m: float | None = None) -> None:
    """A standing person (legs, torso, arms, head, hair) facing +Y at heading 0."""
    height = height_m or rng.uniform(1.55, 1.90)
    skin = rng.choice(SKIN)
    top = rng.choice(CLOTHES)
    trousers = rng.choice(CLOTHES[3:] + [(0.15, 0.2, 0.35)])
    leg_h = height * 0.47
    torso_h = height * 0.33
    head = height * 0.13
    kw = {"heading_deg": heading_deg}
    mb.box(x - 0.1, y, 0.0, 0.14, 0.18, leg_h, trousers, **kw)
    mb.box(x + 0.1, y, 0.0, 0.14, 0.18, leg_h, trousers, **kw)
    mb.box(x, y, leg_h, 0.44, 0.24, torso_h, top, **kw)
    mb.box(x - 0.27, y, leg_h + torso_h * 0.15, 0.1, 0.12, torso_h * 0.85, top, **kw)
    mb.box(x + 0.27, y, leg_h + torso_h * 0.15, 0.1, 0.12, torso_h * 0.85, top, **kw)
    mb.box(x, y, leg_h + torso_h, 0.1, 0.1, height * 0.03, skin, **kw)
    mb.box(x, y, leg_h + torso_h + height * 0.03, 0.2, 0.22, head, skin, **kw)
    mb.box(x, y - 0.02, leg_h + torso_h + height * 0.03 + head * 0.75, 0.22, 0.24, head * 0.35,
           rng.choice([(0.1, 0.08, 0.05), (0.45, 0.3, 0.15), (0.8, 0.8, 0.8), (0.9, 0.75, 0.4)]), **kw)


def car(mb: MeshBuilder, x: float, y: float, heading_deg: float, colour, lights_on: bool = False,
        z: float = 0.0) -> None:
    """A car about 4.3 m long pointing along +Y at heading 0, wheels on height z."""
    kw = {"heading_deg": heading_deg}
    import math

    h = math.radians(heading_deg)

    def at(dx: float, dy: float) -> tuple[float, float]:
        return x + dx * math.cos(h) - dy * math.sin(h), y + dx * math.sin(h) + dy * math.cos(h)

    mb.box(x, y, z + 0.25, 1.8, 4.3, 0.6, colour, **kw)
    cx, cy = at(0, -0.2)
    mb.box(cx, cy, z + 0.85, 1.6, 2.2, 0.55, colour, **kw)
    mb.box(cx, cy, z + 0.9, 1.64, 2.0, 0.42, GLASS, **kw)
    for dx, dy in ((-0.85, -1.35), (0.85, -1.35), (-0.85, 1.35), (0.85, 1.35)):
        wx, wy = at(dx, dy)
        mb.box(wx, wy, z + 0.0, 0.25, 0.65, 0.65, (0.08, 0.08, 0.08), **kw)
    lamp = (1.0, 1.0, 0.85) if lights_on else (0.9, 0.9, 0.8)
    for dx in (-0.6, 0.6):
        fx, fy = at(dx, 2.15)
        mb.box(fx, fy, z + 0.6, 0.35, 0.04, 0.12, lamp, **kw)
        rx, ry = at(dx, -2.15)
        mb.box(rx, ry, z + 0.6, 0.35, 0.04, 0.12, (0.8, 0.05, 0.05), **kw)


def tree(mb: MeshBuilder, x: float, y: float, rng: random.Random, height_m: float | None = None) -> None:
    """A street tree: trunk and a layered crown."""
    height = height_m or rng.uniform(4.5, 7.0)
    mb.box(x, y, 0.0, 0.9, 0.9, 0.05, (0.30, 0.22, 0.15))  # tree pit
    mb.box(x, y, 0.0, 0.22, 0.22, height * 0.5, (0.40, 0.28, 0.18))
    green = rng.choice([(0.20, 0.50, 0.20), (0.25, 0.55, 0.18), (0.16, 0.42, 0.22)])
    for k, (w, z) in enumerate(((2.6, 0.45), (3.0, 0.6), (2.2, 0.78), (1.2, 0.92))):
        shade = tuple(min(1.0, c * (0.9 + 0.08 * k)) for c in green)
        mb.box(x, y, height * z, w, w, height * 0.18, shade, heading_deg=k * 20)


def bench(mb: MeshBuilder, x: float, y: float, facing_left: bool = True) -> None:
    """A park bench along the route (seat and backrest)."""
    wood = (0.55, 0.35, 0.18)
    back = 0.2 if facing_left else -0.2
    mb.box(x, y, 0.0, 0.5, 0.08, 0.45, (0.2, 0.2, 0.2))
    mb.box(x, y + 1.6, 0.0, 0.5, 0.08, 0.45, (0.2, 0.2, 0.2))
    mb.box(x, y + 0.8, 0.42, 0.5, 1.8, 0.06, wood)
    mb.box(x + back, y + 0.8, 0.5, 0.06, 1.8, 0.45, wood)


def streetlight(mb: MeshBuilder, x: float, y: float, arm: float) -> None:
    """A lamp post with an arm reaching over the road (arm < 0: to the left)."""
    mb.box(x, y, 0.0, 0.14, 0.14, 5.5, (0.25, 0.27, 0.30))
    mb.box(x + arm / 2, y, 5.4, abs(arm), 0.1, 0.1, (0.25, 0.27, 0.30))
    mb.box(x + arm, y, 5.2, 0.5, 0.3, 0.2, (0.3, 0.3, 0.3))


def building(mb: MeshBuilder, front_x: float, y0: float, y1: float, rng: random.Random, kind: str,
             night: bool, direction: int = 1) -> None:
    """A building whose front is at front_x between y0 and y1; direction +1 extends to +X (faces -X)."""

    def fx(offset: float) -> float:  # x of a point `offset` metres into the building (negative: in front)
        return front_x + direction * offset

    floors = rng.randint(2, 5) if kind != "houses" else rng.randint(2, 3)
    floor_h = 3.2
    height = floors * floor_h + 0.6
    colour = rng.choice(FACADE_COLOURS)
    mb.box_span(fx(0.0), fx(10.0), y0, y1, 0.0, height, colour)
    mb.box_span(fx(-0.15), fx(0.2), y0, y1, height - 0.3, height + 0.15, tuple(c * 0.8 for c in colour))  # cornice
    lit = (0.95, 0.85, 0.55) if night else (0.20, 0.28, 0.36)
    width = y1 - y0
    shop = kind == "shops" or (kind == "mixed" and rng.random() < 0.6)
    if shop:
        # shop window, door and awning: the ground floor the patient sees at eye level
        mb.box_span(fx(-0.06), fx(0.0), y0 + 0.4, y1 - 0.4, 0.0, 3.0, (0.15, 0.15, 0.17))
        mb.box_span(fx(-0.08), fx(0.0), y0 + 0.55, y0 + width * 0.62, 0.5, 2.7,
                    (0.85, 0.80, 0.60) if night else (0.30, 0.42, 0.50))
        mb.box_span(fx(-0.08), fx(0.0), y0 + width * 0.68, y0 + width * 0.68 + 1.0, 0.0, 2.4, (0.35, 0.22, 0.12))
        for k in range(int((width * 0.55) / 0.7)):  # goods on display behind the glass
            mb.box(fx(0.15), y0 + 0.9 + k * 0.7, 0.5, 0.2, 0.4, rng.uniform(0.3, 1.2), rng.choice(PRODUCT_COLOURS))
        mb.box_span(fx(-1.2), fx(0.0), y0 + 0.3, y1 - 0.3, 2.9, 3.05, rng.choice(AWNING_COLOURS))  # awning
        mb.box_span(fx(-0.1), fx(0.0), y0 + 0.6, y1 - 0.6, 3.4, 3.9, (0.95, 0.95, 0.92))  # sign board
        first = 1
    else:
        mb.box_span(fx(-0.08), fx(0.0), y0 + width / 2 - 0.55, y0 + width / 2 + 0.55, 0.0, 2.3, (0.40, 0.25, 0.15))
        mb.box_span(fx(-0.5), fx(0.0), y0 + width / 2 - 0.9, y0 + width / 2 + 0.9, 0.0, 0.15, (0.6, 0.6, 0.6))
        first = 0
    columns = max(1, int(width / 2.2))
    step = width / columns
    for f in range(first, floors):
        for c in range(columns):
            if f == 0 and abs((c + 0.5) * step - width / 2) < 1.0:
                continue
            yc = y0 + (c + 0.5) * step
            on = lit if (not night or rng.random() < 0.6) else (0.1, 0.1, 0.12)
            mb.box(fx(-0.04), yc, f * floor_h + 0.9, 0.08, 1.1, 1.5, on)
            mb.box(fx(-0.1), yc, f * floor_h + 0.85, 0.12, 1.3, 0.08, (0.9, 0.9, 0.9))
