"""CommandWriter: the UI side of the command block."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.control import layout
from engine.control.commands import CommandWriter, SettingError
from engine.control.prescription import Prescription
from engine.control.shm import SeqLockBlock
from tests.control.helpers import timeline_rows


@pytest.fixture
def writer():
    block = SeqLockBlock.create(layout.COMMAND_DTYPE, "test-command")
    try:
        yield CommandWriter(block)
    finally:
        block.close()


def test_settings_are_clamped_and_reported(writer):
    audit = writer.set_settings(speed_fraction=1.7, guidance=-0.2, bws_fraction=math.inf)
    assert audit == {"speed_fraction": (1.7, 1.0), "guidance": (-0.2, 0.0), "bws_fraction": (math.inf, 1.0)}
    data = writer.block.read()
    assert data["speed_fraction"] == 1.0 and data["guidance"] == 0.0 and data["bws_fraction"] == 1.0


@pytest.mark.parametrize("bad", ["fast", None.__class__, [0.5], math.nan, float("nan")])
def test_non_numbers_raise_a_setting_error_naming_the_field(writer, bad):
    before = writer.block.sequence
    with pytest.raises(SettingError, match="speed_fraction"):
        writer.set_settings(speed_fraction=bad)
    assert writer.block.sequence == before  # nothing written


def test_guidance_bounds_stay_ordered(writer):
    writer.set_settings(guidance_min=0.2, guidance_max=0.6)
    audit = writer.set_settings(guidance_min=0.9)
    assert audit["guidance_min"] == (0.9, 0.9)
    assert audit["guidance_max"] == (pytest.approx(0.6), 0.9)  # moved to meet the new minimum
    data = writer.block.read()
    assert data["guidance_min"] <= data["guidance_max"]


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["speed_fraction", "guidance", "guidance_min", "guidance_max", "bws_fraction",
                     "assist_as_needed", "guidance_locked"]),
    st.floats(allow_nan=False, allow_infinity=True), min_size=1))
def test_any_numeric_setting_lands_in_range(fields):
    block = SeqLockBlock.create(layout.COMMAND_DTYPE, "test-command-prop")
    try:
        audit = CommandWriter(block).set_settings(**fields)
        for name, (_, applied) in audit.items():
            assert 0.0 <= applied <= 1.0
            assert float(block.data[name]) == pytest.approx(applied)
    finally:
        block.close()


def test_run_requests_bump_the_counter(writer):
    for method, state in ((writer.start, layout.RunState.RUNNING), (writer.pause, layout.RunState.PAUSED),
                          (writer.resume, layout.RunState.RUNNING), (writer.stop, layout.RunState.STOPPING)):
        before = int(writer.block.data["request_counter"])
        method()
        assert int(writer.block.data["request_counter"]) == before + 1
        assert writer.block.data["run_request"] == state
    writer.rearm()
    writer.ack_alarms()
    writer.heartbeat()
    data = writer.block.read()
    assert data["rearm_counter"] == 1 and data["ack_counter"] == 1 and data["ui_heartbeat"] == 1


def test_prescription_goals_and_timeline(writer):
    writer.set_prescription(Prescription(max_speed_mps=0.9, leg_length_r_m=0.85, affected_side=1))
    writer.set_goals(steps=100, distance_m=-5, time_s=300)
    rows = timeline_rows(dict(category=1, at_m=10.0, trigger_m=8.0, duration_s=4.0),
                         dict(category=0, at_m=20.0, height_m=0.1, depth_m=0.3))
    writer.load_timeline(rows, route_length_m=120.0, base_speed_fraction=0.8)
    data = writer.block.read()
    assert data["rx_max_speed_mps"] == pytest.approx(0.9)
    assert data["affected_side"] == 1
    assert data["goal_steps"] == 100 and data["goal_distance_m"] == 0.0 and data["goal_time_s"] == 300
    assert data["scene_generation"] == 1 and data["obstacle_count"] == 2
    assert data["timeline"][1]["height_m"] == pytest.approx(0.1)
    assert np.all(data["timeline"][2:]["at_m"] == 0)
    with pytest.raises(ValueError, match="at most"):
        writer.load_timeline(np.zeros(layout.MAX_OBSTACLES + 1, layout.TIMELINE_DTYPE), 10.0, 1.0)
    bad = rows.copy()
    bad[0]["at_m"] = np.inf
    with pytest.raises(ValueError, match="at_m"):
        writer.load_timeline(bad, 10.0, 1.0)
    with pytest.raises(SettingError, match="goal_steps"):
        writer.set_goals(steps="many")
