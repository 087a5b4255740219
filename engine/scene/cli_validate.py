"""`main.py validate PATH...`: check scene files or folders; exit 0 when all are valid, 1 otherwise.

Prints every error of every file as `file:line:col key.path: message`, never a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `validate`."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="scene YAML files or folders of them")


def main(args: argparse.Namespace) -> int:
    """Validate each file; print one line per error and a summary."""
    from engine.scene.loader import SceneError, load_scene, scene_files

    files: list[Path] = []
    missing = []
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            files += scene_files(path)
        elif path.exists():
            files.append(path)
        else:
            missing.append(raw)
    for raw in missing:
        print(f"{raw}:1:1 <root>: no such file or folder")
    bad = len(missing)
    for path in files:
        try:
            scene = load_scene(path)
        except SceneError as exc:
            bad += 1
            for line in exc.errors:
                print(line)
            continue
        except Exception as exc:  # a loader bug still must not print a traceback at a designer
            bad += 1
            print(f"{path}:1:1 <root>: internal error while validating: {type(exc).__name__}: {exc}")
            continue
        note = " (base scene)" if scene.abstract else ""
        print(f"ok {path}: {scene.id}{note}, {len(scene.obstacles)} obstacles, {scene.route_length_m:g} m")
    total = len(files) + len(missing)
    print(f"{total - bad} of {total} scene files valid")
    return 0 if bad == 0 and total > 0 else 1


if __name__ == "__main__":  # `python -m engine.scene.cli_validate` works without the other commands
    import logging
    import sys

    logging.basicConfig(level=logging.WARNING)
    _parser = argparse.ArgumentParser(prog="main.py validate", description=__doc__)
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
