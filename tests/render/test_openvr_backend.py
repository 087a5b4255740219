"""The OpenVR backend against a recording double of the openvr interfaces, rendering for real
(offscreen OpenGL through EGL when the machine has it, else the software renderer).

Panda3D picks its display module once per process, so the rendering scenario runs in a child
process and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def scenario(renderer: str, frames: int) -> dict:
    """Run the backend for `frames` frames against the double; return what was recorded."""
    from engine.render.panda_config import configure_panda

    configure_panda(headless=True, renderer=renderer, size=(160, 90))
    from direct.showbase.ShowBase import ShowBase
    from panda3d.core import LMatrix4, PNMImage

    from engine.render.vr.openvr_backend import OpenVRBackend, projection_to_panda
    from tests.render.openvr_double import SIZE, OpenVRDouble

    base = ShowBase()
    # A tall white post 2 m straight ahead of the head: each eye sees it at a different column.
    from panda3d.core import CardMaker

    maker = CardMaker("post")
    maker.set_frame(-0.05, 0.05, -3.0, 3.0)
    post = base.render.attach_new_node(maker.generate())
    post.set_pos(0.0, 2.0, 1.6)
    post.set_color(1, 1, 1, 1)
    post.set_two_sided(True)
    patient = base.render.attach_new_node("patient")
    double = OpenVRDouble(head_height_m=1.6)
    backend = OpenVRBackend(base, patient, vr_module=double, background_rgba=(0.2, 0.2, 0.2, 1),
                            copy_to_ram=renderer == "tinydisplay")
    backend.start()
    for _ in range(frames):
        base.task_mgr.step()
    out: dict = {"renderer": base.win.get_gsg().get_driver_renderer()}
    images = {}
    for eye in ("left", "right"):
        image = PNMImage()
        if renderer != "tinydisplay":
            base.graphicsEngine.extract_texture_data(backend.eye_textures[eye], base.win.get_gsg())
        backend.eye_textures[eye].store(image)
        images[eye] = image
        width, height = image.get_x_size(), image.get_y_size()
        # Column where the post is brightest along the middle row.
        row = height // 2
        brightness = [image.get_bright(x, row) for x in range(width)]
        out[f"{eye}_size"] = [width, height]
        out[f"{eye}_post_column"] = max(range(width), key=lambda x: brightness[x])
        out[f"{eye}_post_brightness"] = max(brightness)
        out[f"{eye}_corner_rgb"] = list(image.get_xel(2, 2))  # under the hidden-area mesh
        out[f"{eye}_outside_rgb"] = list(image.get_xel(width - 3, height - 3))
        expected = projection_to_panda(double._system.getProjectionMatrix(backend._eye_ids[eye], backend.near_m, backend.far_m))
        actual = backend.eye_lenses[eye].get_projection_mat()
        out[f"{eye}_projection_matches"] = actual.almost_equal(expected, 1e-5)
        eye_pos = backend.eye_cameras[eye].get_pos(base.render)
        out[f"{eye}_eye_pos"] = [eye_pos.x, eye_pos.y, eye_pos.z]
        del expected, actual
    out["expected_size"] = list(SIZE)
    out["wait_calls"] = len(double.rec.wait_calls)
    out["wait_span_s"] = double.rec.wait_calls[-1] - double.rec.wait_calls[0]
    out["submits"] = double.rec.submits
    out["stats"] = backend.stop()
    out["shutdowns"] = double.rec.shutdowns
    out["inits"] = double.rec.inits
    del LMatrix4
    base.destroy()
    return out


def _run(renderer: str, frames: int) -> dict:
    code = (
        "import json, sys; from tests.render.test_openvr_backend import scenario; "
        f"print('RESULT ' + json.dumps(scenario({renderer!r}, {frames})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def gl_result() -> dict:
    result = _run("gl", 12)
    return result


def test_both_eyes_render_at_recommended_size_with_runtime_projections(gl_result):
    r = gl_result
    import openvr

    assert r["inits"] == [openvr.VRApplication_Scene]
    for eye in ("left", "right"):
        assert r[f"{eye}_size"] == r["expected_size"]
        assert r[f"{eye}_projection_matches"], eye
        assert r[f"{eye}_post_brightness"] > 0.8, f"{eye} eye did not draw the scene"
    # Eye-to-head offsets from the runtime: the eyes sit 64 mm apart at the head pose's height.
    assert r["left_eye_pos"][0] == pytest.approx(-0.032, abs=1e-4)
    assert r["right_eye_pos"][0] == pytest.approx(0.032, abs=1e-4)
    assert r["left_eye_pos"][2] == pytest.approx(1.6, abs=1e-4)  # head pose from waitGetPoses
    # Parallax: the left eye sees the post right of where the right eye sees it.
    assert r["left_post_column"] > r["right_post_column"]


def test_every_frame_submits_both_eyes_with_gl_textures(gl_result):
    r = gl_result
    import openvr

    frames_with_submits = sorted({s[3] for s in r["submits"]})
    assert len(frames_with_submits) >= 10
    for frame in frames_with_submits:
        eyes = sorted(s[0] for s in r["submits"] if s[3] == frame)
        assert eyes == [openvr.Eye_Left, openvr.Eye_Right], f"frame {frame}: {eyes}"
    assert all(s[2] == openvr.TextureType_OpenGL for s in r["submits"])
    if "llvmpipe" in r["renderer"] or "Mesa" in r["renderer"] or r["renderer"]:
        handles = {s[0]: s[1] for s in r["submits"]}
        assert handles[openvr.Eye_Left] and handles[openvr.Eye_Right]
        assert handles[openvr.Eye_Left] != handles[openvr.Eye_Right]
    assert r["shutdowns"] == 1


def test_poses_pace_the_frame_and_timing_is_kept(gl_result):
    r = gl_result
    assert r["wait_calls"] == 12
    # The double blocks to 90 Hz slots: 12 frames take at least 11 periods.
    assert r["wait_span_s"] >= 11 / 90 - 0.002
    stats = r["stats"]
    assert stats["frames"] == 12
    assert stats["dropped_frames"] == 1
    assert stats["submits"] == 24 or stats["submits"] == len(r["submits"])


def test_hidden_area_mesh_masks_its_pixels(gl_result):
    r = gl_result
    for eye in ("left", "right"):
        assert max(r[f"{eye}_corner_rgb"]) < 0.02, f"{eye}: hidden corner not black"
        assert min(r[f"{eye}_outside_rgb"]) > 0.1, f"{eye}: visible area should show the background"


def test_software_renderer_also_works():
    r = _run("tinydisplay", 4)
    assert r["left_post_brightness"] > 0.8 and r["right_post_brightness"] > 0.8
    assert len(r["submits"]) == 8
