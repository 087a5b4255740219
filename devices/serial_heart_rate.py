"""Heart-rate sensor driver over the StepSync serial protocol (1 Hz status)."""

from __future__ import annotations

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, HeartRateSensor, HeartRateStatus
from devices.serial_link import SerialDevice, apply_common


class SerialHeartRate(SerialDevice, HeartRateSensor):
    """A heart-rate sensor on a serial port; `poll()` keeps `status` current without blocking."""

    DEVICE_TYPE = DeviceType.HEART_RATE
    STATUS_MSG = p.Msg.HR_STATUS

    def __init__(self, port: str, info: DeviceInfo | None = None) -> None:
        self.status = HeartRateStatus()
        self._open(port, info)

    def _apply_status(self, fields: tuple) -> None:
        apply_common(self.status, fields)
        self.status.heart_rate_bpm = fields[6]
