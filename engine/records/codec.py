"""Telemetry chunk codecs: structured numpy records <-> compressed bytes, both lossless.

"shuffle-delta-zlib" (the live codec, for the small chunks committed every 50 ms; cheap): the
records' bytes are transposed so byte k of every record sits together (the HDF5/Blosc
"shuffle"), each byte plane is delta-coded along time (mod 256), then zlib-compressed.

"field-delta2-lzma" (the compaction codec, for the big chunks that replace the small ones every
few seconds; about 15 % smaller): each field is viewed as unsigned integers of its own width and
delta-coded twice along time (wrapping arithmetic, exactly invertible), so a smooth signal
(cycle, time, route distance, reference joint angles) leaves residuals near zero; the residuals'
bytes are shuffled and LZMA-compressed. Sensor noise stays what it is: nothing is rounded.
The dtype is stored beside each chunk (as JSON of `dtype.descr`) so a chunk written with an
older telemetry layout still decodes after fields were appended.
"""

from __future__ import annotations

import json
import lzma
import zlib

import numpy as np

CODEC = "shuffle-delta-zlib"
CODEC_COMPACT = "field-delta2-lzma"
CODECS = (CODEC, CODEC_COMPACT)
ZLIB_LEVEL = 6
LZMA_PRESET = 6


def _uint(width: int) -> np.dtype:
    return np.dtype(f"<u{width}")


def _field_columns(records: np.ndarray, name: str) -> np.ndarray:
    """A field as an (n, m) array of unsigned integers of the field's own width."""
    column = np.ascontiguousarray(records[name])
    width = column.dtype.itemsize
    return column.view(_uint(width)).reshape(len(records), -1)


def _encode_field_delta2(records: np.ndarray) -> bytes:
    n = len(records)
    parts = []
    for name in records.dtype.names:
        values = _field_columns(records, name).copy()
        for _ in range(2):
            if n > 1:
                values[1:] = np.diff(values, axis=0)  # unsigned: wraps, exactly invertible
        width = values.dtype.itemsize
        planes = values.view(np.uint8).reshape(n, -1, width).transpose(1, 2, 0)
        parts.append(np.ascontiguousarray(planes).tobytes())
    return lzma.compress(b"".join(parts), preset=LZMA_PRESET)


def _decode_field_delta2(blob: bytes, dtype: np.dtype, n: int) -> np.ndarray:
    raw = lzma.decompress(blob)
    out = np.zeros(n, dtype=dtype)
    offset = 0
    for name in dtype.names:
        base = dtype.fields[name][0]
        scalar = base.base if base.subdtype else base
        per_record = base.itemsize // scalar.itemsize
        width = scalar.itemsize
        size = n * per_record * width
        planes = np.frombuffer(raw, dtype=np.uint8, count=size, offset=offset).reshape(per_record, width, n)
        offset += size
        values = np.ascontiguousarray(planes.transpose(2, 0, 1)).view(_uint(width)).reshape(n, per_record)
        for _ in range(2):
            values = np.cumsum(values, axis=0, dtype=values.dtype)
        out[name] = values.view(scalar).reshape(out[name].shape)
    return out


def encode(records: np.ndarray, codec: str = CODEC) -> bytes:
    """Compress a 1-D structured array into bytes with the named codec."""
    if codec == CODEC_COMPACT:
        return _encode_field_delta2(records)
    if codec != CODEC:
        raise ValueError(f"unknown telemetry codec {codec!r}")
    n = len(records)
    planes = np.ascontiguousarray(
        np.ascontiguousarray(records).view(np.uint8).reshape(n, records.dtype.itemsize).T
    )
    if n > 1:
        planes[:, 1:] = np.diff(planes, axis=1)  # uint8 arithmetic wraps: exact inverse below
    return zlib.compress(planes.tobytes(), ZLIB_LEVEL)


def decode(blob: bytes, dtype: np.dtype, n: int, codec: str = CODEC) -> np.ndarray:
    """Inverse of encode(): a fresh 1-D array of n records of dtype."""
    dtype = np.dtype(dtype)
    if codec == CODEC_COMPACT:
        return _decode_field_delta2(blob, dtype, n)
    if codec != CODEC:
        raise ValueError(f"unknown telemetry codec {codec!r}")
    planes = np.frombuffer(zlib.decompress(blob), dtype=np.uint8).reshape(dtype.itemsize, n)
    planes = np.cumsum(planes, axis=1, dtype=np.uint8)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(n)


def dtype_to_json(dtype: np.dtype) -> str:
    """A stable text form of a structured dtype."""
    return json.dumps(np.lib.format.dtype_to_descr(np.dtype(dtype)))


def dtype_from_json(text: str) -> np.dtype:
    """Inverse of dtype_to_json() for flat record layouts (fields with optional shapes)."""
    fields = []
    for field in json.loads(text):
        name, kind = field[0], field[1]
        fields.append((name, kind, tuple(field[2])) if len(field) > 2 else (name, kind))
    return np.dtype(fields)


def convert(records: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Copy records into `dtype`, field by field: fields missing from the source stay zero."""
    if records.dtype == dtype:
        return records
    out = np.zeros(len(records), dtype=dtype)
    for name in dtype.names:
        if records.dtype.names and name in records.dtype.names:
            out[name] = records[name]
    return out
