"""Drive the real therapist desktop the way a therapist does: the pointer moves to a widget,
the mouse button goes down and up, keys are pressed and characters typed, all through the
window's own input device, so events pass Panda3D's data graph, the mouse watcher, DirectGUI
and the messenger exactly as they do for a person. A widget under another one (the alarm
banner over a field) gets no click: `click` checks which widget the pointer is over first.

`screen()` reads what is shown: widget texts, the banner, the status line, which scene row is
highlighted, the live panel. `shot(name)` saves a screenshot of the window for every step.

Runs in a child process with DISPLAY set to an Xvfb server (one ShowBase per process).
"""

from __future__ import annotations

import json
import time
from pathlib import Path


class WidgetHidden(AssertionError):
    """The pointer is not over the widget a click was meant for (hidden, covered, off screen)."""


class MenuDriver:
    """A therapist's hands and eyes on a `Desktop`."""

    def __init__(self, desktop, shots_dir: Path) -> None:
        self.desktop = desktop
        self.app = desktop.app
        self.shots_dir = Path(shots_dir)
        self.shots_dir.mkdir(parents=True, exist_ok=True)
        self.steps: list[dict] = []
        self.device = self.app.win.get_input_device(0)
        self.frames(3)

    # -- time --------------------------------------------------------------------------------
    def frames(self, count: int = 1) -> None:
        for _ in range(count):
            self.desktop.tick()

    def until(self, condition, timeout_s: float = 20.0) -> bool:
        """Run frames until condition() is true (never a fixed wait)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.desktop.tick()
            if condition():
                return True
        return False

    # -- pointer ----------------------------------------------------------------------------
    def _pixel_of(self, widget, local=None) -> tuple[float, float]:
        from panda3d.core import Point3

        if local is None:
            left, right, bottom, top = widget.getBounds()
            local = ((left + right) / 2, (bottom + top) / 2)
        point = self.app.render2d.get_relative_point(widget, Point3(local[0], 0, local[1]))
        width, height = self.app.win.get_x_size(), self.app.win.get_y_size()
        return (point.x + 1) / 2 * width, (1 - point.z) / 2 * height

    def point_at(self, widget, local=None) -> None:
        x, y = self._pixel_of(widget, local)
        self.device.set_pointer_in_window(x, y)
        self.frames(2)  # the mouse watcher sees the pointer on the next data-graph pass

    def over(self, widget) -> bool:
        """Is the pointer over this widget (its region on top of every other one there)?"""
        region = self.app.mouseWatcherNode.get_over_region()
        return region is not None and region.get_name() == widget.guiItem.get_id()

    def rect(self, widget) -> tuple[float, float, float, float]:
        """The widget's frame on screen in render2d units (left, right, bottom, top)."""
        from panda3d.core import Point3

        left, right, bottom, top = widget.getBounds()
        a = self.app.render2d.get_relative_point(widget, Point3(left, 0, bottom))
        b = self.app.render2d.get_relative_point(widget, Point3(right, 0, top))
        return min(a.x, b.x), max(a.x, b.x), min(a.z, b.z), max(a.z, b.z)

    def covers(self) -> list:
        """Widgets drawn over others while shown: the alarm banner and the quit dialog."""
        found = []
        banner = getattr(self.app, "banner", None)
        if banner is not None and not banner.frame.is_hidden():
            found.append(banner.frame)
        dialog = getattr(self.desktop.menu, "quit_dialog", None)
        if dialog is not None and not dialog.is_hidden():
            found.append(dialog)
        return found

    def covered_by(self, widget):
        """The cover over the middle of `widget`, if any (its own parent dialog does not count)."""
        from panda3d.core import Point3

        left, right, bottom, top = widget.getBounds()
        centre = self.app.render2d.get_relative_point(widget, Point3((left + right) / 2, 0, (bottom + top) / 2))
        for cover in self.covers():
            if cover.is_ancestor_of(widget):
                continue
            c_left, c_right, c_bottom, c_top = self.rect(cover)
            if c_left <= centre.x <= c_right and c_bottom <= centre.z <= c_top:
                return cover
        return None

    def click(self, widget, local=None) -> None:
        from panda3d.core import MouseButton

        if widget.is_hidden() or widget.is_stashed() or widget.getParent().is_hidden():
            raise WidgetHidden(f"{widget.guiId} is hidden")
        cover = self.covered_by(widget)
        if cover is not None:
            raise WidgetHidden(f"{widget.guiId} is under {cover.guiId}")
        self.point_at(widget, local)
        if not self.over(widget):
            region = self.app.mouseWatcherNode.get_over_region()
            raise WidgetHidden(f"the pointer at {widget.guiId} is over {region.get_name() if region else 'nothing'}")
        self.device.button_down(MouseButton.one())
        self.frames(1)
        self.device.button_up(MouseButton.one())
        self.frames(2)

    def drag(self, widget, to_widget_local: tuple[float, float], relative_to) -> None:
        """Press on `widget`, move to a point in `relative_to`'s space, release (a slider thumb)."""
        from panda3d.core import MouseButton

        self.point_at(widget)
        if not self.over(widget):
            raise WidgetHidden(f"the pointer is not over {widget.guiId}")
        self.device.button_down(MouseButton.one())
        self.frames(3)
        start_x, start_y = self._pixel_of(widget)
        end_x, end_y = self._pixel_of(relative_to, to_widget_local)
        for i in range(1, 6):  # a hand moves in steps, not in one jump
            self.device.set_pointer_in_window(start_x + (end_x - start_x) * i / 5, start_y + (end_y - start_y) * i / 5)
            self.frames(2)
        self.device.button_up(MouseButton.one())
        self.frames(3)

    # -- keyboard ---------------------------------------------------------------------------
    def key(self, name: str) -> None:
        from panda3d.core import ButtonRegistry

        button = ButtonRegistry.ptr().find_button(name)
        self.device.button_down(button)
        self.frames(1)
        self.device.button_up(button)
        self.frames(1)

    def type_into(self, entry, text: str) -> None:
        """Click into a text box, clear it, type the text as keystrokes."""
        self.click(entry)
        self.key("end")
        for _ in range(len(entry.get()) + 2):
            self.key("backspace")
        for char in text:
            self.device.keystroke(ord(char))
            self.frames(1)
        assert entry.get() == text, f"typed {text!r}, the box shows {entry.get()!r}"

    def choose(self, option_menu, item: str) -> None:
        """Pick from a drop-down as a person does: press on it (the list opens), move onto the
        item (it lights up), release."""
        from panda3d.core import MouseButton

        if self.covered_by(option_menu) is not None:
            raise WidgetHidden(f"{option_menu.guiId} is covered")
        self.point_at(option_menu)
        if not self.over(option_menu):
            raise WidgetHidden(f"the pointer is not over {option_menu.guiId}")
        self.device.button_down(MouseButton.one())
        self.frames(2)
        index = list(option_menu["items"]).index(item)
        popup_item = option_menu.component(f"item{index}")
        self.point_at(popup_item)
        # While the button is held the mouse watcher prefers the pressed widget; the item under
        # the pointer shows it by lighting up (DGG.WITHIN), which is what a person sees.
        if option_menu.highlightedIndex != index:
            raise WidgetHidden(f"the list item {item!r} did not light up under the pointer")
        self.device.button_up(MouseButton.one())
        self.frames(2)

    # -- eyes -------------------------------------------------------------------------------
    def screen(self) -> dict:
        return self.desktop.screen()

    def shot(self, name: str) -> str:
        self.frames(2)
        path = self.shots_dir / f"{len(self.steps):02d}-{name}.png"
        with self.app.heartbeat_cover():  # a screenshot takes longer than a frame
            self.app.win.set_active(True)
            self.app.graphicsEngine.render_frame()
        # The app's own way: pixels grabbed, PNG encoded off the frame loop without the GIL
        # (Panda3D's writer holds it, which would starve the UI heartbeat while walking).
        self.app.save_view(path)
        return str(path)

    def step(self, name: str, **extra) -> dict:
        """Record what the screen shows after a therapist step, with its screenshot."""
        record = {"step": name, "screen": self.screen(), "shot": self.shot(name), **extra}
        self.steps.append(record)
        (self.shots_dir / "steps.json").write_text(json.dumps(self.steps, indent=1, default=str))
        return record
