"""Obstacle planner: belt speed, guidance and swing clearance from what lies ahead on the route.

Positions are route distances (metres, the same s the core integrates from the belt). A foot
planted at heel strike stays at world position s_hs + x_ankle(hs); the body is at s.

Yield obstacles: while one blocks (periodic: red phase; triggered: for duration_s after s first
reached trigger_m) the speed is limited by the braking curve
    v_max(s) = sqrt(v_yield^2 + 2 a_plan (x_stop - s)),  x_stop = at_m - stop_gap_m,
(aiming STOP_MARGIN_M short of the line) with a_plan = PLAN_DECEL_SHARE of the prescribed deceleration (the remainder is margin for the
belt's lag), so the belt slows smoothly to v_yield (0 = stop) at the stop line, waits, and the
supervisor ramps it back up at the prescribed acceleration once the obstacle clears. A periodic
obstacle that turns active when the patient is already past the stop line is passed through
(like an amber light).

Step-over obstacles: the approach speed is limited to speed_fraction of the prescription (when
given) from APPROACH_M before the obstacle, reached STOP_MARGIN_M early. A foot's next swing crosses the obstacle when it
stands before the obstacle and its predicted landing (the other foot's position plus the
expected step length) lies beyond the near edge; for that swing the planner asks for a clearance
boost that lifts the toe by the obstacle height plus CLEARANCE_MARGIN_M (at that leg's learned
lift per unit of boost: crossing_result), and for GUIDANCE_RAISE more guidance. While the foot swings over [at_m, at_m + depth_m] the lowest toe-minus-obstacle
height is its margin; a negative margin, or a heel strike inside the obstacle, is a hit.
"""

from __future__ import annotations

import math

import numpy as np

from engine.control.layout import ObstacleCategory, ObstacleOutcome

PLAN_DECEL_SHARE = 0.6
STOP_MARGIN_M = 0.05  # aim this far before a stop line: the belt's lag must not cross it
APPROACH_M = 1.0
HORIZON_M = 15.0
CLEARANCE_MARGIN_M = 0.05
REACH_FACTOR = 1.5  # a crossing step may be this much longer than the leg's usual one (project's choice)
BOOST_FULL_M = 0.20  # toe lift asked of a full (1.0) clearance boost
GUIDANCE_RAISE = 0.2  # absolute stiffness added for a crossing swing
# What one unit of boost lifts a leg's toe by is the leg's: a knee flexed further tilts the shank
# back, and a dropped foot hanging from it points the toe down, so a paretic leg gains a few cm
# where a sound one gains BOOST_FULL_M. Each boosted crossing tells (height + margin) / boost at
# most; the estimate moves LIFT_LEARN_RATE of the way to it, between LIFT_MIN_M and BOOST_FULL_M:
# a leg whose boosted swing touched or tripped gets more boost next time (up to the prescription's
# maximum, which the supervisor applies), one that cleared never less than the rule's.
LIFT_MIN_M = 0.04
LIFT_LEARN_RATE = 0.5
LIFT_LEARN_MIN_HEIGHT_M = 0.01  # a flat hazard (a curb's edge, a puddle) tells nothing of the lift
PASSED_BEYOND_M = 1.5  # a step-over is decided at the latest this far past its far edge
# The walking lane: the strip the patient's feet use, centred on the route (x = 0). Step width is
# ~0.1-0.3 m and a foot ~0.1 m wide; 0.8 m leaves room for lateral sway and for where the
# headset's view centres the route. A step-over obstacle wholly outside it is walked past: not
# planned for (no slowing, no clearance boost), not scored, never the "next obstacle".
WALKING_LANE_HALF_WIDTH_M = 0.4
# Surfaces walked on (kind codes of engine/scene: kerb_ramp 3, uneven_paving 9) and a curb up
# (1: its top past the lip is the raised walkway): the hazard a foot can catch or land in is
# their lip at the near edge, not the whole stretch (the simulated patient's ground truth,
# devices/sim/scene_view.py and patient.hazard_end_m, defines them the same way).
WALK_ON_KINDS = (1, 3, 9)
CURB_DOWN_KIND = 2
LIP_DEPTH_M = 0.05
# The categories as plain ints (Obstacle.category is one): the per-cycle loops compare with these,
# since every attribute read of an Enum class takes a slow path in CPython 3.11 (~70 ns, 8x an int).
_YIELD = int(ObstacleCategory.YIELD)
_STEP_OVER = int(ObstacleCategory.STEP_OVER)


