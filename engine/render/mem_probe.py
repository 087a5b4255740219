"""A cheap memory probe for the UI process (issue 17's soak), off unless STEPSYNC_MEM_PROBE names
a log file.

tracemalloc snapshots inside the live UI hung its main loop (the core then stopped the session),
so this logs only counters that cost little: every PROBE_EVERY_S the RSS, glibc's own view of its
heap (mallinfo2: bytes in use vs. bytes held, which tells a leak from fragmentation), Panda3D's
state caches and vertex-data totals, the scene graph's size, the world's chunks; every
TYPES_EVERY_S the Python object types that grew most since the last count.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import threading
import time

PROBE_ENV = "STEPSYNC_MEM_PROBE"
PROBE_EVERY_S = 30.0
TYPES_EVERY_S = 120.0
TOP_TYPES = 12


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


_LIBC: list = []  # ctypes' handle on libc, made once (a CDLL per sample was itself garbage)


def _mallinfo2() -> dict:
    """glibc's heap totals (all arenas): held from the OS, in use, free inside it; {} elsewhere."""
    try:
        if not _LIBC:
            libc = ctypes.CDLL(None)
            libc.mallinfo2.restype = _MallInfo2
            _LIBC.append(libc)
        info = _LIBC[0].mallinfo2()
    except (OSError, AttributeError):
        return {}
    mb = 1.0 / (1024 * 1024)
    return {"heap_held_mb": round(info.arena * mb, 2), "heap_used_mb": round(info.uordblks * mb, 2),
            "heap_free_mb": round(info.fordblks * mb, 2), "mmap_mb": round(info.hblkhd * mb, 2)}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def _panda_counts(app) -> dict:
    """Panda3D's caches and totals that grow with what is built (cheap C++ counters)."""
    from panda3d.core import GeomVertexArrayData, RenderState, TexturePool, TransformState

    out = {"transform_states": TransformState.get_num_states(), "render_states": RenderState.get_num_states(),
           "vertex_bytes_mb": round(GeomVertexArrayData.get_independent_lru().get_total_size() / 1048576, 2),
           "small_vertex_bytes_mb": round(GeomVertexArrayData.get_small_lru().get_total_size() / 1048576, 2),
           "textures": len(TexturePool.find_all_textures()), "render_nodes": app.render.count_num_descendants()}  # itself included
    try:
        from panda3d.core import GeomCacheManager

        out["geom_cache"] = GeomCacheManager.get_global_ptr().get_total_size()
    except (ImportError, AttributeError):
        pass
    world = getattr(app, "world", None)
    if world is not None:
        out["chunks"] = len(getattr(world, "chunks", {}))
        out["pending_geoms"] = len(getattr(world, "_pending_geoms", []))
        streamer = getattr(world, "_streamer", None)
        if streamer is not None:
            out["ready"] = len(getattr(streamer, "_ready", {}))
            out["requested"] = len(getattr(streamer, "_requested", ()))
        out["view_ahead_m"] = getattr(world, "view_ahead_m", None)
    return out


class MemProbe:
    """The probe task: one JSON line per sample in the log file."""

    def __init__(self, app, path: str) -> None:
        self.app = app
        self.path = path
        self.started_s = time.monotonic()
        self._next_s = self.started_s
        self._next_types_s = self.started_s
        self._types: collections.Counter = collections.Counter()

    def task(self, task):
        """Panda3D task: a sample when one is due (on the main thread, between frames)."""
        now = time.monotonic()
        if now < self._next_s:
            return task.cont
        self._next_s = now + PROBE_EVERY_S
        sample = {"t_s": round(now - self.started_s, 1), "rss_mb": round(_rss_mb(), 2), **_mallinfo2(),
                  **_panda_counts(self.app), "threads": threading.active_count(),
                  "frames": getattr(self.app, "frames", None), "detail_m": round(self.app.detail.view_distance_m, 1)}
        if now >= self._next_types_s:
            self._next_types_s = now + TYPES_EVERY_S
            counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
            sample["py_objects"] = sum(counts.values())
            grown = {name: n - self._types.get(name, 0) for name, n in counts.items()}
            sample["py_grown"] = dict(sorted(grown.items(), key=lambda kv: -kv[1])[:TOP_TYPES])
            self._types = counts
        with open(self.path, "a") as f:
            f.write(json.dumps(sample) + "\n")
        return task.cont


def install(app) -> MemProbe | None:
    """Add the probe task to the app when STEPSYNC_MEM_PROBE is set (a log file path)."""
    path = os.environ.get(PROBE_ENV, "")
    if not path:
        return None
    probe = MemProbe(app, path)
    app.task_mgr.add(probe.task, "stepsync-mem-probe", sort=63)
    return probe
