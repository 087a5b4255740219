"""Faults around the real application: `python main.py run --headless` (offscreen Panda3D app,
virtual rig, control core, recorder) in its own process group; the UI process killed or frozen,
the control core killed under the app, the recorder killed under the app. What happened is read
back from the session's database afterwards."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine.control.layout import ALARM_TEXT, AlarmReason, RunState
from engine.records.store import Store
from tests.child_scenario import run_scenario
from tests.faults.harness import (
    MACHINE_STOP_ALARMS,
    on_time,
    pid_alive,
    records_lost,
    session_processes,
    stops_by_the_machine,
)

pytestmark = pytest.mark.timeout(450)

ROOT = Path(__file__).resolve().parents[2]
SCENE = textwrap.dedent(
    """\
    id: campaign-walk
    title: Campaign walk
    description: A straight aisle with one box far ahead.
    difficulty: gentle
    environment: {type: grocery_store}
    route_length_m: 80
    base_speed_fraction: 0.6
    obstacles:
      - {kind: box, at_m: 60.0, height_m: 0.1}
    """
)


class App:
    """`main.py run --headless` as a child process group; `close()` kills whatever is left."""

    def __init__(self, tmp: Path, duration_s: float, env: dict | None = None, scene: str = SCENE) -> None:
        (tmp / "scenes").mkdir(exist_ok=True)
        (tmp / "scenes" / "campaign-walk.yaml").write_text(scene)
        self.db = tmp / "records.db"
        self.log = open(tmp / "app.log", "w+")  # noqa: SIM115 - closed in close()
        command = [sys.executable, "main.py", "run", "--scene", "campaign-walk", "--patient", "demo-healthy",
                   "--duration-s", str(duration_s), "--headless", "--db", str(self.db),
                   "--scenes-dir", str(tmp / "scenes"), "--vr", "off"]
        self.proc = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env={**os.environ, **(env or {})})
        self.pgid = self.proc.pid
        self.children: dict[str, int] = {}

    def find_children(self) -> dict[str, int]:
        """rig, core and recorder pids (by command line)."""
        found = session_processes(self.proc.pid)
        self.children.update(found)
        return found

    def wait_walking(self, timeout_s: float = 60.0, speed_mps: float = 0.05) -> int:
        """Until the stored telemetry shows the belt moving; returns the session id.

        Moving, not a speed: the graded policy walks a late view at 0.1 m / (1.25 x its frame
        interval), 0.1 m/s at least (docs/control.md), so on a busy machine (frames 0.4-0.5 s at
        load 11) the belt never reached the 0.2 m/s asked for before and the case failed with
        "the app never walked" (lead's full-suite run, main 064aff5)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            if self.db.exists():
                try:
                    with Store(self.db) as store:
                        sessions = store.list_sessions()
                        if sessions:
                            sid = sessions[0]["id"]
                            telemetry = store.telemetry(sid)
                            if len(telemetry) and float(telemetry["belt_speed_mps"][-1]) > speed_mps:
                                self.find_children()
                                return sid
                except Exception:  # noqa: BLE001 - the app is still creating the file
                    pass
            time.sleep(0.2)
        raise TimeoutError("the app never walked:\n" + self.output())

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def close(self) -> None:
        try:
            os.killpg(self.pgid, signal.SIGCONT)
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in self.children.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        self.log.close()


@pytest.fixture
def app_factory(tmp_path):
    apps = []

    def make(duration_s: float, env: dict | None = None, scene: str = SCENE) -> App:
        app = App(tmp_path, duration_s, env, scene)
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            app.close()


def _wait_gone(pids, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if pid_alive(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if pid_alive(pid)]


def _stopping_after(telemetry, after_s: float) -> tuple[float, float | None]:
    """(first non-RUNNING cycle time, first standing-belt time) after after_s."""
    later = telemetry[telemetry["t_s"] >= after_s]
    stopping = later[later["run_state"] != RunState.RUNNING]
    still = later[(later["run_state"] != RunState.RUNNING) & (np.abs(later["belt_speed_mps"]) < 0.02)]
    return float(stopping["t_s"][0]), (float(still["t_s"][0]) if len(still) else None)


def _ui_alarms(events: list[dict], reason: str) -> list[dict]:
    return [e for e in events if e["kind"] == "alarm_raised" and e.get("reason") == reason]


def _beat_to_stop_ms(events: list[dict], telemetry, stop_s: float) -> float:
    """On the core's own clock: from the UI's last liveness beat the core saw (the alarm carries
    its age) to the first cycle of the controlled stop. The UI died or froze after that beat."""
    lost = _ui_alarms(events, "ui_heartbeat_lost")
    assert lost, [e["kind"] for e in events]
    last_beat_s = float(lost[0]["t_s"]) - float(lost[0]["v2"])
    return (stop_s - last_beat_s) * 1000.0


def _lateness_ms(telemetry, t_s: float) -> float:
    """The core's own lateness around t_s (a stall of the core itself delays any reaction)."""
    near = telemetry[np.abs(telemetry["t_s"] - t_s) < 0.003]
    return float(near["lateness_us"].max()) / 1000.0 if len(near) else 0.0


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_ui_killed_or_frozen_controlled_stop_within_100_ms_and_data_kept(app_factory, reliability, how):
    app = app_factory(duration_s=60)
    sid = app.wait_walking()
    kids = dict(app.children)
    assert {"rig", "core", "recorder"} <= set(kids), kids
    with on_time():  # the time taken is the kill's (a loaded machine could preempt the test between)
        hit_s = time.monotonic()
        os.kill(app.proc.pid, getattr(signal, how))
    if how == "SIGKILL":
        app.proc.wait(5)
        # The rig (its control socket closed), then the core (belt stopped, parent gone) and the
        # recorder (core silent for 1 s) finish on their own: nothing is left holding the ports.
        assert _wait_gone([kids["rig"], kids["core"], kids["recorder"]], 15.0) == []
    else:
        time.sleep(2.0)
        os.kill(app.proc.pid, signal.SIGCONT)
        app.proc.wait(60)
        assert app.proc.returncode == 1, app.output()  # a fault stop, not a completed session
    with Store(app.db) as store:
        telemetry = store.telemetry(sid)
        session = store.get_session(sid)
        recorder = session.get("recorder") or {}
        if how == "SIGKILL":
            assert session["outcome"] is None  # left open by the crash...
            assert sid in store.close_interrupted_sessions()  # ...what the next start does first
            assert store.get_session(sid)["outcome"] == "interrupted"
        else:
            assert session["outcome"] == "stopped"
            assert ALARM_TEXT[AlarmReason.UI_HEARTBEAT_LOST] in session["summary"]["alarms"]
        assert store.integrity_check() == "ok"
        events = store.events(sid)
    stop_s, still_s = _stopping_after(telemetry, hit_s - 0.2)
    detection_ms = _beat_to_stop_ms(events, telemetry, stop_s)
    # Within 100 ms of the last beat, or of the signal when the UI was starved before it: the
    # core gives a starved UI's silent beat the time it waited for a CPU (docs/control.md, "A
    # starved UI is not a dead one"), never after a SIGKILL or SIGSTOP.
    after_signal_ms = (stop_s - hit_s) * 1000.0
    assert min(detection_ms, after_signal_ms) <= 100.0 + _lateness_ms(telemetry, stop_s), (detection_ms,
                                                                                          after_signal_ms)
    assert still_s is not None, "the recorder did not keep the controlled stop"
    lost = records_lost(telemetry, recorder)
    assert lost == 0
    reliability.record(f"UI process {how}", "controlled stop <= 100 ms; data kept; session marked interrupted",
                       detection_ms, (still_s - hit_s) * 1000.0, lost,
                       "core and recorder exit by themselves" if how == "SIGKILL" else "after SIGCONT the app ends the session as stopped")


def test_a_core_frozen_for_150_ms_comes_back_and_the_stop_is_its_own(app_factory, reliability):
    # What a virtual machine's host does to the SCHED_FIFO core (engine/control/cpu_freeze.py):
    # it does not run for a while, then runs on. Its devices' watchdogs (90 ms) stop them, and
    # the core, back, stops the session for that with their alarm; the UI shows CORE_LOST while
    # it is gone but does not end the session for a core that is still there (runner.CORE_GONE_S).
    app = app_factory(duration_s=60)
    sid = app.wait_walking()
    core = app.children["core"]
    with on_time():
        hit_s = time.monotonic()
        os.kill(core, signal.SIGSTOP)
        time.sleep(0.15)
        os.kill(core, signal.SIGCONT)
        back_s = time.monotonic()
    app.proc.wait(60)
    with Store(app.db) as store:
        events = store.events(sid)
        session = store.get_session(sid)
        telemetry = store.telemetry(sid)
    raised = [e["reason"] for e in events if e["kind"] == "alarm_raised"]
    # 150 ms is past what the core leaves out of the devices' silence for its own stalls (their
    # 20 ms limit plus RX_STALL_LIMIT_S, 100 ms), and past their 90 ms watchdogs: either says it.
    device_alarms = set(raised) & set(MACHINE_STOP_ALARMS)
    assert device_alarms, raised
    assert session["outcome"] == "stopped"
    assert session["summary"]["end_reason"].startswith("stopped by the control core"), session["summary"]
    freezes = [e for e in events if e["kind"] == "host_freeze"]
    assert freezes and max(e["v1"] for e in freezes) >= 0.14, freezes  # the core told its own stall
    assert telemetry["t_s"][-1] > back_s  # it ran on, and recorded
    assert records_lost(telemetry, session.get("recorder") or {}) == 0
    # The session report tells the clinic's IT (recording section); a SIGSTOP steals nothing.
    report = re.search(r"report: (\S+\.html)", app.output())
    assert report, app.output()
    html = Path(report.group(1)).read_text()
    assert re.search(r"Control core not running \(30 ms or more\)</td><td>(<[^>]*>)?\d+ time\(s\), the longest 1[5-9]\d ms<",
                     html), re.findall(r"Control core not running.{0,200}", html)
    reliability.record("control core frozen 150 ms under the app", "the core, back, stops for the devices' "
                       "watchdogs; the UI does not end the session over it", None, None, 0,
                       f"stopped by {sorted(device_alarms)}, "
                       f"core gone {(back_s - hit_s) * 1e3:.0f} ms")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_core_killed_or_frozen_under_the_app_ui_shows_a_high_alarm_within_200_ms(app_factory, reliability, how):
    app = app_factory(duration_s=60)
    sid = app.wait_walking()
    core = app.children["core"]
    with on_time():  # the time taken is the kill's (a loaded machine could preempt the test between)
        hit_s = time.monotonic()
        os.kill(core, getattr(signal, how))
    app.proc.wait(60)
    assert app.proc.returncode == 1, app.output()
    with Store(app.db) as store:
        events = store.events(sid)
        session = store.get_session(sid)
        telemetry = store.telemetry(sid)
        assert store.integrity_check() == "ok"
    shown = [e for e in events if e["kind"] == "ui_alarm" and e["data"].get("reason") == "core_lost"]
    assert shown, [e["kind"] for e in events]
    assert shown[0]["data"]["priority"] == "high"
    detection_ms = (shown[0]["t_s"] - hit_s) * 1000.0
    assert detection_ms <= 200.0, detection_ms
    assert session["outcome"] == "stopped"
    assert ALARM_TEXT[AlarmReason.CORE_LOST] in session["summary"]["alarms"]
    assert "CORE_LOST" in app.output()
    lost = records_lost(telemetry, session.get("recorder") or {})
    assert lost == 0
    assert telemetry["t_s"][-1] > hit_s - 0.2
    reliability.record(f"control core {how} under the app", "UI high alarm <= 200 ms", detection_ms, None, lost,
                       "devices: see 'control core SIGKILL'; session stored as stopped")


def test_recorder_killed_under_the_app_alarm_then_a_new_recorder_takes_over(app_factory, reliability):
    app = app_factory(duration_s=9)
    sid = app.wait_walking()
    recorder = app.children["recorder"]
    # A killed process is dead only once the kernel has run its exit in every thread (a thread
    # waiting in an fsync finishes that first: 450-570 ms under load here). Its main thread is a
    # zombie before that (/proc/PID/stat "Z"): that is what this test first measured from, and
    # the UI's waitpid cannot reap it yet (232-574 ms "late" under load). A pidfd turns readable
    # when the whole process has exited, the moment a parent can see it: measured from there.
    pidfd = os.pidfd_open(recorder)
    exited = select.poll()
    exited.register(pidfd, select.POLLIN)
    try:
        with on_time():  # the time taken is the kill's (a loaded machine could preempt the test between)
            hit_s = time.monotonic()
            os.kill(recorder, signal.SIGKILL)
            leader_gone_s = None
            while not exited.poll(1) and time.monotonic() - hit_s < 30.0:
                if leader_gone_s is None and not pid_alive(recorder):
                    leader_gone_s = time.monotonic()
            dead_s = time.monotonic()
    finally:
        os.close(pidfd)
    leader_gone_s = dead_s if leader_gone_s is None else leader_gone_s
    app.proc.wait(90)
    assert app.proc.returncode == 0, app.output()  # the session went on to its end
    with Store(app.db) as store:
        events = store.events(sid)
        session = store.get_session(sid)
        telemetry = store.telemetry(sid)
        assert store.integrity_check() == "ok"
    shown = [e for e in events if e["kind"] == "ui_alarm" and e["data"].get("reason") == "recorder_failed"]
    assert shown, [e["kind"] for e in events]
    detection_ms = (shown[0]["t_s"] - dead_s) * 1000.0
    exit_ms = (dead_s - hit_s) * 1000.0
    zombie_ms = (dead_s - leader_gone_s) * 1000.0  # main thread a zombie, other threads still exiting
    assert detection_ms <= 200.0, (detection_ms, exit_ms, zombie_ms)
    assert session["outcome"] == "completed"
    assert ALARM_TEXT[AlarmReason.RECORDER_FAILED] in session["summary"]["alarms"]
    # The new recorder took the rest from the rings: the record goes on to the end, and only
    # the batch the killed one held in memory (one 50 ms drain) can be missing.
    assert telemetry["t_s"][-1] > hit_s + 3.0
    lost = records_lost(telemetry)
    assert lost <= 200, lost
    reliability.record("recorder SIGKILL under the app", "RECORDER_FAILED shown; session continues; loss <= 200 ms",
                       detection_ms, None, lost, f"measured from its exit ({exit_ms:.0f} ms after the kill, "
                       f"{zombie_ms:.0f} ms after its main thread); "
                       "a new recorder took over after 3 s from the 30 s rings")


WALKING_MPS = 0.05  # moving: a late view walks at 0.1 m/s or more (see App.wait_walking)


def interrupted_scenario(tmp: str) -> dict:
    """A headless session that fails with an exception while walking (child process)."""
    from engine.session.runner import SessionOptions, run_headless

    def on_frame(app, result):
        # On a busy machine the view is late and the core walks the belt slower (docs/control.md,
        # the graded UI policy); what matters is that it moves.
        if float(app.state["belt_speed_mps"]) > WALKING_MPS:
            raise RuntimeError("campaign: an exception in the frame loop")

    result = run_headless(SessionOptions(scene="campaign-walk", patient="demo-healthy", duration_s=60,
                                         db=str(Path(tmp) / "records.db"), scenes_dir=str(Path(tmp) / "scenes")),
                          on_frame=on_frame)
    return {"session_id": result.session_id, "outcome": result.outcome}


def test_an_exception_mid_walk_still_records_the_controlled_stop(tmp_path, reliability):
    """The runner stopped the recorder before the core: after an exception (or Ctrl-C) the
    controlled stop the core then made was not stored. The core is now stopped first."""
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "campaign-walk.yaml").write_text(SCENE)
    out = run_scenario("tests.faults.test_app_faults", "interrupted_scenario", tmp_path)
    assert out["outcome"] == "interrupted"
    with Store(tmp_path / "records.db") as store:
        telemetry = store.telemetry(out["session_id"])
        session = store.get_session(out["session_id"])
    moving = np.flatnonzero(telemetry["belt_speed_mps"] > WALKING_MPS)
    after = telemetry[moving[-1]:]
    assert len(after) and float(after["belt_speed_mps"].min()) < 0.02, "the controlled stop is not in the record"
    lost = records_lost(telemetry, session.get("recorder") or {})
    assert lost == 0
    stop_ms = (float(after["t_s"][np.argmax(after["belt_speed_mps"] < 0.02)]) - float(after["t_s"][0])) * 1000.0
    reliability.record("exception in the app mid-walk", "controlled stop recorded; session interrupted", None, stop_ms,
                       lost, "core stopped before the recorder")


SLOW_SCENE = SCENE.replace("route_length_m: 80", "route_length_m: 40").replace("at_m: 60.0", "at_m: 6.0")
BOX_AT_M = 6.0
CRUISE_MPS = 1.4 * 0.6  # demo-healthy's prescription x the scene's base speed


BOX_DEPTH_M = 0.3  # a box's default depth (engine/scene/model.py)


def _stale_limit_s(speed_mps: float, s_m: float) -> float:
    """The documented limit (docs/control.md), worked out here, not with the code's function:
    the zone near the box = the stopping distance (prescribed 1.0 m/s2, 0.1 s belt lag) plus 3
    steps of at most 0.8 m before it; the box stays the next obstacle until the patient is past
    its far edge. Near: 0.1 m / speed (0.1 s at least); before the zone: the time to reach it at
    this speed plus that; never more than 3.5 s (nor below 0.05 m/s, nor past the box)."""
    if speed_mps < 0.05 or s_m > BOX_AT_M + BOX_DEPTH_M:
        return 3.5
    near_s = min(3.5, max(0.1, 0.1 / speed_mps))
    to_zone_m = BOX_AT_M - s_m - (speed_mps ** 2 / 2.0 + 0.1 * speed_mps) - 3 * 0.8
    return near_s if to_zone_m <= 0.0 else min(3.5, near_s + to_zone_m / speed_mps)


def test_ui_slowed_gets_the_graded_response_not_a_stop(app_factory, reliability):
    """A renderer 0.25 s slower per frame (a sleep in the draw stage): the UI is alive, its view
    late. The core raises the low alarm and slows the belt to a speed at which the world shown
    lags it by at most 0.1 m, so the session walks on, past the box, without a stop."""
    app = app_factory(duration_s=40, env={"STEPSYNC_FAULT_DRAW_DELAY_S": "0.25"}, scene=SLOW_SCENE)
    sid = app.wait_walking(timeout_s=90, speed_mps=0.1)
    app.proc.wait(120)
    with Store(app.db) as store:
        events = store.events(sid)
        telemetry = store.telemetry(sid)
    assert _ui_alarms(events, "ui_view_late"), [e["kind"] for e in events]
    assert not _ui_alarms(events, "ui_heartbeat_lost"), "a slow UI is not a dead one"
    # A stop the machine made (the hypervisor froze the SCHED_FIFO core longer than a device's
    # watchdog: harness.stops_by_the_machine) is a true stop, not this policy's: not judged, after
    # checking it lost nothing (as the load and soak tests do)
    others = [e for e in events if e["kind"] == "alarm_raised" and e.get("reason") not in ("ui_view_late", "ui_view_stale")]
    machine = stops_by_the_machine(events, others)
    if machine is not None:
        assert records_lost(telemetry) == 0
        pytest.xfail(f"not judged: {machine}")
    for stale in _ui_alarms(events, "ui_view_stale"):
        # Only a view older than its limit (a frame far slower than the rest, on a busy machine).
        # The core judged on its own cycle; the telemetry rows around it bracket the speed and
        # position it used (the speed moves a little between rows): the smallest limit there.
        near = telemetry[np.abs(telemetry["t_s"] - float(stale["t_s"])) <= 0.02]
        if not len(near):
            near = telemetry[[np.argmin(np.abs(telemetry["t_s"] - float(stale["t_s"])))]]
        limit = min(_stale_limit_s(float(r["belt_speed_cmd_mps"]), float(r["s_m"])) for r in near)
        assert float(stale["v2"]) > limit - 0.002
    running = telemetry[telemetry["run_state"] == RunState.RUNNING]
    # Slowed: never above half the therapist's speed once the view was late from the start.
    assert float(running["belt_speed_cmd_mps"].max()) <= 0.5 * CRUISE_MPS + 0.01
    if not _ui_alarms(events, "ui_view_stale"):
        assert app.proc.returncode == 0, app.output()[-2000:]
        # Still walking when the session's time ran out (how far it got in 40 s depends on the
        # machine's frame rate, the floor speed on it: not asserted): it moved in its last 10 s.
        t_end = float(running["t_s"][-1])
        last = running[running["t_s"] >= t_end - 10.0]
        moved_m = float(last["s_m"][-1] - last["s_m"][0])
        if np.any(last["alarms"] & (1 << int(AlarmReason.STUMBLE))):
            # A STUMBLE warning (issue 13's detector, not this policy) crawls the belt until a
            # therapist acknowledges it, and a headless run has none (seen under a CPU hog at the
            # box: 0.018 m/s, 0.18 m in 10 s): still walking, not stopped.
            assert moved_m > 0.0 and float(last["belt_speed_cmd_mps"][-1]) > 0.0, "it kept walking to the end"
        else:
            assert moved_m > 0.2, "it kept walking to the end"
    reliability.record("UI 0.25 s slower per frame", "graded: late alarm, slowed, no stop",
                       None, None, None, f"walked {float(telemetry['s_m'].max()):.1f} m at <= "
                       f"{float(running['belt_speed_cmd_mps'].max()):.2f} m/s")


def test_ui_alive_but_its_view_frozen_stops_at_the_staleness_limit(app_factory, reliability):
    """Frames 4 s apart (alive: the liveness beat goes on), longer than any limit: a controlled
    stop with UI_VIEW_STALE at the limit, measured on the core's clock from the last frame it saw.
    (Frames 1-3 s apart, a software renderer under a CPU hog, walk on slowed: test_view_policy.)"""
    app = app_factory(duration_s=60, env={"STEPSYNC_FAULT_DRAW_DELAY_S": "4.0"}, scene=SLOW_SCENE)
    app.proc.wait(150)
    with Store(app.db) as store:
        sid = store.list_sessions()[0]["id"]
        events = store.events(sid)
        telemetry = store.telemetry(sid)
    assert app.proc.returncode == 1, app.output()[-2000:]  # a fault stop
    assert not _ui_alarms(events, "ui_heartbeat_lost"), "alive: its liveness beat went on"
    stale = _ui_alarms(events, "ui_view_stale")
    assert len(stale) == 1, [e.get("reason") for e in events]
    stop_s, still_s = _stopping_after(telemetry, float(stale[0]["t_s"]) - 0.2)
    at = telemetry[np.argmin(np.abs(telemetry["t_s"] - stop_s))]
    age_s = stop_s - (float(stale[0]["t_s"]) - float(stale[0]["v2"]))
    limit_s = _stale_limit_s(float(at["belt_speed_cmd_mps"]), float(at["s_m"]))
    assert limit_s - 0.002 <= age_s <= limit_s + 0.002 + _lateness_ms(telemetry, stop_s) / 1000.0, (age_s, limit_s)
    assert still_s is not None
    reliability.record("UI alive, view frozen (frames 4 s apart)", "controlled stop at the staleness limit",
                       age_s * 1000.0, (still_s - stop_s) * 1000.0, None, f"limit {limit_s:.2f} s")


def test_ui_main_loop_hung_stops_within_100_ms_of_its_last_beat(app_factory, reliability):
    """The main loop blocks for good (process alive, its liveness thread alive): the thread sees
    the main thread frozen outside a long stage and stops beating; the core stops the belt."""
    app = app_factory(duration_s=60, env={"STEPSYNC_FAULT_HANG_AFTER_FRAMES": "40"})
    sid = app.wait_walking()
    with Store(app.db) as store:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = store.events(sid)
            if _ui_alarms(events, "ui_heartbeat_lost"):
                break
            time.sleep(0.2)
    time.sleep(1.0)  # the recorder commits every 200 ms
    with Store(app.db) as store:
        events = store.events(sid)
        telemetry = store.telemetry(sid)
    assert app.proc.poll() is None, "the hung UI process is still there (not dead: hung)"
    lost = _ui_alarms(events, "ui_heartbeat_lost")
    assert lost, [e["kind"] for e in events]
    stop_s, _ = _stopping_after(telemetry, float(lost[0]["t_s"]) - 0.2)
    detection_ms = _beat_to_stop_ms(events, telemetry, stop_s)
    assert detection_ms <= 100.0 + _lateness_ms(telemetry, stop_s), detection_ms
    reliability.record("UI main loop hung", "controlled stop <= 100 ms after its last liveness beat",
                       detection_ms, None, None, "the liveness thread stops beating 60 ms into a freeze")
