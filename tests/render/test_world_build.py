"""Worlds from every shipped scene: built, obstacles in the node graph, non-blank offscreen renders,
bounded draw calls, chunks near the patient only, yield obstacles moving on the scene clock."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest

from engine.render.world import CHUNK_M, DROP_BEHIND_M, PREFETCH_M, VIEW_AHEAD_M
from engine.scene.loader import find_scene, load_library
from engine.scene.model import Scene

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = load_library(ROOT / "scenes")
SCENE_IDS = sorted(LIBRARY.scenes)


@pytest.fixture(scope="module")
def base():
    from engine.render.offscreen import make_offscreen_base

    return make_offscreen_base((320, 180))


@pytest.fixture
def render_root(base):
    root = base.render.attachNewNode("test-root")
    try:
        yield root
    finally:
        root.removeNode()


def image_stats(path: Path) -> tuple[float, int]:
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    return float(pixels.std()), len(np.unique(pixels.reshape(-1, 3), axis=0))


@pytest.mark.parametrize("scene_id", SCENE_IDS)
def test_shipped_scene_builds_with_its_obstacles(scene_id, render_root):
    from engine.render.world import build_world

    scene = LIBRARY.scenes[scene_id]
    world = build_world(scene, render_root)
    assert set(world.obstacle_nodes) == set(range(len(scene.obstacles)))
    found = world.root.findAllMatches("**/=obstacle_index")
    assert found.getNumPaths() == len(scene.obstacles)
    max_calls = 0
    for s in np.arange(0.0, scene.route_length_m + 1.0, 5.0):
        world.update(float(s), float(s), None)
        max_calls = max(max_calls, world.draw_calls_estimate())
        shown = [i for i, chunk in world.chunks.items() if not chunk.isHidden()]
        assert shown and all(i * CHUNK_M + CHUNK_M >= s - 10.0 and i * CHUNK_M <= s + 60.0 for i in shown)
        for index, obstacle in enumerate(scene.obstacles_in_timeline_order()):
            if s <= obstacle.at_m <= s + 30.0:  # near: shown with geometry in the node graph
                node = world.obstacle_nodes[index]
                assert not node.isHidden() and node.getParent().getParent() == world.root
                assert node.getTag("obstacle_kind") == obstacle.kind
                assert node.getY(world.root) == pytest.approx(obstacle.at_m)
                assert node.findAllMatches("**/+GeomNode").getNumPaths() > 0
                assert node.getTightBounds() is not None
    assert 0 < max_calls < 300
    world.destroy()


@pytest.mark.parametrize("scene_id", SCENE_IDS)
def test_shipped_scene_previews_non_blank(scene_id, tmp_path, base):
    from engine.render.world import render_view, thumbnail_at_m

    scene = LIBRARY.scenes[scene_id]
    out = render_view(scene, tmp_path / f"{scene_id}.png", thumbnail_at_m(scene), (320, 180), scene_time_s=20.0)
    std, colours = image_stats(out)
    assert std > 20.0 and colours > 30, (std, colours)


def test_thumbnail_into_a_separate_buffer(tmp_path, base):
    from engine.render.world import render_thumbnail

    scene = LIBRARY.scenes["grocery-first-visit"]
    out = render_thumbnail(scene, tmp_path / "thumb.png", size=(160, 90))  # not the window's size
    std, colours = image_stats(out)
    assert std > 15.0 and colours > 50


def long_copy(scene: Scene, length_m: float) -> Scene:
    data = scene.model_dump()
    data["route_length_m"] = length_m
    repeated = []
    for k in range(int(length_m // scene.route_length_m)):
        for obstacle in data["obstacles"]:
            moved = dict(obstacle, at_m=obstacle["at_m"] + k * scene.route_length_m)
            if moved.get("id"):
                moved["id"] = f"{moved['id']}-{k}"
            repeated.append(moved)
    data["obstacles"] = repeated[:128]
    data["tasks"] = {}
    return Scene.model_validate(data)


def test_draw_calls_and_chunks_do_not_grow_with_route_length(render_root):
    from engine.render.world import build_world

    short = LIBRARY.scenes["sidewalk-rainy-evening"]
    long = long_copy(short, 2000.0)
    worlds = [build_world(s, render_root) for s in (short, long)]
    assert len(worlds[1].chunks) == len(worlds[0].chunks)  # only what is near s = 0 is built
    calls = [w.draw_calls_estimate() for w in worlds]
    assert calls[1] <= calls[0] + 5
    for s in np.arange(0.0, 2000.0, 10.0):
        worlds[1].update(float(s), float(s), None)
        assert len(worlds[1].chunks) <= (DROP_BEHIND_M + VIEW_AHEAD_M + PREFETCH_M) / CHUNK_M + 2  # chunks behind are freed
        assert worlds[1].draw_calls_estimate() < 300


def test_yield_obstacles_move_on_the_scene_clock(render_root):
    from engine.control.layout import OBSTACLE_STATE_DTYPE
    from engine.render.world import build_world

    scene = LIBRARY.scenes["grocery-weekday-errands"]  # automatic door at 4 m, opening 2 s after 1 m
    world = build_world(scene, render_root)
    door = world.obstacle_nodes[0]
    panel = door.find("**/moving-door1")
    world.update(0.0, 0.0, None)
    assert panel.getX() == pytest.approx(0.0)  # closed before the trigger
    world.update(1.5, 10.0, None)  # triggered now (local replay)
    world.update(1.6, 11.0, None)
    assert 0.2 < panel.getX() < 1.0  # half open
    world.update(2.0, 13.0, None)
    assert panel.getX() == pytest.approx(1.2 * 0.95)  # open
    # the core's states take precedence when given
    states = np.zeros(len(scene.obstacles), dtype=OBSTACLE_STATE_DTYPE)
    states["triggered_at_s"] = np.nan
    world.update(2.0, 13.0, states)
    assert panel.getX() == pytest.approx(0.0)
    states[4]["active"], states[4]["triggered_at_s"] = 1, 20.0
    world.update(70.0, 20.0, states)
    cart = world.obstacle_nodes[4].find("**/moving")
    x0 = cart.getX()
    world.update(70.0, 22.0, states)
    assert cart.getX() != pytest.approx(x0)  # crossing the aisle


def test_traffic_light_shows_red_while_active(render_root):
    from engine.render.world import build_world

    scene = find_scene("sidewalk-curb-crossing", ROOT / "scenes")
    world = build_world(scene, render_root)
    index = next(i for i, o in enumerate(scene.obstacles_in_timeline_order()) if o.kind == "traffic_light")
    light = world.obstacle_nodes[index]
    red, green = light.find("**/moving-lamp-red"), light.find("**/moving-lamp-green")
    world.update(30.0, 5.0, None)  # red phase: 0..18 s of 40
    assert red.getColorScale()[0] == 1.0 and green.getColorScale()[0] < 0.5
    world.update(30.0, 25.0, None)
    assert red.getColorScale()[0] < 0.5 and green.getColorScale()[0] == 1.0


def test_ambient_life_depends_only_on_scene_time(render_root):
    from engine.render.world import build_world

    scene = LIBRARY.scenes["sidewalk-rainy-evening"]
    world = build_world(scene, render_root)
    world.update(50.0, 12.0, None)
    first = [tuple(m.node.getPos()) for m in world.ambient.movers]
    world.update(50.0, 30.0, None)
    world.update(50.0, 12.0, None)
    assert [tuple(m.node.getPos()) for m in world.ambient.movers] == first
    assert any(m.speed_mps != 0 for m in world.ambient.movers)
    visible = [m for m in world.ambient.movers if not m.node.isHidden()]
    assert visible and all(40.0 <= m.node.getY() <= 110.0 for m in visible)
    assert all(abs(m.x_m) > 0.5 for m in world.ambient.movers)  # nobody walks in the patient's lane


def test_shopping_items_on_their_shelves(render_root):
    from engine.render.world import build_world

    scene = LIBRARY.scenes["grocery-first-visit"]
    world = build_world(scene, render_root)
    assert len(world.item_nodes) == 2
    milk = world.item_nodes[0]
    assert milk.getY() == 35.0 and milk.getX() > 1.0 and milk.getZ() == pytest.approx(1.1)
    world.update(30.0, 30.0, None)
    assert not milk.isHidden()
    world.set_item_collected(0)
    world.update(31.0, 31.0, None)
    assert milk.isHidden()


def test_street_items_stand_on_a_stall_on_the_pavement(render_root, tmp_path):
    """On a street there is no shelf: an item stands on a stall that reaches down to the pavement,
    inside the pavement's edges and outside the walking lane (it floated over the road before)."""
    from engine.render.world import build_world
    from engine.scene.loader import load_scene

    path = tmp_path / "stall.yaml"
    path.write_text("id: stall\ntitle: T\ndifficulty: gentle\nenvironment: {type: sidewalk, sidewalk_width_m: 3}\n"
                    "route_length_m: 60\ntasks:\n  shopping_list:\n    items:\n"
                    "      - {name: paper, at_m: 12, side: left, shelf_height_m: 1.0}\n"
                    "      - {name: bread, at_m: 22, side: right, shelf_height_m: 1.4}\n")
    world = build_world(load_scene(path), render_root, stream=False)
    for node in world.item_nodes.values():
        low, high = node.getTightBounds(render_root)
        assert low.z == pytest.approx(0.0, abs=1e-4)  # the stall stands on the pavement
        assert -1.5 <= low.x and high.x <= 1.5  # within the 3 m pavement, not over the road or in a wall
        assert min(abs(low.x), abs(high.x)) >= 0.4  # and clear of the walking lane
    world.destroy()


