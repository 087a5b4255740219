"""Layout and consistency rules: what a schema-valid scene can still get wrong.

Each rule returns a `Finding` (key path, message, "error" or "warning"); the loader points each
at its file:line:col. Errors stop a scene from loading; warnings are printed by `validate` and
the menu but do not stop a session (`validate --strict` makes them errors). Every message
carries the numbers it was decided from. docs/scenes.md lists the rules; keep the two in step.

Geometry (metres; x across the route, + right; the route runs along x = 0):
- grocery store: the aisle floor is |x| <= aisle_width_m / 2; beyond it stand the shelves.
- sidewalk: the walkable area runs from the kerb stone (x = -sidewalk_width_m/2 - KERB_STONE_M)
  to the shop fronts (x = sidewalk_width_m/2 + FRONTAGE_M); left of it is the road, right of it
  the buildings.
- the walking lane (engine.control.planner.WALKING_LANE_HALF_WIDTH_M) is where the feet go; a
  step-over obstacle outside it is walked past, and nothing tall may stand in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.control.layout import ObstacleCategory
from engine.control.planner import WALKING_LANE_HALF_WIDTH_M, in_walking_lane
from engine.scene.model import (
    OBSTACLE_CATEGORY,
    OBSTACLE_LABELS,
    Scene,
    obstacle_extent_m,
)

KERB_STONE_M = 0.25  # engine.render.world.sidewalk.CURB_M: the kerb stone is still walkable
FRONTAGE_M = 0.6  # paved strip in front of the shop fronts
POKE_OUT_M = 0.25  # how far an obstacle may reach past the walkable edge before it is drawn into a wall
OVERLAP_M = 0.01  # intervals touching within this are not overlapping

# A crossing is judged at the speed the scene asks: base_speed_fraction x a reference prescribed
# maximum. 0.8 m/s is the community-ambulation threshold (Perry et al. 1995, Stroke 26:982): a
# patient who crosses streets is prescribed at least that, so a slower prescription is rare.
REFERENCE_MAX_SPEED_MPS = 0.8
START_UP_S = 2.0  # seeing the green, starting and reaching speed (reaction ~1 s, acceleration ~1 s)

# Props are models of unknown size: taken as NOMINAL_PROP_M across (and tall) at scale 1.
NOMINAL_PROP_M = 1.0
OVERHEAD_M = 2.3  # a prop whose bottom is above this (a sign) does not block the lane
VIEW_BLOCK_M = 6.0  # a prop larger than this within VIEW_NEAR_M of the route fills the view
VIEW_NEAR_M = 15.0

ALLOWED_OBSTACLES = {
    "grocery_store": {"box", "puddle", "cable", "door_threshold", "spilled_items", "uneven_paving", "pedestrian_crossing",
                      "cart_crossing", "automatic_door", "person_stopping"},
    # a door threshold on a street: a shop doorway the route passes through
    "sidewalk": {"curb_up", "curb_down", "kerb_ramp", "box", "puddle", "cable", "door_threshold", "spilled_items",
                 "uneven_paving", "pedestrian_crossing", "traffic_light", "cart_crossing", "person_stopping"},
}
ALLOWED_FIXTURES = {
    "grocery_store": {"wet_floor_sign", "pharmacy_shelf", "aisle_sign"},
    "sidewalk": {"bench", "bus_stop", "wet_floor_sign"},
}
ENV_NAMES = {"grocery_store": "a grocery store", "sidewalk": "a sidewalk"}

# engine.render.world.grocery: cross aisles CROSS_AISLE_M wide every cross_aisle_every_m, no
# shelf in the last metre of the route, and a gap in the shelves where a person or a cart
# crosses (at_m - 0.9 .. at_m + 2.1): an item whose centre is there would hang in the air.
CROSS_AISLE_M = 2.4
CROSSING_GAP_M = (-0.9, 2.1)
ITEM_HALF_M = 0.2  # half the item's package along the route: less than that on a shelf and it hangs in the air
STALL_DEPTH_M = 0.4  # engine.render.world: a street item's stall, against the pavement's edge
SIDE_STREET_WARN_M = 30.0  # a curb_down this far before its curb_up: a long walk on the road
KERB_NEAR_LIGHT_M = 2.0  # a traffic light's kerbs within this of its street's edges

# Footprints of fixtures across the route (m) and whether they stand in the walkable area.
FIXTURE_DEPTH_M = {"bench": 0.6, "bus_stop": 1.0, "wet_floor_sign": 0.45, "pharmacy_shelf": 0.5, "aisle_sign": 0.0}


@dataclass(frozen=True)
class Finding:
    loc: tuple
    message: str
    severity: str  # "error" or "warning"


def _a(name: str) -> str:
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _n(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def walkable_x(scene: Scene) -> tuple[float, float]:
    """(left edge, right edge) of the walkable floor across the route, m."""
    env = scene.environment
    if env.type == "grocery_store":
        return -env.aisle_width_m / 2, env.aisle_width_m / 2
    half = env.sidewalk_width_m / 2
    return -half - KERB_STONE_M, half + FRONTAGE_M


def _outside_names(scene: Scene) -> tuple[str, str]:
    if scene.environment.type == "grocery_store":
        return "inside the shelves on the left", "inside the shelves on the right"
    return "in the road", "inside the buildings"


def fixture_x(scene: Scene, fixture) -> tuple[float, float]:
    """(left, right) x of a fixture's footprint across the route."""
    depth = FIXTURE_DEPTH_M[fixture.kind]
    if fixture.lateral_m is not None:
        return fixture.lateral_m - depth / 2, fixture.lateral_m + depth / 2
    env = scene.environment
    if env.type == "grocery_store":
        left, right = walkable_x(scene)
    else:
        left, right = -env.sidewalk_width_m / 2, env.sidewalk_width_m / 2 + FRONTAGE_M
    if fixture.kind == "pharmacy_shelf":  # stands where the grocery shelf would
        return (left - depth, left) if fixture.side == "left" else (right, right + depth)
    margin = 0.05
    if fixture.side == "left":
        return left + margin, left + margin + depth
    return right - margin - depth, right - margin


