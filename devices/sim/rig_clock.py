"""The virtual rig's tick clock: when its device loop last ticked and how late it has been,
shared with the control core.

Real devices have their own processors: a busy PC never delays their status frames. The virtual
rig is one process on the PC, and a loaded or noisy machine delays it: it waits for a CPU, its
virtual CPU is taken by the host (steal: it neither runs nor waits, its sleep just ends late), or
its own Python work runs long. Its devices then send nothing, and the core's 20 ms silence rule
would stop the session for a fault no real device has (issue 17: INSOLES_SILENT in CI, at 14 %
missed cycles). So the rig publishes, at every tick, the tick's monotonic time and the total of
its late gaps so far (each gap between two ticks longer than `LATE_GAP_S`, less the tick period):
the core leaves out of a simulated device's silence exactly the rig's lateness since that
device's last frame, and the lateness of a tick still to come (engine/control/core.py,
`_rig_late_s`; docs/control.md). Only that: a link cut while the rig was late is still silent
for the full limit of time the rig was ticking.

Two aligned 8-byte integers (nanoseconds) in a file under /dev/shm, each written and read with
one aligned store or load (ctypes), so no lock is needed; the total is written before the tick
time, so a reader between the two stores sees a late gap counted twice for that instant, never
not at all. The name follows the project's shared-memory naming (devices/shm_names.py), so a
start sweeps it when its rig was killed; the rig removes it on every exit it can see.
"""

from __future__ import annotations

import mmap
import os
import time

from devices.shm_names import new_shm_path, shm_paths_of

_SIZE = mmap.PAGESIZE
LABEL = "rigclock"
TICK_S = 0.002  # the rig's tick period (devices/sim/server.py)
# A gap between ticks longer than this is a late rig (its wake-up jitter, well under 1 ms, is
# not): the whole gap beyond the tick period counts as lateness.
LATE_GAP_S = 0.003


class RigClockWriter:
    """The rig's side: `mark()` at every tick; `close()` removes the file."""

    def __init__(self) -> None:
        self.path = new_shm_path(LABEL)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        self._words = memoryview(self._map).cast("q")  # [0] last tick, [1] total lateness (ns)
        self.late_total_s = 0.0
        self._last_s: float | None = None
        self.mark(time.monotonic())

    def mark(self, now_s: float) -> None:
        """This tick started at now_s (time.monotonic())."""
        last = self._last_s
        if last is not None and now_s - last > LATE_GAP_S:
            self.late_total_s += now_s - last - TICK_S
            self._words[1] = int(self.late_total_s * 1e9)  # before the tick time (module docstring)
        self._last_s = now_s
        self._words[0] = int(now_s * 1e9)

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self._words.release()
        self._map.close()


class RigClockReader:
    """The core's side: the rig with this pid's tick clock, if it publishes one."""

    def __init__(self, pid: int) -> None:
        self._map: mmap.mmap | None = None
        paths = shm_paths_of(pid, LABEL)
        if not paths:
            return
        try:
            fd = os.open(paths[0], os.O_RDONLY)
        except OSError:
            return
        try:
            self._map = mmap.mmap(fd, _SIZE, prot=mmap.PROT_READ)
        except OSError:
            return
        finally:
            os.close(fd)
        # A read-only map cannot back a ctypes object (from_buffer needs a writable buffer):
        # read through a memoryview cast to aligned 64-bit integers instead.
        self._view = memoryview(self._map).cast("q")

    @property
    def available(self) -> bool:
        return self._map is not None

    def last_tick_s(self) -> float:
        """When the rig's loop last ticked (time.monotonic()); NaN without a clock."""
        if self._map is None:
            return float("nan")
        return self._view[0] * 1e-9

    def late_total_s(self) -> float:
        """The rig's late gaps so far, in total (s); 0.0 without a clock."""
        if self._map is None:
            return 0.0
        return self._view[1] * 1e-9

    def close(self) -> None:
        if self._map is not None:
            self._view.release()
            self._map.close()
            self._map = None