def test_props_from_assets_are_placed(render_root, base, tmp_path):
    from engine.render.world import build_world
    from engine.scene.loader import load_scene

    path = tmp_path / "props.yaml"
    path.write_text(
        "id: props-test\ntitle: Props\ndifficulty: gentle\nenvironment: {type: sidewalk}\n"
        "props:\n  - {model: models/marker.egg, at_m: 12, lateral_m: 1.5, heading_deg: 90, scale: 2}\n"
    )
    scene = load_scene(path)
    world = build_world(scene, render_root, base.loader)
    [prop] = world.prop_nodes
    assert tuple(prop.getPos(world.root)) == pytest.approx((1.5, 12.0, 0.0))
    low, high = prop.getTightBounds(world.root)
    assert high.z == pytest.approx(2.8, abs=0.01)  # 1.4 m marker at scale 2


def test_replay_walk_shows_triggered_obstacles_mid_way(render_root):
    from engine.render.world import build_world, replay_walk

    scene = LIBRARY.scenes["grocery-busy-saturday"]  # cart from the left at 28 m: trigger 22 m, 4 s
    world = build_world(scene, render_root)
    replay_walk(world, 24.0, 24.0)  # 1 m/s: triggered at 22 s, now 2 s into its 4 s
    index = next(i for i, o in enumerate(scene.obstacles_in_timeline_order()) if o.kind == "cart_crossing")
    x = world.obstacle_nodes[index].find("**/moving").getX()
    assert -1.0 < x < 1.0  # in the middle of the aisle


