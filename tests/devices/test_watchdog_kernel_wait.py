"""A device's watchdog before it trips: host bytes still held by the kernel are taken first.

On a pseudo-terminal the host's bytes reach the rig through the kernel's flip-buffer worker (a
normal-priority kworker a loaded machine starves); a real device's UART has them at once. The
rule (Firmware.check_watchdog): before tripping, read once more waiting for the kernel; bytes
found there feed the watchdog, nothing found trips it as before. The kernel's pending bytes are
what this stand-in endpoint holds back from a plain receive()."""

from __future__ import annotations

import random

from devices import protocol as p
from devices.sim.endpoint import Endpoint
from devices.sim.firmware import WATCHDOG_S, TreadmillFirmware


class HeldByKernel:
    """An endpoint whose host bytes are still in the kernel: only a waiting read gets them."""

    def __init__(self, pending: list[bytes]) -> None:
        self.pending = pending
        self.waiting_reads = 0
        self.sent: list[bytes] = []

    def receive(self, wait_kernel: bool = False) -> list[bytes]:
        if not wait_kernel:
            return []
        self.waiting_reads += 1
        bodies, self.pending = self.pending, []
        return bodies

    def transmit_body(self, body: bytes) -> None:
        self.sent.append(body)

    def transmit(self, frame: bytes) -> None:
        self.sent.append(frame)


def _armed(endpoint, last_cmd_s: float) -> TreadmillFirmware:
    fw = TreadmillFirmware(endpoint, "SIM-TM-TEST", 70.0)
    fw.kernel_wait_before_trip = True
    fw.armed = True
    fw.last_valid_cmd_s = last_cmd_s
    return fw


def test_commands_held_by_the_kernel_feed_the_watchdog_instead_of_tripping_it():
    heartbeat = p.encode_body(p.EMPTY, p.Msg.HEARTBEAT, 1, 0)
    endpoint = HeldByKernel([heartbeat])
    fw = _armed(endpoint, last_cmd_s=10.0)
    fw.check_watchdog(10.0 + WATCHDOG_S * 0.5)
    assert endpoint.waiting_reads == 0  # not due yet: no waiting read
    now_s = 10.0 + WATCHDOG_S + 0.05
    fw.check_watchdog(now_s)
    assert endpoint.waiting_reads == 1
    assert not fw.watchdog_tripped and fw.armed and fw.last_valid_cmd_s == now_s


def test_a_host_that_fell_silent_still_trips_at_the_deadline():
    endpoint = HeldByKernel([])
    fw = _armed(endpoint, last_cmd_s=10.0)
    fw.check_watchdog(10.0 + WATCHDOG_S)
    assert endpoint.waiting_reads == 1 and fw.watchdog_tripped and not fw.armed
    assert fw.tripped_at_s == 10.0 + WATCHDOG_S


def test_a_cut_line_trips_even_with_bytes_in_the_kernel():
    # A real pseudo-terminal: the host writes a heartbeat, but the line is cut (bytes dropped).
    endpoint = Endpoint("treadmill", random.Random(0))
    try:
        fw = _armed(endpoint, last_cmd_s=10.0)
        endpoint.cut = True
        with open(endpoint.path, "wb", buffering=0) as host:
            host.write(p.encode(p.EMPTY, p.Msg.HEARTBEAT, 1, 0))
            fw.check_watchdog(10.0 + WATCHDOG_S)
        assert fw.watchdog_tripped
    finally:
        endpoint.close()


def test_without_the_rule_a_held_command_is_not_seen():
    heartbeat = p.encode_body(p.EMPTY, p.Msg.HEARTBEAT, 1, 0)
    endpoint = HeldByKernel([heartbeat])
    fw = _armed(endpoint, last_cmd_s=10.0)
    fw.kernel_wait_before_trip = False  # an in-memory link (simulate): nothing waits in a kernel
    fw.check_watchdog(10.0 + WATCHDOG_S)
    assert endpoint.waiting_reads == 0 and fw.watchdog_tripped
