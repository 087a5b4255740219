"""The patient in the rig process, walked by a host over the real links."""

from __future__ import annotations

import json
import time

import pytest

from devices.base import JointMode
from devices.discovery import open_devices
from devices.sim.patient import simulate
from devices.sim.profiles import load_profile
from tests.devices.conftest import Host, wait_for
from tests.devices.gait_numbers import cadence_spm, mean_clearance, mean_step_length, steps_after

TRANSPARENT = (JointMode.TRANSPARENT,) * 4


def start_walking(devices, host, speed_mps, boost=(0.0, 0.0)):
    tm, exo = devices.treadmill, devices.exoskeleton

    def command():
        tm.set_speed(speed_mps, 1.5)
        exo.set_command(TRANSPARENT, 0.0, (0.0,) * 4, (0.0,) * 4, boost)

    tm.rearm()
    exo.rearm()
    assert wait_for(lambda: tm.status.belt_speed_mps >= speed_mps - 1e-3, 3.0, host, command)
    return command


def test_walk_over_the_links_gives_plausible_ground_truth(rig, devices, host, tmp_path):
    command = start_walking(devices, host, 1.2)
    t_steady = time.monotonic() + 1.0
    host.run(5.0, command)
    truth = rig.ground_truth()
    steps = steps_after(truth, t_steady)
    assert len(steps) >= 6
    assert 95 <= cadence_spm(steps) <= 130
    assert 0.6 <= mean_step_length(steps) <= 0.8
    # ground-truth times are on this process's monotonic clock
    assert time.monotonic() - 9.0 < steps[0]["t_s"] < time.monotonic()
    # the belt displacement the driver reads matches the rig's truth
    tm = devices.treadmill
    encoder_m = tm.status.encoder_count * tm.status.encoder_m_per_count
    assert encoder_m == pytest.approx(truth["belt_displacement_m"], abs=0.05)
    path = tmp_path / "truth.json"
    rig.write_ground_truth(str(path))
    assert json.loads(path.read_text())["steps"][: len(truth["steps"])] == truth["steps"]
    # same seed, same patient: the live stride draws are an offline run's with that seed
    live = [s["z"] for s in truth["strides"]]
    offline = simulate(load_profile("healthy"), 0, 1.2, 20.0).ground_truth()["strides"]
    assert len(live) >= 3 and live == [s["z"] for s in offline][: len(live)]


def test_patient_stops_stepping_when_the_belt_stops(rig, devices, host):
    command = start_walking(devices, host, 1.0)
    host.run(2.0, command)
    tm, exo = devices.treadmill, devices.exoskeleton
    stop = lambda: (tm.stop(1.5), exo.send_heartbeat())  # noqa: E731
    assert wait_for(lambda: tm.status.belt_speed_mps == 0.0, 3.0, host, stop)
    stopped_at = time.monotonic()
    host.run(2.0, stop)
    truth = rig.ground_truth()
    assert [h for h in truth["heel_strikes"] if h["t_s"] > stopped_at + 0.8] == []
    p = exo.status.pressure
    assert p[0] + p[1] > 0.05 and p[2] + p[3] > 0.05  # both feet on the ground


def test_clearance_boost_over_the_link_lifts_the_weak_toe(make_rig):
    rig = make_rig("hemiparetic-right", seed=2)
    with open_devices(rig.ports) as devices:
        host = Host(devices)
        plain = start_walking(devices, host, 1.0)
        t0 = time.monotonic()
        host.run(3.0, plain)
        t1 = time.monotonic()
        tm, exo = devices.treadmill, devices.exoskeleton
        boosted = lambda: (tm.set_speed(1.0, 1.5), exo.set_command(TRANSPARENT, 0.0, (0.0,) * 4, (0.0,) * 4, (0.0, 1.0)))  # noqa: E731
        host.run(3.0, boosted)
        truth = rig.ground_truth()
    weak_plain = mean_clearance(truth, 1, t0 + 0.5, t1)
    weak_boosted = mean_clearance(truth, 1, t1 + 0.6)
    assert weak_boosted > weak_plain + 0.015
    assert rig.status()["exoskeleton"]["clearance_boost"] == [0.0, 1.0]


def test_exo_boost_needs_an_armed_exoskeleton(rig, devices, host):
    tm, exo = devices.treadmill, devices.exoskeleton
    tm.rearm()  # exoskeleton left disarmed: its safe mode ignores the boost
    host.run(0.3, lambda: (tm.set_speed(1.0, 1.5), exo.set_command(TRANSPARENT, 0.0, (0.0,) * 4, (0.0,) * 4, (1.0, 1.0))))
    assert rig.status()["exoskeleton"]["clearance_boost"] == [0.0, 0.0]


@pytest.mark.slow
def test_healthy_60s_walk_at_1_2_mps_in_real_time(rig, devices, host):
    """The must-show walk, in real time over the links (the offline twin runs in `make test`)."""
    command = start_walking(devices, host, 1.2)
    t_start = time.monotonic()
    host.run(60.0, command)
    steps = steps_after(rig.ground_truth(), t_start)
    assert 100 <= cadence_spm(steps) <= 125
    assert 0.6 <= mean_step_length(steps) <= 0.8