def _vertices(chunk) -> int:
    return sum(g.node().getGeom(k).getVertexData().getNumRows()
               for g in chunk.findAllMatches("**/+GeomNode") for k in range(g.node().getNumGeoms()))


def test_chunks_ahead_are_built_by_the_worker_and_only_attached_on_the_frame(render_root):
    import threading

    from engine.render.world import build_world

    scene = LIBRARY.scenes["grocery-busy-saturday"]
    built_on: list[str] = []
    streamed = build_world(scene, render_root, stream="thread")
    original = streamed._chunk_nodes

    def spy(index):
        built_on.append(threading.current_thread().name)
        return original(index)

    streamed._chunk_nodes = spy
    assert streamed.wait_for_chunks()
    s = 0.0
    while s < 80.0:  # walk four chunks, giving the worker time between steps (a condition, not a delay)
        s += 2.0
        streamed.update(s, s, None)
        assert streamed.attached_last_update <= 1  # one finished chunk per frame at most
        assert streamed.wait_for_chunks()
    assert streamed.sync_builds == 0 and built_on and all(name.startswith("chunks-") for name in built_on)
    ahead = max(streamed.chunks)
    assert ahead * CHUNK_M > s + 60.0  # chunks beyond the view exist before they are needed
    # the worker's chunk is the same geometry the frame would have built
    on_frame = build_world(scene, render_root, stream=False)
    on_frame.update(s, s, None)
    for index in set(streamed.chunks) & set(on_frame.chunks):
        assert _vertices(streamed.chunks[index]) == _vertices(on_frame.chunks[index])
    streamed.destroy()
    on_frame.destroy()
    assert not streamed._streamer._thread.is_alive() or streamed._streamer._stopped


