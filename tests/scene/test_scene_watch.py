"""Hot reload: saving a scene reloads it; a bad save keeps the last good version with its errors."""

from __future__ import annotations

import os
from pathlib import Path

from engine.scene.watch import SceneWatcher

SCENES = Path(__file__).resolve().parents[2] / "scenes"


def touch_later(path: Path, text: str) -> None:
    """Write and move the mtime forward (coarse-mtime filesystems would otherwise hide the save)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_save_reload_bad_save_and_fix(tmp_path):
    for name in ("base-grocery.yaml", "grocery-first-visit.yaml"):
        (tmp_path / name).write_text((SCENES / name).read_text())
    scene_file = tmp_path / "grocery-first-visit.yaml"
    watcher = SceneWatcher([tmp_path])
    assert watcher.poll() == []
    assert watcher.scenes[scene_file].route_length_m == 120

    good = scene_file.read_text()
    touch_later(scene_file, good.replace("route_length_m: 120", "route_length_m: 130"))
    [result] = watcher.poll()
    assert result.ok and result.scene.route_length_m == 130
    assert watcher.poll() == []

    touch_later(scene_file, good.replace("route_length_m: 120", "route_length_m: 9"))
    [result] = watcher.poll()
    assert not result.ok and result.scene.route_length_m == 130  # last good kept
    assert result.errors and "route_length_m: 9 is out of range" in result.errors[0]
    assert watcher.errors[scene_file] == result.errors

    touch_later(scene_file, good)
    [result] = watcher.poll()
    assert result.ok and result.scene.route_length_m == 120 and scene_file not in watcher.errors


def test_base_change_reloads_dependents_and_new_and_removed_files(tmp_path):
    for name in ("base-grocery.yaml", "grocery-first-visit.yaml"):
        (tmp_path / name).write_text((SCENES / name).read_text())
    watcher = SceneWatcher(tmp_path)
    base = tmp_path / "base-grocery.yaml"
    touch_later(base, base.read_text().replace("volume: 0.5", "volume: 0.25"))
    results = {r.path.name: r for r in watcher.poll()}
    assert set(results) == {"base-grocery.yaml", "grocery-first-visit.yaml"}
    assert results["grocery-first-visit.yaml"].scene.audio.volume == 0.25

    new = tmp_path / "new.yaml"
    new.write_text("id: [broken\n")
    [result] = watcher.poll()
    assert result.path == new and result.scene is None and result.errors

    new.unlink()
    [result] = watcher.poll()
    assert result.removed and result.path == new
