"""Hostile and odd scene files: each refused cleanly, positioned, and never echoing a secret.

`extends` is confined to the scene's folder and scenes/ (as assets are to assets/); files that
are not regular files get a message saying what they are; numbers YAML 1.1 leaves as text are
numbers; nothing from a file that is not a scene appears in an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.scene.loader import load_library, load_scene
from tests.scene.helpers import errors_of, write

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
id: hostile-test
title: Hostile
difficulty: gentle
environment: {type: grocery_store}
"""
SECRET = "s3cr3t-t0ken-ABC"


# ---- extends confinement --------------------------------------------------------------------

def test_extends_absolute_path_is_refused_without_reading_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = write(outside, f"id: leaked\ntoken: {SECRET}\n", "creds.yaml")
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    path = write(scenes, f"extends: {secret}\n" + HEAD, "a.yaml")
    errors = errors_of(path)
    assert errors == [f"{path}:1:10 extends: an absolute path is refused; name a base file in this scene's folder, "
                      "e.g. base-grocery.yaml"]


def test_extends_dotdot_and_symlink_out_are_refused(tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    write(tmp_path, f"id: x\ntoken: {SECRET}\n", "creds.yaml")
    dotdot = write(scenes, "extends: ../creds.yaml\n" + HEAD, "a.yaml")
    assert "a path with '..' is refused" in errors_of(dotdot)[0]
    (scenes / "link.yaml").symlink_to(tmp_path / "creds.yaml")
    linked = write(scenes, "extends: link.yaml\n" + HEAD, "b.yaml")
    errors = errors_of(linked)
    assert errors == [f"{linked}:1:10 extends: the base scene resolves outside the scenes folders (a link out of them?); refused"]
    assert not any(SECRET in e for e in errors)


def test_extends_of_a_non_scene_file_shows_none_of_its_keys_or_values(tmp_path):
    write(tmp_path, f"password: {SECRET}\ndatabase_url: postgres://admin:hunter2@db/clinic\n", "settings.yaml")
    path = write(tmp_path, "extends: settings.yaml\n" + HEAD, "a.yaml")
    errors = errors_of(path)
    text = "\n".join(errors)
    for leak in (SECRET, "password", "hunter2", "database_url", "postgres"):
        assert leak not in text
    assert any("not a scene file" in e for e in errors)
    assert f"{path}:1:10 extends: the base scene cannot be used" in errors


def test_extends_proc_status_via_link_is_refused_and_lists_no_keys(tmp_path):
    (tmp_path / "status.yaml").symlink_to("/proc/self/status")
    path = write(tmp_path, "extends: status.yaml\n" + HEAD, "a.yaml")
    text = "\n".join(errors_of(path))
    assert "outside the scenes folders" in text and "VmRSS" not in text and "Pid" not in text


def test_validate_a_proc_file_directly_lists_no_keys(tmp_path):
    text = "\n".join(errors_of(Path("/proc/self/status")))
    assert "not a scene file" in text and "VmRSS" not in text and "Uid" not in text


@pytest.mark.parametrize("maker, kind", [
    (lambda p: p.mkdir(), "a directory"),
    (lambda p: os.mkfifo(p), "a FIFO"),
    (lambda p: p.symlink_to("/dev/zero"), "a character device"),
])
def test_non_regular_files_say_what_they_are(tmp_path, maker, kind):
    target = tmp_path / "thing.yaml"
    maker(target)
    error = errors_of(target)[0]  # must not block on the FIFO or read /dev/zero forever
    assert error == f"{target}:1:1 <root>: not a regular file but {kind}; a scene is a .yaml text file"
    if kind != "a character device":  # a link to /dev/zero leaves the folder: that is said first
        base_user = write(tmp_path, "extends: thing.yaml\n" + HEAD, "user.yaml")
        assert errors_of(base_user) == [f"{base_user}:1:10 extends: base scene 'thing.yaml' is not a regular file but {kind}"]


def test_missing_base_gives_one_error_not_missing_keys(tmp_path):
    path = write(tmp_path, "extends: nowhere.yaml\nid: only-an-id\n", "a.yaml")
    assert errors_of(path) == [f"{path}:1:10 extends: base scene 'nowhere.yaml' not found next to {path}"]


def test_extends_must_name_a_yaml_file(tmp_path):
    write(tmp_path, HEAD, "notes.txt")
    path = write(tmp_path, "extends: notes.txt\n" + HEAD, "a.yaml")
    assert "must name a .yaml scene file" in errors_of(path)[0]


def test_extends_chain_depth_and_cycles(tmp_path):
    for i in range(7):
        write(tmp_path, f"extends: b{i + 1}.yaml\nabstract: true\n", f"b{i}.yaml")
    write(tmp_path, HEAD + "abstract: true\n", "b7.yaml")
    path = write(tmp_path, "extends: b0.yaml\nid: top-scene\n", "top.yaml")
    assert any("more than 5 levels of extends" in e for e in errors_of(path))
    write(tmp_path, "extends: y.yaml\n" + HEAD, "x.yaml")
    y = write(tmp_path, "extends: x.yaml\n" + HEAD, "y.yaml")
    assert any("cycle" in e for e in errors_of(y))


def test_library_refuses_a_link_out_of_its_folder(tmp_path):
    outside = write(tmp_path, HEAD, "elsewhere.yaml")
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "linked.yaml").symlink_to(outside)
    library = load_library(folder)
    assert not library.scenes
    assert "resolves outside its scenes folder" in library.broken[str(folder / "linked.yaml")][0]


