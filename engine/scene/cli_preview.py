"""`main.py preview SCENE --at-m 12.5 --out shot.png`: an offscreen screenshot from the patient's eye.

SCENE is a YAML file or a scene id from scenes/. Renders with Panda3D's software renderer
(tinydisplay) by default, so it works without a display or a GPU.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{2,5})x(\d{2,5})", text)
    if not match:
        raise argparse.ArgumentTypeError("size must look like 1280x720")
    width, height = int(match.group(1)), int(match.group(2))
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise argparse.ArgumentTypeError("width and height must be 16..8192")
    return width, height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `preview`."""
    parser.add_argument("scene", metavar="SCENE", help="scene YAML file, or a scene id from scenes/")
    parser.add_argument("--at-m", type=float, default=None, help="distance along the route (default: before the first obstacle)")
    parser.add_argument("--time-s", type=float, default=None,
                        help="scene clock on arrival at --at-m, for lights, people and triggered obstacles "
                             "(default: walking there at 1 m/s)")
    parser.add_argument("--out", default="preview.png", help="image file to write (default preview.png)")
    parser.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--eye-height-m", type=float, default=1.6, help="camera height (default 1.6)")
    parser.add_argument("--renderer", choices=["tinydisplay", "gl"], default="tinydisplay", help="offscreen renderer")


def main(args: argparse.Namespace) -> int:
    """Load the scene (printing its errors on failure) and write the screenshot."""
    from engine.scene.loader import SceneError, find_scene, load_scene

    try:
        path = Path(args.scene)
        scene = load_scene(path) if (path.exists() or path.suffix in (".yaml", ".yml")) else find_scene(args.scene)
    except SceneError as exc:
        for line in exc.errors:
            print(line)
        return 1
    from engine.render.world import render_view, thumbnail_at_m

    at_m = thumbnail_at_m(scene) if args.at_m is None else args.at_m
    if not -20.0 <= at_m <= scene.route_length_m + 20.0:
        print(f"--at-m {at_m:g} is outside the route (0..{scene.route_length_m:g} m)")
        return 1
    time_s = max(0.0, at_m) / 1.0 if args.time_s is None else args.time_s
    out = render_view(scene, args.out, at_m, args.size, scene_time_s=time_s,
                      eye_height_m=args.eye_height_m, renderer=args.renderer, direct=True)
    print(f"wrote {out} ({args.size[0]}x{args.size[1]}, {scene.id} at {at_m:g} m, scene time {time_s:g} s)")
    return 0


if __name__ == "__main__":  # `python -m engine.scene.cli_preview` works without the other commands
    import logging
    import sys

    logging.basicConfig(level=logging.WARNING)
    _parser = argparse.ArgumentParser(prog="main.py preview", description=__doc__)
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
