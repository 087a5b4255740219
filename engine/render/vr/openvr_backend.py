"""Rendering to a headset through OpenVR (the `openvr` package).

Two offscreen eye buffers at the runtime's recommended render-target size, each seen by a camera
with a MatrixLens holding the runtime's projection, placed under an HMD anchor by the runtime's
eye-to-head transform. A task that runs before everything else calls `waitGetPoses`, which blocks
until the compositor wants the next frame (that wait paces the frame) and gives the head pose.
Each eye's display region submits its texture to the compositor from its draw callback, right
after drawing. The hidden-area mesh is drawn first into each eye at the near plane so the scene
never shades pixels the lenses hide. Frame-timing statistics (dropped, mispresented and
reprojected frames) are gathered for the session record.

The OpenVR module is injected (`vr_module`), so tests run the real Panda3D side against a double
that records what it receives; nothing here uses the global `base`.
"""

from __future__ import annotations

import ctypes
import logging
import time
from dataclasses import dataclass, field
from types import ModuleType

from panda3d.core import (
    CallbackObject,
    Camera,
    CS_default,
    CS_yup_right,
    Geom,
    GeomNode,
    GeomTriangles,
    GeomVertexData,
    GeomVertexFormat,
    GeomVertexWriter,
    LMatrix4,
    MatrixLens,
    NodePath,
    OrthographicLens,
    Texture,
)

log = logging.getLogger(__name__)

# OpenVR is right-handed Y-up; Panda3D is right-handed Z-up.
_YUP_TO_ZUP = LMatrix4.convert_mat(CS_yup_right, CS_default)
_ZUP_TO_YUP = LMatrix4.convert_mat(CS_default, CS_yup_right)

EYES = ("left", "right")


def pose_to_panda(m34) -> LMatrix4:
    """An OpenVR HmdMatrix34_t (column vectors, Y-up) as a Panda3D transform (row vectors, Z-up)."""
    m = m34.m
    raw = LMatrix4(
        m[0][0], m[1][0], m[2][0], 0.0,
        m[0][1], m[1][1], m[2][1], 0.0,
        m[0][2], m[1][2], m[2][2], 0.0,
        m[0][3], m[1][3], m[2][3], 1.0,
    )  # fmt: skip
    return _ZUP_TO_YUP * raw * _YUP_TO_ZUP


def projection_to_panda(m44) -> LMatrix4:
    """An OpenVR HmdMatrix44_t projection as a MatrixLens user matrix (from Panda3D eye space)."""
    m = m44.m
    raw = LMatrix4(*[m[row][col] for col in range(4) for row in range(4)])  # transpose
    return _ZUP_TO_YUP * raw