# ---- numbers ---------------------------------------------------------------------------------

def test_exponent_numbers_are_numbers(tmp_path):
    path = write(tmp_path, HEAD + "route_length_m: 1.5e2\nbase_speed_fraction: 5e-1\n", "a.yaml")
    scene = load_scene(path)
    assert scene.route_length_m == 150.0 and scene.base_speed_fraction == 0.5
    small = write(tmp_path, HEAD + "route_length_m: 1e-1\n", "b.yaml")
    assert errors_of(small) == [f"{small}:5:17 route_length_m: 0.1 is out of range; allowed 10..5000"]
    quoted = write(tmp_path, HEAD + 'route_length_m: "1e2"\n', "c.yaml")
    assert "expected a number" in errors_of(quoted)[0]  # quoted text stays text


def test_overflowing_numbers_are_out_of_range_once(tmp_path):
    path = write(tmp_path, HEAD + "route_length_m: 1e309\nseed: 99999999999999999999999999999999999999999999\n", "a.yaml")
    errors = errors_of(path)
    assert errors[0] == f"{path}:5:17 route_length_m: 1e309 is out of range (too large in size for any scene value; it reads as infinity)"
    assert errors[1].startswith(f"{path}:6:7 seed: a number of 44 characters is out of range")
    assert len(errors) == 2


def test_nan_and_inf_literals_are_refused(tmp_path):
    path = write(tmp_path, HEAD + "route_length_m: .nan\nbase_speed_fraction: .inf\n", "a.yaml")
    errors = errors_of(path)
    assert errors[0] == f"{path}:5:17 route_length_m: nan is not allowed; use a finite number (10..5000)"
    assert "base_speed_fraction" in errors[1] and "finite" in errors[1]


def test_seed_range_prints_whole_numbers(tmp_path):
    path = write(tmp_path, HEAD + "seed: 3000000000\n", "a.yaml")
    assert errors_of(path) == [f"{path}:5:7 seed: 3000000000 is out of range; allowed 0..2147483647"]


@pytest.mark.parametrize("literal", ["1_000", "1:30", "0b1010", "1_000.5", "1:30.5"])
def test_yaml_1_1_number_forms_are_text_not_a_surprise_number(tmp_path, literal):
    # YAML 1.1 reads 1:30 as 90 and 1_000 as 1000: a designer's "1:30" must not become 90 m
    path = write(tmp_path, HEAD + f"route_length_m: {literal}\n", "a.yaml")
    assert errors_of(path) == [f"{path}:5:17 route_length_m: expected a number (10..5000), got '{literal}'"]


