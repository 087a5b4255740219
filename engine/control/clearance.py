"""Toe clearance per swing and each leg's margin over each step-over obstacle.

Minimum toe clearance (MTC): the lowest toe height over the floor in mid-swing, 30-80 % of the
swing's duration, where trips happen (Winter 1991: 1.1-1.3 cm in healthy adults; Moosabhoy &
Gard 2006: 1.9 +- 0.5 cm at ~51 % of swing). The swing's duration is known only at its heel
strike, so toe heights are kept (preallocated buffer) and the window is applied then.

Obstacle margin of a leg: while that foot swings, the lowest point of its sole (the straight
line from heel to toe) above the obstacle's extent along the route, minus the obstacle's height;
the minimum over the crossing. Outcome per leg: cleared (margin >= 0), touched (the sole dipped
into the obstacle by less than TRIP_DEPTH_M) or tripped (deeper: the foot is caught).
"""

from __future__ import annotations

import math

import numpy as np

MTC_WINDOW = (0.3, 0.8)  # fraction of the swing (as the rig's ground truth defines it)
SWING_CAPACITY = 4096  # samples per swing buffer: 8 s at 500 Hz
TRIP_DEPTH_M = 0.02  # a sole this far inside an obstacle is caught, not brushing it
LEG_NONE, LEG_CLEARED, LEG_TOUCHED, LEG_TRIPPED = 0, 1, 2, 3
MAX_OBSTACLES = 128
NEAR_M = 0.6  # an obstacle matters to a foot within this distance of its heel or toe


def leg_outcome(margin_m: float) -> int:
    """LEG_CLEARED, LEG_TOUCHED or LEG_TRIPPED for a crossing margin (m)."""
    if margin_m >= 0.0:
        return LEG_CLEARED
    return LEG_TOUCHED if margin_m > -TRIP_DEPTH_M else LEG_TRIPPED


class SwingClearance:
    """Toe heights of each leg's current swing, and the MTC when it ends."""

    def __init__(self) -> None:
        self.t_s = np.zeros((2, SWING_CAPACITY))
        self.h_m = np.zeros((2, SWING_CAPACITY))
        self.n = [0, 0]
        self.to_t_s = [-1.0, -1.0]

    def toe_off(self, side: int, t_s: float) -> None:
        self.to_t_s[side] = t_s
        self.n[side] = 0

    def sample(self, side: int, t_s: float, toe_height_m: float) -> None:
        n = self.n[side]
        if n < SWING_CAPACITY and self.to_t_s[side] >= 0.0:
            self.t_s[side, n] = t_s
            self.h_m[side, n] = toe_height_m
            self.n[side] = n + 1

    def heel_strike(self, side: int, t_s: float) -> float:
        """MTC of the swing that ends now (m, clipped at 0), NaN when no swing was seen."""
        t0 = self.to_t_s[side]
        n = self.n[side]
        self.to_t_s[side] = -1.0
        self.n[side] = 0
        if t0 < 0.0 or n == 0 or t_s <= t0:
            return math.nan
        d = t_s - t0
        times = self.t_s[side, :n]
        lo = int(np.searchsorted(times, t0 + MTC_WINDOW[0] * d))
        hi = int(np.searchsorted(times, t0 + MTC_WINDOW[1] * d, side="right"))
        if hi <= lo:
            return math.nan
        mtc = float(self.h_m[side, lo:hi].min())
        return mtc if mtc > 0.0 else 0.0


class ObstacleMargins:
    """Per leg and obstacle: the lowest sole point over the obstacle minus its height."""

    def __init__(self) -> None:
        self.margin_m = [[math.nan, math.nan] for _ in range(MAX_OBSTACLES)]
        self.state = [[0, 0] for _ in range(MAX_OBSTACLES)]  # 0 not yet, 1 over it, 2 decided
        self.done: list[tuple[int, int, float, int]] = []  # (obstacle index, side, margin, outcome)
        self.first = 0

    def reset(self) -> None:
        """A new timeline."""
        for row in self.margin_m:
            row[0] = row[1] = math.nan
        for row in self.state:
            row[0] = row[1] = 0
        self.done.clear()
        self.first = 0

    def swing_sample(self, order, side: int, heel_x: float, heel_h: float, toe_x: float, toe_h: float,
                     step_over: int) -> None:
        """One sample of a swinging foot (world x along the route, heights over the floor).

        order: the planner's obstacles sorted by position; step_over: their step-over category.
        """
        lo_x = heel_x if heel_x < toe_x else toe_x
        hi_x = toe_x if heel_x < toe_x else heel_x
        n = len(order)
        i = self.first
        while i < n:
            ob = order[i]
            if ob.at_m > hi_x + NEAR_M:
                break
            i += 1
            if ob.category != step_over or ob.index >= MAX_OBSTACLES:
                continue
            st = self.state[ob.index]
            if st[side] == 2:
                continue
            a = ob.at_m if ob.at_m > lo_x else lo_x
            b = ob.end_m if ob.end_m < hi_x else hi_x
            if a <= b:
                # the sole is a straight line: its lowest point over [a, b] is at an end
                span = toe_x - heel_x
                if span != 0.0:
                    ha = heel_h + (toe_h - heel_h) * (a - heel_x) / span
                    hb = heel_h + (toe_h - heel_h) * (b - heel_x) / span
                    low = ha if ha < hb else hb
                else:
                    low = heel_h if heel_h < toe_h else toe_h
                margin = low - ob.height_m
                row = self.margin_m[ob.index]
                if st[side] == 0 or margin < row[side]:
                    row[side] = margin
                st[side] = 1
            elif st[side] == 1 and lo_x > ob.end_m:
                self._decide(ob.index, side)

    def heel_strike(self, order, side: int, heel_x: float, s_m: float) -> None:
        """The foot landed: decide each obstacle it swung over and has now passed."""
        n = len(order)
        i = self.first
        while i < n:
            ob = order[i]
            if ob.at_m > heel_x + NEAR_M:
                break
            if ob.index < MAX_OBSTACLES and self.state[ob.index][side] == 1 and heel_x > ob.end_m:
                self._decide(ob.index, side)
            i += 1
        # obstacles both feet have left far behind need no more looking at
        while self.first < n and order[self.first].end_m < s_m - 3.0:
            self.first += 1

    def _decide(self, index: int, side: int) -> None:
        st = self.state[index]
        st[side] = 2
        margin = self.margin_m[index][side]
        self.done.append((index, side, margin, leg_outcome(margin)))
