"""Scene models: the single source of truth for the YAML format, the JSON Schema and the timeline.

A scene is what the patient walks through: an environment (grocery store or sidewalk), a route
along +Y (s_m = y), obstacles and tasks placed by distance along it, ambient life, audio and
goals. Every number carries its unit in its name; every range is stated in the field, so the
loader can tell a designer the allowed range and the JSON Schema gives editors completion.
Speeds and assistance are fractions of the patient's prescription: no file can exceed a limit.

Pure data: no Panda3D here (the control core imports the timeline from this package).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)

from engine.control.layout import ObstacleCategory

MAX_ROUTE_M = 5000.0
MAX_OBSTACLES = 128  # engine.control.layout.MAX_OBSTACLES: the command block's capacity

# Named colours a designer may use; any "#rrggbb" works too. Chosen for contrast for older eyes.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.12, 0.10),
    "green": (0.10, 0.65, 0.20),
    "blue": (0.12, 0.30, 0.85),
    "yellow": (0.98, 0.85, 0.10),
    "orange": (0.98, 0.50, 0.05),
    "purple": (0.55, 0.20, 0.70),
    "white": (0.96, 0.96, 0.96),
    "black": (0.06, 0.06, 0.06),
    "grey": (0.50, 0.50, 0.50),
    "brown": (0.50, 0.30, 0.15),
    "pink": (0.95, 0.45, 0.65),
    "cyan": (0.10, 0.75, 0.85),
}
_COLOUR_PATTERN = r"^(#[0-9a-fA-F]{6}|" + "|".join(COLOURS) + r")$"


def colour_rgb(colour: str) -> tuple[float, float, float]:
    """RGB (0..1) of a named colour or '#rrggbb'."""
    if colour in COLOURS:
        return COLOURS[colour]
    value = int(colour[1:], 16)
    return ((value >> 16 & 255) / 255.0, (value >> 8 & 255) / 255.0, (value & 255) / 255.0)


Colour = Annotated[str, Field(pattern=_COLOUR_PATTERN, description="a colour name or #rrggbb")]

ASSET_SUFFIXES = {
    "model": (".gltf", ".glb", ".bam", ".egg"),
    "texture": (".png", ".jpg", ".jpeg"),
    "sound": (".ogg", ".wav", ".mp3", ".flac"),
}


def _asset_path_check(kind: str):
    suffixes = ASSET_SUFFIXES[kind]

    def check(value: str) -> str:
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
            raise ValueError("an asset path must not contain control or invisible characters")
        if "\\" in value:
            raise ValueError("use forward slashes in asset paths")
        path = PurePosixPath(value)
        if path.is_absolute() or re.match(r"^[A-Za-z]:", value):
            raise ValueError("an asset path is relative to assets/, not absolute")
        depth = 0
        for part in path.parts:
            depth += -1 if part == ".." else (0 if part == "." else 1)
            if depth < 0:
                raise ValueError("path leaves assets/ (refused)")
        if path.suffix.lower() not in suffixes:
            raise ValueError(f"a {kind} must end with one of {', '.join(suffixes)}")
        return value

    return check


ModelPath = Annotated[
    str,
    Field(min_length=1, max_length=200, description="glTF/BAM/egg model, relative to assets/"),
    AfterValidator(_asset_path_check("model")),
]
TexturePath = Annotated[
    str,
    Field(min_length=1, max_length=200, description="PNG/JPEG texture, relative to assets/"),
    AfterValidator(_asset_path_check("texture")),
]
SoundPath = Annotated[
    str,
    Field(min_length=1, max_length=200, description="sound file, relative to assets/"),
    AfterValidator(_asset_path_check("sound")),
]


def _plain_text(multiline: bool):
    """Refuse control and invisible characters (bidi overrides, zero-width, private use): a title
    must read on screen exactly as it reads in the file."""

    def check(value: str) -> str:
        for index, ch in enumerate(value):
            if multiline and ch in "\n\t":
                continue
            if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"):
                raise ValueError(f"contains an invisible or control character (U+{ord(ch):04X}) at position {index + 1}; refused")
        if not value.strip():
            raise ValueError("is blank; write some text")
        return value

    return check


def _plain_text_or_empty(value: str) -> str:
    return _plain_text(True)(value) if value else value


def _num(default: float, low: float, high: float, description: str) -> Any:
    """A field with a default and an inclusive range (the loader states the range on errors)."""
    return Field(default=default, ge=low, le=high, description=f"{description} ({low:g}..{high:g})")


class StrictModel(BaseModel):
    """Unknown keys are errors; no silent string-to-number coercion; no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# ---------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------