def _geoms(chunk) -> list[tuple[str, bytes]]:
    out = []
    for g in chunk.findAllMatches("**/+GeomNode"):
        for k in range(g.node().getNumGeoms()):
            out.append((g.getName(), bytes(memoryview(g.node().getGeom(k).getVertexData().getArray(0)))))
    return sorted(out)


def test_chunks_from_the_process_equal_the_frames_and_arrive_one_geom_per_frame(render_root):
    from engine.render.world import build_world
    from engine.render.world.chunk_process import ChunkProcess

    scene = LIBRARY.scenes["grocery-busy-saturday"]
    streamed = build_world(scene, render_root)  # the default: a chunk process
    assert isinstance(streamed._streamer, ChunkProcess)
    pid = streamed._streamer._proc.pid
    assert pid != os.getpid()
    assert streamed.wait_for_chunks()
    s = 0.0
    while s < 80.0:  # four chunks; wait for the process between steps (a condition, not a delay)
        s += 2.0
        streamed.update(s, s, None)
        assert streamed.attached_last_update <= 1
        assert streamed.wait_for_chunks()
        assert not streamed._pending_geoms  # finished nodes: a received chunk goes in whole, in one update
    assert streamed.sync_builds == 0 and streamed._streamer.built >= 4
    assert max(streamed.chunks) * CHUNK_M > s + 60.0
    on_frame = build_world(scene, render_root, stream=False)
    on_frame.update(s, s, None)
    common = set(streamed.chunks) & set(on_frame.chunks)
    assert len(common) >= 6
    for index in common:  # byte for byte the same vertex data
        assert _geoms(streamed.chunks[index]) == _geoms(on_frame.chunks[index])
    # the received chunk's bounds are set, not walked by Panda3D: the box around its vertices
    lit = streamed.chunks[max(common)].find("**/grocery-lit").node()
    geom = lit.getGeom(0)
    xyz = np.frombuffer(bytes(memoryview(geom.getVertexData().getArray(0))), dtype=np.float32).reshape(-1, 10)[:, :3]
    assert tuple(geom.getBounds().getMin()) == tuple(map(float, xyz.min(axis=0)))
    assert tuple(geom.getBounds().getMax()) == tuple(map(float, xyz.max(axis=0)))
    assert lit.getBounds().contains(geom.getBounds())  # the node's sphere around that box
    streamed.destroy()
    on_frame.destroy()
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # reaped by the streamer's reader, or now
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the process is gone with the world


def test_a_chunk_attached_ahead_goes_in_slices_over_several_updates(render_root):
    """The way before (the bench's baseline): the frame copies the received rows in slices."""
    from engine.render.world import SLICE_ROWS, build_world
    from engine.render.world.mesh import NodeFromRows

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root, stream="process-slices")
    assert world.wait_for_chunks()
    s = 0.0
    while not world._pending_geoms:  # walk until a received chunk starts going in
        assert s < 40.0, "no chunk was attached ahead"
        s += 0.5
        world.update(s, s, None)
        world.wait_for_chunks()
    chunk = world._pending_geoms[0][0]
    assert chunk.isHidden()  # ahead of the view: never drawn half made
    builders = [node for _, node, _ in world._pending_geoms if isinstance(node, NodeFromRows)]
    total = sum(len(b.rows) for b in builders)
    copied, updates = [sum(b.done_rows for b in builders)], 1
    while world._pending_geoms:
        world.update(s, s, None)
        copied.append(sum(b.done_rows for b in builders))
        updates += 1
    steps = np.diff([0] + copied)
    assert copied[-1] == total and steps.max() <= SLICE_ROWS  # no update copies more than a slice
    assert updates >= total // SLICE_ROWS  # a busy grocery chunk: several updates, not one
    assert len(chunk.findAllMatches("**/+GeomNode")) == 3  # near, far (level of detail), glow
    world.destroy()


