"""Shared memory between processes: seqlock blocks and single-producer rings.

Both live in memory-mapped files under /dev/shm (a tmpfs), named by path, so any process can
attach by path and the data outlives a crashed writer (the recorder can still drain the last
records of a killed core). The creator removes the file on `close(unlink=True)`, and on every
exit it can see: a normal exit, an exception, SIGINT, and SIGTERM (a default SIGTERM becomes
SystemExit, so `finally` blocks and atexit run). What no process can see (SIGKILL, a power cut)
is swept by the next start: each name carries its creator's pid and start time, and
`sweep_stale_segments()` removes the files of creators that no longer exist.

Seqlock: the single writer makes the sequence counter odd, writes, makes it even. A reader copies
the payload and retries when the counter was odd or changed: readers never block the writer and
never return a torn record. A ring has one producer and one consumer coordinated only by two
counters; the producer never blocks: when the ring is full it drops the record and counts it.
"""

from __future__ import annotations

import atexit
import logging
import mmap
import os
import signal
import struct
import threading
import time
from pathlib import Path

import numpy as np

from devices.shm_names import new_shm_path, shm_dir
from devices.shm_names import process_start_time as _start_time

log = logging.getLogger(__name__)

HEADER_BYTES = 64  # counters live in their own cache line, payload starts aligned
_RING_COUNTERS = struct.Struct("<QQQ")  # write_count, read_count, overflow
_U64 = struct.Struct("<Q")


def _owner_gone(name: str) -> bool:
    """True when the process that created this segment no longer exists."""
    parts = name.split("-")
    if len(parts) < 4 or parts[0] != "stepsync" or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    started = _start_time(pid)
    if started is None:
        return True
    # Names with a start time: a reused pid is another process. (Older names have none.)
    return parts[2].isdigit() and parts[2] != "0" and parts[2] != started


def sweep_stale_segments(directory: Path | None = None) -> list[str]:
    """Remove shared-memory files whose creator no longer exists; returns the names removed.

    Safe while a crashed app's core or recorder still has them mapped: unlinking a name does not
    unmap it, they finish with what they hold."""
    directory = directory or shm_dir()
    removed = []
    try:
        names = [n for n in os.listdir(directory) if n.startswith("stepsync-")]
    except OSError:
        return removed
    for name in names:
        if _owner_gone(name):
            try:
                os.unlink(directory / name)
                removed.append(name)
            except OSError:
                pass
    if removed:
        log.info("removed %d shared-memory segment(s) left by processes that no longer exist", len(removed))
    return removed


# Segments this process created and has not removed yet: removed at exit whatever the way out.
_CREATED: set[str] = set()


def _remove_created() -> None:
    for path in list(_CREATED):
        try:
            os.unlink(path)
        except OSError:
            pass
        _CREATED.discard(path)


def _on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _track(path: str) -> None:
    if not _CREATED:
        atexit.register(_remove_created)
        # A default SIGTERM ends the process without atexit; make it an orderly exit. A handler
        # the application installed itself (a controlled stop first) is left alone.
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread
            pass
    _CREATED.add(path)


class _Mapped:
    """A file of fixed size mapped into memory."""

    def __init__(self, path: str, size: int, create: bool) -> None:
        self.path = path
        self.size = size
        if create:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.ftruncate(fd, size)
        else:
            fd = os.open(path, os.O_RDWR)
            actual = os.fstat(fd).st_size
            if actual != size:
                os.close(fd)
                raise ValueError(f"{path}: size {actual} bytes, expected {size} (layout mismatch)")
        try:
            self.mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.created = create
        if create:
            _track(path)

    def close(self, unlink: bool = False) -> None:
        try:
            self.mm.close()
        except BufferError:
            pass  # numpy views still alive; the mapping goes when they do
        if unlink:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            _CREATED.discard(self.path)


class SeqLockBlock:
    """One record of `dtype` behind a sequence lock.

    Writer: `begin_write()`, mutate `data` in place, `end_write()` (or `write(record)`).
    Reader: `read(out)` copies a consistent snapshot into a preallocated array.
    """

    def __init__(self, path: str, dtype: np.dtype, create: bool = False) -> None:
        self.dtype = np.dtype(dtype)
        self._map = _Mapped(path, HEADER_BYTES + self.dtype.itemsize, create)
        self.path = path
        self._seq = np.ndarray((1,), dtype="<u8", buffer=self._map.mm, offset=0)
        self.data = np.ndarray((), dtype=self.dtype, buffer=self._map.mm, offset=HEADER_BYTES)
        self._writer_lock = threading.Lock()  # only between threads of the writing process
        if create:
            self._seq[0] = 0

    @classmethod
    def create(cls, dtype: np.dtype, label: str) -> SeqLockBlock:
        """Create a zeroed block at a new path."""
        return cls(new_shm_path(label), dtype, create=True)

    @property
    def sequence(self) -> int:
        """Current sequence counter (even when no write is in progress)."""
        return _U64.unpack_from(self._map.mm, 0)[0]  # = int(self._seq[0]), read every core cycle

    def begin_write(self) -> None:
        """Make the counter odd: readers retry until end_write()."""
        self._seq[0] += 1

    def end_write(self) -> None:
        """Make the counter even again: the new record is visible."""
        self._seq[0] += 1

    def write(self, record: np.ndarray) -> None:
        """Copy a whole record in under the lock protocol (thread-safe within one process)."""
        with self._writer_lock:
            self.begin_write()
            self.data[...] = record
            self.end_write()

    def writing(self) -> threading.Lock:
        """The lock that serialises writers of this process (hold it around begin/end_write)."""
        return self._writer_lock

    @property
    def buffer(self) -> mmap.mmap:
        """The raw mapping (header then payload at HEADER_BYTES), for struct.pack_into writers."""
        return self._map.mm

    def update(self, **fields) -> None:
        """Set some fields under the lock protocol (thread-safe within one process)."""
        with self._writer_lock:
            self.begin_write()
            for name, value in fields.items():
                self.data[name] = value
            self.end_write()

    def read(self, out: np.ndarray | None = None, timeout_s: float = 0.05) -> np.ndarray:
        """Return a consistent copy; never blocks the writer. Raises TimeoutError if the writer
        stayed mid-write longer than timeout_s (it died or was frozen while writing)."""
        if out is None:
            out = np.zeros((), dtype=self.dtype)
        deadline = 0.0
        tries = 0
        while True:
            before = int(self._seq[0])
            if not before & 1:
                np.copyto(out, self.data)
                if int(self._seq[0]) == before:
                    return out
            tries += 1
            if tries > 100:
                now = time.monotonic()
                if deadline == 0.0:
                    deadline = now + timeout_s
                elif now > deadline:
                    raise TimeoutError(f"{self.path}: writer stuck mid-write")
                time.sleep(0)

    def close(self, unlink: bool | None = None) -> None:
        """Unmap; the creator also removes the file unless unlink=False."""
        del self.data, self._seq
        self._map.close(unlink=self._map.created if unlink is None else unlink)