class GroceryStore(StrictModel):
    """A supermarket: the route runs down an aisle between shelves, past cross aisles."""

    type: Literal["grocery_store"] = Field(description="environment kind")
    aisles: int = _num(2, 1, 6, "rows of shelving visible on each side of the route")
    aisle_width_m: float = _num(2.4, 1.5, 4.0, "free width of the aisle the patient walks in, m")
    shelf_height_m: float = _num(1.9, 1.2, 2.4, "shelf unit height, m")
    shelf_levels: int = _num(4, 2, 6, "shelves per unit")
    shelf_density: float = _num(0.8, 0.0, 1.0, "fraction of shelf space filled with products")
    cross_aisle_every_m: float = _num(12.0, 6.0, 40.0, "distance between cross aisles (end caps), m")
    lighting: Literal["bright", "normal", "dim"] = Field("normal", description="store lighting")
    floor: Literal["tiles", "concrete", "wood"] = Field("tiles", description="floor finish")
    checkout: bool = Field(True, description="checkout counters near the end of the route")
    end_caps: bool = Field(True, description="promotional displays at the ends of shelf units")


class Sidewalk(StrictModel):
    """A city street: the route runs along a sidewalk, road on the left, buildings on the right."""

    type: Literal["sidewalk"] = Field(description="environment kind")
    time_of_day: Literal["morning", "noon", "evening", "night"] = Field("noon", description="sun and sky")
    weather: Literal["clear", "overcast", "rain"] = Field("clear", description="sky and wet surfaces")
    sidewalk_width_m: float = _num(3.0, 1.5, 6.0, "sidewalk width, m")
    road_lanes: int = _num(2, 1, 4, "lanes of the road beside the sidewalk")
    buildings: Literal["shops", "houses", "mixed"] = Field("shops", description="building fronts")
    trees_every_m: float = _num(12.0, 0.0, 100.0, "distance between street trees, m (0 = none)")
    benches_every_m: float = _num(40.0, 0.0, 200.0, "distance between benches, m (0 = none)")


Environment = Annotated[GroceryStore | Sidewalk, Field(discriminator="type")]

# ---------------------------------------------------------------------------------------------
# Obstacles
# ---------------------------------------------------------------------------------------------

ObstacleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="a name tasks can refer to")]


class _Obstacle(StrictModel):
    id: ObstacleId | None = Field(None, description="optional name (a crossing task names its light)")
    at_m: float = Field(ge=0.0, le=MAX_ROUTE_M, description=f"route distance of the near edge, m (0..{MAX_ROUTE_M:g})")
    lateral_m: float = _num(0.0, -3.0, 3.0, "offset from the route centre line, + to the right, m")
    colour: Colour | None = Field(None, description="override the kind's high-contrast colour")


class _StepOver(_Obstacle):
    speed_fraction: float = _num(0.8, 0.1, 1.0, "approach speed, fraction of the prescribed max")


class CurbUp(_StepOver):
    kind: Literal["curb_up"]
    height_m: float = _num(0.12, 0.05, 0.25, "curb height, m")
    depth_m: float = _num(0.3, 0.15, 0.5, "curb stone depth along the route, m")
    width_m: float = _num(3.0, 1.0, 6.0, "extent across the route, m")


