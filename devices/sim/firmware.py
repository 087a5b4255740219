"""Firmware behaviour of the simulated treadmill, exoskeleton and heart-rate sensor.

Each firmware answers the handshake, obeys commands, runs its watchdog and builds its status
frames, exactly as docs/protocol.md says a real device must. Rules every device shares:
- it powers up disarmed (in its safe state) and moves only after a REARM;
- any valid frame addressed to it feeds the watchdog; WATCHDOG_S of silence while armed puts it
  in its safe state on its own, sets the watchdog flag, and it stays there until a REARM;
- REARM is refused while the hardware e-stop is pressed or a fault is active.
All times are time.monotonic() seconds; device_time_us in frames is the same clock in us.
"""

from __future__ import annotations

import logging
import math
import random
import struct
import time
import zlib
from typing import Any, ClassVar

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, FaultCode, JointMode
from devices.sim.endpoint import Endpoint
from devices.sim.patient import ExoDrive

log = logging.getLogger(__name__)

# Trip 90 ms after the last valid command: the loop wakes for the deadline itself, so the
# safe state is reached inside the protocol's 100 ms even with a few ms of wake-up lateness.
WATCHDOG_S = 0.090
ESTOP_DECEL_MPS2 = 2.5
ENCODER_M_PER_COUNT = 1e-5
BWS_TAU_S = 0.3
GRAVITY_MPS2 = 9.81
ANKLE_TO_HEEL_M = 0.05  # foot plate behind the ankle joint (the profiles give ankle to toe only)


# Message ids and enum members read for every frame or tick, bound once (the same objects): in
# CPython 3.11 every attribute of an Enum class takes EnumType.__getattr__'s slow path (~0.3 us).
# (As plain ints: a decoded message type is an int, and int == int is CPython's fast compare.)
_HELLO, _HEARTBEAT, _REARM, _SAFE_STATE = int(p.Msg.HELLO), int(p.Msg.HEARTBEAT), int(p.Msg.REARM), int(p.Msg.SAFE_STATE)
_TM_SET_SPEED, _TM_STOP, _TM_SET_BWS = int(p.Msg.TM_SET_SPEED), int(p.Msg.TM_STOP), int(p.Msg.TM_SET_BWS)
_EXO_COMMAND, _GET_GEOMETRY = int(p.Msg.EXO_COMMAND), int(p.Msg.GET_GEOMETRY)
_HOLD = JointMode.HOLD
_TRANSPARENT = JointMode.TRANSPARENT
_MODES = (0, 1, 2)  # the JointMode values a command may carry (others: TRANSPARENT)
_MOTOR_FAULT = int(FaultCode.MOTOR)  # an int: `int & IntFlag` would build a FaultCode (~1 us)


def _clamp(x: float, low: float, high: float) -> float:
    """x within [low, high] (as min(max(x, low), high) for low <= high); NaN gives 0.0."""
    return (low if x < low else high if x > high else x) if x == x else 0.0


def _us(t_s: float) -> int:
    return int(t_s * 1e6)


