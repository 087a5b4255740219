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

    def guidance(self, fraction: float, extra: float = 0.0) -> float:
        """Applied guidance stiffness: `fraction` of the prescribed range plus `extra` (an
        obstacle's raise, in absolute stiffness), inside [guidance_min, guidance_max]."""
        lim = self.limits
        f = clamp(fraction, 0.0, 1.0)
        g = lim.guidance_min + f * (lim.guidance_max - lim.guidance_min)
        return clamp(g + clamp(extra, 0.0, 1.0), lim.guidance_min, lim.guidance_max)

    def bws(self, fraction: float) -> float:
        """Applied body-weight-support unloading for a 0..1 fraction of the prescribed range."""
        lim = self.limits
        f = clamp(fraction, 0.0, 1.0)
        return clamp(lim.bws_min + f * (lim.bws_max - lim.bws_min), lim.bws_min, lim.bws_max)

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