class CurbDown(_StepOver):
    kind: Literal["curb_down"]
    height_m: float = _num(0.12, 0.05, 0.25, "drop height, m")
    depth_m: float = _num(0.3, 0.15, 0.5, "curb stone depth along the route, m")
    width_m: float = _num(3.0, 1.0, 6.0, "extent across the route, m")


class KerbRamp(_StepOver):
    kind: Literal["kerb_ramp"]
    height_m: float = _num(0.03, 0.0, 0.1, "lip at the bottom of the ramp, m")
    depth_m: float = _num(1.2, 0.5, 3.0, "ramp length along the route, m")
    width_m: float = _num(1.5, 1.0, 4.0, "ramp width, m")


class Box(_StepOver):
    kind: Literal["box"]
    height_m: float = _num(0.15, 0.05, 0.4, "box height, m")
    depth_m: float = _num(0.3, 0.1, 0.8, "box depth along the route, m")
    width_m: float = _num(0.5, 0.2, 1.5, "box width across the route, m")


class Puddle(_StepOver):
    kind: Literal["puddle"]
    depth_m: float = _num(0.6, 0.2, 2.0, "puddle length along the route, m")
    width_m: float = _num(1.0, 0.3, 3.0, "puddle width across the route, m")


class Cable(_StepOver):
    kind: Literal["cable"]
    height_m: float = _num(0.03, 0.01, 0.08, "cable (cover) height, m")
    depth_m: float = _num(0.05, 0.02, 0.2, "cable (cover) depth, m")
    width_m: float = _num(2.0, 0.5, 4.0, "length across the route, m")


class DoorThreshold(_StepOver):
    kind: Literal["door_threshold"]
    height_m: float = _num(0.025, 0.01, 0.06, "threshold height, m")
    depth_m: float = _num(0.12, 0.05, 0.3, "threshold depth, m")
    width_m: float = _num(1.8, 1.0, 3.0, "door width, m")


class SpilledItems(_StepOver):
    kind: Literal["spilled_items"]
    height_m: float = _num(0.08, 0.02, 0.2, "tallest item, m")
    depth_m: float = _num(0.6, 0.2, 1.5, "spill length along the route, m")
    width_m: float = _num(0.8, 0.3, 2.0, "spill width, m")
    count: int = _num(8, 3, 30, "number of items on the floor")


class UnevenPaving(_StepOver):
    kind: Literal["uneven_paving"]
    height_m: float = _num(0.02, 0.01, 0.05, "largest slab step, m")
    depth_m: float = _num(1.2, 0.5, 3.0, "uneven stretch length, m")
    width_m: float = _num(2.0, 1.0, 6.0, "uneven stretch width, m")


class _Triggered(_Obstacle):
    """Becomes active when the patient is trigger_before_m before it, for duration_s."""

    trigger_before_m: float = _num(6.0, 0.5, 30.0, "starts when the patient is this far before at_m, m")
    duration_s: float = _num(5.0, 0.5, 30.0, "how long it blocks the path, s")
    stop_gap_m: float = _num(1.2, 0.0, 5.0, "the patient stops this far before at_m while it blocks, m")
    speed_fraction: float = _num(0.0, 0.0, 1.0, "speed while it blocks, fraction of the prescribed max (0 = stop)")


class PedestrianCrossing(_Triggered):
    kind: Literal["pedestrian_crossing"]
    from_side: Literal["left", "right"] = Field("left", description="side the pedestrian comes from")


class CartCrossing(_Triggered):
    kind: Literal["cart_crossing"]
    from_side: Literal["left", "right"] = Field("right", description="side the cart comes from")


class AutomaticDoor(_Triggered):
    kind: Literal["automatic_door"]
    trigger_before_m: float = _num(3.0, 0.5, 30.0, "the door starts opening when the patient is this far before it, m")
    duration_s: float = _num(2.0, 0.5, 10.0, "opening time, s")
    stop_gap_m: float = _num(0.6, 0.0, 5.0, "slow down this far before the door, m")
    speed_fraction: float = _num(0.3, 0.0, 1.0, "speed while the door opens, fraction of the prescribed max")
    width_m: float = _num(2.4, 1.5, 4.0, "door opening width, m")


