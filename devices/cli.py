"""`python main.py devices`: list serial ports and what answers a handshake on each."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `devices` subcommand."""
    parser.add_argument(
        "--ports", nargs="+", default=[], metavar="PORT",
        help="extra ports to probe besides /dev/ttyUSB*, /dev/ttyACM*, /dev/ttyS* (e.g. a rig's /dev/pts/N)",
    )
    parser.add_argument("--timeout-s", type=float, default=0.5, help="how long to wait for each answer")


def main(args: argparse.Namespace) -> int:
    """Probe every port at once and print one line per port; 0 even when nothing answers."""
    from devices.base import DeviceInfo
    from devices.discovery import probe, system_ports

    ports = list(dict.fromkeys(system_ports() + list(args.ports)))
    if not ports:
        print("no serial ports found (give --ports to probe others)")
        return 0
    for port, answer in probe(ports, args.timeout_s).items():
        if isinstance(answer, DeviceInfo):
            print(
                f"{port}\t{answer.device_type.name.lower()}\tfirmware {answer.firmware_version}"
                f"\tserial {answer.serial_number}\t{answer.status_rate_hz:g} Hz"
            )
        else:
            print(f"{port}\t-\t{answer}")
    return 0
