"""Per-stance balance from insole samples (engine/control/balance.py) on physically built stances.

A stance is built as a load that rolls from heel to toe (the heel's share falls, the forefoot's
rises) with a known lateral share; expectations follow from the cell layout the protocol fixes,
not from the module's formulas.
"""

from __future__ import annotations

import math

import pytest

from engine.control.balance import (
    COLUMN_PER_WIDTH,
    FOOT_WIDTH_PER_LENGTH,
    HEEL_AT,
    TOE_AT,
    StanceBalance,
)

RATE_HZ = 200.0
STANDING_N = 700.0
LENGTH_M = 0.25


def roll(bal: StanceBalance, t0: float, stance_s: float, body_n: float, lateral_share, other_until_s: float = 0.0,
         other_from_s: float = math.inf, ml_cells: bool = True) -> float:
    """Feed one stance: full load throughout, heel-only at first and toe-only at the end; the lateral
    share a function of time in the stance. Returns the toe-off time."""
    n = int(stance_s * RATE_HZ)
    for k in range(n + 1):
        t = t0 + k / RATE_HZ
        u = k / n  # 0 heel only -> 1 toe only
        heel, toe = body_n * (1.0 - u), body_n * u
        s = lateral_share(t - t0)
        lat = (heel * s, 0.0, toe * s) if ml_cells else (math.nan,) * 3
        other = (t - t0) < other_until_s or (t - t0) > other_from_s
        bal.sample(t, True, other, heel, 0.0, toe, *lat, STANDING_N)
    t_off = t0 + (n + 1) / RATE_HZ
    bal.sample(t_off, False, True, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, STANDING_N)
    return t_off


def column_m() -> float:
    return COLUMN_PER_WIDTH * FOOT_WIDTH_PER_LENGTH * LENGTH_M


def test_roll_over_progresses_heel_to_toe_and_loads_count():
    bal = StanceBalance()
    bal.length_m = LENGTH_M
    t_off = roll(bal, 1.0, 0.6, STANDING_N, lambda t: 0.5, other_until_s=0.1, other_from_s=0.5)
    assert bal.finish(t_off)
    # heel-only to toe-only: the COP goes from the heel cells' centre to the toe cells'
    assert bal.ap_m == pytest.approx((TOE_AT - HEEL_AT) * LENGTH_M, abs=1e-3)
    # a straight path along the midline (lateral share 0.5): path = progression, no sway
    assert bal.path_m == pytest.approx(bal.ap_m, abs=1e-3)
    assert bal.ml_resolved and bal.ml_sd_m == pytest.approx(0.0, abs=1e-6)
    assert bal.peak_load == pytest.approx(1.0)
    assert bal.impulse == pytest.approx(0.6, abs=0.01)  # the standing load for 0.6 s
    assert bal.double_support_s == pytest.approx(0.2, abs=0.011)  # 0.1 s at each end
    assert bal.duration_s == pytest.approx(0.6, abs=0.011)


def test_ml_sway_of_a_sinusoid_and_a_lateral_offset():
    bal = StanceBalance()
    bal.length_m = LENGTH_M
    amp_share = 0.1  # the lateral share swings 0.6 +/- 0.1: COP (2 s - 1) x column
    t_off = roll(bal, 0.0, 1.0, STANDING_N, lambda t: 0.6 + amp_share * math.sin(2 * math.pi * 4.0 * t))
    assert bal.finish(t_off)
    amplitude_m = 2.0 * amp_share * column_m()
    assert bal.ml_sd_m == pytest.approx(amplitude_m / math.sqrt(2.0), rel=0.05)
    assert bal.ml_range_m == pytest.approx(2.0 * amplitude_m, rel=0.05)
    assert bal.path_m > bal.ap_m  # the sway lengthens the path


def test_without_lateral_cells_the_sway_is_unknown_not_zero():
    bal = StanceBalance()
    bal.length_m = LENGTH_M
    t_off = roll(bal, 0.0, 0.6, STANDING_N, lambda t: 0.5, ml_cells=False)
    assert bal.finish(t_off)
    assert not bal.ml_resolved and math.isnan(bal.ml_sd_m)
    assert bal.ap_m == pytest.approx((TOE_AT - HEEL_AT) * LENGTH_M, abs=1e-3)


