"""Each kind of scene error names the right file:line:col and key path, with an actionable message."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from devices.yaml_positions import MAX_FILE_BYTES
from engine.scene.loader import SceneError, load_scene

GOOD = """\
id: test-scene
title: Test
difficulty: gentle
environment:
  type: grocery_store
  aisles: 2
route_length_m: 100
obstacles:
  - kind: box
    at_m: 10
    height_m: 0.2
"""


def write(tmp_path: Path, text: str, name: str = "scene.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SceneError) as info:
        load_scene(path)
    assert info.value.errors, "a SceneError always carries at least one error"
    return info.value.errors


def only_error(path: Path) -> str:
    errors = errors_of(path)
    assert len(errors) == 1, errors
    return errors[0]


def test_good_scene_loads(tmp_path):
    scene = load_scene(write(tmp_path, GOOD))
    assert scene.id == "test-scene"
    assert scene.obstacles[0].height_m == pytest.approx(0.2)
    assert scene.source_path == (tmp_path / "scene.yaml").resolve()


def test_unknown_key_points_at_the_key_and_suggests(tmp_path):
    path = write(tmp_path, GOOD.replace("    height_m: 0.2", "    heigth_m: 0.2"))
    error = only_error(path)
    assert error.startswith(f"{path}:11:5 obstacles[0].heigth_m: unknown key")
    assert "did you mean 'height_m'?" in error


def test_out_of_range_states_the_range(tmp_path):
    path = write(tmp_path, GOOD.replace("aisles: 2", "aisles: 9"))
    assert only_error(path) == f"{path}:6:11 environment.aisles: 9 is out of range; allowed 1..6"


def test_wrong_type_points_at_the_value(tmp_path):
    path = write(tmp_path, GOOD.replace("at_m: 10", 'at_m: "ten"'))
    error = only_error(path)
    assert error.startswith(f"{path}:10:11 obstacles[0].at_m: expected a number")
    assert "'ten'" in error


def test_missing_key_points_at_its_mapping(tmp_path):
    path = write(tmp_path, GOOD.replace("title: Test\n", ""))
    assert only_error(path) == f"{path}:1:1 title: missing required key"


def test_missing_nested_key_points_at_the_parent(tmp_path):
    path = write(tmp_path, GOOD.replace("    at_m: 10\n", ""))
    assert only_error(path) == f"{path}:9:5 obstacles[0].at_m: missing required key"


def test_duplicate_key_is_an_error_at_the_second_one(tmp_path):
    path = write(tmp_path, GOOD + "route_length_m: 120\n")
    error = only_error(path)
    assert error == f"{path}:12:1 route_length_m: duplicate key 'route_length_m' (first at line 7)"


def test_unknown_kind_suggests_the_closest(tmp_path):
    path = write(tmp_path, GOOD.replace("kind: box", "kind: boxx"))
    error = only_error(path)
    assert error.startswith(f"{path}:9:11 obstacles[0].kind: unknown kind 'boxx'; did you mean 'box'?")


def test_bad_literal_suggests(tmp_path):
    path = write(tmp_path, GOOD.replace("difficulty: gentle", "difficulty: gentl"))
    error = only_error(path)
    assert error.startswith(f"{path}:3:13 difficulty: 'gentl' is not allowed")
    assert "did you mean 'gentle'?" in error


def test_bad_colour(tmp_path):
    path = write(tmp_path, GOOD + "    colour: teal\n")
    assert only_error(path).startswith(f"{path}:12:13 obstacles[0].colour: 'teal' is not a colour")


def test_all_errors_at_once_sorted_by_line(tmp_path):
    text = GOOD.replace("aisles: 2", "aisles: 0").replace("height_m: 0.2", "height_m: 9").replace("difficulty: gentle", "difficulty: easy")
    errors = errors_of(write(tmp_path, text))
    assert len(errors) == 3
    lines = [int(e.split(":")[1]) for e in errors]
    assert lines == sorted(lines) == [3, 6, 11]


def test_yaml_syntax_error_has_position(tmp_path):
    path = write(tmp_path, GOOD.replace("  aisles: 2", "  aisles: [2"))
    error = only_error(path)
    assert error.startswith(f"{path}:")
    assert "YAML syntax" in error
    line = int(error.split(":")[1])
    assert 6 <= line <= 8


def test_tags_never_construct_objects(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, GOOD.replace("title: Test", f"title: !!python/object/apply:os.system ['touch {marker}']"))
    errors = errors_of(path)
    assert any(e.startswith(f"{path}:2:8 title: YAML tag") and "not allowed" in e for e in errors), errors
    assert not marker.exists()


def test_merge_keys_are_refused(tmp_path):
    path = write(tmp_path, "x: &a {id: a}\n<<: *a\n" + GOOD)
    assert any("merge keys" in e for e in errors_of(path))


def test_oversized_file_refused_before_parsing(tmp_path, monkeypatch):
    import engine.scene.loader as loader

    path = tmp_path / "big.yaml"
    path.write_text(GOOD + "#" * (MAX_FILE_BYTES + 10) + "\n")

    def parse_called(*_args, **_kwargs):
        raise AssertionError("an oversized file reached the YAML parser")

    # It must not even parse (checked by what is called, not by CPU time: that failed on a busy host).
    monkeypatch.setattr(loader, "parse", parse_called)
    error = only_error(path)
    assert error.startswith(f"{path}:1:1 <root>: file is") and "limited to" in error


def test_alias_bomb_refused(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for k in range(1, 10):
        prev = f"*a{k - 1}"
        lines.append(f"a{k}: &a{k} [{', '.join([prev] * 10)}]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    # 10**10 values if expanded: refused by the expansion count (its message), never expanded
    # (that would not end within the test's timeout). No CPU-time bound: a busy host varies it.
    error = only_error(path)
    assert "aliases expand to more than" in error and "refused" in error
    assert error.startswith(f"{path}:")


def test_deep_nesting_refused(tmp_path):
    path = write(tmp_path, "id: " + "[" * 500 + "]" * 500 + "\n")
    error = only_error(path)
    assert error.startswith(f"{path}:1:") and "nesting deeper than" in error


def test_absurd_counts_refused(tmp_path):
    path = write(tmp_path, "values: [" + ", ".join(["1"] * 60000) + "]\n")
    assert "more than" in only_error(path)
    many = GOOD + "".join(f"  - {{kind: box, at_m: {i % 90}}}\n" for i in range(200))
    error = only_error(write(tmp_path, many, "many.yaml"))
    assert error.startswith(f"{tmp_path / 'many.yaml'}:9:3 obstacles:") and "has 201 entries; at most 128 allowed" in error


def test_two_documents_refused(tmp_path):
    path = write(tmp_path, GOOD + "---\nid: other\n")
    assert only_error(path).startswith(f"{path}:12:1 <root>: only one YAML document")


def test_empty_and_non_mapping_files(tmp_path):
    assert "empty" in only_error(write(tmp_path, "", "empty.yaml"))
    assert "mapping" in only_error(write(tmp_path, "- a\n- b\n", "list.yaml"))


def test_binary_file_refused(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"id: x\ntitle: \xff\xfe\n")
    assert only_error(path) == f"{path}:2:8 <root>: file is not UTF-8 text"


def test_missing_file(tmp_path):
    assert only_error(tmp_path / "nope.yaml").endswith("<root>: file not found (or a link to nothing)")


def test_asset_path_leaving_assets_is_refused(tmp_path):
    path = write(tmp_path, GOOD + "props:\n  - model: ../secrets/key.bam\n    at_m: 3\n")
    assert only_error(path) == f"{path}:13:12 props[0].model: path leaves assets/ (refused)"
    path = write(tmp_path, GOOD + "audio:\n  ambience: /etc/passwd.wav\n", "abs.yaml")
    assert "not absolute" in only_error(path)


def test_missing_asset_is_reported(tmp_path):
    path = write(tmp_path, GOOD + "props:\n  - model: models/none-such.bam\n    at_m: 3\n")
    assert only_error(path) == f"{path}:13:12 props[0].model: asset 'models/none-such.bam' not found under assets/"


def test_cross_field_problems_point_at_their_keys(tmp_path):
    text = GOOD.replace("at_m: 10", "at_m: 99.9") + "tasks:\n  crossings:\n    - light: main\n"
    errors = errors_of(write(tmp_path, text))
    path = tmp_path / "scene.yaml"
    assert errors == [
        f"{path}:10:11 obstacles[0].at_m: ends at 100.2 m, beyond route_length_m (100)",
        f"{path}:14:14 tasks.crossings[0].light: no traffic_light with id 'main' (the scene has no traffic_light with an id)",
    ]


def test_traffic_light_red_must_fit_the_cycle(tmp_path):
    text = GOOD.replace("kind: box", "kind: traffic_light").replace("    height_m: 0.2\n", "    red_s: 50\n    cycle_s: 40\n")
    path = write(tmp_path, text)
    assert only_error(path) == f"{path}:9:5 obstacles[0]: red_s (50) must be shorter than cycle_s (40)"


def test_errors_in_a_base_name_the_base_file(tmp_path):
    base = write(tmp_path, GOOD.replace("id: test-scene", "id: base\nabstract: true").replace("aisles: 2", "aisles: 12"), "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nid: child\ntitle: Child\n", "child.yaml")
    errors = errors_of(child)
    assert errors == [f"{base}:7:11 environment.aisles: 12 is out of range; allowed 1..6"]


def test_extends_merges_and_overrides(tmp_path):
    write(tmp_path, GOOD.replace("id: test-scene", "id: base\nabstract: true"), "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nid: child\ntitle: Child\nenvironment:\n  type: grocery_store\n  lighting: dim\n", "child.yaml")
    scene = load_scene(child)
    assert scene.id == "child" and not scene.abstract
    assert scene.environment.lighting == "dim" and scene.environment.aisles == 2  # merged
    assert scene.obstacles[0].kind == "box"  # inherited
    assert scene.source_files == (child.resolve(), (tmp_path / "base.yaml").resolve())


def test_extends_switching_environment_type_replaces_it(tmp_path):
    write(tmp_path, GOOD.replace("id: test-scene", "id: base"), "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nid: child\nenvironment:\n  type: sidewalk\n", "child.yaml")
    assert load_scene(child).environment.type == "sidewalk"


def test_extends_cycle_and_missing_base(tmp_path):
    a = write(tmp_path, "extends: b.yaml\n" + GOOD, "a.yaml")
    write(tmp_path, "extends: a.yaml\n" + GOOD, "b.yaml")
    assert any("cycle" in e for e in errors_of(a))
    c = write(tmp_path, "extends: nowhere.yaml\n" + GOOD, "c.yaml")
    assert errors_of(c) == [f"{c}:1:10 extends: base scene 'nowhere.yaml' not found next to {c}"]


def test_symlink_out_of_assets_is_refused(tmp_path):
    from engine.scene.loader import ASSETS_DIR

    outside = tmp_path / "outside.egg"
    outside.write_text("<Group> x { }\n")
    link = ASSETS_DIR / f"test-link-{os.getpid()}.egg"
    try:
        link.symlink_to(outside)
        path = write(tmp_path, GOOD + f"props:\n  - model: {link.name}\n    at_m: 3\n")
        assert only_error(path) == f"{path}:13:12 props[0].model: path leaves assets/ (refused)"
    finally:
        link.unlink(missing_ok=True)
