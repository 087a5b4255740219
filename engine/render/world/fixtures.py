"""Fixtures: benches, bus stops, wet-floor signs, pharmacy shelving and aisle signs, drawn
procedurally from a scene's `fixtures` list (engine.scene.model), each one node with one or two
draw calls, placed where engine.scene.rules says it stands (so validation and drawing agree).

Signs carry real text (Panda3D TextNode, which tinydisplay draws too) in large, high-contrast
letters: the patients are often older.
"""

from __future__ import annotations

import random

from panda3d.core import NodePath, TextNode, TransparencyAttrib

from engine.render.world.mesh import MeshBuilder
from engine.render.world.props import HAZARD_YELLOW, bench
from engine.scene.rules import fixture_x

PHARMACY_COLOURS = {
    "pain relief": (0.85, 0.15, 0.15), "cold and flu": (0.15, 0.45, 0.85), "vitamins": (0.95, 0.60, 0.05),
    "first aid": (0.10, 0.60, 0.25), "skin care": (0.75, 0.40, 0.70), "baby care": (0.45, 0.75, 0.95),
}
AISLE_COLOURS = {
    "pharmacy": (0.10, 0.55, 0.30), "bakery": (0.70, 0.42, 0.15), "dairy": (0.20, 0.45, 0.85),
    "produce": (0.25, 0.62, 0.20), "frozen": (0.35, 0.70, 0.90), "drinks": (0.80, 0.20, 0.25),
    "household": (0.50, 0.35, 0.65), "checkout": (0.95, 0.70, 0.05),
}
WHITE = (0.97, 0.97, 0.97)


def _label(parent: NodePath, text: str, pos: tuple[float, float, float], heading_deg: float, scale: float,
           rgb=(0.05, 0.05, 0.05)) -> NodePath:
    node = TextNode(f"label-{text}")
    node.setText(text)
    node.setAlign(TextNode.ACenter)
    node.setTextColor(*rgb, 1.0)
    label = parent.attachNewNode(node)
    label.setPos(*pos)
    label.setH(heading_deg)
    label.setScale(scale)
    label.setLightOff(1)
    label.setDepthOffset(1)
    return label


def _facing_patient(x: float) -> float:
    """Heading of a sign face at x so the patient walking along +y can read it."""
    return 180.0 if abs(x) < 0.5 else (150.0 if x > 0 else -150.0)


def build_fixture(fixture, scene, parent: NodePath, index: int) -> NodePath:
    """One fixture's node, at its place along the route."""
    node = parent.attachNewNode(f"fixture-{index}-{fixture.kind}")
    node.setTag("fixture_kind", fixture.kind)
    x0, x1 = fixture_x(scene, fixture)
    x = (x0 + x1) / 2
    y = fixture.at_m
    mb = MeshBuilder(f"fixture-{fixture.kind}")
    kind = fixture.kind
    if kind == "bench":
        bench(mb, x, y, facing_left=x > 0)
        mb.box(x, y + fixture.length_m / 2, 0.42, 0.5, fixture.length_m, 0.06, (0.55, 0.35, 0.18))
    elif kind == "bus_stop":
        _bus_stop(mb, node, fixture, x, x0, x1, y)
    elif kind == "wet_floor_sign":
        _wet_floor_sign(mb, node, x, y)
    elif kind == "pharmacy_shelf":
        _pharmacy_shelf(mb, node, fixture, x, x0, x1, y, random.Random(scene.seed * 31 + index))
    elif kind == "aisle_sign":
        colour = AISLE_COLOURS[fixture.category]
        sign_x = 0.0 if fixture.lateral_m is None else fixture.lateral_m
        mb.box(sign_x, y, 2.55, 1.8, 0.05, 0.5, colour)
        mb.box(sign_x, y, 3.05, 0.03, 0.03, 0.95, (0.4, 0.4, 0.4))
        _label(node, fixture.category.upper(), (sign_x, y - 0.04, 2.72), 0.0, 0.24, WHITE)
    node.attachNewNode(mb.node())
    return node