def test_a_touch_too_short_or_too_light_reports_nothing():
    bal = StanceBalance()
    t_off = roll(bal, 0.0, 0.01, STANDING_N, lambda t: 0.5)  # 3 samples
    assert not bal.finish(t_off)
    bal = StanceBalance()
    t_off = roll(bal, 0.0, 0.5, 0.02 * STANDING_N, lambda t: 0.5)  # a brushing toe: below MIN_LOAD
    assert not bal.finish(t_off)
    assert not bal.finish(t_off + 1.0)  # no stance under way: nothing to finish


def push_off(bal: StanceBalance, t0: float, stance_s: float, drag_s: float, drag_load: float = 0.03,
             other=lambda t: False) -> float:
    """A stance whose load rolls heel to toe, then unloads the forefoot over its last 0.1 s (push-off)
    down to `drag_load` of the standing load (0: the foot leaves), which the toe then holds for
    `drag_s` while it drags through early swing (foot drop). Returns the time the contact ends."""
    n = int(stance_s * RATE_HZ)
    tail = int(0.1 * RATE_HZ)
    t = t0
    for k in range(n + 1):
        t = t0 + k / RATE_HZ
        u = min(1.0, k / (n - tail))
        load = STANDING_N if k <= n - tail else STANDING_N + (drag_load * STANDING_N - STANDING_N) * (k - n + tail) / tail
        heel, toe = load * (1.0 - u), load * u
        bal.sample(t, True, other(t), heel, 0.0, toe, heel * 0.5, 0.0, toe * 0.5, STANDING_N)
    for k in range(1, int(drag_s * RATE_HZ) + 1):
        t = t0 + stance_s + k / RATE_HZ
        toe = drag_load * STANDING_N
        bal.sample(t, True, other(t), 0.0, 0.0, toe, 0.0, 0.0, toe * 0.5, STANDING_N)
    t_off = t + 1.0 / RATE_HZ
    bal.sample(t_off, False, other(t_off), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, STANDING_N)
    return t_off


def test_a_dragging_toe_is_not_stance():
    clean = StanceBalance()
    assert clean.finish(push_off(clean, 0.0, 0.8, 0.0, drag_load=0.0))
    dragged = StanceBalance()
    t_off = push_off(dragged, 0.0, 0.8, 0.08)  # the toe drags 80 ms at 3 % of the standing load
    assert dragged.finish(t_off)
    assert t_off == pytest.approx(0.885, abs=0.006)  # the insole's contact lasted into the swing
    assert dragged.duration_s == pytest.approx(0.8, abs=1.5 / RATE_HZ)  # the weight came off at 0.8 s
    assert dragged.impulse == pytest.approx(clean.impulse, abs=0.002)
    assert dragged.dragged_s == pytest.approx(0.08, abs=1.5 / RATE_HZ)
    # a push-off that unloads to zero is all stance: its last samples under DRAG_MAX are not a drag
    assert clean.duration_s == pytest.approx(0.805, abs=1.5 / RATE_HZ) and clean.dragged_s == 0.0


@pytest.mark.parametrize("drag_load", [0.03, 0.0])
def test_the_other_foot_s_dragging_toe_is_not_double_support(drag_load):
    # the left foot pushes off until 0.3 s and its toe then drags until 0.4 s (or leaves the belt);
    # the right foot has landed at 0.2 s: the right stance's double support is 0.2-0.3 s, the
    # push-off's light last samples included, the drag not (the left bears no weight then)
    left, right = StanceBalance(), StanceBalance()
    n, tail = int(0.3 * RATE_HZ), int(0.1 * RATE_HZ)
    for k in range(int(0.9 * RATE_HZ)):
        t = k / RATE_HZ
        if k <= n - tail:
            left_n = STANDING_N
        elif k <= n:  # push-off: the forefoot unloads to the dragging toe's 3 %
            left_n = STANDING_N + (drag_load * STANDING_N - STANDING_N) * (k - n + tail) / tail
        else:
            left_n = drag_load * STANDING_N if t < 0.4 else 0.0
        left.sample(t, left_n > 0.0, right.support, 0.0, 0.0, left_n, 0.0, 0.0, 0.0, STANDING_N)
        if t >= 0.2:
            right.sample(t, True, left.support, STANDING_N * 0.5, 0.0, STANDING_N * 0.5, 0.0, 0.0, 0.0, STANDING_N)
    assert right.finish(0.9)
    assert right.double_support_s == pytest.approx(0.3 - 0.2, abs=1.5 / RATE_HZ)
    assert left.finish(0.4 if drag_load else 0.3)  # the insole's contact ends when the toe lifts
    assert left.duration_s == pytest.approx(0.3, abs=1.5 / RATE_HZ)
