"""Smart-insole driver over the StepSync serial protocol (a pair: pressure cells and IMU per foot).

The insoles stream INSOLE_STATUS at their own rate (100-200 Hz); several samples can arrive in
one control cycle. `poll()` decodes each into `status` in turn and also copies it into
`sample_buf[0:pending]` (preallocated rows: device time in us, then the 18 per-foot values in
wire order, then the 6 lateral-half forces of insoles with medial/lateral cells, NaN without), so a caller integrating the gyro sees every sample with its own device time, not
just the last; `on_sample`, when set, is called for each one as well.
"""

from __future__ import annotations

from collections.abc import Callable

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, Insoles, InsoleStatus
from devices.serial_link import SerialDevice, _monotonic_us, apply_common

F = p.INSOLE_FOOT_FIELDS
LAT = p.INSOLE_LATERAL_FIELDS
MAX_PENDING = 64  # samples kept per poll: 320 ms at 200 Hz
ROW = 1 + 2 * F + 2 * LAT
_NO_LATERAL = (float("nan"),) * (2 * LAT)


class SerialInsoles(SerialDevice, Insoles):
    """A pair of insoles on a serial port; `poll()` keeps `status` current without blocking."""

    DEVICE_TYPE = DeviceType.INSOLES
    STATUS_MSG = p.Msg.INSOLE_STATUS

    def __init__(self, port: str, info: DeviceInfo | None = None,
                 on_sample: Callable[[InsoleStatus], None] | None = None) -> None:
        self.status = InsoleStatus()
        self.on_sample = on_sample
        self.sample_buf = [[0.0] * ROW for _ in range(MAX_PENDING)]
        self.pending = 0
        self.samples_overwritten = 0  # more than MAX_PENDING in one poll: the newest replaced the last
        self._open(port, info)

    def poll(self) -> int:
        """Decode every frame waiting; `sample_buf[0:pending]` holds this call's samples."""
        self.pending = 0
        return super().poll()

    def haptic(self, foot_mask: int, pulses: int, intensity: float, pulse_us: int) -> bool:
        """Send INSOLE_HAPTIC (docs/protocol.md) without blocking; False when the insoles have no
        motor (INFO without CAP_HAPTIC: older insoles would count the frame as bad) or the write
        was dropped."""
        info = self.info
        if info is None or not info.capabilities & p.CAP_HAPTIC:
            return False
        link = self.link
        return bool(link.send_body(p.encode_body(
            p.INSOLE_HAPTIC, p.Msg.INSOLE_HAPTIC, link.next_seq(), _monotonic_us(), foot_mask & 3,
            min(max(int(pulses), 0), 255), float(intensity), min(max(int(pulse_us), 0), 0xFFFFFFFF))))

    def _apply_status(self, fields: tuple) -> None:
        s = self.status
        apply_common(s, fields)
        values = fields[6:6 + 2 * F]
        # Slice assignment keeps the lists the caller may hold references to.
        s.force_n[0:3] = values[0:3]
        s.force_n[3:6] = values[F:F + 3]
        s.accel_mps2[0:3] = values[3:6]
        s.accel_mps2[3:6] = values[F + 3:F + 6]
        s.gyro_radps[0:3] = values[6:9]
        s.gyro_radps[3:6] = values[F + 6:F + 9]
        s.samples += 1
        k = self.pending
        if k < MAX_PENDING:
            self.pending = k + 1
        else:
            k = MAX_PENDING - 1
            self.samples_overwritten += 1
        row = self.sample_buf[k]
        lateral = fields[6 + 2 * F:6 + 2 * F + 2 * LAT]
        if len(lateral) == 2 * LAT:
            s.lateral_n[0:6] = lateral
        else:
            lateral = _NO_LATERAL
            s.lateral_n[0:6] = lateral
        row[0] = float(fields[3])
        row[1:1 + 2 * F] = values
        row[1 + 2 * F:ROW] = lateral
        if self.on_sample is not None:
            self.on_sample(s)
