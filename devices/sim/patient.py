"""The simulated patient: perceives the scene, plans its steps, walks on the belt in the exoskeleton.

Kinematic, not dynamic, but every number the core measures has a true value that follows from
the patient's true joints:
- Positions are route metres (the belt's frame: a planted foot keeps its x while the belt
  carries it back). The hip moves along the route toward the midpoint of the heels at the next
  heel strike, so it drifts on the treadmill when steps are lengthened or shortened, and the
  patient steers it home with its next steps. Step length is therefore not belt speed x step
  time: modulation, asymmetry and variability move the feet, and the drift closes the books.
- Each swing is planned at toe off: where the heel lands (the preferred step, adjusted in the
  last `adjust_steps` steps before an obstacle so the trail foot takes off at
  `take_off_distance_m`; Chen 1994: few adjustments more than 2 steps ahead, older adults one
  step earlier), and the height of the foot's lowest point along the swing: a level-walking
  profile whose minimum is a drawn minimum toe clearance (Winter: 1.3 +/- 0.45 cm), raised over
  an obstacle to its top plus a crossing clearance that rises non-linearly with its height
  (Chen 1991: 64 mm lead clearance over 25 mm), capped by the leg's `max_toe_clearance_m`.
- The plan is turned into hip and knee angles by inverse kinematics within the joint ranges
  (a knee that cannot bend enough leaves the toe lower than planned), the ankle within its
  dorsiflexion limit (foot drop drops the toe), then the exoskeleton acts in swing: guidance
  pulls hip and knee toward its reference (springs in parallel), the clearance boost adds hip
  and knee flexion and dorsiflexion. The exoskeleton's pull engages a swinging leg through its
  inertia (Winter's segment parameters): from none at toe off (the ground held the foot), the
  joint's deviation from the patient's own pattern grows to the springs' equilibrium as a
  critically damped step response, so a foot never jumps. The feet are then forward
  kinematics of these true angles.
  Stance legs are held by the ground: their angles follow from the planted foot and the pelvis.
- A swing foot that enters an obstacle's box is a touch, deeper than TRIP_PENETRATION_M a trip
  (deeper than BALANCE_LOSS_PENETRATION_M a loss of balance); a tripped swing foot is held by the
  obstacle for CATCH_S (it moves with the belt, the joints follow), then freed; trips shorten and slow the next
  steps. Landing inside a box is a touch (stepped on or in it).
- Parkinsonian profiles freeze (very short, fast trembling steps) with `freeze_probability`
  before doorways, obstacles and at walking starts, and festinate (faster, shorter steps).
- Intended speed: the self-selected `comfortable_speed_mps`, varying slowly (Ornstein-Uhlenbeck,
  `speed_intent_cv`), lower with fatigue and before obstacles, zero while frozen.
Modules: this one walks the patient (state, events, planning, pose, the exoskeleton's action);
swing_shape.py the shapes of a swing; crossing.py the clearance a leg aims for over an obstacle;
exo_drive.py what the exoskeleton applies; patient_truth.py the crossing truth and the truth
record; patient_episodes.py freezing, festination and intended speed; patient_loads.py foot loads,
effort and heart rate (the last three are mixins of PatientModel); effort.py, balance_perturbation.py,
plantar.py, leg_kinematics.py, scene_view.py, foot.py their own parts.
Times are the caller's clock (time.monotonic() in the rig, the simulated clock in `simulate`);
the devices stamp frames with the same clock, so device and host times of an event agree.
"""

from __future__ import annotations

import math
import random

from devices.base import JointMode
from devices.sim import leg_kinematics as lk
from devices.sim.crossing import MIN_CROSSING_CLEARANCE_M, crossing_clearance_m, required_lift_m  # noqa: F401
from devices.sim.effort import Effort
from devices.sim.exo_drive import ExoDrive  # noqa: F401
from devices.sim.foot import FootState
from devices.sim.leg_state import HEEL_STRIKE_PITCH_RAD, LegState
from devices.sim.patient_episodes import FREEZE_ONSET_TAU_S, EpisodesAndIntent  # noqa: F401
from devices.sim.patient_loads import HR_TAU_S, LoadsAndEffort  # noqa: F401
from devices.sim.patient_truth import (  # noqa: F401
    BALANCE_LOSS_PENETRATION_M,
    MTC_WINDOW,
    TRIP_PENETRATION_M,
    CrossingTruth,
    hazard_end_m,
)
from devices.sim.plantar import FootRoll
from devices.sim.profiles import PatientProfile
from devices.sim.scene_view import SceneObstacle, Walkway, obstacles_from
from devices.sim.swing_shape import _profile_points, _smooth, _soft_min, _swing_travel  # noqa: F401

__all__ = ["ExoDrive", "FootState", "PatientModel", "simulate"]

V_WALK_MIN_MPS = 0.05  # below this belt speed the patient stops stepping
V_FINISH_STEP_MPS = 0.2  # pace used to finish a step when the belt stops mid-swing
# A patient who stops stepping (belt stopped, held) brings the body to rest over the feet within
# this time after its last heel strike (a modelling choice: gait termination ends within about one
# step). Without it the pelvis kept the last swing's speed through a stand: 4.9 m ahead of the
# feet after a 13 s stop, legs out of reach (docs/control.md "One bad footprint").
STAND_SETTLE_S = 0.3
# Standing still on both feet (the belt stopped), the weight settles over both legs in their
# standing shares (limb_loading) over about this long; the gait's shares return as fast when the
# patient steps off again (project's choice, the order of a stop's settling). Left at the gait's
# shares, a paretic foot that had just landed carried 1.3 % of the body weight for the whole stop,
# at the insoles' contact thresholds: its contact flickered off and on (a phantom toe off and
# heel strike 130-200 ms apart, severe-stroke-slow at a belt stop)
STAND_SHIFT_S = 0.5
EXO_MAX_STIFFNESS_NM_PER_RAD = 200.0  # guidance stiffness 1.0
EXO_DAMPING_NMS_PER_RAD = 4.0
BOOST_KNEE_DEG = 34.0  # extra swing knee flexion at boost 1.0 (the core's refgait asks as much)
BOOST_HIP_DEG = 20.0
BOOST_DORSI_DEG = 12.0
# A caught foot (a trip): the obstacle stops it, stiffer than any joint drive; the foot stays with
# the belt for CATCH_S, then the patient lifts it free and the swing blends back to its plan.
CATCH_S = 0.12
CATCH_TAU_S = 0.012  # the arrest: the foot's speed over the belt decays with this time constant
RELEASE_S = 0.15
DRIFT_GAIN = 0.15  # share of the hip's offset on the treadmill corrected by each step (slow: it must not undo asymmetry)
CROSSING_EFFORT = 5.0  # the patient's impedance while it lifts a foot over an obstacle, x its usual
GROUND_TOLERANCE_M = 1e-4
PELVIS_RISE_MAX_MPS = 1.5  # a bound on the pelvis's rise (level walking stays within ~0.3 m/s: Winter 2009)
PELVIS_SWING_DROP_MAX_M = 0.08  # the most a swinging leg lowers the pelvis below where the stance leg holds it
# ... except stepping down, where the stance knee bends up to this (or the patient's own range) to
# lower the body until the landing leg reaches the lower ground: the support knee bends to about
# 90 deg descending stairs (project's reading of stair-descent kinematics, not a cited figure). The
# model's stance foot is in heel rise then, its ankle 15-20 cm up: at 60 deg a 0.85 m step off a
# 10 cm curb still stopped its straight leg's heel 1.5 cm over the ground
STEP_DOWN_KNEE_MAX_RAD = math.radians(90.0)
PELVIS_SMOOTH_M = 0.01  # the pelvis passes from one leg's bound to another's over this much (no corner)
PELVIS_DOWN_BY_U = 1.0  # the pelvis is down to where the landing leg reaches by this share of the swing
# The pull engages faster than the passive leg's natural frequency alone: the patient's own
# muscles are active too (project's choice: 4x, so a healthy walker's MTC stays 1-1.5 cm under
# guidance, as measured on sidewalk-curb-crossing, seed 0)
ENGAGE_GAIN = 4.0
# Both feet down, the body slows to a stop over the front foot's ankle within about this (it
# does not pass it without a step: project's choice, a first-order approach, no speed step)
DOUBLE_SUPPORT_STOP_S = 0.1
LIFT_OFF_BLEND_U = 0.2  # share of the swing over which the toe-off pose blends into the swing plan
# A trailing leg leaves the ground when the hip passes so far over it that its thigh reaches the
# hip's extension limit (a leg cannot stay on a foot it cannot reach: the stance foot must be
# within reach). Peak hip extension in walking is about 10-20 deg (Winter 2009: -10..-20 deg at
# toe off); this sagittal model has no pelvic tilt or rotation, which in life lend the step some
# of its length, so its thigh runs a little further back in normal walking (-17..-28 deg measured
# on the shipped profiles): the limit sits beyond that and acts only where the foot was placed out
# of the leg's reach (a landing pulled short by the exoskeleton).
HIP_EXTENSION_LIMIT_RAD = math.radians(30.0)
# How far ahead of a stance foot's ankle the pelvis can be, as a share of the leg's reach: _pose's
# pelvis comes down to half the reach at most (sqrt(1 - 0.5^2)), and a pelvis further on leaves
# the foot out of the leg's reach
HIP_AHEAD_OF_STANCE_REACH = math.sqrt(0.75)
EARLY_TOE_OFF_MIN_Q = 0.5  # only a leg past mid stance (heel rise) leaves early
# A swing foot that meets the ground in terminal swing (the leg reaching forward to land) and
# that the joints cannot lift (a knee at the end of its range, a dropped foot held low) lands
# there: it is on the ground, not through it (the step ends early and short). Earlier in the
# swing such a foot drags its toe (a scuff), it does not land.
EARLY_LANDING_MIN_U = 0.85
# How far a knee gives when the belt pushes a scuffing foot up: a knee's whole range, not the
# patient's active one (clinical norms put knee flexion at about 135-150 deg; this project's
# choice is 140, the top of knee_flexion_max_deg in profiles.RANGES)
KNEE_PASSIVE_MAX_RAD = math.radians(140.0)
# A swing target at or beyond the straight leg's reach is approached smoothly within this much
# of it (project's choice: 1 mm, inside the stance knee's 5 deg; the leg is singular there: a
# dropped foot's leg straightened in one tick at the end of its swing, 200-300 m/s^2)
SWING_REACH_SMOOTH_M = 0.001
# The aim's lift of a swing ankle (see _aim_engaged) follows its own rate up to this; faster is a
# jump of the aim's solution. Project's choice: about the smooth lifts' largest rate (0.53 m/s
# healthy, 0.64 frail-older, 0.82 parkinsonian: seed 1, 15 s) and well below the dropped feet's
# jumps (1.5-4.5 m/s, hemiparetic-left's paretic leg's p99 and max).
AIM_LIFT_RATE_MAX_MPS = 0.5
AIM_PASSES = 4  # inverse-kinematics passes that aim the foot's lowest point with the pitch the ankle can give
DORSI_SMOOTH_RAD = math.radians(4.0)  # the ankle meets its dorsiflexion limit over this much (tissue stiffens)
KNEE_SMOOTH_RAD = DORSI_SMOOTH_RAD  # a swing knee meets its flexion limit the same way (it stopped in one tick)
# A foot that lands across a curb's face rests on the stone when the ball of its foot (the
# metatarsal heads, at this share of heel to toe, as in balance_perturbation.py) is over it
BALL_OF_FOOT = 0.7
# A lift over an obstacle comes off by this share of the swing and no faster than this at its
# steepest, so the heel lands on the level swing's gentle approach (Winter 1992: a heel lands
# with negligible vertical velocity; terminal-swing hamstrings slow the leg). Project's choice.
LIFT_OFF_BY_U = 0.97
LIFT_DESCENT_MAX_MPS = 1.5
LIFT_PAST_M = 0.02  # ... but not before the heel is this far past the obstacle's far edge (by plan)
# A swing foot the exoskeleton's guidance holds above where the patient's own pattern would put
# it is brought down to it from this share of the swing on (see _reach_the_landing); project's
# choice: terminal swing, after mid swing's minimum toe clearance
LANDING_REACH_FROM_U = 0.7
LANDING_REACH_MIN_S = 0.12  # ... and over this long at least (a trembling swing is ~0.15 s)
LANDING_PLAN_U = 0.15  # over this last share of the swing down to its plan too (the aim's lift lags above it)
LANDING_PITCH_TAU_S = 0.02  # the pelvis's landing bound takes the foot's real pitch low-passed over this
LANDING_REACH_OMEGA = 60.0  # rad/s: the leg follows the reach within ~30 ms (project's choice)
LANDING_REACH_RATE_MAX_MPS = 1.0
LANDING_REACH_SMOOTH_M = 0.001  # the foot passes from above its plan to on it over about this much
MIN_TOE_GAP_M = 0.05  # a foot is placed at least this far from an obstacle's edges (by choice)
MIN_SHUFFLE_M = 0.05  # a shuffle of a few centimetres is still a step
LIFT_RAMP_MIN_U = 0.15  # a lift planned from toe off on takes this share of the swing (~60 ms) to build
SPAN_MARGIN_M = 0.08  # the real foot may lag or lead its planned path: plan the lift over a wider stretch
DRIFT_LIMIT_M = 0.35  # handrails and harness: the hip goes no further back than this
MID_SWING_PITCH_RAD = math.radians(14.0)
STANCE_KNEE_RAD = math.radians(5.0)
LOADING_KNEE_RAD = math.radians(12.0)
FREEZE_STRIDE_S = 0.45  # trembling in place: ~4.4 steps/s (FOG trembling is 3-8 Hz)
FREEZE_STEP_M = 0.03
# A trembling step is the usual swing pattern made small in proportion to its time against this
# swing's (a healthy adult's swing at the comfortable speed, ~0.4 s: Perry & Burnfield's 40 % of a
# ~1 s stride), so its foot rises, turns and comes down no faster than a normal swing's does. Taken
# at full size in ~0.15 s, a 5 cm lift and the foot's 45 deg turn from toe off to heel strike
# came down at 0.6-1.9 m/s and turned the foot at ~550 deg/s, and a backward trembling step
# straightened the knee and threw the ankle 7 cm forward in one tick (parkinsonian-freezing seed 2,
# 24.84 s: a STUMBLE without a trip). Trembling in place is a shuffle close to the floor
# (Schaafsma et al. 2003's classes: shuffling forward, trembling in place, akinesia).
TREMBLE_FULL_SWING_S = 0.4
FESTINATION_STRIDE_FACTOR = 0.75
INTENT_UPDATE_S = 0.02  # the intended speed changes slowly: update it at 50 Hz
DEG = math.pi / 180.0
_GUIDANCE, _HOLD = JointMode.GUIDANCE, JointMode.HOLD  # per joint per tick: Enum attributes are slow in CPython 3.11
# Planned foot pitch over the swing (toe-down positive): plantarflexed at toe off, about level
# at minimum toe clearance, toe up at heel strike (Winter's sagittal foot angle, rounded).
# The toe-off pitch is the profile's `toe_off_pitch_deg` (per leg).
_PITCH_PLAN_AFTER_TOE_OFF = [(0.25, 30.0 * DEG), (0.5, MID_SWING_PITCH_RAD), (0.65, 8.0 * DEG),
                             (1.0, HEEL_STRIKE_PITCH_RAD)]


