"""Every fault the rig can inject is seen by the drivers over the real pseudo-terminals."""

from __future__ import annotations

import time

import pytest

from devices.base import FaultCode
from tests.devices.conftest import wait_for


def walking(devices):
    """A command function: belt at 1.0 m/s, exoskeleton fed."""
    tm, exo = devices.treadmill, devices.exoskeleton
    return lambda: (tm.set_speed(1.0, 1.5), exo.set_command((0, 0, 0, 0), 0.0, (0.0,) * 4, (0.0,) * 4, (0.0, 0.0)))


def arm(devices, host):
    devices.treadmill.rearm()
    devices.exoskeleton.rearm()
    assert wait_for(lambda: devices.treadmill.status.belt_speed_mps > 0.5, 3.0, host, walking(devices))


def frames_during(host, device, seconds, command=None) -> int:
    before = device.stats.frames_ok
    host.run(seconds, command)
    return device.stats.frames_ok - before


def frames_until(host, device, count: int, command=None, timeout_s: float = 30.0) -> int:
    """Good frames from the device until more than `count` arrived (at most timeout_s): frames
    flowing is what the rig guarantees, not how many a loaded machine delivers in a given time."""
    before = device.stats.frames_ok
    deadline = time.monotonic() + timeout_s
    while device.stats.frames_ok - before <= count and time.monotonic() < deadline:
        host.run(0.05, command)
    return device.stats.frames_ok - before


def test_cut_silences_the_link_and_the_device_trips_its_watchdog(rig, devices, host):
    arm(devices, host)
    tm = devices.treadmill
    rig.inject("cut", "treadmill")
    host.run(0.05, walking(devices))  # frames already in flight
    assert frames_during(host, tm, 0.3, walking(devices)) == 0
    # commands don't get through either, so the treadmill stops itself
    assert rig.status()["treadmill"]["watchdog_tripped"]
    rig.inject("restore", "treadmill")
    assert wait_for(lambda: tm.status.watchdog_tripped, 1.0, host, walking(devices))
    assert frames_until(host, tm, 20, walking(devices)) > 20
    assert frames_until(host, devices.exoskeleton, 20, walking(devices)) > 20  # others unaffected


def test_corrupt_bytes_are_counted_never_raised(rig, devices, host):
    exo = devices.exoskeleton
    host.run(0.3, walking(devices))
    assert exo.stats.frames_bad == 0
    rig.inject("corrupt", "exoskeleton", fraction=0.005)  # ~40% of frames hit
    ok = frames_until(host, exo, 100, walking(devices))
    _run_until(host, walking(devices), lambda: exo.stats.frames_bad > 20)
    assert exo.stats.frames_bad > 20 and ok > 100
    assert exo.stats.seq_gaps > 0
    rig.inject("corrupt", "exoskeleton", fraction=0.0)
    host.run(0.1, walking(devices))
    bad = exo.stats.frames_bad
    host.run(0.3, walking(devices))
    assert exo.stats.frames_bad == bad


def test_stall_stops_output_while_the_device_still_listens(rig, devices, host):
    arm(devices, host)
    exo = devices.exoskeleton
    rig.inject("stall", "exoskeleton")
    host.run(0.05, walking(devices))
    cmds = rig.status()["exoskeleton"]["cmds_ok"]
    assert frames_during(host, exo, 0.3, walking(devices)) == 0
    state = rig.status()["exoskeleton"]
    assert state["cmds_ok"] > cmds and state["armed"] and not state["watchdog_tripped"]
    assert time.monotonic() - exo.last_rx_s >= 0.3
    rig.inject("unstall", "exoskeleton")
    assert frames_until(host, exo, 50, walking(devices)) > 50


def test_freeze_keeps_frames_coming_with_stale_values(rig, devices, host):
    arm(devices, host)
    host.run(0.5, walking(devices))
    rig.inject("freeze", "exoskeleton")
    host.run(0.05, walking(devices))
    host.exo_samples.clear()
    # Counts of frames, not spans of wall time: a loaded machine gives the rig and this host
    # loop fewer turns a second (63 frames in 0.5 s under a hog on both CPUs; 250 when quiet).
    _run_until(host, walking(devices), lambda: len(host.exo_samples) > 100)
    seqs = [s[1] for s in host.exo_samples]
    angles = {s[2] for s in host.exo_samples}
    assert len(seqs) > 100 and len(set(seqs)) == len(seqs)  # fresh frames...
    assert len(angles) == 1  # ...carrying one frozen value while the patient walks
    rig.inject("unfreeze", "exoskeleton")
    host.run(0.05, walking(devices))
    host.exo_samples.clear()
    _run_until(host, walking(devices), lambda: len({s[2] for s in host.exo_samples}) > 50)
    assert len({s[2] for s in host.exo_samples}) > 50


def _run_until(host, command, done, timeout_s: float = 30.0) -> None:
    """Run the host loop in 0.1 s slices until done() (at most timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        host.run(0.1, command)


def test_estop_is_reported_stops_the_belt_and_blocks_rearm(rig, devices, host):
    arm(devices, host)
    tm, exo = devices.treadmill, devices.exoskeleton
    rig.inject("estop", "all", pressed=True)
    assert wait_for(lambda: tm.status.estop_pressed and exo.status.estop_pressed, 1.0, host, walking(devices))
    assert not tm.status.armed and not exo.status.armed
    assert wait_for(lambda: tm.status.belt_speed_mps == 0.0, 2.0, host, walking(devices))
    tm.rearm()
    host.run(0.2, walking(devices))
    assert not tm.status.armed  # refused while pressed
    rig.inject("estop", "all", pressed=False)
    host.run(0.1, walking(devices))
    assert not tm.status.estop_pressed and not tm.status.armed  # release alone does not re-arm
    tm.rearm()
    assert wait_for(lambda: tm.status.armed, 1.0, host, walking(devices))


def test_motor_fault_is_reported_and_blocks_rearm_until_cleared(rig, devices, host):
    arm(devices, host)
    exo = devices.exoskeleton
    rig.inject("motor_fault", "exoskeleton", on=True)
    assert wait_for(lambda: exo.status.fault & FaultCode.MOTOR, 1.0, host, walking(devices))
    assert not exo.status.armed
    assert all(t == 0.0 for t in exo.status.motor_torque_nm)
    exo.rearm()
    host.run(0.2, walking(devices))
    assert not exo.status.armed
    rig.inject("motor_fault", "exoskeleton", on=False)
    exo.rearm()
    assert wait_for(lambda: exo.status.armed and not exo.status.fault, 1.0, host, walking(devices))


def test_bad_injections_are_refused(rig):
    with pytest.raises(ValueError):
        rig.inject("explode", "treadmill")
    with pytest.raises(ValueError):
        rig.inject("cut", "toaster")
    with pytest.raises(ValueError):
        rig.inject("corrupt", "treadmill", fraction=2.0)
    assert rig.status()["treadmill"]["corrupt_fraction"] == 0.0
