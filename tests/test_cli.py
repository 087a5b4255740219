"""The one command line: every subcommand has --help, usage errors exit 2, help imports stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parent.parent


def run_main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


@pytest.mark.parametrize("command", list(main.COMMANDS))
def test_each_subcommand_has_help(command: str) -> None:
    result = run_main(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout and command in result.stdout


def test_usage_error_exits_2() -> None:
    assert run_main("no-such-command").returncode == 2
    assert run_main("validate", "--no-such-flag").returncode == 2
    assert run_main().returncode == 2


def test_help_does_not_import_panda3d_or_matplotlib() -> None:
    # The control core and --help must start fast: building the parser imports no heavy package.
    code = (
        "import sys, main; main.build_parser(); "
        "heavy = [m for m in ('panda3d.core', 'direct.showbase', 'matplotlib.pyplot') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
