"""Therapist inputs out of range, NaN, huge, negative: clamped or refused with a message, through
the real command path (SessionController -> CommandWriter -> command block -> control core
process), property-tested with hypothesis against one running core."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.control.commands import SettingError
from engine.control.layout import EventKind, RunState, SettingId
from engine.control.prescription import HARD_LIMITS, Prescription, PrescriptionError
from tests.faults.harness import Stack

pytestmark = pytest.mark.timeout(240)

FRACTIONS = {"speed_fraction": SettingId.SPEED_FRACTION, "guidance": SettingId.GUIDANCE,
             "guidance_min": SettingId.GUIDANCE_MIN, "guidance_max": SettingId.GUIDANCE_MAX,
             "bws_fraction": SettingId.BWS_FRACTION}
SWITCHES = {"assist_as_needed": SettingId.ASSIST_AS_NEEDED, "guidance_locked": SettingId.GUIDANCE_LOCKED}
SILLY = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-1.0, -1e-9, 0.0, 1.0, 1.0000001, 2.0, 1e6, 1e300, -1e300, math.inf, -math.inf, math.nan]),
    st.integers(min_value=-10**12, max_value=10**12),
)
NOT_NUMBERS = st.one_of(st.text(max_size=5), st.none().map(lambda _: [1.0]), st.just("0.5"), st.just(object()))


class Inputs:
    """A core + rig (no recorder: this test drains the event ring itself)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.events: list[np.ndarray] = []
        self.tested = 0
        self.refused = 0
        self.clamped = 0

    def applied_event(self, sid: int, timeout_s: float = 3.0) -> np.ndarray:
        """The core's next SETTING_APPLIED event for this setting."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            events = self.stack.channels.events.drain()
            hits = events[(events["kind"] == EventKind.SETTING_APPLIED) & (events["code"] == int(sid))]
            if len(hits):
                return hits[-1]
            time.sleep(0.005)
        raise TimeoutError(f"no SETTING_APPLIED for {SettingId(sid).name}")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("inputs") / "records.db", recorder=False)
    try:
        yield Inputs(stack)
    finally:
        stack.close()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(FRACTIONS) + sorted(SWITCHES)), value=SILLY)
def test_live_settings_are_clamped_or_refused_and_the_core_agrees(inputs, reliability, name, value):
    reliability.record("live settings: NaN, inf, huge, negative (hypothesis, real core)",
                       "clamped to 0..1 of the prescription or refused naming the field", None, None, None,
                       f"{inputs.tested + 1} examples through SessionController -> core; applied always within 0..1")
    s = inputs.stack
    before = s.channels.command.read().copy()
    inputs.tested += 1
    if isinstance(value, float) and math.isnan(value):
        with pytest.raises(SettingError, match=name):
            s.controller.change_settings(**{name: value})
        assert s.channels.command.read()[name] == before[name] or (
            math.isnan(before[name]) and math.isnan(s.channels.command.read()[name]))
        inputs.refused += 1
        return
    result = s.controller.change_settings(**{name: value})
    requested, applied = result[name]
    if name in FRACTIONS:
        # guidance and body-weight support are absolute and held to the prescription's range;
        # the other fractions to 0..1
        low, high = s.controller.setting_range(name)
        assert 0.0 <= low <= applied <= high <= 1.0
        assert applied == pytest.approx(min(high, max(low, min(1.0, max(0.0, float(value))))), abs=1e-6)
        inputs.clamped += applied != float(value)
    else:
        assert applied in (0.0, 1.0)
    sid = FRACTIONS.get(name) or SWITCHES[name]
    if s.channels.command.read()[name] == before[name]:
        return  # the same value again: the core sees no change and applies nothing new
    event = inputs.applied_event(sid)
    # The core clamps again on its own; it never applies anything outside 0..1.
    assert 0.0 <= float(event["v2"]) <= 1.0
    assert math.isfinite(float(event["v2"]))
    low, high = sorted((float(s.channels.command.read()["guidance_min"]), float(s.channels.command.read()["guidance_max"])))
    assert low <= high


@given(value=NOT_NUMBERS)
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_non_numbers_are_refused_with_the_field_named(inputs, reliability, value):
    with pytest.raises(SettingError, match="speed_fraction"):
        inputs.stack.controller.change_settings(speed_fraction=value)
    reliability.record("settings that are not numbers (text, lists, objects)", "refused naming the field",
                       note="SettingError before anything is written")


@given(field=st.sampled_from(sorted(HARD_LIMITS)), value=SILLY)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_prescriptions_outside_the_hard_limits_are_refused_naming_the_field(reliability, field, value):
    reliability.record("prescription fields: NaN, inf, huge, negative (hypothesis)", "refused naming the field",
                       note="PrescriptionError names the field; the core re-checks what it receives")
    low, high = HARD_LIMITS[field]
    fine = isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high
    if fine:
        try:
            Prescription(**{field: value})
        except PrescriptionError as exc:
            # only the min <= max pairs may refuse a fine value, and the heart-rate limit below
            # its floor (0 means no limit; a real limit is at least 60 bpm)
            pair = field.endswith(("_min", "_max")) and ("guidance" in field or "bws" in field)
            assert pair or (field == "max_heart_rate_bpm" and 0 < value < 60), exc
    else:
        with pytest.raises(PrescriptionError, match=field):
            Prescription(**{field: value})


@given(steps=SILLY, distance=SILLY, time_s=SILLY)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_goals_negative_or_huge_are_clamped_nan_refused(inputs, reliability, steps, distance, time_s):
    reliability.record("goals: NaN, inf, huge, negative (hypothesis)", "clamped to 0..cap or refused",
                       note="steps <= 100000, distance <= 100 km, time <= 24 h")
    s = inputs.stack
    values = {"steps": steps, "distance_m": distance, "time_s": time_s}
    if any(isinstance(v, float) and math.isnan(v) for v in values.values()):
        with pytest.raises(SettingError):
            s.controller.set_goals(**values)
        return
    s.controller.set_goals(**values)
    block = s.channels.command.read()
    assert 0 <= int(block["goal_steps"]) <= 100_000
    assert 0.0 <= float(block["goal_distance_m"]) <= 100_000.0
    assert 0.0 <= float(block["goal_time_s"]) <= 86_400.0


def test_a_raw_prescription_beyond_the_hard_limits_is_refused_by_the_core(inputs, reliability):
    """Even a command block written around the UI's checks cannot raise the core's limits."""
    s = inputs.stack
    s.wait_for(lambda st_: st_["run_state"] == RunState.IDLE, 5.0)
    s.writer._write(rx_max_speed_mps=50.0)  # what a corrupted or hostile UI could write
    event = inputs.applied_event(SettingId.PRESCRIPTION)
    assert float(event["v2"]) == 0.0  # refused
    s.writer.set_prescription(s.rx)
    inputs.applied_event(SettingId.PRESCRIPTION)
    # And walking with a huge speed setting stays within the prescription.
    s.controller.change_settings(speed_fraction=1e300)
    s.controller.start()
    s.wait_for(lambda st_: st_["run_state"] == RunState.RUNNING, 5.0)
    top = 0.0
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        state = s.state()
        top = max(top, float(state["belt_speed_cmd_mps"]), float(state["belt_speed_mps"]))
        time.sleep(0.01)
    assert top <= s.rx.max_speed_mps + 0.02, top
    s.controller.stop()
    s.wait_for(lambda st_: st_["run_state"] in (RunState.IDLE, RunState.STOPPED), 6.0)
    reliability.record("therapist inputs: NaN, inf, huge, negative, non-numbers", "clamped to the prescription or refused naming the field",
                       None, None, None,
                       f"{inputs.tested} settings through the real core ({inputs.refused} refused, {inputs.clamped} clamped); "
                       f"raw 50 m/s prescription refused by the core; belt peak {top:.2f} m/s <= {s.rx.max_speed_mps} m/s")

