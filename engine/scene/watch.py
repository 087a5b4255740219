"""Hot reload: poll scene files' modification stamps and reload the ones that changed.

Polling (no inotify) keeps it portable and cheap: one stat per file, called from a Panda3D task
every half second or so. A scene is reloaded when its own file or any base it extends changes; a
bad save keeps the last good Scene and carries the errors for the menu to show.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.scene.loader import SceneError, load_scene, scene_files
from engine.scene.model import Scene

log = logging.getLogger(__name__)


@dataclass
class ReloadResult:
    path: Path
    scene: Scene | None  # the scene now in use: the new one, or the last good one after a bad save
    errors: list[str] = field(default_factory=list)  # empty when the file loaded
    removed: bool = False  # the file disappeared (scene is the last good one)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.removed


def _stamp(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class SceneWatcher:
    """Watches scene files and folders (new *.yaml in a folder are picked up)."""

    def __init__(self, paths) -> None:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self._folders = [Path(p) for p in paths if Path(p).is_dir()]
        self._files_given = [Path(p) for p in paths if not Path(p).is_dir()]
        self.scenes: dict[Path, Scene] = {}  # last good scene per file
        self.errors: dict[Path, list[str]] = {}  # current errors per file
        self._deps: dict[Path, tuple[Path, ...]] = {}  # file -> files it depends on
        self._stamps: dict[Path, tuple | None] = {}
        for path in self._watched():
            self._load(path)

    def _watched(self) -> list[Path]:
        files = [p for p in self._files_given if p.exists()]
        for folder in self._folders:
            files += scene_files(folder)
        return files

    def _load(self, path: Path) -> ReloadResult:
        try:
            scene = load_scene(path)
        except SceneError as exc:
            self.errors[path] = exc.errors
            previous = self.scenes.get(path)
            # keep watching the bases we knew of; a new stamp of any of them retries the load
            deps = self._deps.get(path, (path.resolve(),))
            self._deps[path] = deps
            self._stamps[path] = self._deps_stamp(deps)
            log.warning("scene %s failed to reload (%d errors); keeping the last good version", path, len(exc.errors))
            return ReloadResult(path, previous, exc.errors)
        self.scenes[path] = scene
        self.errors.pop(path, None)
        self._deps[path] = scene.source_files or (path.resolve(),)
        self._stamps[path] = self._deps_stamp(self._deps[path])
        return ReloadResult(path, scene)

    @staticmethod
    def _deps_stamp(deps: tuple[Path, ...]) -> tuple:
        return tuple(_stamp(p) for p in deps)

    def poll(self) -> list[ReloadResult]:
        """Reload what changed since the last poll; one result per changed file."""
        results = []
        current = self._watched()
        for path in current:
            if path not in self._stamps:
                results.append(self._load(path))
                continue
            if self._deps_stamp(self._deps[path]) != self._stamps[path]:
                results.append(self._load(path))
        for path in [p for p in self._stamps if p not in current]:
            del self._stamps[path]
            self._deps.pop(path, None)
            self.errors.pop(path, None)
            results.append(ReloadResult(path, self.scenes.pop(path, None), [], removed=True))
        return results
