"""Scene build benchmark: `python -m bench scenes --json`.

For every shipped scene: `build_s` (Scene to flattened Panda3D node graph, the chunks in view at
the start) and `draw_calls` (the most, walking the whole route in 5 m steps, after flattening).
Also `max_build_s`, `max_draw_calls`, and the same scene stretched to a 2 km route
(`long_route_build_ratio`, `long_route_max_draw_calls`) to show that neither grows with length.

Targets: max_build_s under 1 s on this machine, max_draw_calls under 300, and the 2 km route
within 1.5x the build time of the short one (a ratio measured in the same run, not an absolute).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stretched(scene, length_m: float):
    from engine.scene.model import Scene

    data = scene.model_dump()
    data["route_length_m"] = length_m
    obstacles = []
    for k in range(int(length_m // scene.route_length_m)):
        for o in data["obstacles"]:
            moved = dict(o, at_m=o["at_m"] + k * scene.route_length_m)
            if moved.get("id"):
                moved["id"] = f"{moved['id']}-{k}"
            obstacles.append(moved)
    data["obstacles"] = obstacles[:128]
    data["tasks"] = {}
    return Scene.model_validate(data)


def _measure(scene, parent, repeats: int, walk: bool) -> tuple[float, int]:
    from engine.render.world import build_world

    times = []
    calls = 0
    for r in range(repeats):
        t0 = time.perf_counter()
        world = build_world(scene, parent)
        times.append(time.perf_counter() - t0)
        if walk and r == 0:
            s = 0.0
            while s <= scene.route_length_m:
                world.update(s, s / 1.0, None)
                calls = max(calls, world.draw_calls_estimate())
                s += 5.0
        world.destroy()
    return statistics.median(times), calls


def run(quick: bool) -> dict:
    """Build every shipped scene; returns per-scene and summary figures."""
    from engine.render.offscreen import make_offscreen_base
    from engine.scene.loader import load_library

    base = make_offscreen_base((320, 180))
    parent = base.render.attachNewNode("bench-scenes")
    library = load_library(ROOT / "scenes")
    repeats = 1 if quick else 5
    figures: dict = {}
    for scene_id in sorted(library.scenes):
        build_s, calls = _measure(library.scenes[scene_id], parent, repeats, walk=True)
        figures[f"{scene_id}.build_s"] = round(build_s, 4)
        figures[f"{scene_id}.draw_calls"] = calls
    figures["max_build_s"] = max(v for k, v in figures.items() if k.endswith(".build_s"))
    figures["max_draw_calls"] = max(v for k, v in figures.items() if k.endswith(".draw_calls"))
    short = library.scenes["sidewalk-rainy-evening"]
    short_s, _ = _measure(short, parent, repeats + 2, walk=False)
    long_s, long_calls = _measure(_stretched(short, 2000.0), parent, repeats + 2, walk=not quick)
    figures["long_route_m"] = 2000.0
    figures["long_route_build_ratio"] = round(long_s / short_s, 3)
    if not quick:
        figures["long_route_max_draw_calls"] = long_calls
    figures["broken_scenes"] = len(library.broken)
    figures["targets_met"] = bool(
        figures["max_build_s"] < 1.0 and figures["max_draw_calls"] < 300 and figures["long_route_build_ratio"] < 1.5
        and not library.broken
    )
    parent.removeNode()
    return figures
