"""Scenery chunks built off the frame path.

A chunk of the grocery store is thousands of boxes: laying them out and packing the vertex data
takes tens of milliseconds, far more than a 90 Hz headset frame (11 ms). So chunks ahead of the
patient are built on a worker thread: the layout (Python), the numpy packing and the
GeomVertexData/GeomNode creation all happen there, on nodes not yet in the scene graph (safe:
Panda3D is built with true threads). The frame only attaches a finished node, at most
`attach_per_update` per frame, which costs well under a millisecond.

The worker works nearest-first, runs at a lower OS priority than the frame thread, and paces
itself: it releases the GIL between pieces of work (`PACE_EVERY_S`), so the frame thread never
waits long for the interpreter. A chunk that is
needed before the worker has it (a jump along the route, a too-slow machine) is built on the
frame as before and counted in `sync_builds`, so the bench can say so.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

PACE_EVERY_S = 0.002  # the worker yields the interpreter at least this often while building
WORKER_NICE = 10  # the worker's scheduling niceness: below the frame thread


class ChunkQueue:
    """Chunk indices asked for, the one being built, and the finished ones: what the frame
    sees of a chunk builder (this module's thread, or world/chunk_process.py's process)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._requested: set[int] = set()
        self._ready: dict[int, object] = {}
        self._busy: int | None = None
        self._stopped = False
        self.built = 0  # chunks the worker finished
        self.worker_s = 0.0  # time the worker spent building

    def _working(self) -> bool:
        """Whether the builder can still build (a process may have died)."""
        return True

    def _wake(self) -> None:
        """With the lock held: a new request is waiting."""
        self._lock.notify()

    def _made(self, index: int, item):
        """What `take` returns for a finished chunk (on the caller's thread)."""
        return item

    def request(self, index: int) -> None:
        """Ask for a chunk to be built in the background (no-op if asked or built already)."""
        with self._lock:
            if (index in self._requested or index in self._ready or index == self._busy or self._stopped
                    or not self._working()):
                return
            self._requested.add(index)
            self._wake()

    def take(self, index: int):
        """The built chunk if the worker has finished it (removed from the queue), else None."""
        with self._lock:
            item = self._ready.pop(index, None)
        return None if item is None else self._made(index, item)

    def ready_indices(self) -> list[int]:
        """Indices finished and not yet taken."""
        with self._lock:
            return sorted(self._ready)

    def cancel(self, index: int) -> None:
        """Forget a request (or a finished chunk) that is no longer wanted."""
        with self._lock:
            self._requested.discard(index)
            self._ready.pop(index, None)

    def pending(self) -> int:
        """Chunks asked for and not finished yet (none once the builder cannot build)."""
        with self._lock:
            return len(self._requested) + (self._busy is not None) if self._working() else 0

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Block until nothing is pending (tests and benches; never on the frame path)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._working() and (self._requested or self._busy is not None) and not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _stop_queue(self) -> None:
        with self._lock:
            self._stopped = True
            self._requested.clear()
            self._ready.clear()
            self._lock.notify_all()


class ChunkStreamer(ChunkQueue):
    """A worker thread turning chunk indices into built nodes (whatever `build(index)` returns)."""

    def __init__(self, build: Callable[[int], object], name: str = "chunk-builder") -> None:
        super().__init__()
        self._build = build
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker (the chunk being built is finished and dropped)."""
        self._stop_queue()

    def _run(self) -> None:
        try:  # the frame thread comes first when the two compete for a core (Linux: per-thread nice)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
        except (OSError, AttributeError):
            pass
        while True:
            with self._lock:
                while not self._requested and not self._stopped:
                    self._lock.wait()
                if self._stopped:
                    return
                index = min(self._requested)  # nearest first: the route runs to +y
                self._requested.discard(index)
                self._busy = index
            t0 = time.perf_counter()
            try:
                result = self._build(index)
            except Exception:  # a bad chunk must not kill the streamer; the frame builds it then
                log.exception("building chunk %d in the background failed", index)
                result = None
            self.worker_s += time.perf_counter() - t0
            with self._lock:
                self._busy = None
                if result is not None and not self._stopped:
                    self._ready[index] = result
                    self.built += 1
                self._lock.notify_all()
            time.sleep(0)  # let the frame thread in between chunks


class Pacer:
    """Called often from inside a long build: gives the interpreter to other threads every
    PACE_EVERY_S, so a build on the worker never holds the frame thread up for long."""

    def __init__(self, every_s: float = PACE_EVERY_S) -> None:
        self.every_s = every_s
        self._last = time.perf_counter()

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            time.sleep(0)
            self._last = time.perf_counter()


__all__ = ["ChunkQueue", "ChunkStreamer", "PACE_EVERY_S", "Pacer"]