def check_scene(scene: Scene) -> list[Finding]:
    """Every layout and consistency finding for a scene that passed the schema."""
    out: list[Finding] = []
    for rule in (_kinds, _placement, _overlaps, _curbs, _kerb_lane, _street_kerbs, _triggers, _lights, _tasks, _items,
                 _fixtures, _fixture_overlaps, _props, _contrast, _other):
        out += rule(scene)
    return out


def _kinds(scene: Scene) -> list[Finding]:
    env = scene.environment.type
    out = []
    for i, o in enumerate(scene.obstacles):
        if o.kind not in ALLOWED_OBSTACLES[env]:
            allowed = ", ".join(sorted(ALLOWED_OBSTACLES[env]))
            out.append(Finding(("obstacles", i, "kind"), f"{_a(OBSTACLE_LABELS[o.kind])} does not belong in {ENV_NAMES[env]} "
                               f"(allowed there: {allowed})", "error"))
    for i, f in enumerate(scene.fixtures):
        if f.kind not in ALLOWED_FIXTURES[env]:
            allowed = ", ".join(sorted(ALLOWED_FIXTURES[env]))
            out.append(Finding(("fixtures", i, "kind"), f"{_a(f.kind.replace('_', ' '))} does not belong in {ENV_NAMES[env]} "
                               f"(allowed there: {allowed})", "error"))
    return out


def _placement(scene: Scene) -> list[Finding]:
    """Obstacles stand where the patient can be: not in the road, a building or a shelf."""
    left, right = walkable_x(scene)
    left_name, right_name = _outside_names(scene)
    out = []
    for i, o in enumerate(scene.obstacles):
        if OBSTACLE_CATEGORY[o.kind] == ObstacleCategory.YIELD:
            if o.lateral_m != 0.0 and not left <= o.lateral_m <= right:
                out.append(Finding(("obstacles", i, "lateral_m"), f"lateral_m {_n(o.lateral_m)} puts it "
                                   f"{left_name if o.lateral_m < left else right_name} (walkable {_n(left)}..{_n(right)} m)", "error"))
            continue
        if o.lateral_m < left or o.lateral_m > right:
            where = left_name if o.lateral_m < left else right_name
            out.append(Finding(("obstacles", i, "lateral_m"), f"lateral_m {_n(o.lateral_m)} puts the {OBSTACLE_LABELS[o.kind]} {where}, "
                               f"where the patient cannot be (walkable {_n(left)}..{_n(right)} m across)", "error"))
            continue
        lo, hi = o.lateral_m - o.width_m / 2, o.lateral_m + o.width_m / 2
        poke = max(left - lo, hi - right)
        if poke > POKE_OUT_M and o.kind not in ("curb_up", "curb_down", "kerb_ramp"):
            out.append(Finding(("obstacles", i, "width_m"), f"reaches {_n(poke)} m past the walkable edge "
                               f"({_n(lo)}..{_n(hi)} m across; walkable {_n(left)}..{_n(right)} m): it is drawn into the wall",
                               "warning"))
        if not in_walking_lane(o.lateral_m, o.width_m) and o.kind not in ("curb_up", "curb_down"):
            out.append(Finding(("obstacles", i, "lateral_m"), f"the {OBSTACLE_LABELS[o.kind]} ({_n(lo)}..{_n(hi)} m across) is "
                               f"outside the walking lane (+-{_n(WALKING_LANE_HALF_WIDTH_M)} m): it is walked past, "
                               "not planned for and not scored", "warning"))
    return out


