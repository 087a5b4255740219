"""The UI's memory probe (engine/render/mem_probe.py): off by default; on, it logs counters."""

from __future__ import annotations

import json
from types import SimpleNamespace

from panda3d.core import NodePath

from engine.render import mem_probe


class _Tasks:
    def __init__(self) -> None:
        self.added = []

    def add(self, function, name, sort=0):
        self.added.append(name)


def _app() -> SimpleNamespace:
    render = NodePath("render")
    render.attachNewNode("child")
    return SimpleNamespace(render=render, world=None, frames=7, detail=SimpleNamespace(view_distance_m=60.0),
                           task_mgr=_Tasks())


def test_off_unless_the_environment_names_a_log(monkeypatch):
    monkeypatch.delenv(mem_probe.PROBE_ENV, raising=False)
    app = _app()
    assert mem_probe.install(app) is None
    assert app.task_mgr.added == []


def test_on_it_logs_rss_heap_panda_counts_and_grown_types(monkeypatch, tmp_path):
    log = tmp_path / "probe.jsonl"
    monkeypatch.setenv(mem_probe.PROBE_ENV, str(log))
    app = _app()
    probe = mem_probe.install(app)
    assert app.task_mgr.added == ["stepsync-mem-probe"]
    task = SimpleNamespace(cont="cont")
    assert probe.task(task) == "cont"
    assert probe.task(task) == "cont"  # not due again yet: no second line
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    sample = json.loads(lines[0])
    assert sample["rss_mb"] > 0 and sample["render_nodes"] == 2 and sample["frames"] == 7
    assert {"transform_states", "render_states", "vertex_bytes_mb", "py_objects", "py_grown"} <= set(sample)
