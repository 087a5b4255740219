"""Alarms on the therapist's screen: a banner in priority colours until acknowledged, plus the
UI's own alarm when the control core stops updating its state block.

`active_alarms` is pure (state block in, list out); `CoreWatch` decides when the core is lost;
`AlarmBanner` draws. Acknowledging goes through the session controller (command block + log).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from engine.control import layout

# Priority colours (IEC 60601-1-8 convention: high red, medium yellow, low cyan).
PRIORITY_RGBA = {
    layout.Priority.HIGH: (0.85, 0.05, 0.05, 0.95),
    layout.Priority.MEDIUM: (0.95, 0.75, 0.0, 0.95),
    layout.Priority.LOW: (0.0, 0.65, 0.8, 0.95),
}
PRIORITY_TEXT_RGBA = {
    layout.Priority.HIGH: (1, 1, 1, 1),
    layout.Priority.MEDIUM: (0, 0, 0, 1),
    layout.Priority.LOW: (0, 0, 0, 1),
}

# No new control cycle for this long: the core is gone or frozen. The therapist must see a high
# alarm within 200 ms of the core's death; the UI's alarm thread checks every 10 ms
# (alarm_watch.py), so 100 ms leaves room for that and for the frame that draws it.
CORE_LOST_AFTER_S = 0.1


@dataclass(frozen=True)
class ShownAlarm:
    reason: int
    priority: int
    text: str
    active: bool
    t_s: float


def active_alarms(state: np.ndarray, include_acked: bool = False) -> list[ShownAlarm]:
    """Alarms to show, highest priority first, then newest first."""
    shown = []
    for slot in state["alarms"]:
        reason = int(slot["reason"])
        if reason == layout.AlarmReason.NONE:
            continue
        if slot["acked"] and not include_acked:
            continue
        shown.append(
            ShownAlarm(
                reason=reason,
                priority=int(slot["priority"]),
                text=layout.ALARM_TEXT.get(reason, f"alarm {reason}"),
                active=bool(slot["active"]),
                t_s=float(slot["t_s"]),
            )
        )
    shown.sort(key=lambda a: (-a.priority, -a.t_s))
    return shown


class CoreWatch:
    """Raises the UI-side CORE_LOST alarm when the state block's cycle stops advancing."""

    def __init__(self, lost_after_s: float = CORE_LOST_AFTER_S) -> None:
        self.lost_after_s = lost_after_s
        self._cycle = -1
        self._changed_at_s = None
        self.lost = False
        self.acked = False

    def update(self, cycle: int, now_s: float, core_t_s: float | None = None) -> bool:
        """Feed the latest cycle counter (and the core's time of that cycle, same monotonic
        clock: then the age counts from the core's last cycle, not from the frame that first
        saw it, which saves up to a frame); True while the core is considered lost."""
        if cycle != self._cycle:
            self._cycle = cycle
            self._changed_at_s = now_s
            if core_t_s is not None and 0.0 < core_t_s <= now_s:
                self._changed_at_s = core_t_s
            if self.lost:
                self.lost = False
                self.acked = False
            return False
        if self._changed_at_s is None:
            self._changed_at_s = now_s
        if now_s - self._changed_at_s > self.lost_after_s:
            self.lost = True
        return self.lost

    def alarm(self) -> ShownAlarm | None:
        """The alarm to show (None when the core is fine or the therapist acknowledged it)."""
        if not self.lost or self.acked:
            return None
        reason = layout.AlarmReason.CORE_LOST
        return ShownAlarm(int(reason), int(layout.Priority.HIGH), layout.ALARM_TEXT[reason], True, 0.0)


# The banner's band: the bottom of the screen, left of STOP. Nothing the therapist reads or
# types is there (menu: the status line sits just above it; patient view: the HUD's goals and
# distance are top left, the next obstacle top centre, cues above this band).
BANNER_FRAME = (-1.78, 1.1, -1.0, -0.84)


