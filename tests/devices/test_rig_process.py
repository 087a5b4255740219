"""The rig process's life cycle: it never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from devices.sim.rig import RigError, start_rig
from tests.devices.conftest import ROOT

OWNER = """
import sys, time
from devices.sim.rig import start_rig
rig = start_rig("healthy", 0)
print(rig.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes once its state is Z
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_rig_exits_when_its_owner_is_killed():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    rig_pid = None
    try:
        rig_pid = int(owner.stdout.readline())
        assert _alive(rig_pid)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 5.0
        while _alive(rig_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(rig_pid)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdout.close()
        if rig_pid is not None and _alive(rig_pid):
            os.kill(rig_pid, signal.SIGKILL)


def test_stop_ends_the_process_cleanly():
    rig = start_rig("frail-older", 4)
    try:
        assert rig.status()["loop"]["ticks"] >= 0
    finally:
        rig.stop()
    assert rig.proc.returncode == 0  # it left through its own clean shutdown
    with pytest.raises(RigError):
        rig.status()


def test_unknown_profile_fails_to_start_with_a_reason():
    with pytest.raises(RigError, match="unknown patient profile"):
        start_rig("zombie", 0)
