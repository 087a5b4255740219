"""`python -m bench all` writes docs/benchmarks.md: its generated part merged run by run, with the
date, machine and load of each benchmark's run, and the hand-written records below it kept."""

from __future__ import annotations

import json

import bench.__main__ as bench_main


def test_a_partial_run_keeps_the_other_figures_and_the_hand_written_records(tmp_path, monkeypatch):
    (tmp_path / "bench").mkdir()
    (tmp_path / "docs").mkdir()
    monkeypatch.setattr(bench_main, "ROOT", tmp_path)
    doc = tmp_path / "docs" / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nold generated text\n\n" + bench_main.KEPT_MARKER
                   + "\n\n## session (an investigation, 12:00 UTC)\n\nkept as written\n")
    run_a = {"date": "2026-12-01 10:00 UTC", "machine": "m1", "quick": False, "load_before": 0.5, "load_after": 1.25}
    bench_main.write_report({"session": {"false_stops": 0, "visual_belt_error_mm_p99": 1.44}}, False,
                            {"session": run_a})
    run_b = {"date": "2026-12-01 11:00 UTC", "machine": "m1", "quick": True, "load_before": 2.0, "load_after": 3.5}
    bench_main.write_report({"session_hog": {"false_stops": 1}}, True, {"session_hog": run_b})

    text = doc.read_text()
    generated, kept = text.split(bench_main.KEPT_MARKER)
    assert "old generated text" not in text
    assert kept.strip() == "## session (an investigation, 12:00 UTC)\n\nkept as written"
    assert "## session\n" in generated and "## session_hog\n" in generated
    assert "Made 2026-12-01 10:00 UTC, on m1, load 0.5 -> 1.25, full run." in generated
    assert "Made 2026-12-01 11:00 UTC, on m1, load 2.0 -> 3.5, --quick." in generated
    assert "| `visual_belt_error_mm_p99` | 1.44 | <= 5 |" in generated
    assert "| `false_stops` | 1 | = 0 |" in generated
    saved = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert saved["results"]["session"]["visual_belt_error_mm_p99"] == 1.44
    assert saved["runs"]["session_hog"]["load_after"] == 3.5
    assert list(saved["results"]) == ["session", "session_hog"]  # make bench's order
