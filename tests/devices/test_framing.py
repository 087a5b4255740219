"""Codec properties: COBS and CRC round trips, and a decoder that never raises and resyncs."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType
from devices.framing import FrameError, StreamDecoder, cobs_decode, cobs_encode, unwrap, wrap

f32 = st.floats(width=32, allow_nan=False)


@given(st.binary(max_size=1200))
def test_cobs_round_trip_and_no_zero_bytes(data):
    encoded = cobs_encode(data)
    assert b"\x00" not in encoded
    assert cobs_decode(encoded) == data
    assert len(encoded) <= len(data) + 1 + len(data) // 254 + 1


def test_cobs_known_vectors():
    # vectors from the COBS paper / Wikipedia
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"
    block = bytes(range(1, 255))  # 254 non-zero bytes
    assert cobs_decode(cobs_encode(block)) == block
    assert cobs_encode(block)[0] == 0xFF


@given(st.binary(max_size=300))
def test_wrap_unwrap_round_trip(body):
    frame = wrap(body)
    assert frame.endswith(b"\x00") and b"\x00" not in frame[:-1]
    assert unwrap(frame[:-1]) == body


@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_single_byte_error_is_caught_by_crc(body, data):
    frame = bytearray(wrap(body)[:-1])
    i = data.draw(st.integers(0, len(frame) - 1))
    flip = data.draw(st.integers(1, 255))
    frame[i] ^= flip
    with pytest.raises(FrameError):
        if b"\x00" in frame:
            raise FrameError("delimiter inside: the stream decoder splits here")
        unwrap(bytes(frame))


@given(st.binary(max_size=4000))
@settings(max_examples=300)
def test_random_streams_never_raise(noise):
    decoder = StreamDecoder()
    bodies = decoder.feed(noise)
    assert isinstance(bodies, list)
    # whatever it returned passed the CRC check
    for body in bodies:
        assert isinstance(body, bytes)


@given(
    st.lists(st.binary(min_size=0, max_size=120), min_size=1, max_size=12),
    st.binary(max_size=300),
    st.lists(st.integers(1, 60), max_size=12),
)
def test_resync_after_garbage_and_any_chunking(bodies, garbage, cuts):
    """Garbage before a delimiter costs nothing after it; chunk boundaries don't matter."""
    stream = garbage + b"\x00" + b"".join(wrap(b) for b in bodies)
    decoder = StreamDecoder()
    out: list[bytes] = []
    pos = 0
    for cut in cuts:
        out += decoder.feed(stream[pos : pos + cut])
        pos += cut
    out += decoder.feed(stream[pos:])
    # every real frame comes out, in order, at the end of the output
    assert out[len(out) - len(bodies) :] == bodies


@given(st.lists(st.binary(min_size=1, max_size=80), min_size=2, max_size=10), st.data())
@settings(max_examples=200)
def test_mutated_stream_loses_only_hit_frames(bodies, data):
    """Flip bytes in a stream of frames: no exception, unhit frames survive, no bad frame passes."""
    frames = [wrap(b) for b in bodies]
    stream = bytearray(b"".join(frames))
    hits = data.draw(st.sets(st.integers(0, len(stream) - 1), max_size=4))
    for i in hits:
        stream[i] ^= data.draw(st.integers(1, 255))
    decoder = StreamDecoder()
    out = decoder.feed(bytes(stream))
    # which frames were untouched, and not merged with a hit neighbour (a hit delimiter merges)
    starts = [0]
    for f in frames:
        starts.append(starts[-1] + len(f))
    untouched = []
    for k, body in enumerate(bodies):
        lo, hi = starts[k], starts[k + 1]
        prev_delim_hit = k > 0 and (starts[k] - 1) in hits
        if not any(lo <= i < hi for i in hits) and not prev_delim_hit:
            untouched.append(body)
    for body in untouched:
        assert body in out
    for body in out:
        assert body in bodies  # CRC-32 lets no corrupted frame through
    assert decoder.bad >= 0


def test_long_run_without_delimiter_is_dropped_not_buffered_forever():
    decoder = StreamDecoder()
    for _ in range(100):
        decoder.feed(b"\x55" * 1000)
    assert len(decoder._pending) <= 2000
    assert decoder.bad > 0
    # the first frame after the noise is lost with it; the next delimiter resynchronises
    decoder.feed(wrap(b"lost"))
    assert decoder.feed(wrap(b"hello")) == [b"hello"]


# --------------------------------------------------------------------------- messages


@given(st.integers(0, 2**16 - 1), st.integers(0, 2**64 - 1), f32, f32)
def test_set_speed_round_trip(seq, t_us, speed, accel):
    frame = p.encode(p.TM_SET_SPEED, p.Msg.TM_SET_SPEED, seq, t_us, speed, accel)
    (body,) = StreamDecoder().feed(frame)
    fields = p.decode_body(body)
    assert fields[:4] == (p.PROTOCOL_VERSION, p.Msg.TM_SET_SPEED, seq, t_us)
    assert fields[4:] == struct.unpack("<ff", struct.pack("<ff", speed, accel))


