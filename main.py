"""StepSync: the one command line.

Each subcommand lives beside the code it drives, in a small `cli` module exposing
`add_arguments(parser)` and `main(args) -> int`. Those modules import heavy packages
(Panda3D, matplotlib) only inside `main`, so `--help` and the control core start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> (module, one-line help). Order is the order shown by --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("engine.session.cli", "run a session: therapist menu, or --headless on the virtual rig"),
    "rig": ("devices.sim.cli", "start the virtual rig on pseudo-terminals and print its ports"),
    "core": ("engine.control.cli", "run the control core on its own against the rig or real ports"),
    "devices": ("devices.cli", "list serial ports and what answers on each"),
    "validate": ("engine.scene.cli_validate", "validate scene YAML files or folders"),
    "preview": ("engine.scene.cli_preview", "render an offscreen screenshot of a scene"),
    "report": ("engine.records.cli_report", "write an HTML report for a session or a patient"),
    "export": ("engine.records.cli_export", "export a session as CSV or C3D"),
    "demo-history": ("engine.sim.cli_demo", "fill a database with simulated sessions"),
    "progress": ("engine.records.cli_progress", "a patient's per-session gait numbers (file or clinic server)"),
    "sync": ("engine.records.cli_sync", "push a rig's records to the clinic PostgreSQL server (one pass)"),
    "clinic": ("engine.records.clinic_cli", "set up the clinic server: schema, roles, accounts, logins"),
    "findings": ("engine.analysis.cli", "print gait findings and suggestions for a session or a patient"),
    "simulate": ("engine.sim.cli", "simulate a session faster than real time with the real control core"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="StepSync: VR gait rehabilitation on a treadmill and exoskeleton.",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def configure_logging(verbose: int, quiet: bool) -> None:
    """Log to stderr; -v for debug, -q for warnings only."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one subcommand; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    configure_logging(args.verbose, args.quiet)
    return int(args._module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
