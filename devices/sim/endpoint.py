"""The device side of one serial link in the virtual rig: a pseudo-terminal plus line faults.

The rig holds the master side; the host opens the slave path (`/dev/pts/N`) exactly as it would
open `/dev/ttyUSB0`. Faults act here, on the bytes, the way a bad cable or a hung UART would:
`cut` drops everything both ways, `corrupt` flips a share of bytes both ways, `stall` stops the
device's output while it still listens.
"""

from __future__ import annotations

import array
import fcntl
import math
import os
import random
import termios
import tty

from devices.framing import StreamDecoder, wrap


class Endpoint:
    """One pseudo-terminal with non-blocking reads and writes and injectable line faults."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.master, self._slave = os.openpty()
        # Raw mode: no echo, no line editing, no CR/LF translation of our binary frames.
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self._init_line(rng)

    def _init_line(self, rng: random.Random) -> None:
        """The decoder, line-fault switches and counters every endpoint kind shares."""
        self.decoder = StreamDecoder()
        self._rng = rng
        self.cut = False
        self.stalled = False
        self.corrupt_fraction = 0.0
        self._skip_tx = 0
        self._skip_rx = 0
        self.frames_tx = 0
        self.tx_dropped = 0
        self.bytes_rx = 0
        self.bytes_corrupted = 0

    def _bytes_waiting(self) -> int:
        """Bytes the line discipline holds for us now (FIONREAD; never waits)."""
        count = array.array("i", [0])
        try:
            fcntl.ioctl(self.master, termios.FIONREAD, count, True)
        except OSError:
            return 1  # let read() report what is wrong (EIO: nobody has the slave open)
        return count[0]

    def receive(self, wait_kernel: bool = False) -> list[bytes]:
        """Checked frame bodies the host sent since the last call (empty while cut).

        Reads only what FIONREAD says has arrived: a read() of an empty tty waits inside the kernel
        for the flip-buffer worker (tty_buffer_flush_work), a normal-priority kworker that a loaded
        machine starves, and this single-threaded rig then stopped ticking for tens of ms, every
        device fell silent at once and the core stopped for it (measured: a silence with the
        core's own reader idle and no bytes queued). A device's UART never waits for the PC;
        bytes still in the flip buffer arrive on a later tick.

        wait_kernel: read anyway, waiting for that worker if it has the host's bytes pending (a
        read returns at once when nothing is pending). For a watchdog about to trip only: the
        bytes a host wrote are on a real device's wire, whatever the PC's kworker does."""
        if not wait_kernel and not self._bytes_waiting():
            return []
        chunks = []
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                break  # EAGAIN: nothing waiting; EIO: no host has the slave open
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < 4096:
                break
        if not chunks or self.cut:
            return []
        data = b"".join(chunks)
        self.bytes_rx += len(data)
        if self.corrupt_fraction > 0.0:
            data, self._skip_rx = self._corrupt(data, self._skip_rx)
        return self.decoder.feed(data)

    def transmit(self, frame: bytes) -> None:
        """Send one frame to the host unless the link is cut or the device stalled."""
        if self.cut or self.stalled:
            return
        if self.corrupt_fraction > 0.0:
            frame, self._skip_tx = self._corrupt(frame, self._skip_tx)
        try:
            written = os.write(self.master, frame)
        except (BlockingIOError, OSError):
            written = 0
        if written == len(frame):
            self.frames_tx += 1
        else:
            self.tx_dropped += 1  # nobody reading and the buffer is full: a UART drops too

    def transmit_body(self, body: bytes) -> None:
        """Send one frame body (protocol.encode_body): framed with CRC and COBS, then `transmit`."""
        self.transmit(wrap(body))

    def _corrupt(self, data: bytes, skip: int) -> tuple[bytes, int]:
        """Flip bytes at geometric gaps so on average `corrupt_fraction` of bytes change."""
        n = len(data)
        if skip >= n:
            return data, skip - n
        buf = bytearray(data)
        i = skip
        rng = self._rng
        fraction = self.corrupt_fraction
        log_keep = math.log(1.0 - fraction) if fraction < 1.0 else None
        while i < n:
            buf[i] ^= rng.randrange(1, 256)
            self.bytes_corrupted += 1
            gap = 0 if log_keep is None else int(math.log(1.0 - rng.random()) / log_keep)
            i += 1 + gap
        return bytes(buf), i - n

    def counters(self) -> dict:
        """Link counters and fault switches, for RigHandle.status()."""
        return {
            "port": self.path,
            "cut": self.cut,
            "stalled": self.stalled,
            "corrupt_fraction": self.corrupt_fraction,
            "frames_tx": self.frames_tx,
            "tx_dropped": self.tx_dropped,
            "bytes_rx": self.bytes_rx,
            "frames_rx_bad": self.decoder.bad,
            "bytes_corrupted": self.bytes_corrupted,
        }

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