def test_the_reader_thread_hands_the_frame_finished_nodes(render_root):
    """The chunk process's rows are read into GeomNodes off the frame (by the reader thread):
    what waits for the frame is a finished node holding every row, and it goes in in one update."""
    from panda3d.core import GeomNode

    from engine.render.world import SLICE_ROWS, build_world

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root)
    assert world.wait_for_chunks()
    world.update(12.0, 12.0, None)  # asks for the chunks ahead
    assert world.wait_for_chunks()
    ready = world._streamer.ready_indices()
    assert ready
    with world._streamer._lock:
        chunk = world._streamer._ready[ready[0]]
    # the whole chunk subtree, put together by the reader: detached (no frame can draw it), hidden
    assert chunk.getParent().isEmpty() and chunk.isHidden()
    geoms = {g.getName(): g.node() for g in chunk.findAllMatches("**/+GeomNode")}
    lit, far = geoms["grocery-lit"], geoms["grocery-far"]
    assert isinstance(lit, GeomNode) and lit.getNumGeoms() == 1  # finished before the frame takes it
    assert isinstance(far, GeomNode) and far.getNumGeoms() == 1 and len(geoms) == 3
    assert lit.getGeom(0).getVertexData().getNumRows() > 2 * SLICE_ROWS  # more than the old slices
    assert not chunk.find("lod/lod-near/grocery-lit").isEmpty()  # under its level-of-detail switch
    before = len(world.chunks)
    world.update(12.0, 12.0, None)
    assert len(world.chunks) == before + 1 and not world._pending_geoms  # attached whole in one update
    assert world.chunks[ready[0]] == chunk and chunk.getParent() == world._scenery
    world.destroy()


def test_a_dead_chunk_process_hands_over_to_a_thread(render_root):
    from engine.render.world import build_world
    from engine.render.world.streaming import ChunkStreamer

    world = build_world(LIBRARY.scenes["grocery-first-visit"], render_root)
    process = world._streamer
    process._proc.kill()
    process._thread.join(timeout=30.0)
    assert not process.alive
    assert process.pending() == 0 and process.wait_idle(1.0)  # nothing pending, no hang
    s = 0.0
    while s < 40.0:
        s += 1.0
        world.update(s, s, None)
        world.wait_for_chunks()
    assert isinstance(world._streamer, ChunkStreamer)  # a worker thread took over
    assert all(i in world.chunks for i in world._chunk_indices(s - 10.0, s + 60.0))
    world.destroy()


def test_a_jump_builds_the_missing_view_on_the_frame_and_counts_it(render_root):
    from engine.render.world import build_world

    world = build_world(LIBRARY.scenes["grocery-first-visit"], render_root)
    world.update(100.0, 60.0, None)  # a jump: the worker cannot have these yet
    assert world.sync_builds >= 1 and world.chunk_frame
    world.destroy()


def test_curb_down_is_drawn_as_a_drop_and_the_road_between_kerbs_is_low(render_root):
    from engine.render.world import build_world

    scene = LIBRARY.scenes["sidewalk-bus-stop-rain"]  # curb_down at 30 m, curb_up at 36.3 m
    world = build_world(scene, render_root)
    world.update(25.0, 25.0, None)
    order = scene.obstacles_in_timeline_order()
    down = world.obstacle_nodes[next(i for i, o in enumerate(order) if o.kind == "curb_down")]
    low, high = down.getTightBounds(world.root)
    assert low.z == pytest.approx(-0.12, abs=0.01) and high.z < 0.02  # it falls away below the pavement
    assert world.layout.dropped == [(30.3, 36.3, 0.12)]
    world.destroy()


def test_rain_falls_on_the_scene_clock_and_follows_the_patient(render_root):
    from engine.render.world import build_world

    world = build_world(LIBRARY.scenes["sidewalk-bus-stop-rain"], render_root)
    assert world.rain is not None and world.rain.node.node().getGeom(0).getVertexData().getNumRows() >= 2000
    world.update(10.0, 1.0, None)
    first = world.rain.node.getPos()
    world.update(10.0, 1.1, None)
    assert world.rain.node.getY() == pytest.approx(10.0) and world.rain.node.getZ() != pytest.approx(first.z)
    world.update(10.0, 1.0, None)
    assert world.rain.node.getPos() == first  # same moment, same picture
    dry = build_world(LIBRARY.scenes["sidewalk-morning-stroll"], render_root)
    assert dry.rain is None
    world.destroy()
    dry.destroy()


