"""GPU check, for a machine with a real GPU: OpenGL frame time of every shipped scene at headset
resolution in stereo. Goal: <= 5.5 ms per frame (half the 11.1 ms budget of a 90 Hz headset).

`python -m bench gpu_frames [--quick] --json` renders headless through EGL (p3headlessgl), the
way a clinic PC's GPU would draw the two eye buffers: one offscreen buffer of two eyes side by
side (EYE_SIZE each, the per-eye size SteamVR recommends for a Valve Index at 100 %), two cameras
0.064 m apart with a headset-like field of view, the patient walking at 1.3 m/s through each
scene with its scenery chunks built as they come into view (the build is not timed: the app
builds off the frame). The frame time is the wall time of `renderFrame()` with `gl-finish` on,
so it includes the GPU finishing the frame (glFinish after each major operation: a little
pessimistic). Figures per scene: mean, p50, p99 (ms); `worst_p99_ms`; `goal_met`.

Nothing depends on it: it is not in `make bench` (on a software renderer a frame at this size
takes seconds). `--quick` draws a few frames of two scenes at a quarter of the size: a test runs
it on Mesa llvmpipe to prove it works, without asserting on speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EYE_SIZE = (2016, 2240)  # Valve Index per eye at SteamVR's 100 % render resolution
IPD_M = 0.064
GOAL_MS = 5.5
WALK_MPS = 1.3
FRAME_S = 1.0 / 90.0


def shipped_scenes() -> list[str]:
    """Scene ids of scenes/*.yaml (the base-* templates are not sessions)."""
    return sorted(p.stem for p in (ROOT / "scenes").glob("*.yaml") if not p.stem.startswith("base-"))


def worker(scene_ids: list[str], eye_size: tuple[int, int], frames: int, warmup: int) -> dict:
    """In its own process: Panda3D with p3headlessgl; per scene frame times."""
    from panda3d.core import PerspectiveLens, load_prc_file_data

    width, height = eye_size
    load_prc_file_data("stepsync-gpu-frames", "\n".join([
        "window-type offscreen", "load-display p3headlessgl", "aux-display p3headlessgl",
        f"win-size {2 * width} {height}", "sync-video false", "gl-finish true", "textures-power-2 none",
        "framebuffer-multisample false", "audio-library-name null", "notify-level-device fatal",
        "notify-level-egldisplay error", "print-pipe-types false", "show-frame-rate-meter false",
    ]) + "\n")
    from direct.showbase.ShowBase import ShowBase

    from engine.render.world import build_world
    from engine.scene.loader import find_scene

    base = ShowBase(windowType="offscreen")
    base.disable_mouse()
    gsg = base.win.get_gsg()
    renderer = f"{gsg.get_driver_vendor()} {gsg.get_driver_renderer()} {gsg.get_driver_version()}"
    base.cam.node().set_active(False)
    head = base.render.attach_new_node("head")
    for i, side in enumerate((-1, 1)):
        lens = PerspectiveLens()
        lens.set_fov(100.0, 105.0)
        lens.set_near_far(0.05, 500.0)
        eye = base.make_camera(base.win, displayRegion=(0.5 * i, 0.5 * (i + 1), 0.0, 1.0), lens=lens)
        eye.reparent_to(head)
        eye.set_pos(side * IPD_M / 2.0, 0.0, 0.0)
    results = {}
    for scene_id in scene_ids:
        world = build_world(find_scene(scene_id), base.render, base.loader)
        base.set_background_color(*world.background_rgb, 1)
        s_m, scene_t = 1.0, 0.0
        times = []
        for k in range(warmup + frames):
            s_m += WALK_MPS * FRAME_S
            scene_t += FRAME_S
            world.update(s_m, scene_t, None)  # chunk builds: not timed (the app builds off the frame)
            head.set_pos(0.0, s_m, 1.6)
            t0 = time.perf_counter()
            base.graphics_engine.render_frame()
            if k >= warmup:
                times.append((time.perf_counter() - t0) * 1000.0)
        world.root.remove_node()
        results[scene_id] = {"mean_ms": float(np.mean(times)), "p50_ms": float(np.percentile(times, 50)),
                             "p99_ms": float(np.percentile(times, 99)), "frames": len(times)}
    base.destroy()
    return {"renderer": renderer, "scenes": results}


def run(quick: bool = False) -> dict:
    """Spawn the worker (Panda3D picks its display once per process); returns the figures."""
    scenes = shipped_scenes()[:2] if quick else shipped_scenes()
    eye = (EYE_SIZE[0] // 4, EYE_SIZE[1] // 4) if quick else EYE_SIZE
    frames, warmup = (5, 2) if quick else (270, 30)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gpu_frames", "--worker", json.dumps({"scenes": scenes, "eye": eye, "frames": frames,
                                                                           "warmup": warmup})],
        cwd=ROOT, capture_output=True, text=True, timeout=120 if quick else 3600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench.gpu_frames worker failed: {proc.stderr[-2000:]}")
    out = json.loads(lines[-1][len("RESULT "):])
    worst = max(r["p99_ms"] for r in out["scenes"].values())
    return {
        "renderer": out["renderer"],
        "eye_size": list(eye),
        "stereo": True,
        "quick": quick,
        **{f"{scene}_{key}": round(value, 3) for scene, r in out["scenes"].items() for key, value in r.items()
           if key != "frames"},
        "worst_p99_ms": round(worst, 3),
        "goal_ms": GOAL_MS,
        "goal_met": bool(worst <= GOAL_MS) if not quick else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) == 2 and args[0] == "--worker":
        spec = json.loads(args[1])
        result = worker(spec["scenes"], tuple(spec["eye"]), spec["frames"], spec["warmup"])
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    print(json.dumps(run(quick="--quick" in args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
