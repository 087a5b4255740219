"""A recorded stretch of simulated walking (telemetry and core events), for stand-in producers.

`simulated_clip` runs `simulate` without a database and keeps what the real core wrote into its
rings: realistic records for recorder tests and benchmarks (engine/sim/producer.py), which
replay them at 1 kHz. Obstacles (a cable every `obstacle_spacing_m`) come from a generated scene
on the sidewalk base. Clips are cached under the system's temporary folder by their arguments
and the simulation's code (a digest of the source that makes them), so a test suite simulates
each clip once and never replays a clip another version of the code made (one made before the
core emitted stance events hid a recorder test's wrong count on a machine that kept it).
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path

import numpy as np

CACHE_VERSION = 2
ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("engine/control", "engine/sim", "devices", "scenes")  # what a clip's content follows from


@functools.cache
def code_digest() -> str:
    """SHA-1 of the files a clip's content follows from (the core, the simulation, the rig and its
    patient model, the scenes), by path and content."""
    digest = hashlib.sha1()
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".yaml", ".yml"):
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _scene_folder(obstacle_spacing_m: float | None, route_m: float, root: Path) -> tuple[Path, str]:
    """A folder with the sidewalk base and one generated scene; returns it and the scene id."""
    from engine.scene.loader import SCENES_DIR

    folder = root / "scenes"
    folder.mkdir(parents=True, exist_ok=True)
    base = Path(SCENES_DIR) / "base-sidewalk.yaml"
    (folder / base.name).write_text(base.read_text())
    lines = ["extends: base-sidewalk.yaml", "id: clip", "title: Simulated clip", "description: generated",
             "difficulty: gentle", f"route_length_m: {route_m:g}", "obstacles:"]
    if obstacle_spacing_m:
        at = 2.0
        count = 0
        while at < route_m - 2.0 and count < 100:
            lines.append(f"  - {{kind: cable, at_m: {at:.2f}}}")
            at += obstacle_spacing_m
            count += 1
    else:
        lines[-1] = "obstacles: []"
    (folder / "clip.yaml").write_text("\n".join(lines) + "\n")
    return folder, "clip"


def simulated_clip(duration_s: float, seed: int = 0, profile: str = "hemiparetic-right",
                   obstacle_spacing_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(telemetry, events) the real core wrote while the profile walked for duration_s."""
    from engine.control import layout
    from engine.sim.session import SimOptions, run_simulation

    key = hashlib.sha1(repr((CACHE_VERSION, code_digest(), duration_s, seed, profile,
                               obstacle_spacing_m)).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"stepsync-clip-{key}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as data:
                return data["telemetry"].astype(layout.TELEMETRY_DTYPE), data["events"].astype(layout.EVENT_DTYPE)
        except (OSError, ValueError, KeyError):
            pass  # a broken cache file: simulate again
    with tempfile.TemporaryDirectory(prefix="stepsync-clip-") as tmp:
        folder, scene_id = _scene_folder(obstacle_spacing_m, max(60.0, duration_s * 2.0), Path(tmp))
        result = run_simulation(SimOptions(scene=scene_id, profile=profile, duration_s=duration_s, seed=seed,
                                           db=None, scenes_dir=folder))
    telemetry, events = result.records
    partial = cache.with_suffix(f".{seed}.tmp.npz")
    np.savez(partial, telemetry=telemetry, events=events)
    partial.replace(cache)
    return telemetry, events
