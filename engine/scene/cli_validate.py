"""`main.py validate [--strict] PATH...`: check scene files or folders; exit 0 when all are valid, 1 otherwise.

Prints every error of every file as `file:line:col key.path: message` and every warning as
`file:line:col key.path: warning: message`, never a traceback. Warnings do not fail a file unless
`--strict`. Scene ids must be unique across everything checked in one run.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `validate`."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="scene YAML files or folders of them")
    parser.add_argument("--strict", action="store_true", help="treat warnings (layout advice) as errors")


def main(args: argparse.Namespace) -> int:
    """Validate each file; print one line per error and warning, and a summary."""
    try:
        return _validate(args)
    except BrokenPipeError:  # `validate ... | head`: stop quietly like any command-line tool
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _validate(args: argparse.Namespace) -> int:
    from devices.yaml_positions import printable
    from engine.scene.loader import SceneError, duplicate_id_errors, load_scene, scene_files

    files: list[tuple[Path, Path | None]] = []  # (file, folder it must stay inside)
    missing = []
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            found = scene_files(path)
            if not found:
                missing.append(raw)
                print(f"{printable(raw)}:1:1 <root>: no .yaml scene files in this folder")
                continue
            files += [(f, path) for f in found]
        elif path.exists() or path.is_symlink():
            files.append((path, None))
        else:
            missing.append(raw)
    for raw in missing:
        if not Path(raw).is_dir():
            print(f"{printable(raw)}:1:1 <root>: no such file or folder")
    bad = len(missing)
    loaded = []
    warned = 0
    for path, root in files:
        try:
            scene = load_scene(path, strict=getattr(args, "strict", False), root=root)
        except SceneError as exc:
            bad += 1
            for line in exc.errors:
                print(line)
            continue
        except Exception as exc:  # a loader bug still must not print a traceback at a designer
            bad += 1
            print(f"{printable(str(path))}:1:1 <root>: internal error while validating ({type(exc).__name__})")
            continue
        loaded.append((path, scene))
    duplicates = duplicate_id_errors(loaded)
    for path, scene in loaded:
        if path in duplicates:
            bad += 1
            for line in duplicates[path]:
                print(line)
            continue
        for line in scene.warnings:
            print(line)
        warned += bool(scene.warnings)
        note = " (base scene)" if scene.abstract else ""
        extra = f", {len(scene.warnings)} warnings" if scene.warnings else ""
        print(f"ok {printable(str(path))}: {scene.id}{note}, {len(scene.obstacles)} obstacles, {scene.route_length_m:g} m{extra}")
    total = len(files) + len(missing)
    print(f"{total - bad} of {total} scene files valid" + (f" ({warned} with warnings)" if warned else ""))
    return 0 if bad == 0 and total > 0 else 1


if __name__ == "__main__":  # `python -m engine.scene.cli_validate` works without the other commands
    import logging
    import sys

    logging.basicConfig(level=logging.WARNING)
    _parser = argparse.ArgumentParser(prog="main.py validate", description=__doc__)
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
