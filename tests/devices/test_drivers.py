"""Drivers against a pseudo-terminal where the test plays the device, byte by byte."""

from __future__ import annotations

import os
import time

import pytest

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType, JointMode
from devices.framing import StreamDecoder
from devices.serial_exoskeleton import SerialExoskeleton
from devices.serial_link import DeviceError
from devices.serial_treadmill import SerialTreadmill

TM_INFO = DeviceInfo(DeviceType.TREADMILL, "t", "1", 0, 3.0, 1.0, 0.8)
EXO_INFO = DeviceInfo(DeviceType.EXOSKELETON, "t", "2", 0, status_rate_hz=500.0)


def exo_status(seq: int, angle: float = 0.1, flags: int = p.FLAG_ARMED) -> bytes:
    values = [angle, 0.2, 0.3, 0.4] + [0.0] * 12 + [0.5, 0.6, 0.7, 0.8]
    return p.encode(p.EXO_STATUS, p.Msg.EXO_STATUS, seq, 1000 + seq, flags, 0, *values)


def read_host_frames(master: int) -> list[tuple]:
    time.sleep(0.02)
    try:
        data = os.read(master, 65536)
    except BlockingIOError:
        return []
    return [p.decode_body(b) for b in StreamDecoder().feed(data)]


def test_poll_on_a_silent_port_returns_zero_at_once(pty_pair):
    _, path = pty_pair
    with SerialExoskeleton(path, EXO_INFO) as exo:
        start = time.monotonic()
        assert sum(exo.poll() for _ in range(1000)) == 0
        assert time.monotonic() - start < 5.0  # sanity bound: a blocking read would hang
        assert exo.last_rx_s == 0.0


def test_status_decoded_in_place_and_garbage_counted(pty_pair):
    master, path = pty_pair
    with SerialExoskeleton(path, EXO_INFO) as exo:
        angles = exo.status.angle_rad  # callers may keep references to the lists
        os.write(master, b"\x13\x37garbage\x00" + exo_status(1) + b"\x02\x05\x05")
        os.write(master, b"\x00" + exo_status(2, angle=0.25)[:10])  # a frame cut in half
        time.sleep(0.05)
        before = time.monotonic()
        assert exo.poll() == 1
        assert exo.last_rx_s >= before
        os.write(master, exo_status(2, angle=0.25)[10:] + exo_status(5, angle=0.3))
        time.sleep(0.05)
        assert exo.poll() == 2
        assert angles is exo.status.angle_rad and angles[0] == pytest.approx(0.3)
        assert exo.status.pressure == pytest.approx([0.5, 0.6, 0.7, 0.8])
        assert exo.status.armed and not exo.status.estop_pressed
        assert exo.status.device_time_us == 1005 and exo.status.seq == 5
        assert exo.stats.frames_ok == 3
        assert exo.stats.frames_bad == 2  # "garbage" and the "\x02\x05\x05" stub
        assert exo.stats.seq_gaps == 2  # 3 and 4 never arrived


def test_commands_are_encoded_as_the_protocol_says(pty_pair):
    master, path = pty_pair
    with SerialTreadmill(path, TM_INFO) as tm:
        tm.set_speed(1.25, 0.5)
        tm.set_bws(0.3)
        tm.stop(0.9)
        tm.rearm()
        tm.send_heartbeat()
        frames = read_host_frames(master)
    assert [f[1] for f in frames] == [
        p.Msg.TM_SET_SPEED, p.Msg.TM_SET_BWS, p.Msg.TM_STOP, p.Msg.REARM, p.Msg.HEARTBEAT,
    ]
    assert frames[0][4:] == pytest.approx((1.25, 0.5))
    assert frames[1][4] == pytest.approx(0.3)
    seqs = [f[2] for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert all(abs(f[3] / 1e6 - time.monotonic()) < 1.0 for f in frames)


def test_exo_command_fields(pty_pair):
    master, path = pty_pair
    with SerialExoskeleton(path, EXO_INFO) as exo:
        exo.set_command((1, 1, 2, 0), 0.6, (0.1, 0.2, 0.3, 0.4), (1.0, 2.0, 3.0, 4.0), (0.0, 0.8))
        exo.safe_mode()
        frames = read_host_frames(master)
    cmd = frames[0]
    assert cmd[1] == p.Msg.EXO_COMMAND
    assert cmd[4:8] == (JointMode.GUIDANCE, JointMode.GUIDANCE, JointMode.HOLD, JointMode.TRANSPARENT)
    assert cmd[8:] == pytest.approx((0.6, 0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0, 0.0, 0.8))
    assert frames[1][1] == p.Msg.SAFE_STATE


def test_handshake_times_out_on_a_silent_port(pty_pair):
    _, path = pty_pair
    with pytest.raises(DeviceError, match="no TREADMILL answered"):
        SerialTreadmill(path)


def test_full_output_buffer_drops_and_counts_instead_of_blocking(pty_pair):
    _, path = pty_pair
    with SerialExoskeleton(path, EXO_INFO) as exo:
        # nobody reads the master: the pty buffer fills, then writes are dropped, never block
        for _ in range(5000):
            exo.set_command((1, 1, 1, 1), 0.5, (0.0,) * 4, (0.0,) * 4, (0.0, 0.0))
        assert exo.stats.tx_dropped > 0
        assert exo.stats.frames_tx + exo.stats.tx_dropped == 5000


def test_opening_a_missing_port_raises_device_error():
    with pytest.raises(DeviceError):
        SerialTreadmill("/dev/does-not-exist-42", TM_INFO)