def _bus_stop(mb: MeshBuilder, node: NodePath, f, x: float, x0: float, x1: float, y: float) -> None:
    road_side = -1.0 if x < 0 else 1.0
    pole_x = x1 - 0.1 if road_side < 0 else x0 + 0.1  # route-side edge of its footprint, before the shelter: seen first
    mb.box(pole_x, y, 0.0, 0.08, 0.08, 2.9, (0.35, 0.35, 0.38))
    mb.box(pole_x, y, 2.3, 0.06, 0.55, 0.55, (0.05, 0.45, 0.20))  # the stop sign: green disc-ish panel
    mb.box(pole_x, y - 0.03, 2.35, 0.07, 0.4, 0.22, HAZARD_YELLOW)
    _label(node, f"BUS {f.route}", (pole_x, y - 0.31, 2.62), 180.0, 0.16, WHITE)
    _label(node, f.route, (pole_x, y - 0.31, 2.41), 180.0, 0.18)
    if not f.shelter:
        return
    y0, y1 = y + 0.4, y + 0.4 + f.length_m
    back_x = x0 if road_side > 0 else x1  # the back wall faces away from the road
    glass = (0.55, 0.70, 0.80)
    frame = (0.25, 0.27, 0.30)
    for px in (x0, x1):
        for py in (y0, y1):
            mb.box(px, py, 0.0, 0.07, 0.07, 2.35, frame)
    panes = MeshBuilder("bus-stop-glass")
    panes.box_span(back_x - 0.02, back_x + 0.02, y0, y1, 0.1, 2.2, glass, alpha=0.45)  # back glass
    panes.box_span(x0, x1, y0, y0 + 0.03, 0.9, 2.2, glass, alpha=0.45)  # end pane facing the patient
    glass_np = node.attachNewNode(panes.node())
    glass_np.setTransparency(TransparencyAttrib.MAlpha)
    glass_np.setDepthWrite(False)
    mb.box_span(x0, x1, y0, y0 + 0.03, 0.1, 0.9, (0.95, 0.95, 0.95))  # advert panel below it
    mb.box_span(x0 - 0.1, x1 + 0.1, y0 - 0.1, y1 + 0.1, 2.35, 2.45, (0.20, 0.22, 0.25))  # roof
    mb.box_span(x0, x1, y0 - 0.12, y0 - 0.08, 1.9, 2.3, (0.95, 0.95, 0.95))  # timetable panel
    seat_x = back_x + (0.25 if back_x < x else -0.25)
    mb.box(seat_x, (y0 + y1) / 2, 0.45, 0.35, f.length_m * 0.7, 0.05, (0.55, 0.35, 0.18))
    _label(node, "TIMETABLE", ((x0 + x1) / 2, y0 - 0.13, 2.15), 0.0, 0.09)


def _wet_floor_sign(mb: MeshBuilder, node: NodePath, x: float, y: float) -> None:
    # a yellow A-frame: two leaning panels seen edge-on from the sides, face-on from the route
    half = 0.15
    for lean in (-1, 1):
        mb.quad([(x - 0.2, y + lean * 0.18, 0.0), (x + 0.2, y + lean * 0.18, 0.0),
                 (x + 0.2, y + lean * 0.02, 0.62), (x - 0.2, y + lean * 0.02, 0.62)][:: -lean], HAZARD_YELLOW)
    mb.box(x, y - half - 0.03, 0.25, 0.3, 0.01, 0.05, (0.05, 0.05, 0.05))  # black band
    _label(node, "CAUTION\nWET FLOOR", (x, y - 0.2, 0.42), 0.0, 0.055)


def _pharmacy_shelf(mb: MeshBuilder, node: NodePath, f, x: float, x0: float, x1: float, y: float,
                    rng: random.Random) -> None:
    colour = PHARMACY_COLOURS[f.category]
    right = x > 0
    face, back = (x0, x1) if right else (x1, x0)  # the face toward the aisle, the back against the row
    into = 1.0 if right else -1.0  # from the face into the shelf
    y1 = y + f.length_m
    mb.box_span(back - into * 0.04, back, y, y1, 0.0, 1.9, WHITE)  # back panel
    for end in (y, y1 - 0.04):
        mb.box_span(x0, x1, end, end + 0.04, 0.0, 1.9, WHITE)  # side panels
    mb.box_span(x0, x1, y, y1, 0.0, 0.12, (0.80, 0.82, 0.84))  # kick plate
    mb.box_span(x0, x1, y, y1, 1.9, 2.25, colour)  # header in the category colour
    k = y + 1.0
    while k < y1:  # a green cross on the header every 2 m
        mb.box(face - into * 0.02, k, 1.95, 0.02, 0.25, 0.08, (0.10, 0.65, 0.25))
        mb.box(face - into * 0.02, k, 1.91, 0.02, 0.08, 0.25, (0.10, 0.65, 0.25))
        k += 2.0
    for level in range(5):  # white shelves with small pale medicine packs
        z = 0.12 + level * 0.35
        mb.box_span(x0, x1, y, y1, z, z + 0.02, (0.88, 0.88, 0.90))
        yy = y + 0.08
        while yy < y1 - 0.12:
            w = rng.uniform(0.08, 0.16)
            if rng.random() < 0.85:
                tint = colour if rng.random() < 0.3 else (0.93, 0.93, 0.95)
                mb.box(face + into * 0.2, yy + w / 2, z + 0.02, 0.18, w * 0.9, rng.uniform(0.12, 0.22), tint)
            yy += w
    _label(node, f.category.upper(), (face - into * 0.03, y + f.length_m / 2, 2.02), -90.0 if right else 90.0, 0.2,
           WHITE)


def build_fixtures(scene, parent: NodePath) -> list[NodePath]:
    """Every fixture of the scene, under one node; World shows only those near the patient."""
    if not scene.fixtures:
        return []
    root = parent.attachNewNode("fixtures")
    return [build_fixture(f, scene, root, i) for i, f in enumerate(scene.fixtures)]


__all__ = ["AISLE_COLOURS", "PHARMACY_COLOURS", "build_fixtures"]
