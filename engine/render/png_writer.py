"""Screenshots written off the frame loop.

Panda3D's own image writers hold the Python GIL while they encode, which stops every Python
thread, the UI watchdog's heartbeat included, for the 100+ ms a 720p PNG takes. Here the frame
loop only copies the pixels (milliseconds); a background thread encodes the PNG with zlib, which
releases the GIL while it compresses.
"""

from __future__ import annotations

import struct
import threading
import zlib
from pathlib import Path

import numpy as np

_writers: list[threading.Thread] = []


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (height, width, 3) uint8 image, top row first."""
    height, width, _ = rgb.shape
    rows = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # filter byte 0 before each row
    rows[:, 1:] = rgb.reshape(height, width * 3)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b"")


def grab_rgb(window) -> np.ndarray | None:
    """The window's current image as (height, width, 3) uint8, top row first (None if unavailable)."""
    texture = window.get_screenshot()
    if texture is None:
        return None
    data = texture.get_ram_image_as("RGB")
    if not data:
        return None
    width, height = texture.get_x_size(), texture.get_y_size()
    return np.frombuffer(bytes(data), dtype=np.uint8).reshape(height, width, 3)[::-1]


def write_png_async(path: str | Path, rgb: np.ndarray) -> threading.Thread:
    """Encode and write in a background thread (atomic rename); `wait_for_writes` joins them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def work() -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(encode_png(rgb))
        tmp.replace(path)

    thread = threading.Thread(target=work, name=f"png-{path.name}", daemon=True)
    thread.start()
    _writers.append(thread)
    return thread


def wait_for_writes(timeout_s: float = 10.0) -> None:
    """Block until every screenshot started so far is on disk."""
    while _writers:
        _writers.pop().join(timeout_s)
