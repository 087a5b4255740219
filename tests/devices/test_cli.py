"""`python main.py rig` and `python main.py devices` as real processes."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from devices.discovery import open_devices
from tests.devices.conftest import ROOT, Host, wait_for


def main_py(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "main.py", *args], cwd=ROOT, text=True, **kwargs)


def read_line(proc: subprocess.Popen, timeout_s: float = 15.0) -> str:
    """The next stdout line; a reader thread keeps select() and Python's buffer out of the way."""
    if not hasattr(proc, "lines"):
        proc.lines = queue.Queue()

        def pump() -> None:
            for line in proc.stdout:
                proc.lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
    try:
        return proc.lines.get(timeout=timeout_s).strip()
    except queue.Empty:
        raise AssertionError("no output from the rig") from None


@pytest.fixture
def rig_cli():
    proc = main_py("-q", "rig", "--patient", "hemiparetic-right", "--seed", "3",
                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            stream.close()


def test_rig_cli_prints_ports_takes_fault_commands_and_stops_on_sigterm(rig_cli):
    ports = dict(read_line(rig_cli).split() for _ in range(4))
    assert set(ports) == {"treadmill", "exoskeleton", "heart_rate", "insoles"}
    assert all(path.startswith("/dev/pts/") for path in ports.values())
    with open_devices(ports) as devices:
        host = Host(devices)
        rig_cli.stdin.write("estop on\n")
        rig_cli.stdin.flush()
        assert read_line(rig_cli) == "estop on"
        assert wait_for(lambda: devices.treadmill.status.estop_pressed, 2.0, host, host.keepalive)
        rig_cli.stdin.write("bogus exo\ncorrupt exo 0.01\n")
        rig_cli.stdin.flush()
        assert read_line(rig_cli).startswith("error: unknown fault")
        assert read_line(rig_cli) == "corrupt exo 0.01: ok"
        assert wait_for(lambda: devices.exoskeleton.stats.frames_bad > 0, 2.0, host, host.keepalive)
    rig_cli.send_signal(signal.SIGTERM)
    assert rig_cli.wait(10) == 0


def test_rig_cli_help_documents_stdin_commands():
    out = subprocess.run([sys.executable, "main.py", "rig", "--help"], cwd=ROOT, text=True,
                         capture_output=True, check=True).stdout
    for word in ("cut DEVICE", "corrupt DEVICE FRACTION", "stall", "freeze", "estop on|off", "motor_fault"):
        assert word in out


def test_rig_cli_unknown_patient_is_a_usage_error():
    result = subprocess.run([sys.executable, "main.py", "rig", "--patient", "nobody"], cwd=ROOT,
                            text=True, capture_output=True)
    assert result.returncode == 2


@pytest.mark.parametrize("where, message", [("", "is a folder"), ("no/such/t.json", "its folder does not exist")])
def test_rig_cli_refuses_a_truth_path_it_could_not_write_at_exit(tmp_path, where, message):
    """The truth is written when the rig stops, after the session: a bad path is named at the start."""
    result = subprocess.run([sys.executable, "main.py", "rig", "--truth", str(tmp_path / where)], cwd=ROOT,
                            text=True, capture_output=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_devices_cli_names_what_answers(rig):
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "main.py", "devices", "--ports", *rig.ports.values()],
        cwd=ROOT, text=True, capture_output=True, check=True, timeout=60,
    ).stdout
    lines = {line.split("\t")[0]: line for line in out.splitlines()}
    assert "\ttreadmill\t" in lines[rig.ports["treadmill"]]
    assert "\texoskeleton\t" in lines[rig.ports["exoskeleton"]]
    assert "\theart_rate\t" in lines[rig.ports["heart_rate"]]
    assert "\tinsoles\t" in lines[rig.ports["insoles"]]
    assert "200 Hz" in lines[rig.ports["insoles"]]
    assert "SIM-EXO-0000" in lines[rig.ports["exoskeleton"]]
    assert time.monotonic() - start < 60
