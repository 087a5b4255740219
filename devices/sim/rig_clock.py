"""The virtual rig's tick clock: when its device loop last ticked, shared with the control core.

Real devices have their own processors: a busy PC never delays their status frames. The virtual
rig is one process on the PC, and a loaded or noisy machine delays it: it waits for a CPU, its
virtual CPU is taken by the host (steal: it neither runs nor waits, its sleep just ends late), or
its own Python work runs long. Its devices then send nothing, and the core's 20 ms silence rule
would stop the session for a fault no real device has (issue 17: INSOLES_SILENT in CI, at 14 %
missed cycles). So the rig writes the monotonic time of every tick here, and the core, when the
simulated devices are quiet, times their silence from the end of the rig's own lateness
(engine/control/core.py, `_rig_awake_since`; docs/control.md).

One aligned 8-byte integer (nanoseconds) in a file under /dev/shm, written and read with single
aligned stores and loads (ctypes), so no lock is needed. The name follows the project's
shared-memory naming, `stepsync-PID-STARTTIME-rigclock-RANDOM`, so a start sweeps it when its rig
was killed (engine/control/shm.py); the rig removes it on every exit it can see.
"""

from __future__ import annotations

import ctypes
import glob
import mmap
import os
import tempfile
import time
import uuid

_SIZE = mmap.PAGESIZE
LABEL = "rigclock"


def _shm_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2:].split()[19]
    except (OSError, ValueError, IndexError):
        return "0"


class RigClockWriter:
    """The rig's side: `mark()` at every tick; `close()` removes the file."""

    def __init__(self) -> None:
        pid = os.getpid()
        self.path = os.path.join(_shm_dir(), f"stepsync-{pid}-{_start_time(pid)}-{LABEL}-{uuid.uuid4().hex[:8]}")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        self._tick_ns = ctypes.c_int64.from_buffer(self._map)
        self.mark(time.monotonic())

    def mark(self, now_s: float) -> None:
        """This tick started at now_s (time.monotonic())."""
        self._tick_ns.value = int(now_s * 1e9)

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
        del self._tick_ns
        self._map.close()


class RigClockReader:
    """The core's side: the rig with this pid's last tick time, if it publishes one."""

    def __init__(self, pid: int) -> None:
        self._map: mmap.mmap | None = None
        if pid <= 0:
            return
        paths = glob.glob(os.path.join(_shm_dir(), f"stepsync-{pid}-{_start_time(pid)}-{LABEL}-*"))
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
        # read through a memoryview cast to one aligned 64-bit integer instead.
        self._view = memoryview(self._map).cast("q")

    @property
    def available(self) -> bool:
        return self._map is not None

    def last_tick_s(self) -> float:
        """When the rig's loop last ticked (time.monotonic()); NaN without a clock."""
        if self._map is None:
            return float("nan")
        return self._view[0] * 1e-9

    def close(self) -> None:
        if self._map is not None:
            self._view.release()
            self._map.close()
            self._map = None
