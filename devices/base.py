"""What a treadmill, an exoskeleton, smart insoles and a heart-rate sensor can do, independent of transport.

The control core talks only to these interfaces. `devices/serial_*.py` implement them over the
wire protocol in docs/protocol.md; the virtual rig (`devices/sim/`) is a device source on the far
side of a real pseudo-terminal, not a mock of these classes.

Contract for every driver (the control core calls these at 1 kHz):
- `poll()` never blocks: it reads what bytes are waiting, decodes whole frames, updates
  `status` and `last_rx_s`, and returns how many valid frames it decoded. Bad frames are counted
  in `stats`, never raised.
- Command methods encode and write one frame without blocking (a full OS buffer counts a drop).
- `close()` releases the port; drivers are context managers.
Angles are radians, speeds m/s, forces newtons, times seconds unless a name says otherwise.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field

LEFT, RIGHT = 0, 1
HIP, KNEE = 0, 1


class DeviceType(enum.IntEnum):
    TREADMILL = 1
    EXOSKELETON = 2
    HEART_RATE = 3
    INSOLES = 4  # a pair of instrumented insoles behind one receiver (one port)


class JointMode(enum.IntEnum):
    TRANSPARENT = 0  # motors follow the patient, near-zero interaction torque
    GUIDANCE = 1  # impedance around the reference trajectory, stiffness 0..1
    HOLD = 2  # hold the current angle (the exoskeleton's usual safe mode)


class FaultCode(enum.IntFlag):
    NONE = 0
    MOTOR = 1 << 0
    OVERCURRENT = 1 << 1
    ENCODER = 1 << 2
    OVERTEMP = 1 << 3
    SENSOR = 1 << 4
    COMMS = 1 << 5


@dataclass
class DeviceInfo:
    """Handshake answer: who is on the port and what it can do."""

    device_type: DeviceType
    firmware_version: str
    serial_number: str
    capabilities: int
    max_speed_mps: float = 0.0  # treadmill
    max_accel_mps2: float = 0.0  # treadmill
    safe_decel_mps2: float = 0.0  # treadmill, used by its watchdog stop
    joint_min_rad: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # hipL kneeL hipR kneeR
    joint_max_rad: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    status_rate_hz: float = 0.0


@dataclass
class LinkStats:
    """Counters a driver keeps; never reset while the port is open."""

    frames_ok: int = 0
    frames_bad: int = 0  # CRC, length, COBS or version errors
    bytes_rx: int = 0
    frames_tx: int = 0
    tx_dropped: int = 0  # writes that would have blocked
    seq_gaps: int = 0  # frames the device sent that never arrived


@dataclass
class DeviceCommon:
    """Status fields every device reports."""

    device_time_us: int = 0
    seq: int = 0
    estop_pressed: bool = False
    fault: int = 0  # FaultCode bits
    watchdog_tripped: bool = False  # device is in its safe state until re-armed
    armed: bool = False


@dataclass
class TreadmillStatus(DeviceCommon):
    belt_speed_mps: float = 0.0
    encoder_count: int = 0  # belt displacement, counts since power-up (wraps at 2**32)
    encoder_m_per_count: float = 1e-5
    bws_load_n: float = 0.0  # body-weight-support unloading force measured
    patient_position_m: float = float("nan")  # distance sensor: patient along the belt (NaN: none)


@dataclass
class ExoStatus(DeviceCommon):
    # index [LEFT*2 + HIP] etc.: hipL, kneeL, hipR, kneeR
    angle_rad: list[float] = field(default_factory=lambda: [0.0] * 4)
    velocity_radps: list[float] = field(default_factory=lambda: [0.0] * 4)
    motor_torque_nm: list[float] = field(default_factory=lambda: [0.0] * 4)
    interaction_torque_nm: list[float] = field(default_factory=lambda: [0.0] * 4)
    # heelL, toeL, heelR, toeR as a fraction of body weight on that sensor (0..~1.5)
    pressure: list[float] = field(default_factory=lambda: [0.0] * 4)


@dataclass
class HeartRateStatus(DeviceCommon):
    heart_rate_bpm: float = 0.0


@dataclass
class ExoGeometry:
    """The exoskeleton's fitted geometry per leg (left, right), metres; the ankle has no sensor."""

    thigh_m: tuple[float, float] = (0.0, 0.0)
    shank_m: tuple[float, float] = (0.0, 0.0)
    ankle_height_m: tuple[float, float] = (0.0, 0.0)  # ankle joint above the sole
    ankle_to_toe_m: tuple[float, float] = (0.0, 0.0)  # along the sole
    ankle_to_heel_m: tuple[float, float] = (0.0, 0.0)

    def leg_length_m(self, side: int) -> float:
        """Hip joint to floor with the leg straight and the foot flat."""
        return self.thigh_m[side] + self.shank_m[side] + self.ankle_height_m[side]