class PersonStopping(_Triggered):
    kind: Literal["person_stopping"]
    trigger_before_m: float = _num(5.0, 0.5, 30.0, "steps into the path when the patient is this far before at_m, m")
    duration_s: float = _num(4.0, 0.5, 30.0, "how long the person stands in the path, s")
    stop_gap_m: float = _num(1.5, 0.0, 5.0, "the patient stops this far before the person, m")


class TrafficLight(_Obstacle):
    """A pedestrian light at a street crossing; red is the active (blocking) phase."""

    kind: Literal["traffic_light"]
    depth_m: float = _num(8.0, 3.0, 30.0, "width of the street to cross (along the route), m")
    cycle_s: float = _num(40.0, 10.0, 180.0, "full light cycle, s")
    red_s: float = _num(20.0, 1.0, 170.0, "red (don't walk) part of each cycle, s")
    phase_s: float = _num(0.0, 0.0, 180.0, "offset of the cycle at scene time 0, s")
    stop_gap_m: float = _num(1.0, 0.0, 5.0, "the patient waits this far before the kerb, m")
    speed_fraction: float = _num(0.0, 0.0, 1.0, "speed while red, fraction of the prescribed max (0 = stop)")

    @model_validator(mode="after")
    def _red_within_cycle(self) -> TrafficLight:
        if self.red_s >= self.cycle_s:
            raise ValueError(f"red_s ({self.red_s:g}) must be shorter than cycle_s ({self.cycle_s:g})")
        return self


STEP_OVER_KINDS = (CurbUp, CurbDown, KerbRamp, Box, Puddle, Cable, DoorThreshold, SpilledItems, UnevenPaving)
YIELD_KINDS = (PedestrianCrossing, TrafficLight, CartCrossing, AutomaticDoor, PersonStopping)

Obstacle = Annotated[
    CurbUp | CurbDown | KerbRamp | Box | Puddle | Cable | DoorThreshold | SpilledItems | UnevenPaving | PedestrianCrossing | TrafficLight | CartCrossing | AutomaticDoor | PersonStopping,
    Field(discriminator="kind"),
]


def _kind_of(cls: type) -> str:
    return cls.model_fields["kind"].annotation.__args__[0]


# Stable codes carried in TIMELINE_DTYPE.kind (never renumber: recordings store them).
OBSTACLE_KIND_CODES: dict[str, int] = {
    "curb_up": 1,
    "curb_down": 2,
    "kerb_ramp": 3,
    "box": 4,
    "puddle": 5,
    "cable": 6,
    "door_threshold": 7,
    "spilled_items": 8,
    "uneven_paving": 9,
    "pedestrian_crossing": 20,
    "traffic_light": 21,
    "cart_crossing": 22,
    "automatic_door": 23,
    "person_stopping": 24,
}
OBSTACLE_KIND_NAMES: dict[int, str] = {code: name for name, code in OBSTACLE_KIND_CODES.items()}
OBSTACLE_CATEGORY: dict[str, ObstacleCategory] = {
    **{_kind_of(c): ObstacleCategory.STEP_OVER for c in STEP_OVER_KINDS},
    **{_kind_of(c): ObstacleCategory.YIELD for c in YIELD_KINDS},
}
# Human names for the HUD and reports.
OBSTACLE_LABELS: dict[str, str] = {
    "curb_up": "curb up",
    "curb_down": "curb down",
    "kerb_ramp": "kerb ramp",
    "box": "box",
    "puddle": "puddle",
    "cable": "cable",
    "door_threshold": "door threshold",
    "spilled_items": "spilled items",
    "uneven_paving": "uneven paving",
    "pedestrian_crossing": "pedestrian crossing",
    "traffic_light": "traffic light",
    "cart_crossing": "shopping cart",
    "automatic_door": "automatic door",
    "person_stopping": "person in the way",
}