def _span(o) -> tuple[float, float]:
    return o.at_m, o.at_m + obstacle_extent_m(o)


def _overlaps(scene: Scene) -> list[Finding]:
    """Two step-overs in the same place, or two blocking obstacles at once, are one thing seen twice."""
    out = []
    obstacles = list(enumerate(scene.obstacles))
    for a_pos, (i, a) in enumerate(obstacles):
        a0, a1 = _span(a)
        cat_a = OBSTACLE_CATEGORY[a.kind]
        for j, b in obstacles[a_pos + 1:]:
            b0, b1 = _span(b)
            cat_b = OBSTACLE_CATEGORY[b.kind]
            along = min(a1, b1) - max(a0, b0)
            if along <= OVERLAP_M and cat_a == cat_b == ObstacleCategory.YIELD:
                # a yield obstacle holds the patient from its stop line: two whose holds overlap
                # (one's stop line inside the other) are waited for at once too
                along = min(a1, b1) - max(a0 - a.stop_gap_m, b0 - b.stop_gap_m)
            if along <= OVERLAP_M:
                continue
            name_a, name_b = OBSTACLE_LABELS[a.kind], OBSTACLE_LABELS[b.kind]
            first, second = (i, j) if (a.at_m, i) <= (b.at_m, j) else (j, i)
            if cat_a == cat_b == ObstacleCategory.STEP_OVER:
                a_lo, a_hi = a.lateral_m - a.width_m / 2, a.lateral_m + a.width_m / 2
                b_lo, b_hi = b.lateral_m - b.width_m / 2, b.lateral_m + b.width_m / 2
                if min(a_hi, b_hi) - max(a_lo, b_lo) > OVERLAP_M:
                    out.append(Finding(("obstacles", second, "at_m"),
                                       f"overlaps obstacles[{first}] ({name_a if first == i else name_b}, "
                                       f"{_n(min(a0, b0) if False else scene.obstacles[first].at_m)}..{_n(_span(scene.obstacles[first])[1])} m) "
                                       "in the same lane: one thing on the floor would be scored twice", "error"))
            elif cat_a == cat_b == ObstacleCategory.YIELD:
                fo, so = scene.obstacles[first], scene.obstacles[second]
                out.append(Finding(("obstacles", second, "at_m"),
                                   f"blocks the path (held from {_n(so.at_m - so.stop_gap_m)} m) where obstacles[{first}] "
                                   f"({OBSTACLE_LABELS[fo.kind]}, held from {_n(fo.at_m - fo.stop_gap_m)} m, "
                                   f"{_n(_span(fo)[0])}..{_n(_span(fo)[1])} m) already does: the patient would wait for two things "
                                   "at once", "error"))
            else:
                step, blocker = (a, b) if cat_a == ObstacleCategory.STEP_OVER else (b, a)
                step_i = i if step is a else j
                if blocker.kind == "traffic_light":
                    if step.kind in ("curb_up", "curb_down", "kerb_ramp", "puddle", "uneven_paving"):
                        continue  # kerbs at the street's edges, a puddle or a pothole on the road: all fine
                    message = (f"the {OBSTACLE_LABELS[step.kind]} lies in the road of the crossing "
                               f"({_n(blocker.at_m)}..{_n(_span(blocker)[1])} m), where the patient must cross on green")
                else:
                    message = (f"the {OBSTACLE_LABELS[step.kind]} lies where the {OBSTACLE_LABELS[blocker.kind]} "
                               f"({_n(blocker.at_m)}..{_n(_span(blocker)[1])} m) blocks the path")
                out.append(Finding(("obstacles", step_i, "at_m"), message, "warning"))
    return out


def _curbs(scene: Scene) -> list[Finding]:
    """The route starts and ends at pavement level: each curb_down is followed by a curb_up (the
    far kerb) before the next curb_down; kerb ramps are level-neutral."""
    out = []
    level_down: tuple[int, float] | None = None  # (index, height) of the curb_down we stand below
    for i, o in sorted(enumerate(scene.obstacles), key=lambda p: (p[1].at_m, p[0])):
        if o.kind == "curb_down":
            if level_down is not None:
                out.append(Finding(("obstacles", i, "kind"), f"a second curb_down (at {_n(o.at_m)} m) with no curb_up since "
                                   f"obstacles[{level_down[0]}] at {_n(scene.obstacles[level_down[0]].at_m)} m: "
                                   "the patient is already down on the road", "error"))
            level_down = (i, o.height_m)
        elif o.kind == "curb_up":
            if level_down is None:
                out.append(Finding(("obstacles", i, "kind"), f"a curb_up (at {_n(o.at_m)} m) with no curb_down before it: "
                                   "the route starts on the pavement, so there is nothing to step up from "
                                   "(use a box or a door_threshold for a raised step)", "error"))
            else:
                if abs(o.height_m - level_down[1]) > 0.03:
                    out.append(Finding(("obstacles", i, "height_m"), f"{_n(o.height_m)} m up after {_n(level_down[1])} m down "
                                       f"(obstacles[{level_down[0]}]): the two kerbs of one street differ by more than 3 cm",
                                       "warning"))
                level_down = None
    if level_down is not None:
        out.append(Finding(("obstacles", level_down[0], "kind"), f"a curb_down (at {_n(scene.obstacles[level_down[0]].at_m)} m) "
                           "with no curb_up after it: the route would end down on the road", "error"))
    return out