@dataclass
class InsoleStatus(DeviceCommon):
    """One sample of both insoles; device_time_us is the sample time on the insole's clock."""

    # heel, midfoot, toe force per foot: [heelL, midL, toeL, heelR, midR, toeR], newtons
    force_n: list[float] = field(default_factory=lambda: [0.0] * 6)
    # foot frame (x toe-ward along the sole, y to the foot's left, z up from the sole), per foot
    # [xL, yL, zL, xR, yR, zR]; gyro y positive = toe going down
    accel_mps2: list[float] = field(default_factory=lambda: [0.0] * 6)
    gyro_radps: list[float] = field(default_factory=lambda: [0.0] * 6)
    samples: int = 0  # samples decoded since the port opened (the core integrates each one)
    # lateral half of heel, midfoot, toe per foot (insoles with medial/lateral cells), NaN without
    lateral_n: list[float] = field(default_factory=lambda: [float("nan")] * 6)


class Device(abc.ABC):
    """Common part of every driver."""

    info: DeviceInfo | None
    stats: LinkStats
    last_rx_s: float  # time.monotonic() of the last valid frame, 0.0 before any

    @abc.abstractmethod
    def poll(self) -> int:
        """Read and decode whatever is waiting without blocking; return valid frames decoded."""

    @abc.abstractmethod
    def send_heartbeat(self) -> None:
        """Tell the device the host is alive (feeds its watchdog)."""

    @abc.abstractmethod
    def rearm(self) -> None:
        """Leave the watchdog/fault safe state; only honoured when the cause is gone."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Treadmill(Device):
    status: TreadmillStatus

    @abc.abstractmethod
    def set_speed(self, speed_mps: float, accel_mps2: float) -> None:
        """Belt speed set-point and the acceleration limit to reach it with."""

    @abc.abstractmethod
    def set_bws(self, unloading_fraction: float) -> None:
        """Body-weight-support unloading as a fraction of body weight (0..1)."""

    @abc.abstractmethod
    def stop(self, decel_mps2: float) -> None:
        """Decelerate the belt to zero at the given rate."""


class Exoskeleton(Device):
    status: ExoStatus

    @abc.abstractmethod
    def set_command(
        self,
        modes: tuple[int, int, int, int],
        stiffness: float,
        ref_angle_rad: tuple[float, float, float, float],
        ref_velocity_radps: tuple[float, float, float, float],
        clearance_boost: tuple[float, float],
    ) -> None:
        """Per-joint mode, guidance stiffness 0..1, reference for this instant, swing boost per leg (0..1)."""

    @abc.abstractmethod
    def safe_mode(self) -> None:
        """Go to the configured safe mode (HOLD or TRANSPARENT) now."""


class HeartRateSensor(Device):
    status: HeartRateStatus


class Insoles(Device):
    """A pair of smart insoles: pressure cells under heel, midfoot and toe, and a 6-axis IMU per foot.

    Sensors only, but with a watchdog like every device (REARM starts streaming armed; without
    host frames for 100 ms they keep streaming with the watchdog flag set).
    `poll()` calls `on_sample(status)` for every sample decoded, in order, when set: at 100-200 Hz
    several samples can arrive in one control cycle, and integrating the gyro needs each.
    """

    status: InsoleStatus

    def haptic(self, foot_mask: int, pulses: int, intensity: float, pulse_us: int) -> bool:
        """Vibrate the feet in foot_mask (bit 0 left, bit 1 right): pulses x pulse_us on, as long
        off between them, at intensity 0..1. False when the insoles have no motor (no CAP_HAPTIC)."""
        return False
