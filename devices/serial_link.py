"""A non-blocking serial link and the common part of every serial driver.

`SerialLink` owns the port (pyserial), reads whatever bytes are waiting straight from the file
descriptor, feeds the stream decoder and writes whole frames without ever blocking: a write the
OS cannot take now is dropped and counted. `SerialDevice` adds the handshake, status decoding
hooks, heartbeat and re-arm shared by the treadmill, exoskeleton, insole and heart-rate drivers.
"""

from __future__ import annotations

import logging
import os
import time

import serial

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, LinkStats
from devices.framing import StreamDecoder

log = logging.getLogger(__name__)

BAUD_RATE = 921600  # real adapters; a pseudo-terminal ignores it
READ_CHUNK = 8192


class DeviceError(RuntimeError):
    """A port could not be opened, or nothing (or the wrong device) answered the handshake."""


def _monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class SerialLink:
    """One open port: non-blocking frame reads and writes, with counters."""

    def __init__(self, port: str) -> None:
        self.port_name = port
        try:
            self.port = serial.serial_for_url(
                port, baudrate=BAUD_RATE, timeout=0, write_timeout=0, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(f"{port}: cannot open: {exc}") from exc
        try:
            self.fd: int | None = self.port.fileno()
            os.set_blocking(self.fd, False)
        except (AttributeError, OSError, serial.SerialException):
            self.fd = None  # URL handlers (loop://) have no descriptor: use pyserial's read
        self.decoder = StreamDecoder()
        self.stats = LinkStats()
        self.seq = 0
        self._resync = False  # a partial write left a broken frame: start the next with 0x00
        self.flush_input()

    def flush_input(self) -> None:
        """Discard bytes that arrived before we were listening."""
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError):
            pass
        self.decoder.reset()

    def read_bodies(self) -> list[bytes]:
        """Everything waiting, decoded into checked frame bodies; never blocks, never raises."""
        data = b""
        try:
            if self.fd is not None:
                chunk = os.read(self.fd, READ_CHUNK)
                data = chunk
                while len(chunk) == READ_CHUNK:
                    chunk = os.read(self.fd, READ_CHUNK)
                    data += chunk
            else:
                waiting = self.port.in_waiting
                if waiting:
                    data = self.port.read(waiting)
        except BlockingIOError:
            pass
        except (OSError, serial.SerialException):
            return []  # the other end went away (EIO on a pty): looks like silence
        if not data:
            return []
        self.stats.bytes_rx += len(data)
        bad_before = self.decoder.bad
        bodies = self.decoder.feed(data)
        self.stats.frames_bad += self.decoder.bad - bad_before
        return bodies

    def send(self, frame: bytes) -> bool:
        """Write one encoded frame without blocking; False (and counted) if it was dropped."""
        if self._resync:
            frame = b"\x00" + frame
        try:
            if self.fd is not None:
                written = os.write(self.fd, frame)
            else:
                written = self.port.write(frame) or 0
        except (BlockingIOError, serial.SerialTimeoutException):
            written = 0
        except (OSError, serial.SerialException):
            written = 0
        if written == len(frame):
            self._resync = False
            self.stats.frames_tx += 1
            return True
        self._resync = written > 0
        self.stats.tx_dropped += 1
        return False

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass


class SerialDevice:
    """Mixin with the behaviour every serial driver shares (poll, handshake, heartbeat, re-arm).

    Subclasses set `DEVICE_TYPE`, `STATUS_MSG` and implement `_apply_status(fields)`.
    """

    DEVICE_TYPE: DeviceType
    STATUS_MSG: int
    HANDSHAKE_TIMEOUT_S = 0.5

    def _open(self, port: str, info: DeviceInfo | None) -> None:
        self.port = port
        self.link = SerialLink(port)
        self.stats: LinkStats = self.link.stats
        self.last_rx_s = 0.0
        self._last_dev_seq: int | None = None
        self.info = info
        if info is None:
            try:
                self.info = self.handshake(self.HANDSHAKE_TIMEOUT_S)
            except DeviceError:
                self.link.close()
                raise
        elif info.device_type != self.DEVICE_TYPE:
            self.link.close()
            raise DeviceError(f"{port}: is a {info.device_type.name}, not a {self.DEVICE_TYPE.name}")

    def handshake(self, timeout_s: float = 0.5) -> DeviceInfo:
        """Ask who is there and wait (blocking, up to timeout_s) for the device's INFO answer."""
        deadline = time.monotonic() + timeout_s
        next_hello = 0.0
        while True:
            now = time.monotonic()
            if now >= next_hello:
                self._send_empty(p.Msg.HELLO)
                next_hello = now + 0.1  # ask again: the first one may have hit line noise
            self.poll()
            if self._handshake_info is not None:
                info = self._handshake_info
                if info.device_type != self.DEVICE_TYPE:
                    raise DeviceError(
                        f"{self.port}: is a {info.device_type.name}, not a {self.DEVICE_TYPE.name}"
                    )
                return info
            if now >= deadline:
                raise DeviceError(f"{self.port}: no {self.DEVICE_TYPE.name} answered in {timeout_s} s")
            time.sleep(0.005)

    _handshake_info: DeviceInfo | None = None

    def poll(self) -> int:
        """Decode every frame waiting on the port; returns how many valid status frames."""
        bodies = self.link.read_bodies()
        if not bodies:
            return 0
        count = 0
        status_msg = self.STATUS_MSG
        for body in bodies:
            fields = p.decode_body(body)
            if fields is None:
                self.stats.frames_bad += 1
                continue
            msg = fields[1]
            if msg == status_msg:
                seq = fields[2]
                last = self._last_dev_seq
                if last is not None:
                    gap = (seq - last - 1) & 0xFFFF
                    if gap and gap < 0x8000:
                        self.stats.seq_gaps += gap
                self._last_dev_seq = seq
                self._apply_status(fields)
                count += 1
            elif msg == p.Msg.INFO:
                info = p.info_from_fields(fields[4:])
                if info is None:
                    self.stats.frames_bad += 1
                    continue
                self._handshake_info = info
                count += 1
            elif not self._apply_other(msg, fields):
                self.stats.frames_bad += 1  # a host-bound message we do not expect here
                continue
            self.stats.frames_ok += 1
        if count:
            self.last_rx_s = time.monotonic()
        return count

    def _apply_status(self, fields: tuple) -> None:
        raise NotImplementedError

    def _apply_other(self, msg: int, fields: tuple) -> bool:
        """A device-specific message besides status and INFO; False = not expected here."""
        return False

    def _send_empty(self, msg: int) -> None:
        self.link.send(p.encode(p.EMPTY, msg, self.link.next_seq(), _monotonic_us()))

    def send_heartbeat(self) -> None:
        """Tell the device the host is alive (feeds its watchdog)."""
        self._send_empty(p.Msg.HEARTBEAT)

    def rearm(self) -> None:
        """Ask the device to leave its safe state; honoured only without e-stop or fault."""
        self._send_empty(p.Msg.REARM)

    def close(self) -> None:
        """Release the port."""
        self.link.close()


def apply_common(status, fields: tuple) -> None:
    """Copy header and flag fields (positions 2..5 of a status message) into `status`."""
    status.seq = fields[2]
    status.device_time_us = fields[3]
    flags = fields[4]
    status.estop_pressed = bool(flags & p.FLAG_ESTOP)
    status.watchdog_tripped = bool(flags & p.FLAG_WATCHDOG)
    status.armed = bool(flags & p.FLAG_ARMED)
    status.fault = fields[5]
