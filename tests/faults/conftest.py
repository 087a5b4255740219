"""The campaign's fixtures and its report.

Each case records what it measured with `reliability.record(...)`; the pass/fail of the test
comes from pytest. At the end of the run, when RELIABILITY_MD names a file (`make faults` sets
it to docs/reliability.md), the table of every case is written there.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import pytest

from tests.faults.harness import Stack
from tests.pg_server import clinic, pg_server  # noqa: F401  (the throwaway PostgreSQL)

_CASES: dict[str, dict] = {}
_OUTCOMES: dict[str, str] = {}


class Reliability:
    """What one test measured, keyed by its node id."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def record(self, case: str, limit: str, detection_ms: float | None = None, stop_ms: float | None = None,
               records_lost: int | None = None, note: str = "") -> None:
        _CASES[self.nodeid] = {"case": case, "limit": limit, "detection_ms": detection_ms, "stop_ms": stop_ms,
                               "records_lost": records_lost, "note": note}


@pytest.fixture
def reliability(request) -> Reliability:
    return Reliability(request.node.nodeid)


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path / "records.db")
    try:
        yield s
    finally:
        s.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _OUTCOMES[item.nodeid] = "pass" if report.passed else ("skip" if report.skipped else "FAIL")


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("RELIABILITY_MD")
    if not target or not _OUTCOMES:
        return
    rows = []
    for nodeid, outcome in _OUTCOMES.items():
        case = _CASES.get(nodeid, {"case": nodeid.split("::")[-1], "limit": "", "note": ""})
        rows.append(
            f"| {case['case']} | {case.get('limit', '')} | {_fmt(case.get('detection_ms'))} | "
            f"{_fmt(case.get('stop_ms'), 0)} | {_fmt(case.get('records_lost'))} | {outcome} | "
            f"{case.get('note', '')} | `{nodeid.split('::')[-1]}` |"
        )
    load = os.getloadavg()
    text = HEADER.format(
        date=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), cpus=os.cpu_count(), machine=platform.machine(),
        load=f"{load[0]:.2f}", passed=sum(o == "pass" for o in _OUTCOMES.values()), total=len(_OUTCOMES),
    )
    text += "\n".join(rows) + "\n" + FOOTER
    Path(target).write_text(text)


HEADER = """# Reliability: the fault and bad-input campaign

Written by `make faults` (`RELIABILITY_MD=docs/reliability.md pytest -m "slow or not slow"
tests/faults`) on {date}, {cpus} CPUs ({machine}), load average {load} at the end:
{passed} of {total} cases passed. Every case runs the real stack: the virtual rig (pseudo-
terminals), the control core process (1 kHz, SCHED_FIFO), the recorder process writing a real
SQLite file, and the UI (a stand-in driving the real `SessionController`/`CommandWriter`, or the
real headless app). All times are CLOCK_MONOTONIC, shared by every process.

- detection: from the fault (the rig's own injection time, or the kill) to the core's alarm
  (or the UI's alarm for the UI-side cases);
- stop: from the fault to the belt standing (device-side truth, or the core's record of it);
- records lost: control cycles missing from the stored telemetry plus ring overflow (0 expected
  outside the recorder's documented window of 200 ms).

| case | limit | detection ms | stop ms | records lost | result | measured / note | test |
| --- | --- | --- | --- | --- | --- | --- | --- |
"""

FOOTER = """
## The way back after each fault

- Device link cut, stall, frozen sensor, motor fault, e-stop: the core ends in STOPPED with a
  high alarm. Nothing moves again until the cause is gone (link back, e-stop released, fault
  cleared), the therapist acknowledges the alarm and re-arms (menu: Acknowledge, then Re-arm;
  `SessionController.ack_alarms()` / `rearm()`), and presses Start. Start without Re-arm does
  nothing; Re-arm and Start while the cause stands are refused by the core (it stays STOPPED,
  the alarm shows why, the belt never moves; `tests/control/test_core_rig.py::
  test_start_is_refused_while_the_cause_of_a_fault_stop_is_still_there`).
- UI killed or frozen: the core stops the belt 100 ms after the last heartbeat, keeps the
  devices in their safe state, and exits once the belt stands and its parent is gone; the
  recorder keeps the data until the core falls silent. Start the application again: the open
  session is closed as `interrupted` and a new session can start.
- Control core killed or frozen: the devices stop on their own watchdogs (100 ms, then the
  firmware's safe deceleration); the UI shows CORE_LOST (high). End the session (it is stored
  as `stopped`) and start the application again; the devices need a re-arm, which a new core
  sends at the next start.
- Recorder killed or the database failing: control goes on; the UI raises RECORDER_FAILED
  (medium). Finish or stop the session; data up to the last commit (at most 200 ms before the
  failure) is in the file, which stays consistent (`PRAGMA integrity_check` ok).
"""
FOOTER += """
## The clinic server (issue 14)

The `clinic` / `sync` cases (`tests/faults/test_clinic_*.py`) run against a real PostgreSQL
(a throwaway cluster from Debian's initdb/pg_ctl, one per test session, fresh database per test):
"records lost" there counts rows (telemetry as records) that a rig file has and the server
lacks after the last pass; duplicates are rows stored twice (same rig and local id, or telemetry
cycles covered twice). The way back:

- Server killed (`kill -9`) or unreachable mid-sync: the pass exits 1 with `clinic server
  unreachable or the connection broke: ...`; batches the server committed stay, the rig's marks
  only move after a commit. Restart the server (PostgreSQL recovers from its WAL) and sync
  again: it sends what is missing, the server ignores what it has.
- Server down when a rig starts: the session records locally as always; `run --sync-to`'s
  background sync retries (backing off to 5 s) and catches up when the server is back.
- Server disk full: the pass exits 1 with `the clinic server's disk is full (...)`; the
  transaction that did not fit is rolled back whole; free space and sync again. (Measured on a
  tablespace on a full 8 MiB tmpfs holding the telemetry table; a full WAL disk makes
  PostgreSQL itself stop, after which a restart with space recovers as above.)
- Two rigs edited one prescription offline: both versions kept, the one received last is
  current (docs/clinic.md); a therapist adds a new version if that is wrong.
- A role tried what it must not: PostgreSQL refused it (privilege, row-level security or the
  closed-session trigger) and the rest of the data is unchanged; nothing to undo.
- A rig on an older schema: refused before anything is written; update the rig, start it once.
- Clinic server down when a therapist logs in at a rig's menu: a therapist who logged in there
  within 7 days gets in with the cached verifier and care team (docs/clinic.md, "Therapists at a
  rig"); anyone else reads one line saying the server cannot be reached. When the server is back,
  the next login checks with it again (a locked or expired account then loses its offline login).
"""