def side_streets(scene: Scene) -> list[tuple[float, float]]:
    """(start, end) m of the stretches at road level: each curb_down to its curb_up, and each
    traffic light's street (at_m .. at_m + depth_m)."""
    out = []
    down = None
    for o in sorted(scene.obstacles, key=lambda o: o.at_m):
        if o.kind == "curb_down" and down is None:
            down = o.at_m + obstacle_extent_m(o)
        elif o.kind == "curb_up" and down is not None:
            out.append((down, o.at_m))
            down = None
    out += [(o.at_m, o.at_m + o.depth_m) for o in scene.obstacles if o.kind == "traffic_light"]
    return out


def _kerb_lane(scene: Scene) -> list[Finding]:
    """A kerb is a change of level: it must cross the whole walking lane, or the feet would step
    beside it and still end up on the other level."""
    out = []
    lane = WALKING_LANE_HALF_WIDTH_M
    for i, o in enumerate(scene.obstacles):
        if o.kind not in ("curb_up", "curb_down"):
            continue
        lo, hi = o.lateral_m - o.width_m / 2, o.lateral_m + o.width_m / 2
        if lo > -lane or hi < lane:
            out.append(Finding(("obstacles", i, "width_m"), f"the {OBSTACLE_LABELS[o.kind]} covers {_n(lo)}..{_n(hi)} m across "
                               f"but the walking lane is -{_n(lane)}..{_n(lane)} m: a kerb changes the level of the whole "
                               "path, so it must span the lane (centre it, or make width_m larger)", "error"))
    return out


def _street_kerbs(scene: Scene) -> list[Finding]:
    """A traffic light's street is drawn at road level: kerbs (or ramps) at both of its edges, and
    no long walk on the road between a curb_down and its curb_up."""
    if scene.environment.type != "sidewalk":
        return []
    out = []
    edges = [(o.kind, o.at_m, o.at_m + obstacle_extent_m(o)) for o in scene.obstacles
             if o.kind in ("curb_down", "curb_up", "kerb_ramp")]
    for i, o in enumerate(scene.obstacles):
        if o.kind != "traffic_light":
            continue
        end = o.at_m + o.depth_m
        near = any(k in ("curb_down", "kerb_ramp") and o.at_m - KERB_NEAR_LIGHT_M <= b <= o.at_m + 0.5 for k, a, b in edges)
        far = any(k in ("curb_up", "kerb_ramp") and end - 0.5 <= a <= end + KERB_NEAR_LIGHT_M for k, a, b in edges)
        if not (near and far):
            missing = " and no ".join(w for w, ok in (("curb_down (or kerb_ramp) just before at_m", near),
                                                      ("curb_up (or kerb_ramp) just after at_m + depth_m", far)) if not ok)
            out.append(Finding(("obstacles", i, "at_m"), f"the street of this light ({_n(o.at_m)}..{_n(end)} m) has no {missing} "
                               f"within {_n(KERB_NEAR_LIGHT_M)} m: the road is drawn lower than the pavement, so the patient "
                               "would step into it with no kerb to train on", "warning"))
    down = None
    for i, o in sorted(enumerate(scene.obstacles), key=lambda p: (p[1].at_m, p[0])):
        if o.kind == "curb_down" and down is None:
            down = (i, o.at_m)
        elif o.kind == "curb_up" and down is not None:
            if o.at_m - down[1] > SIDE_STREET_WARN_M:
                out.append(Finding(("obstacles", i, "at_m"), f"{_n(o.at_m - down[1])} m after the curb_down at {_n(down[1])} m "
                                   f"(obstacles[{down[0]}]): the patient walks that far on the road (a side street is "
                                   f"usually under {_n(SIDE_STREET_WARN_M)} m across)", "warning"))
            down = None
    return out


