"""struct-based writers for fixed numpy records in shared memory.

Setting fields of a numpy structured record one by one costs about a microsecond each; one
`struct.pack_into` of the whole record costs a few. The hot path therefore packs records with a
precompiled `struct.Struct` per contiguous run of fields, straight into the mapped buffer, while
readers keep using the numpy views (same bytes, same layout).
"""

from __future__ import annotations

import struct

import numpy as np

_CODES = {"u1": "B", "i1": "b", "u2": "H", "i2": "h", "u4": "I", "i4": "i", "u8": "Q", "i8": "q", "f4": "f", "f8": "d"}


def run_struct(dtype: np.dtype, first: str, last: str) -> tuple[struct.Struct, int]:
    """A Struct packing the fields first..last (inclusive, contiguous in the dtype) and the
    byte offset of `first` within the record. Subarray fields take one value per element."""
    names = list(dtype.names)
    i0, i1 = names.index(first), names.index(last)
    fmt = "<"
    offset0 = dtype.fields[first][1]
    expected = offset0
    for name in names[i0 : i1 + 1]:
        field_dtype, offset = dtype.fields[name][:2]
        if offset != expected:
            raise ValueError(f"{name}: fields are not contiguous")
        base = field_dtype.base
        code = _CODES[f"{base.kind}{base.itemsize}"]
        if base.fields is not None:
            raise ValueError(f"{name}: nested records are packed with numpy")
        count = int(np.prod(field_dtype.shape)) if field_dtype.shape else 1
        fmt += f"{count}{code}" if count > 1 else code
        expected = offset + field_dtype.itemsize
    packer = struct.Struct(fmt)
    if packer.size != expected - offset0:
        raise ValueError("packed size does not match the dtype")
    return packer, offset0
