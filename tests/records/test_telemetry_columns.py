"""Reading only some telemetry columns (Store.telemetry(fields=...)): the same values as the
whole records, in cycle order, and a reader that needs five columns holds a fraction of the
session. The session report loaded the whole 1 kHz telemetry twice (itself and its findings):
+392 MB for a 22-minute session (issue 17's soak)."""

from __future__ import annotations

import ast
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from engine.analysis.session_data import TELEMETRY_FIELDS, load_session
from engine.control.layout import TELEMETRY_DTYPE
from engine.records.report import REPORT_TELEMETRY_FIELDS
from engine.records.store import Store
from tests.records import synthetic
from tests.records.synthetic import write_session


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    db = tmp_path_factory.mktemp("columns") / "records.db"
    chunk = synthetic.CHUNK_RECORDS
    synthetic.CHUNK_RECORDS = 5000  # the recorder's compaction size: one chunk's decoding is small
    try:
        with Store(db) as store:
            sid = write_session(store, 120.0)  # 24 chunks, a stall's gap in the cycles
    finally:
        synthetic.CHUNK_RECORDS = chunk
    return db, sid


def test_columns_are_the_whole_records_columns_in_cycle_order(recorded):
    db, sid = recorded
    with Store(db) as store:
        whole = store.telemetry(sid)
        part = store.telemetry(sid, ("heart_rate_bpm", "t_s", "clearance_boost"))
    assert part.dtype.names == ("cycle", "heart_rate_bpm", "t_s", "clearance_boost")  # cycle first when not named
    assert len(part) == len(whole) > 100_000
    for name in part.dtype.names:
        assert part.dtype[name] == TELEMETRY_DTYPE[name]
        np.testing.assert_array_equal(part[name], whole[name])
    assert part.itemsize < whole.itemsize / 4


def test_an_unknown_column_is_named():
    with pytest.raises(KeyError, match="no telemetry field 'belt_speed'"):
        from engine.records.store import telemetry_dtype_of

        telemetry_dtype_of(("t_s", "belt_speed"))


def test_the_findings_loader_holds_its_columns_not_the_whole_records(recorded):
    db, sid = recorded
    with Store(db) as store:
        n = len(store.telemetry(sid, ("t_s",)))
        load_session(store, sid)  # once first: its one-time costs (imports, caches) are not per cycle
        tracemalloc.start()
        try:
            load_session(store, sid)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # the whole records alone are TELEMETRY_DTYPE.itemsize (118) bytes a cycle; the columns it
    # reads are 33 with the cycle, and its own arrays (times, walking masks) add a few dozen
    assert peak / n < TELEMETRY_DTYPE.itemsize, f"{peak / n:.0f} bytes a cycle at the peak"
    assert set(TELEMETRY_FIELDS) <= set(TELEMETRY_DTYPE.names)


def _string_subscripts(path: Path, names: tuple[str, ...]) -> set[str]:
    """Every `NAME["field"]` in a module, for the NAMEs that hold telemetry there."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)):
            value = node.value
            if isinstance(value, ast.Attribute) and value.attr == "telemetry" or isinstance(value, ast.Name) and value.id in names:
                found.add(node.slice.value)
    return found


def test_the_report_loads_every_column_it_reads():
    # a column left out of the list is a KeyError when a report is written: every telemetry
    # subscript in the report and its metrics must be in the list (cycle comes anyway)
    root = Path(__file__).resolve().parents[2]
    read = (_string_subscripts(root / "engine/records/report.py", ("tel", "telemetry", "recorded"))
            | _string_subscripts(root / "engine/records/metrics.py", ("telemetry",)))
    assert read, "no telemetry subscripts found: the check no longer looks at the right names"
    assert read - {"cycle"} <= set(REPORT_TELEMETRY_FIELDS), read - {"cycle"} - set(REPORT_TELEMETRY_FIELDS)
