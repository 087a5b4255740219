"""Treadmill driver over the StepSync serial protocol (belt speed, body-weight support)."""

from __future__ import annotations

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, Treadmill, TreadmillStatus
from devices.serial_link import SerialDevice, _monotonic_us, apply_common

_NAN = float("nan")
_TM_SET_SPEED = p.Msg.TM_SET_SPEED  # sent every cycle of a ramp: an Enum class attribute is slow in CPython 3.11


class SerialTreadmill(SerialDevice, Treadmill):
    """A treadmill on a serial port; `poll()` keeps `status` current without blocking."""

    DEVICE_TYPE = DeviceType.TREADMILL
    STATUS_MSG = p.Msg.TM_STATUS

    def __init__(self, port: str, info: DeviceInfo | None = None) -> None:
        self.status = TreadmillStatus()
        self._open(port, info)

    def _apply_status(self, fields: tuple) -> None:
        s = self.status
        apply_common(s, fields)
        s.belt_speed_mps = fields[6]
        s.encoder_count = fields[7]
        s.encoder_m_per_count = fields[8]
        s.bws_load_n = fields[9]
        s.patient_position_m = fields[10] if len(fields) > 10 else _NAN  # older firmware: no sensor

    def set_speed(self, speed_mps: float, accel_mps2: float) -> None:
        """Belt speed set-point and the acceleration limit to reach it with."""
        link = self.link
        link.send_body(
            p.encode_body(
                p.TM_SET_SPEED, _TM_SET_SPEED, link.next_seq(), _monotonic_us(),
                speed_mps, accel_mps2,
            )
        )

    def set_bws(self, unloading_fraction: float) -> None:
        """Body-weight-support unloading as a fraction of body weight (0..1)."""
        link = self.link
        link.send_body(
            p.encode_body(p.TM_SET_BWS, p.Msg.TM_SET_BWS, link.next_seq(), _monotonic_us(), unloading_fraction)
        )

    def stop(self, decel_mps2: float) -> None:
        """Decelerate the belt to zero at the given rate (the device stays armed)."""
        link = self.link
        link.send_body(p.encode_body(p.TM_STOP, p.Msg.TM_STOP, link.next_seq(), _monotonic_us(), decel_mps2))

    def safe_state(self) -> None:
        """Ask the treadmill to stop at its own safe deceleration and disarm."""
        self._send_empty(p.Msg.SAFE_STATE)
