"""Shipped scenes, the library (broken files never stop it), the schema file, the timeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.control.layout import MAX_OBSTACLES, TIMELINE_DTYPE, ObstacleCategory
from engine.scene.loader import SceneError, find_scene, load_library, load_scene
from engine.scene.model import OBSTACLE_CATEGORY, OBSTACLE_KIND_CODES, Scene
from engine.scene.schema import SCHEMA_PATH, schema_text
from engine.scene.timeline import YieldClock, scene_to_timeline

ROOT = Path(__file__).resolve().parents[2]
SCENES = ROOT / "scenes"
SHIPPED = sorted(SCENES.glob("*.yaml"))


def test_schema_file_is_fresh():
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m engine.scene.schema"
    schema = json.loads(SCHEMA_PATH.read_text())
    assert "obstacles" in schema["properties"] and "required" not in schema


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scene_validates_and_has_schema_line(path):
    assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=scene.schema.json"
    scene = load_scene(path)
    assert scene.description.strip() and scene.title.strip()
    if not scene.abstract:
        assert 100.0 <= scene.route_length_m <= 250.0
        assert scene.extends, "shipped scenes extend a base"


def test_library_content():
    library = load_library(SCENES)
    assert not library.broken, library.broken
    assert {"grocery-first-visit", "sidewalk-curb-crossing"} <= set(library.scenes)
    assert set(library.bases) == {"base-grocery", "base-sidewalk"}
    by_env: dict[str, set[str]] = {}
    for scene in library.scenes.values():
        by_env.setdefault(scene.environment.type, set()).add(scene.difficulty)
    assert by_env == {"grocery_store": {"gentle", "moderate", "hard"}, "sidewalk": {"gentle", "moderate", "hard"}}
    first = library.scenes["grocery-first-visit"]
    assert not first.obstacles and len(first.tasks.shopping_list.items) == 2
    assert len(library.paths()) == len(SHIPPED)
    hard = [s for s in library.scenes.values() if s.difficulty == "hard"]
    assert all(len(s.obstacles) >= 8 for s in hard)


def test_library_never_raises_for_bad_files(tmp_path):
    (tmp_path / "base-grocery.yaml").write_text((SCENES / "base-grocery.yaml").read_text())
    (tmp_path / "good.yaml").write_text((SCENES / "grocery-first-visit.yaml").read_text())
    (tmp_path / "bad.yaml").write_text("id: [unclosed\n")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff" * 100)
    library = load_library(tmp_path)
    assert set(library.scenes) == {"grocery-first-visit"}
    assert set(Path(p).name for p in library.broken) == {"bad.yaml", "binary.yaml"}
    with pytest.raises(SceneError) as info:
        find_scene("grocery-first-visi", tmp_path)
    assert "did you mean 'grocery-first-visit'" in info.value.errors[0]
    assert find_scene("grocery-first-visit", tmp_path).id == "grocery-first-visit"


def test_duplicate_ids_break_both_files_and_name_each_other(tmp_path):
    (tmp_path / "base-grocery.yaml").write_text((SCENES / "base-grocery.yaml").read_text())
    (tmp_path / "good.yaml").write_text((SCENES / "grocery-first-visit.yaml").read_text())
    (tmp_path / "z-dup.yaml").write_text((SCENES / "grocery-first-visit.yaml").read_text())
    library = load_library(tmp_path)
    assert "grocery-first-visit" not in library.scenes  # neither is silently picked
    good, dup = library.broken[str(tmp_path / "good.yaml")][0], library.broken[str(tmp_path / "z-dup.yaml")][0]
    assert "z-dup.yaml" in good and "good.yaml" in dup and "must be unique" in good
    assert good.startswith(f"{tmp_path / 'good.yaml'}:3:5 id: ")  # points at the id line
    with pytest.raises(SceneError) as info:
        find_scene("grocery-first-visit", tmp_path)  # preview/run by id refuses too
    assert "must be unique" in info.value.errors[0]


def test_direct_model_use_checks_cross_field_problems():
    with pytest.raises(ValueError, match="beyond route_length_m"):
        Scene.model_validate({"id": "x1", "title": "t", "difficulty": "gentle", "environment": {"type": "sidewalk"},
                              "route_length_m": 20, "obstacles": [{"kind": "box", "at_m": 30}]})


def test_timeline_matches_the_scene():
    scene = find_scene("sidewalk-rainy-evening", SCENES)
    rows = scene_to_timeline(scene)
    assert rows.dtype == TIMELINE_DTYPE and len(rows) == len(scene.obstacles) <= MAX_OBSTACLES
    assert np.all(np.diff(rows["at_m"]) >= 0)
    ordered = scene.obstacles_in_timeline_order()
    for row, obstacle in zip(rows, ordered, strict=False):
        assert row["kind"] == OBSTACLE_KIND_CODES[obstacle.kind]
        assert row["category"] == OBSTACLE_CATEGORY[obstacle.kind]
        assert row["at_m"] == pytest.approx(obstacle.at_m)
    light = next(r for r, o in zip(rows, ordered, strict=False) if o.kind == "traffic_light")
    assert light["category"] == ObstacleCategory.YIELD
    assert (light["period_s"], light["active_s"], light["phase_s"]) == (40.0, 18.0, 5.0)
    walker = next(r for r, o in zip(rows, ordered, strict=False) if o.kind == "pedestrian_crossing")
    assert walker["period_s"] == 0 and walker["trigger_m"] == pytest.approx(26 - 6) and walker["duration_s"] == 3
    puddle = next(r for r, o in zip(rows, ordered, strict=False) if o.kind == "puddle")
    assert puddle["height_m"] == 0 and puddle["category"] == ObstacleCategory.STEP_OVER


def test_yield_clock_replays_the_core_rule():
    scene = find_scene("sidewalk-rainy-evening", SCENES)
    rows = scene_to_timeline(scene)
    clock = YieldClock(rows)
    walker = next(i for i, o in enumerate(scene.obstacles_in_timeline_order()) if o.kind == "pedestrian_crossing")
    light = next(i for i, o in enumerate(scene.obstacles_in_timeline_order()) if o.kind == "traffic_light")
    assert not clock.update(10.0, 1.0)[walker]
    assert clock.update(20.0, 2.0)[walker]  # s reached trigger_m
    assert clock.update(21.0, 4.9)[walker]
    assert not clock.update(22.0, 5.0)[walker]  # duration 3 s over
    assert not clock.update(10.0, 6.0)[walker]  # triggers once only
    # light: active while ((t + 5) % 40) < 18
    assert clock.update(0.0, 0.0)[light] and clock.update(0.0, 12.9)[light]
    assert not clock.update(0.0, 13.0)[light] and clock.update(0.0, 35.0)[light]


def test_designer_guide_covers_every_key_and_its_example_loads(tmp_path):
    from engine.scene import model

    guide = (ROOT / "docs" / "scenes.md").read_text()
    classes = [model.Scene, model.GroceryStore, model.Sidewalk, model.Assistance, model.Goals, model.Ambient,
               model.Audio, model.Prop, model.Tasks, model.ShoppingList, model.ShoppingItem, model.Crossing,
               model.DualTask, *model.STEP_OVER_KINDS, *model.YIELD_KINDS, model.Bench, model.BusStop, model.WetFloorSign,
               model.PharmacyShelf, model.AisleSign]
    missing = sorted({f"{c.__name__}.{name}" for c in classes for name in c.model_fields if f"`{name}`" not in guide})
    assert not missing, f"docs/scenes.md does not explain: {missing}"
    for kind in OBSTACLE_KIND_CODES:
        assert f"kind: {kind}`" in guide
    for kind in ("bench", "bus_stop", "wet_floor_sign", "pharmacy_shelf", "aisle_sign"):
        assert f"kind: {kind}`" in guide
    from engine.scene import rules
    for kind in sorted(set().union(*rules.ALLOWED_OBSTACLES.values(), *rules.ALLOWED_FIXTURES.values())):
        assert kind in guide.split("Allowed kinds:", 1)[1].split("###", 1)[0], kind
    for image in ("scene-grocery.png", "scene-sidewalk.png"):
        assert f"img/{image}" in guide and (ROOT / "docs" / "img" / image).is_file()
    example = guide.split("## A complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "base-sidewalk.yaml").write_text((SCENES / "base-sidewalk.yaml").read_text())
    path = tmp_path / "example.yaml"
    path.write_text(example)
    scene = load_scene(path)
    assert scene.props[0].model == "models/marker.egg"
    assert scene.tasks.crossings[0].light == "main-street" and len(scene.obstacles) == 5
