"""The port reader thread and the core's silence rule around it, on real pseudo-terminals."""

from __future__ import annotations

import os
import threading
import time

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType
from devices.serial_exoskeleton import SerialExoskeleton
from devices.serial_link import KERNEL_WAIT_MIN_S, PortReader
from engine.control.core import RX_STALL_LIMIT_S, ControlCore

EXO_INFO = DeviceInfo(DeviceType.EXOSKELETON, "t", "2", 0, status_rate_hz=500.0)


def exo_status(seq: int, angle: float) -> bytes:
    values = [angle, 0.2, 0.3, 0.4] + [0.0] * 12 + [0.5, 0.6, 0.7, 0.8]
    return p.encode(p.EXO_STATUS, p.Msg.EXO_STATUS, seq, 1000 + seq, p.FLAG_ARMED, 0, *values)


def poll_until(exo, count: int, timeout_s: float = 10.0) -> int:
    """Poll like the core does until `count` frames were decoded (the reader reads in between)."""
    got = 0
    deadline = time.monotonic() + timeout_s
    while got < count and time.monotonic() < deadline:
        got += exo.poll()
        time.sleep(0.001)
    return got


def test_the_reader_delivers_every_frame_in_order_and_stamps_when_it_read_them(pty_pair):
    master, path = pty_pair
    with SerialExoskeleton(path, EXO_INFO) as exo:
        reader = PortReader([exo.link]).start()
        assert exo.link.reader is reader
        before = time.monotonic()
        for seq in range(1, 21):
            os.write(master, exo_status(seq, angle=0.01 * seq))
        assert poll_until(exo, 20) == 20
        assert abs(exo.status.angle_rad[0] - 0.2) < 1e-6  # the last frame written is the last applied
        assert exo.stats.seq_gaps == 0 and exo.stats.frames_bad == 0
        # last_rx_s is when the bytes left the kernel, which is after they were written
        assert before <= exo.last_rx_s <= time.monotonic()
        assert reader.kernel_wait_s(time.monotonic()) == 0.0  # nothing waits in the kernel now
        reader.stop()
        assert exo.link.reader is None
        # Bytes written after the stop are read by the link itself again.
        os.write(master, exo_status(21, angle=0.5))
        assert poll_until(exo, 1) == 1
        assert abs(exo.status.angle_rad[0] - 0.5) < 1e-6


def test_closing_a_device_stops_its_reader(pty_pair):
    _, path = pty_pair
    exo = SerialExoskeleton(path, EXO_INFO)
    reader = PortReader([exo.link]).start()
    exo.close()
    assert not reader._thread.is_alive()


def test_a_read_that_is_slow_for_another_reason_is_not_taken_for_a_kernel_wait():
    """kernel_wait_s confirms with the thread's wait channel: a reader asleep elsewhere (here in
    nanosleep) is not waiting for the flip-buffer worker, however long its read looks."""
    reader = PortReader([])
    asleep = threading.Event()

    def sleeper() -> None:
        reader.native_id = threading.get_native_id()
        asleep.set()
        time.sleep(30.0)  # still asleep whenever a loaded machine lets the test look (daemon thread)

    thread = threading.Thread(target=sleeper, daemon=True)
    thread.start()
    asleep.wait(5.0)
    time.sleep(0.05)
    now = time.monotonic()
    reader._read_since_s = now - 0.03
    assert reader.kernel_wait_s(now) == 0.0
    thread.join()


class _Device:
    """What ControlCore._silent reads of a driver (a SerialDevice answers the same)."""

    def __init__(self, last_rx_s: float, waiting_s: float = 0.0, stall_end_s: float = 0.0,
                 blind_s: float = 0.0) -> None:
        self.last_rx_s = last_rx_s
        self.waiting_s = waiting_s
        self.stall_end_s = stall_end_s
        self.blind_s = blind_s

    def rx_kernel_wait_s(self, now_s: float) -> float:
        return self.waiting_s

    def rx_stall_end_s(self) -> float:
        return self.stall_end_s

    def rx_blind_s(self) -> float:
        return self.blind_s