def test_fixtures_stand_where_the_rules_say_and_show_when_near(render_root):
    from engine.render.world import build_world
    from engine.scene.rules import fixture_x

    scene = LIBRARY.scenes["grocery-pharmacy-aisle"]
    world = build_world(scene, render_root)
    world.update(25.0, 25.0, None)
    kinds = [n.getTag("fixture_kind") for n in world.fixture_nodes]
    assert kinds == [f.kind for f in scene.fixtures]
    for node, fixture in zip(world.fixture_nodes, scene.fixtures, strict=True):
        if fixture.kind in ("pharmacy_shelf", "wet_floor_sign"):
            low, high = node.getTightBounds(world.root)
            x0, x1 = fixture_x(scene, fixture)
            assert x0 - 0.06 <= low.x and high.x <= x1 + 0.06, (fixture.kind, low, high, x0, x1)
            assert low.y >= fixture.at_m - 0.3
    assert not world.fixture_nodes[0].isHidden()  # the aisle sign at 12 m, seen from 25 m
    world.update(80.0, 80.0, None)
    assert world.fixture_nodes[0].isHidden()  # the aisle sign at 12 m is far behind at 80 m
    # the pharmacy shelving replaces the grocery shelf row on its side
    assert world.layout.side_gaps[1] == [(30.0, 38.0), (50.0, 56.0)] and world.layout.side_gaps[-1] == [(30.0, 38.0)]
    world.destroy()


def test_wanted_items_are_highlighted_more_as_the_patient_nears(render_root):
    from engine.render.world import build_world

    scene = LIBRARY.scenes["grocery-pharmacy-aisle"]  # pain relief at 34 m
    world = build_world(scene, render_root)
    highlight = world.item_nodes[0].find("highlight")
    world.update(10.0, 0.2, None)  # 24 m away: calm
    far = highlight.getColorScale()[0]
    world.update(32.0, 0.2, None)  # 2 m away, at a pulse peak (1.2 Hz: 0.2 s)
    near = highlight.getColorScale()[0]
    assert far == pytest.approx(0.7, abs=0.01) and near > 0.9 and highlight.getZ() > 0.0
    world.destroy()


def _picture(base) -> bytes:
    base.graphicsEngine.renderFrame()
    base.graphicsEngine.renderFrame()
    shot = base.win.getScreenshot()
    return bytes(memoryview(shot.getRamImage()))


def test_a_grocery_chunk_shows_its_far_version_beyond_the_detail_distance(render_root, base):
    """Level of detail, decided by the cull per camera: a chunk whose near end lies within
    FAR_DETAIL_M draws its near version, further chunks their far one, which has well under
    half the vertices. Checked on rendered pictures: the world as built equals the picture with
    each chunk forced to the version the rule names, and differs from all-near and all-far."""
    from engine.render.world import FAR_DETAIL_M, build_world, place_eye_camera

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root, stream=False)
    s = 13.0
    world.update(s, s, None)
    place_eye_camera(base.camera, base.camLens, s)
    lods = {i: chunk.find("lod").node() for i, chunk in world.chunks.items() if not chunk.isHidden()}
    assert len(lods) >= 6
    for i, chunk in world.chunks.items():
        lit, far = chunk.find("**/grocery-lit").node(), chunk.find("**/grocery-far").node()
        n_lit, n_far = (g.getGeom(0).getVertexData().getNumRows() for g in (lit, far))
        if i >= 0:  # a chunk of shelves (chunk -1 is the store front alone: both versions the same)
            assert n_far < 0.5 * n_lit
    built = _picture(base)

    def force(which) -> bytes:
        for i, lod in lods.items():
            near = which(i)
            lod.setSwitch(0, 1.0e6 if near else 0.0, 0.0)
            lod.setSwitch(1, 0.0 if near else 1.0e6, 0.0)
        return _picture(base)

    by_rule = force(lambda i: abs(i * CHUNK_M - s) <= FAR_DETAIL_M)
    all_near = force(lambda i: True)
    all_far = force(lambda i: False)
    assert built == by_rule
    assert built != all_near and built != all_far
    world.destroy()