def obstacle_names(scene: Any) -> list[str]:
    """What the HUD calls each obstacle, in timeline order ("Touched the shopping cart"): the
    kind's label, the same words `validate` uses (a kind's id such as cart_crossing is not a name
    a patient knows)."""
    return [OBSTACLE_LABELS[o.kind] for o in scene.obstacles_in_timeline_order()]


def obstacle_extent_m(obstacle: Any) -> float:
    """Extent of an obstacle along the route (depth), m."""
    if hasattr(obstacle, "depth_m"):
        return float(obstacle.depth_m)
    return {"pedestrian_crossing": 1.0, "cart_crossing": 1.2, "automatic_door": 0.3, "person_stopping": 0.5}[obstacle.kind]


def obstacle_width_m(obstacle: Any) -> float:
    """Extent of an obstacle across the route, m; a yield obstacle spans the whole path (0 = n/a)."""
    if OBSTACLE_CATEGORY[obstacle.kind] == ObstacleCategory.YIELD:
        return 0.0
    return float(obstacle.width_m)


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


class ShoppingItem(StrictModel):
    name: Annotated[str, AfterValidator(_plain_text(False))] = Field(min_length=1, max_length=40, description="what the HUD lists, e.g. 'milk'")
    at_m: float = Field(ge=0.0, le=MAX_ROUTE_M, description=f"route distance of the shelf with the item, m (0..{MAX_ROUTE_M:g})")
    side: Literal["left", "right"] = Field("right", description="which shelf")
    colour: Colour = Field("red", description="package colour (the item is highlighted on the shelf)")
    shelf_height_m: float = _num(1.1, 0.2, 2.0, "height of the item on the shelf, m")


class ShoppingList(StrictModel):
    """Items are collected by walking through their zone slowly enough (see docs/scenes.md)."""

    items: list[ShoppingItem] = Field(min_length=1, max_length=20, description="the list, in any order")
    zone_m: float = _num(1.5, 0.2, 5.0, "half-length of the collection zone around each item, m")
    dwell_s: float = _num(1.0, 0.0, 10.0, "scene time the patient must spend in the zone to collect, s")


class Crossing(StrictModel):
    """Cross the street at a traffic light within its green phase."""

    light: ObstacleId = Field(description="id of a traffic_light obstacle")


class DualTask(StrictModel):
    """A colour cue shown at intervals; the patient says the colour of the ink (Stroop if enabled)."""

    start_m: float = _num(5.0, 0.0, MAX_ROUTE_M, "first cue, m")
    end_m: float | None = Field(None, ge=0.0, le=MAX_ROUTE_M, description="no cue after this, m (default: route end)")
    every_m: float = _num(15.0, 3.0, 500.0, "distance between cues, m")
    show_s: float = _num(4.0, 1.0, 30.0, "how long each cue stays up, s")
    colours: list[Colour] = Field(
        default_factory=lambda: ["red", "green", "blue", "yellow"], min_length=2, max_length=8,
        description="colours drawn from",
    )
    stroop: bool = Field(False, description="write a different colour's name than the ink colour")


class Tasks(StrictModel):
    shopping_list: ShoppingList | None = Field(None, description="items to collect along the route")
    crossings: list[Crossing] = Field(default_factory=list, max_length=16, description="street crossings within the green phase")
    dual_task: DualTask | None = Field(None, description="colour cues to name while walking")


# ---------------------------------------------------------------------------------------------
# Goals, assistance, ambient life, audio, props
# ---------------------------------------------------------------------------------------------


class Goals(StrictModel):
    """Defaults the therapist can override; 0 means no goal."""

    steps: int = _num(0, 0, 100000, "steps to walk")
    distance_m: float = _num(0.0, 0.0, 100000.0, "distance to walk, m")
    time_s: float = _num(0.0, 0.0, 86400.0, "walking time, s")