def in_walking_lane(lateral_m: float, width_m: float) -> bool:
    """Whether an obstacle centred lateral_m from the route, width_m across, reaches into the lane."""
    return abs(float(lateral_m)) - max(0.0, float(width_m)) / 2.0 < WALKING_LANE_HALF_WIDTH_M


class Obstacle:
    """One timeline row as plain Python values plus its progress."""

    __slots__ = (
        "index", "category", "at_m", "end_m", "height_m", "speed_fraction", "stop_m",
        "trigger_m", "duration_s", "period_s", "active_s", "phase_s",
        "outcome", "active", "triggered_at_s", "margin_m", "committed", "done",
        "crossings", "crossing_side", "key_m", "in_lane", "hazard_end_m", "landing_fault", "near_m", "approach_m",
    )

    def __init__(self, index: int, row) -> None:
        self.index = index
        self.category = int(row["category"])
        self.at_m = float(row["at_m"])
        self.end_m = self.at_m + max(0.0, float(row["depth_m"]))
        # far edge of what a foot must not enter or land in (a walk-on surface: its lip)
        walk_on = int(row["kind"]) in WALK_ON_KINDS
        self.hazard_end_m = min(self.end_m, self.at_m + LIP_DEPTH_M) if walk_on else self.end_m
        # a curb down's stone is the walkway before its drop: standing on it is no fault
        self.landing_fault = int(row["kind"]) != CURB_DOWN_KIND
        self.height_m = max(0.0, float(row["height_m"]))
        self.speed_fraction = min(1.0, max(0.0, float(row["speed_fraction"])))
        self.stop_m = self.at_m - max(0.0, float(row["stop_gap_m"]))
        # Planner.plan's per-cycle distances, worked out once: where a crossing swing must reach
        # (the near edge less CLEARANCE_MARGIN_M) and where the approach speed applies from
        # (APPROACH_M before it, aimed STOP_MARGIN_M early)
        self.near_m = self.at_m - CLEARANCE_MARGIN_M
        self.approach_m = self.at_m - APPROACH_M - STOP_MARGIN_M
        self.trigger_m = float(row["trigger_m"])
        self.duration_s = max(0.0, float(row["duration_s"]))
        self.period_s = float(row["period_s"])
        self.active_s = float(row["active_s"])
        self.phase_s = float(row["phase_s"])
        self.outcome = ObstacleOutcome.PENDING
        self.active = False
        self.triggered_at_s = math.nan
        self.margin_m = math.nan
        self.committed = False
        self.done = False
        self.crossings = 0  # swings evaluated over it
        self.crossing_side = [False, False]  # foot predicted to swing over it next
        # Where along the route the obstacle starts to matter (a triggered yield at its trigger).
        triggered = self.category == ObstacleCategory.YIELD and self.period_s <= 0.0
        self.key_m = min(self.at_m, self.trigger_m) if triggered else self.at_m
        # Yield obstacles block the whole path; a step-over beside the lane is walked past: it is
        # done from the start and keeps outcome PENDING (no outcome event, counted nowhere).
        self.in_lane = self.category == ObstacleCategory.YIELD or in_walking_lane(row["lateral_m"], row["width_m"])
        if not self.in_lane:
            self.done = True


