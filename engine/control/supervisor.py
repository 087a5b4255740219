"""Safety supervisor: the last step every command passes before it leaves the core.

Pure and allocation-free (plain floats): the core calls it every cycle, and the property tests
drive it with arbitrary sequences of targets, settings and scene requests. Whatever comes in
(NaN, infinities, negative or huge values, a prescription change mid-ramp), what comes out stays
inside the patient's prescription: belt speed in [0, max_speed], speed changes within the
prescribed acceleration and deceleration, guidance and body-weight support inside their ranges,
clearance boost within its limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from engine.control.layout import MAX_ALARMS, AlarmReason, Priority
from engine.control.prescription import Prescription


def clamp(value: float, low: float, high: float) -> float:
    """value limited to [low, high]; NaN gives low (the safe end of every range here)."""
    if value >= low:
        return value if value <= high else high
    return low  # below low, or NaN (every comparison with NaN is false)


@dataclass
class Limits:
    """A prescription flattened into plain floats for the hot path."""

    max_speed_mps: float = 0.0
    max_accel_mps2: float = 0.0
    max_decel_mps2: float = 0.0
    guidance_min: float = 0.0
    guidance_max: float = 0.0
    bws_min: float = 0.0
    bws_max: float = 0.0
    clearance_boost_max: float = 0.0
    leg_length_l_m: float = 0.9
    leg_length_r_m: float = 0.9
    affected_side: int = -1
    valid: bool = False  # False until a valid prescription arrived: nothing may move

    @classmethod
    def from_prescription(cls, rx: Prescription) -> Limits:
        """Plain-float limits from a validated prescription."""
        return cls(
            max_speed_mps=float(rx.max_speed_mps),
            max_accel_mps2=float(rx.max_accel_mps2),
            max_decel_mps2=float(rx.max_decel_mps2),
            guidance_min=float(rx.guidance_min),
            guidance_max=float(rx.guidance_max),
            bws_min=float(rx.bws_min),
            bws_max=float(rx.bws_max),
            clearance_boost_max=float(rx.clearance_boost_max),
            leg_length_l_m=float(rx.leg_length_l_m),
            leg_length_r_m=float(rx.leg_length_r_m),
            affected_side=int(rx.affected_side),
            valid=True,
        )


class Supervisor:
    """Clamps belt speed, guidance, body-weight support and clearance boost to the limits.

    `speed_cmd_mps` is the speed last commanded; `step_speed` moves it towards a target no faster
    than the prescribed acceleration/deceleration. A prescription change only takes effect while
    the belt command is zero (the caller also checks the measured belt).
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.speed_cmd_mps = 0.0

    def set_limits(self, limits: Limits) -> bool:
        """Adopt new limits; refused (False) while the belt command is not zero."""
        if self.speed_cmd_mps != 0.0:
            return False
        self.limits = limits
        return True

    def step_speed(self, target_mps: float, dt_s: float, stopping: bool = False) -> float:
        """Next belt speed command towards target_mps after dt_s (0 while stopping or invalid)."""
        lim = self.limits
        if stopping or not lim.valid:
            target_mps = 0.0
        target = clamp(target_mps, 0.0, lim.max_speed_mps)
        dt = clamp(dt_s, 0.0, 0.1)  # a stalled cycle must not allow one huge jump
        v = self.speed_cmd_mps
        if target > v:
            v = min(target, v + lim.max_accel_mps2 * dt)
        elif target < v:
            v = max(target, v - lim.max_decel_mps2 * dt)
        # A speed above the limit can only come from a limit that shrank: decelerate towards it.
        if v > lim.max_speed_mps:
            v = max(lim.max_speed_mps, self.speed_cmd_mps - lim.max_decel_mps2 * dt)
        self.speed_cmd_mps = v
        return v

    def guidance(self, guidance: float, extra: float = 0.0) -> float:
        """Applied guidance: the requested ABSOLUTE guidance (0..1 of full robot assistance)
        plus `extra` (an obstacle's raise), clamped to the prescribed [guidance_min, guidance_max].
        One meaning everywhere (menu, core, audit, telemetry, report); see docs/engine.md."""
        lim = self.limits
        g = clamp(guidance, 0.0, 1.0)
        return clamp(g + clamp(extra, 0.0, 1.0), lim.guidance_min, lim.guidance_max)

    def bws(self, fraction_of_body_weight: float) -> float:
        """Applied body-weight support: the requested ABSOLUTE unloading (fraction of body weight,
        shown as % of body weight) clamped to the prescribed [bws_min, bws_max]."""
        lim = self.limits
        return clamp(clamp(fraction_of_body_weight, 0.0, 1.0), lim.bws_min, lim.bws_max)

    def boost(self, requested: float) -> float:
        """Swing-clearance boost 0..clearance_boost_max."""
        return clamp(requested, 0.0, self.limits.clearance_boost_max)


