"""One leg's state in the patient model (devices/sim/patient.py): stance pose or swing plan, the
foot's pose, and the ground truth being gathered. Its own module so that the model's parts
(patient_truth.py, patient_episodes.py) can name it without importing the model back."""

from __future__ import annotations

import math

HEEL_STRIKE_PITCH_RAD = math.radians(-15.0)  # foot pitch at heel strike (toe up; Winter, rounded)


class LegState:
    """Per-leg state: stance pose or swing plan, the foot's pose, and the truth being gathered."""

    __slots__ = (
        "side", "in_stance", "heel_x", "ground", "x0", "x1", "z1", "g0", "g1", "land_x", "req",
        "mtc", "peak1", "swing_t0", "swing_min", "swing_min_t", "swing_peak", "crossings",
        "ankle_x", "ankle_z", "pitch", "heel", "toe", "prev_mid", "prev_vel", "prev_pitch",
        "pitch_rate", "accel", "dorsi", "last_hs_t", "roles", "closed",
        "catch_t0", "catch_x", "catch_z", "catch_v", "prev_ankle_x", "ankle_vx", "land_pitch", "guided",
        "lift_off", "lift_dorsi", "to_phase", "hs_phase", "press_m", "aim", "lip", "prev_toe", "swing_s", "reach", "land_sole",
        "tremble", "pitch_plan", "late_lift",
    )

    def __init__(self, side: int, heel_x: float) -> None:
        self.side = side
        self.in_stance = True
        self.heel_x = heel_x
        self.ground = 0.0
        self.x0 = self.x1 = self.z1 = self.g0 = self.g1 = self.land_x = 0.0
        self.req: list[tuple[float, float, float, float, float]] = []  # (u_from, u_to, z, off span, u past) windows
        self.mtc = 0.013
        self.peak1 = 0.06
        self.tremble = 1.0  # a freeze's trembling step: its swing pattern's size (1: the usual)
        self.pitch_plan: list[tuple[float, float]] = []  # this swing's planned pitch (u, rad), set at toe off
        self.late_lift = 0.012  # the foot's lowest point over its MTC in late swing (m)
        self.swing_t0 = 0.0
        self.swing_s = 0.4  # this swing's planned duration (s), set at toe off
        self.swing_min = math.inf
        self.swing_min_t = 0.0
        self.swing_peak = 0.0
        self.crossings: dict[int, dict] = {}
        self.ankle_x = self.ankle_z = self.pitch = 0.0
        self.heel = (heel_x, 0.0)
        self.toe = (heel_x, 0.0)
        # the toe (route x, height) at the last swing tick's truth: where it was coming from when
        # it reached an obstacle's near face (devices/obstacle_face.py); NaN before the first
        self.prev_toe = (math.nan, math.nan)
        self.prev_mid: tuple[float, float] | None = None
        self.prev_vel: tuple[float, float] | None = None
        self.prev_pitch: float | None = None
        self.pitch_rate = 0.0
        self.accel = (0.0, 0.0)
        self.dorsi = 0.0
        self.catch_t0 = -math.inf  # when an obstacle caught this swing foot (a trip)
        self.catch_x = self.catch_z = self.catch_v = 0.0
        self.prev_ankle_x: float | None = None
        self.ankle_vx = 0.0  # the ankle's speed along the route (over the belt), m/s
        self.last_hs_t: float | None = None
        self.land_pitch = HEEL_STRIKE_PITCH_RAD  # foot pitch at the last heel strike
        self.guided = False  # this swing places the foot by sight (approach or crossing step)
        # the joints' offset from the swing plan at toe off (hip, knee; None until the first swing
        # tick): the leg leaves the ground from where stance left it and blends into its plan
        self.lift_off: tuple[float, float] | None = None
        # the aim's lift of the swing ankle as the leg has taken it up (m), its rate (m/s) and the
        # lift aimed at last tick (m); None until the first swing tick
        self.aim: list[float] | None = None
        # the landing reach's lowering of the ankle (m), its rate (m/s) and its last target (m);
        # None until the first swing tick (patient.py _reach_followed)
        self.reach: list[float] | None = None
        self.land_sole: float | None = None  # the sole's lowest point under the ankle, low-passed (m)
        self.lift_dorsi: float | None = None  # the same for the ankle (a foot drop's toe-off pitch)
        # the leg's phase at which this swing began and this stance began (the profile's stance
        # fraction and 0 unless the foot left or met the ground early)
        self.to_phase: float | None = None
        self.hs_phase = 0.0
        # how far the swing foot's drive would take its sole below the ground this tick (the
        # walkway stops it there: how hard a dragging toe presses on the belt), 0 when it is clear
        self.press_m = 0.0
        # a stance foot across a curb's face, heel before it: the edge (m ahead of the heel, m above
        # its ground) its sole rests on; None otherwise
        self.lip: tuple[float, float] | None = None
        self.roles: dict[int, str] = {}  # obstacle index -> lead or trail, for the swing over it
        self.closed: set[int] = set()  # obstacles whose crossing by this leg is decided
