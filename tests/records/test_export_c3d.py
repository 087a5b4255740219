"""C3D export read back with two independent readers (ezc3d and py-c3d): every event at its
database sample time within 1 ms, all events of a 20-minute session, angles declared as angles,
no NaN samples, integers as integers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import c3d as pyc3d
import ezc3d
import numpy as np
import pytest

from engine.records.export import (
    ANGLE_POINTS,
    GAIT_EVENT_LABELS,
    ExportError,
    export_c3d,
    parameter_blocks,
)
from engine.records.store import Store
from tests.records.conftest import ROOT
from tests.records.synthetic import write_session

SESSION_S = 20 * 60.0
TOLERANCE_S = 0.001


@pytest.fixture(scope="module")
def long_session(tmp_path_factory):
    """A 20-minute recorded session of a healthy walker (the most events per minute): a 998.7 Hz
    loop with jitter, a 0.25 s stall, events stamped 2-30 ms before the cycle that detected them."""
    db_path = tmp_path_factory.mktemp("c3d") / "stepsync.db"
    with Store(db_path) as store:
        sid = write_session(store, SESSION_S, patient="demo-healthy", profile="healthy", seed=7)
        telemetry_t = store.telemetry(sid)["t_s"]
        events = store.events(sid)
    t0 = float(telemetry_t[0])
    expected = sorted(
        (round(float(e["t_s"]) - t0, 6), GAIT_EVENT_LABELS.get(e["kind"], f"Obstacle {e.get('outcome')}"),
         {0: "Left", 1: "Right"}.get(e["side"], "General"))
        for e in events if e["kind"] in ("heel_strike", "toe_off", "obstacle_outcome"))
    out = tmp_path_factory.mktemp("c3d-out") / "session.c3d"
    with Store(db_path) as store:
        export_c3d(store, sid, out)
    return db_path, sid, out, expected, t0, float(telemetry_t[-1] - t0)


def _ezc3d_events(path) -> tuple[int, list[tuple[float, str, str]], dict]:
    c3d = ezc3d.c3d(str(path))
    group = c3d["parameters"]["EVENT"]
    used = int(group["USED"]["value"][0])
    events, suffix = [], ""
    block = 1
    while f"TIMES{suffix}" in group:
        times = np.asarray(group[f"TIMES{suffix}"]["value"], dtype=float).reshape(2, -1)
        labels, contexts = group[f"LABELS{suffix}"]["value"], group[f"CONTEXTS{suffix}"]["value"]
        for i in range(times.shape[1]):
            events.append((times[0, i] * 60.0 + times[1, i], labels[i].strip(), contexts[i].strip()))
        block += 1
        suffix = str(block)
    return used, events[:used], c3d


def _pyc3d_events(path) -> tuple[int, list[tuple[float, str, str]], pyc3d.Reader]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = open(path, "rb")
        reader = pyc3d.Reader(f)
    used = reader.get("EVENT:USED")
    assert used.bytes_per_element == 2, "EVENT:USED must be a C3D integer"
    n = int(used.int16_value)
    events, suffix, block = [], "", 1
    while reader.get(f"EVENT:TIMES{suffix}") is not None:
        times = reader.get(f"EVENT:TIMES{suffix}").float_array.reshape(-1, 2)  # py-c3d: (n, 2)
        labels = reader.get(f"EVENT:LABELS{suffix}").string_array
        contexts = reader.get(f"EVENT:CONTEXTS{suffix}").string_array
        for i in range(times.shape[0]):
            events.append((float(times[i, 0]) * 60.0 + float(times[i, 1]), str(labels[i]).strip(),
                           str(contexts[i]).strip()))
        block += 1
        suffix = str(block)
    return n, events[:n], reader


def _match(read: list[tuple[float, str, str]], expected: list[tuple[float, str, str]]) -> float:
    """Largest time error after pairing events in time order per (label, context)."""
    assert len(read) == len(expected)
    worst = 0.0
    for key in {(label, ctx) for _, label, ctx in expected}:
        a = sorted(t for t, label, ctx in read if (label, ctx) == key)
        b = sorted(t for t, label, ctx in expected if (label, ctx) == key)
        assert len(a) == len(b), key
        worst = max(worst, float(np.max(np.abs(np.array(a) - np.array(b)))))
    return worst


def test_every_event_of_a_20_minute_session_read_by_ezc3d(long_session):
    _, _, path, expected, _, duration_s = long_session
    assert duration_s > SESSION_S - 5 and len(expected) > 3000
    used, read, c3d = _ezc3d_events(path)
    assert used == len(expected) == len(read)
    assert _match(read, expected) <= TOLERANCE_S
    assert max(t for t, _, _ in read) > SESSION_S - 10, "events reach the end of the session"
    params = c3d["parameters"]
    assert params["EVENT"]["USED"]["type"] == ezc3d.ezc3d.INT
    assert params["EVENT"]["ICON_IDS"]["type"] == ezc3d.ezc3d.INT
    assert params["TRIAL"]["SIMULATED"]["type"] == ezc3d.ezc3d.INT
    assert params["ANALOG"]["RATE"]["value"][0] == pytest.approx(1000.0)
    assert parameter_blocks(path) <= 255, "the C3D parameter section is at most 255 blocks"


def test_every_event_of_a_20_minute_session_read_by_py_c3d(long_session):
    _, _, path, expected, _, _ = long_session
    used, read, reader = _pyc3d_events(path)
    assert used == len(expected) == len(read)
    assert _match(read, expected) <= TOLERANCE_S
    angles = [str(s).strip() for s in reader.get("POINT:ANGLES").string_array]
    assert angles == [p[0] for p in ANGLE_POINTS]
    assert str(reader.get("POINT:ANGLE_UNITS").string_array[0]).strip() == "deg"


def test_samples_follow_the_database_clock_and_gaps_are_marked_invalid(long_session):
    db_path, sid, path, _, t0, _ = long_session
    with Store(db_path) as store:
        telemetry = store.telemetry(sid)
    c3d = ezc3d.c3d(str(path))
    labels = [s.strip() for s in c3d["parameters"]["ANALOG"]["LABELS"]["value"]]
    analogs = c3d["data"]["analogs"][0]
    rate = float(c3d["parameters"]["ANALOG"]["RATE"]["value"][0])
    assert np.isfinite(analogs).all(), "no NaN analog samples"
    # Sample i is the record taken at or just before t0 + i / rate: check against the database at
    # a few times late in the session, where a 1 kHz-assumed time base would be ~1.5 s off.
    knee = analogs[labels.index("RKneeAngle")]
    t = telemetry["t_s"] - t0
    for at_s in (100.0, 700.0, 1190.0):
        i = int(round(at_s * rate))
        record = int(np.searchsorted(t, i / rate + 1e-9, side="right") - 1)
        assert knee[i] == pytest.approx(np.rad2deg(float(telemetry["knee_rad"][record, 1])), abs=1e-3)
    # The 0.25 s stall at 30 s: invalid samples (RecordValid 0) and invalid point frames (residual -1).
    valid = analogs[labels.index("RecordValid")]
    gap = valid[int(30.05 * rate):int(30.2 * rate)]
    assert gap.size and not gap.any() and valid[int(10 * rate)] == 1
    residuals = c3d["data"]["meta_points"]["residuals"][0]
    point_rate = float(c3d["parameters"]["POINT"]["RATE"]["value"][0])
    frame = int(30.1 * point_rate)
    assert (residuals[:, frame] < 0).all() and (residuals[:, int(10 * point_rate)] >= 0).all()
    assert np.isnan(c3d["data"]["points"][0, :, frame]).all(), "ezc3d reads residual -1 as missing"


def test_window_via_cli_keeps_only_its_events_timed_from_its_start(long_session, tmp_path):
    db_path, sid, _, expected, _, _ = long_session
    out = tmp_path / "window.c3d"
    result = subprocess.run([sys.executable, "main.py", "-q", "export", "--session", str(sid), "--format", "c3d",
                             "--from-s", "600", "--to-s", "660", "--out", str(out), "--db", str(db_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    c3d = ezc3d.c3d(str(out))
    start = float(c3d["parameters"]["TRIAL"]["WINDOW_START_S"]["value"][0])
    assert 600.0 <= start < 600.002
    inside = [(t - start, label, ctx) for t, label, ctx in expected if 600.0 <= t <= 660.0 and t >= start]
    used, read, _ = _ezc3d_events(out)
    assert used == len(inside) > 100
    assert _match(read, inside) <= TOLERANCE_S
    bad = subprocess.run([sys.executable, "main.py", "-q", "export", "--session", str(sid), "--format", "c3d",
                          "--from-s", "5000", "--out", str(tmp_path / "none.c3d"), "--db", str(db_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "5000" in bad.stdout and "Traceback" not in bad.stderr


def test_empty_window_is_a_clear_error(long_session, tmp_path):
    db_path, sid, *_ = long_session
    with Store(db_path) as store, pytest.raises(ExportError, match="window ends"):
        export_c3d(store, sid, tmp_path / "x.c3d", start_s=10.0, end_s=5.0)


def test_a_session_too_long_for_one_file_is_split_with_every_event(long_session, tmp_path, monkeypatch):
    """Past the parameter section's limit (here lowered from 255 to 60 blocks, so that the
    20-minute session needs several files) the export writes consecutive parts; together they
    hold every event once, at its database time."""
    from engine.records import export

    db_path, sid, _, expected, _, _ = long_session
    monkeypatch.setattr(export, "MAX_PARAMETER_BLOCKS", 60)
    with Store(db_path) as store:
        paths = export.export_c3d_parts(store, sid, tmp_path / "long.c3d")
    assert len(paths) >= 4 and all(p.name.startswith("long-part") for p in paths)
    read = []
    for path in paths:
        assert parameter_blocks(path) <= 60
        _, events, c3d = _ezc3d_events(path)
        start = float(c3d["parameters"]["TRIAL"]["WINDOW_START_S"]["value"][0])
        read += [(t + start, label, ctx) for t, label, ctx in events]
    assert len(read) == len(expected)
    assert _match(read, expected) <= TOLERANCE_S


def _data_section(path) -> tuple[bytes, int]:
    """(data section bytes, header's last frame) of a C3D file."""
    raw = open(path, "rb").read()
    data_start = int.from_bytes(raw[16:18], "little")
    return raw[(data_start - 1) * 512:], int.from_bytes(raw[8:10], "little")


def test_streamed_frames_are_what_ezc3d_writes_for_them(long_session, tmp_path):
    """The export streams the data section itself (ezc3d's writer holds every sample as a C++
    object): ezc3d, given the frames it reads from the export, writes the same bytes."""
    db_path, sid, *_ = long_session
    out = tmp_path / "window.c3d"
    with Store(db_path) as store:
        export_c3d(store, sid, out, start_s=25.0, end_s=95.0)  # with the stall at 30 s: invalid samples
    c3d = ezc3d.c3d(str(out))
    assert c3d["header"]["points"]["last_frame"] + 1 == c3d["data"]["points"].shape[2] > 6000
    again = tmp_path / "again.c3d"
    c3d.write(str(again))
    ours, frames = _data_section(out)
    theirs, frames_again = _data_section(again)
    assert frames == frames_again == c3d["data"]["points"].shape[2]
    assert ours == theirs


def test_c3d_export_of_a_20_minute_session_keeps_memory_in_bounds(long_session, tmp_path):
    """Peak memory of the export command (it was 1.1 GB when ezc3d built the whole file)."""
    db_path, sid, path, *_ = long_session
    out = tmp_path / "cli.c3d"
    # VmHWM: the peak of this process's own memory (getrusage's maxrss would start from the size of
    # the forking test process)
    argv = ["main.py", "-q", "export", "--session", str(sid), "--format", "c3d", "--out", str(out), "--db", str(db_path)]
    code = textwrap.dedent(f"""
        import runpy, sys
        sys.argv = {argv!r}
        try:
            runpy.run_path("main.py", run_name="__main__")
        except SystemExit as exc:
            assert not exc.code, exc.code
        print("hwm_kb", next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    peak_mb = int(result.stdout.split("hwm_kb")[-1]) / 1024
    records_mb = 1.2e6 * 118 / 2**20  # the session's telemetry as loaded: the floor
    assert peak_mb < records_mb + 250, f"peak RSS {peak_mb:.0f} MB"
    assert open(out, "rb").read() == open(path, "rb").read(), "the command writes what export_c3d writes"
