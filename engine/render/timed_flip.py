"""Flip a paced frame at its presentation time from a native thread (timed_flip.c).

Held and flipped by the UI's main thread, a frame was shown when that thread got a CPU and the
GIL after its sleep; every miss of `visual_belt_error_mm_p99` <= 5 (bench session, issue 17) was
such a late flip. Panda3D's own threaded pipeline (`threading-model Cull/Draw`) does not help:
its draw thread flips only when the app thread calls flip_frame() or the next render_frame()
(GraphicsEngine::RenderThread::thread_main), so the flip still waits for the main thread. Here a
C thread sleeps to the absolute time (clock_nanosleep) and calls GraphicsEngine::flip_frame()
itself, with no GIL, at SCHED_FIFO FLIP_RT_PRIORITY.

Only for tinydisplay's offscreen buffer (headless, the software renderer): a desktop window's
or a GL buffer's flip belongs to the thread that owns its GL context or X connection. Without
the compiled helper (tools/bootstrap.sh builds it where a C compiler exists) or on an unexpected
Panda3D object layout, `TimedFlip.load` returns None and the app holds and flips in Python as
before.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

LIBRARY_PATH = Path(__file__).with_name("libtimed_flip.so")
# The flip thread's SCHED_FIFO priority: that of the main thread's draw (app.HOLD_RT_PRIORITY),
# below every other real-time thread (the UI's watch threads 10, recorder 5, rig 50, core 80).
FLIP_RT_PRIORITY = 1
_FLIP_SYMBOL = "_ZN14GraphicsEngine10flip_frameEv"  # GraphicsEngine::flip_frame() (Itanium ABI)
# A Panda3D wrapper object (interrogate's Dtool_PyInstDef): PyObject_HEAD, the type, then the
# C++ pointer and a signature word that says the layout is the one expected.
_PTR_OFFSET = 24
_SIGNATURE_OFFSET = 32
_PANDA_SIGNATURE = 0xBEAF


def _cpp_pointer(wrapper) -> int | None:
    """The C++ object behind a Panda3D Python wrapper, or None if the layout is not the known one."""
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    if ctypes.c_ushort.from_address(id(wrapper) + _SIGNATURE_OFFSET).value != _PANDA_SIGNATURE:
        return None
    return ctypes.c_void_p.from_address(id(wrapper) + _PTR_OFFSET).value


class TimedFlip:
    """One armed flip at a time: `arm(at_s)`, then `wait_flipped()` for when it happened."""

    def __init__(self, library: ctypes.CDLL, engine_ptr: int, flip_ptr: int, thread_id: int) -> None:
        self._lib = library
        self._engine_ptr = engine_ptr
        self._flip_ptr = flip_ptr
        self.thread_id = thread_id
        self.armed = False

    @classmethod
    def load(cls, graphics_engine, library_path: Path = LIBRARY_PATH) -> TimedFlip | None:
        """A flip thread for this GraphicsEngine, or None (no helper built, unknown layout)."""
        if not library_path.exists():
            log.info("no %s (tools/bootstrap.sh builds it): frames are flipped by the main thread",
                     library_path.name)
            return None
        try:
            import panda3d

            panda = ctypes.CDLL(str(Path(panda3d.__file__).with_name("libpanda.so.1.10")))
            flip_ptr = ctypes.cast(getattr(panda, _FLIP_SYMBOL), ctypes.c_void_p).value
            library = ctypes.CDLL(str(library_path))  # CDLL: its calls release the GIL
        except (OSError, AttributeError) as exc:
            log.warning("timed flip unavailable (%s): frames are flipped by the main thread", exc)
            return None
        engine_ptr = _cpp_pointer(graphics_engine)
        if not engine_ptr or not flip_ptr:
            log.warning("timed flip unavailable (unexpected Panda3D object layout)")
            return None
        library.tf_start.restype = ctypes.c_long
        library.tf_arm.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_double]
        library.tf_arm.restype = ctypes.c_int
        library.tf_wait.argtypes = [ctypes.c_double]
        library.tf_wait.restype = ctypes.c_double
        thread_id = library.tf_start()
        if thread_id <= 0:
            return None
        try:
            # RESET_ON_FORK: nothing it might start inherits real-time (as for the main thread's draw).
            os.sched_setscheduler(thread_id, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK,
                                  os.sched_param(FLIP_RT_PRIORITY))
        except OSError:
            pass  # not allowed: it keeps the UI's nice value, still free of the GIL
        return cls(library, engine_ptr, flip_ptr, thread_id)

    def arm(self, at_s: float) -> None:
        """Flip the frame drawn last at monotonic time at_s (at once if that has passed); a flip
        still armed is waited for first (two frames are never flipped out of order)."""
        if self.armed:
            self.wait_flipped()
        self._lib.tf_arm(self._engine_ptr, self._flip_ptr, at_s)
        self.armed = True

    def wait_flipped(self, warn_after_s: float = 1.0) -> float | None:
        """Block (GIL released) until the armed flip is done; its monotonic time, or None when
        none was armed. Never gives up: an armed flip may still run, and a second thread
        flipping (or drawing) the same engine meanwhile is a race in Panda3D. A flip that does not
        come stalls the main loop, which the core stops like any hung UI (liveness, 100 ms)."""
        if not self.armed:
            return None
        flipped_s = self._lib.tf_wait(warn_after_s)
        if flipped_s < 0.0:
            log.error("the timed flip has not happened within %.1f s: still waiting for it", warn_after_s)
            while flipped_s < 0.0:
                flipped_s = self._lib.tf_wait(warn_after_s)
        self.armed = False
        return flipped_s
