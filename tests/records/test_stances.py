"""Per-stance balance rows: schema migration and the core's STANCE_COP + STANCE_LOAD events."""

from __future__ import annotations

import sqlite3

import numpy as np

from engine.control.layout import EVENT_DTYPE, EventKind
from engine.records.store import MIGRATIONS, Store, migrate


def _events(*rows) -> np.ndarray:
    return np.array(list(rows), dtype=EVENT_DTYPE)


def _cop(cycle, t, side, path, ap, ml, code=1):
    return (cycle, t, int(EventKind.STANCE_COP), side, code, path, ap, ml)


def _load(cycle, t, side, ms, peak, imp, ds):
    return (cycle, t, int(EventKind.STANCE_LOAD), side, ms, peak, imp, ds)


def test_an_older_database_gains_the_stances_table(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    migrate(conn, target=len(MIGRATIONS) - 1)  # the schema before balance existed
    conn.execute("INSERT INTO patients (code, created_at) VALUES ('p1', 'now')")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        sid = store.start_session("p1", "scene", {}, {})
        store.add_core_events(sid, _events(_cop(10, 1.5, 0, 0.25, 0.15, 0.004), _load(10, 1.5, 0, 650, 1.05, 0.6, 0.25)))
        rows = store.stances(sid)
        assert store.get_patient("p1") is not None  # older rows kept
    assert len(rows) == 1
    row = rows[0]
    assert (row["side"], row["flags"], row["cycle"]) == (0, 1, 10)
    assert row["duration_s"] == 0.65
    assert abs(row["cop_path_m"] - 0.25) < 1e-6 and abs(row["cop_ml_sd_m"] - 0.004) < 1e-6
    assert abs(row["load_impulse"] - 0.6) < 1e-6 and abs(row["double_support_s"] - 0.25) < 1e-6


def test_a_stance_split_over_two_batches_is_one_row(tmp_path):
    with Store(tmp_path / "r.db") as store:
        store.ensure_patient("p1")
        sid = store.start_session("p1", "scene", {}, {})
        # the ring handed over the COP event at the end of one batch and its LOAD with the next
        store.add_core_events(sid, _events(_cop(20, 2.0, 1, 0.2, 0.14, float("nan"), code=0)))
        assert store.stances(sid) == []
        counts = store.add_core_events(sid, _events(_load(20, 2.0, 1, 600, 0.9, 0.5, 0.2),
                                                    _load(30, 3.0, 0, 610, 1.0, 0.55, 0.21)))
        rows = store.stances(sid)
    assert counts["stances"] == 2
    assert [(r["cycle"], r["side"]) for r in rows] == [(20, 1), (30, 0)]
    assert rows[0]["flags"] == 0 and rows[0]["cop_ml_sd_m"] is None  # no lateral cells: unknown
    assert abs(rows[0]["cop_ap_m"] - 0.14) < 1e-6
    assert rows[1]["cop_path_m"] is None  # its COP event never came: the load still counts
    assert abs(rows[1]["peak_load"] - 1.0) < 1e-6
