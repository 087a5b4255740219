"""Generated and mutated YAML never raises anything but SceneError (or loads a valid Scene)."""

from __future__ import annotations

import random
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.scene.loader import SceneError, load_scene
from engine.scene.model import Scene
from tests.scene.helpers import POSITIONED

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenes").glob("*.yaml"))
KEYS = ["id", "title", "difficulty", "environment", "type", "kind", "obstacles", "at_m", "height_m",
        "tasks", "shopping_list", "items", "crossings", "light", "extends", "route_length_m", "goals",
        "steps", "props", "model", "audio", "ambience", "<<", "colour", "depth_m", "red_s", "cycle_s",
        "fixtures", "side", "lateral_m", "category", "width_m", "trigger_before_m", "dual_task", "start_m"]
VALUES = ["grocery_store", "sidewalk", "box", "traffic_light", "gentle", "../x.bam", "red", "x.yaml", "bus_stop",
          "1e309", "1e-1", "/etc/passwd", "curb_down", "pharmacy_shelf", "\u202e", "#ff0000"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(VALUES),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=10), st.integers(-5, 5))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=6), st.dictionaries(keys, children, max_size=8)),
    max_leaves=40,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check(path: Path) -> None:
    try:
        scene = load_scene(path)
    except SceneError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
        for error in exc.errors:  # one positioned, bounded line in our words, whatever came in
            assert POSITIONED.match(error) and "\n" not in error and len(error) < 600, error
            assert "Input should" not in error and "String should" not in error, error
        for error in exc.errors:
            assert error.split(":")[1].isdigit() and error.split(":")[2].split(" ")[0].isdigit(), error
    else:
        assert isinstance(scene, Scene)


@FUZZ
@given(doc=documents)
def test_generated_structures(tmp_path, doc):
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    check(path)


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(KEYS), documents, max_size=8))
def test_generated_scene_like_mappings(tmp_path, doc):
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    check(path)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#% \n\t,?0123456789.\\@`")), max_size=300))
def test_random_text(tmp_path, text):
    path = tmp_path / "text.yaml"
    path.write_text(text)
    check(path)


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), scene_index=st.integers(0, len(SHIPPED) - 1), edits=st.integers(1, 6))
def test_mutated_shipped_scenes(tmp_path, seed, scene_index, edits):
    source = SHIPPED[scene_index]
    lines = source.read_text().splitlines()
    rng = random.Random(seed)
    for _ in range(edits):
        i = rng.randrange(len(lines))
        op = rng.randrange(6)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])  # duplicate a line elsewhere
        elif op == 2 and lines[i]:
            j = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:j] + rng.choice([":", "-", "[", "&a", "*a", "!!str", "9e99", "'", " ", "x"]) + lines[i][j + 1:]
        elif op == 3:
            lines[i] = "  " + lines[i]
        elif op == 4 and ":" in lines[i]:
            key, _, _ = lines[i].partition(":")
            value = rng.choice(["-1", "1e9", "null", "[]", "{}", "yes", ".nan", '""', "sidewalk"])
            lines[i] = f"{key}: {value}"
        else:
            lines[i] = lines[i].replace("_m", "_mm", 1)
    path = tmp_path / source.name  # keep the name so `extends` finds nothing and reports it
    path.write_text("\n".join(lines) + "\n")
    for base in ("base-grocery.yaml", "base-sidewalk.yaml"):
        if rng.random() < 0.8:
            (tmp_path / base).write_text((source.parent / base).read_text())
    check(path)