class Planner:
    """Holds the timeline and turns it into speed limits, boosts and outcomes each cycle."""

    def __init__(self) -> None:
        self.obstacles: list[Obstacle] = []
        self.order: list[Obstacle] = []  # by at_m
        self.first_pending = 0
        self.route_length_m = 0.0
        # Outputs of the latest plan():
        self.target_speed_mps = 0.0
        self.boost = [0.0, 0.0]
        self.guidance_raise = 0.0
        self.next_obstacle = -1
        self.blocking = -1  # index of the obstacle limiting the speed now, -1 none
        # Decisions and outcomes since the core last looked: lists of obstacle objects.
        self.plan_changes: list[Obstacle] = []
        self.outcomes: list[Obstacle] = []
        self.changed = True  # obstacle state block section needs a rewrite
        self.lift_per_boost_m = [BOOST_FULL_M, BOOST_FULL_M]  # per leg, learned from its crossings
        # per leg: far edge of the hazard its swing is crossing (-inf none): the reference holds
        # the swing before its descent until the heel is past it (refgait.reference_phase)
        self.crossing_end_m = [-math.inf, -math.inf]

    def load(self, rows: np.ndarray, count: int, route_length_m: float) -> None:
        """Adopt a new timeline (the route restarts at s = 0)."""
        self.obstacles = [Obstacle(i, rows[i]) for i in range(count)]
        self.order = sorted(self.obstacles, key=lambda o: o.key_m)
        self.first_pending = 0
        self.route_length_m = float(route_length_m)
        self.blocking = -1
        self.boost = [0.0, 0.0]
        self.plan_changes.clear()
        self.outcomes.clear()
        self.changed = True

    # -- per cycle ---------------------------------------------------------------------------
    def plan(
        self,
        s_m: float,
        scene_time_s: float,
        cruise_mps: float,
        max_speed_mps: float,
        max_decel_mps2: float,
        feet_m: list,
        swinging: list,
        step_length_m: float | list | tuple,
    ) -> float:
        """Speed target for now; also sets boost, guidance_raise, next_obstacle, blocking.

        feet_m: world position of each foot where planted (or where it is predicted to land
        while it swings); swinging: whether each foot is in swing now; step_length_m: the
        expected step, one for both legs or [left, right] (each leg's measured step length).
        """
        a_plan = PLAN_DECEL_SHARE * max_decel_mps2
        target = cruise_mps
        blocking = -1
        boost = [0.0, 0.0]  # per leg: the crossing's boost and the far edge of its hazard
        ends = [-math.inf, -math.inf]
        raise_g = 0.0
        next_index = -1
        obstacles = self.order
        n = len(obstacles)
        i = self.first_pending
        while i < n and obstacles[i].done:
            i += 1
            self.first_pending = i
        horizon = s_m + HORIZON_M
        # Step-overs: which swing crosses, a foot planted before the obstacle whose next landing
        # may be past it. The patient modulates the last steps (shorter to reach a take-off spot,
        # a longer crossing step: Chen et al. 1991, Patla et al. 1999), so the landing is not its
        # usual step from the other foot: any swing that could reach the near edge with a step up
        # to REACH_FACTOR times this leg's measured one is lifted (a lift not needed costs
        # nothing); a swinging foot keeps the decision taken at its toe off. Each leg's reach is
        # worked out once here, and the rule is written out in the loop rather than called per
        # obstacle (this runs every core cycle for every obstacle within HORIZON_M).
        if isinstance(step_length_m, (list, tuple)):
            step_l, step_r = step_length_m[0], step_length_m[1]
        else:
            step_l = step_r = step_length_m
        reach_l = feet_m[1] + REACH_FACTOR * step_l
        reach_r = feet_m[0] + REACH_FACTOR * step_r
        reach = (reach_l, reach_r)
        # An obstacle whose near edge neither reach gets to: the rule says "not crossing" for both
        # legs whatever the feet (NaN reaches never cross either), so one not marked for either
        # is left as it is (most obstacles within HORIZON_M, every cycle).
        reach_hi = reach_l if reach_l > reach_r else reach_r
        while i < n:
            ob = obstacles[i]
            i += 1
            if ob.done:
                continue
            if ob.key_m > horizon:
                break
            if next_index < 0 and ob.end_m >= s_m:
                next_index = ob.index
            if ob.category == _YIELD:
                limit = self._yield(ob, s_m, scene_time_s, max_speed_mps, a_plan)
            else:
                near = ob.near_m
                sides = ob.crossing_side
                if not (reach_hi <= near and not sides[0] and not sides[1]):
                    for side in (0, 1):
                        if not swinging[side]:
                            crossing = feet_m[side] < ob.hazard_end_m and reach[side] > near
                            if crossing != sides[side]:
                                sides[side] = crossing
                                self.plan_changes.append(ob)
                        if sides[side]:
                            # (if x > y: y = x is max(y, x), NaN kept the same way, without the call)
                            lift = (ob.height_m + CLEARANCE_MARGIN_M) / self.lift_per_boost_m[side]
                            if lift > boost[side]:
                                boost[side] = lift
                            if ob.hazard_end_m > ends[side]:
                                ends[side] = ob.hazard_end_m
                            raise_g = GUIDANCE_RAISE
                if not (ob.speed_fraction > 0.0 and s_m < ob.end_m):
                    continue  # no approach speed: limits nothing
                # The approach speed from APPROACH_M before it, aimed STOP_MARGIN_M early as for a
                # stop line: a cycle the host runs late must not carry the belt into the approach
                # zone above the approach speed.
                v_app = ob.speed_fraction * max_speed_mps
                d = ob.approach_m - s_m
                limit = math.sqrt(v_app * v_app + 2.0 * a_plan * d) if d > 0.0 else v_app
            if limit < target:
                target = limit
                blocking = ob.index if limit < cruise_mps else blocking
        # Route end: stop at the end of the route like at a permanent stop line.
        if self.route_length_m > 0.0:
            d = self.route_length_m - STOP_MARGIN_M - s_m
            end_limit = math.sqrt(2.0 * a_plan * d) if d > 0.0 else 0.0
            if end_limit < target:
                target = end_limit
        if blocking != self.blocking:
            # A decision: an obstacle starts (or stops) limiting the belt speed.
            changed = blocking if blocking >= 0 else self.blocking
            self.blocking = blocking
            if 0 <= changed < len(self.obstacles):
                self.plan_changes.append(self.obstacles[changed])
        self.target_speed_mps = target
        self.boost[0], self.boost[1] = boost
        self.crossing_end_m[0], self.crossing_end_m[1] = ends
        self.guidance_raise = raise_g
        self.next_obstacle = next_index
        return target

    def _yield(self, ob: Obstacle, s_m: float, scene_t: float, vmax: float, a_plan: float) -> float:
        if s_m > ob.end_m:
            ob.done = True
            ob.active = False
            ob.outcome = ObstacleOutcome.PASSED
            self.outcomes.append(ob)
            self.changed = True
            return math.inf
        if ob.period_s > 0.0:
            active = ((scene_t + ob.phase_s) % ob.period_s) < ob.active_s
        else:
            if ob.triggered_at_s != ob.triggered_at_s and s_m >= ob.trigger_m:
                ob.triggered_at_s = scene_t
                self.changed = True
            active = ob.triggered_at_s == ob.triggered_at_s and scene_t - ob.triggered_at_s < ob.duration_s
        if not active and s_m >= ob.stop_m and not ob.committed:
            ob.committed = True  # crossed the stop line while free to go: carry on through
        if active != ob.active:
            ob.active = active
            self.changed = True
        if not active or ob.committed:
            return math.inf
        v_yield = ob.speed_fraction * vmax
        d = ob.stop_m - STOP_MARGIN_M - s_m
        return math.sqrt(v_yield * v_yield + 2.0 * a_plan * d) if d > 0.0 else v_yield

    def set_lift_prior(self, side: int, lift_m: float) -> None:
        """What one unit of boost is expected to lift this leg's toe before its crossings tell
        (refgait.toe_lift_per_boost_m for a paretic leg; BOOST_FULL_M for a sound one)."""
        self.lift_per_boost_m[side] = LIFT_MIN_M if lift_m < LIFT_MIN_M else BOOST_FULL_M if lift_m > BOOST_FULL_M else lift_m

    def crossing_result(self, side: int, volume_height_m: float, margin_m: float, boost: float) -> None:
        """A leg's crossing was decided: its lowest sole point over the box was margin_m above a box
        volume_height_m high, with `boost` (as applied, 0..1) through that swing: learn the leg's
        toe lift per unit of boost (at most what the crossing shows)."""
        if boost <= 0.05 or not volume_height_m >= LIFT_LEARN_MIN_HEIGHT_M or not margin_m == margin_m:
            return
        low = volume_height_m + margin_m if margin_m > -volume_height_m else 0.0
        shown = low / boost
        shown = LIFT_MIN_M if shown < LIFT_MIN_M else BOOST_FULL_M if shown > BOOST_FULL_M else shown
        lift = self.lift_per_boost_m[side]
        self.lift_per_boost_m[side] = lift + LIFT_LEARN_RATE * (shown - lift)

    # -- events from the gait ----------------------------------------------------------------
    def toe_over(self, side: int, x_prev_m: float, x_m: float, toe_height_m: float) -> None:
        """The swinging toe of `side` moved from x_prev_m to x_m (world) at this height."""
        for i in range(self.first_pending, min(self.first_pending + 8, len(self.order))):
            ob = self.order[i]
            if ob.done or ob.category != _STEP_OVER:
                continue
            if x_m >= ob.at_m and x_prev_m <= ob.hazard_end_m:
                margin = toe_height_m - ob.height_m
                if not margin >= ob.margin_m:  # also replaces nan
                    ob.margin_m = margin
                    self.changed = True

    def heel_strike(self, side: int, prev_foot_m: float, foot_m: float, s_m: float) -> None:
        """Foot `side`, planted at prev_foot_m before this swing, landed at foot_m (world
        positions): count its crossing, decide outcomes."""
        for i in range(self.first_pending, min(self.first_pending + 8, len(self.order))):
            ob = self.order[i]
            if ob.done or ob.category != _STEP_OVER:
                continue
            if ob.at_m <= foot_m <= ob.hazard_end_m and ob.landing_fault:
                # Landed on or in it (a puddle's water, a box's top).
                ob.margin_m = min(ob.margin_m, -0.01) if ob.margin_m == ob.margin_m else -0.01
                ob.crossings += 1
                self.changed = True
            elif foot_m > ob.hazard_end_m and prev_foot_m < ob.at_m:
                ob.crossings += 1
            ob.crossing_side[side] = False
            self._maybe_decide(ob, s_m)

    def _maybe_decide(self, ob: Obstacle, s_m: float) -> None:
        if ob.crossings >= 2 or (s_m > ob.end_m + PASSED_BEYOND_M and ob.margin_m == ob.margin_m):
            ob.done = True
            ob.outcome = ObstacleOutcome.HIT if ob.margin_m < 0.0 else ObstacleOutcome.CLEARED
            self.outcomes.append(ob)
            self.changed = True

    def sweep(self, s_m: float) -> None:
        """Decide step-overs the patient has left far behind (e.g. crossed while stopped)."""
        for i in range(self.first_pending, min(self.first_pending + 4, len(self.order))):
            ob = self.order[i]
            if not ob.done and ob.category == _STEP_OVER and s_m > ob.end_m + PASSED_BEYOND_M:
                if ob.margin_m != ob.margin_m:
                    ob.margin_m = math.nan
                ob.done = True
                ob.outcome = (
                    ObstacleOutcome.HIT if ob.margin_m < 0.0 else ObstacleOutcome.CLEARED
                ) if ob.margin_m == ob.margin_m else ObstacleOutcome.PASSED
                self.outcomes.append(ob)
                self.changed = True
