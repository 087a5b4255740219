"""Scene to Panda3D node graph: the procedural grocery store or street a patient walks through.

The route runs along +Y from y = 0 (s_m = y), x = 0 is its centre line, z is up, in metres.
Static scenery is built in chunks of CHUNK_M along the route, each batched (MeshBuilder) into
one Geom per render state, i.e. two draw calls, and only the chunks near the patient are built
and shown: build time and draw calls depend on what is in view, not on the route's length. A
grocery chunk also has a far version (level of detail, FAR_DETAIL_M), chunks carry bounding
boxes, and the view's changes at a chunk boundary are staggered (SHOW_LAG_M), so the vertices a
frame draws, most of a software renderer's frame, stay about the same along the route.
Chunks ahead are built in a worker process (world/chunk_process.py; a worker thread,
world/streaming.py, where no process can be started); the app's reader thread reads the vertex
rows straight into finished GeomNodes, and the frame only attaches them, at most
ATTACH_PER_UPDATE chunks per frame, hidden until they come into view: no frame pays for
building a chunk or copying its vertices.
Obstacles and ambient life are separate nodes (they move, change colour, or are looked up by
index), each one or a few draw calls, shown only when near; obstacle geometry is made ahead of
need, one per frame with no chunk work (its node, tags and position exist from the start).
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

import numpy as np
from panda3d.core import (
    AmbientLight,
    BoundingVolume,
    DirectionalLight,
    Fog,
    GeomNode,
    LODNode,
    NodePath,
    PandaNode,
    Point3,
)

from engine.render.world.ambient import AmbientLife
from engine.render.world.chunk_process import ChunkProcess
from engine.render.world.chunks import CHUNK_M, chunk_meshes, chunk_seed, layout_for
from engine.render.world.fixtures import build_fixtures
from engine.render.world.mesh import MeshBuilder, NodeFromRows, set_thread_pacer
from engine.render.world.obstacles import ObstacleView
from engine.render.world.rain import Rain
from engine.render.world.streaming import ChunkStreamer, Pacer
from engine.scene.loader import asset_path
from engine.scene.model import Scene, colour_rgb
from engine.scene.timeline import YieldClock, scene_to_timeline

log = logging.getLogger(__name__)

VIEW_AHEAD_M = 60.0  # scenery shown ahead of the patient (fog hides the edge)
MIN_VIEW_AHEAD_M = 20.0  # set_view_distance_m never goes below: beyond the planner's 15 m horizon
VIEW_BEHIND_M = 10.0
PREFETCH_M = 40.0  # chunks this far beyond the view are built ahead of need (in the background)
DROP_BEHIND_M = 40.0  # chunks further behind than this are freed
ATTACH_PER_UPDATE = 1  # finished background chunks attached per frame
SLICE_ROWS = 6144  # vertex rows copied into a chunk's Geom per frame (240 KB): a few per chunk
FAR_DETAIL_M = 19.5  # a chunk whose near end is further than this shows its far version (grocery)
# The view changes at every chunk boundary (s = 10 k): the chunk behind leaves the view (~0.1 m
# past it, by its box), one comes into view at the far end, and one switches to its near version.
# Staggered in that order, no frame ever draws four near chunks plus the new one: the new chunk
# comes into view SHOW_LAG_M past the boundary, the switch at FAR_DETAIL_M ~0.6 m past it.
SHOW_LAG_M = 0.3
HIGHLIGHT_M = 10.0  # a shopping item's highlight pulses from this far ahead
STALL_DEPTH_M = 0.4  # a street item's stall across the route (engine.scene.rules keeps it out of the lane)
STALL_LENGTH_M = 0.9


class World:
    """The built world of one scene; `root` goes under the app's render node."""

    def __init__(self, scene: Scene, parent: NodePath, loader=None, stream: bool | str = True) -> None:
        self.scene = scene
        self.view_ahead_m = VIEW_AHEAD_M  # set_view_distance_m: shorter on a renderer that cannot keep up
        self.sync_builds = 0  # chunks built on the frame (needed before the worker had them)
        self.attached_last_update = 0  # chunks attached by the latest update()
        self.chunk_frame = False  # the latest update() attached a chunk or showed one for the first time
        self.chunk_shown_now = False  # the latest update() showed a chunk for the first time (it came into view)
        # What the latest update() did to chunks, as (what, chunk index): "attach" (put in, hidden,
        # or needed now), "slice" (more of a chunk's Geoms put in), "shown" (first drawn): the same
        # chunk's event can be found again in another walk of the same route (the bench's passes).
        self.chunk_events: list[tuple[str, int]] = []
        self._pending_geoms: list[tuple[NodePath, object, str]] = []  # (chunk, GeomNode, role): one per frame
        self.root = parent.attachNewNode(f"world-{scene.id}")
        self.root.setTag("scene_id", scene.id)
        env = scene.environment
        self.layout = layout_for(scene)
        self._streamer = self._start_streamer(stream)
        self.background_rgb: tuple[float, float, float] = tuple(self.layout.background)
        self.timeline = scene_to_timeline(scene)
        self._clock = YieldClock(self.timeline)
        self._scenery = self.root.attachNewNode("scenery")
        self.chunks: dict[int, NodePath] = {}
        self._setup_lights()
        self.obstacle_nodes: dict[int, NodePath] = {}
        self._views: list[ObstacleView] = []
        obstacles_root = self.root.attachNewNode("obstacles")
        # the free width around the route: where crossing people start and browsing people stand
        width_hint = env.aisle_width_m if env.type == "grocery_store" else env.sidewalk_width_m
        for i, obstacle in enumerate(scene.obstacles_in_timeline_order()):
            view = ObstacleView(obstacle, i, obstacles_root, scene.seed, width_hint)
            self._views.append(view)
            self.obstacle_nodes[i] = view.node
        self.item_nodes: dict[int, NodePath] = self._build_items()
        self.ambient = AmbientLife(scene, self.layout, self.root)
        self.prop_nodes: list[NodePath] = self._load_props(loader)
        self.fixture_nodes: list[NodePath] = build_fixtures(scene, self.root)
        for node, fixture in zip(self.fixture_nodes, scene.fixtures, strict=True):
            node.setPythonTag("at_m", fixture.at_m)
        self.rain = Rain(self.root, scene.seed) if getattr(env, "weather", "") == "rain" else None
        self.update(0.0, 0.0, None)
        self.sync_builds = 0  # the first view is built here by design: not a late chunk

    # ---- building --------------------------------------------------------------------------

    def _setup_lights(self) -> None:
        ambient = AmbientLight("ambient")
        a = self.layout.ambient
        tint = (1.0, 0.92, 0.82) if getattr(self.layout.env, "time_of_day", "") == "evening" else (1.0, 1.0, 1.0)
        ambient.setColor((a * tint[0], a * tint[1], a * tint[2], 1.0))
        sun = DirectionalLight("sun")
        d = self.layout.sun
        sun.setColor((d * tint[0], d * tint[1], d * tint[2], 1.0))
        ambient_np = self.root.attachNewNode(ambient)
        sun_np = self.root.attachNewNode(sun)
        indoors = self.scene.environment.type == "grocery_store"
        # A store is lit from the ceiling panels (steep, from ahead); a street by the sun.
        sun_np.setHpr(-10.0, -80.0, 0.0) if indoors else sun_np.setHpr(-35.0, -55.0, 0.0)
        self.root.setLight(ambient_np)
        self.root.setLight(sun_np)
        # A weak fill from behind the patient keeps the faces that turn away from the key light
        # readable (shelf fronts, kerb faces): one more fixed-function light, cheap on tinydisplay.
        fill = DirectionalLight("fill")
        f = 0.25 * d
        fill.setColor((f * tint[0], f * tint[1], f * tint[2], 1.0))
        fill_np = self.root.attachNewNode(fill)
        fill_np.setHpr(160.0, -20.0, 0.0)
        self.root.setLight(fill_np)
        if self._gpu_shaders():
            self.root.setShaderAuto()  # per-pixel lighting where a GPU can afford it
        # Fog in the background colour hides where the built scenery ends.
        fog = Fog("distance")
        fog.setColor(*self.background_rgb)
        fog.setLinearRange(VIEW_AHEAD_M * 0.45, VIEW_AHEAD_M)
        self.root.setFog(fog)
        self._fog = fog

    @staticmethod
    def _gpu_shaders() -> bool:
        """Whether the app's renderer runs shaders (a GPU); tinydisplay does not."""
        import builtins

        win = getattr(getattr(builtins, "base", None), "win", None)
        gsg = win.getGsg() if win is not None else None
        return bool(gsg is not None and gsg.getSupportsBasicShaders())

    def _start_streamer(self, stream: bool | str):
        """The chunk builder: a process (True or "process"), a thread ("thread"), or none (False)."""
        if not stream:
            return None
        if stream != "thread":
            try:
                # "process-slices": the rows are copied into nodes on the frame, in slices (bench baseline)
                return ChunkProcess(self.scene, self._nodes_from_rows, f"chunks-{self.scene.id}",
                                    nodes_in_reader=stream != "process-slices")
            except OSError as exc:  # no process can be started here: a thread still keeps it off the frame
                log.warning("no chunk process (%s); building chunks on a thread", exc)
        return ChunkStreamer(self._prepared_chunk, f"chunks-{self.scene.id}")

    def _chunk_seed(self, index: int) -> int:
        return chunk_seed(self.scene, index)

    def _chunk_nodes(self, index: int):
        """(lit GeomNode, glow GeomNode or None, far GeomNode or None) of one chunk: pure building,
        any thread.
        (Premunging for the GSG here was tried: no measurable gain on tinydisplay, so the
        worker never touches the GSG.)"""
        if threading.current_thread() is not threading.main_thread():
            set_thread_pacer(Pacer())
        lit, glow, far = chunk_meshes(self.scene, self.layout, index)
        return lit.node(), (glow.node() if len(glow) else None), (far.node() if far is not None else None)

    def _prepared_chunk(self, index: int) -> NodePath:
        """A chunk built and put together as a detached subtree (the worker thread's job)."""
        return self._prepare_chunk(index, self._chunk_nodes(index))

    def _nodes_from_rows(self, index: int, received) -> NodePath | tuple:
        """A chunk received from the chunk process: its finished GeomNodes (made by the reader
        thread, which calls this too) put together as a detached, hidden subtree for the frame
        to attach in one reparent, or (stream="process-slices") (lit, glow or None, far or None)
        NodeFromRows put together on the frame in slices (_attach_pending_geoms)."""
        lit, glow, far, lit_bounds, glow_bounds, far_bounds = received
        prefix = "grocery" if self.scene.environment.type == "grocery_store" else "street"
        if isinstance(lit, GeomNode):  # finished by the reader thread
            lit.setName(f"{prefix}-lit")
            glow.setName(f"{prefix}-glow")
            if far is not None:
                far.setName(f"{prefix}-far")
            return self._prepare_chunk(index, (lit, (glow if glow.getNumGeoms() else None), far))
        return (NodeFromRows(f"{prefix}-lit", lit, lit_bounds),
                NodeFromRows(f"{prefix}-glow", glow, glow_bounds) if len(glow) else None,
                NodeFromRows(f"{prefix}-far", far, far_bounds) if far is not None else None)

    def _prepare_chunk(self, index: int, nodes: tuple) -> NodePath:
        """The chunk's whole subtree (level-of-detail switch, Geoms, bounds), detached and hidden:
        made off the frame (the chunk process's reader thread, or the worker thread), so the frame
        that attaches it does one reparent. Nothing else holds these nodes until then."""
        chunk = self._chunk_subtree(index, nodes, pending=False)
        chunk.hide()
        chunk.node().getBounds()  # the subtree's bounds computed here, not in the frame's cull
        return chunk

    def _attach_chunk(self, index: int, nodes, now: bool = True) -> NodePath:
        """Put a chunk under the scenery: a subtree prepared off the frame (one reparent), or
        (lit, glow, far) nodes; with now=False (a chunk ahead of the view) NodeFromRows Geoms wait
        in _pending_geoms and go in one per frame."""
        if isinstance(nodes, NodePath):
            chunk = nodes
            chunk.reparentTo(self._scenery)
        else:
            chunk = self._chunk_subtree(index, nodes, pending=not now)
            chunk.reparentTo(self._scenery)
        self.chunks[index] = chunk
        self.attached_last_update += 1
        self.chunk_frame = True
        self.chunk_events.append(("attach", index))
        return chunk

    def _chunk_subtree(self, index: int, nodes: tuple, pending: bool) -> NodePath:
        # Each MeshBuilder already is one Geom per render state: the chunk is as flat as
        # flattenStrong would make it (2 draw calls), without paying ~5 ms for flattenStrong.
        lit, glow, far = nodes
        chunk = NodePath(f"chunk-{index}")
        # Boxes, not Panda3D's default spheres, around a chunk and everything in it: a sphere
        # around a 10 m x 20 m x 4 m chunk reaches 6 m past its end, so the chunk the patient has
        # just left stayed "in view" and had all its vertices transformed for the first 6 m of
        # every chunk (measured: 1.3-1.5 ms a frame, busy Saturday); its box leaves the view
        # a few centimetres after the patient passes its end.
        chunk.node().setBoundsType(BoundingVolume.BT_box)
        if far is not None:
            # Level of detail, as the cull decides per camera: the chunk's near version within
            # FAR_DETAIL_M of its near end, the far one beyond. On a software renderer a frame's
            # cost is its vertices; the far version has about a third of them (world/grocery.py),
            # so the frame costs about the same wherever the patient stands, however much store
            # lies ahead, and a chunk coming into view at the far end adds only its far version.
            lod = LODNode("lod")
            lod.setCenter(Point3(0.0, index * CHUNK_M, 0.0))
            lod.addSwitch(FAR_DETAIL_M, 0.0)
            lod.addSwitch(1.0e6, FAR_DETAIL_M)
            lod.setBoundsType(BoundingVolume.BT_box)
            lod_np = chunk.attachNewNode(lod)
            for name in ("lod-near", "lod-far"):
                switch = PandaNode(name)
                switch.setBoundsType(BoundingVolume.BT_box)
                lod_np.attachNewNode(switch)
        chunk.setPythonTag("chunk_index", index)
        for node, role in ((lit, "lit"), (glow, "glow"), (far, "far")):
            if node is None:
                continue
            if pending:
                self._pending_geoms.append((chunk, node, role))
            else:
                self._attach_geom(chunk, node, role)
        return chunk

    @staticmethod
    def _attach_geom(chunk: NodePath, node, role: str) -> None:
        if isinstance(node, NodeFromRows):
            node = node.finish()
        node.setBoundsType(BoundingVolume.BT_box)  # see _attach_chunk
        parent = chunk
        if role != "glow":  # under the level-of-detail switch when the chunk has one
            switch = chunk.find("lod/lod-near" if role == "lit" else "lod/lod-far")
            parent = switch if not switch.isEmpty() else chunk
        child = parent.attachNewNode(node)
        if role == "glow":
            child.setLightOff(1)

    def _attach_pending_geoms(self, chunk: NodePath | None = None) -> None:
        """Attach the next waiting Geom (or every one of `chunk`, needed in view now)."""
        if chunk is not None:
            mine = [p for p in self._pending_geoms if p[0] == chunk]
            self._pending_geoms = [p for p in self._pending_geoms if p[0] != chunk]
            for _, node, role in mine:
                self._attach_geom(chunk, node, role)
            return
        while self._pending_geoms:
            parent, node, role = self._pending_geoms[0]
            if parent.isEmpty():
                self._pending_geoms.pop(0)
                continue
            self.chunk_frame = True
            if not self.chunk_events or self.chunk_events[-1][1] != parent.getPythonTag("chunk_index"):
                self.chunk_events.append(("slice", parent.getPythonTag("chunk_index")))
            if isinstance(node, NodeFromRows) and node.step(SLICE_ROWS) is None:
                return  # more rows next frame
            self._pending_geoms.pop(0)
            self._attach_geom(parent, node, role)
            nxt = self._pending_geoms[0] if self._pending_geoms else None
            if nxt is None or nxt[0] != parent or isinstance(nxt[1], NodeFromRows):
                return
            # the rest of this chunk is finished nodes (made by the chunk process's reader):
            # attaching one is a few microseconds, so the chunk goes in whole in this frame

    def _build_chunk(self, index: int) -> NodePath:
        """A chunk needed now: the worker's if finished, else built here (counted)."""
        nodes = self._streamer.take(index) if self._streamer is not None else None
        if nodes is None:
            if self._streamer is not None:
                self._streamer.cancel(index)
                self.sync_builds += 1
            nodes = self._chunk_nodes(index)
        return self._attach_chunk(index, nodes)

    def _build_items(self) -> dict[int, NodePath]:
        """Shopping-list items, made to stand out for older eyes: a big package in the item's
        colour on a white board with a black rim (contrast against the random products around
        it), a glowing yellow frame and an arrow above it that pulse as the patient nears."""
        nodes: dict[int, NodePath] = {}
        shopping = self.scene.tasks.shopping_list
        if shopping is None:
            return nodes
        items_root = self.root.attachNewNode("items")
        street = self.scene.environment.type != "grocery_store"
        if not street:
            reach = self.scene.environment.aisle_width_m / 2 + 0.12
        else:  # on a street stall standing on the pavement at its edge (a shelf-less item would float)
            reach = self.layout.half_m - STALL_DEPTH_M / 2 - 0.05
        for i, item in enumerate(shopping.items):
            side = 1.0 if item.side == "right" else -1.0
            mb = MeshBuilder(f"item-{i}")
            rgb = colour_rgb(item.colour)
            mb.box(side * 0.05, 0.0, -0.08, 0.04, 0.78, 0.62, (0.05, 0.05, 0.05))  # black rim
            mb.box(0.0, 0.0, -0.05, 0.04, 0.7, 0.56, (0.98, 0.98, 0.98))  # white board behind
            mb.box(-side * 0.05, 0.0, 0.0, 0.3, 0.4, 0.42, rgb)  # the package, bigger than the rest
            mb.box(-side * 0.21, 0.0, 0.14, 0.01, 0.3, 0.14, (0.97, 0.97, 0.97))  # label
            if street:  # the stall: a wooden stand from the pavement to just under the board, a light top
                height = item.shelf_height_m - 0.1
                mb.box(0.0, 0.0, -item.shelf_height_m, STALL_DEPTH_M, STALL_LENGTH_M, height - 0.03, (0.45, 0.3, 0.18))
                mb.box(0.0, 0.0, -0.13, STALL_DEPTH_M + 0.04, STALL_LENGTH_M + 0.04, 0.03, (0.86, 0.85, 0.8))
            node = items_root.attachNewNode(f"item-{i}")
            node.attachNewNode(mb.node())
            glow = MeshBuilder(f"item-{i}-highlight")
            for dz in (-0.1, 0.52):  # a frame around the board
                glow.box(-side * 0.03, 0.0, dz, 0.02, 0.82, 0.05, (1.0, 0.9, 0.0))
            for dy in (-0.41, 0.41):
                glow.box(-side * 0.03, dy, -0.1, 0.02, 0.05, 0.67, (1.0, 0.9, 0.0))
            # an arrow pointing down at the item, above the shelf
            glow.box(-side * 0.1, 0.0, 0.9, 0.03, 0.12, 0.35, (1.0, 0.9, 0.0))
            tip_x = -side * 0.11  # the arrow head: a triangle (a quad with two corners at the tip)
            glow.quad([(tip_x, -0.22, 0.9), (tip_x, 0.0, 0.62), (tip_x, 0.0, 0.62), (tip_x, 0.22, 0.9)], (1.0, 0.9, 0.0))
            highlight = node.attachNewNode(glow.node())
            highlight.setName("highlight")
            highlight.setLightOff(1)
            highlight.setTwoSided(True)
            node.setPos(side * reach, item.at_m, item.shelf_height_m)
            node.setTag("item_index", str(i))
            nodes[i] = node
        return nodes

    def _highlight_items(self, s_m: float, scene_time_s: float) -> None:
        """Pulse and lift the highlight of items ahead within HIGHLIGHT_M: brighter as the patient nears."""
        for node in self.item_nodes.values():
            if node.isHidden():
                continue
            ahead = node.getY() - s_m
            highlight = node.find("highlight")
            if -1.0 <= ahead <= HIGHLIGHT_M:
                near = 1.0 - max(0.0, ahead) / HIGHLIGHT_M
                pulse = 0.5 + 0.5 * math.sin(scene_time_s * 2 * math.pi * 1.2)
                level = 0.7 + 0.3 * near * pulse
                highlight.setColorScale(level, level, level, 1.0)
                highlight.setZ(0.08 * near * pulse)
            else:
                highlight.setColorScale(0.7, 0.7, 0.7, 1.0)
                highlight.setZ(0.0)

    def _load_props(self, loader) -> list[NodePath]:
        nodes = []
        if not self.scene.props:
            return nodes
        if loader is None:
            import builtins

            base = getattr(builtins, "base", None)
            loader = getattr(base, "loader", None)
        if loader is None:
            log.warning("scene %s has props but no model loader was given; skipping them", self.scene.id)
            return nodes
        props_root = self.root.attachNewNode("props")
        for prop in self.scene.props:
            try:
                model = loader.loadModel(str(asset_path(prop.model)))
            except Exception as exc:  # a broken model must not stop the session
                log.warning("prop %s could not be loaded: %s", prop.model, exc)
                continue
            model.reparentTo(props_root)
            model.setPos(prop.lateral_m, prop.at_m, prop.z_m)
            model.setH(prop.heading_deg)
            model.setScale(prop.scale)
            if prop.texture:
                model.setTexture(loader.loadTexture(str(asset_path(prop.texture))), 1)
            nodes.append(model)
        return nodes

    # ---- per frame --------------------------------------------------------------------------

    def _chunk_indices(self, y_from: float, y_to: float) -> range:
        low = max(y_from, self.layout.start_y)
        high = min(y_to, self.layout.end_y)
        return range(math.floor(low / CHUNK_M), math.floor(high / CHUNK_M) + 1) if high > low else range(0)

    def update(self, s_m: float, scene_time_s: float, obstacle_states: np.ndarray | None) -> None:
        """Place everything for the patient at s_m at this scene time; show only what is near.

        obstacle_states: the core's OBSTACLE_STATE rows (active, triggered_at_s) for each timeline
        row; when None, the activity rule is replayed locally (preview, thumbnails).
        """
        y_from, y_to = s_m - VIEW_BEHIND_M, s_m + self.view_ahead_m
        self.attached_last_update = 0
        self.chunk_frame = False
        self.chunk_shown_now = False
        self.chunk_events = []
        wanted = self._chunk_indices(y_from, y_to - SHOW_LAG_M)
        for index in wanted:
            if index not in self.chunks:
                self._build_chunk(index)
        ahead = [i for i in self._chunk_indices(y_to, y_to + PREFETCH_M) if i not in self.chunks]
        if isinstance(self._streamer, ChunkProcess) and not self._streamer.alive:
            self._streamer = self._start_streamer("thread")  # the process died: a thread takes over
        if self._pending_geoms:  # a chunk attached ahead, its Geoms one per frame
            self._attach_pending_geoms()
        elif self._streamer is not None:
            for index in ahead:
                self._streamer.request(index)
            for index in self._streamer.ready_indices():
                if self.attached_last_update >= ATTACH_PER_UPDATE:
                    break
                nodes = self._streamer.take(index)
                if nodes is not None and index not in self.chunks:
                    self._attach_chunk(index, nodes, now=False).hide()
                    self._attach_pending_geoms()
        elif ahead:  # no worker: one chunk beyond the view per update, built here
            self._build_chunk(ahead[0]).hide()
        for index, chunk in list(self.chunks.items()):
            if index in wanted:
                if chunk.isHidden():
                    self.chunk_frame = self.chunk_shown_now = True  # first drawn now
                    self.chunk_events.append(("shown", index))
                    self._attach_pending_geoms(chunk)  # all of it, should its slices still wait
                chunk.show()
            elif (index + 1) * CHUNK_M < s_m - DROP_BEHIND_M:
                self._pending_geoms = [p for p in self._pending_geoms if p[0] != chunk]
                chunk.removeNode()
                del self.chunks[index]
            else:
                chunk.hide()
        # obstacles: pose from the core's states, or from the local replay of the same rule
        if obstacle_states is None or len(obstacle_states) < len(self._views):
            local = self._clock.states(s_m, scene_time_s)
            obstacle_states = local
        for i, view in enumerate(self._views):
            o = view.obstacle
            near = y_from - 5.0 <= o.at_m <= y_to
            if not near:
                view.node.hide()
                continue
            view.node.show()
            view.ensure_built()
            state = obstacle_states[i]
            view.update(s_m, scene_time_s, bool(state["active"]), float(state["triggered_at_s"]))
        if not self.chunk_frame:  # an obstacle ahead gets its geometry now, not on the frame it comes near
            self._build_next_obstacle(y_to + PREFETCH_M)
        for node in self.item_nodes.values():
            if y_from <= node.getY() <= y_to and not node.hasTag("collected"):
                node.show()
            else:
                node.hide()
        self._highlight_items(s_m, scene_time_s)
        for node in self.fixture_nodes:
            fy = node.getPythonTag("at_m")
            if y_from - 8.0 <= fy <= y_to:
                node.show()
            else:
                node.hide()
        if self.rain is not None:
            self.rain.update(s_m, scene_time_s)
        self.ambient.update(s_m, scene_time_s, y_from, y_to)

    def set_view_distance_m(self, distance_m: float) -> float:
        """Show scenery only up to distance_m ahead (from the next update), with the fog drawn in to
        end there, so a shorter view has no hard edge; clamped to [MIN_VIEW_AHEAD_M, VIEW_AHEAD_M].
        For an app whose frame-time governor shortens the view on a software renderer (the far
        plane alone does not change what the world draws within 60 m). Returns the distance used."""
        self.view_ahead_m = min(VIEW_AHEAD_M, max(MIN_VIEW_AHEAD_M, float(distance_m)))
        self._fog.setLinearRange(self.view_ahead_m * 0.45, self.view_ahead_m)
        return self.view_ahead_m

    def _build_next_obstacle(self, y_until: float) -> None:
        """Make the geometry of the next obstacle not yet made up to y_until (hidden until near): one
        per frame, and only in a frame with no chunk work, so the frame in which a chunk comes into
        view does not also make the obstacle that came into view with it (about a millisecond)."""
        for view in self._views:
            if not view.built and view.obstacle.at_m <= y_until:
                view.ensure_built()
                return

    def set_item_collected(self, index: int, collected: bool = True) -> None:
        """Take a collected item off the shelf (or put it back)."""
        node = self.item_nodes[index]
        if collected:
            node.setTag("collected", "1")
            node.hide()
        else:
            node.clearTag("collected")
            node.show()

    def draw_calls_estimate(self) -> int:
        """Geoms under visible nodes: the draw calls this world costs per camera before culling
        (a chunk's level-of-detail switch draws one of its versions: the far one is not counted)."""
        total = 0
        for geom_np in self.root.findAllMatches("**/+GeomNode"):
            if not geom_np.isHidden() and geom_np.getParent().getName() != "lod-far":
                total += geom_np.node().getNumGeoms()
        return total

    def wait_for_chunks(self, timeout_s: float = 30.0) -> bool:
        """Block until the background builder is idle (tests, benches, screenshots)."""
        done = self._streamer.wait_idle(timeout_s) if self._streamer is not None else True
        return done

    def destroy(self) -> None:
        """Remove the world's nodes and stop its chunk builder."""
        if self._streamer is not None:
            self._streamer.stop()
        self.root.removeNode()
        self.chunks.clear()


