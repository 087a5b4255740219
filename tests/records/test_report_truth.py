"""Reports that tell the truth about the session (issue 15, item 4 and 5; issue 11's report
items). Each test failed on the code before this change."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.control.prescription import Prescription
from engine.records.report import build_patient_document, build_session_document, build_session_html
from engine.records.report_render import MAX_TABLE_COLUMNS, Plot, Table, render_html, render_pdf
from engine.records.store import Store, ensure_demo_patient
from tests.records.synthetic import write_desktop_session

WALK_S = 5.0


def _row(doc, section: str, label: str) -> str:
    for s in doc.sections:
        if s.key == section:
            for block in s.blocks:
                if isinstance(block, Table):
                    for row in block.rows:
                        if row[0] == label or (isinstance(row[0], str) and row[0].startswith(label)):
                            cell = row[1]
                            return cell if isinstance(cell, str) else cell[0]
    raise KeyError(label)


@pytest.fixture
def desktop(db_path):
    with Store(db_path) as store:
        sid = write_desktop_session(store, walk_s=WALK_S)
    return db_path, sid


def test_duration_is_the_sessions_not_the_recordings(desktop):
    db_path, sid = desktop
    with Store(db_path) as store:
        doc = build_session_document(store, sid)
    text = _row(doc, "summary", "Session time, start to belt stopped")
    seconds = float(text.split()[0])
    assert WALK_S <= seconds <= WALK_S + 0.7, text  # walking plus the 0.6 s controlled stop, not 45 s


def test_plots_hold_no_point_outside_the_session(desktop):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    db_path, sid = desktop
    with Store(db_path) as store:
        doc = build_session_document(store, sid)
    plots = [b for s in doc.sections for b in s.blocks if isinstance(b, Plot)]
    assert len(plots) >= 6
    for plot in plots:
        fig, ax = plt.subplots()
        plot.draw(ax)
        xs = [np.asarray(line.get_xdata(), dtype=float) for line in ax.lines]
        xs += [np.asarray(c.get_offsets())[:, 0] for c in ax.collections if len(c.get_offsets())]
        plt.close(fig)
        xs = np.concatenate([x for x in xs if len(x)]) if xs else np.zeros(0)
        assert len(xs) and xs.min() >= -0.01 and xs.max() <= WALK_S + 0.7, (ax.get_ylabel(), xs.min(), xs.max())


def test_previous_sessions_acknowledged_alarm_is_not_listed(desktop):
    db_path, sid = desktop
    with Store(db_path) as store:
        doc = build_session_document(store, sid)
    alarms = next(s for s in doc.sections if s.key == "alarms").blocks[0]
    texts = [" ".join(c if isinstance(c, str) else c[0] for c in row) for row in alarms.rows]
    assert any("Exoskeleton link lost" in t and "raised" in t for t in texts)
    assert any("Exoskeleton link lost" in t and "acked" in t for t in texts)
    assert not any("Heart rate" in t for t in texts), texts


def test_a_session_without_steps_claims_no_norm(db_path):
    with Store(db_path) as store:
        sid = write_desktop_session(store, with_steps=False)
        text = build_session_html(store, sid)
    summary = re.search(r'<section id="summary">(.*?)</section>', text, re.S).group(1)
    assert "within norm" not in summary and "n/a" not in summary and "ambulation" not in summary.split("Self-selected")[0]
    assert "No steps were recorded" in summary


def test_a_headless_run_is_not_called_a_desktop_window(db_path):
    with Store(db_path) as store:
        sid = write_desktop_session(store, who="headless-runner")
        doc = build_session_document(store, sid)
    assert _row(doc, "summary", "Display").startswith("none (headless run")


def test_tables_fit_the_page(desktop, tmp_path):
    db_path, sid = desktop
    with Store(db_path) as store:
        for k in range(3):
            write_desktop_session(store, walk_s=4.0 + k)
        docs = [build_session_document(store, sid), build_patient_document(store, "demo-hemiparetic")]
    for doc in docs:
        html = render_html(doc)
        assert "table-layout: fixed" in html and "width: 100%" in html
        for table in re.findall(r"<table>(.*?)</table>", html, re.S):
            header = re.search(r"<tr>(.*?)</tr>", table, re.S).group(1)
            assert header.count("<th>") <= MAX_TABLE_COLUMNS
        result = render_pdf(doc, tmp_path / "report.pdf")
        assert result["pages"] >= 2 and result["overflows"] == []
    with pytest.raises(ValueError, match="do not fit"):
        Table([str(i) for i in range(MAX_TABLE_COLUMNS + 1)], [])


def test_settings_on_one_scale_with_units(desktop):
    db_path, sid = desktop
    with Store(db_path) as store:
        doc = build_session_document(store, sid)
        rx = store.current_prescription("demo-hemiparetic")
    settings = next(s for s in doc.sections if s.key == "settings").blocks[0]
    rows = {row[2]: row for row in settings.rows}
    # demo-hemiparetic: guidance 0.2-1.0, BWS 0-40 % of body weight.
    assert rx.guidance_min == 0.2 and rx.bws_max == 0.4
    # absolute values, the prescribed range beside them (docs/engine.md "Settings and their units")
    assert rows["guidance"][4] == "0.70 of full robot assistance (prescribed 0.20-1.00)"
    assert rows["bws_fraction"][4].endswith("% of body weight (prescribed 0-40 %)")
    assert _row(doc, "summary", "Guidance applied").endswith("of full stiffness")
    assert _row(doc, "summary", "Body-weight support applied").endswith("% of body weight")


def test_paretic_legs_obstacles_per_kind_and_heart_rate_zones(desktop):
    db_path, sid = desktop
    with Store(db_path) as store:
        doc = build_session_document(store, sid)
        legs = next(s for s in doc.sections if s.key == "legs").blocks[0]
        assert legs.headers[1:] == ["non-paretic (left)", "paretic (right)"]
        obstacles = next(s for s in doc.sections if s.key == "obstacles")
        kinds = {row[0]: row for row in obstacles.blocks[0].rows}
        assert set(kinds) == {"box", "curb_down", "cable"}
        assert kinds["curb_down"][4] == ("1", "flag") and kinds["box"][1] == "15 cm"
        # Height-weighted success: cleared 15 + 4 cm of 15 + 12 + 4 cm = 61 %.
        assert "61 %" in obstacles.blocks[1]
        heart = next(s for s in doc.sections if s.key == "heart-rate")
        assert any("no heart-rate limit" in b for b in heart.blocks if isinstance(b, str))
        # With a limit in the prescription: zones, and the limit on the plot.
        store.add_prescription("demo-hemiparetic", Prescription(**{
            **store.current_prescription("demo-hemiparetic").to_dict(), "max_heart_rate_bpm": 110.0}))
        sid2 = write_desktop_session(store)
        heart = next(s for s in build_session_document(store, sid2).sections if s.key == "heart-rate")
    zones = next(b for b in heart.blocks if isinstance(b, Table))
    assert [r[0].split(":")[0] for r in zones.rows] == [
        "low (< 40 % HRR)", "moderate (40-59 % HRR)", "vigorous (60-100 % HRR)", "above the prescribed limit 110 bpm"]
    total = sum(float(r[1].split()[0]) for r in zones.rows)
    assert total == pytest.approx(WALK_S + 0.6, abs=0.15)


def test_prescription_heart_rate_limit_is_validated():
    assert Prescription().max_heart_rate_bpm == 0.0
    with pytest.raises(ValueError, match="max_heart_rate_bpm"):
        Prescription(max_heart_rate_bpm=30.0)
    with pytest.raises(ValueError, match="max_heart_rate_bpm"):
        Prescription(max_heart_rate_bpm=300.0)


def test_demo_patient_without_limit_keeps_working(db_path):
    with Store(db_path) as store:
        ensure_demo_patient(store, "demo-frail")
        assert store.current_prescription("demo-frail").max_heart_rate_bpm == 0.0


def test_shopping_and_crossing_results_per_item(db_path):
    with Store(db_path) as store:
        sid = write_desktop_session(store)
        tasks = {"items_total": 2, "items_collected": 1, "items_missed": 1, "crossings_total": 1,
                 "crossings_done": 0, "crossings_failed": 1, "cues_total": 4, "cues_shown": 3,
                 "shopping": [{"name": "milk", "status": "collected", "collected_at_s": 12.5},
                              {"name": "bread", "status": "missed", "collected_at_s": None}],
                 "crossings": [{"light": "main-street", "start_m": 40.0, "end_m": 52.0, "status": "failed"}]}
        store.end_session(sid, "completed", {"tasks": tasks})
        section = next(s for s in build_session_document(store, sid).sections if s.key == "tasks")
    counts, per_item = [b for b in section.blocks if isinstance(b, Table)]
    assert counts.rows[0][1] == "1 of 2 collected" and counts.rows[1][2] == ("1 failed", "flag")
    assert counts.rows[2][1] == "3 of 4 shown"
    assert per_item.rows[0] == ["item: milk", "found", "found at 12.5 s"]
    assert per_item.rows[1][:2] == ["item: bread", ("missed", "flag")]
    assert per_item.rows[2][:2] == ["crossing: main-street (40-52 m)", ("not on green", "flag")]


def _variability_text(doc) -> str:
    section = next(s for s in doc.sections if s.key == "variability")
    return " ".join(b for b in section.blocks if isinstance(b, str))


def test_variability_note_names_the_steady_rule_that_decided(db_path):
    """The core flags steady strides with its own rule; the report said the records' rule (belt at
    the session's usual speed, 10 s warm-up) decided even when the core's flags did."""
    import sqlite3

    from engine.control import steady_state
    from tests.records.synthetic import write_session

    with Store(db_path) as store:
        sid = write_session(store, 40.0, patient="demo-healthy", profile="healthy", stall=None)
        strides = store.strides(sid)
        flagged = sum(1 for s in strides if s["steady"])
        assert flagged > 10
        text = _variability_text(build_session_document(store, sid))
    assert "control core flagged" in text and f"{steady_state.WARMUP_STRIDES} strides" in text
    assert f"{flagged} of {len(strides)} strides" in text
    with sqlite3.connect(db_path) as conn:  # as an older recording: no flags from the core
        conn.execute("UPDATE strides SET flags = 0 WHERE session_id = ?", (sid,))
    with Store(db_path) as store:
        text = _variability_text(build_session_document(store, sid))
    assert "control core flagged" not in text and "carry no flags" in text and "10 s warm-up" in text
