"""A recording double of the `openvr` module: the one thing a test machine cannot have.

It answers with a fixed headset (render-target size, per-eye projections and eye-to-head
offsets, a hidden-area mesh covering the top-left corner, a head pose) and records everything the
code hands it: init/shutdown, waitGetPoses calls, and every submitted texture with its eye and
handle. Structures are the real ctypes ones from the openvr package, so field names are checked.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, field

import openvr as real

SIZE = (320, 240)
EYE_OFFSET_M = 0.032  # half the inter-pupillary distance


def projection(left: float, right: float, top: float, bottom: float, near: float, far: float):
    """An OpenGL-style off-axis projection (OpenVR's getProjectionMatrix layout)."""
    m = real.HmdMatrix44_t()
    idx, idy = 1.0 / (right - left), 1.0 / (bottom - top)
    values = [
        [2 * idx, 0, (right + left) * idx, 0],
        [0, 2 * idy, (bottom + top) * idy, 0],
        [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
        [0, 0, -1, 0],
    ]
    for r in range(4):
        for c in range(4):
            m.m[r][c] = values[r][c]
    return m


def translation34(x: float, y: float, z: float):
    m = real.HmdMatrix34_t()
    for r in range(3):
        m.m[r][r] = 1.0
    m.m[0][3], m.m[1][3], m.m[2][3] = x, y, z
    return m


# Tangents of the half-angles per eye: slightly asymmetric, like a real headset's canted frusta.
TANGENTS = {
    real.Eye_Left: (-1.1, 0.9, -0.9, 0.9),  # left, right, top(-up), bottom
    real.Eye_Right: (-0.9, 1.1, -0.9, 0.9),
}


@dataclass
class Recording:
    inits: list = field(default_factory=list)
    shutdowns: int = 0
    wait_calls: list = field(default_factory=list)
    submits: list = field(default_factory=list)  # (eye, handle, eType, frame index)
    projection_requests: list = field(default_factory=list)


class _System:
    def __init__(self, rec: Recording) -> None:
        self.rec = rec

    def getRecommendedRenderTargetSize(self):
        return SIZE

    def getProjectionMatrix(self, eye, near, far):
        self.rec.projection_requests.append((eye, near, far))
        left, right, top, bottom = TANGENTS[eye]
        return projection(left * near, right * near, top * near, bottom * near, near, far)

    def getEyeToHeadTransform(self, eye):
        return translation34(-EYE_OFFSET_M if eye == real.Eye_Left else EYE_OFFSET_M, 0.0, 0.0)

    def getHiddenAreaMesh(self, eye, type_=0):
        # Two triangles covering the top-left 20% x 20% corner, in [0,1] texture coordinates.
        corners = [(0, 0), (0.2, 0), (0, 0.2), (0.2, 0), (0.2, 0.2), (0, 0.2)]
        array = (real.HmdVector2_t * len(corners))()
        for i, (u, v) in enumerate(corners):
            array[i].v[0], array[i].v[1] = u, v
        self._keep = getattr(self, "_keep", []) + [array]
        mesh = real.HiddenAreaMesh_t()
        mesh.pVertexData = ctypes.cast(array, ctypes.POINTER(real.HmdVector2_t))
        mesh.unTriangleCount = 2
        return mesh


class _Compositor:
    def __init__(self, rec: Recording, head_height_m: float, frame_period_s: float) -> None:
        self.rec = rec
        self.head_height_m = head_height_m
        self.frame_period_s = frame_period_s
        self._next_s = 0.0
        self.frame_index = 0

    def waitGetPoses(self, render_poses, game_poses):
        # Pace like a 90 Hz compositor: block until the next frame slot.
        now = time.monotonic()
        if self._next_s > now:
            time.sleep(self._next_s - now)
        self._next_s = max(now, self._next_s) + self.frame_period_s
        self.frame_index += 1
        self.rec.wait_calls.append(time.monotonic())
        hmd = render_poses[real.k_unTrackedDeviceIndex_Hmd]
        hmd.bPoseIsValid = True
        hmd.mDeviceToAbsoluteTracking = translation34(0.0, self.head_height_m, 0.0)
        return render_poses, game_poses

    def submit(self, eye, texture, bounds=None, submitFlags=0):
        self.rec.submits.append((int(eye), int(texture.handle or 0), int(texture.eType), self.frame_index))

    def getFrameTiming(self, frames_ago=0):
        timing = real.Compositor_FrameTiming()
        timing.m_nFrameIndex = self.frame_index
        timing.m_nNumFramePresents = 1
        timing.m_nNumDroppedFrames = 1 if self.frame_index == 3 else 0  # one drop to count
        timing.m_nReprojectionFlags = 0
        timing.m_flTotalRenderGpuMs = 2.0
        return True, timing

    def getCumulativeStats(self, size):
        stats = real.Compositor_CumulativeStats()
        stats.m_nNumFramePresents = self.frame_index
        stats.m_nNumDroppedFrames = 1
        return stats


class OpenVRDouble:
    """Module-shaped: pass as `vr_module`. Constants and structures come from the real package."""

    def __init__(self, runtime: bool = True, hmd: bool = True, head_height_m: float = 1.6,
                 frame_period_s: float = 1 / 90) -> None:
        self.rec = Recording()
        self._runtime = runtime
        self._hmd = hmd
        self._system = _System(self.rec)
        self._compositor = _Compositor(self.rec, head_height_m, frame_period_s)

    def __getattr__(self, name):
        return getattr(real, name)  # constants, structures

    def isRuntimeInstalled(self):
        return self._runtime

    def isHmdPresent(self):
        return self._hmd

    def init(self, app_type, startup_info=None):
        self.rec.inits.append(app_type)
        if not (self._runtime and self._hmd):
            raise real.error_code.InitError_Init_HmdNotFound()
        return self._system

    def VRCompositor(self):
        return self._compositor

    def shutdown(self):
        self.rec.shutdowns += 1
