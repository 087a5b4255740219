"""Alarms: what the banner shows, in which colour, until acknowledged; the UI's core watch."""

from __future__ import annotations

import numpy as np

from engine.control import layout
from engine.render.alarms import PRIORITY_RGBA, AlarmBanner, CoreWatch, active_alarms


def _state_with(*alarms) -> np.ndarray:
    state = np.zeros((), dtype=layout.STATE_DTYPE)
    for slot, (reason, priority, acked, t_s) in enumerate(alarms):
        state["alarms"][slot]["reason"] = reason
        state["alarms"][slot]["priority"] = priority
        state["alarms"][slot]["acked"] = acked
        state["alarms"][slot]["active"] = 1
        state["alarms"][slot]["t_s"] = t_s
    return state


def test_highest_priority_first_and_acknowledged_ones_hidden():
    state = _state_with(
        (layout.AlarmReason.HEART_RATE_SILENT, layout.Priority.LOW, 0, 1.0),
        (layout.AlarmReason.TREADMILL_SILENT, layout.Priority.HIGH, 0, 2.0),
        (layout.AlarmReason.LINK_ERRORS, layout.Priority.MEDIUM, 1, 3.0),
    )
    shown = active_alarms(state)
    assert [a.reason for a in shown] == [layout.AlarmReason.TREADMILL_SILENT, layout.AlarmReason.HEART_RATE_SILENT]
    assert shown[0].text == layout.ALARM_TEXT[layout.AlarmReason.TREADMILL_SILENT]
    assert len(active_alarms(state, include_acked=True)) == 3


def test_core_watch_raises_core_lost_until_acknowledged():
    watch = CoreWatch(lost_after_s=0.5)
    assert not watch.update(10, 0.0)
    assert not watch.update(11, 0.2)
    assert not watch.update(11, 0.6)
    assert watch.update(11, 0.8)
    assert watch.alarm().reason == layout.AlarmReason.CORE_LOST
    watch.acked = True
    assert watch.alarm() is None
    assert not watch.update(12, 1.0)  # the core is back


def test_banner_shows_the_top_alarm_in_its_colour_until_acknowledged(panda_base):
    acked = []
    banner = AlarmBanner(panda_base.aspect2d, lambda: acked.append(True))
    try:
        state = _state_with((layout.AlarmReason.EXO_FAULT, layout.Priority.HIGH, 0, 1.0),
                            (layout.AlarmReason.HEART_RATE_HIGH, layout.Priority.MEDIUM, 0, 2.0))
        banner.show(active_alarms(state))
        assert not banner.frame.is_hidden()
        assert banner.text.startswith("HIGH: Exoskeleton motor fault")
        assert "(+1 more)" in banner.text
        assert tuple(banner.frame["frameColor"]) == PRIORITY_RGBA[layout.Priority.HIGH]
        banner.ack_button.commandFunc(None)
        assert acked == [True]
        state["alarms"]["acked"] = 1  # the core marks them acknowledged
        banner.show(active_alarms(state))
        assert banner.frame.is_hidden() and banner.text == ""
    finally:
        banner.frame.destroy()