class Assistance(StrictModel):
    """Hints for the therapist's starting settings, as fractions of the prescription ranges."""

    guidance: float | None = Field(None, ge=0.0, le=1.0, description="exoskeleton guidance hint (0..1)")
    bws_fraction: float | None = Field(None, ge=0.0, le=1.0, description="body-weight support hint, fraction of the prescribed range (0..1)")
    clearance_boost: float | None = Field(None, ge=0.0, le=1.0, description="swing clearance boost hint (0..1)")


class Ambient(StrictModel):
    """Life that moves on the scene clock but never blocks the path (obstacles do that)."""

    people_per_100m: float = _num(0.0, 0.0, 40.0, "shoppers or pedestrians walking by, per 100 m of route")
    walk_speed_mps: float = _num(1.1, 0.3, 2.0, "their walking speed, m/s")
    parked_cars_per_100m: float = _num(0.0, 0.0, 20.0, "parked cars along the road (sidewalk), per 100 m")
    passing_cars_per_min: float = _num(0.0, 0.0, 60.0, "cars driving by (sidewalk), per minute")
    carts: int = _num(0, 0, 40, "parked shopping carts along the aisles (grocery store)")


BUILTIN_AMBIENCE = ("store", "street", "none")


def _ambience_check(value: str) -> str:
    return value if value in BUILTIN_AMBIENCE else _asset_path_check("sound")(value)


class Audio(StrictModel):
    ambience: Annotated[str, AfterValidator(_ambience_check)] = Field(
        "none", min_length=1, max_length=200,
        description="built-in ambience (store, street, none) or a sound file under assets/",
    )
    volume: float = _num(0.6, 0.0, 1.0, "ambience volume")
    cue_tone: bool = Field(True, description="a short tone when a dual-task cue appears")


class Prop(StrictModel):
    """A model from assets/ placed along the route."""

    model: ModelPath = Field(description="glTF/BAM/egg model, relative to assets/")
    texture: TexturePath | None = Field(None, description="optional texture applied to the model")
    at_m: float = Field(ge=-50.0, le=MAX_ROUTE_M, description="route distance, m")
    lateral_m: float = _num(0.0, -30.0, 30.0, "offset from the route centre line, + right, m")
    z_m: float = _num(0.0, -5.0, 20.0, "height above the floor, m")
    heading_deg: float = _num(0.0, -360.0, 360.0, "rotation about the vertical axis, degrees")
    scale: float = _num(1.0, 0.01, 100.0, "uniform scale")


# What a scene trains (findings pick scenes by it: engine/analysis/suggestions.py, docs/findings.md).
TRAINING_TARGETS = (
    "clearance",  # step-over obstacles that need the swing foot lifted (boxes, cables, items)
    "curbs",  # stepping down and up curbs
    "stop_and_go",  # stops and restarts at yield obstacles: gait initiation
    "doorways",  # doors and thresholds (frequent freezing triggers, Schaafsma 2003)
    "uneven_ground",  # uneven paving, ramps
    "dual_task",  # walking while naming cues or shopping
    "steady_walking",  # long stretches at one speed: rhythm, symmetry, step length
    "endurance",  # long route at a moderate speed
    "speed",  # a brisk base speed
)
TrainingTarget = Literal[TRAINING_TARGETS]  # type: ignore[valid-type]


class Cueing(StrictModel):
    """External cues for short or freezing steps: floor stripes across the path and a metronome."""

    floor_stripes: bool = Field(False, description="draw stripes across the walking path (visual cue)")
    stripe_spacing_m: float = _num(0.6, 0.2, 1.2, "distance between stripes: the target step length, m")
    metronome: bool = Field(False, description="play a metronome tick (auditory cue)")
    metronome_spm: float = _num(100.0, 40.0, 160.0, "metronome rate: the target cadence, steps per minute")


# ---------------------------------------------------------------------------------------------
# Fixtures: procedural street furniture and store fittings placed along the route
# ---------------------------------------------------------------------------------------------

