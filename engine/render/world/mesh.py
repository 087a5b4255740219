"""Batch many coloured boxes and quads into one Geom, built with numpy.

The world is procedural: thousands of boxes (shelves, products, paving, windows). Building one
NodePath per box and flattening afterwards is slow; appending boxes to a MeshBuilder and emitting
one Geom (vertex colours, flat normals) is fast and gives one draw call per builder. Works on
p3tinydisplay (no shaders): colours are per vertex, lighting is fixed-function.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np
from panda3d.core import (
    BoundingBox,
    Geom,
    GeomEnums,
    GeomNode,
    GeomTriangles,
    GeomVertexArrayFormat,
    GeomVertexData,
    GeomVertexFormat,
    InternalName,
    Point3,
)

_FORMAT = None
_THREAD = threading.local()  # .pace: called every PACE_BOXES boxes on a chunk-building thread
PACE_BOXES = 64


def set_thread_pacer(pace) -> None:
    """Make every MeshBuilder on this thread call `pace()` now and then (see world/streaming.py)."""
    _THREAD.pace = pace


def _vertex_format() -> GeomVertexFormat:
    global _FORMAT
    if _FORMAT is None:
        array = GeomVertexArrayFormat()
        array.addColumn(InternalName.getVertex(), 3, GeomEnums.NT_float32, GeomEnums.C_point)
        array.addColumn(InternalName.getNormal(), 3, GeomEnums.NT_float32, GeomEnums.C_normal)
        array.addColumn(InternalName.getColor(), 4, GeomEnums.NT_float32, GeomEnums.C_color)
        _FORMAT = GeomVertexFormat.registerFormat(GeomVertexFormat(array))
    return _FORMAT


# Unit box faces (skipping the bottom, never seen from above the floor): corners in 0..1 and normal.
_FACES = np.array(
    [
        # +X
        [[1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 0, 1]],
        # -X
        [[0, 1, 0], [0, 0, 0], [0, 0, 1], [0, 1, 1]],
        # +Y
        [[1, 1, 0], [0, 1, 0], [0, 1, 1], [1, 1, 1]],
        # -Y
        [[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]],
        # +Z
        [[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
        # -Z (used only when bottom=True)
        [[0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0]],
    ],
    dtype=np.float32,
)
_NORMALS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float32)
_QUAD_TRIS = np.array([0, 1, 2, 0, 2, 3], dtype=np.uint32)
# Face bits of MeshBuilder.box(faces=...), in _FACES order. A face that no camera in the walkable
# space can see (a package's back against the shelf's back panel, a label's edges) still costs its
# four vertices' transform and lighting on a software renderer, where vertices are most of a frame.
FACE_PX, FACE_NX, FACE_PY, FACE_NY, FACE_PZ, FACE_NZ = 1, 2, 4, 8, 16, 32
FACES_NO_BOTTOM = FACE_PX | FACE_NX | FACE_PY | FACE_NY | FACE_PZ


class MeshBuilder:
    """Collects boxes and quads, then makes one GeomNode (one draw call)."""

    def __init__(self, name: str = "mesh") -> None:
        self.name = name
        self._boxes: list[tuple] = []  # (x0, y0, z0, sx, sy, sz, r, g, b, a, heading_rad, face bits)
        self._quads: list[np.ndarray] = []  # (4, 10) rows: pos, normal, colour
        self._floors: list[tuple] = []  # (x0, x1, y0, y1, z, r, g, b, a): batched, the common case
        self._pace = getattr(_THREAD, "pace", None)

    def __len__(self) -> int:
        return len(self._boxes) + len(self._quads) + len(self._floors)

    def merged(self, name: str, *others: MeshBuilder) -> MeshBuilder:
        """A new builder holding this one's shapes and then the others' (the builders are unchanged)."""
        out = MeshBuilder(name)
        for mb in (self, *others):
            out._boxes += mb._boxes
            out._quads += mb._quads
            out._floors += mb._floors
        return out

    def box(self, x: float, y: float, z: float, sx: float, sy: float, sz: float, rgb, alpha: float = 1.0,
            heading_deg: float = 0.0, bottom: bool = False, faces: int = FACES_NO_BOTTOM) -> None:
        """An axis-aligned box centred at (x, y) across, with its base at height z; `faces` (FACE_*
        bits) leaves out faces nothing can see, `bottom` adds the bottom face."""
        r, g, b = rgb[:3]
        mask = faces | (FACE_NZ if bottom else 0)
        self._boxes.append((x, y, z, sx, sy, sz, r, g, b, alpha, math.radians(heading_deg), mask))
        if self._pace is not None and len(self._boxes) % PACE_BOXES == 0:
            self._pace()

    def box_span(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, rgb, alpha: float = 1.0) -> None:
        """A box given by its extents."""
        self.box((x0 + x1) / 2, (y0 + y1) / 2, z0, abs(x1 - x0), abs(y1 - y0), z1 - z0, rgb, alpha)

    def quad(self, corners, rgb, alpha: float = 1.0) -> None:
        """A flat quad from 4 corners (counter-clockwise seen from the front)."""
        c = np.asarray(corners, dtype=np.float32).reshape(4, 3)
        normal = np.cross(c[1] - c[0], c[2] - c[0])
        length = float(np.linalg.norm(normal)) or 1.0
        rows = np.zeros((4, 10), dtype=np.float32)
        rows[:, 0:3] = c
        rows[:, 3:6] = normal / length
        rows[:, 6:9] = rgb[:3]
        rows[:, 9] = alpha
        self._quads.append(rows)

    def floor_quad(self, x0: float, x1: float, y0: float, y1: float, z: float, rgb, alpha: float = 1.0) -> None:
        """A horizontal quad facing up."""
        self._floors.append((x0, x1, y0, y1, z, rgb[0], rgb[1], rgb[2], alpha))
        if self._pace is not None and len(self._floors) % PACE_BOXES == 0:
            self._pace()

    def _floor_rows(self) -> np.ndarray:
        f = np.array(self._floors, dtype=np.float32)
        rows = np.zeros((len(f), 4, 10), dtype=np.float32)
        for k, (xi, yi) in enumerate(((0, 2), (1, 2), (1, 3), (0, 3))):  # counter-clockwise from above
            rows[:, k, 0] = f[:, xi]
            rows[:, k, 1] = f[:, yi]
        rows[:, :, 2] = f[:, None, 4]
        rows[:, :, 5] = 1.0
        rows[:, :, 6:10] = f[:, None, 5:9]
        return rows

    def _box_rows(self) -> np.ndarray:
        if not self._boxes:
            return np.zeros((0, 4, 10), dtype=np.float32)
        b = np.array(self._boxes, dtype=np.float32)
        n = len(b)
        masks = b[:, 11].astype(np.int64)
        plain = bool(np.all(masks == FACES_NO_BOTTOM))
        faces = 5 if plain else 6
        corners = _FACES[:faces] - np.array([0.5, 0.5, 0.0], dtype=np.float32)  # (F, 4, 3)
        out = np.empty((n, faces, 4, 10), dtype=np.float32)
        local = corners[None, :, :, :] * b[:, None, None, 3:6]
        heading = b[:, 10]
        if np.any(heading):  # only a few boxes turn: rotate only when some do
            cos, sin = np.cos(heading)[:, None, None], np.sin(heading)[:, None, None]
            out[..., 0] = local[..., 0] * cos - local[..., 1] * sin + b[:, 0, None, None]
            out[..., 1] = local[..., 0] * sin + local[..., 1] * cos + b[:, 1, None, None]
            nx, ny = _NORMALS[:faces, 0][None, :, None], _NORMALS[:faces, 1][None, :, None]
            out[..., 3] = nx * cos - ny * sin
            out[..., 4] = nx * sin + ny * cos
        else:
            out[..., 0] = local[..., 0] + b[:, 0, None, None]
            out[..., 1] = local[..., 1] + b[:, 1, None, None]
            out[..., 3] = _NORMALS[:faces, 0][None, :, None]
            out[..., 4] = _NORMALS[:faces, 1][None, :, None]
        out[..., 2] = local[..., 2] + b[:, 2, None, None]
        out[..., 5] = _NORMALS[:faces, 2][None, :, None]
        out[..., 6:10] = b[:, None, None, 6:10]
        if faces == 6:
            keep = ((masks[:, None] >> np.arange(6)[None, :]) & 1).astype(bool)
            return out[keep]
        return out.reshape(n * faces, 4, 10)

    def rows(self) -> np.ndarray:
        """Everything added so far as vertex rows, 4 per quad: (n, 10) float32 position, normal,
        colour (the GeomVertexData layout): plain data a worker process can send."""
        quads = [self._box_rows()]
        if self._quads:
            quads.append(np.stack(self._quads))
        if self._floors:
            quads.append(self._floor_rows())
        return np.ascontiguousarray(np.concatenate(quads).reshape(-1, 10), dtype=np.float32)

    def node(self) -> GeomNode:
        """The GeomNode holding everything added so far (empty node when nothing was added)."""
        return node_from_rows(self.name, self.rows())


_INDEX = np.zeros(0, dtype=np.uint32)  # triangle indices for the most quads asked so far (grown as needed)


def _quad_indices(count: int) -> np.ndarray:
    global _INDEX
    if len(_INDEX) < count * 6:
        n = max(count, 2 * len(_INDEX) // 6, 1024)
        _INDEX = (_QUAD_TRIS[None, :] + (np.arange(n, dtype=np.uint32) * 4)[:, None]).reshape(-1)
    return _INDEX[: count * 6]


def rows_bounds(rows: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(min, max) corner of the rows' positions (a worker computes it: a millisecond a chunk)."""
    if len(rows) == 0:
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    xyz = rows[:, 0:3]
    return tuple(map(float, xyz.min(axis=0))), tuple(map(float, xyz.max(axis=0)))


