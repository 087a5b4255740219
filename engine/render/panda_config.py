"""Panda3D configuration for the three ways the engine runs: desktop window, headless software
rendering (tinydisplay) and headless OpenGL through EGL (e.g. Mesa llvmpipe).

It must run before the first ShowBase is created: Panda3D reads these variables once.
"""

from __future__ import annotations

import glob
import logging
import os

from panda3d.core import load_prc_file_data

log = logging.getLogger(__name__)
_said_no_audio = False

RENDERERS = {"tinydisplay": "p3tinydisplay", "gl": "p3headlessgl"}
DEFAULT_HEADLESS_SIZE = (640, 360)  # modest: a 2-core machine keeps up in software


def configure_panda(
    headless: bool,
    renderer: str | None = None,
    size: tuple[int, int] | None = None,
    audio: bool | None = None,
    title: str = "StepSync",
) -> None:
    """Load the prc settings for this process (call once, before ShowBase)."""
    lines = [
        f"window-title {title}",
        "sync-video false",  # frames are paced by the app (or the headset compositor), not v-sync
        "notify-level-device fatal",  # no joystick spam about /dev/input on servers
        "notify-level-egldisplay error",
        "default-directnotify-level warning",
        "framebuffer-multisample false",
        "show-frame-rate-meter false",
        "print-pipe-types false",  # the launch output starts with the project's own messages
    ]
    if headless:
        renderer = renderer or "tinydisplay"
        width, height = size or DEFAULT_HEADLESS_SIZE
        lines += [
            "window-type offscreen",
            f"load-display {RENDERERS[renderer]}",
            "notify-level-x11display fatal",  # it tries a window first; offscreen needs none
            "print-pipe-types false",
            f"win-size {width} {height}",
        ]
    else:
        if renderer == "tinydisplay":
            lines.append("load-display p3tinydisplay")
        if size:
            lines.append(f"win-size {size[0]} {size[1]}")
    if renderer != "tinydisplay":
        # Eye buffers at the headset's exact recommended size (tinydisplay cannot do this).
        lines.append("textures-power-2 none")
    if audio is None:
        audio = not headless
        if audio and not audio_device_present():
            # OpenAL would try every backend and print dozens of ALSA/OpenAL errors the
            # therapist cannot act on; say it once, in our words, and run without sound.
            audio = False
            _say_no_audio()
    if not audio:
        lines.append("audio-library-name null")
    else:
        lines.append("notify-level-audio fatal")  # a device that fails later: cues are optional
    load_prc_file_data("stepsync", "\n".join(lines) + "\n")


def audio_device_present() -> bool:
    """A sound card (an ALSA playback device) or a sound server (PulseAudio or PipeWire socket)."""
    if glob.glob("/dev/snd/pcmC*D*p"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    sockets = [os.environ.get("PULSE_SERVER", "").removeprefix("unix:")]
    if runtime:
        sockets += [os.path.join(runtime, "pulse", "native"), os.path.join(runtime, "pipewire-0")]
    return any(path and os.path.exists(path) for path in sockets)


def _say_no_audio() -> None:
    global _said_no_audio
    if not _said_no_audio:
        _said_no_audio = True
        log.warning("no audio device found (no sound card, no PulseAudio/PipeWire): sound cues are off")


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'640x360' -> (640, 360); None stays None."""
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    return int(width), int(height)
