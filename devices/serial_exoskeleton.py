"""Exoskeleton driver over the StepSync serial protocol (hip and knee per leg, insoles)."""

from __future__ import annotations

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, ExoGeometry, Exoskeleton, ExoStatus
from devices.serial_link import SerialDevice, _monotonic_us, apply_common

_EXO_COMMAND = p.Msg.EXO_COMMAND  # sent every core cycle: an Enum class attribute is slow in CPython 3.11


class SerialExoskeleton(SerialDevice, Exoskeleton):
    """An exoskeleton on a serial port; `poll()` keeps `status` current without blocking."""

    DEVICE_TYPE = DeviceType.EXOSKELETON
    STATUS_MSG = p.Msg.EXO_STATUS

    def __init__(self, port: str, info: DeviceInfo | None = None) -> None:
        self.status = ExoStatus()
        self.geometry: ExoGeometry | None = None  # set when the device answers GET_GEOMETRY
        self._open(port, info)

    def _apply_status(self, fields: tuple) -> None:
        s = self.status
        apply_common(s, fields)
        # Slice assignment keeps the lists the caller may hold references to.
        s.angle_rad[:] = fields[6:10]
        s.velocity_radps[:] = fields[10:14]
        s.motor_torque_nm[:] = fields[14:18]
        s.interaction_torque_nm[:] = fields[18:22]
        s.pressure[:] = fields[22:26]

    def _apply_other(self, msg: int, fields: tuple) -> bool:
        if msg != p.Msg.EXO_GEOMETRY:
            return False
        v = fields[4:14]
        if not all(0.0 <= x < 2.0 for x in v):  # NaN or nonsense: not a geometry
            return False
        self.geometry = ExoGeometry(
            thigh_m=(v[0], v[5]), shank_m=(v[1], v[6]), ankle_height_m=(v[2], v[7]),
            ankle_to_toe_m=(v[3], v[8]), ankle_to_heel_m=(v[4], v[9]),
        )
        return True

    def request_geometry(self) -> None:
        """Ask for the fitted link lengths and foot plate (answered by EXO_GEOMETRY into `geometry`)."""
        self._send_empty(p.Msg.GET_GEOMETRY)

    def set_command(
        self,
        modes: tuple[int, int, int, int],
        stiffness: float,
        ref_angle_rad: tuple[float, float, float, float],
        ref_velocity_radps: tuple[float, float, float, float],
        clearance_boost: tuple[float, float],
    ) -> None:
        """Per-joint mode, guidance stiffness 0..1, reference for this instant, swing boost per leg (0..1)."""
        link = self.link
        link.send_body(
            p.encode_body(
                p.EXO_COMMAND, _EXO_COMMAND, link.next_seq(), _monotonic_us(),
                *modes, stiffness, *ref_angle_rad, *ref_velocity_radps, *clearance_boost,
            )
        )

    def safe_mode(self) -> None:
        """Go to the configured safe mode (HOLD or TRANSPARENT) now."""
        self._send_empty(p.Msg.SAFE_STATE)