def build_world(scene: Scene, parent: NodePath, loader=None, stream: bool = True) -> World:
    """Build the scene's world under `parent` (props load with `loader`, default base.loader);
    `stream=False` builds every chunk on the calling thread (one-off screenshots)."""
    return World(scene, parent, loader, stream)


# ---------------------------------------------------------------------------------------------
# Offscreen views: preview screenshots and menu thumbnails
# ---------------------------------------------------------------------------------------------

DEFAULT_EYE_HEIGHT_M = 1.6


def place_eye_camera(camera: NodePath, lens, s_m: float, eye_height_m: float = DEFAULT_EYE_HEIGHT_M) -> None:
    """Put a camera at the patient's eye on the route, looking ahead and slightly down."""
    camera.setPos(0.0, s_m, eye_height_m)
    camera.setHpr(0.0, -8.0, 0.0)
    lens.setNearFar(0.1, VIEW_AHEAD_M + 20.0)
    lens.setFov(80.0)


def thumbnail_at_m(scene: Scene) -> float:
    """A telling spot for a thumbnail: a few metres before the first obstacle or item."""
    spots = [o.at_m for o in scene.obstacles]
    if scene.tasks.shopping_list:
        spots += [i.at_m for i in scene.tasks.shopping_list.items]
    if not spots:
        return min(5.0, scene.route_length_m / 2)
    return max(0.0, min(spots) - 6.0)


