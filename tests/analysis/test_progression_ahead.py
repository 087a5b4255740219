"""Which of two plans is ahead (demands more of the patient) over the four axes of progression:
speed, guidance floor, body-weight support and scene difficulty, each counted in the rules' own
step (docs/progression.md "Which plan is ahead"). Plans built by hand; scenes from the real library."""

from __future__ import annotations

import pytest

from engine.analysis.progression import Plan, is_ahead, scene_level, steps_ahead
from engine.scene.loader import load_library

GENTLE, MODERATE, HARD = "grocery-pharmacy-aisle", "grocery-weekday-errands", "grocery-busy-saturday"


@pytest.fixture(scope="module")
def scenes():
    return load_library().scenes


def _plan(scene=GENTLE, speed=0.8, floor=0.2, bws=0.1) -> Plan:
    return Plan(scene_id=scene, speed_mps=speed, guidance=floor + 0.1, guidance_min=floor, bws_fraction=bws)


def _old_ahead(a: Plan, b: Plan) -> bool:
    """The definition until issue 12's fourth round (bench/progression.py): faster or less guidance
    floor, behind in neither; scene and support not compared."""
    return (a.speed_mps >= b.speed_mps and a.guidance_min <= b.guidance_min
            and (a.speed_mps > b.speed_mps or a.guidance_min < b.guidance_min))


def test_the_scene_levels_are_the_scene_files_difficulty(scenes):
    assert [scene_level(s, scenes) for s in (GENTLE, MODERATE, HARD)] == [0, 1, 2]
    # the ids above really carry those levels in their files (not a list in the test)
    assert [scenes[s].difficulty for s in (GENTLE, MODERATE, HARD)] == ["gentle", "moderate", "hard"]


def test_ahead_by_the_scene_alone(scenes):
    """Same speed, floor and support one difficulty level up: ahead (the old rule said no)."""
    a, b = _plan(scene=MODERATE), _plan(scene=GENTLE)
    assert steps_ahead(a, b, scenes) == {"speed": 0.0, "guidance_floor": 0.0, "bws": 0.0, "scene": 1.0, "total": 1.0}
    assert is_ahead(a, b, scenes) is True
    assert _old_ahead(a, b) is False
    assert is_ahead(b, a, scenes) is False


def test_ahead_by_support_alone(scenes):
    a, b = _plan(bws=0.05), _plan(bws=0.10)
    assert steps_ahead(a, b, scenes)["bws"] == 1.0 and is_ahead(a, b, scenes)
    assert _old_ahead(a, b) is False


def test_behind_on_everything_is_not_ahead(scenes):
    behind, other = _plan(scene=GENTLE, speed=0.6, floor=0.4, bws=0.2), _plan(scene=HARD, speed=0.9, floor=0.1, bws=0.0)
    steps = steps_ahead(behind, other, scenes)
    assert steps == {"speed": -6.0, "guidance_floor": -3.0, "bws": -4.0, "scene": -2.0, "total": -15.0}
    assert is_ahead(behind, other, scenes) is False
    assert is_ahead(other, behind, scenes) is True


def test_ties_are_not_ahead(scenes):
    same = _plan()
    assert steps_ahead(same, _plan(), scenes)["total"] == 0.0
    assert is_ahead(same, _plan(), scenes) is False
    # two scenes of the same level tie on the scene axis
    other_gentle = next(s.id for s in scenes.values() if s.difficulty == "gentle" and s.id != GENTLE)
    assert is_ahead(_plan(scene=other_gentle), _plan(scene=GENTLE), scenes) is False
    # one step faster, one step more floor: a tie in total, not ahead either way
    a, b = _plan(speed=0.85, floor=0.3), _plan(speed=0.80, floor=0.2)
    assert steps_ahead(a, b, scenes)["total"] == 0.0
    assert not is_ahead(a, b, scenes) and not is_ahead(b, a, scenes)


def test_a_fraction_of_a_step_is_not_ahead(scenes):
    """0.02 m/s faster is less than the smallest meaningful change on any axis."""
    a, b = _plan(speed=0.82), _plan(speed=0.80)
    assert steps_ahead(a, b, scenes)["speed"] == pytest.approx(0.4)
    assert is_ahead(a, b, scenes) is False
    assert _old_ahead(a, b) is True  # the old rule called any difference ahead


def test_faster_but_behind_by_more_steps_elsewhere_is_not_ahead(scenes):
    """One speed step up, but one floor step and one support step behind: -1 in total."""
    a, b = _plan(speed=0.85, floor=0.3, bws=0.15), _plan(speed=0.80, floor=0.2, bws=0.10)
    assert steps_ahead(a, b, scenes)["total"] == -1.0
    assert is_ahead(a, b, scenes) is False


def test_the_third_rounds_end_plans(scenes):
    """The worked example of docs/progression.md: the improving patient's end plan of the third
    round's full bench (1.10 m/s on the hard scene, floor 0.10, support 0.05) against the stable
    one's (1.00 m/s on the gentle aisle, floor 0, support 0): +2 speed, +2 scene, -1 floor, -1
    support. Ahead now; not under the old rule."""
    improving = _plan(scene=HARD, speed=1.10, floor=0.10, bws=0.05)
    stable = _plan(scene=GENTLE, speed=1.00, floor=0.0, bws=0.0)
    assert steps_ahead(improving, stable, scenes) == {"speed": 2.0, "guidance_floor": -1.0, "bws": -1.0, "scene": 2.0,
                                                      "total": 2.0}
    assert is_ahead(improving, stable, scenes) is True
    assert _old_ahead(improving, stable) is False


def test_a_scene_not_in_the_library_is_an_error_naming_it(scenes):
    with pytest.raises(ValueError, match="no-such-scene"):
        steps_ahead(_plan(scene="no-such-scene"), _plan(), scenes)