def test_yaml_1_2_integers(tmp_path):
    # 0100 is a hundred (YAML 1.1: sixty-four), 0o17 fifteen, 0x1e thirty
    path = write(tmp_path, HEAD + "route_length_m: 0100\nseed: 0o17\nobstacles:\n  - {kind: box, at_m: 0x1e}\n", "a.yaml")
    scene = load_scene(path)
    assert scene.route_length_m == 100 and scene.seed == 15 and scene.obstacles[0].at_m == 30


def test_yaml_1_1_booleans_are_text(tmp_path):
    path = write(tmp_path, HEAD.replace("difficulty: gentle", "difficulty: yes") + "route_length_m: 50\n", "a.yaml")
    assert errors_of(path) == [f"{path}:3:13 difficulty: 'yes' is not allowed; use one of 'gentle', 'moderate' or 'hard'"]


@pytest.mark.parametrize("key, kind", [("1", "a number (1)"), ("1.5", "a number (1.5)"), ("true", "true/false (True)"),
                                       ("~", "empty")])
def test_keys_that_are_not_text_are_positioned(tmp_path, key, kind):
    path = write(tmp_path, HEAD + "route_length_m: 50\n" + f"{key}: {SECRET}\n", "a.yaml")
    errors = errors_of(path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}:6:1 <root>: a mapping key must be text; this one is {kind}")
    assert SECRET not in errors[0]


# ---- wording ---------------------------------------------------------------------------------

def test_missing_kind_lists_the_kinds(tmp_path):
    path = write(tmp_path, HEAD + "obstacles:\n  - {at_m: 5}\n", "a.yaml")
    error = errors_of(path)[0]
    assert error.startswith(f"{path}:6:5 obstacles[0].kind: missing required key; one of: curb_up, curb_down,")
    assert "traffic_light" in error and "person_stopping" in error


def test_no_raw_pydantic_wording(tmp_path):
    cases = [
        HEAD.replace("environment: {type: grocery_store}", "environment: grocery_store"),
        HEAD.replace("title: Hostile", "title: " + "x" * 300),
        HEAD + "tasks: 5\n",
        HEAD + "obstacles: {a: 1}\n",
        HEAD + "goals: {steps: 1.5}\n",
        HEAD + "audio: {cue_tone: 3}\n",
    ]
    for k, text in enumerate(cases):
        for error in errors_of(write(tmp_path, text, f"c{k}.yaml")):
            assert "Input should" not in error and "String should" not in error and "valid dictionary" not in error, error


# ---- hostile content ---------------------------------------------------------------------------

def test_billion_laughs_is_refused(tmp_path):
    lol = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcde", "bcdef", strict=True):
        lol.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    path = write(tmp_path, "\n".join(lol) + "\n", "a.yaml")
    assert "alias bomb" in errors_of(path)[0]


def test_deep_nesting_is_refused(tmp_path):
    path = write(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n", "a.yaml")
    assert len(errors_of(path)) == 1


@pytest.mark.parametrize("title, code", [("T\u202eevil", "U+202E"), ("zero\u200bwidth", "U+200B"), ("bell\x07", "U+0007")])
def test_invisible_and_control_characters_in_text_are_refused(tmp_path, title, code):
    escaped = title.encode("unicode_escape").decode("ascii")
    path = write(tmp_path, HEAD.replace("title: Hostile", f'title: "{escaped}"'), "a.yaml")
    error = errors_of(path)[0]
    assert f"title: contains an invisible or control character ({code})" in error
    assert title not in error  # the raw character never reaches a terminal or the menu


def test_lookalike_and_newline_ids_are_refused(tmp_path):
    cyrillic = write(tmp_path, HEAD.replace("id: hostile-test", 'id: "host\\u0456le"'), "a.yaml")
    assert "id: 'hostіle' has the wrong form" in errors_of(cyrillic)[0]
    newline = write(tmp_path, HEAD.replace("id: hostile-test", 'id: "hostile\\n"'), "b.yaml")
    assert "has the wrong form" in errors_of(newline)[0]


def test_long_keys_and_values_are_cut_in_errors(tmp_path):
    path = write(tmp_path, HEAD + "k" * 900 + ": 1\nroute_length_m: " + "'" + "x" * 5000 + "'\n", "a.yaml")
    errors = errors_of(path)
    assert all(len(e) < 400 for e in errors)
    assert any("unknown key" in e for e in errors)


def test_binary_junk_and_tabs(tmp_path):
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)) * 8)
    assert len(errors_of(junk)) == 1
    tabs = write(tmp_path, "id: x\ntitle: T\n\tdifficulty: gentle\n", "tabs.yaml")
    assert "YAML indents with spaces only" in errors_of(tabs)[0]
    control = tmp_path / "ctl.yaml"
    control.write_text(HEAD + "description: a\x01b\n")
    assert errors_of(control) == [f"{control}:5:15 <root>: character U+0001 is not allowed in a scene file (control character)"]


