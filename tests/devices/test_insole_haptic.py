"""INSOLE_HAPTIC (docs/protocol.md): the wire codec, the driver over a real pseudo-terminal, and the
rig's insole firmware (a real rig process) obeying, clamping, refusing and recording the cue."""

from __future__ import annotations

import math
import os
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType
from devices.discovery import open_devices
from devices.framing import StreamDecoder
from devices.serial_insoles import SerialInsoles
from tests.devices.conftest import wait_for


@settings(max_examples=200, deadline=None)
@given(seq=st.integers(0, 0xFFFF), mask=st.integers(0, 255), pulses=st.integers(0, 255),
       intensity=st.floats(width=32, allow_nan=False), pulse_us=st.integers(0, 2**32 - 1))
def test_haptic_round_trips_through_the_wire(seq, mask, pulses, intensity, pulse_us):
    frame = p.encode(p.INSOLE_HAPTIC, p.Msg.INSOLE_HAPTIC, seq, 5, mask, pulses, intensity, pulse_us)
    body = StreamDecoder().feed(frame)[0]
    assert len(body) == 22  # the size docs/protocol.md gives
    assert p.decode_body(body) == (p.PROTOCOL_VERSION, p.Msg.INSOLE_HAPTIC, seq, 5, mask, pulses, intensity, pulse_us)


def _frames_on(master: int) -> list[tuple]:
    data = b""
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        try:
            data += os.read(master, 4096)
        except BlockingIOError:
            if data:
                break
            time.sleep(0.01)
    return [p.decode_body(b) for b in StreamDecoder().feed(data)]


def test_driver_sends_the_cue_only_to_insoles_that_have_a_motor(pty_pair):
    master, path = pty_pair
    plain = DeviceInfo(DeviceType.INSOLES, "t", "4", p.CAP_INSOLES, status_rate_hz=200.0)
    with SerialInsoles(path, plain) as ins:
        assert ins.haptic(3, 3, 1.0, 100_000) is False
        assert _frames_on(master) == []  # older insoles would count an unknown type as a bad frame
    motor = DeviceInfo(DeviceType.INSOLES, "t", "4", p.CAP_INSOLES | p.CAP_HAPTIC, status_rate_hz=200.0)
    with SerialInsoles(path, motor) as ins:
        # out-of-range integers are clipped to the field, never a struct error in the control loop
        assert ins.haptic(1, 300, 0.5, -4) is True
        frames = _frames_on(master)
    assert len(frames) == 1
    assert frames[0][1] == p.Msg.INSOLE_HAPTIC and frames[0][4:] == (1, 255, 0.5, 0)


def test_rig_insoles_obey_clamp_and_record_the_cue_only_while_armed(make_rig):
    rig = make_rig("healthy", 3)
    with open_devices(rig.ports) as devices:
        ins = devices.insoles
        assert ins.info.capabilities & p.CAP_HAPTIC  # the rig's insoles announce their motors
        ins.haptic(3, 3, 1.0, 100_000)  # disarmed: refused (a device powers up in its safe state)
        assert wait_for(lambda: rig.status()["insoles"]["haptic_refused"] == 1, 30.0)
        # Armed, then four cues at once (they feed the watchdog themselves). A host stalled past
        # the insoles' 100 ms watchdog by a loaded machine finds them disarmed: re-arm and resend.
        for _attempt in range(5):
            before = rig.status()["insoles"]
            refused0, n0 = before["haptic_refused"], len(before["haptic"])
            ins.rearm()
            assert wait_for(lambda: (ins.send_heartbeat(), ins.poll(), ins.status.armed)[2], 30.0)
            t_sent = time.monotonic()
            assert ins.haptic(2, 3, 1.0, 100_000)
            assert ins.haptic(1, 50, 7.0, 1)  # too many pulses, too strong, too short: clamped
            assert ins.haptic(3, 2, math.nan, 100_000)  # invalid: refused
            assert ins.haptic(0, 2, 1.0, 100_000)  # no foot: refused
            assert wait_for(lambda r0=refused0: rig.status()["insoles"]["haptic_refused"] >= r0 + 2, 30.0)
            state = rig.status()["insoles"]
            if state["haptic_refused"] == refused0 + 2 and len(state["haptic"]) == n0 + 2:
                break
        else:
            raise AssertionError(f"the insoles never obeyed: {state}")
        first, second = state["haptic"][n0:]
        assert (first["foot_mask"], first["pulses"], first["intensity"], first["pulse_us"]) == (2, 3, 1.0, 100_000)
        assert first["t_s"] >= t_sent - 0.01  # the rig's clock is CLOCK_MONOTONIC, as the host's
        assert abs(first["end_t_s"] - first["t_s"] - 0.5) < 1e-9  # 3 pulses of 100 ms, 100 ms gaps
        assert (second["foot_mask"], second["pulses"], second["intensity"], second["pulse_us"]) == (1, 10, 1.0, 20_000)
    truth = rig.ground_truth()
    assert [c["foot_mask"] for c in truth["haptic"][-2:]] == [2, 1]


def test_the_documented_row_matches_the_codec():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    row = next(line for line in doc.splitlines() if "| INSOLE_HAPTIC |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[0], 16) == p.Msg.INSOLE_HAPTIC
    assert int(cells[-1]) == p.INSOLE_HAPTIC.size
    assert "bit 7" in doc and p.CAP_HAPTIC == 1 << 7