# Priority of each alarm reason (the core raises; the UI shows until acknowledged).
ALARM_PRIORITY: dict[int, int] = {
    AlarmReason.STOP_REQUEST: Priority.LOW,
    AlarmReason.UI_HEARTBEAT_LOST: Priority.HIGH,
    AlarmReason.TREADMILL_SILENT: Priority.HIGH,
    AlarmReason.EXO_SILENT: Priority.HIGH,
    AlarmReason.HEART_RATE_SILENT: Priority.LOW,
    AlarmReason.TREADMILL_FAULT: Priority.HIGH,
    AlarmReason.EXO_FAULT: Priority.HIGH,
    AlarmReason.HARDWARE_ESTOP: Priority.HIGH,
    AlarmReason.LOOP_OVERRUNS: Priority.HIGH,
    AlarmReason.TREADMILL_WATCHDOG: Priority.MEDIUM,
    AlarmReason.EXO_WATCHDOG: Priority.MEDIUM,
    AlarmReason.SENSOR_FROZEN: Priority.HIGH,
    AlarmReason.LINK_ERRORS: Priority.MEDIUM,
    AlarmReason.HEART_RATE_HIGH: Priority.MEDIUM,
    AlarmReason.RECORDER_FAILED: Priority.MEDIUM,
    AlarmReason.SETTING_CLAMPED: Priority.LOW,
    AlarmReason.CORE_LOST: Priority.HIGH,
    AlarmReason.INSOLES_SILENT: Priority.HIGH,
    AlarmReason.GEOMETRY_MISMATCH: Priority.MEDIUM,
    AlarmReason.STUMBLE: Priority.HIGH,
    AlarmReason.UI_VIEW_LATE: Priority.LOW,
    AlarmReason.UI_VIEW_STALE: Priority.HIGH,
}

# Reasons that force a controlled stop when raised.
STOP_REASONS = frozenset(
    {
        AlarmReason.STOP_REQUEST,
        AlarmReason.UI_HEARTBEAT_LOST,
        AlarmReason.TREADMILL_SILENT,
        AlarmReason.EXO_SILENT,
        AlarmReason.TREADMILL_FAULT,
        AlarmReason.EXO_FAULT,
        AlarmReason.HARDWARE_ESTOP,
        AlarmReason.LOOP_OVERRUNS,
        AlarmReason.TREADMILL_WATCHDOG,
        AlarmReason.EXO_WATCHDOG,
        AlarmReason.SENSOR_FROZEN,
        AlarmReason.INSOLES_SILENT,
        AlarmReason.UI_VIEW_STALE,
    }
)


class AlarmTable:
    """Fixed table of MAX_ALARMS alarms, mirrored into the state block when `dirty`.

    An alarm stays until it is acknowledged and its condition is gone. Raising a reason that is
    already shown and unacknowledged only marks it active again (no duplicate, no new event).
    """

    def __init__(self) -> None:
        # Each slot: [reason, priority, acked, active, t_s]
        self.slots: list[list] = [[0, 0, 0, 0, 0.0] for _ in range(MAX_ALARMS)]
        self.dirty = True
        self.active_bits = 0  # bit (1 << reason) per active alarm, for telemetry

    def raise_alarm(self, reason: int, t_s: float, priority: int | None = None) -> bool:
        """Show an alarm; True when it is new (the caller emits ALARM_RAISED)."""
        prio = ALARM_PRIORITY.get(reason, Priority.MEDIUM) if priority is None else priority
        self.active_bits |= 1 << reason
        free = None
        for slot in self.slots:
            if slot[0] == reason and not slot[2]:
                if not slot[3]:
                    slot[3] = 1
                    self.dirty = True
                return False
            if slot[0] == 0 and free is None:
                free = slot
        if free is None:
            # Full: reuse the lowest-priority acknowledged slot, else the oldest lowest-priority.
            free = min(self.slots, key=lambda s: (not s[2], s[1], s[4]))
        free[0], free[1], free[2], free[3], free[4] = reason, prio, 0, 1, t_s
        self.dirty = True
        return True

    def clear(self, reason: int) -> None:
        """The condition behind `reason` is gone (the alarm stays shown until acknowledged)."""
        if not self.active_bits & (1 << reason):
            return
        self.active_bits &= ~(1 << reason)
        for slot in self.slots:
            if slot[0] == reason and slot[3]:
                slot[3] = 0
                if slot[2]:
                    slot[0], slot[1] = 0, 0
                self.dirty = True

    def acknowledge(self) -> list[int]:
        """Acknowledge every shown alarm; returns the reasons newly acknowledged."""
        acked = []
        for slot in self.slots:
            if slot[0] and not slot[2]:
                slot[2] = 1
                acked.append(slot[0])
                if not slot[3]:
                    slot[0], slot[1] = 0, 0
        if acked:
            self.dirty = True
        return acked

    def is_active(self, reason: int) -> bool:
        """True while the condition behind `reason` is present."""
        return bool(self.active_bits & (1 << reason))

    def highest_unacked(self) -> int:
        """Highest priority among unacknowledged alarms (0 when none)."""
        best = 0
        for slot in self.slots:
            if slot[0] and not slot[2] and slot[1] > best:
                best = slot[1]
        return best


