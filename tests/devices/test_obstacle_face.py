"""The toe's height where it reaches an obstacle's near face, interpolated between the samples
around that instant (devices/obstacle_face.py: the one definition the core and the truth share)."""

from __future__ import annotations

import math

import pytest

from devices.obstacle_face import toe_height_at_face_m


def test_the_toe_height_is_interpolated_to_the_instant_it_reaches_the_face():
    # the toe from 2 cm before the face to 2 cm past it, rising 9.5 -> 11.5 cm: half way, 10.5 cm
    assert toe_height_at_face_m(5.98, 0.095, 6.02, 0.115, 6.0) == pytest.approx(0.105)
    # a sample exactly at the face is the face's height
    assert toe_height_at_face_m(5.98, 0.095, 6.0, 0.115, 6.0) == pytest.approx(0.115)


def test_no_height_when_the_toe_did_not_reach_the_face_between_the_two_samples():
    assert math.isnan(toe_height_at_face_m(5.90, 0.1, 5.95, 0.1, 6.0))  # still before it
    assert math.isnan(toe_height_at_face_m(6.0, 0.1, 6.05, 0.1, 6.0))  # already there before
    assert math.isnan(toe_height_at_face_m(math.nan, math.nan, 6.05, 0.1, 6.0))  # no sample before
