"""Toe clearance per swing and each leg's margin over each step-over obstacle.

Minimum toe clearance (MTC): the lowest toe height over the ground under it in mid-swing,
25-80 % of the swing's duration, where trips happen (Winter 1991: 1.1-1.3 cm in healthy adults;
Moosabhoy & Gard 2006: 1.9 +- 0.5 cm at ~51 % of swing); the window is the rig's ground truth's.
The swing's duration is known only at its heel strike, so toe heights are kept (preallocated
buffer) and the window is applied then.

Obstacle margin of a leg: while that foot swings, the lowest point of its sole (the straight
line from heel to toe) over the obstacle's extent along the route, minus the top of the
obstacle's box (walkway.py); the minimum over the crossing, the toe's height where it reached the
near face (below) included: a point of the path over the box that no sample need fall on.
Outcome per leg (the definition the rig's ground truth follows too, docs/validation.md
"Crossing outcomes"): cleared (margin >= 0),
touched (the sole dipped into the box by less than TRIP_DEPTH_M, or the foot landed on or in it)
or tripped (the swinging sole went deeper: the foot is caught). A trip is a swing foot caught by
the obstacle; a foot that lands on or in the box stepped on it. So a foot that lands in the box
touched it unless its toe met the box's near face at least TRIP_DEPTH_M below the top: the
toe's height at the instant it reached the near edge (x = at_m), interpolated between the last
sample before that edge and the first over it (devices/obstacle_face.py, shared with the truth:
the first sample alone made the outcome depend on when each side samples). A sole
that reached the face higher and came down into the box later came down on it from above: the
descent onto the landing place, not a catch. The swing ends at the foot's contact: samples taken
at or after the detected contact time belong to the stance (DeferredSoles holds each sample
until the insole pitch of its instant is known and drops those past the contact). Obstacles
beside the walking lane are walked past. A surface walked on (uneven paving, a kerb ramp) and a
curb up are judged over their lip only (planner.WALK_ON_KINDS): stepping onto them is what they
are for (a curb's top past its lip is walkway).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from devices.obstacle_face import toe_height_at_face_m

MTC_WINDOW = (0.25, 0.8)  # fraction of the swing (as the rig's ground truth defines it)
SWING_CAPACITY = 4096  # samples per swing buffer: 8 s at 500 Hz
TRIP_DEPTH_M = 0.015  # a sole this far inside an obstacle's box is caught, not brushing it
LANDED_MIN_M = 0.01  # a foot landing in an obstacle is at least this deep in it
LEG_NONE, LEG_CLEARED, LEG_TOUCHED, LEG_TRIPPED = 0, 1, 2, 3
MAX_OBSTACLES = 128
_NONE_DUE: tuple = ()  # DeferredSoles.release with nothing due (shared: no list per call)
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
    """Per leg and in-lane obstacle: the lowest sole point over its box minus the box's top."""

    def __init__(self) -> None:
        self.margin_m = [[math.nan, math.nan] for _ in range(MAX_OBSTACLES)]
        # the toe's height over the top at the instant it reached the near face (a landing's trip
        # test: caught at the face)
        self.face_m = [[math.nan, math.nan] for _ in range(MAX_OBSTACLES)]
        self.prev_toe = [[math.nan, math.nan], [math.nan, math.nan]]  # per side: last sample's toe x, z
        self.state = [[0, 0] for _ in range(MAX_OBSTACLES)]  # 0 not yet, 1 over it, 2 decided
        self.done: list[tuple[int, int, float, int]] = []  # (obstacle index, side, margin, outcome)
        self.first = 0

    def reset(self) -> None:
        """A new timeline."""
        for toe in self.prev_toe:
            toe[0] = toe[1] = math.nan
        for row in self.margin_m:
            row[0] = row[1] = math.nan
        for row in self.face_m:
            row[0] = row[1] = math.nan
        for st in self.state:
            st[0] = st[1] = 0
        self.done.clear()
        self.first = 0

    def swing_sample(self, order, walkway, side: int, heel_x: float, heel_z: float, toe_x: float,
                     toe_z: float, step_over: int) -> None:
        """One sample of a swinging foot: route x and height over the walkway's zero of heel and toe.

        order: the planner's obstacles sorted by position; step_over: their step-over category.
        """
        prev = self.prev_toe[side]
        prev_x, prev_z = prev
        prev[0] = toe_x
        prev[1] = toe_z
        lo_x = heel_x if heel_x < toe_x else toe_x
        hi_x = toe_x if heel_x < toe_x else heel_x
        tops = walkway.box_top_m
        lane = walkway.in_lane
        n = len(order)
        i = self.first
        while i < n:
            ob = order[i]
            if ob.at_m > hi_x + NEAR_M:
                break
            i += 1
            k = ob.index
            if ob.category != step_over or k >= MAX_OBSTACLES or k >= len(tops) or not lane[k]:
                continue
            st = self.state[k]
            if st[side] == 2:
                continue
            a = ob.at_m if ob.at_m > lo_x else lo_x
            end = ob.hazard_end_m  # a walk-on surface: its lip only
            b = end if end < hi_x else hi_x
            if a <= b:
                # the sole is a straight line: its lowest point over [a, b] is at an end
                span = toe_x - heel_x
                if span != 0.0:
                    za = heel_z + (toe_z - heel_z) * (a - heel_x) / span
                    zb = heel_z + (toe_z - heel_z) * (b - heel_x) / span
                    low = za if za < zb else zb
                else:
                    low = heel_z if heel_z < toe_z else toe_z
                # the walkway stops a foot: inside the box by its whole height at most (a curb
                # down's edge or a puddle has none: a sole below the old level is past the edge)
                margin = low - tops[k]
                deepest = walkway.box_ground_m[k] - tops[k]
                if margin < deepest:
                    margin = deepest
                row = self.margin_m[k]
                if st[side] == 0 or margin < row[side]:
                    row[side] = margin
                row = self.face_m[k]
                face = ob.at_m
                if row[side] != row[side] and lo_x <= face <= hi_x:
                    # the toe has just reached the near face (x = at_m): how high it met it, at the
                    # instant it got there (between the last sample and this one); the sole's
                    # height at the face in this sample when the toe was past it before
                    z = toe_height_at_face_m(prev_x, prev_z, toe_x, toe_z, face)
                    if z != z:
                        z = heel_z + (toe_z - heel_z) * (face - heel_x) / span if span != 0.0 else low
                    at_face = z - tops[k]
                    at_face = at_face if at_face > deepest else deepest
                    row[side] = at_face
                    if at_face < self.margin_m[k][side]:
                        # the toe there is a point of the foot's path over the box's edge: part of
                        # the margin, though no sample fell while the toe was at the face
                        self.margin_m[k][side] = at_face
                st[side] = 1

    def heel_strike(self, order, walkway, side: int, heel_x: float, toe_x: float, s_m: float) -> None:
        """The foot landed with its sole over [heel_x, toe_x]: obstacles it swung over and has
        passed are decided now (a swing can come back over an obstacle it had passed: a caught
        foot), and one it landed in is touched or tripped."""
        n = len(order)
        i = self.first
        lane = walkway.in_lane
        while i < n:
            ob = order[i]
            if ob.at_m > toe_x + NEAR_M:
                break
            k = ob.index
            i += 1
            if k >= MAX_OBSTACLES or k >= len(lane) or not lane[k] or self.state[k][side] == 2:
                continue
            if ob.at_m <= toe_x and ob.hazard_end_m >= heel_x and ob.category == 0:
                if walkway.landing_faults[k]:
                    self._decide(k, side, True, walkway)
            elif self.state[k][side] == 1 and heel_x > ob.hazard_end_m:
                self._decide(k, side, False, walkway)
        # obstacles both feet have left far behind need no more looking at
        while self.first < n and order[self.first].end_m < s_m - 3.0:
            self.first += 1

    def _decide(self, index: int, side: int, landed_in: bool, walkway) -> None:
        st = self.state[index]
        st[side] = 2
        swing = self.margin_m[index][side]
        outcome = leg_outcome(swing) if swing == swing else LEG_CLEARED
        margin = swing
        if landed_in:
            # stepped on or in it: the sole came down inside the box, its margin at most minus the
            # box's height (a puddle: minus LANDED_MIN_M). A touch: the foot was not caught in its
            # swing (a trip is a swing foot arrested by the obstacle); unless its toe reached the
            # near face a trip's depth below the top (a sole over the face higher and coming down
            # into the box later is the descent onto the landing place)
            volume = walkway.box_top_m[index] - walkway.box_ground_m[index]
            worst = -(volume if volume > LANDED_MIN_M else LANDED_MIN_M)
            margin = worst if not swing == swing or worst < swing else swing
            face = self.face_m[index][side]
            caught = face == face and leg_outcome(face) == LEG_TRIPPED
            outcome = LEG_TRIPPED if caught else LEG_TOUCHED
            self.margin_m[index][side] = margin
        self.done.append((index, side, margin, outcome))