def _items(scene: Scene) -> list[Finding]:
    """Items sit on something: in a store on a shelf (not in a cross aisle, a gap where someone
    crosses, past the last shelf, or above the shelves' top); on a street not in the road."""
    shopping = scene.tasks.shopping_list
    if shopping is None:
        return []
    env = scene.environment
    out = []
    streets = side_streets(scene) if env.type == "sidewalk" else []
    for i, item in enumerate(shopping.items):
        loc = ("tasks", "shopping_list", "items", i)
        if env.type == "grocery_store":
            if item.shelf_height_m > env.shelf_height_m:
                out.append(Finding(loc + ("shelf_height_m",), f"{_n(item.shelf_height_m)} m is above the top of the shelves "
                                   f"(environment.shelf_height_m {_n(env.shelf_height_m)}): it would float over them", "error"))
            period = env.cross_aisle_every_m
            k = round(item.at_m / period)
            if k >= 1 and abs(item.at_m - k * period) < CROSS_AISLE_M / 2 - ITEM_HALF_M:
                out.append(Finding(loc + ("at_m",), f"{_n(item.at_m)} m is in the cross aisle at {_n(k * period)} m "
                                   f"({_n(CROSS_AISLE_M)} m wide, every cross_aisle_every_m {_n(period)} m): there is no "
                                   "shelf to put it on", "error"))
                continue
            gaps = [(o.at_m + CROSSING_GAP_M[0], o.at_m + CROSSING_GAP_M[1]) for o in scene.obstacles
                    if o.kind in ("pedestrian_crossing", "cart_crossing")]
            hit = next(((a, b) for a, b in gaps if a < item.at_m < b), None)
            if hit is not None:
                out.append(Finding(loc + ("at_m",), f"{_n(item.at_m)} m is in the gap in the shelves where someone crosses "
                                   f"({_n(hit[0])}..{_n(hit[1])} m): there is no shelf to put it on", "error"))
            elif item.at_m > scene.route_length_m - 1.0:
                out.append(Finding(loc + ("at_m",), f"{_n(item.at_m)} m is past the last shelf (the shelves stop 1 m before the "
                                   f"route end at {_n(scene.route_length_m)} m)", "error"))
        else:
            stall_in = env.sidewalk_width_m / 2 - STALL_DEPTH_M - 0.05  # its inner edge (engine.render.world)
            if stall_in < WALKING_LANE_HALF_WIDTH_M:
                out.append(Finding(loc + ("at_m",), f"on a street an item stands on a stall {_n(STALL_DEPTH_M)} m deep at the "
                                   f"pavement's edge, which reaches {_n(stall_in)} m from the centre on this "
                                   f"{_n(env.sidewalk_width_m)} m sidewalk: into the walking lane (+-{_n(WALKING_LANE_HALF_WIDTH_M)} m); "
                                   f"use sidewalk_width_m of at least {2 * (STALL_DEPTH_M + 0.05 + WALKING_LANE_HALF_WIDTH_M):.1f}",
                                   "error"))
            hit = next(((a, b) for a, b in streets if a < item.at_m < b), None)
            if hit is not None:
                out.append(Finding(loc + ("at_m",), f"{_n(item.at_m)} m is in the road ({_n(hit[0])}..{_n(hit[1])} m, "
                                   "between kerbs or in a crossing's street): it cannot be picked up there", "error"))
    return out


def _fixture_span(f) -> tuple[float, float]:
    return f.at_m, f.at_m + getattr(f, "length_m", FIXTURE_DEPTH_M.get(f.kind, 0.5))


def _fixture_overlaps(scene: Scene) -> list[Finding]:
    """Two fixtures in one place, a fixture on top of a step-over obstacle, or one in the road of
    a side street: each drawn through the other."""
    out = []
    standing = [(i, f) for i, f in enumerate(scene.fixtures)
                if f.kind != "aisle_sign" and f.kind in ALLOWED_FIXTURES[scene.environment.type]]
    for pos, (i, a) in enumerate(standing):
        a0, a1 = _fixture_span(a)
        ax = fixture_x(scene, a)
        for j, b in standing[pos + 1:]:
            b0, b1 = _fixture_span(b)
            bx = fixture_x(scene, b)
            if min(a1, b1) - max(a0, b0) > OVERLAP_M and min(ax[1], bx[1]) - max(ax[0], bx[0]) > OVERLAP_M:
                out.append(Finding(("fixtures", j, "at_m"), f"the {b.kind.replace('_', ' ')} ({_n(b0)}..{_n(b1)} m) stands in the "
                                   f"same place as fixtures[{i}] ({a.kind.replace('_', ' ')}, {_n(a0)}..{_n(a1)} m): "
                                   "one would be drawn through the other", "error"))
        for k, o in enumerate(scene.obstacles):
            if OBSTACLE_CATEGORY[o.kind] != ObstacleCategory.STEP_OVER or o.kind in ("curb_up", "curb_down", "kerb_ramp"):
                continue
            o0, o1 = _span(o)
            olo, ohi = o.lateral_m - o.width_m / 2, o.lateral_m + o.width_m / 2
            if min(a1, o1) - max(a0, o0) > OVERLAP_M and min(ax[1], ohi) - max(ax[0], olo) > OVERLAP_M:
                out.append(Finding(("fixtures", i, "at_m"), f"the {a.kind.replace('_', ' ')} ({_n(a0)}..{_n(a1)} m, "
                                   f"{_n(ax[0])}..{_n(ax[1])} m across) stands on obstacles[{k}] ({OBSTACLE_LABELS[o.kind]}, "
                                   f"{_n(o0)}..{_n(o1)} m, {_n(olo)}..{_n(ohi)} m across)", "warning"))
        if scene.environment.type == "sidewalk":
            hit = next(((s0, s1) for s0, s1 in side_streets(scene) if min(a1, s1) - max(a0, s0) > OVERLAP_M), None)
            if hit is not None:
                out.append(Finding(("fixtures", i, "at_m"), f"the {a.kind.replace('_', ' ')} ({_n(a0)}..{_n(a1)} m) stands in the "
                                   f"road of a side street ({_n(hit[0])}..{_n(hit[1])} m): move it onto the pavement", "error"))
    return out


