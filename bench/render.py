"""Headless rendering: frame time per environment, and how far the drawn position is from the belt.

Figures:
- `frame_ms_tinydisplay_<env>` / `frame_ms_llvmpipe_<env>`: mean time to update and draw one
  frame of the patient view (640x360, walking at 1.5 m/s through the scene) with the software
  renderer and with OpenGL on Mesa llvmpipe (EGL, no display); `_p99` beside each. Baseline in the
  same call: `frame_ms_<renderer>_empty`, the same loop drawing an empty scene.
  `frame_ms_tinydisplay` / `frame_ms_llvmpipe` are the worst environment's mean.
- `visual_belt_error_mm_p99`: while the virtual rig's belt runs at 1.5 m/s under the real control
  core, the distance between the position each frame is drawn at and the belt position at the
  moment that frame is complete (offscreen: the moment it is shown). Target: at most 5 mm.
  The belt position is the core's own record (telemetry ring, one sample per cycle), interpolated
  between the cycles where a new treadmill measurement arrived. Baseline in the same call:
  `visual_belt_error_mm_p99_no_extrapolation`, the same frames had s been drawn as read.
  `belt_run_alarms` names any alarm the core raised during the run (on a starved machine the
  core may stop the belt on device silence; only frames at full speed are counted).

Each renderer runs in its own process (Panda3D picks its display module once per process).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = {"grocery": "grocery-first-visit", "sidewalk": "sidewalk-morning-stroll"}
SIZE = (640, 360)
WALK_MPS = 1.5


# -- workers (each in its own process) ---------------------------------------------------------
def frames_worker(renderer: str, scene_id: str | None, frames: int) -> dict:
    """Frame time of the patient view walking through a scene (None = empty scene)."""
    from engine.render.panda_config import configure_panda

    configure_panda(headless=True, renderer=renderer, size=SIZE)
    from direct.showbase.ShowBase import ShowBase

    base = ShowBase()
    world = None
    if scene_id:
        from engine.render.world import build_world
        from engine.scene.loader import find_scene

        world = build_world(find_scene(scene_id), base.render, base.loader)
        base.set_background_color(*world.background_rgb, 1)
    base.disable_mouse()
    base.camLens.set_fov(90)
    base.camLens.set_near_far(0.05, 500)
    times = []
    s_m, scene_time_s, dt = 2.0, 0.0, 1 / 60
    for i in range(frames + 15):
        t0 = time.perf_counter()
        s_m += WALK_MPS * dt
        scene_time_s += dt
        if world is not None:
            world.update(s_m, scene_time_s, None)
        base.camera.set_pos(0, s_m, 1.6)
        base.task_mgr.step()
        if i >= 15:  # warm-up: chunk building, texture upload
            times.append((time.perf_counter() - t0) * 1000.0)
    renderer_name = base.win.get_gsg().get_driver_renderer()
    base.destroy()
    return {"mean": float(np.mean(times)), "p99": float(np.percentile(times, 99)), "renderer": renderer_name}


def belt_worker(duration_s: float) -> dict:
    """Visual-versus-belt error with the real rig and control core at 1.5 m/s."""
    from devices.sim.rig import start_rig
    from engine.control import layout
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter
    from engine.control.config import CoreConfig
    from engine.control.prescription import Prescription
    from engine.control.process import start_core
    from engine.render.alarms import active_alarms
    from engine.render.panda_config import configure_panda
    from engine.scene.loader import find_scene
    from engine.session.controller import SceneChoice, SessionController
    from engine.session.runner import HeartbeatThread, wait_core_ready

    scene = find_scene(ENVIRONMENTS["grocery"])
    rig = start_rig(profile="healthy", seed=1)
    channels = Channels.create()
    writer = CommandWriter(channels.command)
    controller = SessionController(writer, None)
    controller.patient_code = "bench"
    controller.prescription = Prescription(max_speed_mps=WALK_MPS, max_accel_mps2=1.0)
    writer.set_prescription(controller.prescription)
    # No obstacles: the belt must hold 1.5 m/s; the scenery is the real grocery store.
    controller.select_scene(SceneChoice(scene.id, route_length_m=500.0, base_speed_fraction=1.0,
                                        timeline=np.zeros(0, dtype=layout.TIMELINE_DTYPE)))
    controller.settings["speed_fraction"] = 1.0
    heartbeat = HeartbeatThread(writer)
    core = start_core(CoreConfig(ports=rig.ports), channels.paths())
    telemetry = []
    try:
        wait_core_ready(channels, core)
        configure_panda(headless=True, renderer="tinydisplay", size=SIZE)
        from engine.render.app import AppConfig, StepSyncApp
        from engine.render.world import build_world

        app = StepSyncApp(AppConfig(frame_rate_hz=30.0, record_frames=True), channels, controller,
                          world_factory=lambda a: build_world(scene, a.render, a.loader))
        heartbeat.covering.clear()
        channels.telemetry.drain()
        controller.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < duration_s:
            app.step()
            telemetry.append(channels.telemetry.drain())
        heartbeat.covering.set()
        alarms = [a.text for a in active_alarms(app.state, include_acked=True)]
        controller.stop()
        stats = app.release()
        frames = np.array(app.stats.frames)
        samples = np.array(app.stats.belt_samples, dtype=float).reshape(-1, 3)
    finally:
        heartbeat.covering.set()
        core.stop()
        heartbeat.stop()
        rig.stop()
        channels.close()
    records = np.concatenate(telemetry)
    figures = _belt_figures(records, frames, samples, stats)
    figures["belt_run_alarms"] = "; ".join(alarms) or "none"
    return figures


def _belt_figures(records: np.ndarray, frames: np.ndarray, samples: np.ndarray, stats: dict) -> dict:
    """Errors against the core's telemetry: s where it changed, interpolated in time."""
    t = records["t_s"]
    s = records["s_m"]
    changed = np.concatenate([[True], np.diff(s) != 0.0])
    t_known, s_known = t[changed], s[changed]
    speed = records["belt_speed_mps"]
    errors, naive = [], []
    done, drawn = frames[:, 0], frames[:, 1]
    for i in range(1, len(frames)):
        # Only frames shown while the belt ran at 1.5 m/s (not accelerating, not stopping).
        if done[i] > t_known[-1] or np.interp(done[i], t, speed) < WALK_MPS - 0.02 \
                or np.interp(done[i] - 0.1, t, speed) < WALK_MPS - 0.02:
            continue
        belt = float(np.interp(done[i], t_known, s_known))
        errors.append((drawn[i] - belt) * 1000.0)
    steady = samples[samples[:, 0] >= WALK_MPS - 0.02] if len(samples) else samples
    if len(steady):
        naive = list(steady[:, 2])
    errors = np.abs(np.array(errors)) if errors else np.array([np.nan])
    return {
        "visual_belt_error_mm_p99": float(np.percentile(errors, 99)),
        "visual_belt_error_mm_p50": float(np.percentile(errors, 50)),
        "visual_belt_error_frames": int(len(errors)),
        "visual_belt_error_mm_p99_app_probe": float(np.percentile(np.abs(steady[:, 1]), 99)) if len(steady) else None,
        "visual_belt_error_mm_p99_no_extrapolation": float(np.percentile(np.abs(naive), 99)) if len(naive) else None,
        "belt_frame_ms_p99": stats.get("frame_ms_p99"),
        "treadmill_update_interval_ms": float(np.median(np.diff(t_known)) * 1000.0) if len(t_known) > 2 else None,
    }