def test_validate_cli_on_hostile_folder_never_hangs_or_crashes(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    os.mkfifo(folder / "pipe.yaml")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    write(folder, f"api_key: {SECRET}\n", "secret.yaml")
    write(folder, "extends: /etc/passwd\n" + HEAD, "bad.yaml")
    result = subprocess.run([sys.executable, "main.py", "validate", str(folder)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert SECRET not in result.stdout and "api_key" not in result.stdout
    assert "0 of 4 scene files valid" in result.stdout


def test_unquoted_hex_colour_is_explained(tmp_path):
    path = write(tmp_path, HEAD + "obstacles:\n  - kind: box\n    at_m: 10\n    colour: #ff8800\n", "a.yaml")
    error = errors_of(path)[0]
    assert error.startswith(f"{path}:8:12 obstacles[0].colour: an unquoted #rrggbb starts a YAML comment")
    assert load_scene(write(tmp_path, HEAD + "obstacles:\n  - {kind: box, at_m: 10, colour: '#ff8800'}\n", "b.yaml"))


def test_mappings_and_lists_are_described_not_echoed(tmp_path):
    path = write(tmp_path, HEAD.replace("title: Hostile", f"title: {{password: {SECRET}}}")
                 + "obstacles:\n  - [1, 2]\n  - {kind: [box], at_m: 3}\n", "a.yaml")
    errors = errors_of(path)
    assert not any(SECRET in e for e in errors)
    assert f"{path}:2:8 title: expected text, got a mapping of 1 key" in errors
    assert any("obstacles[0]: expected a mapping of keys, got a list of 2 items" in e for e in errors)
    assert any("obstacles[1].kind: kind must be text, got a list of 1 item" in e for e in errors)


def test_description_may_hold_tabs_and_newlines_but_title_may_not(tmp_path):
    scene = load_scene(write(tmp_path, HEAD + 'description: "line one\\n\\tindented"\n', "a.yaml"))
    assert scene.description == "line one\n\tindented"
    assert "U+0009" in errors_of(write(tmp_path, HEAD.replace("title: Hostile", 'title: "a\\tb"'), "b.yaml"))[0]


def test_null_and_booleans_are_named_as_the_file_spells_them(tmp_path):
    path = write(tmp_path, "id: t-null\ntitle: T\ndifficulty: gentle\nenvironment: {type: sidewalk}\n"
                           "obstacles:\n  - {kind: null, at_m: 3}\nseed: true\n")
    errors = errors_of(path)
    assert any("obstacles[0].kind: kind must be text, got null (an empty value) (one of: curb_up" in e for e in errors)
    assert f"{path}:7:7 seed: expected a whole number (0..2147483647), got true" in errors


def test_a_key_of_another_kind_says_whose_key_it_is(tmp_path):
    path = write(tmp_path, "id: t-keys\ntitle: T\ndifficulty: gentle\nenvironment: {type: sidewalk, aisles: 3}\n"
                           "obstacles:\n  - {kind: box, at_m: 5, count: 3}\n")
    errors = errors_of(path)
    assert f"{path}:4:31 environment.aisles: unknown key; 'aisles' is a key of a grocery_store environment, not of a sidewalk" in errors
    assert f"{path}:6:26 obstacles[0].count: unknown key; 'count' is a key of kind spilled_items, not of box" in errors