def _triggers(scene: Scene) -> list[Finding]:
    out = []
    for i, o in enumerate(scene.obstacles):
        if OBSTACLE_CATEGORY[o.kind] != ObstacleCategory.YIELD:
            continue
        stop_m = o.at_m - o.stop_gap_m
        if stop_m < 0.0:
            out.append(Finding(("obstacles", i, "stop_gap_m"), f"the stop line (at_m {_n(o.at_m)} - stop_gap_m {_n(o.stop_gap_m)} "
                               f"= {_n(stop_m)} m) lies before the route start: the patient would start past it", "error"))
        if o.kind == "traffic_light":
            continue
        trigger_m = o.at_m - o.trigger_before_m
        if trigger_m < 0.0:
            out.append(Finding(("obstacles", i, "trigger_before_m"), f"fires before the route starts (at_m {_n(o.at_m)} - "
                               f"trigger_before_m {_n(o.trigger_before_m)} = {_n(trigger_m)} m): it would block the path "
                               "from the first moment; start it at least 0 m into the route", "error"))
        elif o.trigger_before_m < o.stop_gap_m:
            out.append(Finding(("obstacles", i, "trigger_before_m"), f"fires at {_n(trigger_m)} m, after the stop line at "
                               f"{_n(stop_m)} m (trigger_before_m {_n(o.trigger_before_m)} < stop_gap_m {_n(o.stop_gap_m)}): "
                               "the patient is past the line when it starts and walks on", "warning"))
    return out


def crossing_speed_mps(scene: Scene) -> float:
    """The walking speed a crossing is judged at: base_speed_fraction x the reference maximum."""
    return scene.base_speed_fraction * REFERENCE_MAX_SPEED_MPS


def _lights(scene: Scene) -> list[Finding]:
    """Green long enough to cross the street at the speed the scene asks (rule of thumb in
    docs/scenes.md: green_s >= (stop_gap_m + depth_m) / speed + START_UP_S)."""
    out = []
    tasked = {c.light for c in scene.tasks.crossings}
    v = crossing_speed_mps(scene)
    for i, o in enumerate(scene.obstacles):
        if o.kind != "traffic_light":
            continue
        green = o.cycle_s - o.red_s
        cross_s = o.depth_m / v
        needed = (o.stop_gap_m + o.depth_m) / v + START_UP_S
        numbers = (f"crossing the {_n(o.depth_m)} m street at {v:.2f} m/s (base_speed_fraction {_n(scene.base_speed_fraction)} "
                   f"x {REFERENCE_MAX_SPEED_MPS} m/s reference) takes {cross_s:.1f} s")
        if green < cross_s:
            severity = "error" if o.id in tasked else "warning"
            out.append(Finding(("obstacles", i, "red_s"), f"green lasts {_n(green)} s (cycle_s {_n(o.cycle_s)} - red_s {_n(o.red_s)}) "
                               f"but {numbers}: the patient cannot cross within it; make green at least {needed:.0f} s",
                               severity))
        elif green < needed:
            out.append(Finding(("obstacles", i, "red_s"), f"green lasts {_n(green)} s but {numbers}, plus "
                               f"{_n(o.stop_gap_m / v + START_UP_S)} s from the stop line: a patient who starts late fails; "
                               f"aim for at least {needed:.0f} s of green", "warning"))
        if o.phase_s >= o.cycle_s:
            out.append(Finding(("obstacles", i, "phase_s"), f"phase_s {_n(o.phase_s)} is a whole cycle or more "
                               f"(cycle_s {_n(o.cycle_s)}); it acts as {_n(o.phase_s % o.cycle_s)}", "warning"))
    return out