class Firmware:
    """What all three devices share: handshake, arming, watchdog, e-stop, faults, freezing."""

    info: DeviceInfo
    STATUS: ClassVar[struct.Struct]  # each device's status frame layout and message type
    STATUS_MSG: ClassVar[p.Msg]
    has_watchdog = True
    kernel_wait_before_trip = False  # set by the rig for pseudo-terminal endpoints (check_watchdog)

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.seq = 0
        self.armed = False
        self.watchdog_tripped = False
        self.tripped_at_s: float | None = None
        self.last_valid_cmd_s: float | None = None
        self.estop_pressed = False
        self.fault = 0
        self.frozen: tuple | None = None  # measurement fields held while a sensor is frozen
        self.cmds_ok = 0
        self.cmds_ignored = 0  # valid but refused (disarmed, wrong device, re-arm refused)
        self.frames_unknown = 0
        self.log: list[dict] = []  # watchdog trips, safe states, re-arms (ground truth)

    # ---------------------------------------------------------------- input
    def receive(self, now_s: float, wait_kernel: bool = False) -> None:
        """Handle every valid frame that arrived since the last call (wait_kernel: see
        Endpoint.receive; only for a pty endpoint, before a watchdog trip)."""
        for body in self.endpoint.receive(wait_kernel=True) if wait_kernel else self.endpoint.receive():
            fields = p.decode_body(body)
            if fields is None:
                self.frames_unknown += 1
                continue
            msg = fields[1]
            if msg >= 0x80:
                self.frames_unknown += 1  # a device-bound link never carries device messages
                continue
            self.last_valid_cmd_s = now_s
            self.cmds_ok += 1
            if msg == _HELLO:
                self._send(p.INFO, p.Msg.INFO, now_s, p.info_fields(self.info))
            elif msg == _HEARTBEAT:
                pass
            elif msg == _REARM:
                self._rearm(now_s)
            elif msg == _SAFE_STATE:
                self.enter_safe_state(now_s, "host request")
            elif not self.command(now_s, msg, fields):
                self.cmds_ignored += 1

    def command(self, now_s: float, msg: int, fields: tuple) -> bool:
        """Device-specific command; False when refused or not for this device."""
        return False

    # ---------------------------------------------------------------- safety
    def watchdog_deadline_s(self) -> float | None:
        """When the watchdog will trip if nothing arrives; None while it cannot trip."""
        if not self.has_watchdog or not self.armed or self.last_valid_cmd_s is None:
            return None
        return self.last_valid_cmd_s + WATCHDOG_S

    def check_watchdog(self, now_s: float) -> None:
        """Trip into the safe state WATCHDOG_S after the last valid command (see watchdog_deadline_s)."""
        if not self.armed or not self.has_watchdog or self.last_valid_cmd_s is None:
            return  # cannot trip (every tick, for each device: watchdog_deadline_s's None, no call)
        deadline: float | None  # None again if the kernel's bytes disarmed it
        deadline = self.last_valid_cmd_s + WATCHDOG_S
        if now_s >= deadline and self.kernel_wait_before_trip:
            # On a pseudo-terminal the host's bytes reach this side through the kernel's flip-buffer
            # worker, a normal-priority kworker that a loaded machine starves for 100 ms and more;
            # a real device's UART has them as soon as the host wrote them. So before tripping,
            # take whatever the kernel still holds (the read waits for that worker only when it
            # has bytes pending): a host that really fell silent trips now, as before; one whose
            # commands were stuck in the kernel does not (test_gait_accuracy's TREADMILL_WATCHDOG
            # and EXO_WATCHDOG under load, issue 17).
            began = time.monotonic()
            self.receive(now_s, wait_kernel=True)
            waited_s = time.monotonic() - began
            deadline = self.watchdog_deadline_s()
            if waited_s > 0.005:
                log.warning("%s: waited %.1f ms for the kernel to deliver the host's bytes before its watchdog (%s)",
                            type(self).__name__, waited_s * 1e3,
                            "tripped" if deadline is not None and now_s >= deadline else "fed")
        if deadline is not None and now_s >= deadline:
            self.watchdog_tripped = True
            self.tripped_at_s = now_s
            self.enter_safe_state(now_s, "watchdog")

    def enter_safe_state(self, now_s: float, reason: str) -> None:
        if self.armed:
            self.log.append({"t_s": now_s, "event": "safe_state", "reason": reason})
        self.armed = False

    def _rearm(self, now_s: float) -> None:
        if self.estop_pressed or self.fault:
            self.cmds_ignored += 1
            self.log.append({"t_s": now_s, "event": "rearm_refused"})
            return
        self.watchdog_tripped = False
        if not self.armed:
            self.log.append({"t_s": now_s, "event": "armed"})
        self.armed = True

    def set_estop(self, now_s: float, pressed: bool) -> None:
        self.estop_pressed = pressed
        if pressed:
            self.enter_safe_state(now_s, "estop")

    def set_fault(self, now_s: float, bits: int, on: bool) -> None:
        self.fault = (self.fault | bits) if on else (self.fault & ~bits)
        if on:
            self.enter_safe_state(now_s, "fault")

    def set_frozen(self, on: bool) -> None:
        self.frozen = self.measurements() if on else None

    def flags(self) -> int:
        return (
            (p.FLAG_ESTOP if self.estop_pressed else 0)
            | (p.FLAG_WATCHDOG if self.watchdog_tripped else 0)
            | (p.FLAG_ARMED if self.armed else 0)
        )

    # ---------------------------------------------------------------- output
    def measurements(self) -> tuple:
        """The sensor part of the status payload (frozen as a whole by a freeze fault)."""
        raise NotImplementedError

    def send_status(self, now_s: float) -> None:
        values = self.frozen if self.frozen is not None else self.measurements()
        # As _send, without building the fields tuple twice (a status frame goes out every tick).
        self.seq = (self.seq + 1) & 0xFFFF
        self.endpoint.transmit_body(p.encode_body(self.STATUS, self.STATUS_MSG, self.seq, _us(now_s),
                                                  self.flags(), self.fault, *values))

    def _send(self, st, msg: int, now_s: float, fields: tuple) -> None:
        self.seq = (self.seq + 1) & 0xFFFF
        self.endpoint.transmit_body(p.encode_body(st, msg, self.seq, _us(now_s), *fields))

    def state(self) -> dict:
        """Device-side truth for RigHandle.status()."""
        return {
            "armed": self.armed,
            "watchdog_tripped": self.watchdog_tripped,
            "tripped_at_s": self.tripped_at_s,
            "last_valid_cmd_s": self.last_valid_cmd_s,
            "estop_pressed": self.estop_pressed,
            "fault": self.fault,
            "frozen": self.frozen is not None,
            "cmds_ok": self.cmds_ok,
            "cmds_ignored": self.cmds_ignored,
            "frames_unknown": self.frames_unknown,
            **self.endpoint.counters(),
        }


