"""In-process device links for `simulate`: the rig's firmware and the serial drivers, no ports.

The same bytes flow as on a pseudo-terminal: the serial drivers encode frames, the rig's
firmware decodes and answers them, and the drivers decode the status frames with their own code
(`SerialTreadmill`, `SerialExoskeleton`, `SerialHeartRate`: the device driver interface of
devices/base.py, as the control core uses them live). Only the transport differs: two in-memory
byte queues per device instead of a pseudo-terminal, and a simulated clock stamps `last_rx_s`
(live: time.monotonic()). Line faults (cut, corrupt, stall) act on these bytes as on a port.
The handshake is replaced by the device's own DeviceInfo (what it would have answered).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from devices.base import LinkStats
from devices.discovery import OpenedDevices
from devices.framing import StreamDecoder
from devices.serial_exoskeleton import SerialExoskeleton
from devices.serial_heart_rate import SerialHeartRate
from devices.serial_insoles import SerialInsoles
from devices.serial_treadmill import SerialTreadmill
from devices.sim.endpoint import Endpoint


class MemoryEndpoint(Endpoint):
    """The device side of an in-memory link (same faults and counters as a pseudo-terminal)."""

    def __init__(self, name: str, rng: random.Random) -> None:  # noqa: D107 - no pty: see class doc
        self.name = name
        self.path = f"mem://{name}"
        self._init_line(rng)  # the same fault switches and counters as a pseudo-terminal
        self.to_device = bytearray()  # written by the host's driver
        self.to_host = bytearray()  # read by the host's driver

    def receive(self) -> list[bytes]:
        if not self.to_device:
            return []
        data = bytes(self.to_device)
        self.to_device.clear()
        if self.cut:
            return []
        self.bytes_rx += len(data)
        if self.corrupt_fraction > 0.0:
            data, self._skip_rx = self._corrupt(data, self._skip_rx)
        return self.decoder.feed(data)

    def transmit(self, frame: bytes) -> None:
        if self.cut or self.stalled:
            return
        if self.corrupt_fraction > 0.0:
            frame, self._skip_tx = self._corrupt(frame, self._skip_tx)
        self.to_host += frame
        self.frames_tx += 1

    def close(self) -> None:
        self.to_device.clear()
        self.to_host.clear()


class MemoryLink:
    """The host side of an in-memory link: what SerialLink offers the drivers."""

    def __init__(self, endpoint: MemoryEndpoint) -> None:
        self.endpoint = endpoint
        self.port_name = endpoint.path
        self.decoder = StreamDecoder()
        self.stats = LinkStats()
        self.seq = 0

    def flush_input(self) -> None:
        self.endpoint.to_host.clear()
        self.decoder.reset()

    def read_bodies(self) -> list[bytes]:
        buf = self.endpoint.to_host
        if not buf:
            return []
        data = bytes(buf)
        buf.clear()
        self.stats.bytes_rx += len(data)
        bad_before = self.decoder.bad
        bodies = self.decoder.feed(data)
        self.stats.frames_bad += self.decoder.bad - bad_before
        return bodies

    def send(self, frame: bytes) -> bool:
        self.endpoint.to_device += frame
        self.stats.frames_tx += 1
        return True

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def close(self) -> None:
        pass


def _in_process(driver_cls):
    """A subclass of a serial driver that talks over a MemoryLink and stamps the sim clock."""

    class InProcess(driver_cls):
        def __init__(self, endpoint: MemoryEndpoint, info, clock: Callable[[], float]) -> None:
            self._clock = clock
            driver_cls.__init__(self, endpoint, info)  # its own set-up; _open below takes the link

        def _open(self, endpoint: MemoryEndpoint, info) -> None:
            self.port = endpoint.path
            self.link = MemoryLink(endpoint)
            self.stats = self.link.stats
            self.last_rx_s = -math.inf
            self._last_dev_seq = None
            self.info = info  # what the device answers to HELLO (no handshake in-process)

        def poll(self) -> int:
            count = super().poll()
            if count:
                self.last_rx_s = self._clock()  # the simulated clock, not time.monotonic()
            return count

    InProcess.__name__ = driver_cls.__name__.replace("Serial", "InProcess")
    InProcess.__qualname__ = InProcess.__name__
    return InProcess


InProcessTreadmill = _in_process(SerialTreadmill)
InProcessExoskeleton = _in_process(SerialExoskeleton)
InProcessHeartRate = _in_process(SerialHeartRate)
InProcessInsoles = _in_process(SerialInsoles)


def open_in_process(rig, clock: Callable[[], float]) -> OpenedDevices:
    """Drivers for every device of a Rig built with MemoryEndpoint links (as open_devices opens
    the rig's ports live)."""
    return OpenedDevices(
        treadmill=InProcessTreadmill(rig.endpoints["treadmill"], rig.treadmill.info, clock),
        exoskeleton=InProcessExoskeleton(rig.endpoints["exoskeleton"], rig.exo.info, clock),
        heart_rate=InProcessHeartRate(rig.endpoints["heart_rate"], rig.hr.info, clock),
        insoles=InProcessInsoles(rig.endpoints["insoles"], rig.insoles.info, clock),
    )