# -- driver -------------------------------------------------------------------------------------
def _spawn(args: list[str], timeout_s: float) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.render", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout_s)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench.render {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def run(quick: bool = False) -> dict:
    """All figures (see the module docstring)."""
    frames = 60 if quick else 300
    figures: dict = {}
    for renderer, label in (("tinydisplay", "tinydisplay"), ("gl", "llvmpipe")):
        worst = 0.0
        try:
            empty = _spawn(["--worker", "frames", "--renderer", renderer, "--frames", str(frames)], 120)
        except RuntimeError as exc:
            figures[f"frame_ms_{label}_error"] = str(exc)[-300:]
            continue
        figures[f"frame_ms_{label}_empty"] = round(empty["mean"], 3)
        figures[f"renderer_{label}"] = empty["renderer"]
        for env, scene_id in ENVIRONMENTS.items():
            result = _spawn(["--worker", "frames", "--renderer", renderer, "--scene", scene_id, "--frames", str(frames)], 180)
            figures[f"frame_ms_{label}_{env}"] = round(result["mean"], 3)
            figures[f"frame_ms_{label}_{env}_p99"] = round(result["p99"], 3)
            worst = max(worst, result["mean"])
        figures[f"frame_ms_{label}"] = round(worst, 3)
    belt = _spawn(["--worker", "belt", "--duration-s", "8" if quick else "20"], 120)
    figures.update({k: (round(v, 3) if isinstance(v, float) else v) for k, v in belt.items()})
    figures["visual_belt_error_target_mm"] = 5.0
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.render")
    parser.add_argument("--worker", choices=["frames", "belt"], required=True)
    parser.add_argument("--renderer", default="tinydisplay")
    parser.add_argument("--scene", default=None)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--duration-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.worker == "frames":
        result = frames_worker(args.renderer, args.scene, args.frames)
    else:
        result = belt_worker(args.duration_s)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
