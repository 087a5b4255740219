"""Byte framing of the wire protocol: COBS, CRC-32 and a resynchronising stream decoder.

A frame on the wire is `COBS(header + payload + crc32_le) + 0x00` (docs/protocol.md). The hot
path (the control core decodes exoskeleton frames at up to 1 kHz) uses bytes methods that run
in C: `split` to find delimiters and zeros, code bytes turned back into zeros in place when
decoding COBS, and `zlib.crc32` for the CRC.
Nothing in here raises on bad input from the wire: a bad frame is counted and skipped, and the
decoder starts again after the next delimiter.
"""

from __future__ import annotations

import struct
import zlib

DELIMITER = b"\x00"
MAX_FRAME_BYTES = 512  # decoded; a longer run without a delimiter is line noise
_CRC = struct.Struct("<I")
_LENGTH_CODE = [bytes((n + 1,)) for n in range(254)]  # COBS code byte of a block of n data bytes


class FrameError(ValueError):
    """A frame failed COBS, length or CRC checks (only raised by the strict helpers)."""


def crc32(data: bytes) -> int:
    """CRC-32 (IEEE 802.3, reflected, poly 0x04C11DB7, init and xorout 0xFFFFFFFF)."""
    return zlib.crc32(data)


def cobs_encode(data: bytes) -> bytes:
    """Consistent-overhead byte stuffing: the result contains no 0x00 byte."""
    chunks = data.split(b"\x00")
    if len(data) < 254:
        # No block can reach 254 bytes: each chunk is its code byte (length + 1) and its bytes
        # (a frame has a dozen or more zero bytes: one comprehension, no appends per block).
        return b"".join([_LENGTH_CODE[len(chunk)] + chunk for chunk in chunks])
    out = bytearray()
    for chunk in chunks:
        # A block holds at most 254 data bytes; code 0xFF means "254 bytes, no zero follows".
        while len(chunk) >= 254:
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode; raises FrameError on a malformed block."""
    # Fast path: walk the chain of code bytes, turning each into the zero it stands for (the
    # first one is dropped). Only a 0xFF block (254 data bytes, no zero after it) needs the
    # general decoder; frames here are shorter than that.
    out = bytearray(data)
    n = len(out)
    i = 0
    while i < n:
        code = out[i]
        if code == 0:
            raise FrameError("zero byte inside a COBS frame")
        if code == 0xFF:
            return _cobs_decode_blocks(data)
        out[i] = 0
        i += code
    if i > n:
        raise FrameError("COBS block runs past the end of the frame")
    return bytes(out[1:])


def _cobs_decode_blocks(data: bytes) -> bytes:
    """cobs_decode block by block (any block length, 0xFF blocks included)."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise FrameError("zero byte inside a COBS frame")
        j = i + code
        if j > n:
            raise FrameError("COBS block runs past the end of the frame")
        out += data[i + 1 : j]
        if code != 0xFF and j < n:
            out.append(0)
        i = j
    return bytes(out)


def wrap(body: bytes) -> bytes:
    """Append the CRC to a header+payload body and COBS-frame it with its delimiter."""
    return cobs_encode(body + _CRC.pack(zlib.crc32(body))) + DELIMITER


def unwrap(frame: bytes) -> bytes:
    """Strict inverse of wrap without the delimiter: return header+payload or raise FrameError."""
    raw = cobs_decode(frame)
    if len(raw) < 4:
        raise FrameError("frame shorter than a CRC")
    body = raw[:-4]
    if _CRC.unpack_from(raw, len(raw) - 4)[0] != zlib.crc32(body):
        raise FrameError("CRC mismatch")
    return body


class StreamDecoder:
    """Splits a byte stream into checked frame bodies (header + payload, CRC removed).

    `feed(data)` returns the bodies of every complete, valid frame in arrival order and counts
    the rest in `bad`. Garbage before a delimiter costs at most the one frame it lands in.
    """

    __slots__ = ("_pending", "bad")

    def __init__(self) -> None:
        self._pending = b""
        self.bad = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the valid frame bodies completed by them."""
        if self._pending:
            data = self._pending + data
        parts = data.split(b"\x00")
        tail = parts.pop()
        # A tail that never ends is noise: drop it rather than grow without bound.
        if len(tail) > 2 * MAX_FRAME_BYTES:
            self.bad += 1
            tail = b""
        self._pending = tail
        bodies = []
        crc_unpack = _CRC.unpack_from
        for part in parts:
            if not part:
                continue  # back-to-back delimiters (a sender's resync marker)
            if len(part) > 2 * MAX_FRAME_BYTES:
                self.bad += 1
                continue
            try:
                raw = cobs_decode(part)
            except FrameError:
                self.bad += 1
                continue
            n = len(raw)
            if n < 4 or crc_unpack(raw, n - 4)[0] != zlib.crc32(raw[: n - 4]):
                self.bad += 1
                continue
            bodies.append(raw[: n - 4])
        return bodies

    def reset(self) -> None:
        """Forget a partial frame (after reopening a port)."""
        self._pending = b""
