"""Find devices by handshake on a list of ports, and open the ones a session needs."""

from __future__ import annotations

import glob
import logging
import time
from dataclasses import dataclass

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType
from devices.serial_exoskeleton import SerialExoskeleton
from devices.serial_heart_rate import SerialHeartRate
from devices.serial_insoles import SerialInsoles
from devices.serial_link import DeviceError, SerialLink, _monotonic_us
from devices.serial_treadmill import SerialTreadmill

log = logging.getLogger(__name__)

PORT_PATTERNS = ("/dev/ttyUSB*", "/dev/ttyACM*", "/dev/ttyS*")
ROLE_TYPES = {
    "treadmill": DeviceType.TREADMILL,
    "exoskeleton": DeviceType.EXOSKELETON,
    "heart_rate": DeviceType.HEART_RATE,
    "insoles": DeviceType.INSOLES,
}


def system_ports() -> list[str]:
    """Serial ports that exist on this machine (USB adapters, CDC-ACM, on-board UARTs)."""
    ports: list[str] = []
    for pattern in PORT_PATTERNS:
        ports += sorted(glob.glob(pattern))
    return ports


def probe(ports: list[str], timeout_s: float = 0.5) -> dict[str, DeviceInfo | str]:
    """Handshake on every port at once; port -> DeviceInfo, or a short reason nothing answered."""
    links: dict[str, SerialLink] = {}
    result: dict[str, DeviceInfo | str] = {}
    for port in ports:
        try:
            links[port] = SerialLink(port)
        except DeviceError as exc:
            result[port] = f"cannot open ({exc.__cause__ or exc})"
    try:
        deadline = time.monotonic() + timeout_s
        next_hello = 0.0
        while links.keys() - result.keys():
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_hello:
                for port, link in links.items():
                    if port not in result:
                        link.send(p.encode(p.EMPTY, p.Msg.HELLO, link.next_seq(), _monotonic_us()))
                next_hello = now + 0.1
            for port, link in links.items():
                if port in result:
                    continue
                for body in link.read_bodies():
                    fields = p.decode_body(body)
                    if fields is not None and fields[1] == p.Msg.INFO:
                        info = p.info_from_fields(fields[4:])
                        if info is not None:
                            result[port] = info
                            break
            time.sleep(0.005)
    finally:
        for link in links.values():
            link.close()
    for port in links:
        result.setdefault(port, "no answer")
    return result


def discover(ports: list[str], timeout_s: float = 0.5) -> dict[DeviceType, tuple[str, DeviceInfo]]:
    """Which device answers on which port; the first port wins when two answer as one type."""
    found: dict[DeviceType, tuple[str, DeviceInfo]] = {}
    for port, answer in probe(ports, timeout_s).items():
        if isinstance(answer, DeviceInfo) and answer.device_type not in found:
            found[answer.device_type] = (port, answer)
    return found


@dataclass
class OpenedDevices:
    """The drivers of one session; heart_rate and insoles are None when not configured."""

    treadmill: SerialTreadmill
    exoskeleton: SerialExoskeleton
    heart_rate: SerialHeartRate | None = None
    insoles: SerialInsoles | None = None

    def all(self) -> list:
        """The open drivers, heart-rate sensor and insoles included when present."""
        return [d for d in (self.treadmill, self.exoskeleton, self.heart_rate, self.insoles) if d is not None]

    def start_reader(self, priority: int = 0):
        """Read every serial port from one thread from now on (PortReader); returns it, or None
        when no port has a file descriptor (in-process links)."""
        from devices.serial_link import PortReader, SerialLink

        links = [d.link for d in self.all() if isinstance(getattr(d, "link", None), SerialLink)]
        reader = PortReader(links, priority)
        return reader.start() if reader.links else None

    def close(self) -> None:
        """Close every port."""
        for device in self.all():
            device.close()

    def __enter__(self) -> OpenedDevices:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_devices(ports: dict[str, str]) -> OpenedDevices:
    """Open and handshake the devices named by role ("treadmill", "exoskeleton", "heart_rate",
    "insoles").

    Raises DeviceError when the treadmill or exoskeleton is missing or does not answer as
    itself; a missing "heart_rate" or "insoles" key gives None there.
    """
    unknown = set(ports) - set(ROLE_TYPES)
    if unknown:
        raise DeviceError(f"unknown device roles: {sorted(unknown)}")
    for role in ("treadmill", "exoskeleton"):
        if not ports.get(role):
            raise DeviceError(f"no port given for the {role}")
    opened: list = []
    try:
        treadmill = SerialTreadmill(ports["treadmill"])
        opened.append(treadmill)
        exo = SerialExoskeleton(ports["exoskeleton"])
        opened.append(exo)
        hr = SerialHeartRate(ports["heart_rate"]) if ports.get("heart_rate") else None
        if hr is not None:
            opened.append(hr)
        insoles = SerialInsoles(ports["insoles"]) if ports.get("insoles") else None
    except Exception:
        for device in opened:
            device.close()
        raise
    return OpenedDevices(treadmill=treadmill, exoskeleton=exo, heart_rate=hr, insoles=insoles)