SignText = Annotated[str, AfterValidator(_plain_text(False))]


class _Fixture(StrictModel):
    at_m: float = Field(ge=-20.0, le=MAX_ROUTE_M, description="route distance of its near end, m")
    side: Literal["left", "right"] = Field("right", description="which edge of the walkable area it stands against")
    lateral_m: float | None = Field(None, ge=-15.0, le=15.0,
                                    description="centre offset from the route centre line, + right, m (default: against its side)")


class Bench(_Fixture):
    """A park bench facing the route."""

    kind: Literal["bench"]
    length_m: float = _num(1.8, 1.0, 3.0, "bench length along the route, m")


class BusStop(_Fixture):
    """A bus stop: a pole with a route sign and, optionally, a glass shelter with a bench."""

    kind: Literal["bus_stop"]
    side: Literal["left", "right"] = Field("left", description="which edge it stands against (left: the road)")
    shelter: bool = Field(True, description="a glass shelter with a roof and a bench")
    length_m: float = _num(3.0, 2.0, 6.0, "shelter length along the route, m")
    route: SignText = Field("12", min_length=1, max_length=6, description="bus route number on the sign")


class WetFloorSign(_Fixture):
    """A yellow A-frame 'caution wet floor' sign (put it beside a puddle or spill, not in the lane)."""

    kind: Literal["wet_floor_sign"]


class PharmacyShelf(_Fixture):
    """A pharmacy shelving run (white, green cross, labelled by category) in place of grocery shelves."""

    kind: Literal["pharmacy_shelf"]
    length_m: float = _num(4.0, 1.5, 12.0, "shelving length along the route, m")
    category: Literal["pain relief", "cold and flu", "vitamins", "first aid", "skin care", "baby care"] = Field(
        "pain relief", description="what the shelf holds (its header sign and colour)")


class AisleSign(_Fixture):
    """A hanging sign over the aisle naming a category, in the category's colour."""

    kind: Literal["aisle_sign"]
    category: Literal["pharmacy", "bakery", "dairy", "produce", "frozen", "drinks", "household", "checkout"] = Field(
        description="what the aisle ahead holds")


Fixture = Annotated[Bench | BusStop | WetFloorSign | PharmacyShelf | AisleSign, Field(discriminator="kind")]
MAX_FIXTURES = 64


# ---------------------------------------------------------------------------------------------
# The scene
# ---------------------------------------------------------------------------------------------