@given(
    st.tuples(*[st.integers(0, 2)] * 4), f32,
    st.tuples(*[f32] * 4), st.tuples(*[f32] * 4), st.tuples(f32, f32),
)
def test_exo_command_round_trip(modes, stiffness, ref, vel, boost):
    frame = p.encode(p.EXO_COMMAND, p.Msg.EXO_COMMAND, 7, 123, *modes, stiffness, *ref, *vel, *boost)
    (body,) = StreamDecoder().feed(frame)
    fields = p.decode_body(body)
    assert fields[4:8] == modes
    packed = struct.unpack("<11f", struct.pack("<11f", stiffness, *ref, *vel, *boost))
    assert fields[8:] == packed


@given(st.integers(0, 255), st.integers(0, 0xFFFF), st.lists(f32, min_size=20, max_size=20))
def test_exo_status_round_trip(flags, fault, values):
    frame = p.encode(p.EXO_STATUS, p.Msg.EXO_STATUS, 1, 2, flags, fault, *values)
    (body,) = StreamDecoder().feed(frame)
    fields = p.decode_body(body)
    assert fields[4:6] == (flags, fault)
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-30) or a == b for a, b in zip(fields[6:], values, strict=True))


def test_info_round_trip():
    info = DeviceInfo(DeviceType.EXOSKELETON, "1.2.3", "SN-42", 0x2C, 0.0, 0.0, 0.0,
                      (-0.5, 0.0, -0.5, 0.0), (1.0, 1.5, 1.0, 1.5), 500.0)
    frame = p.encode(p.INFO, p.Msg.INFO, 1, 2, *p.info_fields(info))
    (body,) = StreamDecoder().feed(frame)
    back = p.info_from_fields(p.decode_body(body)[4:])
    assert back.device_type == DeviceType.EXOSKELETON
    assert (back.firmware_version, back.serial_number, back.capabilities) == ("1.2.3", "SN-42", 0x2C)
    assert back.joint_max_rad == pytest.approx(info.joint_max_rad)
    assert back.status_rate_hz == 500.0


def test_decode_body_rejects_wrong_version_type_and_length():
    good = p.TM_SET_BWS.pack(p.PROTOCOL_VERSION, p.Msg.TM_SET_BWS, 1, 2, 0.3)
    assert p.decode_body(good) is not None
    assert p.decode_body(bytes([2]) + good[1:]) is None  # version
    assert p.decode_body(good[:1] + bytes([0x77]) + good[2:]) is None  # unknown type
    assert p.decode_body(good + b"\x00") is None  # length
    assert p.decode_body(b"") is None


@given(st.binary(max_size=200))
def test_decode_body_never_raises(body):
    p.decode_body(body)


def test_crc_is_the_documented_crc32():
    from devices.framing import crc32

    assert crc32(b"123456789") == 0xCBF43926  # the check value docs/protocol.md gives


def test_worked_example_in_protocol_doc_is_what_the_host_sends():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    wire_line = next(line for line in doc.splitlines() if line.startswith("on wire"))
    documented = bytes.fromhex(wire_line.split(None, 2)[2])
    assert documented == p.encode(p.TM_SET_SPEED, p.Msg.TM_SET_SPEED, 7, 1_000_000, 1.2, 0.5)


def test_documented_sizes_match_the_structs():
    sizes = {p.Msg.INFO: 93, p.Msg.TM_STATUS: 31, p.Msg.EXO_STATUS: 95, p.Msg.HR_STATUS: 19,
             p.Msg.EXO_COMMAND: 60, p.Msg.TM_SET_SPEED: 20, p.Msg.TM_SET_BWS: 16, p.Msg.TM_STOP: 16,
             p.Msg.HELLO: 12}
    for msg, size in sizes.items():
        assert p.BODY_STRUCTS[msg].size == size, msg.name


def _reference_cobs_encode(data: bytes) -> bytes:
    """COBS as the paper states it, one byte at a time (the fast encoder must match it)."""
    out, block = bytearray(), bytearray()
    for byte in data:
        if byte:
            block.append(byte)
            if len(block) == 254:
                out += bytes((0xFF,)) + block
                block.clear()
        else:
            out += bytes((len(block) + 1,)) + block
            block.clear()
    out += bytes((len(block) + 1,)) + block
    return bytes(out)


@given(st.one_of(st.binary(max_size=600), st.lists(st.sampled_from([0, 1, 0xFF]), max_size=600).map(bytes)))
@settings(max_examples=400)
def test_fast_cobs_matches_the_byte_by_byte_definition(data):
    assert cobs_encode(data) == _reference_cobs_encode(data)


@given(st.one_of(st.binary(max_size=600), st.lists(st.sampled_from([1, 2, 3, 0xFF, 0xFE]), max_size=600).map(bytes)))
@settings(max_examples=400)
def test_fast_cobs_decode_matches_the_block_decoder_on_any_input(data):
    """Malformed input included: the same bytes out, or the same refusal."""
    from devices.framing import _cobs_decode_blocks

    try:
        expected = _cobs_decode_blocks(data)
    except FrameError:
        with pytest.raises(FrameError):
            cobs_decode(data)
    else:
        assert cobs_decode(data) == expected
