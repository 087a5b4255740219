"""Offscreen Panda3D for previews, thumbnails, tests and benchmarks (no display needed).

`tinydisplay` is Panda3D's software renderer: it runs everywhere (CI, SSH, a clinic PC without a
GPU driver) but has no shaders, so the world uses vertex colours and fixed-function lights.
`gl` uses p3headlessgl (EGL) where a GL driver is present. Panda3D allows one ShowBase per
process, so an existing one is reused.
"""

from __future__ import annotations

import builtins
import logging
from pathlib import Path

log = logging.getLogger(__name__)

RENDERERS = {"tinydisplay": "p3tinydisplay", "gl": "p3headlessgl"}


def make_offscreen_base(size: tuple[int, int] = (1280, 720), renderer: str = "tinydisplay"):
    """A ShowBase rendering into an offscreen buffer of `size` (reuses one that already exists)."""
    existing = getattr(builtins, "base", None)
    if existing is not None:
        win = existing.win
        if win is not None and (win.getXSize(), win.getYSize()) != tuple(size):
            log.debug("reusing the existing ShowBase (%dx%d); requested %s", win.getXSize(), win.getYSize(), size)
        return existing
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    from panda3d.core import loadPrcFileData

    loadPrcFileData(
        "stepsync-offscreen",
        "\n".join(
            [
                "window-type offscreen",
                f"load-display {RENDERERS[renderer]}",
                "aux-display p3tinydisplay",
                "audio-library-name null",
                f"win-size {int(size[0])} {int(size[1])}",
                "sync-video false",
                "framebuffer-multisample false",
                "notify-level-display fatal",
                "notify-level-device fatal",
                "print-pipe-types false",
                "show-frame-rate-meter false",
            ]
        ),
    )
    from direct.showbase.ShowBase import ShowBase

    base = ShowBase(windowType="offscreen")
    base.disableMouse()
    base.stepsync_offscreen = True  # render_view may draw straight into this window
    return base


def save_screenshot(base, path) -> Path:
    """Render a frame and write the offscreen window to an image file (PNG by extension)."""
    from panda3d.core import Filename

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two frames: the first one may still be the clear colour on some pipes.
    base.graphicsEngine.renderFrame()
    base.graphicsEngine.renderFrame()
    if not base.win.saveScreenshot(Filename.fromOsSpecific(str(path))):
        raise OSError(f"could not write screenshot {path}")
    return path
