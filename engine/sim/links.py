"""In-process device links for `simulate`: the rig's firmware and the serial drivers, no ports.

The same bytes flow as on a pseudo-terminal: the serial drivers encode frames, the rig's
firmware decodes and answers them, and the drivers decode the status frames with their own code
(`SerialTreadmill`, `SerialExoskeleton`, `SerialHeartRate`: the device driver interface of
devices/base.py, as the control core uses them live). Only the transport differs: two in-memory
byte queues per device instead of a pseudo-terminal, and a simulated clock stamps `last_rx_s`
(live: time.monotonic()). Line faults (cut, corrupt, stall) act on these bytes as on a port.
The handshake is replaced by the device's own DeviceInfo (what it would have answered).

Frame bodies skip CRC and COBS while the line has no fault to apply to bytes: a sender's
`send_body` / `transmit_body` queues the body itself and the other side gets it back as its
stream decoder would have returned it (same bytes, same order; `bytes_rx` counts the framed
length). Both only protect bytes on a wire; every decode the receiving driver or firmware does
(`decode_body`, its status parsing) still runs. With a fault on, or bytes or a partial frame
still queued, frames go through the byte stream as before, so faults act exactly as on a port.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from devices.base import LinkStats
from devices.discovery import OpenedDevices
from devices.framing import StreamDecoder, wrap
from devices.serial_exoskeleton import SerialExoskeleton
from devices.serial_heart_rate import SerialHeartRate
from devices.serial_insoles import SerialInsoles
from devices.serial_link import SerialDevice
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
        # Unframed bodies queued ahead of those bytes (module doc): only while no fault is on.
        self.bodies_to_device: list[bytes] = []
        self.bodies_to_host: list[bytes] = []
        self.host_decoder: StreamDecoder | None = None  # the host link's (MemoryLink sets it)

    def plain_to_device(self, body: bytes) -> bool:
        """A body from the host may skip framing: nothing to corrupt, nothing queued as bytes."""
        return (self.corrupt_fraction == 0.0 and not self.to_device and not self.decoder._pending
                and len(body) <= _PLAIN_MAX)

    def receive(self, wait_kernel: bool = False) -> list[bytes]:
        # wait_kernel (devices/sim/endpoint.py: bytes a pty's kernel worker still holds) means
        # nothing in memory: every byte sent is already here
        bodies = self.bodies_to_device
        if not self.to_device and not bodies:
            return []
        if bodies:
            self.bodies_to_device = []
        if self.cut:
            self.to_device.clear()
            return []
        if bodies and self.corrupt_fraction > 0.0:
            # Corruption switched on since they were queued: it acts on the bytes as they are
            # read, so they are read as bytes (framed as they would have been sent).
            self.to_device[:0] = b"".join([wrap(body) for body in bodies])
            bodies = []
        self.bytes_rx += _framed_bytes(bodies)
        if not self.to_device:
            return bodies
        data = bytes(self.to_device)
        self.to_device.clear()
        self.bytes_rx += len(data)
        if self.corrupt_fraction > 0.0:
            data, self._skip_rx = self._corrupt(data, self._skip_rx)
        return bodies + self.decoder.feed(data)  # the bodies were queued first

    def transmit(self, frame: bytes) -> None:
        if self.cut or self.stalled:
            return
        if self.corrupt_fraction > 0.0:
            frame, self._skip_tx = self._corrupt(frame, self._skip_tx)
        self.to_host += frame
        self.frames_tx += 1

    def transmit_body(self, body: bytes) -> None:
        if self.cut or self.stalled:
            return
        decoder = self.host_decoder
        if (self.corrupt_fraction > 0.0 or self.to_host or len(body) > _PLAIN_MAX
                or (decoder is not None and decoder._pending)):
            self.transmit(wrap(body))
            return
        self.bodies_to_host.append(body)
        self.frames_tx += 1

    def close(self) -> None:
        self.to_device.clear()
        self.to_host.clear()
        self.bodies_to_device.clear()
        self.bodies_to_host.clear()


# A body this long or shorter frames with exactly one COBS code byte (no 254-byte block):
# framed length = body + 4 (CRC) + 1 (code byte) + 1 (delimiter).
_PLAIN_MAX = 240


def _framed_bytes(bodies: list[bytes]) -> int:
    """Bytes these bodies take on the line once framed (bodies of at most _PLAIN_MAX bytes)."""
    n = 0
    for body in bodies:  # (one or two bodies a call: a loop beats sum over a comprehension)
        n += len(body) + 6
    return n


class MemoryLink:
    """The host side of an in-memory link: what SerialLink offers the drivers."""

    stall_end_s = 0.0  # no port reader waits in a kernel here (read by the core's silence check)
    reader = None  # no PortReader thread: reads are the core's own, on the simulated clock

    def __init__(self, endpoint: MemoryEndpoint) -> None:
        self.endpoint = endpoint
        self.port_name = endpoint.path
        self.decoder = StreamDecoder()
        endpoint.host_decoder = self.decoder
        self.stats = LinkStats()
        self.seq = 0

    def flush_input(self) -> None:
        self.endpoint.to_host.clear()
        self.endpoint.bodies_to_host.clear()
        self.decoder.reset()

    def read_bodies(self) -> list[bytes]:
        ep = self.endpoint
        bodies = ep.bodies_to_host
        buf = ep.to_host
        if not buf:
            if not bodies:
                return []
            ep.bodies_to_host = []
            self.stats.bytes_rx += _framed_bytes(bodies)
            return bodies
        if bodies:
            ep.bodies_to_host = []
            self.stats.bytes_rx += _framed_bytes(bodies)
        data = bytes(buf)
        buf.clear()
        self.stats.bytes_rx += len(data)
        bad_before = self.decoder.bad
        decoded = self.decoder.feed(data)
        self.stats.frames_bad += self.decoder.bad - bad_before
        return bodies + decoded if bodies else decoded  # the bodies were queued first

    def send(self, frame: bytes) -> bool:
        self.endpoint.to_device += frame
        self.stats.frames_tx += 1
        return True

    def send_body(self, body: bytes) -> bool:
        ep = self.endpoint
        if ep.plain_to_device(body):
            ep.bodies_to_device.append(body)
            self.stats.frames_tx += 1
            return True
        return self.send(wrap(body))

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def close(self) -> None:
        pass


def _in_process(driver_cls):
    """A subclass of a serial driver that talks over a MemoryLink and stamps the sim clock."""

    driver_poll = driver_cls.poll  # (called directly: this runs for every device every core cycle)
    # The rig sends only on its 2 ms tick, so half the polls find nothing; SerialDevice.poll then
    # reads nothing and changes nothing, so it is not called (the insoles' poll only zeroes its
    # per-poll sample count then: that is done here).
    skip_empty = driver_poll is SerialDevice.poll
    clear_pending = driver_poll is SerialInsoles.poll  # with nothing queued, it only zeroes `pending`

    class InProcess(driver_cls):
        def __init__(self, endpoint: MemoryEndpoint, info, clock: Callable[[], float]) -> None:
            self._clock = clock
            driver_cls.__init__(self, endpoint, info)  # its own set-up; _open below takes the link

        def _open(self, endpoint: MemoryEndpoint, info) -> None:
            self.port = endpoint.path
            self.link = MemoryLink(endpoint)
            self.stats = self.link.stats
            # A live driver opens with a handshake: the device's INFO answer is its first frame
            # (SerialDevice.handshake). In-process the rig's info is taken as that answer, heard now.
            # (Never heard, -inf, the heart-rate check, which has no start-up grace, raised "heart-rate
            # sensor silent" on the first cycle of every simulated session and demo history.)
            self.last_rx_s = self._clock()
            self._last_dev_seq = None
            self.info = info  # what the device answers to HELLO (no handshake in-process)

        def poll(self) -> int:
            if skip_empty or clear_pending:
                ep = self.link.endpoint
                if not ep.to_host and not ep.bodies_to_host:
                    if clear_pending:
                        self.pending = 0
                    return 0
            count = driver_poll(self)
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