def test_boxes_leave_out_the_faces_they_are_told_to():
    from engine.render.world.mesh import FACE_NX, FACE_PX, FACES_NO_BOTTOM, MeshBuilder

    mb = MeshBuilder()
    mb.box(0.0, 0.0, 0.0, 1.0, 1.0, 1.0, (1.0, 0.0, 0.0))  # five faces (no bottom)
    mb.box(5.0, 0.0, 0.0, 1.0, 1.0, 1.0, (0.0, 1.0, 0.0), faces=FACE_PX)  # a label: its front only
    mb.box(9.0, 0.0, 0.0, 1.0, 1.0, 1.0, (0.0, 0.0, 1.0), faces=FACES_NO_BOTTOM & ~FACE_NX, bottom=True)
    rows = mb.rows()
    assert len(rows) == 4 * (5 + 1 + 5)
    normals = {tuple(r[3:6]) for r in rows[20:24]}
    assert normals == {(1.0, 0.0, 0.0)} and set(rows[20:24, 0]) == {5.5}
    third = rows[24:]
    assert (-1.0, 0.0, 0.0) not in {tuple(r[3:6]) for r in third}
    assert {(0.0, 0.0, -1.0), (0.0, 0.0, 1.0)} <= {tuple(r[3:6]) for r in third}  # bottom added, top kept


def test_obstacles_ahead_are_made_before_they_come_near_and_not_with_a_chunk(render_root):
    """An obstacle's geometry is made one per update ahead of need, in updates with no chunk work,
    so the update in which it comes into view (often the one in which a chunk does) only shows it."""
    from engine.render.world import VIEW_AHEAD_M, build_world

    scene = LIBRARY.scenes["grocery-busy-saturday"]
    world = build_world(scene, render_root)
    assert world.wait_for_chunks()
    views = world._views
    s = 0.0
    made_in_chunk_frame, made_when_near = [], []
    while s < 120.0:
        s += 0.5
        before = [v.built for v in views]
        was_near = [v.obstacle.at_m <= s - 0.5 + VIEW_AHEAD_M for v in views]
        world.update(s, s, None)
        world.wait_for_chunks()
        for v, b, near in zip(views, before, was_near, strict=True):
            if v.built and not b:
                (made_in_chunk_frame if world.chunk_frame else []).append(v.obstacle.at_m)
                if v.obstacle.at_m <= s + VIEW_AHEAD_M and not near:
                    made_when_near.append(v.obstacle.at_m)
    assert not made_in_chunk_frame and not made_when_near
    assert all(v.built for v in views if v.obstacle.at_m <= 120.0 + VIEW_AHEAD_M)
    world.destroy()


def test_a_shorter_view_hides_the_far_chunks_and_draws_the_fog_in(render_root):
    from engine.render.world import MIN_VIEW_AHEAD_M, VIEW_AHEAD_M, build_world

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root)
    assert world.wait_for_chunks()
    s = 30.0
    world.update(s, s, None)
    full = {i for i, c in world.chunks.items() if not c.isHidden()}
    assert world.set_view_distance_m(25.0) == 25.0
    world.update(s, s, None)
    short = {i for i, c in world.chunks.items() if not c.isHidden()}
    assert short < full and max(short) * CHUNK_M <= s + 25.0 < (max(short) + 1) * CHUNK_M
    fog = world.root.getFog()
    assert fog.getLinearOnsetPoint().getY() < 25.0 and fog.getLinearOpaquePoint().getY() == 25.0
    assert world.set_view_distance_m(5.0) == MIN_VIEW_AHEAD_M  # never shorter than the planner's horizon
    assert world.set_view_distance_m(500.0) == VIEW_AHEAD_M
    world.update(s, s, None)
    assert {i for i, c in world.chunks.items() if not c.isHidden()} == full
    world.destroy()


def test_the_chunk_just_passed_is_out_of_view_by_its_bounds(render_root, base):
    """Chunks and their Geoms carry boxes, not spheres: a sphere around a 10 m chunk reaches 6 m
    past its end, so the cull kept drawing the chunk the patient had just left."""
    from panda3d.core import BoundingBox, BoundingVolume

    from engine.render.world import build_world, place_eye_camera

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root, stream=False)
    for k in (3, 6):
        s = k * CHUNK_M + 0.5
        world.update(s, s, None)
        place_eye_camera(base.camera, base.camLens, s)
        frustum = base.camLens.makeBounds()
        passed = world.chunks[k - 1]
        assert not passed.isHidden()  # still shown (10 m behind): only the cull can leave it out
        geoms = passed.findAllMatches("**/+GeomNode")
        assert geoms.getNumPaths() == 3
        for g in geoms:
            bounds = g.node().getBounds().makeCopy()
            assert isinstance(bounds, BoundingBox)
            bounds.xform(g.getMat(base.cam))
            if g.getParent().getName() != "lod-far":  # the version the cull draws this close
                assert frustum.contains(bounds) == BoundingVolume.IF_no_intersection
        ahead = world.chunks[k + 1].find("**/grocery-lit")
        bounds = ahead.node().getBounds().makeCopy()
        bounds.xform(ahead.getMat(base.cam))
        assert frustum.contains(bounds) != BoundingVolume.IF_no_intersection
    world.destroy()


