"""`--vr auto|require|off` against the OpenVR double (and the real package for 'no runtime')."""

from __future__ import annotations

import logging

import pytest

from engine.render.vr.select import VrUnavailable, choose_vr, probe_openvr
from tests.render.openvr_double import OpenVRDouble


def test_auto_uses_a_present_headset():
    assert choose_vr("auto", vr_module=OpenVRDouble()).use_headset


def test_auto_falls_back_with_one_clear_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="engine.render.vr.select"):
        choice = choose_vr("auto", vr_module=OpenVRDouble(hmd=False))
    assert not choice.use_headset
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "no headset" in lines[0] and "desktop window" in lines[0]


def test_require_raises_with_the_reason():
    with pytest.raises(VrUnavailable, match="no OpenVR runtime is installed"):
        choose_vr("require", vr_module=OpenVRDouble(runtime=False))


def test_off_and_headless_auto_never_probe():
    class Exploding:
        def __getattr__(self, name):
            raise AssertionError("probed")

    assert not choose_vr("off", vr_module=Exploding()).use_headset
    assert not choose_vr("auto", headless=True, vr_module=Exploding()).use_headset


def test_the_real_package_reports_the_missing_runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert probe_openvr() is not None