class Scene(StrictModel):
    """One scenario. `extends` (a path relative to this file) inherits and overrides a base scene."""

    extends: str | None = Field(None, max_length=200, description="base scene file this one overrides (relative path)")
    abstract: bool = Field(False, description="a base for other scenes; not listed in the menu")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$", description="unique id, lowercase-with-dashes")
    title: Annotated[str, AfterValidator(_plain_text(False))] = Field(min_length=1, max_length=80, description="menu title")
    description: Annotated[str, AfterValidator(_plain_text_or_empty)] = Field(
        "", max_length=2000, description="what the therapist reads in the menu")
    difficulty: Literal["gentle", "moderate", "hard"] = Field(description="for sorting and filtering")
    environment: Environment = Field(description="grocery_store or sidewalk, with its own keys")
    route_length_m: float = Field(150.0, ge=10.0, le=MAX_ROUTE_M, description=f"route length, m (10..{MAX_ROUTE_M:g})")
    base_speed_fraction: float = _num(0.6, 0.1, 1.0, "walking speed, fraction of the prescribed max")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="seed for procedural placement: products, people, cars (0..2147483647)")
    assistance: Assistance = Field(default_factory=Assistance, description="starting-setting hints for the therapist")
    goals: Goals = Field(default_factory=Goals, description="default goals the therapist can override")
    obstacles: list[Obstacle] = Field(default_factory=list, max_length=MAX_OBSTACLES, description=f"obstacles by route distance (at most {MAX_OBSTACLES})")
    tasks: Tasks = Field(default_factory=Tasks, description="shopping list, crossings, dual task")
    ambient: Ambient = Field(default_factory=Ambient, description="people, carts and cars that never block the path")
    audio: Audio = Field(default_factory=Audio, description="ambience and cue sounds")
    props: list[Prop] = Field(default_factory=list, max_length=200, description="models from assets/ placed along the route")
    fixtures: list[Fixture] = Field(default_factory=list, max_length=MAX_FIXTURES,
                                    description=f"benches, bus stops, wet-floor signs, pharmacy shelves, aisle signs (at most {MAX_FIXTURES})")
    training_targets: list[TrainingTarget] = Field(default_factory=list, max_length=len(TRAINING_TARGETS), description="what the scene trains (findings suggest scenes by it)")
    cueing: Cueing = Field(default_factory=Cueing, description="floor stripes and metronome for short or freezing steps")

    # Files this scene was read from (itself first, then the bases it extends); set by the loader.
    _files: tuple = PrivateAttr(default=())
    _warnings: tuple = PrivateAttr(default=())  # 'file:line:col key: warning: ...' from the loader
    _id_at: str = PrivateAttr(default="")  # 'file:line:col' of the id (duplicate-id errors)

    @property
    def warnings(self) -> tuple:
        """Layout warnings found when the file was loaded (validate prints them)."""
        return self._warnings

    @property
    def source_path(self):
        """The YAML file this scene was loaded from (None when built in code)."""
        return self._files[0] if self._files else None

    @property
    def source_files(self) -> tuple:
        """The scene's file and every base file it extends (hot reload watches them all)."""
        return self._files

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Scene:
        # The loader asks for the problems itself (to point each at its line); direct use raises.
        if info.context and info.context.get("defer_problems"):
            return self
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        return self

    def problems(self) -> list[tuple[tuple, str]]:
        """Cross-field problems as (key path, message): placements off the route, dangling names."""
        out: list[tuple[tuple, str]] = []
        length = self.route_length_m
        ids: dict[str, int] = {}
        for i, obstacle in enumerate(self.obstacles):
            end = obstacle.at_m + obstacle_extent_m(obstacle)
            if end > length:
                out.append((("obstacles", i, "at_m"), f"ends at {end:g} m, beyond route_length_m ({length:g})"))
            if obstacle.id is not None:
                if obstacle.id in ids:
                    out.append((("obstacles", i, "id"), f"id {obstacle.id!r} already used by obstacles.{ids[obstacle.id]}"))
                ids.setdefault(obstacle.id, i)
        lights = {o.id for o in self.obstacles if o.kind == "traffic_light" and o.id}
        for i, crossing in enumerate(self.tasks.crossings):
            if crossing.light not in lights:
                hint = f" (traffic lights: {', '.join(sorted(lights))})" if lights else " (the scene has no traffic_light with an id)"
                out.append((("tasks", "crossings", i, "light"), f"no traffic_light with id {crossing.light!r}{hint}"))
        if self.tasks.shopping_list:
            for i, item in enumerate(self.tasks.shopping_list.items):
                if item.at_m > length:
                    out.append((("tasks", "shopping_list", "items", i, "at_m"), f"{item.at_m:g} is beyond route_length_m ({length:g})"))
        dual = self.tasks.dual_task
        if dual and dual.end_m is not None and dual.end_m < dual.start_m:
            out.append((("tasks", "dual_task", "end_m"), f"must not be before start_m ({dual.start_m:g})"))
        return out

    def obstacles_in_timeline_order(self) -> list:
        """Obstacles sorted by at_m (stable): index i here is timeline row i and World key i."""
        return sorted(self.obstacles, key=lambda o: o.at_m)


def scene_json_schema() -> dict:
    """The JSON Schema of a scene file (scenes/scene.schema.json is this, pretty-printed)."""
    schema = Scene.model_json_schema()
    # A scene that `extends` a base inherits the required keys, so the file itself needs none.
    schema.pop("required", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "StepSync scene"
    return schema