def test_at_a_chunk_boundary_the_view_loses_a_chunk_before_it_gains_one(render_root, base):
    """Walking over a chunk boundary in small steps: the chunk behind leaves the frustum first,
    then a chunk comes into view at the far end, then the chunk at ~20 m switches to its near
    version, each in a different update: no frame draws four near chunks and the new one."""
    from panda3d.core import BoundingVolume

    from engine.render.world import build_world, place_eye_camera

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root, stream=False)
    k = 5
    left = shown = switched = None
    for step in range(-5, 40):
        s = k * CHUNK_M + 0.04 * step
        world.update(s, s, None)
        place_eye_camera(base.camera, base.camLens, s)
        behind = world.chunks[k - 1].find("**/grocery-lit")
        bounds = behind.node().getBounds().makeCopy()
        bounds.xform(behind.getMat(base.cam))
        if left is None and base.camLens.makeBounds().contains(bounds) == BoundingVolume.IF_no_intersection:
            left = step
        new = world.chunks.get(k + 6)
        if shown is None and new is not None and not new.isHidden():
            shown = step
        lod = world.chunks[k + 2].find("lod")
        distance = (lod.node().getCenter() - base.camera.getPos(lod)).length()
        if switched is None and distance < lod.node().getIn(0):
            switched = step
    assert None not in (left, shown, switched)
    assert left < shown < switched, (left, shown, switched)
    world.destroy()


def test_each_chunk_reports_its_attach_and_first_show_once_and_is_whole_when_attached(render_root):
    """The chunk events the bench matches across passes, counted: every chunk that comes into view
    was attached once, finished (all three Geoms, from the process's reader: nothing built or
    copied on the frame), no later than the update that first shows it, shown once."""
    import threading

    from engine.render.world import build_world

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root)
    assert world.wait_for_chunks()
    first = set(world.chunks)  # built with the world, before the walk
    put_together_on_frame = []  # chunk subtrees and Geom attaches made on the frame's thread
    for name in ("_chunk_subtree", "_attach_geom"):
        original = getattr(world, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            if threading.current_thread() is threading.main_thread():
                put_together_on_frame.append(_name)
            return _original(*args, **kwargs)

        setattr(world, name, spy)
    attached: dict[int, int] = {}
    shown: dict[int, int] = {}
    s, update = 0.0, 0
    while s < 80.0:
        s += 0.5
        update += 1
        world.update(s, s, None)
        assert world.chunk_frame == bool(world.chunk_events)
        for what, index in world.chunk_events:
            assert what in ("attach", "shown")  # finished nodes: no slices
            book = attached if what == "attach" else shown
            assert index not in book  # once each
            book[index] = update
            if what == "attach":
                assert len(world.chunks[index].findAllMatches("**/+GeomNode")) == 3  # whole when attached
        world.wait_for_chunks()
    assert world.sync_builds == 0 and not put_together_on_frame
    came_into_view = set(shown) - first
    assert len(came_into_view) >= 7  # 80 m: eight chunk boundaries
    assert all(index in attached and attached[index] <= shown[index] for index in came_into_view)
    world.destroy()


def test_a_chunk_copied_in_slices_reports_a_slice_event_in_every_update_that_copies(render_root):
    from engine.render.world import build_world

    world = build_world(LIBRARY.scenes["grocery-busy-saturday"], render_root, stream="process-slices")
    assert world.wait_for_chunks()
    s = 0.0
    while not world._pending_geoms:
        assert s < 40.0, "no chunk was attached ahead"
        s += 0.5
        world.update(s, s, None)
        world.wait_for_chunks()
    index = world._pending_geoms[0][0].getPythonTag("chunk_index")
    assert ("attach", index) in world.chunk_events
    copying = 0
    while world._pending_geoms:
        world.update(s, s, None)
        copying += 1
        assert world.chunk_events == [("slice", index)]
    assert copying >= 2
    world.destroy()