class PatientModel(CrossingTruth, EpisodesAndIntent, LoadsAndEffort):
    """Steps the patient forward in time; exposes joints, contacts, feet and the ground truth."""

    def __init__(self, profile: PatientProfile, seed: int = 0, obstacles=None, perceive: bool = True) -> None:
        self.profile = profile
        self.seed = seed
        self._rng = random.Random(seed)  # step draws, in event order
        self._hr_rng = random.Random(seed * 7919 + 1)
        self._mtc_rng = random.Random(seed * 104723 + 5)
        self._fog_rng = random.Random(seed * 15485863 + 11)
        self._intent_rng = random.Random(seed * 32452843 + 13)
        self.perceive = perceive
        p = profile
        self.heel_m = p.heel_to_ankle_m
        self.t_s: float | None = None
        self.phase = 0.0  # left stride phase, 0 at left heel strike; start in double support
        self.walking = False
        self._stand_w = 0.0  # 0 walking .. 1 standing still: how far the weight has settled (STAND_SHIFT_S)
        self.stride_factor = 1.0
        self.belt_m = 0.0  # belt displacement since power-up
        self.route_origin_m = 0.0  # belt displacement when the scene was shown (route s = 0)
        self.fatigue = 0.0
        self.heart_rate_bpm = p.hr_rest_bpm
        # heart rate, fatigue and strain above the patient's capacity (devices/sim/effort.py)
        self.effort = Effort(p, HR_TAU_S)
        self.v_perceived = 0.0
        self.intent_z = 0.0
        # Test/bench hook: a function of the rig time (s) giving the intended speed (m/s), None to
        # keep the model's own (self-paced bench and tests set speeding up, slowing, stopping).
        self.intent_schedule = None
        # Bench/test hook (fa, issue 13): a balance perturbation (devices/sim/balance_perturbation.py)
        # applied every tick before the legs are posed; None: the patient walks undisturbed.
        self.perturbation = None
        self.intended_speed_mps = p.comfortable_speed_mps
        self._intent_dt = 0.0
        self.walkway = Walkway([])
        self.scene: list[SceneObstacle] = []
        half_step = 0.3
        self.hip_x = 0.0
        self.hip_z = p.thigh_m + p.shank_m + p.foot_height_m - 0.01
        self.hip_speed = 0.0
        self._hip_ramp: tuple[float, float, float, float] | None = None  # (t0, duration, from, to) of a speed change
        self.legs = [LegState(0, half_step - self.heel_m - 0.05), LegState(1, -half_step - self.heel_m + 0.05)]
        self._hold_rad = [0.0, 0.0, 0.0, 0.0]
        # the foot's pitch at toe off (heel rise ends there; the swing's pitch plan starts there)
        self._toe_off_pitch_rad = [d * DEG for d in p.toe_off_pitch_deg]
        self._pitch_plan = [[(0.0, a), *_PITCH_PLAN_AFTER_TOE_OFF] for a in self._toe_off_pitch_rad]
        self._ground_depth = 0.0  # how far the ground is into the swing foot the joints could not lift
        # the exoskeleton's pull on each swinging joint: deviation from the patient's own pattern
        # (rad); the joints' moments of inertia (hip, knee) per leg
        self._exo_dev = [0.0] * 4
        # joint limits (rad) per leg: hip and knee flexion, swing dorsiflexion; the leg's reach
        # with the stance knee (read every tick)
        self._joint_max_rad = tuple([d * DEG for d in degs] for degs in (
            p.hip_flexion_max_deg, p.knee_flexion_max_deg, p.swing_dorsiflexion_deg))
        self._stance_reach_m = lk.leg_length_for_knee(STANCE_KNEE_RAD, p.thigh_m, p.shank_m)
        # each leg's reach with its knee bent as far as a step down takes it (STEP_DOWN_KNEE_MAX_RAD)
        self._step_down_reach_m = [lk.leg_length_for_knee(min(self._joint_max_rad[1][side], STEP_DOWN_KNEE_MAX_RAD),
                                                          p.thigh_m, p.shank_m) for side in (0, 1)]
        inertia = lk.joint_inertias(p.body_mass_kg, p.thigh_m, p.shank_m, p.foot_length_m + p.heel_to_ankle_m)
        self._inertia = [inertia[0], inertia[1], inertia[0], inertia[1]]
        self.angle_rad = [0.0] * 4
        self.velocity_radps = [0.0] * 4
        self.motor_torque_nm = [0.0] * 4
        self.interaction_torque_nm = [0.0] * 4
        self.pressure = [0.0] * 4
        self.loads_n = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]  # heel, midfoot, toe per foot
        self.toe_height_m = [0.0, 0.0]
        # medial/lateral load split under each foot and per-stance load truth (plantar.py)
        self.roll = [FootRoll(random.Random(seed * 49979687 + 17 + side), p.cop_ml_sd_m, p.foot_length_m)
                     for side in (0, 1)]
        self.stances: list[dict] = []
        self._perturb: list[tuple[float, float]] = []  # (step length factor, stride factor) to come
        self.freeze_from_s = -math.inf  # a freeze runs from here (after FREEZE_LEAD_S of shortening steps) ...
        self.freeze_until_s = -math.inf  # ... to here
        self._freeze_onset_s: float | None = None  # when the steps began to shorten into the freeze under way
        self._stride_now_s = math.inf  # the stride time the phase runs at now
        self.festinate_until_s = -math.inf
        self._triggered: set = set()
        self._was_walking = False
        # ground truth
        self.heel_strikes: list[dict] = []
        self.toe_offs: list[dict] = []
        self.steps: list[dict] = []
        self.swings: list[dict] = []
        self.strides: list[dict] = []
        self.crossings: list[dict] = []
        self.trips: list[dict] = []
        self._open_trips: dict[tuple[int, int], dict] = {}  # (obstacle, side) -> its trip, until the crossing closes
        self.freezes: list[dict] = []
        self.intent: list[dict] = []
        if obstacles is not None:
            self.show_scene(obstacles)
        self._pose(0.0, ExoDrive(), 0.0, 0.0)

    # ------------------------------------------------------------------ scene
    def show_scene(self, obstacles) -> None:
        """Show the patient the scene (obstacles as SceneObstacles, dicts or a Scene). Route
        s = 0 is the belt's displacement now (the belt stands when a scene starts). The feet keep
        their place relative to the patient."""
        scene = obstacles_from(obstacles)
        shift = (self.belt_m - self.route_origin_m)
        self.route_origin_m = self.belt_m
        self.hip_x -= shift
        for leg in self.legs:
            leg.heel_x -= shift
            leg.x0 -= shift
            leg.x1 -= shift
            leg.land_x -= shift
            leg.crossings = {}
            leg.closed = set()
            leg.roles = {}
        self.scene = scene
        self._open_trips = {}
        self.walkway = Walkway(scene)
        self._triggered = set()

    @property
    def belt_route_m(self) -> float:
        """Route position of the treadmill's origin (belt displacement since the scene started)."""
        return self.belt_m - self.route_origin_m

    # ------------------------------------------------------------------ gait parameters
    def mean_step_length_m(self, speed_mps: float) -> float:
        """Preferred step length at this speed: L = sqrt(60 * walk_ratio * v)."""
        return math.sqrt(60.0 * self.profile.walk_ratio_m_per_spm * max(speed_mps, 0.0))

    def _leg_phase(self, phase: float, side: int) -> float:
        if side == 0:
            return phase
        return (phase - self.profile.right_heel_strike_phase) % 1.0

    def _stride_s(self, v_eff: float) -> float:
        step_m = self.mean_step_length_m(v_eff)
        stride = 2.0 * step_m / v_eff * self.stride_factor * (1.0 + 0.05 * self.fatigue) * self.effort.step_length_factor
        if self.t_s is not None and self.t_s < self.festinate_until_s:
            stride *= FESTINATION_STRIDE_FACTOR
        if self._freeze_onset_s is not None and self.t_s < self.freeze_until_s:
            # shortening into a freeze, or frozen
            w = math.exp(-(self.t_s - self._freeze_onset_s) / FREEZE_ONSET_TAU_S)
            stride = FREEZE_STRIDE_S + max(0.0, stride - FREEZE_STRIDE_S) * w
        return stride

    @property
    def in_stance(self) -> list[bool]:
        """Whether each foot (left, right) is on the ground."""
        return [self.legs[0].in_stance, self.legs[1].in_stance]

    @property
    def frozen(self) -> bool:
        """In a freeze (trembling in place), not in the shortening steps into one."""
        return self.t_s is not None and self.freeze_from_s <= self.t_s < self.freeze_until_s

    def foot_state(self, side: int) -> FootState:
        """The foot's state now (see FootState)."""
        leg = self.legs[side]
        loads = self.loads_n[side]
        return FootState(
            t_s=self.t_s or 0.0, heel_x_m=leg.heel[0], heel_z_m=leg.heel[1], toe_x_m=leg.toe[0],
            toe_z_m=leg.toe[1], ground_m=leg.ground if leg.in_stance else self.walkway.ground_m(leg.heel[0]),
            pitch_rad=leg.pitch, pitch_rate_radps=leg.pitch_rate, accel_forward_mps2=leg.accel[0],
            accel_vertical_mps2=leg.accel[1], heel_load_n=loads[0], midfoot_load_n=loads[1], toe_load_n=loads[2],
            in_contact=leg.in_stance, lateral_n=self.roll[side].lateral_n(*loads),
        )

    def foot_accel_mps2(self, side: int) -> tuple[float, float]:
        """FootState's (accel_forward_mps2, accel_vertical_mps2) alone (the insoles' IMU reads it
        every tick; a whole FootState costs ten times more)."""
        return self.legs[side].accel

    # ------------------------------------------------------------------ stepping
    def step(self, t_s: float, belt_speed_mps: float, drive: ExoDrive, bws_fraction: float = 0.0,
             held: bool = False) -> None:
        """Advance to time t_s with the belt at belt_speed_mps and the exoskeleton applying drive.

        held: the exoskeleton holds the joints (HOLD safe mode), so the patient cannot step.
        """
        if self.t_s is None:
            self.t_s = t_s
            return
        dt = t_s - self.t_s
        if dt <= 0.0:
            return
        t0 = self.t_s
        self.t_s = t_s
        p = self.profile
        v = max(0.0, belt_speed_mps)
        self.belt_m += v * dt
        # the patient's cadence follows belt speed changes after its reaction time
        self.v_perceived += (v - self.v_perceived) * min(1.0, dt / max(p.reaction_time_s, dt))
        into_freeze = t_s < self.freeze_until_s  # shortening into a freeze, or frozen
        if into_freeze and self._freeze_onset_s is None:
            self._freeze_onset_s = t0
        elif not into_freeze:
            self._freeze_onset_s = None
        self._intent_dt += dt
        if self._intent_dt >= INTENT_UPDATE_S:
            self._intend(self._intent_dt)
            self._intent_dt = 0.0

        both_stance = self.legs[0].in_stance and self.legs[1].in_stance
        rate = 0.0
        if held:
            rate = 0.0
        elif v >= V_WALK_MIN_MPS:
            rate = 1.0 / self._stride_s(max(self.v_perceived, V_WALK_MIN_MPS, 0.5 * v))
        elif not both_stance:
            rate = 1.0 / self._stride_s(V_FINISH_STEP_MPS)
        self.walking = rate > 0.0
        self._stride_now_s = 1.0 / rate if rate > 0.0 else math.inf
        standing = not self.walking and both_stance
        self._stand_w = min(1.0, self._stand_w + dt / STAND_SHIFT_S) if standing else max(0.0, self._stand_w - dt / STAND_SHIFT_S)
        if self.walking and not self._was_walking and v >= V_WALK_MIN_MPS:
            self._maybe_freeze("start", ("start", round(self.belt_m, 1)))
        self._was_walking = self.walking
        old = self.phase
        new = old + rate * dt
        self.phase = new % 1.0

        # events, in the order they happen inside this tick
        events = []
        for side in (0, 1):
            offset = 0.0 if side == 0 else p.right_heel_strike_phase
            stance = p.stance_fraction[side]
            for target, kind in ((offset, "hs"), ((offset + stance) % 1.0, "to")):
                for crossing in (target, target + 1.0):
                    if rate and old < crossing <= new:
                        events.append(((crossing - old) / (new - old), side, kind))
        events.sort()
        for frac, side, kind in events:
            t_event = t0 + frac * dt
            # a foot that already left (or met) the ground early has had this event
            if kind == "to" and self.legs[side].in_stance:
                self._toe_off(side, t_event, v)
            elif kind == "hs" and not self.legs[side].in_stance:
                self._heel_strike(side, t_event, v)

        if not self.walking and self.legs[0].in_stance and self.legs[1].in_stance and self.hip_speed != 0.0 \
                and (self._hip_ramp is None or self._hip_ramp[3] != 0.0):
            # standing: the body comes to rest over its feet (a ramp, not a one-tick stop)
            self._hip_ramp = (t_s, STAND_SETTLE_S, self.hip_speed, 0.0)
        if self._hip_ramp is not None:
            ramp_t0, ramp_s, v0, v1 = self._hip_ramp
            w = min(1.0, (t_s - ramp_t0) / ramp_s)
            self.hip_speed = v0 + (v1 - v0) * w
            if w >= 1.0:
                self._hip_ramp = None
        if self.legs[0].in_stance and self.legs[1].in_stance and t_s >= self.freeze_until_s:
            # (not in a freeze: the trembling feet step under a pelvis the harness holds, and a
            # trembling swing that lands under a pelvis stopped over it turns its foot at the
            # ankle's dorsiflexion limit and comes down at 1.5-1.7 x a normal swing's rate:
            # docs/patients.md, "The hip over both feet")
            self._over_both_feet()
        hip_before = self.hip_x
        self.hip_x += self.hip_speed * dt
        self._within_stance_reach(hip_before)
        if self.walking:
            self._toe_off_at_reach(t_s, v)
        if self.perturbation is not None:
            self.perturbation.apply(self, t_s, dt)
        self._pose(dt, drive, v, bws_fraction)
        self._effort(dt, v, bws_fraction)

    def _swing_progress(self, side: int) -> float:
        to_phase = self.legs[side].to_phase
        stance = self.profile.stance_fraction[side] if to_phase is None else to_phase
        leg = self._leg_phase(self.phase, side)
        return (leg - stance) / (1.0 - stance) if leg >= stance else 1.0

    def _stance_progress(self, side: int) -> float:
        hs = self.legs[side].hs_phase
        stance = self.profile.stance_fraction[side]
        leg = self._leg_phase(self.phase, side)
        if hs == 0.0:
            return min(1.0, leg / stance)
        # a foot that met the ground early: its stance runs from there (over the stride's wrap)
        span = (stance - hs) % 1.0
        return min(1.0, ((leg - hs) % 1.0) / span) if span > 0.0 else 1.0

    # ------------------------------------------------------------------ planning
    def _step_time_s(self, side: int, v_eff: float) -> float:
        o = self.profile.right_heel_strike_phase
        share = (1.0 - o) if side == 0 else o
        return share * self._stride_s(v_eff)

    def _plan_step_m(self, side: int, v: float) -> tuple[float, str]:
        """Heel-to-heel length of the step this swing ends with, and why."""
        p = self.profile
        other = self.legs[1 - side]
        v_eff = max(v, V_FINISH_STEP_MPS)
        asym = p.step_length_asymmetry
        mean_asym = 0.5 * (asym[0] + asym[1])
        drift = self.hip_x - self.belt_route_m
        # The stride covers the belt's travel; how it splits into the two steps is the patient's
        # spatial asymmetry, independent of how the stride's time splits (temporal asymmetry).
        normal = 0.5 * v_eff * self._stride_s(v_eff) * asym[side] / mean_asym
        cv = p.step_length_cv * (1.0 + self.fatigue) * self.effort.variability_factor
        length = normal * (1.0 + cv * self._rng.gauss(0.0, 1.0)) - DRIFT_GAIN * drift
        reason = "normal"
        if self.frozen:
            # trembling in place; but a belt that runs on carries the feet back under a pelvis the
            # harness holds, and at the handrails the patient steps as far as needed (below)
            length = FREEZE_STEP_M * (1.0 + 0.3 * self._rng.gauss(0.0, 1.0))
            reason = "freeze"
        elif self._perturb:
            factor, _ = self._perturb.pop(0)
            length *= factor
            reason = "perturbed"
        if self.perceive and reason != "freeze":
            ob = self.walkway.next_crossing(other.heel_x + p.foot_length_m + self.heel_m)
            if ob is not None:
                foot = self.heel_m + p.foot_length_m
                max_step = max(1.6 * normal, 0.8 * (p.thigh_m + p.shank_m))
                # Slow and older walkers land closer past an obstacle (Chen 1991: a shorter
                # obstacle-heel-strike distance; Said 2001, stroke: smaller post-obstacle
                # distances), so the landing distance shrinks with the step. The trail foot keeps
                # its distance before the obstacle (Said 2001, stroke: no significant reduction
                # in pre-obstacle distance; Chen 1991: older adults have the obstacle 10 % further
                # forward in the crossing step): a trail foot placed closer flexes hip, knee and
                # ankle less over the obstacle and catches it (Chou & Draganich 1998). It comes
                # closer only as far as the crossing step must fit the leg's longest step.
                scale = min(1.0, normal / 0.65)
                landing = p.landing_distance_m * scale
                fits = max_step - foot - (ob.end_m - ob.at_m) - landing
                take_off = min(p.take_off_distance_m, max(p.take_off_distance_m * scale, fits))
                take_off_heel = ob.at_m - take_off - foot
                d = take_off_heel - other.heel_x
                n = int(round(d / max(normal, 0.05)))
                need = ob.end_m + landing - other.heel_x
                if n <= 0 and need > max_step and d > 0.1 * normal:
                    n = 1  # too far to cross from here: one short step closer first
                if n <= 0 and other.heel_x + foot < ob.at_m + 0.02:
                    # this swing crosses: land the heel past the far edge
                    length = min(max(length, need), max_step)
                    reason = "crossing"
                elif 1 <= n <= int(p.adjust_steps):
                    length = min(max(d / n, 0.3 * normal), 1.4 * normal)
                    reason = "adjusting"
        # never further back than the handrails allow
        shortest = MIN_SHUFFLE_M
        if drift < -DRIFT_LIMIT_M:
            reach = max(1.6 * normal, 0.8 * (p.thigh_m + p.shank_m))
            swing_s = (1.0 - p.stance_fraction[side]) * self._stride_s(v_eff)
            hip_then = self.hip_x + v * swing_s  # the pelvis at the landing, carried with the belt
            if reason == "freeze":
                # frozen at the handrails: the running belt carries the trembling feet back, and
                # they step to stay under the pelvis (the heel lands where the pelvis will be,
                # as far ahead of it as in any step): steps as long as the belt's travel per step.
                # Left trembling a few centimetres apart, freezes of 10-18 s took the pelvis 2-11 m
                # back on a 0.5 m/s belt, then 1.5-2.3 m steps (parkinsonian-freezing seed 2,
                # offline, on the bench scene)
                shortest = min(hip_then + 0.5 * normal - self.heel_m - other.heel_x, reach)
            else:
                # back at the handrails: a longer step, but no longer than the leg reaches, from
                # the other foot or from the pelvis (a foot left behind by a freeze made it reach
                # 1.4 m ahead of the pelvis: 1.1 m steps)
                shortest = min(normal + (-DRIFT_LIMIT_M - drift), reach, hip_then + 0.5 * reach - other.heel_x)
            length = max(length, shortest)
        if self.perceive and reason not in ("crossing", "freeze"):
            max_step = max(1.6 * normal, 0.8 * (p.thigh_m + p.shank_m))
            length = self._placed_clear(other.heel_x, length, shortest, max_step)
        elif self.perceive and reason == "freeze" and drift >= -DRIFT_LIMIT_M:
            # trembling in place is a motor block, not blindness: the shuffle does not carry the
            # foot into an obstacle in front of it (it trembles where it stands); a step the
            # handrails force (above) still goes where it must
            ob = self.walkway.next_crossing(other.heel_x)
            if ob is not None:
                room = ob.at_m - MIN_TOE_GAP_M - (self.heel_m + p.foot_length_m) - other.heel_x
                length = min(length, max(room, 0.0))
        return max(length, 0.0), reason

    def _placed_clear(self, from_x: float, length: float, shortest: float, max_step: float) -> float:
        """A step that would put the foot on an obstacle or against its near face is shortened or
        lengthened, whichever is closer to it (people place the foot clear of an obstacle's edges
        and choose the smallest change of step: Patla et al. 1999)."""
        foot = self.heel_m + self.profile.foot_length_m
        for ob in self.walkway.near(from_x + length - foot - MIN_TOE_GAP_M, from_x + length + foot + MIN_TOE_GAP_M):
            if ob.volume_height_m <= 0.0 and ob.kind != "puddle":
                continue  # a curb's drop: standing on its stone is where one steps down from
            land = from_x + length
            if land + foot <= ob.at_m - MIN_TOE_GAP_M or land >= ob.end_m + MIN_TOE_GAP_M:
                continue
            shorter = ob.at_m - MIN_TOE_GAP_M - foot - from_x
            longer = ob.end_m + MIN_TOE_GAP_M - from_x
            # a shuffle of a few centimetres is still a step (people near an obstacle take them)
            options = [x for x in (shorter, longer) if shortest <= x <= max_step]
            if options:
                length = min(options, key=lambda x: abs(x - length))
        return length

    def _within_stance_reach(self, hip_before: float) -> None:
        """The pelvis goes no further past a stance foot than that leg reaches. _pose lowers the
        pelvis as the hip passes over a stance foot, down to half the leg's length, where the hip
        is HIP_AHEAD_OF_STANCE_REACH of the reach ahead of the ankle; further on nothing reached
        the foot: a 1.2-1.7 m
        crossing step of an extreme profile (2.5 m/s, walk ratio 0.010; a 0.6 step-length
        asymmetry; healthy steps on 0.5 m legs) took the lone stance thigh to 60-68 deg of
        extension, and the joint angles the exoskeleton reported put that foot 6-9 cm short of
        where the truth had it planted (the core's footprints followed the angles). The body is
        held there until the other foot lands; a landing planned beyond what the swinging leg
        then reaches comes down short (where forward kinematics put the heel). With both feet
        down the trailing foot leaves long before (_toe_off_at_reach, at 30 deg), unless it landed
        just now (a 0.84 stance with 0.6 step asymmetry: 62 deg in double support)."""
        furthest = math.inf
        for side in (0, 1):
            if self.legs[side].in_stance:
                ax, _, _ = self._stance_ankle(side)
                furthest = min(furthest, ax + self._stance_reach_m * HIP_AHEAD_OF_STANCE_REACH)
        if self.hip_x > furthest:
            # held there (never pulled back: a pelvis past it already stays where it was)
            self.hip_x = max(furthest, min(self.hip_x, hip_before))

    def _toe_off_at_reach(self, t_s: float, v: float) -> None:
        """A trailing stance leg whose thigh the hip has taken to its extension limit leaves the
        ground now, before its planned toe off (the other foot carries the body)."""
        p = self.profile
        for side in (0, 1):
            leg, other = self.legs[side], self.legs[1 - side]
            if not (leg.in_stance and other.in_stance) or leg.heel_x >= other.heel_x:
                continue
            if self._stance_progress(side) < EARLY_TOE_OFF_MIN_Q:
                continue
            ax, az, _ = self._stance_ankle(side)
            hip, _ = lk.inverse(ax - self.hip_x, self.hip_z - az, p.thigh_m, p.shank_m, math.pi * 0.9, math.pi * 0.6)
            if hip < -HIP_EXTENSION_LIMIT_RAD:
                self._toe_off(side, t_s, v, self._leg_phase(self.phase, side))

    def _toe_off(self, side: int, t_s: float, v: float, leg_phase: float | None = None) -> None:
        """The foot leaves the ground (leg_phase: the leg's phase now when that is before its
        planned toe off)."""
        p = self.profile
        leg = self.legs[side]
        other = self.legs[1 - side]
        self._update_swing_pose(side)  # the toe-off pose of the stance foot
        leg.in_stance = False
        leg.to_phase = leg_phase if leg_phase is not None and leg_phase < p.stance_fraction[side] else None
        self.toe_offs.append({"side": side, "t_s": t_s, "device_time_us": int(t_s * 1e6), "toe_x_m": leg.toe[0]})
        length, reason = self._plan_step_m(side, v)
        leg.guided = reason in ("crossing", "adjusting")  # a step placed by sight (see _pose)
        leg.lift_off = None
        leg.aim = None
        leg.reach = None
        leg.land_sole = None
        leg.lift_dorsi = None
        leg.land_x = other.heel_x + length
        leg.g0 = leg.ground
        leg.g1 = self.walkway.ground_m(leg.land_x + 0.01)
        to_phase = p.stance_fraction[side] if leg.to_phase is None else leg.to_phase
        swing_s = (1.0 - to_phase) * self._stride_s(max(v, V_FINISH_STEP_MPS))
        leg.swing_s = max(swing_s, 0.05)
        # A freeze's trembling step (~0.15 s) is the usual swing made small, not the usual swing
        # made fast: its lift and its foot's turn are scaled down with its time (leg.tremble)
        tremble = min(1.0, leg.swing_s / TREMBLE_FULL_SWING_S) if t_s < self.freeze_until_s else 1.0
        plan = self._pitch_plan[side]
        rise = self._rise(leg)
        if tremble < 1.0 or rise < 1.0:
            # a trembling step turns its foot less: the plan after toe off scaled to its time, from
            # the toe-off pitch its stance rose to (_rise)
            (_, toe_off), *after = plan
            plan = [(0.0, toe_off * rise), *[(at, a * tremble) for at, a in after]]
        leg.pitch_plan = plan
        leg.tremble = tremble
        hx, hz = lk.rotate(-self.heel_m, -p.foot_height_m, HEEL_STRIKE_PITCH_RAD * tremble)
        leg.x0 = leg.ankle_x
        leg.x1 = leg.land_x - hx
        leg.z1 = leg.g1 - hz
        fatigue_drop = 1.0 - 0.3 * self.fatigue
        strained = self.effort
        mtc = p.mtc_m[side] * fatigue_drop * strained.clearance_factor + p.mtc_sd_m[side] * (
            1.0 + self.fatigue) * strained.variability_factor * self._mtc_rng.gauss(0.0, 1.0)
        if self.frozen:
            mtc = 0.4 * mtc
        leg.mtc = mtc
        leg.peak1 = max(mtc + 0.02, 0.05) * tremble
        leg.late_lift = 0.012 * tremble  # over the minimum toe clearance before the heel comes down
        leg.swing_min = math.inf
        leg.swing_peak = -math.inf
        leg.swing_t0 = t_s
        leg.req = self._requirements(side, leg, leg.swing_s) if self.perceive else []
        if reason in ("crossing", "adjusting"):
            self._maybe_festinate()
        # the hip heads for the midpoint of the heels at the coming heel strike
        goal = 0.5 * (leg.land_x + other.heel_x) + self.heel_m
        # its speed changes over the swing's first LIFT_OFF_BLEND_U (as the legs hand the body
        # over), not in one tick: a step of up to 0.3 m/s at every toe off (~125 m/s^2 of the whole
        # body for 2 ms) moved the swing foot's ankle with it. The ramp's speed still arrives on time.
        # The first step from standing still sets off at once, as before: the model has no gait
        # initiation (a ramp from rest there left the body behind the front foot on a running
        # belt, a backward loss of balance for the balance monitor at 0.18 s).
        swing_s = max(swing_s, 0.05)
        if self.heel_strikes:
            ramp_s = LIFT_OFF_BLEND_U * swing_s
            v0 = self.hip_speed
            v1 = (goal - self.hip_x - 0.5 * v0 * ramp_s) / (swing_s - 0.5 * ramp_s)
            self._hip_ramp = (t_s, ramp_s, v0, v1)
        else:
            self.hip_speed = (goal - self.hip_x) / swing_s
            self._hip_ramp = None

    def _over_both_feet(self) -> None:
        """Both feet down: the body goes on forward over them, never back, and no further than
        the front foot's ankle, slowing to it over DOUBLE_SUPPORT_STOP_S. The hip used to keep
        the speed its last swing planned: in the 0.6-0.7 s double supports of a slow walker on a
        belt slowed before an obstacle it went 0.2-0.4 m past the front foot, the next swing's
        plan sent it back at up to 1.3 m/s with both feet planted, and the leg kinematics then
        flung a foot 0.5 m back at toe off (severe-stroke-slow seed 2: the truth's feet 0.66 m
        ahead of where the exoskeleton's joint angles put them)."""
        front_m = max(self.legs[0].heel_x, self.legs[1].heel_x) + self.heel_m
        room_m = front_m - self.hip_x
        v = self.hip_speed
        cap = room_m / DOUBLE_SUPPORT_STOP_S if room_m > 0.0 else 0.0
        if v > cap:
            v = cap
        self.hip_speed = v if v > 0.0 else 0.0

    def _rise(self, leg: LegState) -> float:
        """How far a stance foot rises on its toes before toe off, as a share of its usual heel
        rise: as little as the swing before it turned the foot (leg.tremble), and in a freeze no
        more than the trembling swing it is about to start can unroll in its time (the stride
        shortening into a freeze, FREEZE_ONSET_TAU_S, must not leave a full heel rise for a
        0.15 s swing)."""
        if self.t_s is None or self.t_s >= self.freeze_until_s:  # neither shortening into a freeze nor frozen
            return leg.tremble
        now = (1.0 - self.profile.stance_fraction[leg.side]) * self._stride_now_s / TREMBLE_FULL_SWING_S
        return min(leg.tremble, now)

    def _requirements(self, side: int, leg: LegState, swing_s: float) -> list[tuple[float, float, float, float, float]]:
        """Windows of swing progress where the foot's lowest point must be above a height: (from,
        to, height, the share of the swing its lift takes to come off after `to`, the progress at
        which the heel is past the obstacle's far edge)."""
        p = self.profile
        out = []
        # a trembling step lifts its foot as much less as its pattern is smaller (see
        # TREMBLE_FULL_SWING_S): one that came to a box in a freeze lifted the heel 30 cm in 40 ms
        cap = leg.g0 + p.max_toe_clearance_m[side] * leg.tremble
        for ob in self.walkway.near(min(leg.x0, leg.x1) - p.foot_length_m - 0.1, max(leg.x0, leg.x1) + 0.1):
            if ob.end_m < leg.toe[0] - 0.01 and ob.end_m < leg.x0 - self.heel_m:
                continue  # already behind this foot
            u_in = u_out = None
            u_past = 1.0
            for k in range(41):
                u = k / 40.0
                xa = leg.x0 + (leg.x1 - leg.x0) * _swing_travel(u)
                if xa - self.heel_m - SPAN_MARGIN_M <= ob.end_m and xa + p.foot_length_m + SPAN_MARGIN_M >= ob.at_m:
                    if u_in is None:
                        u_in = u
                    u_out = u
                if u_past == 1.0 and u_in is not None and xa - self.heel_m - LIFT_PAST_M > ob.end_m:
                    u_past = u
            if u_in is None:
                continue
            top = self.walkway.box_top_m(ob)
            other = self.legs[1 - side]
            lead = other.heel_x + self.heel_m + p.foot_length_m < ob.at_m
            leg.roles[ob.index] = "lead" if lead else "trail"
            clearance = crossing_clearance_m(p, ob.volume_height_m)
            if not lead:
                clearance *= p.trail_clearance_ratio[side]
            clearance = max(clearance, p.mtc_m[side], MIN_CROSSING_CLEARANCE_M)
            height = min(top + clearance, cap)
            # the lift comes off no faster than LIFT_DESCENT_MAX_MPS at its steepest (a smooth
            # step's peak rate is 1.5 x its mean): a high lift comes off over more of the swing
            drop = max(0.0, height - leg.g1)
            off = max(0.12, 1.5 * drop / (LIFT_DESCENT_MAX_MPS * swing_s))
            # the real foot lags its planned path in mid swing: hold the lift a little longer
            out.append((max(0.0, u_in - 0.05), min(1.0, u_out + 0.1), height, off, u_past))
        return out

    @staticmethod
    def _window(u: float, u0: float, u1: float, out: float = 0.12, past: float = 0.0, ramp: float = 0.12) -> float:
        """Weight of a clearance window [u0, u1] at swing progress u: ramps in before u0 and
        out over `out` after u1, and always out by LIFT_OFF_BY_U of the swing (the heel must land,
        and land gently: a lift still coming off in the last per cent of the swing dropped the
        heel at 6-11 m/s): a window that would end later comes off earlier, over the same span,
        but not before `past` (the heel past the obstacle's far edge)."""
        end = min(u1 + out, LIFT_OFF_BY_U)
        u1 = max(min(u1, end - out), min(past, u1, end - 0.04))
        # the lift starts from the foot's toe-off height at the earliest: a window that opens at
        # toe off still ramps in (a foot cannot jump up)
        start = max(0.0, u0 - ramp)
        return _smooth(u, start, max(u0, start + LIFT_RAMP_MIN_U)) * (1.0 - _smooth(u, u1, end))

    def _lowest_plan(self, leg: LegState, u: float) -> float:
        """Planned height of the foot's lowest point at swing progress u."""
        g = leg.g0 + (leg.g1 - leg.g0) * _smooth(u, 0.35, 0.9)
        level = _profile_points(u, [(0.0, 0.0), (0.18, leg.peak1), (0.5, leg.mtc), (0.82, leg.mtc + leg.late_lift), (1.0, 0.0)])
        z = g + level
        # a lift window blends from the take-off ground, or from the planned path where that is
        # lower (stepping down a curb: the window held the foot at the upper level until the heel
        # strike, then it fell 8-11 cm in one tick)
        base = min(leg.g0, z)
        for u0, u1, height, out, past in leg.req:
            w = self._window(u, u0, u1, out, past)
            if w > 0.0:
                z = max(z, base + (height - base) * w)
        return z

    # ------------------------------------------------------------------ events
    def _heel_strike(self, side: int, t_s: float, v: float, leg_phase: float | None = None) -> None:
        """The foot lands (leg_phase: the leg's phase now when that is before its planned heel
        strike)."""
        leg = self.legs[side]
        other = self.legs[1 - side]
        leg.hs_phase = leg_phase if leg_phase is not None and 0.0 < leg_phase < 1.0 else 0.0
        self._update_swing_pose(side)
        land_x = leg.heel[0]  # where forward kinematics put the heel
        leg.land_pitch = leg.pitch
        if leg.pitch > 0.0:  # toe down: the forefoot lands first, the heel comes down behind it
            land_x = leg.toe[0] - self.heel_m - self.profile.foot_length_m
        inside = [o for o in self.walkway.near(land_x - 0.01, land_x + self.heel_m + self.profile.foot_length_m)
                  if o.at_m <= land_x + self.heel_m + self.profile.foot_length_m and hazard_end_m(o) >= land_x]
        for ob in inside:
            if ob.index in leg.closed or (ob.volume_height_m <= 0.0 and ob.kind != "puddle"):
                continue  # standing on a curb stone before its drop is no fault; in a puddle it is
            rec = self._crossing(leg, ob, t_s)
            rec["landed_in"] = True
            penetration = max(0.01, ob.volume_height_m)
            rec["margin_m"] = min(rec["margin_m"], -penetration)
        leg.in_stance = True
        leg.heel_x = land_x
        leg.ground = self.walkway.ground_m(land_x + 0.01)
        leg.lip = self._on_a_lip(leg, land_x)
        length_m = land_x - other.heel_x
        self.heel_strikes.append({
            "side": side, "t_s": t_s, "device_time_us": int(t_s * 1e6), "heel_x_m": land_x,
            "heel_z_m": leg.ground, "belt_m": self.belt_m, "route_belt_m": self.belt_route_m,
        })
        if other.last_hs_t is not None:
            self.steps.append({
                "side": side, "t_s": t_s, "device_time_us": int(t_s * 1e6), "length_m": length_m,
                "time_s": t_s - other.last_hs_t, "heel_x_m": land_x, "other_heel_x_m": other.heel_x,
                "frozen": self.frozen,
            })
        if leg.swing_min < math.inf:
            self.swings.append({
                "side": side, "t_s": leg.swing_min_t, "device_time_us": int(leg.swing_min_t * 1e6),
                "clearance_m": max(0.0, leg.swing_min), "signed_clearance_m": leg.swing_min,
                "peak_m": leg.swing_peak, "toe_off_t_s": leg.swing_t0, "heel_strike_t_s": t_s,
            })
        self._close_crossings(leg)
        leg.last_hs_t = t_s
        if side == 0:
            # a new left stride: draw its time factor (Parkinsonian strides vary most)
            cv = self.profile.stride_time_cv * (1.0 + self.fatigue) * self.effort.variability_factor
            z = self._rng.gauss(0.0, 1.0)
            self.stride_factor = max(0.6, 1.0 + cv * z)
            if self._perturb:
                self.stride_factor *= self._perturb[0][1]
            self.strides.append({"t_s": t_s, "factor": self.stride_factor, "z": z})
            self.intent.append({"t_s": t_s, "intended_speed_mps": self.intended_speed_mps})
        self._check_triggers(leg)


    def _trip(self, leg: LegState, ob: SceneObstacle, penetration: float, t_s: float) -> dict:
        """A trip (the outcome rule's, docs/patients.md): the obstacle arrests a swinging foot,
        the next steps are shorter and slower; returns its truth row."""
        severe = penetration >= BALANCE_LOSS_PENETRATION_M
        if not leg.in_stance:  # the obstacle arrests the swing foot where it is
            leg.catch_t0 = t_s
            leg.catch_x, leg.catch_z, leg.catch_v = leg.ankle_x, leg.ankle_z, leg.ankle_vx
        row = {"t_s": t_s, "device_time_us": int(t_s * 1e6), "side": leg.side, "obstacle": ob.index,
               "kind": ob.kind, "penetration_m": penetration, "loss_of_balance": severe}
        self.trips.append(row)
        # the caught foot and the recovery: shorter, slower steps for a few steps
        self._perturb = [(0.7, 1.15), (0.85, 1.1), (0.95, 1.05)] if not severe else [
            (0.5, 1.3), (0.7, 1.2), (0.85, 1.1), (0.95, 1.05)]
        return row


    # ------------------------------------------------------------------ pose
    def _stance_ankle(self, side: int) -> tuple[float, float, float]:
        """Ankle (x, z) and foot pitch of a stance foot: heel rocker, flat foot, heel rise."""
        p = self.profile
        leg = self.legs[side]
        q = self._stance_progress(side)
        if leg.lip is not None:
            return self._stance_on_lip(side, q)
        if q < 0.12:
            # from the pitch the foot landed with to flat: on the heel when it landed toe up, on
            # the forefoot when toe down (foot drop: flat or toe-first contact)
            pitch = leg.land_pitch * (1.0 - _smooth(q, 0.0, 0.12))
            if pitch <= 0.0:
                hx, hz = lk.rotate(-self.heel_m, -p.foot_height_m, pitch)
                return leg.heel_x - hx, leg.ground - hz, pitch
            tx, tz = lk.rotate(p.foot_length_m, -p.foot_height_m, pitch)
            return leg.heel_x + self.heel_m + p.foot_length_m - tx, leg.ground - tz, pitch
        if q < 0.6:
            return leg.heel_x + self.heel_m, leg.ground + p.foot_height_m, 0.0
        # (a stance after a trembling step rises on its toes as little as that step turned its foot)
        pitch = self._toe_off_pitch_rad[side] * self._rise(leg) * _smooth(q, 0.6, 1.0)
        toe_x = leg.heel_x + self.heel_m + p.foot_length_m
        tx, tz = lk.rotate(p.foot_length_m, -p.foot_height_m, pitch)
        return toe_x - tx, leg.ground - tz, pitch

    def _on_a_lip(self, leg: LegState, heel_x: float) -> tuple[float, float] | None:
        """A foot landing across a curb's face cannot stand flat with its forefoot inside the
        stone: it stands on the stone when the ball of its foot is over it (the heel overhangs the
        edge; leg.ground becomes the stone's top), else with its heel on the lower ground and its
        sole against the edge, toe up. Returns the edge (ahead of the heel, above its ground) in
        the second case, else None."""
        foot = self.heel_m + self.profile.foot_length_m
        for ob in self.walkway.near(heel_x, heel_x + foot):
            if ob.kind != "curb_up" or not heel_x + 0.01 < ob.at_m < heel_x + foot:
                continue
            top, low = self.walkway.ground_m(ob.at_m), self.walkway.ground_m(ob.at_m - 1e-6)
            if heel_x + BALL_OF_FOOT * foot >= ob.at_m:
                leg.ground = top
                return None
            leg.ground = low
            return ob.at_m - heel_x, top - low
        return None

    def _stance_on_lip(self, side: int, q: float) -> tuple[float, float, float]:
        """Ankle (x, z) and pitch of a stance foot whose heel is on the ground before a curb's face
        and whose sole rests on its edge (see _on_a_lip): on its heel, toe up as the edge holds it;
        in heel rise it turns about the edge until its sole lies on the stone, then about its toe."""
        p = self.profile
        leg = self.legs[side]
        ahead, rise = leg.lip
        rest = -math.atan2(rise, ahead)  # the sole from the heel to the edge
        if q < 0.6:
            pitch = min(rest, rest + (leg.land_pitch - rest) * (1.0 - _smooth(q, 0.0, 0.12)))
            hx, hz = lk.rotate(-self.heel_m, -p.foot_height_m, pitch)
            return leg.heel_x - hx, leg.ground - hz, pitch
        pitch = rest + (self._toe_off_pitch_rad[side] * self._rise(leg) - rest) * _smooth(q, 0.6, 1.0)
        along = math.hypot(ahead, rise)  # heel to edge along the sole
        edge_x, edge_z = leg.heel_x + ahead, leg.ground + rise
        if pitch <= 0.0:
            px, pz = lk.rotate(along - self.heel_m, -p.foot_height_m, pitch)
            return edge_x - px, edge_z - pz, pitch
        px, pz = lk.rotate(p.foot_length_m, -p.foot_height_m, pitch)
        return edge_x + self.heel_m + p.foot_length_m - along - px, edge_z - pz, pitch

    def _update_swing_pose(self, side: int) -> None:
        """Refresh heel and toe of a leg from its current ankle and pitch."""
        p = self.profile
        leg = self.legs[side]
        hx, hz = lk.rotate(-self.heel_m, -p.foot_height_m, leg.pitch)
        tx, tz = lk.rotate(p.foot_length_m, -p.foot_height_m, leg.pitch)
        leg.heel = (leg.ankle_x + hx, leg.ankle_z + hz)
        leg.toe = (leg.ankle_x + tx, leg.ankle_z + tz)

    def _pose(self, dt: float, drive: ExoDrive, v: float, bws: float) -> None:
        p = self.profile
        prev = list(self.angle_rad)
        thigh, shank = p.thigh_m, p.shank_m
        # 1. stance feet and the pelvis height they allow
        hip_z = math.inf
        stance_pose = {}
        for side in (0, 1):
            leg = self.legs[side]
            if not leg.in_stance:
                continue
            ax, az, pitch = self._stance_ankle(side)
            stance_pose[side] = (ax, az, pitch)
            q = self._stance_progress(side)
            knee = STANCE_KNEE_RAD + (LOADING_KNEE_RAD - STANCE_KNEE_RAD) * math.exp(-(((q - 0.15) / 0.08) ** 2))
            reach = lk.leg_length_for_knee(knee, thigh, shank)
            dx = ax - self.hip_x
            drop = math.sqrt(max(reach * reach - dx * dx, (0.5 * reach) ** 2))
            hip_z = min(hip_z, az + drop)
        # the swinging leg lowers the pelvis a few centimetres at most (Winter: the pelvis rises
        # and falls about 4-5 cm in a stride); a plan beyond that reach is not reached
        stance_z = hip_z if hip_z < math.inf else self.hip_z
        swing_z = math.inf
        plan: list = [None, None]  # per swinging leg: (progress, planned pitch, lowest point, ankle x)
        for side in (0, 1):
            leg = self.legs[side]
            if leg.in_stance:
                continue
            u = self._swing_progress(side)
            # the swinging leg must reach where its plan takes the foot now with the knee no
            # straighter than in stance: the pelvis comes down for it (a leg that hits full
            # extension on the way turns its foot's path with a corner: no foot moves like that)
            pitch_plan = self._swing_pitch(u, leg)
            lowest = self._lowest_plan(leg, u)
            ax = leg.x0 + (leg.x1 - leg.x0) * _swing_travel(u)
            plan[side] = (u, pitch_plan, lowest, ax)  # (the same all this tick: leg.req is set at toe off)
            tz = lk.rotate(p.foot_length_m, -p.foot_height_m, pitch_plan)[1]
            hz = lk.rotate(-self.heel_m, -p.foot_height_m, pitch_plan)[1]
            az_plan = lowest - _soft_min(tz, hz)
            dx = ax - self.hip_x
            reach = self._stance_reach_m
            leg_z = az_plan + math.sqrt(max(reach * reach - dx * dx, (0.5 * reach) ** 2))
            # the landing leg must reach its heel-strike point: the pelvis comes down for it
            if u > 0.3:
                # where the foot will land: its plan, or further on where the exoskeleton's
                # guidance carries it ahead of the plan, and lower where the foot's real pitch puts
                # its lowest point higher over the ankle than the planned heel strike's pitch (a
                # dropped foot, a foot the guidance holds flat): a leg held straight above the
                # ground at its landing could not reach it, so the pelvis comes down for the real foot
                real = _smooth(u, 0.5, LANDING_REACH_FROM_U)
                ahead = max(0.0, leg.ankle_x - ax) * real
                # (the real pitch low-passed over LANDING_PITCH_TAU_S: the pelvis moves the pitch of
                # a foot at its dorsiflexion limit, which taken tick by tick rocked the pelvis)
                sole = min(lk.rotate(p.foot_length_m, -p.foot_height_m, leg.pitch)[1],
                           lk.rotate(-self.heel_m, -p.foot_height_m, leg.pitch)[1])
                if leg.land_sole is None:
                    leg.land_sole = sole
                leg.land_sole += (sole - leg.land_sole) * min(1.0, dt / LANDING_PITCH_TAU_S)
                lower = max(0.0, leg.z1 - (leg.g1 - leg.land_sole)) * real
                dx = leg.x1 + ahead - self.hip_x - self.hip_speed * max(0.0, 1.0 - u) * 0.3
                need = leg.z1 - lower + math.sqrt(max(reach * reach - dx * dx, (0.5 * reach) ** 2))
                # (how much lower than for its plan: the pelvis may drop that much further)
                dx_plan = dx - ahead
                extra = max(0.0, leg.z1 + math.sqrt(max(reach * reach - dx_plan * dx_plan, (0.5 * reach) ** 2)) - need)
                # phased in from mid swing (a bound that appears at once would drop the pelvis)
                slack = 0.15 * (1.0 - _smooth(u, 0.5, PELVIS_DOWN_BY_U)) + (1.0 - _smooth(u, 0.3, 0.5))
                leg_z = _soft_min(leg_z, need + slack, PELVIS_SMOOTH_M)
            else:
                extra = 0.0
            # stepping down a curb the pelvis goes down with the foot
            floor = stance_z - PELVIS_SWING_DROP_MAX_M - max(0.0, leg.g0 - leg.g1) - extra
            if leg.g1 < leg.g0 - GROUND_TOLERANCE_M and stance_pose:
                # stepping down, the stance leg bends its knee to lower the body until the landing
                # leg reaches the lower ground (a long step off a curb needs more than the curb's
                # height and the pelvis's usual drop: a 0.85 m step off a 10 cm curb stopped its
                # straight leg's heel 1.5-3 cm over the ground, a foot halted in mid-air)
                floor = min(floor, self._step_down_floor_m(stance_pose))
            swing_z = min(swing_z, max(leg_z, floor))
        hip_z = _soft_min(stance_z, swing_z, PELVIS_SMOOTH_M) if swing_z < math.inf else stance_z
        # the legs bound the pelvis from above; freed by a trailing leg's toe off it rises, it is
        # not thrown up in one tick
        if dt > 0.0:
            hip_z = min(hip_z, self.hip_z + PELVIS_RISE_MAX_MPS * dt)
        self.hip_z = hip_z
        hip_max, knee_max, dorsi_max = self._joint_max_rad
        own = [0.0] * 4
        swing_u = [1.0, 1.0]
        for side in (0, 1):
            leg = self.legs[side]
            if leg.in_stance:
                ax, az, pitch = stance_pose[side]
                hip, knee = lk.inverse(ax - self.hip_x, hip_z - az, thigh, shank, math.pi * 0.9, math.pi * 0.6)
            else:
                u, pitch_plan, lowest, ax = plan[side]
                swing_u[side] = u
                # Aim the foot's lowest point at the plan with the pitch the ankle can give (its
                # dorsiflexion is limited), pass after pass: at the limit the pitch follows the knee
                # and hip, which follow the pitch (two passes left the toe ~0.5 cm low in mid swing)
                pitch = pitch_plan
                for n in range(AIM_PASSES):
                    tx, tz = lk.rotate(p.foot_length_m, -p.foot_height_m, pitch)
                    hx, hz = lk.rotate(-self.heel_m, -p.foot_height_m, pitch)
                    az = lowest - _soft_min(tz, hz)
                    if n == 0:
                        az_plain = az
                    hip, knee = lk.inverse(ax - self.hip_x, hip_z - az, thigh, shank, knee_max[side], hip_max[side],
                                           KNEE_SMOOTH_RAD)
                    pitch = knee - hip - _soft_min(knee - hip - pitch_plan, dorsi_max[side], DORSI_SMOOTH_RAD)
                # The aim's lift (how much higher the ankle must go than on the planned pitch's
                # path, for the pitch the ankle really gives) is a change of the leg's own pattern:
                # it engages through the leg's inertia as the exoskeleton's pull does (below). Taken
                # at once it jumped where the aim's solution jumps: with a dropped foot near full
                # extension the toe-lowest solution vanishes (knee 42 -> 7 deg in 20 ms, 316 m/s^2
                # median, 1102 max at 80 % of the swing). The leg then takes the ankle's path exactly.
                if dt > 0.0:
                    az = az_plain + self._aim_engaged(leg, side, az - az_plain, dt)
                    hip, knee = lk.inverse_short_of_straight(ax - self.hip_x, hip_z - az, thigh, shank, knee_max[side],
                                                             hip_max[side], SWING_REACH_SMOOTH_M, KNEE_SMOOTH_RAD)
                # Joints are continuous: at toe off the plan's first pose (inverse kinematics of
                # the planned path, within the joints' ranges and the pelvis's height) is not
                # exactly the pose stance left, and a leg cannot jump there in one tick. The
                # difference fades out over the first LIFT_OFF_BLEND_U of the swing (about 60-80 ms,
                # the time the swing's hip and knee flexion take to build up).
                if leg.lift_off is None:
                    # from the pose stance left, carried on at the joints' stance rates (frozen
                    # for one tick, the joints left the ankle to the moving pelvis: a 3 mm jump,
                    # 300-660 m/s^2 at every toe off)
                    hip0 = prev[2 * side] + self.velocity_radps[2 * side] * dt
                    knee0 = prev[2 * side + 1] + self.velocity_radps[2 * side + 1] * dt
                    leg.lift_off = (hip0 - hip, knee0 - knee) if dt > 0.0 else (0.0, 0.0)
                fade = 1.0 - _smooth(u, 0.0, LIFT_OFF_BLEND_U)
                if fade > 0.0:
                    hip += leg.lift_off[0] * fade
                    knee += leg.lift_off[1] * fade
            own[2 * side] = hip
            own[2 * side + 1] = knee
        # 2. the exoskeleton: boost and guidance act on the swing legs
        for side in (0, 1):
            leg = self.legs[side]
            boost = drive.clearance_boost[side]
            dorsi_boost = 0.0
            if not leg.in_stance and boost > 0.0:
                u = swing_u[side]
                hump = _smooth(u, 0.0, 0.3) * (1.0 - _smooth(u, 0.8, 1.0))  # on through mid swing, off to land
                own[2 * side] += BOOST_HIP_DEG * DEG * boost * hump
                own[2 * side + 1] += BOOST_KNEE_DEG * DEG * boost * hump
                dorsi_boost = BOOST_DORSI_DEG * DEG * boost * hump
            k_patient = p.joint_stiffness_nm_per_rad[side]
            if not leg.in_stance and (leg.req or leg.guided):
                # stepping over something, and placing the foot in the last steps before it, are
                # voluntary, visually guided movements from toe off to landing (the swing over is
                # planned anew: higher hip and knee flexion early, the foot placed past the far
                # edge; Patla & Rietdyk 1993, Chou & Draganich 1997; the approach steps are
                # lengthened or shortened to a take-off spot: Patla et al. 1999): the patient
                # holds its plan far more stiffly against the exoskeleton's guidance then
                k_patient *= CROSSING_EFFORT
            for joint in (0, 1):
                i = side * 2 + joint
                mode = drive.modes[i]
                if mode == _GUIDANCE and drive.stiffness > 0.0:
                    k_exo = EXO_MAX_STIFFNESS_NM_PER_RAD * min(1.0, drive.stiffness)
                    ref = drive.ref_angle_rad[i]
                elif mode == _HOLD:
                    k_exo = EXO_MAX_STIFFNESS_NM_PER_RAD
                    ref = self._hold_rad[i]
                else:
                    k_exo = 0.0
                    ref = own[i]
                angle = own[i]
                if mode == _HOLD:
                    # springs in parallel: equilibrium between the patient's pattern and the reference
                    w = k_exo / (k_exo + k_patient)
                    angle = own[i] + w * (ref - own[i])
                    self._exo_dev[i] = 0.0
                elif not leg.in_stance:
                    # the same equilibrium, engaged through the leg's inertia after the ground lets
                    # the foot go: the critically damped step response 1 - (1 + w t) e^(-w t) from
                    # toe off (after it, the leg follows the equilibrium as it moves)
                    w = k_exo / (k_exo + k_patient)
                    omega = ENGAGE_GAIN * math.sqrt((k_exo + k_patient) / self._inertia[i])
                    wt = omega * max(0.0, self.t_s - leg.swing_t0)
                    engaged = 1.0 - (1.0 + wt) * math.exp(-wt)
                    self._exo_dev[i] = engaged * w * (ref - own[i])
                    angle = own[i] + self._exo_dev[i]
                else:
                    self._exo_dev[i] = 0.0  # the ground holds a stance leg
                if mode != _HOLD:
                    self._hold_rad[i] = angle
                velocity = (angle - prev[i]) / dt if dt > 0.0 else 0.0
                if k_exo > 0.0:
                    ref_vel = drive.ref_velocity_radps[i] if mode == _GUIDANCE else 0.0
                    damping = EXO_DAMPING_NMS_PER_RAD * (k_exo / EXO_MAX_STIFFNESS_NM_PER_RAD)
                    interaction = k_exo * (ref - angle) + damping * (ref_vel - velocity)
                else:
                    interaction = -0.02 * velocity  # residual drag of a transparent drive
                self.angle_rad[i] = angle
                self.velocity_radps[i] = velocity
                self.interaction_torque_nm[i] = interaction
                self.motor_torque_nm[i] = interaction + 0.15 * velocity
            if not leg.in_stance and self.t_s - leg.catch_t0 < CATCH_S + RELEASE_S:
                self._hold_caught(leg, hip_z, dt, prev, knee_max[side], hip_max[side])
            # 3. the foot from forward kinematics of the true angles
            hip, knee = self.angle_rad[2 * side], self.angle_rad[2 * side + 1]
            if leg.in_stance:
                ax, az, pitch = stance_pose[side]
                leg.dorsi = knee - hip - pitch
            else:
                dx, drop = lk.ankle_rel_hip(hip, knee, thigh, shank)
                ax, az = self.hip_x + dx, hip_z - drop
                intended = knee - hip - plan[side][1]
                dorsi = _soft_min(intended, dorsi_max[side], DORSI_SMOOTH_RAD) + dorsi_boost
                if leg.lift_dorsi is None:  # leg.dorsi is still stance's: carried on at its rate
                    rate = self.velocity_radps[2 * side + 1] - self.velocity_radps[2 * side] - leg.pitch_rate
                    leg.lift_dorsi = leg.dorsi + rate * dt - dorsi if dt > 0.0 else 0.0
                leg.dorsi = dorsi + leg.lift_dorsi * (1.0 - _smooth(swing_u[side], 0.0, LIFT_OFF_BLEND_U))
                pitch = knee - hip - leg.dorsi
                if self.t_s - leg.catch_t0 >= CATCH_S + RELEASE_S:
                    # where the patient's own pattern (the exoskeleton's pull left out) puts the sole
                    hip_o, knee_o = own[2 * side], own[2 * side + 1]
                    dx_o, drop_o = lk.ankle_rel_hip(hip_o, knee_o, thigh, shank)
                    dorsi_o = _soft_min(knee_o - hip_o - plan[side][1], dorsi_max[side], DORSI_SMOOTH_RAD) + dorsi_boost
                    dorsi_o += leg.lift_dorsi * (1.0 - _smooth(swing_u[side], 0.0, LIFT_OFF_BLEND_U))
                    pitch_o = knee_o - hip_o - dorsi_o
                    own_low = hip_z - drop_o + min(lk.rotate(p.foot_length_m, -p.foot_height_m, pitch_o)[1],
                                                   lk.rotate(-self.heel_m, -p.foot_height_m, pitch_o)[1])
                    # and, over the last LANDING_PLAN_U, to its plan where its own pattern lags above
                    # it (the aim's lift follows at the leg's pace): the plan lands on the ground
                    own_low -= max(0.0, own_low - plan[side][2]) * _smooth(swing_u[side], 1.0 - LANDING_PLAN_U, 1.0)
                    ax, az = self._reach_the_landing(side, ax, az, pitch, plan[side][0], own_low, hip_z, dt, prev,
                                                     drive, knee_max[side], hip_max[side])
                ax, az = self._on_the_ground(side, ax, az, pitch, hip_z, dt, prev, knee_max[side], hip_max[side],
                                             swing_u[side])
            if leg.prev_ankle_x is not None and dt > 0.0:
                leg.ankle_vx = (ax - leg.prev_ankle_x) / dt
            leg.prev_ankle_x = ax
            leg.ankle_x, leg.ankle_z, leg.pitch = ax, az, pitch
            self._update_swing_pose(side)
            if not leg.in_stance and swing_u[side] >= EARLY_LANDING_MIN_U and self._ground_depth > GROUND_TOLERANCE_M:
                # the joints cannot lift the foot off the ground it meets: it lands here, on it
                leg.ankle_z += self._ground_depth
                self._update_swing_pose(side)
                # this tick's swing (the toe may have reached an obstacle's face in it) is part of
                # the crossing the landing closes: the core samples it too
                self._swing_truth(leg, swing_u[side])
                self._heel_strike(side, self.t_s, v, self._leg_phase(self.phase, side))
            self._kinematics_rates(leg, dt)
            if not leg.in_stance:
                self._swing_truth(leg, swing_u[side])
            else:
                self.toe_height_m[side] = 0.0
        self._pressures(bws)

    def _step_down_floor_m(self, stance_pose: dict) -> float:
        """The lowest pelvis the stance legs hold with their knees bent to step down (each must
        still reach its foot: the highest of their lowest)."""
        floor = -math.inf
        for side, (ax, az, _) in stance_pose.items():
            bent = self._step_down_reach_m[side]
            dx = ax - self.hip_x
            floor = max(floor, az + math.sqrt(max(bent * bent - dx * dx, (0.5 * bent) ** 2)))
        return floor

    def _aim_engaged(self, leg: LegState, side: int, lift_m: float, dt: float) -> float:
        """The aim's lift of the ankle as the leg follows it: a critically damped tracking response
        at ENGAGE_GAIN x the knee's natural frequency sqrt(k / I) (the patient's own stiffness and
        the shank-and-foot inertia: Winter's segment parameters), fed the lift's own rate up to
        AIM_LIFT_RATE_MAX_MPS: a lift that moves smoothly is followed without lag (lagging, it held
        a healthy foot 0.3 cm higher in mid swing), one that jumps is taken up at the leg's pace."""
        aim = leg.aim
        if aim is None:  # toe off: from where the lift stands
            leg.aim = [lift_m, 0.0, lift_m]
            return lift_m
        lift, rate, before = aim
        want = min(AIM_LIFT_RATE_MAX_MPS, max(-AIM_LIFT_RATE_MAX_MPS, (lift_m - before) / dt))
        omega = ENGAGE_GAIN * math.sqrt(self.profile.joint_stiffness_nm_per_rad[side] / self._inertia[2 * side + 1])
        rate += (omega * omega * (lift_m - lift) + 2.0 * omega * (want - rate)) * dt
        lift += rate * dt
        aim[0], aim[1], aim[2] = lift, rate, lift_m
        return lift

    def _reach_the_landing(self, side: int, ax: float, az: float, pitch: float, u: float, own_low: float,
                           hip_z: float, dt: float, prev: list, drive: ExoDrive, knee_max: float,
                           hip_max: float) -> tuple[float, float]:
        """A foot held above where the patient's own pattern puts it (own_low: the exoskeleton's
        guidance holding more hip and knee flexion than the patient's own; over the last
        LANDING_PLAN_U the plan where that is lower) is brought down to it over terminal swing: the
        patient reaches for the ground against the pull, so the heel arrives at its planned
        landing, on time, at a bounded speed (it used to drop up to 5 cm in one tick at the
        phase-driven heel strike;
        landing late instead left the foot hovering unloaded, which the core's stumble guard
        rightly reads as a caught foot). The foot keeps its forward position and pitch; the hip
        and knee are those of the leg with the ankle there (the encoders read the same leg), and
        the exoskeleton's interaction torque is that of the pose reached."""
        leg = self.legs[side]
        # over terminal swing, and over LANDING_REACH_MIN_S at least (a short trembling swing)
        w = _smooth(u, min(LANDING_REACH_FROM_U, max(0.0, 1.0 - LANDING_REACH_MIN_S / leg.swing_s)), 1.0)
        if w <= 0.0:
            return ax, az
        p = self.profile
        tz = lk.rotate(p.foot_length_m, -p.foot_height_m, pitch)[1]
        hz = lk.rotate(-self.heel_m, -p.foot_height_m, pitch)[1]
        above = az + min(tz, hz) - own_low
        # only a foot above it, smoothly (no corner where it passes that height: a ramp that
        # starts quadratically over LANDING_REACH_SMOOTH_M; a sub-millimetre mismatch of a leg
        # near full extension is left alone)
        k = LANDING_REACH_SMOOTH_M
        above = 0.0 if above <= 0.0 else above * above / (2.0 * k) if above < k else above - 0.5 * k
        # followed as the leg follows its aim (critically damped, fed the target's own rate): the
        # mismatch of a leg near full extension moves by tenths of a millimetre in a few ticks,
        # which taken as it comes shook the foot at 150-160 m/s^2
        above = self._reach_followed(leg, w * above, dt)
        if above <= 1e-7:
            return ax, az
        # the change of the joints that takes the ankle down by that much (a difference of two
        # solutions of the same kind: none at all for none, where a fresh solution of a leg near
        # full extension differs from the pose it had by the saturation's own pull)
        knee_lim, hip_lim = max(knee_max, self.angle_rad[2 * side + 1]), max(hip_max, self.angle_rad[2 * side])
        hip0, knee0 = lk.inverse_short_of_straight(ax - self.hip_x, hip_z - az, p.thigh_m, p.shank_m, knee_lim,
                                                   hip_lim, SWING_REACH_SMOOTH_M)
        az -= above
        hip1, knee1 = lk.inverse_short_of_straight(ax - self.hip_x, hip_z - az, p.thigh_m, p.shank_m, knee_lim,
                                                   hip_lim, SWING_REACH_SMOOTH_M)
        hip = self.angle_rad[2 * side] + hip1 - hip0
        knee = self.angle_rad[2 * side + 1] + knee1 - knee0
        for i, angle in ((2 * side, hip), (2 * side + 1, knee)):
            velocity = (angle - prev[i]) / dt if dt > 0.0 else 0.0
            mode = drive.modes[i]
            if mode == _GUIDANCE and drive.stiffness > 0.0:
                k_exo = EXO_MAX_STIFFNESS_NM_PER_RAD * min(1.0, drive.stiffness)
                damping = EXO_DAMPING_NMS_PER_RAD * (k_exo / EXO_MAX_STIFFNESS_NM_PER_RAD)
                interaction = k_exo * (drive.ref_angle_rad[i] - angle) + damping * (drive.ref_velocity_radps[i] - velocity)
                self.interaction_torque_nm[i] = interaction
                self.motor_torque_nm[i] = interaction + 0.15 * velocity
            self.velocity_radps[i] = velocity
            self.angle_rad[i] = angle
            if mode != _HOLD:
                self._hold_rad[i] = angle
        leg.dorsi = knee - hip - pitch  # the foot keeps its pitch: the ankle takes the difference
        dx, drop = lk.ankle_rel_hip(hip, knee, p.thigh_m, p.shank_m)
        return self.hip_x + dx, hip_z - drop

    @staticmethod
    def _reach_followed(leg: LegState, target_m: float, dt: float) -> float:
        """The landing reach's lowering of the ankle as the leg takes it up: a critically damped
        tracking response at LANDING_REACH_OMEGA, fed the target's rate (up to
        LANDING_REACH_RATE_MAX_MPS)."""
        state = leg.reach
        if state is None or dt <= 0.0:
            leg.reach = [target_m, 0.0, target_m]
            return target_m
        lower, rate, before = state
        want = min(LANDING_REACH_RATE_MAX_MPS, max(-LANDING_REACH_RATE_MAX_MPS, (target_m - before) / dt))
        omega = LANDING_REACH_OMEGA
        rate += (omega * omega * (target_m - lower) + 2.0 * omega * (want - rate)) * dt
        lower += rate * dt
        state[0], state[1], state[2] = lower, rate, target_m
        return lower

    def _on_the_ground(self, side: int, ax: float, az: float, pitch: float, hip_z: float, dt: float,
                       prev: list, knee_max: float, hip_max: float, u: float) -> tuple[float, float]:
        """The walkway stops a swinging foot: where the joints would put its sole below the ground
        it took off from or lands on, it drags along it instead (a scuff), and the hip and knee are
        those of the leg with its foot there (the exoskeleton's encoders read the same leg). A knee
        at the end of its range cannot shorten the leg further: the toe stays as low as it gets."""
        p = self.profile
        leg = self.legs[side]
        self._ground_depth = 0.0
        leg.press_m = 0.0
        tx, tz = lk.rotate(p.foot_length_m, -p.foot_height_m, pitch)
        hx, hz = lk.rotate(-self.heel_m, -p.foot_height_m, pitch)
        # how far the sole is below the ground under its toe and heel
        need = max(self._floor_m(leg, ax + tx, leg.toe[1]) - (az + tz), self._floor_m(leg, ax + hx, leg.heel[1]) - (az + hz))
        if need <= GROUND_TOLERANCE_M:
            return ax, az
        leg.press_m = need
        # the patient's active range, or further where the exoskeleton already drives the joint
        # (a clearance boost flexes a weak knee beyond what the patient can)
        knee_max = max(knee_max, self.angle_rad[2 * side + 1])
        hip_max = max(hip_max, self.angle_rad[2 * side])
        hip, knee = lk.inverse(ax - self.hip_x, hip_z - (az + need), p.thigh_m, p.shank_m, knee_max, hip_max)
        dx, drop = lk.ankle_rel_hip(hip, knee, p.thigh_m, p.shank_m)
        # what the joints could not lift (a knee at the end of its range)
        self._ground_depth = max(0.0, need - (hip_z - drop - az))
        if self._ground_depth > GROUND_TOLERANCE_M and u < EARLY_LANDING_MIN_U:
            # Before terminal swing such a foot is not landing: it scuffs along the belt, which
            # pushes it up and back, and the knee gives beyond the patient's active range (the
            # belt's force is far above a paretic knee's resistance; the rig's pelvis frame leaves
            # no circumduction or hip hike to take it). The sole stays on the belt, never in it
            # (a 25 deg stiff knee and a dropped foot put the toe 12 cm through the belt)
            hip, knee = lk.inverse(ax - self.hip_x, hip_z - (az + need), p.thigh_m, p.shank_m,
                                   max(knee_max, KNEE_PASSIVE_MAX_RAD), hip_max)
            dx, drop = lk.ankle_rel_hip(hip, knee, p.thigh_m, p.shank_m)
            self._ground_depth = max(0.0, need - (hip_z - drop - az))
        for i, angle in ((2 * side, hip), (2 * side + 1, knee)):
            # a constraint on the pose only: the leg's drive (its own pattern and the
            # exoskeleton's pull) is what it was, and takes over again once the foot rises
            self.velocity_radps[i] = (angle - prev[i]) / dt if dt > 0.0 else 0.0
            self.angle_rad[i] = angle
            self._hold_rad[i] = angle
        leg.dorsi = knee - hip - pitch  # the foot keeps its pitch: the ankle takes the difference
        return self.hip_x + dx, hip_z - drop

    def _floor_m(self, leg: LegState, x_m: float, was_z_m: float) -> float:
        """The ground a point of a swinging foot stands on at x_m: the walkway under it when the
        point was above that surface (a foot coming down on a raised curb stays on it), else the
        lower of take-off and landing ground (a toe that meets a curb's face goes into the
        obstacle's box: that is a trip, decided by the crossing truth, not lifted over)."""
        g = self.walkway.ground_m(x_m)
        return g if was_z_m >= g - GROUND_TOLERANCE_M else min(leg.g0, leg.g1, g)

    def _hold_caught(self, leg: LegState, hip_z: float, dt: float, prev: list, knee_max: float, hip_max: float) -> None:
        """A foot caught by an obstacle (a trip): the contact holds the ankle where the obstacle
        is, stiffer than the patient or the exoskeleton; the joints follow from that constraint.
        After CATCH_S the patient lifts the foot free and the swing blends back to its plan."""
        p = self.profile
        side = leg.side
        el = self.t_s - leg.catch_t0
        held_x = leg.catch_x + leg.catch_v * CATCH_TAU_S * (1.0 - math.exp(-el / CATCH_TAU_S))
        held_z = leg.catch_z
        hip, knee = self.angle_rad[2 * side], self.angle_rad[2 * side + 1]
        if el >= CATCH_S:  # released: from the held point back to where the joints take the foot
            dx, drop = lk.ankle_rel_hip(hip, knee, p.thigh_m, p.shank_m)
            w = _smooth(el, CATCH_S, CATCH_S + RELEASE_S)
            held_x += (self.hip_x + dx - held_x) * w
            held_z += (hip_z - drop - held_z) * w
        hip, knee = lk.inverse(held_x - self.hip_x, hip_z - held_z, p.thigh_m, p.shank_m, knee_max, hip_max)
        for i, angle in ((2 * side, hip), (2 * side + 1, knee)):
            self.velocity_radps[i] = (angle - prev[i]) / dt if dt > 0.0 else 0.0
            self.angle_rad[i] = angle
            self._hold_rad[i] = angle

    def _swing_pitch(self, u: float, leg: LegState) -> float:
        """Planned foot pitch: the usual swing pattern, levelled over an obstacle (people carry
        the foot flat over what they step over)."""
        pitch = _profile_points(u, leg.pitch_plan)
        for u0, u1, _, out, past in leg.req:
            w = self._window(u, u0, u1, out, past)
            pitch *= 1.0 - 0.5 * w
        return pitch

    def _kinematics_rates(self, leg: LegState, dt: float) -> None:
        mid = (0.5 * (leg.heel[0] + leg.toe[0]) - self.belt_route_m, 0.5 * (leg.heel[1] + leg.toe[1]))
        if dt > 0.0 and leg.prev_mid is not None:
            vel = ((mid[0] - leg.prev_mid[0]) / dt, (mid[1] - leg.prev_mid[1]) / dt)
            if leg.prev_vel is not None:
                leg.accel = ((vel[0] - leg.prev_vel[0]) / dt, (vel[1] - leg.prev_vel[1]) / dt)
            leg.prev_vel = vel
            leg.pitch_rate = (leg.pitch - leg.prev_pitch) / dt if leg.prev_pitch is not None else 0.0
        leg.prev_mid = mid
        leg.prev_pitch = leg.pitch


def simulate(profile: PatientProfile, seed: int, speed_mps: float, duration_s: float,
             dt_s: float = 0.002, drive: ExoDrive | None = None, t0_s: float = 0.0, obstacles=None,
             perceive: bool = True) -> PatientModel:
    """Walk the patient offline at a constant belt speed with a fixed step; returns the model."""
    model = PatientModel(profile, seed, obstacles=obstacles, perceive=perceive)
    drive = drive or ExoDrive()
    n = int(round(duration_s / dt_s))
    model.step(t0_s, speed_mps, drive)
    for k in range(1, n + 1):
        model.step(t0_s + k * dt_s, speed_mps, drive)
    return model