POSITION_NOISE_M = 0.002  # distance sensor noise (1 sd), a laser/ultrasound sensor at the trunk
POSITION_LIMIT_M = 0.5  # the belt's usable half-length: the sensor reads no further
POSITION_SWAY_M = 0.015  # trunk fore-aft oscillation once per step (assumed amplitude, not sourced)
POSITION_HOME_TAU_S = 10.0  # a patient off-centre drifts slowly back toward it by themselves


class TreadmillFirmware(Firmware):
    STATUS = p.TM_STATUS_POSITION
    STATUS_MSG = p.Msg.TM_STATUS

    def __init__(self, endpoint: Endpoint, serial_number: str, body_mass_kg: float) -> None:
        super().__init__(endpoint)
        self.info = DeviceInfo(
            device_type=DeviceType.TREADMILL,
            firmware_version="sim-1.0.0",
            serial_number=serial_number,
            capabilities=p.CAP_BELT | p.CAP_BWS | p.CAP_ESTOP,
            max_speed_mps=3.0,
            max_accel_mps2=1.5,
            safe_decel_mps2=0.8,
            status_rate_hz=250.0,
        )
        self.body_mass_kg = body_mass_kg
        self.speed_mps = 0.0
        self.setpoint_mps = 0.0
        self.rate_mps2 = self.info.safe_decel_mps2
        self.belt_m = 0.0
        self.bws_fraction = 0.0
        self.bws_load_n = 0.0
        # Distance sensor (self-paced mode): the patient walks over ground at their intended
        # speed, so their place on the belt integrates intent - belt speed (the rig sets patient).
        self.patient: Any = None  # PatientModel (the rig sets it)
        self.patient_position_m = 0.0  # the trunk's mean place on the belt (the truth)
        self._sway_rad = 0.0
        self._position_rng = random.Random(zlib.crc32(serial_number.encode()))

    def command(self, now_s: float, msg: int, fields: tuple) -> bool:
        if not self.armed:
            return False  # set-points are refused until re-armed
        if msg == _TM_SET_SPEED:
            speed, accel = fields[4], fields[5]
            if not (speed == speed and accel == accel):  # NaN
                return False
            self.setpoint_mps = min(max(speed, 0.0), self.info.max_speed_mps)
            self.rate_mps2 = min(max(accel, 0.01), self.info.max_accel_mps2)
            return True
        if msg == _TM_STOP:
            decel = fields[4]
            self.setpoint_mps = 0.0
            self.rate_mps2 = min(max(decel if decel == decel else 0.0, 0.05), ESTOP_DECEL_MPS2)
            return True
        if msg == _TM_SET_BWS:
            fraction = fields[4]
            if fraction == fraction:
                self.bws_fraction = min(max(fraction, 0.0), 0.6)
            return True
        return False

    def enter_safe_state(self, now_s: float, reason: str) -> None:
        super().enter_safe_state(now_s, reason)
        self.setpoint_mps = 0.0
        self.rate_mps2 = ESTOP_DECEL_MPS2 if reason == "estop" else self.info.safe_decel_mps2
        # body-weight support keeps its level: dropping the patient is never the safe choice

    def physics(self, dt_s: float) -> None:
        """Move the belt toward its set-point within the acceleration limit."""
        error = self.setpoint_mps - self.speed_mps
        step = self.rate_mps2 * dt_s
        self.speed_mps = self.setpoint_mps if abs(error) <= step else self.speed_mps + (step if error > 0 else -step)
        self.belt_m += self.speed_mps * dt_s
        if self.patient is not None and dt_s > 0.0 and self.armed:
            # (a patient stands still until the session starts and the treadmill is armed)
            pos = self.patient_position_m
            pos += (self.patient.intended_speed_mps - self.speed_mps - pos / POSITION_HOME_TAU_S) * dt_s
            if pos > POSITION_LIMIT_M:  # (as min/max would, NaN kept; cheaper every tick)
                pos = POSITION_LIMIT_M
            elif pos < -POSITION_LIMIT_M:
                pos = -POSITION_LIMIT_M
            self.patient_position_m = pos
            v = self.patient.intended_speed_mps
            if v > 0.05:  # one oscillation per step: step frequency = speed / step length
                self._sway_rad += 6.283185307179586 * v / self.patient.mean_step_length_m(v) * dt_s
        target_n = self.bws_fraction * self.body_mass_kg * GRAVITY_MPS2
        self.bws_load_n += (target_n - self.bws_load_n) * min(1.0, dt_s / BWS_TAU_S)

    def measurements(self) -> tuple:
        count = int(self.belt_m / ENCODER_M_PER_COUNT) & 0xFFFFFFFF
        position = (self.patient_position_m + POSITION_SWAY_M * math.sin(self._sway_rad)
                    + POSITION_NOISE_M * self._position_rng.gauss(0.0, 1.0))
        return (self.speed_mps, count, ENCODER_M_PER_COUNT, self.bws_load_n, position)

    def state(self) -> dict:
        return {
            **super().state(),
            "belt_speed_mps": self.speed_mps,
            "speed_setpoint_mps": self.setpoint_mps,
            "accel_limit_mps2": self.rate_mps2,
            "belt_displacement_m": self.belt_m,
            "bws_fraction": self.bws_fraction,
            "bws_load_n": self.bws_load_n,
            "patient_position_m": self.patient_position_m,
        }


