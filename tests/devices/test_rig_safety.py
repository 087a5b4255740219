"""Drivers against the rig process over real pseudo-terminals: handshake, speed, watchdog, re-arm."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from devices.base import DeviceType
from devices.discovery import discover
from devices.serial_link import DeviceError
from devices.serial_treadmill import SerialTreadmill
from devices.sim.firmware import WATCHDOG_S
from tests.devices.conftest import wait_for


def test_handshake_identifies_every_device(rig, devices):
    assert devices.treadmill.info.device_type == DeviceType.TREADMILL
    assert devices.treadmill.info.max_speed_mps > 1.0
    assert devices.treadmill.info.safe_decel_mps2 > 0.0
    assert devices.exoskeleton.info.device_type == DeviceType.EXOSKELETON
    assert devices.exoskeleton.info.status_rate_hz >= 500
    assert all(hi > lo for lo, hi in zip(devices.exoskeleton.info.joint_min_rad,
                                         devices.exoskeleton.info.joint_max_rad, strict=True))
    assert devices.heart_rate.info.device_type == DeviceType.HEART_RATE
    assert devices.treadmill.info.serial_number.startswith("SIM-TM")


def test_status_rates_and_no_bad_frames(devices, host):
    tm, exo = devices.treadmill, devices.exoskeleton
    pairs = {"tm": [], "exo": []}
    end = time.monotonic() + 1.2  # at least one 1 Hz heart-rate frame
    last = {}
    while time.monotonic() < end:
        host.keepalive()
        devices.heart_rate.poll()
        for key, dev in (("tm", tm), ("exo", exo)):
            if dev.poll():
                now = (dev.status.seq, dev.status.device_time_us)
                if key in last and now[1] > last[key][1]:
                    pairs[key].append(((now[0] - last[key][0]) & 0xFFFF, now[1] - last[key][1]))
                last[key] = now
        time.sleep(0.002)
    # rate on the device's own clock, from sequence numbers: a median is immune to the odd
    # stall of a loaded machine, which delays frames but is not the device's nominal rate
    def median_hz(key):
        rates = sorted(n / (dt / 1e6) for n, dt in pairs[key])
        return rates[len(rates) // 2]

    assert median_hz("exo") >= 500 * 0.97, pairs["exo"][:20]
    assert median_hz("tm") >= 200, pairs["tm"][:20]
    assert tm.stats.frames_bad == 0 and exo.stats.frames_bad == 0
    assert devices.heart_rate.status.heart_rate_bpm > 40
    # status times share the host's monotonic clock
    assert abs(exo.status.device_time_us / 1e6 - time.monotonic()) < 0.5


def test_discover_finds_each_device_and_ignores_silent_ports(rig):
    import os

    master, slave = os.openpty()  # a port where nothing answers
    try:
        silent = os.ttyname(slave)
        found = discover([silent, *rig.ports.values()], timeout_s=0.5)
    finally:
        os.close(master)
        os.close(slave)
    assert found[DeviceType.TREADMILL][0] == rig.ports["treadmill"]
    assert found[DeviceType.EXOSKELETON][0] == rig.ports["exoskeleton"]
    assert found[DeviceType.HEART_RATE][0] == rig.ports["heart_rate"]
    assert all(port != silent for port, _ in found.values())


def test_wrong_device_on_a_port_is_refused(rig):
    with pytest.raises(DeviceError, match="EXOSKELETON"):
        SerialTreadmill(rig.ports["exoskeleton"])


def test_speed_step_follows_acceleration_limit(devices, host):
    tm = devices.treadmill
    tm.rearm()
    accel = 1.0
    host.run(1.3, lambda: (tm.set_speed(0.8, accel), devices.exoskeleton.send_heartbeat()))
    samples = host.treadmill_samples
    moving = [(t, v) for t, v, _ in samples if v > 0.0]
    assert moving and moving[-1][1] == pytest.approx(0.8, abs=1e-4)
    # slope between device-timestamped samples never exceeds the limit
    for (t0, v0), (t1, v1) in pairwise(moving):
        if t1 > t0:
            assert (v1 - v0) / ((t1 - t0) / 1e6) <= accel * 1.05 + 1e-3
    # and the ramp takes as long as the limit says (0.8 s), on the device clock
    t_start = moving[0][0] / 1e6
    t_top = next(t for t, v in moving if v >= 0.8 - 1e-4) / 1e6
    assert t_top - t_start == pytest.approx(0.8, abs=0.05)


def test_watchdog_stops_within_100ms_then_decelerates_and_needs_rearm(rig, devices, host):
    tm, exo = devices.treadmill, devices.exoskeleton
    tm.rearm()
    exo.rearm()
    feed = lambda: (tm.set_speed(1.0, 1.5), exo.send_heartbeat())  # noqa: E731
    assert wait_for(lambda: tm.status.belt_speed_mps >= 1.0 - 1e-4 and tm.status.armed, 3.0, host, feed)
    # silence: keep reading, send nothing
    host.treadmill_samples.clear()
    host.run(0.3)
    state = rig.status()
    for name in ("treadmill", "exoskeleton"):
        dev = state[name]
        assert dev["watchdog_tripped"] and not dev["armed"], (name, dev)
        silence_s = dev["tripped_at_s"] - dev["last_valid_cmd_s"]
        # On the device's own clock: the firmware checks at the deadline, and wakes for it as
        # late as a busy host lets the rig's loop wake (its own record: loop max_lateness_s).
        assert WATCHDOG_S <= silence_s <= 0.100 + state["loop"]["max_lateness_s"] + 0.001, (name, silence_s, state["loop"])
    assert wait_for(lambda: tm.status.watchdog_tripped and exo.status.watchdog_tripped, 1.0, host)
    assert not tm.status.armed and not exo.status.armed
    # then the belt decelerates at the treadmill's safe rate, to zero
    assert wait_for(lambda: tm.status.belt_speed_mps == 0.0, 3.0, host)
    trip_us = state["treadmill"]["tripped_at_s"] * 1e6
    after = [(t, v) for t, v, _ in host.treadmill_samples if t > trip_us + 10_000 and v > 0.05]
    (t0, v0), (t1, v1) = after[0], after[-1]
    decel = (v0 - v1) / ((t1 - t0) / 1e6)
    assert decel == pytest.approx(tm.info.safe_decel_mps2, rel=0.05)
    # commands alone do not restart it
    host.run(0.4, feed)
    assert tm.status.belt_speed_mps == 0.0 and tm.status.watchdog_tripped
    assert rig.status()["treadmill"]["cmds_ignored"] > 0
    # an explicit re-arm does
    tm.rearm()
    assert wait_for(lambda: tm.status.belt_speed_mps > 0.2, 3.0, host, feed)
    assert not tm.status.watchdog_tripped and tm.status.armed


def test_devices_power_up_disarmed(devices, host):
    tm = devices.treadmill
    host.run(0.3, lambda: (tm.set_speed(1.0, 1.0), devices.exoskeleton.send_heartbeat()))
    assert not tm.status.armed and tm.status.belt_speed_mps == 0.0
    assert not tm.status.watchdog_tripped  # nothing tripped: it never ran


def test_exoskeleton_hold_safe_mode_locks_the_joints(make_rig):
    from devices.discovery import open_devices
    from tests.devices.conftest import Host

    rig = make_rig("healthy", 0, exo_safe_mode="hold")
    with open_devices(rig.ports) as devices:
        host = Host(devices)
        tm, exo = devices.treadmill, devices.exoskeleton
        tm.rearm()  # the belt runs, the exoskeleton stays in its safe state: HOLD
        walk = lambda: (tm.set_speed(1.0, 1.5), exo.send_heartbeat())  # noqa: E731
        host.run(1.0, walk)
        host.exo_samples.clear()
        host.run(0.5, walk)
        angles = [s[2] for s in host.exo_samples]
        spread = max(max(a[j] for a in angles) - min(a[j] for a in angles) for j in range(4))
        assert spread < 1e-3  # joints held still (a finite hold stiffness allows a hair of drift)
        assert rig.status()["exoskeleton"]["modes"] == [2, 2, 2, 2]
        exo.rearm()
        host.run(0.3, walk)
        host.exo_samples.clear()
        host.run(0.5, walk)
        assert len({s[2] for s in host.exo_samples}) > 50  # armed (transparent command): walking