def _tasks(scene: Scene) -> list[Finding]:
    out = []
    length = scene.route_length_m
    seen: dict[str, int] = {}
    for i, c in enumerate(scene.tasks.crossings):
        if c.light in seen:
            out.append(Finding(("tasks", "crossings", i, "light"), f"the crossing at {c.light!r} is already tasks.crossings[{seen[c.light]}]",
                               "error"))
        seen.setdefault(c.light, i)
    dual = scene.tasks.dual_task
    if dual is not None:
        if dual.start_m >= length:
            out.append(Finding(("tasks", "dual_task", "start_m"), f"the first cue at {_n(dual.start_m)} m is at or past the route end "
                               f"({_n(length)} m): no cue would ever be shown", "error"))
        elif dual.end_m is not None and dual.end_m > length:
            out.append(Finding(("tasks", "dual_task", "end_m"), f"{_n(dual.end_m)} m is past the route end ({_n(length)} m); "
                               "cues stop at the end", "warning"))
        distinct = len({c.strip().casefold() for c in dual.colours})
        if distinct < 2:
            out.append(Finding(("tasks", "dual_task", "colours"), f"{len(dual.colours)} colours but only {distinct} different: "
                               "a colour cue needs at least 2 (with stroop, the word names a colour other than the ink)",
                               "error"))
        elif distinct < len(dual.colours):
            out.append(Finding(("tasks", "dual_task", "colours"), f"{len(dual.colours)} colours but only {distinct} different: "
                               "a repeated colour is drawn more often", "warning"))
        v = crossing_speed_mps(scene)
        if dual.show_s * v > dual.every_m:
            out.append(Finding(("tasks", "dual_task", "show_s"), f"a cue stays {_n(dual.show_s)} s, {_n(dual.show_s * v)} m at "
                               f"{v:.2f} m/s, longer than every_m ({_n(dual.every_m)} m): the next cue replaces it early",
                               "warning"))
    shopping = scene.tasks.shopping_list
    if shopping is not None:
        names: dict[str, int] = {}
        items = list(enumerate(shopping.items))
        for i, item in items:
            key = item.name.strip().casefold()
            if key in names:
                out.append(Finding(("tasks", "shopping_list", "items", i, "name"), f"{item.name!r} is already items[{names[key]}]: "
                                   "the HUD would list it twice", "warning"))
            names.setdefault(key, i)
            if item.at_m - shopping.zone_m < 0.0:
                out.append(Finding(("tasks", "shopping_list", "items", i, "at_m"), f"its zone starts at {_n(item.at_m - shopping.zone_m)} m, "
                                   "before the route start: the patient starts inside it", "warning"))
        for pos, (i, a) in enumerate(items):
            for j, b in items[pos + 1:]:
                if abs(a.at_m - b.at_m) < 2 * shopping.zone_m:
                    out.append(Finding(("tasks", "shopping_list", "items", j, "at_m"), f"its zone ({_n(b.at_m)} +- {_n(shopping.zone_m)} m) "
                                       f"overlaps items[{i}] at {_n(a.at_m)} m: both are collected in one pass", "warning"))
    return out


def _fixtures(scene: Scene) -> list[Finding]:
    out = []
    left, right = walkable_x(scene)
    lane = WALKING_LANE_HALF_WIDTH_M
    for i, f in enumerate(scene.fixtures):
        if f.at_m > scene.route_length_m and f.kind in ALLOWED_FIXTURES[scene.environment.type]:
            out.append(Finding(("fixtures", i, "at_m"), f"{_n(f.at_m)} m is past the route end ({_n(scene.route_length_m)} m): "
                               "the patient never sees it", "warning"))
        if f.kind == "aisle_sign" or f.kind not in ALLOWED_FIXTURES[scene.environment.type]:
            continue  # hangs overhead; or already refused for this environment
        lo, hi = fixture_x(scene, f)
        # a pharmacy shelf on its side replaces the grocery shelf there; placed by lateral_m it is
        # a free-standing unit and must stand on the aisle floor like the rest
        placed = f.kind != "pharmacy_shelf" or f.lateral_m is not None
        if placed and (hi > -lane and lo < lane) and f.at_m < scene.route_length_m:
            what = f.kind.replace("_", " ")
            extra = ""
            if f.kind == "bus_stop" and f.shelter and f.lateral_m is None:
                extra = f"; a shelter needs sidewalk_width_m of at least {2 * (FIXTURE_DEPTH_M['bus_stop'] + 0.05 + lane):.1f}"
            out.append(Finding(("fixtures", i, "lateral_m" if f.lateral_m is not None else "side"),
                               f"the {what} ({_n(lo)}..{_n(hi)} m across) stands in the walking lane (+-{_n(lane)} m): "
                               f"it blocks the route{extra}", "error"))
        elif placed and (lo < left - POKE_OUT_M or hi > right + POKE_OUT_M):
            left_name, right_name = _outside_names(scene)
            out.append(Finding(("fixtures", i, "lateral_m"), f"{_n(lo)}..{_n(hi)} m across puts it "
                               f"{left_name if lo < left else right_name} (walkable {_n(left)}..{_n(right)} m)", "error"))
    return out