@dataclass
class FrameTimingStats:
    """Headset frame statistics kept with the session (Store.add_frame_timing)."""

    frames: int = 0
    submits: int = 0
    submit_errors: int = 0
    dropped_frames: int = 0
    mispresented_frames: int = 0
    reprojected_frames: int = 0
    invalid_poses: int = 0
    wait_ms: list[float] = field(default_factory=list)
    gpu_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-able figures: counts plus mean and p99 of the pose wait and the GPU time."""

        def pct(values: list[float], q: float) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return {
            "source": "openvr",
            "frames": self.frames,
            "submits": self.submits,
            "submit_errors": self.submit_errors,
            "dropped_frames": self.dropped_frames,
            "mispresented_frames": self.mispresented_frames,
            "reprojected_frames": self.reprojected_frames,
            "invalid_poses": self.invalid_poses,
            "wait_get_poses_ms_mean": (sum(self.wait_ms) / len(self.wait_ms)) if self.wait_ms else None,
            "wait_get_poses_ms_p99": pct(self.wait_ms, 0.99),
            "gpu_ms_p99": pct(self.gpu_ms, 0.99),
        }


class OpenVRBackend:
    """Stereo rendering into an OpenVR compositor for one ShowBase.

    `parent` is the node that carries the patient along the route (the tracking space is placed
    under it, so head motion adds to the belt-synchronised position).
    """

    POSE_TASK_SORT = -1000  # before every other task: the pose must be fresh for this frame

    def __init__(
        self,
        base,
        parent: NodePath,
        vr_module: ModuleType | None = None,
        near_m: float = 0.05,
        far_m: float = 500.0,
        background_rgba: tuple[float, float, float, float] = (0.55, 0.7, 0.9, 1.0),
        copy_to_ram: bool = False,
    ) -> None:
        if vr_module is None:
            import openvr as vr_module
        self.vr = vr_module
        self.base = base
        self.parent = parent
        self.near_m = near_m
        self.far_m = far_m
        self.background_rgba = background_rgba
        self.copy_to_ram = copy_to_ram  # for screenshots on renderers that cannot read textures back
        self.system = None
        self.compositor = None
        self.size: tuple[int, int] = (0, 0)
        self.tracking_space: NodePath | None = None
        self.hmd_anchor: NodePath | None = None
        self.eye_anchors: dict[str, NodePath] = {}
        self.eye_cameras: dict[str, NodePath] = {}
        self.eye_lenses: dict[str, MatrixLens] = {}
        self.eye_textures: dict[str, Texture] = {}
        self.eye_buffers: dict = {}
        self.hidden_area: dict[str, NodePath] = {}
        self.stats = FrameTimingStats()
        self._poses = None
        self._eye_ids: dict[str, int] = {}
        self._handles: dict[str, int] = {}
        self._submitted_this_frame = 0
        self._task = None
        self.last_pose_time_s = float("nan")

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Initialise the runtime, build both eyes, start the pose task. Raises on no runtime."""
        vr = self.vr
        self.system = vr.init(vr.VRApplication_Scene)
        self.compositor = vr.VRCompositor()
        width, height = self.system.getRecommendedRenderTargetSize()
        self.size = (int(width), int(height))
        gsg = self.base.win.get_gsg()
        if gsg is not None and not gsg.get_supports_tex_non_pow2():
            # A software renderer (tests, mirrors) only has power-of-two textures.
            self.size = tuple(1 << (int(n) - 1).bit_length() for n in self.size)
        log.info("OpenVR: headset render target %dx%d per eye", *self.size)
        self._eye_ids = {"left": vr.Eye_Left, "right": vr.Eye_Right}
        self._poses = (vr.TrackedDevicePose_t * vr.k_unMaxTrackedDeviceCount)()
        self.tracking_space = self.parent.attach_new_node("vr-tracking-space")
        self.hmd_anchor = self.tracking_space.attach_new_node("vr-hmd")
        for eye in EYES:
            self._build_eye(eye)
        self._task = self.base.task_mgr.add(self._pose_task, "openvr-poses", sort=self.POSE_TASK_SORT)

    def stop(self) -> dict:
        """Stop the pose task, release the buffers and the runtime; returns the frame statistics."""
        if self._task is not None:
            self.base.task_mgr.remove(self._task)
            self._task = None
        try:
            cumulative = self.compositor.getCumulativeStats(ctypes.sizeof(self.vr.Compositor_CumulativeStats))
            # The runtime's own totals win over what we sampled frame by frame.
            self.stats.dropped_frames = max(self.stats.dropped_frames, int(cumulative.m_nNumDroppedFrames))
            self.stats.reprojected_frames = max(self.stats.reprojected_frames, int(cumulative.m_nNumReprojectedFrames))
        except Exception as exc:  # stats are nice to have; shutting down must not fail on them
            log.debug("OpenVR cumulative stats unavailable: %s", exc)
        for buffer in self.eye_buffers.values():
            self.base.graphicsEngine.remove_window(buffer)
        self.eye_buffers.clear()
        if self.tracking_space is not None:
            self.tracking_space.remove_node()
        try:
            self.vr.shutdown()
        except Exception as exc:
            log.warning("OpenVR shutdown: %s", exc)
        return self.stats.summary()

    # -- building -------------------------------------------------------------------------------
    def _build_eye(self, eye: str) -> None:
        eye_id = self._eye_ids[eye]
        width, height = self.size
        texture = Texture(f"vr-{eye}-eye")
        buffer = self.base.win.make_texture_buffer(f"vr-{eye}-buffer", width, height, texture, self.copy_to_ram)
        if buffer is None:
            raise RuntimeError(f"could not create the {eye} eye buffer ({width}x{height})")
        buffer.set_clear_color(self.background_rgba)
        buffer.set_sort(-10 if eye == "left" else -9)  # both eyes before the desktop window
        # Head-to-eye offset from the runtime (IPD and canting).
        anchor = self.hmd_anchor.attach_new_node(f"vr-{eye}-eye")
        anchor.set_mat(pose_to_panda(self.system.getEyeToHeadTransform(eye_id)))
        lens = MatrixLens()
        lens.set_user_mat(projection_to_panda(self.system.getProjectionMatrix(eye_id, self.near_m, self.far_m)))
        camera = anchor.attach_new_node(Camera(f"vr-{eye}-camera", lens))
        camera.node().set_scene(self.base.render)
        self._add_hidden_area(eye, eye_id, buffer)
        region = buffer.make_display_region()
        region.set_sort(1)
        region.set_camera(camera)
        region.set_draw_callback(CallbackObject.make(lambda cbdata, eye=eye: self._draw_and_submit(cbdata, eye)))
        self.eye_anchors[eye] = anchor
        self.eye_cameras[eye] = camera
        self.eye_lenses[eye] = lens
        self.eye_textures[eye] = texture
        self.eye_buffers[eye] = buffer

    def _add_hidden_area(self, eye: str, eye_id: int, buffer) -> None:
        """Draw the runtime's hidden-area mesh first, at the near plane, writing depth: the scene
        then fails the depth test (and is never shaded) where the lenses hide the pixels."""
        mesh = self.system.getHiddenAreaMesh(eye_id)
        count = int(getattr(mesh, "unTriangleCount", 0) or 0)
        if count <= 0 or not mesh.pVertexData:
            return
        vdata = GeomVertexData(f"hidden-{eye}", GeomVertexFormat.get_v3(), Geom.UH_static)
        vdata.set_num_rows(count * 3)
        writer = GeomVertexWriter(vdata, "vertex")
        for i in range(count * 3):
            vertex = mesh.pVertexData[i]
            # OpenVR gives [0,1] texture coordinates with v down; the ortho camera spans -1..1.
            writer.add_data3(vertex.v[0] * 2.0 - 1.0, 0.0, 1.0 - vertex.v[1] * 2.0)
        triangles = GeomTriangles(Geom.UH_static)
        triangles.add_consecutive_vertices(0, count * 3)
        geom = Geom(vdata)
        geom.add_primitive(triangles)
        node = GeomNode(f"hidden-area-{eye}")
        node.add_geom(geom)
        root = NodePath(f"hidden-area-root-{eye}")
        mesh_np = root.attach_new_node(node)
        mesh_np.set_two_sided(True)
        mesh_np.set_color(0, 0, 0, 1)
        mesh_np.set_depth_test(False)
        mesh_np.set_depth_write(True)
        mesh_np.set_light_off(1)
        mesh_np.set_fog_off(1)
        lens = OrthographicLens()
        lens.set_film_size(2.0, 2.0)
        lens.set_near_far(-1.0, 1000.0)  # the mesh at y=0 sits on the near plane (depth 0)
        camera = root.attach_new_node(Camera(f"hidden-area-camera-{eye}", lens))
        camera.set_y(-1.0)
        region = buffer.make_display_region()
        region.set_sort(0)
        region.set_camera(camera)
        self.hidden_area[eye] = root

    # -- per frame ------------------------------------------------------------------------------
    def _pose_task(self, task):
        """Block in waitGetPoses until the compositor wants a frame, then place the head."""
        t0 = time.monotonic()
        self.compositor.waitGetPoses(self._poses, None)
        t1 = time.monotonic()
        self.stats.wait_ms.append((t1 - t0) * 1000.0)
        self.last_pose_time_s = t1
        self.stats.frames += 1
        self._sample_frame_timing()
        hmd = self._poses[self.vr.k_unTrackedDeviceIndex_Hmd]
        if hmd.bPoseIsValid:
            self.hmd_anchor.set_mat(pose_to_panda(hmd.mDeviceToAbsoluteTracking))
        else:
            self.stats.invalid_poses += 1  # keep the last pose; do not snap to the floor
        return task.cont

    def _sample_frame_timing(self) -> None:
        try:
            ok, timing = self.compositor.getFrameTiming(1)  # the frame that was just presented
        except Exception:
            return
        if not ok:
            return
        if timing.m_nNumDroppedFrames:
            self.stats.dropped_frames += int(timing.m_nNumDroppedFrames)
        if timing.m_nNumMisPresented:
            self.stats.mispresented_frames += int(timing.m_nNumMisPresented)
        if timing.m_nReprojectionFlags:
            self.stats.reprojected_frames += 1
        if timing.m_flTotalRenderGpuMs > 0.0:
            self.stats.gpu_ms.append(float(timing.m_flTotalRenderGpuMs))

    def _draw_and_submit(self, cbdata, eye: str) -> None:
        """Draw the eye, then hand its texture to the compositor while the GL context is current."""
        cbdata.upcall()
        handle = self._handles.get(eye)
        if not handle:
            handle = self._texture_handle(eye)
        texture = self.vr.Texture_t()
        texture.handle = handle
        texture.eType = self.vr.TextureType_OpenGL
        texture.eColorSpace = self.vr.ColorSpace_Gamma
        try:
            self.compositor.submit(self._eye_ids[eye], texture)
            self.stats.submits += 1
        except Exception as exc:  # a compositor error must not kill the frame loop
            self.stats.submit_errors += 1
            if self.stats.submit_errors <= 3:
                log.warning("OpenVR submit (%s eye) failed: %s", eye, exc)

    def _texture_handle(self, eye: str) -> int:
        """The GL name of the eye texture (0 on a software renderer)."""
        gsg = self.eye_buffers[eye].get_gsg()
        context = self.eye_textures[eye].prepare_now(0, gsg.get_prepared_objects(), gsg)
        handle = int(context.get_native_id()) if context is not None else 0
        if handle:
            self._handles[eye] = handle
        return handle

    # -- therapist's mirror ---------------------------------------------------------------------
    def make_mirror(self, parent2d: NodePath, frame: tuple[float, float, float, float]) -> NodePath:
        """A card on the desktop window showing the left eye (the therapist sees what the patient sees)."""
        from panda3d.core import CardMaker

        maker = CardMaker("vr-mirror")
        maker.set_frame(*frame)
        card = parent2d.attach_new_node(maker.generate())
        card.set_texture(self.eye_textures["left"])
        return card
