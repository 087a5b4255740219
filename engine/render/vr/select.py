"""`--vr auto|require|off`: decide before any window opens whether a headset will be used.

The probe uses only the light OpenVR calls (runtime installed, headset present) that work
without initialising the runtime, so the desktop fallback costs nothing when there is no headset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType

log = logging.getLogger(__name__)


class VrUnavailable(RuntimeError):
    """`--vr require` and no runtime or no headset; the message is the reason."""


@dataclass(frozen=True)
class VrChoice:
    """What the app should do: use_headset, and why (for the log and the session record)."""

    use_headset: bool
    reason: str


def probe_openvr(vr_module: ModuleType | None = None) -> str | None:
    """None when an OpenVR runtime and a headset are present, else the reason they are not."""
    try:
        vr = vr_module
        if vr is None:
            import openvr as vr  # loads the client library only; no runtime needed
    except Exception as exc:  # a missing or broken client library
        return f"the openvr package cannot load ({type(exc).__name__}: {exc})"
    try:
        if not vr.isRuntimeInstalled():
            return "no OpenVR runtime is installed (SteamVR or another OpenVR runtime)"
        if not vr.isHmdPresent():
            return "the OpenVR runtime reports no headset connected"
    except Exception as exc:
        return f"the OpenVR probe failed ({type(exc).__name__}: {exc})"
    return None


def choose_vr(mode: str, headless: bool = False, vr_module: ModuleType | None = None) -> VrChoice:
    """Resolve `--vr`: 'off' never probes; 'auto' falls back with one log line; 'require' raises."""
    if mode == "off":
        return VrChoice(False, "--vr off")
    if mode not in ("auto", "require"):
        raise ValueError(f"--vr must be auto, require or off, not {mode!r}")
    if headless and mode == "auto":
        # An unattended session never grabs a headset someone may be wearing (ask with require).
        return VrChoice(False, "headless run: headset not used (ask with --vr require)")
    reason = probe_openvr(vr_module)
    if reason is None:
        return VrChoice(True, "OpenVR runtime and headset present")
    if mode == "require":
        raise VrUnavailable(reason)
    log.info("VR: %s; using the desktop window", reason)
    return VrChoice(False, reason)
