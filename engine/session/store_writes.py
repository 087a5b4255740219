"""Database writes of a walking session's frame loop, done on a thread of their own.

While the belt moves, the UI's main thread must never wait on SQLite: a write waits for the
recorder's transaction to end (the busy handler sleeps 1, 2, 5, 10 ... ms between tries) or runs
a WAL checkpoint, and a main thread blocked that way for 60 ms outside a long stage is a hung one
to the liveness beat (engine/render/liveness.py), which the core stops within 100 ms. So the audit
rows of therapist actions and the events the frame loop records (HUD feedback) are queued here
and written in order by one thread; `flush()` waits for them where the session is read back or
closed. A write that fails is logged and counted, as a synchronous one was (the audit log never
takes a session down).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_STOP = object()


class StoreWrites:
    """One thread writing queued calls to a Store (whose own lock serialises them with other
    threads' use of it), in the order they were submitted."""

    def __init__(self, name: str = "store-writes") -> None:
        self.errors = 0
        self.written = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, call: Callable[..., object], *args, what: str = "", **kwargs) -> None:
        """Queue `call(*args, **kwargs)`; returns at once."""
        self._queue.put((call, args, kwargs, what or getattr(call, "__name__", "write")))

    def flush(self, timeout_s: float = 60.0) -> bool:
        """Wait until every write queued so far is done (True), or `timeout_s` passed (False)."""
        done = threading.Event()
        self._queue.put((done.set, (), {}, "flush"))
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 60.0) -> bool:
        """Flush, then end the thread."""
        flushed = self.flush(timeout_s)
        self._queue.put(_STOP)
        self._thread.join(timeout=1.0)
        return flushed

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            call, args, kwargs, what = item
            try:
                call(*args, **kwargs)
                self.written += 1
            except Exception:  # never let a record take the session down; count and log it
                self.errors += 1
                log.exception("records: could not write %s", what)
