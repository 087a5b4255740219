"""Scenery chunks built in a separate process, so building never shares the interpreter with the
frame.

A worker *thread* (world/streaming.py) takes the building off the frame, but not off the frame's
interpreter: the layout is Python, so the worker holds the GIL most of the time it runs, and the
frame thread waits for it each time it comes back from drawing. On a busy machine it is worse: a
worker preempted while holding the GIL stalls the frame for as long as the OS keeps it off the
CPU. A worker process shares nothing with the frame but a pipe.

The process gets the scene once (as JSON, validated again there) and then chunk indices, nearest
first, one at a time; it answers with the chunk's vertex rows (MeshBuilder.rows(): plain float32
data, about 1 MB for a busy grocery chunk). A reader thread in the app reads them straight
into the vertex data of new GeomNodes (world/mesh.node_read_into: the read releases the GIL, and
the only other work is the index array and the bounds), so the frame only attaches finished
nodes. (`nodes_in_reader=False`, the way before, hands the rows to the frame, which copied them
into nodes in slices of a few thousand rows per frame: kept as the bench's baseline.)

Wire format, little-endian. To the process: b"S" u32 length + scene JSON, then b"B" i32 index
per chunk. From it: i32 index, u32 lit rows, u32 glow rows, u32 far rows, 18 f32 (lit, glow,
far bounds: min and max corners), then the rows (40 bytes each); index -1 says the scene is
loaded; lit rows 0xFFFFFFFF says building that chunk failed (the frame then builds it, counted
as a late chunk); far rows 0xFFFFFFFF says the chunk has no far version (one level of detail).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.render.world.mesh import node_read_into
from engine.render.world.streaming import ChunkQueue

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
WORKER_NICE = 10  # the builder runs below the app's priority
ROW_BYTES = 40  # MeshBuilder rows: 10 float32
_HEADER = struct.Struct("<iIII18f")
FAILED = 0xFFFFFFFF
NO_FAR = 0xFFFFFFFF


class ChunkProcess(ChunkQueue):
    """The app's side: the same interface as streaming.ChunkStreamer (request, take, ...);
    `make(index, (lit, glow, far, lit_bounds, glow_bounds, far_bounds))` turns a received chunk
    into what `take` returns (far and its bounds None when the chunk has no far version)."""

    def __init__(self, scene, make: Callable[[int, tuple], object], name: str = "chunk-process",
                 nodes_in_reader: bool = True) -> None:
        super().__init__()
        self._make = make
        self.nodes_in_reader = nodes_in_reader  # received as finished GeomNodes (else as rows)
        self._alive = False  # the process answers (requests queue until it does; its death ends them)
        self._sent_at = 0.0
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from engine.render.world.chunk_process import main; sys.exit(main())"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(ROOT), env=env)
        payload = json.dumps(scene.model_dump(mode="json")).encode()
        try:
            self._proc.stdin.write(b"S" + struct.pack("<I", len(payload)) + payload)
            self._proc.stdin.flush()
        except OSError:
            log.warning("the chunk process did not take the scene; chunks are built on the frame")
        self._alive = True
        self._thread = threading.Thread(target=self._read, name=name, daemon=True)
        self._thread.start()

    def _working(self) -> bool:
        return self._alive

    def _wake(self) -> None:
        self._send_next()

    def _made(self, index: int, item):
        return item if self.nodes_in_reader else self._make(index, item)

    def stop(self) -> None:
        """End the process (the reader thread reaps it)."""
        self._stop_queue()
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        if self._proc.poll() is None:
            self._proc.terminate()

    @property
    def alive(self) -> bool:
        return self._alive and not self._stopped

    # ---- internals -----------------------------------------------------------------------------

    def _send_next(self) -> None:
        """With the lock held: send the nearest requested chunk if none is in flight."""
        if self._busy is not None or not self._requested or self._stopped:
            return
        index = min(self._requested)  # nearest first: the route runs to +y
        self._requested.discard(index)
        try:
            self._proc.stdin.write(b"B" + struct.pack("<i", index))
            self._proc.stdin.flush()
        except (OSError, ValueError):
            self._die("the chunk process stopped taking requests")
            return
        self._busy = index
        self._sent_at = time.perf_counter()

    def _die(self, why: str) -> None:
        if self._alive and not self._stopped:
            log.warning("%s; chunks are built on the frame from now on", why)
        self._alive = False
        self._busy = None
        self._requested.clear()
        self._lock.notify_all()

    def _read_exact(self, n: int) -> bytes | None:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self._proc.stdout.readinto(view[got:])
            if not k:
                return None
            got += k
        return bytes(buf)

    def _readinto_exact(self, target: memoryview) -> bool:
        """Fill `target` from the pipe (False when the process ended first)."""
        got, n = 0, len(target)
        while got < n:
            k = self._proc.stdout.readinto(target[got:])
            if not k:
                return False
            got += k
        return True

    def _read_rows(self, counts: tuple[int, int, int], corners) -> tuple | None:
        """One chunk's rows from the pipe: (lit, glow, far, lit bounds, glow bounds, far bounds),
        the three finished GeomNodes (nodes_in_reader) or float32 row arrays, far None when the
        chunk has none; None when the pipe ended."""
        has_far = counts[2] != NO_FAR
        counts = counts if has_far else (counts[0], counts[1], 0)
        bounds = [(tuple(corners[k:k + 3]), tuple(corners[k + 3:k + 6])) for k in (0, 6, 12)]
        if self.nodes_in_reader:
            nodes = []
            for name, n, box in zip(("lit", "glow", "far"), counts, bounds, strict=True):
                node = node_read_into(name, n, box, self._readinto_exact)
                if node is None:
                    return None
                nodes.append(node)
        else:
            data = self._read_exact(sum(counts) * ROW_BYTES)
            if data is None:
                return None
            flat = np.frombuffer(data, dtype=np.float32).reshape(-1, 10)
            ends = np.cumsum(counts)
            nodes = [flat[:ends[0]], flat[ends[0]:ends[1]], flat[ends[1]:ends[2]]]
        return (nodes[0], nodes[1], nodes[2] if has_far else None, bounds[0], bounds[1],
                bounds[2] if has_far else None)

    def _read(self) -> None:
        try:
            while True:
                head = self._read_exact(_HEADER.size)
                if head is None:
                    break
                index, n_lit, n_glow, n_far, *corners = _HEADER.unpack(head)
                if index < 0:
                    continue  # the scene is loaded
                if n_lit == FAILED:
                    rows = None
                else:
                    rows = self._read_rows((n_lit, n_glow, n_far), corners)
                    if rows is None:
                        break
                    if self.nodes_in_reader:  # put together here too: the frame only attaches it
                        try:
                            rows = self._make(index, rows)
                        except Exception:  # one bad chunk: the frame builds it (a late chunk), the rest still come
                            log.exception("putting chunk %d together failed", index)
                            rows = None
                with self._lock:
                    if self._busy == index:
                        self._busy = None
                    self.worker_s += time.perf_counter() - self._sent_at
                    if rows is not None and not self._stopped:
                        self._ready[index] = rows
                        self.built += 1
                    self._send_next()
                    self._lock.notify_all()
        finally:
            with self._lock:
                self._die("the chunk process ended")
            try:
                self._proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


# ---- the process ---------------------------------------------------------------------------------


def _read_exact(stream, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def main() -> int:
    """The worker: read the scene, then build each requested chunk and send its rows."""
    try:
        os.nice(WORKER_NICE)
    except (OSError, AttributeError):
        pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    if _read_exact(stdin, 1) != b"S":
        return 2
    size = _read_exact(stdin, 4)
    if size is None:
        return 2
    from engine.render.world.chunks import chunk_rows, layout_for
    from engine.render.world.mesh import rows_bounds
    from engine.scene.model import Scene

    scene = Scene.model_validate(json.loads(_read_exact(stdin, struct.unpack("<I", size)[0]) or b"{}"))
    layout = layout_for(scene)
    stdout.write(_HEADER.pack(-1, 0, 0, 0, *[0.0] * 18))
    stdout.flush()
    while True:
        tag = _read_exact(stdin, 1)
        if tag != b"B":
            return 0
        raw = _read_exact(stdin, 4)
        if raw is None:
            return 0
        index = struct.unpack("<i", raw)[0]
        try:
            lit, glow, far = chunk_rows(scene, layout, index)
        except Exception:  # noqa: BLE001 - one bad chunk: the frame builds it and logs there
            import traceback

            traceback.print_exc()
            stdout.write(_HEADER.pack(index, FAILED, 0, 0, *[0.0] * 18))
            stdout.flush()
            continue
        corners = [c for rows in (lit, glow, far if far is not None else lit) for c in sum(rows_bounds(rows), ())]
        stdout.write(_HEADER.pack(index, len(lit), len(glow), len(far) if far is not None else NO_FAR, *corners))
        stdout.write(lit.tobytes())
        stdout.write(glow.tobytes())
        if far is not None:
            stdout.write(far.tobytes())
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["ChunkProcess", "main"]