class Ring:
    """Single-producer single-consumer ring of fixed-dtype records in shared memory.

    Header: write_count (records committed ever), read_count (records consumed ever, written by
    the consumer), overflow (records dropped because the ring was full).
    """

    def __init__(self, path: str, dtype: np.dtype, capacity: int, create: bool = False) -> None:
        self.dtype = np.dtype(dtype)
        self.capacity = int(capacity)
        self._itemsize = self.dtype.itemsize  # (push_packed runs every core cycle)
        self._map = _Mapped(path, HEADER_BYTES + self.dtype.itemsize * self.capacity, create)
        self.path = path
        self._counters = np.ndarray((3,), dtype="<u8", buffer=self._map.mm, offset=0)
        self.records = np.ndarray(
            (self.capacity,), dtype=self.dtype, buffer=self._map.mm, offset=HEADER_BYTES
        )
        if create:
            self._counters[:] = 0

    @classmethod
    def create(cls, dtype: np.dtype, capacity: int, label: str) -> Ring:
        """Create an empty ring at a new path."""
        return cls(new_shm_path(label), dtype, capacity, create=True)

    @property
    def buffer(self) -> mmap.mmap:
        """The raw mapping (header then records at HEADER_BYTES), for struct.pack_into writers."""
        return self._map.mm

    @property
    def write_count(self) -> int:
        return int(self._counters[0])

    @property
    def read_count(self) -> int:
        return int(self._counters[1])

    @property
    def overflow(self) -> int:
        """Records the producer had to drop because the consumer fell behind."""
        return _U64.unpack_from(self._map.mm, 16)[0]  # = int(self._counters[2]), read every core cycle

    # -- producer ---------------------------------------------------------------------------
    def claim(self) -> np.ndarray | None:
        """The next free slot as a writable 0-d view, or None (and an overflow counted) if full.

        Fill it, then call commit(). Never blocks.
        """
        written = int(self._counters[0])
        if written - int(self._counters[1]) >= self.capacity:
            self._counters[2] += 1
            return None
        index = written % self.capacity
        return self.records[index : index + 1].reshape(())

    def commit(self) -> None:
        """Publish the slot returned by the last claim()."""
        self._counters[0] += 1

    def push_packed(self, packer: struct.Struct, *values) -> bool:
        """Hot-path producer: pack one record with a precompiled struct (engine/control/packing)
        straight into the next slot and publish it; False (counted as overflow) when full.
        A few microseconds, against tens for filling a numpy record field by field."""
        buf = self._map.mm
        written, read, overflow = _RING_COUNTERS.unpack_from(buf, 0)
        if written - read >= self.capacity:
            _U64.pack_into(buf, 16, overflow + 1)
            return False
        packer.pack_into(buf, HEADER_BYTES + (written % self.capacity) * self._itemsize, *values)
        _U64.pack_into(buf, 0, written + 1)
        return True

    def push(self, record: np.ndarray) -> bool:
        """Copy one record in; False (counted as overflow) when full."""
        slot = self.claim()
        if slot is None:
            return False
        slot[...] = record
        self.commit()
        return True

    # -- consumer ---------------------------------------------------------------------------
    def available(self) -> int:
        """Records waiting to be consumed."""
        return int(self._counters[0]) - int(self._counters[1])

    def drain(self, max_records: int | None = None) -> np.ndarray:
        """Copy out up to max_records waiting records (oldest first) and release their slots."""
        read = int(self._counters[1])
        n = int(self._counters[0]) - read
        if max_records is not None:
            n = min(n, max_records)
        if n <= 0:
            return np.zeros(0, dtype=self.dtype)
        start = read % self.capacity
        first = min(n, self.capacity - start)
        out = np.empty(n, dtype=self.dtype)
        out[:first] = self.records[start : start + first]
        if n > first:
            out[first:] = self.records[: n - first]
        self._counters[1] = read + n
        return out

    def close(self, unlink: bool | None = None) -> None:
        """Unmap; the creator also removes the file unless unlink=False."""
        del self.records, self._counters
        self._map.close(unlink=self._map.created if unlink is None else unlink)
