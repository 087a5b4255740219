"""Soak: a whole session (the real app, `main.py run --headless`) walking with a CPU hog at normal
priority on every core: no false stop, nothing lost, memory flat. 30 minutes in `make faults`
(marked slow); a 25 s version runs in `make test`.

Memory is judged over the walk: the samples taken while the session's control core runs. After
the walk the UI process writes the session report, which loads the whole session's telemetry
(about 7 MB a minute walked, store.telemetry): a peak that comes and goes with the report, measured
and reported apart (`rss_after_walk_peak_mb`). Counted as growth, it was the "UI grows 75 MB" of
the first two 30-minute soaks (docs/control.md, "Whole-app soak beside a CPU hog")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine.control.layout import AlarmReason
from engine.control.supervisor import LATE_SPEED_FAR_MPS, STOP_REASONS
from engine.records.store import Store
from tests.faults.harness import proc_rss_kb, records_lost, session_processes, stops_by_the_machine

ROOT = Path(__file__).resolve().parents[2]
BOXES = "\n".join(f"  - {{kind: box, at_m: {40.0 + 60.0 * i:.1f}, height_m: 0.08}}" for i in range(40))
SCENE = textwrap.dedent(
    """\
    id: soak-walk
    title: Soak walk
    description: A long aisle with a box every 60 m.
    difficulty: gentle
    environment: {type: grocery_store}
    route_length_m: 2600
    base_speed_fraction: 0.6
    obstacles:
    """
) + BOXES + "\n"
GROWTH_LIMIT_MB = 32.0  # RSS growth allowed from a quarter of the way to the end, per process


def _rss_mb(pid: int) -> float | None:
    try:
        return proc_rss_kb(pid) / 1024.0
    except OSError:
        return None


def walk_rss_growth_mb(rss: dict[str, list[tuple[float, float]]], walk_end_s: float | None) -> tuple[dict, dict]:
    """(growth, after-walk peak) in MB per process from its (time s, RSS MB) samples: growth from a
    quarter of the walk to its end (samples before walk_end_s; the whole run when None), and the
    highest RSS after the walk above the walk's last sample (the report's peak; 0 when nothing was
    sampled after)."""
    growth, after_walk = {}, {}
    for role, samples in rss.items():
        t = np.array([s[0] for s in samples])
        mb = np.array([s[1] for s in samples])
        end_s = walk_end_s if walk_end_s is not None else (t[-1] if len(t) else 0.0)
        walk = t < end_s if walk_end_s is not None else t <= end_s  # the sample that saw the core gone is after
        if walk.sum() >= 4:
            quarter = mb[walk & (t >= end_s * 0.25)]
            growth[role] = float(quarter[-1] - quarter[0]) if len(quarter) else 0.0
            later = mb[~walk]
            after_walk[role] = float(max(0.0, later.max() - mb[walk][-1])) if len(later) else 0.0
    return growth, after_walk


def soak(tmp: Path, duration_s: float) -> dict:
    """Run the soak; returns what it measured (and asserts nothing itself)."""
    (tmp / "scenes").mkdir(parents=True, exist_ok=True)
    (tmp / "scenes" / "soak-walk.yaml").write_text(SCENE)
    db = tmp / "records.db"
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in os.sched_getaffinity(0)]
    rss: dict[str, list[tuple[float, float]]] = {}
    walk_end_s = None  # when the core, once seen, was gone: the walk and its stop are over
    try:
        with open(tmp / "app.log", "w") as log:
            app = subprocess.Popen(
                [sys.executable, "main.py", "run", "--scene", "soak-walk", "--patient", "demo-healthy", "--duration-s",
                 str(duration_s), "--headless", "--db", str(db), "--scenes-dir", str(tmp / "scenes"), "--vr", "off"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            started = time.monotonic()
            next_report = started + 60.0
            while app.poll() is None:
                now = time.monotonic()
                processes = session_processes(app.pid)
                if walk_end_s is None and "core" in rss and "core" not in processes:
                    walk_end_s = now - started
                for role, pid in {"ui": app.pid, **processes}.items():
                    mb = _rss_mb(pid)
                    if mb is not None:
                        rss.setdefault(role, []).append((now - started, mb))
                if now >= next_report:  # long work shows progress
                    print(f"soak: {now - started:.0f} s of {duration_s:.0f}", file=sys.stderr, flush=True)
                    next_report = now + 60.0
                time.sleep(2.0)
            returncode = app.returncode
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    with Store(db) as store:
        sessions = store.list_sessions()
        assert sessions, f"the app opened no session (exit {returncode}):\n{(tmp / 'app.log').read_text()[-3000:]}"
        sid = sessions[0]["id"]
        session = store.get_session(sid)
        telemetry = store.telemetry(sid)
        events = store.events(sid)
        frames = store.frame_timing(sid)
    stop_names = {AlarmReason(r).name.lower() for r in STOP_REASONS if r != AlarmReason.STOP_REQUEST}
    (tmp / "rss.json").write_text(json.dumps({"walk_end_s": walk_end_s, "rss_mb": rss}))  # for a post-mortem
    growth, after_walk = walk_rss_growth_mb(rss, walk_end_s)
    walk_min = (walk_end_s if walk_end_s is not None else time.monotonic() - started) / 60.0
    report_mb_per_min = {role: mb / walk_min for role, mb in after_walk.items()} if walk_min > 0 else {}
    # Kept in sight, not judged: the report's peak grows with the session (docs/control.md).
    print(f"soak: RSS growth over the walk ({walk_min:.1f} min) {growth} MB; after it (the report) peak "
          f"{after_walk} MB above the walk's end, {report_mb_per_min} MB per minute walked", file=sys.stderr)
    return {
        "returncode": returncode,
        "outcome": session["outcome"],
        "stop_alarms": [e.get("reason") for e in events if e["kind"] == "alarm_raised" and e.get("reason") in stop_names],
        # (a stop the machine made: the hypervisor froze the core longer than a device's watchdog)
        "stopped_by_the_machine": stops_by_the_machine(
            events, [e for e in events if e["kind"] == "alarm_raised" and e.get("reason") in stop_names]),
        "records_lost": records_lost(telemetry, session.get("recorder") or {}),
        "walked_m": float(telemetry["s_m"].max()) if len(telemetry) else 0.0,
        "rss_growth_mb": growth,
        "rss_after_walk_peak_mb": after_walk,
        "rss_after_walk_mb_per_walk_min": report_mb_per_min,
        "walk_end_s": walk_end_s,
        "view_distance_m_min": frames[-1].get("view_distance_m_min") if frames else None,
        "log": (tmp / "app.log").read_text()[-3000:],
    }


SOAK_TRIES = 2  # a short soak stopped by the machine (not by the app) walks again this often


def _check(out: dict, duration_s: float, check_memory: bool) -> None:
    # The app's log tail in the message: pytest shortens a long dict, and the log says why.
    if out["stopped_by_the_machine"] is not None:
        _check_machine_stop(out)
        pytest.xfail(f"not judged: {out['stopped_by_the_machine']}")
    assert out["stop_alarms"] == [], (out["stop_alarms"], out["log"])
    assert out["outcome"] == "completed" and out["returncode"] == 0, (out["outcome"], out["log"])
    assert out["records_lost"] == 0, out
    # The offscreen software renderer's view distance is governed (engine/render/frame_budget.py).
    assert out["view_distance_m_min"] is not None and 20.0 <= out["view_distance_m_min"] <= 500.0, out
    # It really walked: at least the graded policy's floor speed for half the session (a late view
    # walks at 0.1 m / (1.25 x its frame interval), never below LATE_SPEED_FAR_MPS far from an
    # obstacle; the old "0.2 m/s at half speed" was from before that rule, and frames 0.8 s apart
    # under a heavy load walk at the floor).
    assert out["walked_m"] > LATE_SPEED_FAR_MPS * duration_s * 0.5, out
    if check_memory:
        assert all(g <= GROWTH_LIMIT_MB for g in out["rss_growth_mb"].values()), out["rss_growth_mb"]


def _check_machine_stop(out: dict) -> None:
    """A stop the machine made (the hypervisor froze the SCHED_FIFO core longer than a device's
    watchdog: a true stop, the core was silent) is still a controlled one that loses nothing."""
    assert out["outcome"] == "stopped", (out["outcome"], out["log"])
    assert out["records_lost"] == 0, out


def test_memory_is_judged_over_the_walk_and_the_report_peak_apart():
    # The shape of the second 30-minute soak: flat while walking, then the report's telemetry
    # (+75 MB) after the core is gone. Judged over the whole run (as before) it is growth.
    t = [float(k) for k in range(0, 1830, 2)]
    ui = [(s, 140.0 if s <= 1800.0 else 215.0) for s in t]
    core = [(s, 30.0) for s in t if s <= 1800.0]
    growth, after_walk = walk_rss_growth_mb({"ui": ui, "core": core}, 1802.0)
    assert growth == {"ui": 0.0, "core": 0.0}
    assert after_walk == {"ui": 75.0, "core": 0.0}
    growth_whole_run, _ = walk_rss_growth_mb({"ui": ui}, None)
    assert growth_whole_run["ui"] == 75.0
    # A leak while walking still counts.
    leaking = [(s, 140.0 + 3.0 * s / 60.0) for s in t if s <= 1800.0]
    growth, _ = walk_rss_growth_mb({"ui": leaking}, 1802.0)
    assert growth["ui"] > 60.0


@pytest.mark.timeout(300)
def test_short_soak_under_a_hog_no_false_stop_nothing_lost(tmp_path, reliability):
    # On a virtual machine whose host takes a vCPU for 100 ms at a time under full load (the CI
    # machines: several times a minute), the SCHED_FIFO core falls silent with it and the devices'
    # watchdogs stop the belt, as real devices would: a true stop the app cannot prevent, told by
    # the core's HOST_FREEZE event. Such a run walks again; every try stopped so is not judged.
    for attempt in range(SOAK_TRIES):
        out = soak(tmp_path / f"try{attempt}", 25.0)
        if out["stopped_by_the_machine"] is None:
            break
        _check_machine_stop(out)
        print(f"soak try {attempt + 1}: {out['stopped_by_the_machine']}", file=sys.stderr)
    note = f"walked {out['walked_m']:.0f} m"
    if out["stopped_by_the_machine"] is not None:
        note = f"not judged: {out['stopped_by_the_machine']} (every try of {SOAK_TRIES})"
    reliability.record("soak 25 s, hog on every core", "0 false stops, 0 lost", None, None, out["records_lost"], note)
    _check(out, 25.0, check_memory=False)


@pytest.mark.slow
@pytest.mark.timeout(2700)
def test_soak_30_minutes_under_a_hog_no_false_stop_nothing_lost_memory_flat(tmp_path, reliability):
    out = soak(tmp_path, 1800.0)
    if out["stopped_by_the_machine"] is not None:
        reliability.record("soak 30 min, hog on every core", "0 false stops, 0 lost", None, None,
                           out["records_lost"], f"not judged: {out['stopped_by_the_machine']}")
    _check(out, 1800.0, check_memory=True)
    reliability.record("soak 30 min, hog on every core", f"0 false stops, 0 lost, RSS growth <= {GROWTH_LIMIT_MB:.0f} MB",
                       None, None, out["records_lost"],
                       f"walked {out['walked_m']:.0f} m; RSS growth MB over the walk {out['rss_growth_mb']}, "
                       f"after it (the report) {out['rss_after_walk_peak_mb']}, per minute walked "
                       f"{out['rss_after_walk_mb_per_walk_min']}")
