"""Where the project's shared-memory files live and how they are named, in one place.

Every segment (the core's state and rings in engine/control/shm.py, the virtual rig's tick clock
in devices/sim/rig_clock.py) is a file `stepsync-PID-STARTTIME-LABEL-RANDOM` under /dev/shm: the
creator's pid and start time let a later start sweep the files of a process that no longer
exists (engine/control/shm.py `sweep_stale_segments`), even after its pid was reused. Here, in
the lowest package, so that the rig and the engine name their files the same way without
importing each other.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path


def shm_dir() -> Path:
    """Directory for shared-memory files: /dev/shm when it exists, else the temp dir."""
    dev_shm = Path("/dev/shm")
    return dev_shm if dev_shm.is_dir() and os.access(dev_shm, os.W_OK) else Path(tempfile.gettempdir())


def process_start_time(pid: int) -> str | None:
    """A process's start time in clock ticks since boot (/proc/PID/stat field 22), or None when
    it does not exist: with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def new_shm_path(label: str) -> str:
    """A fresh, unique path for a shared-memory file: stepsync-PID-STARTTIME-LABEL-RANDOM."""
    pid = os.getpid()
    return str(shm_dir() / f"stepsync-{pid}-{process_start_time(pid) or 0}-{label}-{uuid.uuid4().hex[:8]}")


def shm_paths_of(pid: int, label: str) -> list[str]:
    """The shared-memory files with `label` that the running process `pid` created (none when
    it does not exist)."""
    started = process_start_time(pid)
    if pid <= 0 or started is None:
        return []
    return sorted(str(p) for p in shm_dir().glob(f"stepsync-{pid}-{started}-{label}-*"))