class NodeFromRows:
    """Makes one GeomNode from MeshBuilder.rows() in slices: `step(n)` copies the next n rows into
    the vertex data and returns the node once all are in (None until then), so a big chunk can
    be put together over a few frames. The bounds are set (given, or computed from the rows), not
    found by Panda3D walking every vertex in the first cull after the node is attached."""

    def __init__(self, name: str, rows: np.ndarray, bounds=None) -> None:
        self.name = name
        self.rows = np.ascontiguousarray(rows, dtype=np.float32)
        self.bounds = bounds if bounds is not None else rows_bounds(self.rows)
        self.n_rows = len(self.rows)
        self.done_rows = 0
        self._vdata = None
        self._target = None
        self._node: GeomNode | None = None

    def step(self, max_rows: int | None = None) -> GeomNode | None:
        """Copy up to max_rows more rows (all when None); the node when finished."""
        if self._node is not None:
            return self._node
        n = self.n_rows
        if n and self._vdata is None:
            self._vdata = GeomVertexData(self.name, _vertex_format(), Geom.UHStatic)
            self._vdata.uncleanSetNumRows(n)
            self._target = memoryview(self._vdata.modifyArray(0)).cast("B")
        if self.done_rows < n:
            end = n if max_rows is None else min(n, self.done_rows + max_rows)
            self._target[self.done_rows * 40:end * 40] = memoryview(self.rows[self.done_rows:end]).cast("B")
            self.done_rows = end
            if end < n:
                return None
        self._node = self._make_node()
        return self._node

    def finish(self) -> GeomNode:
        """The node, copying whatever is left now."""
        return self.step(None)

    def _make_node(self) -> GeomNode:
        node = GeomNode(self.name)
        if self.n_rows == 0:
            return node
        self._target.release()
        count = self.n_rows // 4
        tris = GeomTriangles(Geom.UHStatic)
        tris.setIndexType(GeomEnums.NT_uint32)
        handle = tris.modifyVertices()
        handle.uncleanSetNumRows(count * 6)
        memoryview(handle).cast("B")[:] = memoryview(_quad_indices(count)).cast("B")
        geom = Geom(self._vdata)
        geom.addPrimitive(tris)
        box = BoundingBox(Point3(*self.bounds[0]), Point3(*self.bounds[1]))
        geom.setBounds(box)
        node.addGeom(geom)
        node.setBounds(box)
        return node


def node_read_into(name: str, n_rows: int, bounds, read_into: Callable[[memoryview], bool]) -> GeomNode | None:
    """One finished GeomNode of n_rows MeshBuilder rows that `read_into` writes straight into the
    vertex data (the chunk process's reader thread: the pipe is read into the Geom's own memory,
    with the GIL released during the read, and the frame only attaches the node). None when
    `read_into` says the stream ended."""
    node = NodeFromRows(name, _NO_ROWS, bounds)
    node.n_rows = n_rows
    if n_rows:
        node._vdata = GeomVertexData(name, _vertex_format(), Geom.UHStatic)
        node._vdata.uncleanSetNumRows(n_rows)
        node._target = memoryview(node._vdata.modifyArray(0)).cast("B")
        if not read_into(node._target):
            node._target.release()
            return None
        node.done_rows = n_rows
    return node.finish()


_NO_ROWS = np.zeros((0, 10), dtype=np.float32)


def node_from_rows(name: str, rows: np.ndarray, bounds=None) -> GeomNode:
    """One GeomNode (one Geom, one draw call) from MeshBuilder.rows(), all at once."""
    return NodeFromRows(name, rows, bounds).finish()