# ---------------------------------------------------------------------------------------------
# The patient's view: a graded response to a slow UI (docs/control.md, "A slow patient view")
# ---------------------------------------------------------------------------------------------
# A dead or hung UI (its liveness beat silent for ui_heartbeat_timeout_s, or its process gone)
# stops the belt as before. A UI that is alive but draws late gets a graded response instead:
VIEW_LATE_S = 0.1  # a view older than this is late: low alarm, belt slowed, obstacle plan held
VIEW_RECOVERED_S = 0.5  # fresh frames for this long end the late state
# Never longer than this without a fresh view, obstacle or not (design cap). A live software
# renderer under a CPU hog draws a frame every 1-3 s (bench session --hog); at 1.0 s such a view
# stopped the session although it was alive and far from any obstacle. A dead or hung UI is
# caught by its liveness beat within 100 ms, whatever this cap is.
VIEW_STALE_MAX_S = 3.5
VIEW_ERROR_MAX_M = 0.1  # near an obstacle: how far the world shown may lag the belt (0.1 s at 1 m/s)
LOOKAHEAD_STEPS = 3.0  # obstacles shape the stride up to 2 steps ahead, older adults 1 step earlier
BELT_LAG_S = 0.1  # from a stop command to the belt decelerating (added to the stopping distance)
LATE_DECEL_MPS2 = 0.1  # the gentle slowing while late (far below a prescribed deceleration)
LATE_SPEED_FRACTION = 0.5  # ...down to at most this share of the therapist's speed, and to the
# speed at which the world shown lags the belt by at most VIEW_ERROR_MAX_M at the view's own
# frame interval (with FRAME_INTERVAL_MARGIN): a slow view then meets its limit near obstacles.
FRAME_INTERVAL_MARGIN = 1.25
# The slowest the late view asks for near an obstacle: a frame every 2.7 s (with the 1.25 margin)
# still lags the belt by at most VIEW_ERROR_MAX_M (near-obstacle limit 0.1 m / 0.03 m/s = 3.3 s).
LATE_SPEED_MIN_MPS = 0.03
# ... and farther from it, where the lag is not yet used: the patient keeps walking. The lower
# floor applies from LATE_SPEED_FAR_MPS * VIEW_STALE_MAX_S (0.35 m) before the near zone, so the
# belt (slowing at LATE_DECEL_MPS2: 0.1 -> 0.03 m/s in 0.7 s, 5 cm) is there by the zone.
LATE_SPEED_FAR_MPS = 0.1


def distance_to_near_zone_m(speed_mps: float, obstacle_m: float, decel_mps2: float, step_m: float) -> float:
    """How far the patient is from the zone near the next obstacle: the belt's stopping distance
    at this speed plus LOOKAHEAD_STEPS steps before it (<= 0: in it; NaN: no obstacle)."""
    v = speed_mps if speed_mps > 0.0 else 0.0
    decel = decel_mps2 if decel_mps2 > 0.05 else 0.05
    return obstacle_m - (v * v / (2.0 * decel) + v * BELT_LAG_S) - LOOKAHEAD_STEPS * step_m


def view_stale_limit_s(speed_mps: float, obstacle_m: float, decel_mps2: float, step_m: float) -> float:
    """How long the patient's view may be stale before a controlled stop.

    Near the next obstacle (within the belt's stopping distance plus LOOKAHEAD_STEPS steps) the
    world shown lags the belt by speed x staleness, which may reach VIEW_ERROR_MAX_M (never under
    VIEW_LATE_S). Farther, the patient is not using its position yet: the view may stay stale for
    the time the belt takes, at this speed, to carry the patient to the edge of that zone, plus
    the near limit (continuous at the edge); never longer than VIEW_STALE_MAX_S.
    """
    v = speed_mps if speed_mps > 0.0 else 0.0
    if v < 0.05:
        return VIEW_STALE_MAX_S
    near_s = min(VIEW_STALE_MAX_S, max(VIEW_LATE_S, VIEW_ERROR_MAX_M / v))
    to_zone_m = distance_to_near_zone_m(v, obstacle_m, decel_mps2, step_m)
    if to_zone_m != to_zone_m:  # NaN: no obstacle ahead
        return VIEW_STALE_MAX_S
    if to_zone_m <= 0.0:
        return near_s
    return min(VIEW_STALE_MAX_S, near_s + to_zone_m / v)