class ExoFirmware(Firmware):
    STATUS = p.EXO_STATUS
    STATUS_MSG = p.Msg.EXO_STATUS

    def __init__(self, endpoint: Endpoint, serial_number: str, patient, safe_mode: JointMode) -> None:
        super().__init__(endpoint)
        self.info = DeviceInfo(
            device_type=DeviceType.EXOSKELETON,
            firmware_version="sim-1.0.0",
            serial_number=serial_number,
            capabilities=p.CAP_JOINTS | p.CAP_INSOLES | p.CAP_ESTOP | p.CAP_SWING_BOOST,
            joint_min_rad=(-0.35, 0.0, -0.35, 0.0),
            joint_max_rad=(0.9, 1.4, 0.9, 1.4),
            status_rate_hz=500.0,
        )
        self.patient = patient
        self.safe_mode = JointMode(safe_mode)
        self._command_fields: tuple | None = None  # the latest EXO_COMMAND (see command_drive)
        self._command_drive: ExoDrive | None = None
        self._safe_drive: tuple[int, ExoDrive] | None = None

    def command(self, now_s: float, msg: int, fields: tuple) -> bool:
        if msg == _GET_GEOMETRY:
            self._send(p.EXO_GEOMETRY, p.Msg.EXO_GEOMETRY, now_s, self.geometry_fields())
            return True
        if msg != _EXO_COMMAND:
            return False
        # Kept as received and turned into the drive when the patient next reads it (the last
        # command before a rig tick is the one applied: the host sends two per tick).
        self._command_fields = fields
        self._command_drive = None
        return self.armed  # stored either way; applied only while armed

    @property
    def command_drive(self) -> ExoDrive:
        """The latest command as the motors apply it: modes checked, values clamped, NaN = 0."""
        drive = self._command_drive
        if drive is None:
            f = self._command_fields
            if f is None:
                drive = ExoDrive()
            else:
                m0, m1, m2, m3 = f[4], f[5], f[6], f[7]
                modes = (m0 if m0 in _MODES else _TRANSPARENT, m1 if m1 in _MODES else _TRANSPARENT,
                         m2 if m2 in _MODES else _TRANSPARENT, m3 if m3 in _MODES else _TRANSPARENT)
                lo, hi = self.info.joint_min_rad, self.info.joint_max_rad
                # Element by element (a drive is built every rig tick: comprehensions and min/max
                # calls cost several times more here).
                refs = (_clamp(f[9], lo[0], hi[0]), _clamp(f[10], lo[1], hi[1]),
                        _clamp(f[11], lo[2], hi[2]), _clamp(f[12], lo[3], hi[3]))
                v0, v1, v2, v3 = f[13], f[14], f[15], f[16]
                vels = (v0 if v0 == v0 else 0.0, v1 if v1 == v1 else 0.0, v2 if v2 == v2 else 0.0,
                        v3 if v3 == v3 else 0.0)
                drive = ExoDrive(
                    modes=modes,
                    stiffness=_clamp(f[8], 0.0, 1.0),
                    ref_angle_rad=refs,
                    ref_velocity_radps=vels,
                    clearance_boost=(_clamp(f[17], 0.0, 1.0), _clamp(f[18], 0.0, 1.0)),
                )
            self._command_drive = drive
        return drive

    def geometry_fields(self) -> tuple:
        """EXO_GEOMETRY payload: the links as fitted to this patient, and the foot plate."""
        pr = self.patient.profile
        heel = getattr(pr, "heel_to_ankle_m", ANKLE_TO_HEEL_M)
        leg = (pr.thigh_m, pr.shank_m, pr.foot_height_m, pr.foot_length_m, heel)
        return (*leg, *leg)

    def drive(self) -> ExoDrive:
        """What the motors do now: the host's command while armed, else the safe mode."""
        if self.armed:
            return self.command_drive
        mode = int(self.safe_mode)
        safe = self._safe_drive
        if safe is None or safe[0] != mode:  # nothing reads a drive and changes it: one will do
            safe = self._safe_drive = (mode, ExoDrive(modes=(mode, mode, mode, mode)))
        return safe[1]

    @property
    def holding(self) -> bool:
        return not self.armed and self.safe_mode == _HOLD

    def measurements(self) -> tuple:
        pt = self.patient
        torque = pt.motor_torque_nm if not (self.fault & _MOTOR_FAULT) else (0.0, 0.0, 0.0, 0.0)
        return (*pt.angle_rad, *pt.velocity_radps, *torque, *pt.interaction_torque_nm, *pt.pressure)

    def state(self) -> dict:
        d = self.drive()
        return {
            **super().state(),
            "safe_mode": self.safe_mode.name.lower(),
            "modes": list(d.modes),
            "stiffness": d.stiffness,
            "clearance_boost": list(d.clearance_boost),
            "angle_rad": list(self.patient.angle_rad),
            "toe_height_m": list(self.patient.toe_height_m),
        }


class HeartRateFirmware(Firmware):
    """A chest-strap style sensor: streams at 1 Hz, no actuators, so no watchdog or arming."""

    STATUS = p.HR_STATUS
    STATUS_MSG = p.Msg.HR_STATUS
    has_watchdog = False

    def __init__(self, endpoint: Endpoint, serial_number: str, patient) -> None:
        super().__init__(endpoint)
        self.info = DeviceInfo(
            device_type=DeviceType.HEART_RATE,
            firmware_version="sim-1.0.0",
            serial_number=serial_number,
            capabilities=p.CAP_HEART_RATE,
            status_rate_hz=1.0,
        )
        self.patient = patient
        self.armed = True
        self.heart_rate_bpm = patient.heart_rate_bpm

    def enter_safe_state(self, now_s: float, reason: str) -> None:
        pass  # nothing to make safe

    def sample(self) -> None:
        self.heart_rate_bpm = self.patient.heart_rate_sample()

    def measurements(self) -> tuple:
        return (self.heart_rate_bpm,)

    def state(self) -> dict:
        return {**super().state(), "heart_rate_bpm": self.heart_rate_bpm}
