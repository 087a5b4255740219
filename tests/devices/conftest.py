"""Fixtures for device tests: a real rig process on real pseudo-terminals, always stopped."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from devices.discovery import OpenedDevices, open_devices
from devices.sim.rig import RigHandle, start_rig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def make_rig():
    """Factory: make_rig(profile, seed) -> RigHandle; every rig is stopped after the test."""
    rigs: list[RigHandle] = []

    def factory(profile: str = "healthy", seed: int = 0, **kwargs) -> RigHandle:
        rig = start_rig(profile, seed, **kwargs)
        rigs.append(rig)
        return rig

    try:
        yield factory
    finally:
        for rig in rigs:
            try:
                rig.stop()
            finally:
                if rig.proc.poll() is None:
                    rig.proc.kill()
                    rig.proc.wait()


@pytest.fixture
def pty_pair():
    """A pseudo-terminal: (non-blocking master fd the test plays the device on, slave path)."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


@pytest.fixture
def rig(make_rig) -> RigHandle:
    return make_rig()


@pytest.fixture
def devices(rig):
    """Drivers for all three devices of `rig`, closed after the test."""
    opened = open_devices(rig.ports)
    try:
        yield opened
    finally:
        opened.close()


class Host:
    """A minimal host loop: sends what `command` sends every period, polls everything, records."""

    def __init__(self, devices: OpenedDevices) -> None:
        self.devices = devices
        self.treadmill_samples: list[tuple[int, float, int]] = []  # (device_time_us, speed, flags)
        self.exo_samples: list[tuple[int, int, tuple]] = []  # (device_time_us, seq, angles)

    def poll(self) -> None:
        tm, exo = self.devices.treadmill, self.devices.exoskeleton
        if tm.poll():
            s = tm.status
            self.treadmill_samples.append((s.device_time_us, s.belt_speed_mps, s.watchdog_tripped))
        if exo.poll():
            s = exo.status
            self.exo_samples.append((s.device_time_us, s.seq, tuple(s.angle_rad)))
        if self.devices.heart_rate is not None:
            self.devices.heart_rate.poll()

    def run(self, duration_s: float, command: Callable[[], None] | None = None, period_s: float = 0.005) -> None:
        """Poll for duration_s; call command() every period_s (None: stay silent)."""
        end = time.monotonic() + duration_s
        next_cmd = 0.0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if command is not None and now >= next_cmd:
                command()
                next_cmd = now + period_s
            self.poll()
            time.sleep(0.001)

    def keepalive(self) -> None:
        """Heartbeat both actuated devices."""
        self.devices.treadmill.send_heartbeat()
        self.devices.exoskeleton.send_heartbeat()


@pytest.fixture
def host(devices) -> Host:
    return Host(devices)


def wait_for(predicate: Callable[[], bool], timeout_s: float, host: Host | None = None,
             command: Callable[[], None] | None = None) -> bool:
    """Poll (and command) until predicate() holds or timeout_s passes."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if host is not None:
            host.run(0.01, command)
        else:
            time.sleep(0.01)
        if predicate():
            return True
    return predicate()