class ViewPolicy:
    """Grades the age of the patient's view (time since the core saw the UI's frame counter move).

    OK: fresh. LATE: older than VIEW_LATE_S; `cap_mps` then falls at LATE_DECEL_MPS2 from the
    belt speed at the onset to `floor_mps`: LATE_SPEED_FRACTION of the therapist's cruise speed,
    or less, so that the world shown lags the belt by at most VIEW_ERROR_MAX_M at the view's
    recent frame interval (a view late from the start still walks, at that speed), but not below
    LATE_SPEED_FAR_MPS until 0.35 m before the zone near the next obstacle (LATE_SPEED_MIN_MPS there). STALE: older than view_stale_limit_s
    (sticky until the belt stands). Inactive (always OK) until a first frame was seen: a core
    driven without a view (`main.py core`, tests) has only the liveness beat.
    """

    # Final: class constants (mypyc reads a plain class-body name as an instance attribute's default).
    OK: Final = 0
    LATE: Final = 1
    STALE: Final = 2

    def __init__(self) -> None:
        self.frame_t_s = -1.0  # when the core last saw a new frame; < 0: no view yet
        self.state = self.OK
        self.cap_mps = float("inf")
        self.floor_mps = 0.0
        self.fresh_since_s = -1.0
        self.limit_s = VIEW_STALE_MAX_S
        self.interval_s = 0.0  # recent interval between frames
        self.cruise_mps = 0.0

    def frame_seen(self, t_s: float) -> None:
        """The UI's frame counter moved at t_s."""
        if self.frame_t_s >= 0.0:
            # Recent frame interval: follows a longer one at once, a shorter one slowly.
            interval = t_s - self.frame_t_s
            self.interval_s = interval if interval > self.interval_s else self.interval_s + 0.1 * (interval - self.interval_s)
        self.frame_t_s = t_s

    def late_floor_mps(self, cruise_mps: float, to_zone_m: float = 0.0) -> float:
        """The speed a late view slows the belt to (see the class docstring); to_zone_m: the
        distance to the zone near the next obstacle (distance_to_near_zone_m; NaN: none)."""
        floor = LATE_SPEED_FRACTION * cruise_mps
        lagged = VIEW_ERROR_MAX_M / (FRAME_INTERVAL_MARGIN * self.interval_s) if self.interval_s > 0.0 else floor
        if lagged < floor:
            far = not to_zone_m <= LATE_SPEED_FAR_MPS * VIEW_STALE_MAX_S  # (NaN: no obstacle, far)
            least = LATE_SPEED_FAR_MPS if far else LATE_SPEED_MIN_MPS
            floor = lagged if lagged > least else (least if least < floor else floor)
        return floor

    def age_s(self, t_s: float) -> float:
        """Seconds since the last frame (0 with no view)."""
        return t_s - self.frame_t_s if self.frame_t_s >= 0.0 else 0.0

    def update(self, t_s: float, dt_s: float, moving: bool, speed_mps: float, obstacle_m: float,
               decel_mps2: float, step_m: float, cruise_mps: float | None = None) -> int:
        """Advance one cycle; returns the state. cruise_mps: the speed asked for (default: the
        speed now)."""
        if not moving or self.frame_t_s < 0.0:
            self.state = self.OK
            self.cap_mps = float("inf")
            return self.state
        age = t_s - self.frame_t_s
        if self.state == self.STALE:
            return self.state
        if age > VIEW_LATE_S:
            if self.state == self.OK:
                self.state = self.LATE
                self.cruise_mps = speed_mps if cruise_mps is None else cruise_mps
                self.floor_mps = self.late_floor_mps(
                    self.cruise_mps, distance_to_near_zone_m(speed_mps, obstacle_m, decel_mps2, step_m))
                self.cap_mps = speed_mps if speed_mps > self.floor_mps else self.floor_mps
            self.fresh_since_s = -1.0
            self.limit_s = view_stale_limit_s(speed_mps, obstacle_m, decel_mps2, step_m)
            if age > self.limit_s:
                self.state = self.STALE
                return self.state
        elif self.state == self.LATE:
            if self.fresh_since_s < 0.0:
                self.fresh_since_s = t_s
            elif t_s - self.fresh_since_s >= VIEW_RECOVERED_S:
                self.state = self.OK
                self.cap_mps = float("inf")
                return self.state
        if self.state == self.LATE:
            self.floor_mps = self.late_floor_mps(self.cruise_mps if cruise_mps is None else cruise_mps,
                                                 distance_to_near_zone_m(speed_mps, obstacle_m, decel_mps2, step_m))
            cap = self.cap_mps - LATE_DECEL_MPS2 * clamp(dt_s, 0.0, 0.1)
            self.cap_mps = cap if cap > self.floor_mps else self.floor_mps
        return self.state
