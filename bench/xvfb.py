"""A virtual X server for the UI tests and `python -m bench ui`: Xvfb on a display number it
picks itself (-displayfd), so parallel runs never collide, torn down with the test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass


@dataclass
class XServer:
    process: subprocess.Popen
    display: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def xvfb_available() -> bool:
    return shutil.which("Xvfb") is not None


def start_xvfb(width: int = 1600, height: int = 900, timeout_s: float = 30.0) -> XServer:
    """Start Xvfb; returns once it accepts connections (it writes its display number when ready)."""
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp",
         "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    os.close(write_fd)
    deadline = time.monotonic() + timeout_s
    number = b""
    try:
        while not number.endswith(b"\n"):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"Xvfb did not start (exit code {process.poll()})")
            chunk = os.read(read_fd, 16)  # blocks until Xvfb is ready or exits (EOF)
            if not chunk:
                raise RuntimeError(f"Xvfb did not start (exit code {process.wait(timeout=5)})")
            number += chunk
    finally:
        os.close(read_fd)
    return XServer(process, f":{int(number.strip())}")
