"""Layout and consistency rules (engine.scene.rules): each error or warning, positioned, with its numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.scene.loader import load_scene
from tests.scene.helpers import errors_of, write

ROOT = Path(__file__).resolve().parents[2]

STORE = """\
id: rules-store
title: Store
difficulty: gentle
environment: {type: grocery_store, aisle_width_m: 2.4}
route_length_m: 100
"""
STREET = """\
id: rules-street
title: Street
difficulty: gentle
environment: {type: sidewalk, sidewalk_width_m: 3.0}
route_length_m: 100
base_speed_fraction: 0.6
"""


def only_error(path: Path) -> str:
    errors = errors_of(path)
    assert len(errors) == 1, errors
    return errors[0]


def warnings_of(path: Path) -> list[str]:
    return list(load_scene(path).warnings)


def test_overlapping_step_overs_in_the_same_lane(tmp_path):
    path = write(tmp_path, STORE + "obstacles:\n  - {kind: box, at_m: 20, depth_m: 0.4}\n  - {kind: puddle, at_m: 20.2}\n")
    assert only_error(path) == (f"{path}:8:26 obstacles[1].at_m: overlaps obstacles[0] (box, 20..20.4 m) in the same lane: "
                                "one thing on the floor would be scored twice")
    beside = write(tmp_path, STORE + "obstacles:\n  - {kind: box, at_m: 20, width_m: 0.4, lateral_m: -0.5}\n"
                                     "  - {kind: box, at_m: 20, width_m: 0.4, lateral_m: 0.5}\n", "beside.yaml")
    load_scene(beside)  # side by side is fine


def test_two_blocking_obstacles_at_once(tmp_path):
    path = write(tmp_path, STORE + "obstacles:\n  - {kind: person_stopping, at_m: 30}\n"
                                   "  - {kind: cart_crossing, at_m: 30.2, trigger_before_m: 6}\n")
    assert "would wait for two things at once" in only_error(path)


def test_obstacle_inside_shelves_road_or_buildings(tmp_path):
    shelf = write(tmp_path, STORE + "obstacles:\n  - {kind: box, at_m: 20, lateral_m: 2.5}\n")
    assert only_error(shelf) == (f"{shelf}:7:38 obstacles[0].lateral_m: lateral_m 2.5 puts the box inside the shelves on "
                                 "the right, where the patient cannot be (walkable -1.2..1.2 m across)")
    road = write(tmp_path, STREET + "obstacles:\n  - {kind: box, at_m: 20, lateral_m: -2.5}\n", "road.yaml")
    assert "puts the box in the road" in only_error(road)
    house = write(tmp_path, STREET + "obstacles:\n  - {kind: box, at_m: 20, lateral_m: 2.9}\n", "house.yaml")
    assert "inside the buildings" in only_error(house)


def test_obstacle_outside_the_lane_is_a_warning(tmp_path):
    path = write(tmp_path, STORE + "obstacles:\n  - {kind: box, at_m: 20, width_m: 0.4, lateral_m: 0.9}\n")
    (warning,) = warnings_of(path)
    assert warning.startswith(f"{path}:7:52 obstacles[0].lateral_m: warning: the box (0.7..1.1 m across) is outside the walking lane")


def test_kinds_per_environment(tmp_path):
    path = write(tmp_path, STORE + "obstacles:\n  - {kind: traffic_light, id: x, at_m: 20}\n  - {kind: curb_up, at_m: 40}\n")
    errors = errors_of(path)
    assert errors[0].startswith(f"{path}:7:12 obstacles[0].kind: a traffic light does not belong in a grocery store (allowed there:")
    assert "a curb up does not belong in a grocery store" in errors[1]
    bench = write(tmp_path, STORE + "fixtures:\n  - {kind: bus_stop, at_m: 10}\n", "bench.yaml")
    assert "a bus stop does not belong in a grocery store" in only_error(bench)


def test_curbs_must_pair(tmp_path):
    down_only = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_down, at_m: 20}\n")
    assert "with no curb_up after it: the route would end down on the road" in only_error(down_only)
    up_only = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_up, at_m: 20}\n", "up.yaml")
    assert "with no curb_down before it" in only_error(up_only)
    twice = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_down, at_m: 20}\n  - {kind: curb_down, at_m: 30}\n"
                                     "  - {kind: curb_up, at_m: 40}\n", "twice.yaml")
    assert "a second curb_down" in only_error(twice)
    mismatch = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_down, at_m: 20, height_m: 0.2}\n"
                                        "  - {kind: curb_up, at_m: 30, height_m: 0.08}\n", "mismatch.yaml")
    assert "differ by more than 3 cm" in warnings_of(mismatch)[0]


def test_trigger_before_the_start_and_stop_line_before_the_start(tmp_path):
    path = write(tmp_path, STORE + "obstacles:\n  - {kind: person_stopping, at_m: 3, trigger_before_m: 5, stop_gap_m: 1}\n")
    assert only_error(path) == (f"{path}:7:56 obstacles[0].trigger_before_m: fires before the route starts (at_m 3 - "
                                "trigger_before_m 5 = -2 m): it would block the path from the first moment; start it at "
                                "least 0 m into the route")
    stop = write(tmp_path, STORE + "obstacles:\n  - {kind: person_stopping, at_m: 1, trigger_before_m: 1, stop_gap_m: 2}\n", "s.yaml")
    assert any("stop line" in e and "before the route start" in e for e in errors_of(stop))


def test_cues_after_the_end(tmp_path):
    path = write(tmp_path, STORE + "tasks:\n  dual_task: {start_m: 120}\n")
    assert only_error(path) == (f"{path}:7:24 tasks.dual_task.start_m: the first cue at 120 m is at or past the route end "
                                "(100 m): no cue would ever be shown")
    end = write(tmp_path, STORE + "tasks:\n  dual_task: {start_m: 10, end_m: 300}\n", "end.yaml")
    assert "cues stop at the end" in warnings_of(end)[0]


def test_green_too_short_to_cross_names_the_numbers(tmp_path):
    body = STREET + ("obstacles:\n  - {kind: curb_down, at_m: 39.5}\n"
                     "  - {kind: traffic_light, id: main, at_m: 40, depth_m: 8, cycle_s: 40, red_s: 39.99}\n"
                     "  - {kind: curb_up, at_m: 48.05}\ntasks:\n  crossings:\n    - light: main\n")
    path = write(tmp_path, body)
    assert only_error(path) == (
        f"{path}:9:79 obstacles[1].red_s: green lasts 0.01 s (cycle_s 40 - red_s 40) but crossing the 8 m street at "
        "0.48 m/s (base_speed_fraction 0.6 x 0.8 m/s reference) takes 16.7 s: the patient cannot cross within it; "
        "make green at least 21 s")
    tight = write(tmp_path, body.replace("red_s: 39.99", "red_s: 22"), "tight.yaml")
    (warning,) = warnings_of(tight)
    assert "warning: green lasts 18 s" in warning and "aim for at least 21 s of green" in warning
    assert errors_of(tight, strict=True)[0].endswith("(a warning; --strict makes it an error)")
    load_scene(write(tmp_path, body.replace("red_s: 39.99", "red_s: 18"), "ok.yaml"))  # 22 s of green: fine


def test_props_that_block_the_route_or_the_view(tmp_path):
    (ROOT / "assets").exists()
    models = sorted(p.relative_to(ROOT / "assets") for p in (ROOT / "assets").rglob("*") if p.suffix in (".egg", ".bam", ".gltf", ".glb"))
    if not models:
        pytest.skip("no model assets shipped")
    model = models[0].as_posix()
    huge = write(tmp_path, STORE + f"props:\n  - {{model: {model}, at_m: 20, scale: 100}}\n")
    assert "stands in the walking lane" in only_error(huge) and "scale 100" in only_error(huge)
    aside = write(tmp_path, STORE + f"props:\n  - {{model: {model}, at_m: 20, lateral_m: 12, scale: 10}}\n", "aside.yaml")
    assert "fills much of the patient's view" in warnings_of(aside)[0]


def test_fixtures_in_the_lane_are_errors(tmp_path):
    narrow = write(tmp_path, STREET.replace("sidewalk_width_m: 3.0", "sidewalk_width_m: 2.0")
                   + "fixtures:\n  - {kind: bus_stop, at_m: 30}\n")
    error = only_error(narrow)
    assert "the bus stop" in error and "stands in the walking lane" in error and "a shelter needs sidewalk_width_m" in error
    load_scene(write(tmp_path, STREET + "fixtures:\n  - {kind: bus_stop, at_m: 30}\n  - {kind: bench, at_m: 50}\n"
                     "  - {kind: wet_floor_sign, at_m: 60, side: left}\n", "ok.yaml"))
    sign = write(tmp_path, STORE + "fixtures:\n  - {kind: wet_floor_sign, at_m: 30, lateral_m: 0}\n", "sign.yaml")
    assert "wet floor sign" in only_error(sign)


def test_other_inconsistencies_are_warnings(tmp_path):
    path = write(tmp_path, STORE + "goals: {distance_m: 500}\nambient: {passing_cars_per_min: 10}\n"
                                   "tasks:\n  shopping_list:\n    items:\n      - {name: milk, at_m: 20}\n"
                                   "      - {name: Milk, at_m: 21}\n")
    text = "\n".join(warnings_of(path))
    assert "longer than the route" in text and "ignored in a grocery store" in text
    assert "already items[0]" in text and "both are collected in one pass" in text


def test_shipped_scenes_pass_strict():
    result = subprocess.run([sys.executable, "main.py", "validate", "--strict", "scenes"], cwd=ROOT, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stdout


def test_validate_prints_warnings_and_strict_fails(tmp_path):
    path = write(tmp_path, STORE + "goals: {distance_m: 500}\n")
    plain = subprocess.run([sys.executable, "main.py", "validate", str(path)], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert plain.returncode == 0 and f"{path}:6:21 goals.distance_m: warning: 500 m is longer" in plain.stdout
    strict = subprocess.run([sys.executable, "main.py", "validate", "--strict", str(path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert strict.returncode == 1 and "0 of 1 scene files valid" in strict.stdout


def test_validate_reports_duplicate_ids_across_files(tmp_path):
    write(tmp_path, STORE, "a.yaml")
    write(tmp_path, STORE, "b.yaml")
    result = subprocess.run([sys.executable, "main.py", "validate", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert f"{tmp_path / 'a.yaml'}:1:5 id: 'rules-store' is also the id of {tmp_path / 'b.yaml'}" in result.stdout
    assert f"{tmp_path / 'b.yaml'}:1:5 id: 'rules-store' is also the id of {tmp_path / 'a.yaml'}" in result.stdout


def test_low_contrast_obstacle_colour_is_a_warning(tmp_path):
    from engine.scene.rules import contrast_ratio

    assert contrast_ratio((1, 1, 1), (0, 0, 0)) == pytest.approx(21.0)
    grey = write(tmp_path, STORE + "obstacles:\n  - {kind: box, at_m: 20, colour: '#c8c8c4'}\n")
    (warning,) = warnings_of(grey)
    assert "obstacles[0].colour: warning: #c8c8c4 has a contrast of 1.0:1 against the floor" in warning
    assert not warnings_of(write(tmp_path, STORE + "obstacles:\n  - {kind: box, at_m: 20, colour: black}\n", "ok.yaml"))


# ---- rules added after a second hostile corpus (session s16) --------------------------------------


def test_yield_obstacles_whose_holds_overlap(tmp_path):
    """A door at 10 m holds from 9.4 m; a cart crossing at 10.5 m holds from 9.3 m: their spans do
    not overlap along the route, but the patient would be held for both at once."""
    path = write(tmp_path, STORE + "obstacles:\n  - {kind: automatic_door, at_m: 10}\n"
                                   "  - {kind: cart_crossing, at_m: 10.5, trigger_before_m: 6}\n")
    assert only_error(path) == (f"{path}:8:33 obstacles[1].at_m: blocks the path (held from 9.3 m) where obstacles[0] "
                                "(automatic door, held from 9.4 m, 10..10.3 m) already does: the patient would wait for two "
                                "things at once")
    apart = STORE + "obstacles:\n  - {kind: automatic_door, at_m: 10}\n  - {kind: cart_crossing, at_m: 12, trigger_before_m: 1.5}\n"
    load_scene(write(tmp_path, apart, "apart.yaml"))  # held from 10.8 m, after the door: fine


def test_kerbs_must_span_the_walking_lane(tmp_path):
    beside = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_down, at_m: 10, lateral_m: 1.5, width_m: 1}\n"
                                      "  - {kind: curb_up, at_m: 20}\n")
    assert only_error(beside) == (f"{beside}:8:58 obstacles[0].width_m: the curb down covers 1..2 m across but the walking "
                                  "lane is -0.4..0.4 m: a kerb changes the level of the whole path, so it must span the lane "
                                  "(centre it, or make width_m larger)")


def test_a_traffic_lights_street_wants_kerbs_and_side_streets_are_short(tmp_path):
    bare = write(tmp_path, STREET + "obstacles:\n  - {kind: traffic_light, at_m: 20, cycle_s: 60, red_s: 10}\n")
    (warning,) = warnings_of(bare)
    assert "has no curb_down (or kerb_ramp) just before at_m and no curb_up (or kerb_ramp) just after" in warning
    ramps = STREET + ("obstacles:\n  - {kind: kerb_ramp, at_m: 18.5}\n  - {kind: traffic_light, at_m: 20, cycle_s: 60, "
                      "red_s: 10}\n  - {kind: kerb_ramp, at_m: 28.2}\n")
    assert not warnings_of(write(tmp_path, ramps, "ramps.yaml"))  # ramps at both edges: fine
    long_road = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_down, at_m: 10}\n  - {kind: curb_up, at_m: 70}\n",
                      "long.yaml")
    (warning,) = warnings_of(long_road)
    assert "obstacles[1].at_m: warning: 60 m after the curb_down at 10 m (obstacles[0]): the patient walks that far" in warning


def test_items_sit_on_shelves_and_off_the_road(tmp_path):
    def items(*rows: str) -> str:
        return "tasks:\n  shopping_list:\n    items:\n" + "".join(f"      - {r}\n" for r in rows)

    high = write(tmp_path, STORE.replace("aisle_width_m: 2.4", "aisle_width_m: 2.4, shelf_height_m: 1.2")
                 + items("{name: milk, at_m: 20, shelf_height_m: 2.0}"))
    assert "2 m is above the top of the shelves (environment.shelf_height_m 1.2): it would float over them" in only_error(high)
    aisle = write(tmp_path, STORE + items("{name: milk, at_m: 24}"), "aisle.yaml")  # cross aisles every 12 m (default)
    assert "24 m is in the cross aisle at 24 m (2.4 m wide, every cross_aisle_every_m 12 m)" in only_error(aisle)
    load_scene(write(tmp_path, STORE + items("{name: milk, at_m: 23}"), "edge.yaml"))  # 1 m off: its package is on the shelf
    gap = write(tmp_path, STORE + "obstacles:\n  - {kind: cart_crossing, at_m: 30}\n" + items("{name: milk, at_m: 30.5}"),
                "gap.yaml")
    assert "in the gap in the shelves where someone crosses (29.1..32.1 m)" in only_error(gap)
    last = write(tmp_path, STORE + items("{name: milk, at_m: 99.5}"), "last.yaml")
    assert "past the last shelf" in only_error(last)
    road = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_down, at_m: 19.6}\n  - {kind: curb_up, at_m: 28}\n"
                 + items("{name: paper, at_m: 24}"), "road.yaml")
    assert "24 m is in the road (19.9..28 m" in only_error(road)
    narrow = write(tmp_path, STREET.replace("sidewalk_width_m: 3.0", "sidewalk_width_m: 1.6") + items("{name: paper, at_m: 24}"),
                   "narrow.yaml")
    assert "into the walking lane (+-0.4 m); use sidewalk_width_m of at least 1.7" in only_error(narrow)


def test_fixtures_do_not_share_a_place_or_stand_in_the_road(tmp_path):
    two = write(tmp_path, STREET + "fixtures:\n  - {kind: bench, at_m: 22}\n  - {kind: bench, at_m: 23}\n")
    assert only_error(two) == (f"{two}:9:25 fixtures[1].at_m: the bench (23..24.8 m) stands in the same place as fixtures[0] "
                               "(bench, 22..23.8 m): one would be drawn through the other")
    load_scene(write(tmp_path, STREET + "fixtures:\n  - {kind: bench, at_m: 22}\n  - {kind: bench, at_m: 22, side: left}\n",
                     "facing.yaml"))  # both sides of the path: fine
    shelves = write(tmp_path, STORE + "fixtures:\n  - {kind: pharmacy_shelf, at_m: 10, side: left, length_m: 12}\n"
                                      "  - {kind: pharmacy_shelf, at_m: 15, side: left}\n", "shelves.yaml")
    assert "the pharmacy shelf (15..19 m) stands in the same place as fixtures[0]" in only_error(shelves)
    street = write(tmp_path, STREET + "obstacles:\n  - {kind: curb_down, at_m: 19.6}\n  - {kind: traffic_light, at_m: 20, "
                   "cycle_s: 60, red_s: 10}\n  - {kind: curb_up, at_m: 28.05}\nfixtures:\n  - {kind: bench, at_m: 22}\n",
                   "street.yaml")
    assert "the bench (22..23.8 m) stands in the road of a side street (19.9..28.1 m)" in only_error(street)
    on_box = write(tmp_path, STREET + "obstacles:\n  - {kind: box, at_m: 22, lateral_m: 1.3}\nfixtures:\n"
                   "  - {kind: bench, at_m: 21.5}\n", "onbox.yaml")
    assert any("the bench (21.5..23.3 m, 1.45..2.05 m across) stands on obstacles[0] (box" in w for w in warnings_of(on_box))


def test_dual_task_colours_must_differ(tmp_path):
    one = write(tmp_path, STORE + "tasks:\n  dual_task: {colours: [red, red], stroop: true}\n")
    assert only_error(one) == (f"{one}:7:24 tasks.dual_task.colours: 2 colours but only 1 different: a colour cue needs at "
                               "least 2 (with stroop, the word names a colour other than the ink)")
    repeat = write(tmp_path, STORE + "tasks:\n  dual_task: {colours: [red, green, red]}\n", "repeat.yaml")
    assert "3 colours but only 2 different: a repeated colour is drawn more often" in warnings_of(repeat)[0]


def test_a_sign_past_the_route_end_is_a_warning(tmp_path):
    path = write(tmp_path, STORE + "fixtures:\n  - {kind: aisle_sign, at_m: 150, category: dairy}\n")
    (warning,) = warnings_of(path)
    assert "fixtures[0].at_m: warning: 150 m is past the route end (100 m): the patient never sees it" in warning


def test_a_pharmacy_shelf_placed_by_lateral_m_stands_on_the_floor(tmp_path):
    aisle = write(tmp_path, STORE + "fixtures:\n  - {kind: pharmacy_shelf, at_m: 10, lateral_m: 0}\n")
    assert "the pharmacy shelf (-0.25..0.25 m across) stands in the walking lane (+-0.4 m): it blocks the route" in only_error(aisle)
    inside = write(tmp_path, STORE + "fixtures:\n  - {kind: pharmacy_shelf, at_m: 10, lateral_m: 5}\n", "inside.yaml")
    assert "4.75..5.25 m across puts it inside the shelves on the right" in only_error(inside)
    load_scene(write(tmp_path, STORE + "fixtures:\n  - {kind: pharmacy_shelf, at_m: 10, side: left}\n", "side.yaml"))