def test_silence_rule_counts_only_time_the_host_could_receive():
    silent = ControlCore._silent
    limit = 0.02
    t = 100.0
    assert not silent(_Device(t - 0.019), t, limit, 0.0)
    assert silent(_Device(t - 0.021), t, limit, 0.0)  # heard 21 ms ago, nothing in the kernel
    # The core itself stalled until 10 ms ago: timed from then.
    assert not silent(_Device(t - 0.05), t, limit, t - 0.01)
    # The reader is waiting in the kernel for bytes the device sent: not silent, up to the limit.
    assert not silent(_Device(t - 0.05, waiting_s=0.04), t, limit, 0.0)
    assert silent(_Device(t - 0.5, waiting_s=RX_STALL_LIMIT_S + 0.001), t, limit, 0.0)
    # After a wait, silence is timed from its end: a device that died meanwhile is caught 20 ms later.
    assert not silent(_Device(t - 0.08, stall_end_s=t - 0.015), t, limit, 0.0)
    assert silent(_Device(t - 0.08, stall_end_s=t - 0.025), t, limit, 0.0)
    # A 48 ms wait on another port since this device's last frame: that time is left out (its
    # frames could not be read), and nothing more: heard 52 ms ago -> 4 ms of silence; 70 -> 22.
    assert not silent(_Device(t - 0.052, blind_s=0.048), t, limit, 0.0)
    assert silent(_Device(t - 0.070, blind_s=0.048), t, limit, 0.0)
    # Left out up to RX_STALL_LIMIT_S: a host blind for longer than the devices' watchdog stops.
    assert silent(_Device(t - RX_STALL_LIMIT_S - 0.025, blind_s=1.0), t, limit, 0.0)
    assert KERNEL_WAIT_MIN_S < limit
    # The virtual rig late 40 ms since the frame (engine/control/rig_lateness.py): that much is
    # left out and nothing more, added to the reader's blind time: heard 55 ms ago -> 15 ms of
    # silence; 65 -> 25; with 5 ms of reader blindness as well, 65 -> 20.
    assert not silent(_Device(t - 0.055), t, limit, 0.0, 0.040)
    assert silent(_Device(t - 0.065), t, limit, 0.0, 0.040)
    assert not silent(_Device(t - 0.065, blind_s=0.0051), t, limit, 0.0, 0.040)
    # All of it together never more than RX_STALL_LIMIT_S: the reader blind 90 ms and the rig late
    # 30 ms (one stall of the VM counts in both), or the core stalled until just now, or a kernel
    # wait still in progress: a device unheard for limit + RX_STALL_LIMIT_S is silent.
    gone_s = t - limit - RX_STALL_LIMIT_S - 0.001
    assert not silent(_Device(t - 0.115, blind_s=0.090), t, limit, 0.0, 0.030)  # 100 left out: 15 ms
    assert silent(_Device(gone_s, blind_s=0.090), t, limit, 0.0, 0.030)
    assert silent(_Device(gone_s), t, limit, t - 0.001)
    assert silent(_Device(gone_s, stall_end_s=t - 0.001), t, limit, 0.0)
    assert silent(_Device(gone_s, waiting_s=0.050), t, limit, 0.0)


class _SlowLink:
    """A link whose read takes `read_s` (a wait in the kernel, as far as the reader can tell)."""

    def __init__(self, read_s: float) -> None:
        self.fd = -1
        self.reader = None
        self.stall_end_s = 0.0
        self.read_s = read_s
        self.reads = 0

    def _read_now(self) -> bytes:
        self.reads += 1
        time.sleep(self.read_s)
        return b""


def test_a_wait_on_one_port_blinds_the_reader_to_the_others(pty_pair):
    """While the reader waits on one port it reads none of the others: their devices' silence
    leaves that time out (rx_blind_s), and only time after their newest frame counts."""
    master, path = pty_pair
    slow = _SlowLink(0.0)
    with SerialExoskeleton(path, EXO_INFO) as exo:
        reader = PortReader([exo.link, slow]).start()
        os.write(master, exo_status(1, angle=0.1))
        assert poll_until(exo, 1) == 1
        before = exo.rx_blind_s()  # a read preempted past 2 ms on a busy machine counts too
        slow.read_s = 0.03  # the other port's reads now wait 30 ms each
        reads = slow.reads
        deadline = time.monotonic() + 10.0
        while slow.reads < reads + 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        slow.read_s = 0.0
        assert exo.rx_blind_s() - before >= 2 * 0.03  # two whole waits finished since the frame was read
        assert slow.stall_end_s > exo.last_rx_s  # the wait's own port: timed from its end
        # A new frame restarts the count: blind time before it says nothing about what follows.
        blind_before_frame = reader.blind_s
        os.write(master, exo_status(2, angle=0.2))
        assert poll_until(exo, 1) == 1
        assert exo.last_rx_blind_s >= blind_before_frame
        reader.stop()


def test_a_reader_held_off_its_pass_is_blind_meanwhile(pty_pair):
    """A reader that gets no CPU or no GIL when a pass is due reads no port: that time is blind
    (left out of every device's silence, `rx_blind_s`), as a wait in the kernel is, and it says so
    while it lasts (`blind_now_s`). Here this thread keeps the GIL 40 ms (a C sleep that does not
    release it), as a busy core process or another real-time task would hold the reader off."""
    import ctypes

    keeping_gil = ctypes.PyDLL(None)  # its usleep does not release the GIL
    master, path = pty_pair
    with SerialExoskeleton(path, EXO_INFO) as exo:
        reader = PortReader([exo.link]).start()
        os.write(master, exo_status(1, angle=0.1))
        assert poll_until(exo, 1) == 1
        blind_before, late_before = exo.rx_blind_s(), reader.late_passes
        # Take the GIL while the reader sleeps between passes (a pass in progress when held off
        # counts once it ends, as any read over KERNEL_WAIT_MIN_S does: not what this test is for).
        deadline = time.monotonic() + 10.0
        while not (reader._due_s and reader._due_s - time.monotonic() > 0.0003) and time.monotonic() < deadline:
            time.sleep(0.0001)
        keeping_gil.usleep(ctypes.c_uint(40_000))
        deadline = time.monotonic() + 10.0
        while reader.late_passes == late_before and time.monotonic() < deadline:
            time.sleep(0.002)
        assert reader.late_passes > late_before
        assert exo.rx_blind_s() - blind_before >= 0.03  # most of the 40 ms, once the pass began
        reader.stop()
    # While it lasts (the thread cannot be watched from the one holding it off: the GIL goes to
    # it first): a pass due 30 ms ago and not begun is blind now; one due 1 ms ago is on time.
    now = time.monotonic()
    reader._due_s = now - 0.03
    assert abs(reader.blind_now_s(now) - 0.03) < 1e-9
    reader._due_s = now - 0.001
    assert reader.blind_now_s(now) == 0.0