class AlarmBanner:
    """A banner across the bottom of the therapist's screen, left of the STOP button."""

    def __init__(self, parent, on_ack) -> None:
        from direct.gui.DirectGui import DirectButton, DirectFrame, DirectLabel
        from panda3d.core import TextNode

        left, right, bottom, top = BANNER_FRAME
        self.frame = DirectFrame(parent=parent, frameSize=BANNER_FRAME, pos=(0, 0, 0),
                                 frameColor=PRIORITY_RGBA[layout.Priority.HIGH])
        self.frame.set_bin("gui-popup", 90)  # above the full-screen menu, whatever is open
        self.label = DirectLabel(parent=self.frame, text="", text_scale=0.05, pos=(left + 0.06, 0, bottom + 0.06),
                                 frameColor=(0, 0, 0, 0), text_fg=(1, 1, 1, 1), text_align=TextNode.A_left)
        self.ack_button = DirectButton(parent=self.frame, text="Acknowledge", scale=0.05,
                                       pos=(right - 0.22, 0, bottom + 0.065), command=on_ack, pad=(0.4, 0.3))
        self.shown: list[ShownAlarm] = []
        self.changed = True
        self.frame.hide()

    def show(self, alarms: list[ShownAlarm]) -> None:
        """Show the highest-priority alarm and how many more; hide when none."""
        if alarms == self.shown:
            return
        self.changed = True
        self.shown = list(alarms)
        if not alarms:
            self.frame.hide()
            return
        top = alarms[0]
        priority = layout.Priority(top.priority) if top.priority in (1, 2, 3) else layout.Priority.HIGH
        more = f"   (+{len(alarms) - 1} more)" if len(alarms) > 1 else ""
        self.frame["frameColor"] = PRIORITY_RGBA[priority]
        self.label["text"] = f"{priority.name}: {top.text}{more}"
        self.label["text_fg"] = PRIORITY_TEXT_RGBA[priority]
        self.frame.show()

    @property
    def text(self) -> str:
        """The banner's text ('' when hidden)."""
        return self.label["text"] if self.shown else ""


class RecorderWatch:
    """Raises the UI-side RECORDER_FAILED alarm (medium) when the recorder process exits while
    the session runs (a persistent database failure: disk full, locked; or a crash). Recording
    is not needed for safety: the session goes on, the therapist is told.

    Updated from the UI's alarm thread (alarm_watch.py) while the frame loop may replace the
    recorder or stop it on purpose: `retire()` before a deliberate stop, so that a check running
    at that moment cannot take the stop for a failure."""

    def __init__(self, is_alive, exit_code=None) -> None:
        self.is_alive = is_alive
        self._exit_code = exit_code
        self.failed = False
        self.failed_at_s: float | None = None
        self.acked = False
        self.retired = False
        self._lock = threading.Lock()

    def update(self, now_s: float) -> bool:
        """True once the recorder has died (it stays failed until replaced with `watch()`)."""
        self.update_newly_failed(now_s)
        return self.failed

    def update_newly_failed(self, now_s: float) -> bool:
        """True only on the check that finds the recorder dead (once per recorder)."""
        with self._lock:
            if self.failed or self.retired or self.is_alive():
                return False
            self.failed = True
            self.failed_at_s = now_s
            self.acked = False
            return True

    def exit_code(self) -> int | None:
        """The dead recorder's exit status, where known."""
        return self._exit_code() if self._exit_code is not None else None

    def watch(self, is_alive, exit_code=None) -> None:
        """A new recorder took over: watch that one (the alarm stays until acknowledged)."""
        with self._lock:
            self.is_alive = is_alive
            self._exit_code = exit_code
            self.failed = False

    def retire(self) -> None:
        """The recorder is about to be stopped on purpose: never a failure from now on."""
        with self._lock:
            self.retired = True

    def alarm(self) -> ShownAlarm | None:
        """The alarm to show while failed and not acknowledged."""
        if self.failed_at_s is None or self.acked:
            return None
        reason = layout.AlarmReason.RECORDER_FAILED
        return ShownAlarm(int(reason), int(layout.Priority.MEDIUM), layout.ALARM_TEXT[reason], self.failed,
                          self.failed_at_s)