PITCH_HISTORY = 16  # insole pitch samples kept per foot: 80 ms at 200 Hz
HOLD_MAX_S = 0.05  # a swing sample waits at most this long for the pitch of its instant


class DeferredSoles:
    """Swing samples of each foot held until the insole pitch of their instant is known.

    The insoles report every 5-10 ms; a foot's pitch at an exoskeleton sample taken since their
    latest report is an extrapolation, which lags a fast rotation (a heel coming down: measured
    0.1 rad, the heel 1.4 cm back, in the traced Parkinsonian landing, docs/control.md). The
    obstacle margins do not need the sample at once (an outcome is decided at the heel strike),
    so each sample waits for the insole report after it and takes the pitch interpolated
    between the reports around it. At the heel strike the samples before the contact time are
    released and those at or after it dropped: the swing ends at the contact (a foot already
    down before its contact was detected is standing, not swinging).
    A sample is (t_s, hip_rad, knee_rad, pelvis_m, hip_x_m)."""

    def __init__(self) -> None:
        self.held: tuple[list, list] = ([], [])
        self.pitch_t = [[-1.0] * PITCH_HISTORY, [-1.0] * PITCH_HISTORY]
        self.pitch = [[0.0] * PITCH_HISTORY, [0.0] * PITCH_HISTORY]
        self.n = [0, 0]

    def reset(self) -> None:
        for side in (0, 1):
            self.held[side].clear()
            self.n[side] = 0

    def pitch_sample(self, side: int, t_s: float, pitch_rad: float) -> None:
        """An insole pitch sample of this foot (host time)."""
        k = self.n[side] % PITCH_HISTORY
        self.pitch_t[side][k] = t_s
        self.pitch[side][k] = pitch_rad
        self.n[side] += 1

    def latest_pitch_t(self, side: int) -> float:
        n = self.n[side]
        return self.pitch_t[side][(n - 1) % PITCH_HISTORY] if n else -1.0

    def pitch_at(self, side: int, t_s: float) -> float:
        """Pitch interpolated between the two insole samples around t_s; NaN when t_s is not
        inside the kept history."""
        n = self.n[side]
        times = self.pitch_t[side]
        values = self.pitch[side]
        k1 = (n - 1) % PITCH_HISTORY
        for _ in range(min(n, PITCH_HISTORY) - 1):
            k0 = (k1 - 1) % PITCH_HISTORY
            t0, t1 = times[k0], times[k1]
            if t0 < t_s <= t1:
                return values[k0] + (values[k1] - values[k0]) * (t_s - t0) / (t1 - t0)
            k1 = k0
        return math.nan

    def hold(self, side: int, sample: tuple) -> None:
        self.held[side].append(sample)

    def release(self, side: int, upto_t_s: float) -> Sequence[tuple]:
        """The held samples taken at or before upto_t_s, oldest first (no longer held); an empty
        sequence (the same one each time: this runs at every insole and exoskeleton sample) when
        none is due."""
        held = self.held[side]
        if not held or held[0][0] > upto_t_s:
            return _NONE_DUE
        k = 0
        while k < len(held) and held[k][0] <= upto_t_s:
            k += 1
        out = held[:k]
        del held[:k]
        return out

    def end_swing(self, side: int, contact_t_s: float) -> list:
        """The swing's held samples before its contact; those at or after it are dropped."""
        held = self.held[side]
        out = [s for s in held if s[0] < contact_t_s]
        held.clear()
        return out

    def drop(self, side: int) -> None:
        self.held[side].clear()
