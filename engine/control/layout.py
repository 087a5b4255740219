"""Binary layouts shared between the control core, the UI and the recorder.

Everything that crosses a process boundary is a fixed numpy dtype defined here, so the
writer and every reader agree byte for byte. Add fields at the end; never rename (the recorder
stores telemetry chunks with these names).
"""

from __future__ import annotations

import enum

import numpy as np

# ---------------------------------------------------------------------------------------------
# Enumerations carried as small integers
# ---------------------------------------------------------------------------------------------


class RunState(enum.IntEnum):
    IDLE = 0
    RUNNING = 1
    PAUSED = 2
    STOPPING = 3  # controlled stop in progress (belt decelerating)
    STOPPED = 4  # stopped after a fault or request; needs the therapist to re-arm / start


class Priority(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class AlarmReason(enum.IntEnum):
    """Why an alarm was raised; the text the therapist reads is ALARM_TEXT[reason]."""

    NONE = 0
    STOP_REQUEST = 1
    UI_HEARTBEAT_LOST = 2
    TREADMILL_SILENT = 3
    EXO_SILENT = 4
    HEART_RATE_SILENT = 5
    TREADMILL_FAULT = 6
    EXO_FAULT = 7
    HARDWARE_ESTOP = 8
    LOOP_OVERRUNS = 9
    TREADMILL_WATCHDOG = 10
    EXO_WATCHDOG = 11
    SENSOR_FROZEN = 12
    LINK_ERRORS = 13
    HEART_RATE_HIGH = 14
    RECORDER_FAILED = 15
    SETTING_CLAMPED = 16
    CORE_LOST = 17  # raised by the UI when the state block stops changing
    INSOLES_SILENT = 18  # smart insoles configured but silent: controlled stop
    GEOMETRY_MISMATCH = 19  # the exoskeleton's fitted leg length disagrees with the prescription
    STUMBLE = 24  # a swing foot stopped by contact (engine/control/stumble.py): belt slowing, guidance up
    UI_VIEW_LATE = 20  # UI alive but its frames are late: belt slowed, obstacle plan held
    UI_VIEW_STALE = 21  # the patient's view stale beyond its limit: controlled stop


ALARM_TEXT: dict[int, str] = {
    AlarmReason.NONE: "",
    AlarmReason.STOP_REQUEST: "Stop requested",
    AlarmReason.UI_HEARTBEAT_LOST: "User interface stopped responding: controlled stop",
    AlarmReason.TREADMILL_SILENT: "Treadmill link lost: controlled stop",
    AlarmReason.EXO_SILENT: "Exoskeleton link lost: controlled stop",
    AlarmReason.HEART_RATE_SILENT: "Heart-rate sensor silent",
    AlarmReason.TREADMILL_FAULT: "Treadmill fault: controlled stop",
    AlarmReason.EXO_FAULT: "Exoskeleton motor fault: controlled stop",
    AlarmReason.HARDWARE_ESTOP: "Hardware emergency stop pressed",
    AlarmReason.LOOP_OVERRUNS: "Control loop overruns: controlled stop",
    AlarmReason.TREADMILL_WATCHDOG: "Treadmill watchdog stopped the belt",
    AlarmReason.EXO_WATCHDOG: "Exoskeleton watchdog went to safe mode",
    AlarmReason.SENSOR_FROZEN: "A sensor value is frozen: controlled stop",
    AlarmReason.LINK_ERRORS: "Many corrupted frames on a device link",
    AlarmReason.HEART_RATE_HIGH: "Heart rate above the limit",
    AlarmReason.RECORDER_FAILED: "Recording failed: data may be incomplete",
    AlarmReason.SETTING_CLAMPED: "A setting was outside the prescription and was clamped",
    AlarmReason.CORE_LOST: "Control core not responding: devices stop on their watchdogs",
    AlarmReason.INSOLES_SILENT: "Smart insoles link lost: controlled stop",
    AlarmReason.GEOMETRY_MISMATCH: "Exoskeleton leg length differs from the prescription: check the fitting",
    AlarmReason.STUMBLE: "Stumble: belt slowing, guidance raised; acknowledge to resume the speed",
    AlarmReason.UI_VIEW_LATE: "Patient view is late: belt slowed",
    AlarmReason.UI_VIEW_STALE: "Patient view stale too long: controlled stop",
}


class ObstacleCategory(enum.IntEnum):
    STEP_OVER = 0
    YIELD = 1


class ObstacleOutcome(enum.IntEnum):
    PENDING = 0
    CLEARED = 1
    HIT = 2
    PASSED = 3  # yield obstacle passed without incident


class EventKind(enum.IntEnum):
    """Events the core emits on the event ring (value fields per kind in EVENT_DTYPE docs)."""

    HEEL_STRIKE = 1  # side; v1 = stance share of the previous stride or nan; v2 heel's route position m; v3 heel ahead of the hip m
    TOE_OFF = 2  # side
    STEP = 3  # side; v1 step_length_m, v2 step_time_s, v3 toe_clearance_m
    STRIDE = 4  # side; v1 stride_time_s, v2 stance_fraction, v3 stride_length_m
    OBSTACLE_OUTCOME = 5  # obstacle index; code ObstacleOutcome; v1 clearance margin m, v2 toe height m
    OBSTACLE_PLAN = 6  # obstacle index; v1 planned speed m/s, v2 boost
    ALARM_RAISED = 7  # code AlarmReason; v1 priority; v2 detail (UI alarms: the age in s of what the core last saw; device silence: s left out of it)
    ALARM_ACKED = 8  # code AlarmReason
    RUN_STATE = 9  # code RunState
    SETTING_APPLIED = 10  # code setting id; v1 requested, v2 applied (after clamp)
    GUIDANCE_ADAPTED = 11  # v1 new guidance, v2 tracking error rad
    GOAL_REACHED = 12  # code 0 steps, 1 distance, 2 time
    # Per leg and obstacle, once that foot has crossed it: code obstacle index; v1 margin m
    # (lowest sole point over the obstacle minus its height), v2 LegOutcome, v3 obstacle height m
    OBSTACLE_LEG = 13
    # side; code GeometryCheck; v1 leg length the exoskeleton reports m, v2 prescribed m,
    # v3 reported minus prescribed m
    GEOMETRY_CHECK = 14
    # side of the caught foot; code 1 when the haptic cue was sent to the insoles (0: insoles
    # without a motor); v1 its peak speed over the belt in that swing m/s, v2 the belt speed
    # at detection m/s, v3 the speed the belt slows to m/s (engine/control/stumble.py)
    STUMBLE = 20
    # Balance of one stance from the insoles (engine/control/balance.py), at its toe off (t_s the
    # toe off): side; code 1 if the insoles resolve medial/lateral, else 0; v1 centre-of-pressure
    # path m, v2 its AP progression m, v3 its medio-lateral SD m (nan without lateral cells)
    STANCE_COP = 24
    # ... and its load, same t_s and side: code stance duration ms; v1 peak load, v2 load impulse
    # (fractions of the standing load, x s), v3 double support within the stance s
    STANCE_LOAD = 25
    # A loss of balance without a trip (engine/control/balance_loss.py: the extrapolated centre of
    # mass behind the base of support), answered as a stumble (STUMBLE alarm): side of the foot
    # whose edge bounds the base; code 1 when the haptic cue was sent; v1 the margin of stability
    # m (< 0), v2 the belt speed at detection m/s, v3 the speed the belt slows to m/s
    BALANCE_LOSS = 26
    # The core itself did not run for a while (engine/control/cpu_freeze.py, OwnFreezes), told
    # once per gap of at least 30 ms: code the CPU it runs on; v1 the gap s, v2 what the
    # hypervisor took of that CPU (steal) s within v3 s around it. Gap and steal alike: the
    # machine took the core's CPU, and a device's own watchdog may have stopped the belt.
    HOST_FREEZE = 27


class LegOutcome(enum.IntEnum):
    """How one leg crossed one step-over obstacle (OBSTACLE_LEG v2)."""

    CLEARED = 1  # the sole stayed above it
    TOUCHED = 2  # dipped into it by less than clearance.TRIP_DEPTH_M
    TRIPPED = 3  # caught by it


class GeometryCheck(enum.IntEnum):
    """Result of the session-start leg geometry check (GEOMETRY_CHECK code)."""

    AGREES = 0  # exoskeleton and prescription agree; measures use the exoskeleton's segments
    MISMATCH = 1  # they disagree by more than core.GEOMETRY_TOL_M: flagged, the exoskeleton's used
    UNVERIFIED = 2  # the exoskeleton reports no geometry: the prescription's with Winter's fractions


# Bits of the STEP event's `code`: how the step was measured.
STEP_INSOLE_TIMING = 1  # heel strike timed by the smart insoles (else exoskeleton pressure/kinematics)
STEP_DEVICE_GEOMETRY = 2  # heel positions from the exoskeleton's reported segments
STEP_IMU_PITCH = 4  # foot pitch from the insole IMU (else a foot square to the shank)
# Bits of the STRIDE event's `code`.
STRIDE_STEADY = 1  # steady-state stride (steady_state.py): the only ones in stride_cv_pct


# ---------------------------------------------------------------------------------------------
# Fixed capacities
# ---------------------------------------------------------------------------------------------

MAX_OBSTACLES = 128
MAX_ALARMS = 16

# ---------------------------------------------------------------------------------------------
# Obstacle timeline: a row per obstacle, derived from the scene (engine/scene/timeline.py)
# ---------------------------------------------------------------------------------------------
# Yield activity: if period_s > 0 the obstacle is active when
#   ((scene_time_s + phase_s) % period_s) < active_s      (e.g. a traffic light's red phase)
# else it is triggered when s first reaches trigger_m and stays active for duration_s.
TIMELINE_DTYPE = np.dtype(
    [
        ("kind", "<u2"),  # obstacle kind code (engine/scene: OBSTACLE_KIND_CODES)
        ("category", "u1"),  # ObstacleCategory
        ("at_m", "<f4"),  # route distance of the obstacle's near edge
        ("depth_m", "<f4"),  # extent along the route
        ("height_m", "<f4"),  # step-over height (0 for flat ones like a puddle's edge)
        ("lateral_m", "<f4"),  # offset from the route centre line, + to the right
        ("speed_fraction", "<f4"),  # approach/yield speed as a fraction of prescribed max; 0 = stop
        ("stop_gap_m", "<f4"),  # yield: stop this far before at_m
        ("trigger_m", "<f4"),  # triggered yield: s at which it becomes active
        ("duration_s", "<f4"),  # triggered yield: how long it stays active
        ("period_s", "<f4"),  # periodic yield: cycle length (0 = not periodic)
        ("active_s", "<f4"),  # periodic yield: active part of each cycle
        ("phase_s", "<f4"),  # periodic yield: offset of the cycle
        ("width_m", "<f4"),  # extent across the route (0: a point at lateral_m); lane test in planner
    ]
)

# ---------------------------------------------------------------------------------------------
# Command block: written by the UI, read by the core (seqlock)
# ---------------------------------------------------------------------------------------------
COMMAND_DTYPE = np.dtype(
    [
        ("ui_heartbeat", "<u8"),  # incremented by the UI every frame (and by its watchdog thread)
        ("run_request", "u1"),  # RunState the UI asks for: IDLE, RUNNING, PAUSED, STOPPING
        ("request_counter", "<u4"),  # bumped on each start/stop/pause/rearm press
        ("rearm_counter", "<u4"),  # bumped when the therapist confirms re-arming after a fault
        ("ack_counter", "<u4"),  # bumped to acknowledge all shown alarms
        # Prescription (limits); the core accepts changes only while the belt is stopped.
        ("rx_max_speed_mps", "<f4"),
        ("rx_max_accel_mps2", "<f4"),
        ("rx_max_decel_mps2", "<f4"),
        ("rx_guidance_min", "<f4"),
        ("rx_guidance_max", "<f4"),
        ("rx_bws_min", "<f4"),
        ("rx_bws_max", "<f4"),
        ("rx_clearance_boost_max", "<f4"),
        ("leg_length_l_m", "<f4"),
        ("leg_length_r_m", "<f4"),
        ("affected_side", "i1"),  # -1 none, 0 left, 1 right
        # Therapist settings, live; all fractions of the prescription.
        ("speed_fraction", "<f4"),
        ("guidance", "<f4"),  # 0..1 within [rx_guidance_min, rx_guidance_max]
        ("guidance_min", "<f4"),  # assist-as-needed bounds
        ("guidance_max", "<f4"),
        ("assist_as_needed", "u1"),  # 1 = adapt guidance from stride to stride
        ("guidance_locked", "u1"),
        ("bws_fraction", "<f4"),
        # Goals
        ("goal_steps", "<u4"),
        ("goal_distance_m", "<f4"),
        ("goal_time_s", "<f4"),
        # Scene
        ("scene_generation", "<u4"),  # bumped when a new timeline is written
        ("route_length_m", "<f4"),
        ("base_speed_fraction", "<f4"),  # the scene's base speed (fraction of prescription)
        ("obstacle_count", "<u2"),
        ("timeline", TIMELINE_DTYPE, (MAX_OBSTACLES,)),
        # Prescription, appended: heart-rate limit (bpm, 0 = none) for the HEART_RATE_HIGH alarm.
        ("rx_max_heart_rate_bpm", "<f4"),
        # The UI's two beats (engine/control/supervisor.py ViewPolicy): ui_heartbeat above says the
        # process and its main loop are alive (a thread); ui_frame counts patient-view frames
        # drawn (0: no view, e.g. `main.py core`); ui_pid lets the core watch the process itself.
        ("ui_frame", "<u8"),
        ("ui_pid", "<i4"),
        # Appended (issue 12): how the belt speed is chosen, a PaceMode (0 = scene, today's).
        ("pace_mode", "u1"),
        # Prescription, appended (issue 12): the patient's jerk limit for the self-paced belt
        # (m/s^3; 0 = not sent by an older writer: the core uses DEFAULT_MAX_JERK_MPS3).
        ("rx_max_jerk_mps3", "<f4"),
    ]
)

# ---------------------------------------------------------------------------------------------
# State block: written by the core every cycle, read by the UI (seqlock)
# ---------------------------------------------------------------------------------------------
ALARM_DTYPE = np.dtype(
    [
        ("reason", "<u2"),  # AlarmReason, 0 = empty slot
        ("priority", "u1"),
        ("acked", "u1"),
        ("active", "u1"),  # condition still present
        ("t_s", "<f8"),  # core time when raised
    ]
)

OBSTACLE_STATE_DTYPE = np.dtype(
    [
        ("outcome", "u1"),  # ObstacleOutcome
        ("active", "u1"),  # yield obstacle currently active (blocking)
        ("triggered_at_s", "<f4"),  # scene time the triggered yield started, nan before
        ("margin_m", "<f4"),  # clearance margin (toe height - obstacle height) when decided
    ]
)

STATE_DTYPE = np.dtype(
    [
        ("cycle", "<u8"),
        ("t_s", "<f8"),  # core monotonic time (time.monotonic of the core process)
        ("scene_time_s", "<f8"),  # scene clock: time running in this scene, frozen while paused
        ("run_state", "u1"),
        ("rt_granted", "u1"),
        ("s_m", "<f8"),  # distance along the route
        ("belt_speed_mps", "<f4"),  # measured
        ("belt_speed_cmd_mps", "<f4"),
        ("belt_accel_mps2", "<f4"),  # measured, filtered (for extrapolation)
        ("hip_rad", "<f4", (2,)),
        ("knee_rad", "<f4", (2,)),
        ("hip_ref_rad", "<f4", (2,)),
        ("knee_ref_rad", "<f4", (2,)),
        ("toe_height_m", "<f4", (2,)),
        ("contacts", "u1"),  # bits: heelL toeL heelR toeR
        ("gait_phase", "<f4", (2,)),  # 0..1 per leg, 0 at heel strike
        ("guidance", "<f4"),  # applied
        ("bws_fraction", "<f4"),  # applied
        ("clearance_boost", "<f4", (2,)),
        ("heart_rate_bpm", "<f4"),
        # gait metrics (rolling)
        ("steps", "<u4"),
        ("distance_m", "<f4"),
        ("cadence_spm", "<f4"),
        ("gait_speed_mps", "<f4"),  # BELT speed over strides (see gait_speed_source)
        ("step_length_m", "<f4", (2,)),
        ("step_time_s", "<f4", (2,)),
        ("stance_fraction", "<f4", (2,)),
        ("symmetry_index_pct", "<f4"),
        ("stride_cv_pct", "<f4"),
        ("toe_clearance_m", "<f4", (2,)),
        ("tracking_error_rad", "<f4"),
        # obstacles
        ("next_obstacle", "<i2"),  # index into the timeline, -1 none
        ("obstacles", OBSTACLE_STATE_DTYPE, (MAX_OBSTACLES,)),
        ("obstacles_cleared", "<u2"),
        ("obstacles_hit", "<u2"),
        ("goal_reached", "u1"),  # bits: steps, distance, time
        # loop health
        ("lateness_us", "<f4"),
        ("compute_us", "<f4"),
        ("overruns", "<u4"),
        ("max_lateness_us", "<f4"),
        # devices
        ("device_ok", "u1"),  # bits: treadmill, exo, heart rate, insoles (fresh frames)
        ("estop", "u1"),
        ("frames_bad", "<u4"),
        ("telemetry_overflow", "<u8"),
        ("scene_generation", "<u4"),  # generation of the timeline in use
        ("alarms", ALARM_DTYPE, (MAX_ALARMS,)),
        ("highest_unacked_priority", "u1"),
        ("core_pid", "<i4"),
        ("cycle_end", "<u8"),  # written last, equal to `cycle` in every consistent snapshot
        # Core time at which s_m was measured (rx time of the treadmill frame it came from);
        # 0 = s_m is already at t_s. The renderer extrapolates s from this time (engine issue).
        ("s_measured_t_s", "<f8"),
        # What gait_speed_mps is: 1 = the belt (stride length over stride time on a treadmill
        # driven at a set speed), never a self-selected speed; risk classes must not use it.
        ("gait_speed_source", "u1"),
        ("foot_pitch_rad", "<f4", (2,)),  # from the insole IMU, toe down positive; nan without insoles
        ("geometry_check", "i1"),  # GeometryCheck, -1 not yet checked
        ("standing_load_n", "<f4"),  # insole standing calibration (sum of both feet), nan before
    ]
)

GAIT_SPEED_FROM_BELT = 1

# ---------------------------------------------------------------------------------------------
# Telemetry ring: one record per control cycle (recorder drains it)
# ---------------------------------------------------------------------------------------------
TELEMETRY_DTYPE = np.dtype(
    [
        ("t_s", "<f8"),
        ("cycle", "<u8"),
        ("belt_speed_cmd_mps", "<f4"),
        ("belt_speed_mps", "<f4"),
        ("s_m", "<f8"),
        ("hip_ref_rad", "<f4", (2,)),
        ("knee_ref_rad", "<f4", (2,)),
        ("hip_rad", "<f4", (2,)),
        ("knee_rad", "<f4", (2,)),
        ("guidance", "<f4"),
        ("bws_fraction", "<f4"),
        ("contacts", "u1"),
        ("gait_phase", "<f4", (2,)),
        ("toe_height_m", "<f4", (2,)),
        ("clearance_boost", "<f4", (2,)),
        ("heart_rate_bpm", "<f4"),
        ("events", "<u4"),  # bit (1 << EventKind) for events emitted this cycle
        ("run_state", "u1"),
        ("lateness_us", "<f4"),
        ("compute_us", "<f4"),
        ("alarms", "<u4"),  # bit (1 << AlarmReason) for each active alarm
    ]
)

# Event ring: sparse, meaningful events (steps, strides, obstacle outcomes, alarms, settings).
EVENT_DTYPE = np.dtype(
    [
        ("cycle", "<u8"),
        ("t_s", "<f8"),
        ("kind", "<u2"),  # EventKind
        ("side", "i1"),  # 0 left, 1 right, -1 n/a
        ("code", "<i2"),  # obstacle index, AlarmReason, RunState, setting id...
        ("v1", "<f4"),
        ("v2", "<f4"),
        ("v3", "<f4"),
    ]
)

# Ring capacities: 1 kHz x 30 s of telemetry lets the recorder stall for 30 s without loss.
TELEMETRY_CAPACITY = 32768
EVENT_CAPACITY = 4096


class SettingId(enum.IntEnum):
    """`code` of a SETTING_APPLIED event: which therapist setting changed."""

    SPEED_FRACTION = 1
    GUIDANCE = 2
    GUIDANCE_MIN = 3
    GUIDANCE_MAX = 4
    ASSIST_AS_NEEDED = 5
    GUIDANCE_LOCKED = 6
    BWS_FRACTION = 7
    GOAL_STEPS = 8
    GOAL_DISTANCE_M = 9
    GOAL_TIME_S = 10
    PRESCRIPTION = 11  # v1 new max speed m/s, v2 1 = accepted, 0 = refused (belt moving/invalid)
    PACE_MODE = 12  # v1 requested, v2 applied PaceMode


class PaceMode(enum.IntEnum):
    """How the belt speed is chosen (command block `pace_mode`; docs/control.md)."""

    SCENE = 0  # the therapist's speed, slowed by the scene's obstacle plans (the default)
    FIXED = 1  # the therapist's speed; only yield obstacles (and the route end) slow the belt
    SELF = 2  # self-paced: the belt follows the patient (engine/control/self_paced.py)


# Bits of STATE_DTYPE.device_ok and the `contacts` bits, named for readers.
DEVICE_OK_TREADMILL, DEVICE_OK_EXO, DEVICE_OK_HEART_RATE, DEVICE_OK_INSOLES = 1, 2, 4, 8
CONTACT_HEEL_L, CONTACT_TOE_L, CONTACT_HEEL_R, CONTACT_TOE_R = 1, 2, 4, 8
