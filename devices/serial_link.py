"""A non-blocking serial link and the common part of every serial driver.

`SerialLink` owns the port (pyserial), reads whatever bytes are waiting straight from the file
descriptor, feeds the stream decoder and writes whole frames without ever blocking: a write the
OS cannot take now is dropped and counted. `SerialDevice` adds the handshake, status decoding
hooks, heartbeat and re-arm shared by the treadmill, exoskeleton, insole and heart-rate drivers.

`PortReader` moves the reads of several links into one thread (the control core starts one):
a `read()` of a tty whose line discipline is empty waits inside the kernel for the tty
flip-buffer worker (`tty_buffer_flush_work`), a normal-priority kworker that a loaded machine
starves, so a real-time loop that reads its ports itself stalls with it. The reader takes those
waits instead, and says how long it has been waiting: bytes the device sent are queued in the
kernel meanwhile, which is not the device falling silent (docs/control.md, "Device silence").
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time

import serial

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, LinkStats
from devices.framing import StreamDecoder, wrap

log = logging.getLogger(__name__)

BAUD_RATE = 921600  # real adapters; a pseudo-terminal ignores it
READ_CHUNK = 8192
# A non-blocking read that takes longer than this waited in the kernel for the flip-buffer worker
# (nothing else in a tty read sleeps; an RT reader is preempted only by the core, ~0.1-1 ms).
KERNEL_WAIT_MIN_S = 0.002
READER_PERIOD_S = 0.001  # the reader tries every port once a millisecond (a 1 kHz core's cycle)


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
        self.read_at_s = 0.0  # time.monotonic() when the newest decoded bytes left the kernel
        self.reader: PortReader | None = None  # set while a PortReader reads this port
        self.stall_end_s = 0.0  # when the reader's last wait in the kernel on this port ended
        # The reader's blind time (PortReader.blind_s) when the newest decoded bytes were read.
        self.read_blind_s = 0.0
        self._rx: collections.deque[tuple[float, bytes, float]] = collections.deque()
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
        """Everything waiting, decoded into checked frame bodies; never raises. With a reader it
        never blocks (it takes what the reader has read); without one, a tty read can wait for
        the kernel's flip-buffer worker (see the module docstring)."""
        if self.reader is not None or self._rx:
            return self._take_read()
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
        self.read_at_s = time.monotonic()
        return self._decode(data)

    def _take_read(self) -> list[bytes]:
        """Decode the chunks the reader thread queued (deque appends and pops are thread-safe)."""
        queue = self._rx
        if not queue:
            return []
        chunks = []
        while queue:
            at_s, chunk, blind_s = queue.popleft()
            chunks.append(chunk)
        self.read_at_s = at_s
        self.read_blind_s = blind_s
        return self._decode(b"".join(chunks))

    def _read_now(self) -> bytes:
        """One non-blocking read of everything waiting (reader thread); b"" when nothing was."""
        data = b""
        try:
            chunk = os.read(self.fd, READ_CHUNK)
            data = chunk
            while len(chunk) == READ_CHUNK:
                chunk = os.read(self.fd, READ_CHUNK)
                data += chunk
        except OSError:
            pass  # EAGAIN: nothing waiting; EIO: the other end went away, which looks like silence
        return data

    def _decode(self, data: bytes) -> list[bytes]:
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

    def send_body(self, body: bytes) -> bool:
        """Frame one body (protocol.encode_body: CRC, COBS, delimiter) and send it as `send` does."""
        return self.send(wrap(body))

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def close(self) -> None:
        if self.reader is not None:
            self.reader.stop()
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass


class PortReader:
    """One thread that reads several links every millisecond, so that their owner never waits in
    the kernel for the tty flip-buffer worker (module docstring).

    It runs at SCHED_FIFO `priority` when given and allowed (one below the core's: it never
    preempts the loop, and normal-priority load never delays it), on the CPUs its creator may use
    (the core starts it after pinning itself, so both share the core's CPU).
    `kernel_wait_s(now)` says how long its current read has been waiting in the kernel for bytes
    a device already sent (no port is read meanwhile); each link's `stall_end_s` is when the last
    such wait on that port ended. `blind_s` adds up every finished wait, on any port, and every
    pass that began late (the thread got no CPU or no GIL when it was due): while the thread
    waits on one port, or does not run, it reads none of them, so a device's silence must not
    count that time (`SerialDevice.rx_blind_s`); `overdue_s(now)` is a late pass still to begin.
    """

    def __init__(self, links: list[SerialLink], priority: int = 0, period_s: float = READER_PERIOD_S) -> None:
        self.links = [link for link in links if link.fd is not None]
        self.priority = priority
        self.period_s = period_s
        self.stall_end_s = 0.0
        self.blind_s = 0.0  # total length of the finished kernel waits, all ports together
        self.stalls = 0  # reads that waited in the kernel longer than KERNEL_WAIT_MIN_S
        self.longest_stall_s = 0.0
        self.native_id = 0
        self.pass_end_s = 0.0  # when the thread last finished reading every port
        self.late_passes = 0  # passes that began more than KERNEL_WAIT_MIN_S after they were due
        self.longest_late_s = 0.0
        self._read_since_s = 0.0  # start of the read in progress, 0.0 between reads
        self._due_s = 0.0  # when the next pass is due while the thread sleeps, 0.0 in a pass
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stepsync-port-reader", daemon=True)

    def start(self) -> PortReader:
        """Hand the links' reads to the thread; returns self."""
        for link in self.links:
            link.reader = self
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the thread; the links read for themselves again."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(1.0)
        for link in self.links:
            if link.reader is self:
                link.reader = None  # read_bodies drains what the thread queued, then reads itself

    def kernel_wait_s(self, now_s: float) -> float:
        """Seconds the read in progress has waited in the kernel (0.0 when it has not): confirmed
        by the thread's wait channel where /proc shows it, so a reader merely preempted or waiting
        for the GIL does not count."""
        since = self._read_since_s
        if since == 0.0 or now_s - since < KERNEL_WAIT_MIN_S:
            return 0.0
        try:
            with open(f"/proc/self/task/{self.native_id}/wchan") as f:
                channel = f.read()
        except OSError:
            channel = ""
        if channel and channel != "0" and "flush_work" not in channel:
            return 0.0
        since = self._read_since_s  # it may have returned while we looked
        return now_s - since if since else 0.0

    def overdue_s(self, now_s: float) -> float:
        """Seconds the thread is past the start of a pass it has not begun (0.0 when it is not,
        or by no more than KERNEL_WAIT_MIN_S): it did not get a CPU (or the GIL), so no port is
        read meanwhile, as in a kernel wait (a host late, not a device silent)."""
        due = self._due_s
        late = now_s - due if due else 0.0
        return late if late > KERNEL_WAIT_MIN_S else 0.0

    def blind_now_s(self, now_s: float) -> float:
        """How long the reader has been unable to read any port, now: a read waiting in the kernel
        (`kernel_wait_s`) or a pass overdue (`overdue_s`); 0.0 when it is reading on time."""
        return max(self.kernel_wait_s(now_s), self.overdue_s(now_s))

    def diagnosis(self, now_s: float) -> str:
        """The reader's state for a log line (a silence alarm says whether the host was waiting)."""
        since = self._read_since_s
        try:
            with open(f"/proc/self/task/{self.native_id}/stat") as f:
                sched_state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/self/task/{self.native_id}/wchan") as f:
                channel = f.read()
        except (OSError, IndexError):
            sched_state = channel = "?"
        reading = f"in a read for {(now_s - since) * 1e3:.1f} ms" if since else "between reads"
        reading += f", last pass over the ports ended {(now_s - self.pass_end_s) * 1e3:.1f} ms ago"
        return (f"reader {reading}, state {sched_state} in {channel}; last kernel wait ended "
                f"{(now_s - self.stall_end_s) * 1e3:.0f} ms ago; {self.stalls} waits, longest "
                f"{self.longest_stall_s * 1e3:.1f} ms; {self.late_passes} late passes, longest "
                f"{self.longest_late_s * 1e3:.1f} ms")

    def _run(self) -> None:
        self.native_id = threading.get_native_id()
        if self.priority > 0:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.priority))  # this thread
            except (OSError, AttributeError):
                log.info("port reader: SCHED_FIFO %d refused; reading at normal priority", self.priority)
        clock = time.monotonic
        period = self.period_s
        next_s = clock()
        stop = self._stop
        while not stop.is_set():
            late = clock() - next_s
            self._due_s = 0.0
            if late > KERNEL_WAIT_MIN_S:
                # Woken this late (no CPU, or no GIL): no port was read meanwhile, as in a wait in
                # the kernel, so every device's silence leaves it out (blind_s); not a port's own
                # wait (no stall_end_s). Without it a reader held off 5 ms by other real-time
                # work took 5 ms of the insoles' 20 ms (CI: INSOLES_SILENT, "state R").
                self.blind_s += late
                self.late_passes += 1
                if late > self.longest_late_s:
                    self.longest_late_s = late
            for link in self.links:
                start = clock()
                self._read_since_s = start
                data = link._read_now()
                self._read_since_s = 0.0
                end = clock()
                waited = end - start
                if waited > KERNEL_WAIT_MIN_S:
                    # Its own port's silence is timed from the end of the wait (the device sent
                    # the bytes it waited for); every port's silence leaves out its length (none
                    # was read meanwhile), not more: a 2.4 ms wait on the exoskeleton's port that
                    # restarted every clock put a cut treadmill's stop 33 ms after the cut, and
                    # one that no other clock left out stopped a live treadmill after a 48 ms
                    # wait on another port (bench session).
                    link.stall_end_s = end
                    self.stall_end_s = end
                    self.blind_s += waited
                    self.stalls += 1
                    if waited > self.longest_stall_s:
                        self.longest_stall_s = waited
                if data:
                    link._rx.append((end, data, self.blind_s))
            next_s += period
            now = clock()
            self.pass_end_s = now
            if next_s <= now:
                next_s = now + period  # late (a stall): re-anchor rather than burst
            self._due_s = next_s
            time.sleep(next_s - now)


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
        self.last_rx_blind_s = 0.0  # the reader's blind_s when last_rx_s was read
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
            # When the bytes left the kernel (a reader thread may have read them a cycle ago).
            link = self.link
            if isinstance(link, SerialLink):
                self.last_rx_s = link.read_at_s
                self.last_rx_blind_s = link.read_blind_s
            else:
                self.last_rx_s = time.monotonic()
        return count

    def rx_kernel_wait_s(self, now_s: float) -> float:
        """How long the port's reader has been unable to read, now: waiting in the kernel for
        bytes this device sent, or overdue for its next pass (PortReader.blind_now_s); 0.0 when
        it is reading on time, or nothing reads for this driver."""
        reader = getattr(self.link, "reader", None)
        return reader.blind_now_s(now_s) if reader is not None else 0.0

    def rx_diagnosis(self, now_s: float) -> str:
        """Where the port's reader is, for a log line ("no reader" without one)."""
        reader = getattr(self.link, "reader", None)
        return reader.diagnosis(now_s) if reader is not None else "no reader"

    def rx_stall_end_s(self) -> float:
        """When the reader's last wait in the kernel on this port ended (0.0: never, no reader)."""
        return getattr(self.link, "stall_end_s", 0.0)

    def rx_blind_s(self) -> float:
        """How long, since this device's newest frame was read, the reader was waiting in the
        kernel on some port (finished waits; the one in progress is `rx_kernel_wait_s`): time in
        which nothing read this port (0.0 without a reader)."""
        reader = getattr(self.link, "reader", None)
        return reader.blind_s - self.last_rx_blind_s if reader is not None else 0.0

    def _apply_status(self, fields: tuple) -> None:
        raise NotImplementedError

    def _apply_other(self, msg: int, fields: tuple) -> bool:
        """A device-specific message besides status and INFO; False = not expected here."""
        return False

    def _send_empty(self, msg: int) -> None:
        self.link.send_body(p.encode_body(p.EMPTY, msg, self.link.next_seq(), _monotonic_us()))

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