def _props(scene: Scene) -> list[Finding]:
    """Asset props are taken as NOMINAL_PROP_M x scale across and tall (their real size is unknown
    until they are loaded): in the lane they block the route; huge ones fill the view."""
    out = []
    lane = WALKING_LANE_HALF_WIDTH_M
    for i, p in enumerate(scene.props):
        size = NOMINAL_PROP_M * p.scale
        on_route = -1.0 <= p.at_m + size / 2 and p.at_m - size / 2 <= scene.route_length_m
        in_lane = abs(p.lateral_m) - size / 2 < lane and p.z_m < OVERHEAD_M and p.z_m + size > 0.0
        if on_route and in_lane:
            out.append(Finding(("props", i, "scale" if p.scale > 1.0 else "lateral_m"),
                               f"a {_n(size)} m prop (scale {_n(p.scale)}) {_n(p.lateral_m)} m from the route centre stands "
                               f"in the walking lane (+-{_n(lane)} m): it blocks the route and the view", "error"))
        elif size > VIEW_BLOCK_M and abs(p.lateral_m) - size / 2 < VIEW_NEAR_M and on_route:
            out.append(Finding(("props", i, "scale"), f"a {_n(size)} m prop (scale {_n(p.scale)}) within {_n(VIEW_NEAR_M)} m of "
                               "the route fills much of the patient's view", "warning"))
    return out


# Floor colours as the renderer draws them (engine/render/world: grocery FLOORS, sidewalk paving),
# averaged: what an obstacle's colour is seen against.
FLOOR_RGB = {"tiles": (0.78, 0.78, 0.76), "concrete": (0.62, 0.62, 0.60), "wood": (0.58, 0.42, 0.25),
             "sidewalk": (0.71, 0.69, 0.65)}
MIN_CONTRAST = 2.0  # WCAG asks 3:1 for graphics; below 2:1 older eyes lose an object on the floor


def _luminance(rgb) -> float:
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a, b) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (1..21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _contrast(scene: Scene) -> list[Finding]:
    from engine.scene.model import colour_rgb

    env = scene.environment
    floor = FLOOR_RGB[env.floor] if env.type == "grocery_store" else FLOOR_RGB["sidewalk"]
    if env.type == "sidewalk" and env.weather == "rain":
        floor = tuple(c * 0.75 for c in floor)
    out = []
    for i, o in enumerate(scene.obstacles):
        if o.colour is None or OBSTACLE_CATEGORY[o.kind] != ObstacleCategory.STEP_OVER:
            continue
        ratio = contrast_ratio(colour_rgb(o.colour), floor)
        if ratio < MIN_CONTRAST:
            out.append(Finding(("obstacles", i, "colour"), f"{o.colour} has a contrast of {ratio:.1f}:1 against the floor: "
                               f"hard to see for older eyes (aim for {MIN_CONTRAST:g}:1 or more; leave colour out for the "
                               "kind's high-contrast default)", "warning"))
    return out


def _other(scene: Scene) -> list[Finding]:
    out = []
    env = scene.environment.type
    length = scene.route_length_m
    if scene.goals.distance_m > length:
        out.append(Finding(("goals", "distance_m"), f"{_n(scene.goals.distance_m)} m is longer than the route ({_n(length)} m): "
                           "the belt stops at the route end before the goal", "warning"))
    ambient = scene.ambient
    if env == "grocery_store" and (ambient.parked_cars_per_100m or ambient.passing_cars_per_min):
        key = "parked_cars_per_100m" if ambient.parked_cars_per_100m else "passing_cars_per_min"
        out.append(Finding(("ambient", key), "cars are only drawn on a sidewalk; ignored in a grocery store", "warning"))
    if env == "sidewalk" and ambient.carts:
        out.append(Finding(("ambient", "carts"), "parked carts are only drawn in a grocery store; ignored on a sidewalk", "warning"))
    for i, o in enumerate(scene.obstacles):
        if OBSTACLE_CATEGORY[o.kind] == ObstacleCategory.STEP_OVER and o.at_m < 1.0:
            out.append(Finding(("obstacles", i, "at_m"), f"at {_n(o.at_m)} m it is under the patient's feet at the start; "
                               "give at least 1 m to see it and step", "warning"))
    return out


__all__ = ["ALLOWED_FIXTURES", "ALLOWED_OBSTACLES", "Finding", "REFERENCE_MAX_SPEED_MPS", "check_scene", "crossing_speed_mps",
           "fixture_x", "side_streets", "walkable_x"]
