"""Property tests of the safety supervisor: nothing leaves the core outside the prescription."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.control.layout import AlarmReason, Priority
from engine.control.prescription import HARD_LIMITS, Prescription
from engine.control.supervisor import AlarmTable, Limits, Supervisor, clamp

anything = st.floats(allow_nan=True, allow_infinity=True, width=64)
fraction_like = st.one_of(anything, st.floats(-2, 3))


@st.composite
def prescriptions(draw) -> Prescription:
    def field(name):
        low, high = HARD_LIMITS[name]
        return draw(st.floats(low, high))

    g = sorted([field("guidance_min"), field("guidance_max")])
    b = sorted([field("bws_min"), field("bws_max")])
    return Prescription(
        max_speed_mps=field("max_speed_mps"), max_accel_mps2=field("max_accel_mps2"),
        max_decel_mps2=field("max_decel_mps2"), guidance_min=g[0], guidance_max=g[1],
        bws_min=b[0], bws_max=b[1], clearance_boost_max=field("clearance_boost_max"),
    )


@settings(max_examples=200, deadline=None)
@given(
    rx=prescriptions(),
    steps=st.lists(
        st.tuples(anything, st.floats(0.0, 0.2), st.booleans(), fraction_like, fraction_like, fraction_like, fraction_like),
        min_size=1, max_size=300,
    ),
)
def test_no_command_sequence_leaves_the_prescription(rx, steps):
    sup = Supervisor(Limits.from_prescription(rx))
    previous = 0.0
    for target, dt, stopping, g_frac, extra, bws_frac, boost in steps:
        v = sup.step_speed(target, dt, stopping)
        assert 0.0 <= v <= rx.max_speed_mps
        dt_used = min(max(dt, 0.0), 0.1)
        assert v - previous <= rx.max_accel_mps2 * dt_used + 1e-12
        assert previous - v <= rx.max_decel_mps2 * dt_used + 1e-12
        if stopping:
            assert v <= previous
        previous = v
        g = sup.guidance(g_frac, extra)
        assert rx.guidance_min <= g <= rx.guidance_max
        b = sup.bws(bws_frac)
        assert rx.bws_min <= b <= rx.bws_max
        assert 0.0 <= sup.boost(boost) <= rx.clearance_boost_max


@settings(max_examples=100, deadline=None)
@given(rx=prescriptions(), targets=st.lists(anything, min_size=1, max_size=50))
def test_without_a_valid_prescription_nothing_moves(rx, targets):
    sup = Supervisor()  # no prescription yet
    for target in targets:
        assert sup.step_speed(target, 0.001) == 0.0
    assert sup.set_limits(Limits.from_prescription(rx))


def test_prescription_change_refused_while_the_belt_runs():
    sup = Supervisor(Limits.from_prescription(Prescription(max_speed_mps=1.0)))
    for _ in range(2000):
        sup.step_speed(1.0, 0.001)
    assert sup.speed_cmd_mps > 0.5
    assert not sup.set_limits(Limits.from_prescription(Prescription(max_speed_mps=3.0)))
    assert sup.limits.max_speed_mps == 1.0


def test_clamp_sends_nan_to_the_safe_end():
    assert clamp(math.nan, 0.0, 1.0) == 0.0
    assert clamp(math.inf, 0.0, 1.0) == 1.0
    assert clamp(-math.inf, 0.2, 1.0) == 0.2


def test_alarms_stay_until_acknowledged_and_condition_gone():
    table = AlarmTable()
    assert table.raise_alarm(AlarmReason.EXO_SILENT, 1.0)
    assert not table.raise_alarm(AlarmReason.EXO_SILENT, 1.1)  # no duplicate
    assert table.highest_unacked() == Priority.HIGH
    table.clear(AlarmReason.EXO_SILENT)
    assert table.highest_unacked() == Priority.HIGH  # still shown until acknowledged
    assert table.acknowledge() == [AlarmReason.EXO_SILENT]
    assert table.highest_unacked() == 0
    assert all(slot[0] == 0 for slot in table.slots)
    # An acknowledged alarm whose condition persists stays in its slot (active, acked).
    table.raise_alarm(AlarmReason.HEART_RATE_SILENT, 2.0)
    table.acknowledge()
    assert [s[0] for s in table.slots if s[0]] == [AlarmReason.HEART_RATE_SILENT]
    assert table.highest_unacked() == 0


def test_alarm_table_never_overflows():
    table = AlarmTable()
    for i, reason in enumerate(list(AlarmReason)[1:] * 3):
        table.raise_alarm(reason, float(i))
    assert len(table.slots) == 16
    assert table.highest_unacked() == Priority.HIGH