def replay_walk(world: World, at_m: float, scene_time_s: float, step_m: float = 1.0) -> None:
    """Walk the world from s = 0 to at_m at a steady pace arriving at scene_time_s, so triggered
    obstacles started when the patient passed their trigger (a preview shows them mid-way)."""
    steps = max(1, int(abs(at_m) / step_m))
    for k in range(1, steps + 1):
        world.update(at_m * k / steps, scene_time_s * k / steps, None)


def render_view(scene: Scene, out_path, at_m: float, size: tuple[int, int] = (1280, 720),
                scene_time_s: float = 0.0, eye_height_m: float = DEFAULT_EYE_HEIGHT_M,
                renderer: str = "tinydisplay", direct: bool = False) -> Path:
    """Render the scene from the patient's eye at at_m into an image file (offscreen).

    The patient is taken to have walked steadily from 0 to at_m, arriving at scene_time_s.

    By default it draws into its own offscreen buffer with its own camera and scene root, so it
    is safe while an app runs (menu thumbnails). `direct=True` (the preview command, which owns
    its process) draws into the ShowBase window itself when the size matches.
    """
    from panda3d.core import Camera, PerspectiveLens, Texture

    from engine.render.offscreen import make_offscreen_base, save_screenshot

    base = make_offscreen_base(size, renderer)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if direct and getattr(base, "stepsync_offscreen", False) and (base.win.getXSize(), base.win.getYSize()) == tuple(size):
        # The base is ours and of the right size: render straight into its window.
        world = build_world(scene, base.render, stream=False)
        replay_walk(world, at_m, scene_time_s)
        base.setBackgroundColor(*world.background_rgb, 1.0)  # opaque: PNGs keep alpha
        place_eye_camera(base.camera, base.camLens, at_m, eye_height_m)
        base.camLens.setAspectRatio(size[0] / size[1])
        try:
            return save_screenshot(base, out_path)
        finally:
            world.destroy()
    # Someone else's base (the running app): render into a separate offscreen buffer.
    texture = Texture("view")
    buffer = base.win.makeTextureBuffer("view", size[0], size[1], texture, True)
    if buffer is None:
        raise RuntimeError("could not create an offscreen buffer for the view")
    scene_root = NodePath("view-root")
    try:
        world = build_world(scene, scene_root, stream=False)
        replay_walk(world, at_m, scene_time_s)
        buffer.setClearColor((*world.background_rgb, 1.0))
        lens = PerspectiveLens()
        lens.setAspectRatio(size[0] / size[1])
        camera = scene_root.attachNewNode(Camera("view-camera", lens))
        place_eye_camera(camera, lens, at_m, eye_height_m)
        region = buffer.makeDisplayRegion()
        region.setCamera(camera)
        base.graphicsEngine.renderFrame()
        base.graphicsEngine.renderFrame()
        from panda3d.core import Filename

        if not buffer.saveScreenshot(Filename.fromOsSpecific(str(out_path))):
            raise OSError(f"could not write {out_path}")
        return out_path
    finally:
        base.graphicsEngine.removeWindow(buffer)
        scene_root.removeNode()


def render_thumbnail(scene: Scene, out_path, size: tuple[int, int] = (320, 180)) -> Path:
    """A small picture of the scene for the menu, from the patient's eye near its first challenge."""
    return render_view(scene, out_path, thumbnail_at_m(scene), size)


__all__ = ["CHUNK_M", "World", "build_world", "place_eye_camera", "render_thumbnail", "render_view", "replay_walk",
           "thumbnail_at_m"]
