"""One control cycle: devices in, safety, adaptation, gait measurement, commands and state out.

`ControlCore.step()` is the whole per-cycle work; the loop that calls it at a fixed rate lives in
process.py (and in bench/control_loop.py, which drives the same step with other timers). The hot
path uses plain floats and preallocated buffers, decodes only what arrived, and writes the shared
records with precompiled structs (packing.py). Nothing here blocks, logs or takes a lock the UI
can hold.
"""

from __future__ import annotations

import logging
import math
import os
import select
import struct
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

from engine.control import foot_kinematics as fk
from engine.control import refgait
from engine.control.adaptation import AssistAsNeeded
from engine.control.balance import StanceBalance
from engine.control.balance_loss import BalanceLossGuard
from engine.control.channels import Channels
from engine.control.clearance import HOLD_MAX_S, DeferredSoles, ObstacleMargins, SwingClearance
from engine.control.config import CoreConfig
from engine.control.cpu_freeze import FREEZE_REPORT_MIN_S, CpuClock, OwnFreezes
from engine.control.gait_events import (
    HEEL_STRIKE,
    TOE_OFF,
    FootEvents,
    KinematicEvents,
    PhaseEstimator,
)
from engine.control.gait_metrics import GaitMetrics
from engine.control.insole_events import TARE_CLEAR_M, InsoleFoot
from engine.control.layout import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    GAIT_SPEED_FROM_BELT,
    OBSTACLE_STATE_DTYPE,
    STATE_DTYPE,
    STEP_DEVICE_GEOMETRY,
    STEP_IMU_PITCH,
    STEP_INSOLE_TIMING,
    STRIDE_STEADY,
    TELEMETRY_DTYPE,
    AlarmReason,
    EventKind,
    GeometryCheck,
    ObstacleCategory,
    ObstacleOutcome,
    PaceMode,
    RunState,
    SettingId,
)
from engine.control.packing import run_struct
from engine.control.planner import BOOST_FULL_M, Planner
from engine.control.prescription import DEFAULT_MAX_JERK_MPS3, Prescription, PrescriptionError
from engine.control.rig_lateness import RigLateness
from engine.control.self_paced import SelfPacedController
from engine.control.shm import HEADER_BYTES
from engine.control.starvation import StarvationWatch
from engine.control.steady_state import StrideSteadiness
from engine.control.stumble import HAPTIC_CUE, StumbleGuard
from engine.control.supervisor import STOP_REASONS, AlarmTable, Limits, Supervisor, ViewPolicy
from engine.control.walkway import Walkway

GUIDANCE, TRANSPARENT, HOLD = 1, 0, 2  # devices.base.JointMode values (no import on the hot path)
_U32 = 0xFFFFFFFF
TREADMILL_REFRESH_S = 0.005  # resend the belt set-point at least this often (feeds its 100 ms
# watchdog: at 20 ms a host stall of 80-100 ms tripped the treadmill where the exoskeleton, fed
# every cycle, rode it out; soak under load)
BWS_REFRESH_S = 0.2
HEART_RATE_SILENT_S = 3.0
ARMING_TIMEOUT_S = 0.5  # devices must report armed this soon after a start
STOPPED_SPEED_MPS = 0.02  # a controlled stop ends when the belt is slower than this
SILENT_STOP_S = 4.0  # 3 m/s at the firmware's safe 0.8 m/s^2, after its 100 ms watchdog
FROZEN_SENSOR_S = 0.15  # identical joint angles for this long while walking = frozen sensor
LINK_ERRORS_PER_S = 50
INSOLE_SILENT_SAMPLES = 4  # insoles silent for this many sample periods (and device_silence_s)
STANDING_DEFAULT_N = 700.0  # insole load normaliser before a standing calibration (~71 kg)
STANDING_MIN_N = 100.0  # less than this on both insoles is nobody standing
GEOMETRY_TOL_M = 0.02  # exoskeleton vs prescribed leg length: twice a tape measure's ~1 cm error
GEOMETRY_WAIT_S = 1.0  # how long to wait for the exoskeleton's geometry before using the prescription's
HIP_DRIFT_MAX_M = 5.0  # sanity bound on the hip's measured place ahead of or behind the belt's s
SOLE_H_STALE_S = 0.02  # kinematic sole height older than this says nothing (~10 exoskeleton samples)
JOINT_HISTORY = 64  # exoskeleton samples kept for looking up angles at an event's time (128 ms)
# Therapist settings in the command block: (field, event id, Core attribute, kind), where kind
# "fraction" is clamped to 0..1 of the prescription, "flag" to 0/1 and "goal" to >= 0.
_SETTINGS = (
    ("speed_fraction", SettingId.SPEED_FRACTION, "speed_fraction", "fraction"),
    ("guidance", SettingId.GUIDANCE, "guidance_setting", "fraction"),
    ("guidance_min", SettingId.GUIDANCE_MIN, "guidance_min", "fraction"),
    ("guidance_max", SettingId.GUIDANCE_MAX, "guidance_max", "fraction"),
    ("assist_as_needed", SettingId.ASSIST_AS_NEEDED, "assist_as_needed", "flag"),
    ("guidance_locked", SettingId.GUIDANCE_LOCKED, "guidance_locked", "flag"),
    ("bws_fraction", SettingId.BWS_FRACTION, "bws_fraction", "fraction"),
    ("goal_steps", SettingId.GOAL_STEPS, "goal_steps", "goal"),
    ("goal_distance_m", SettingId.GOAL_DISTANCE_M, "goal_distance_m", "goal"),
    ("goal_time_s", SettingId.GOAL_TIME_S, "goal_time_s", "goal"),
    ("pace_mode", SettingId.PACE_MODE, "pace_mode", "mode"),
)
# Conditions evaluated every cycle in any state; a start is refused while one is present.
START_BLOCKERS = (
    AlarmReason.TREADMILL_SILENT,
    AlarmReason.EXO_SILENT,
    AlarmReason.TREADMILL_FAULT,
    AlarmReason.EXO_FAULT,
    AlarmReason.HARDWARE_ESTOP,
    AlarmReason.INSOLES_SILENT,
)
HOST_STALL_S = 0.005  # a gap between cycles this long means the core itself was not running
# The longest a port's reader may wait in the kernel for the tty flip-buffer worker (bytes the
# device sent, queued but not yet delivered) before silence counts again: the devices' own
# watchdog period, so the host stays blind no longer than a device tolerates a silent host.
RX_STALL_LIMIT_S = 0.1
UI_PID_CHECK_CYCLES = 10  # poll the UI's pidfd this often (a few microseconds each)
# A UI whose liveness beat is overdue while its main thread sits runnable without a CPU is
# starved, not dead or hung: the beat thread (SCHED_FIFO 10) gets a CPU at once but then waits
# for the GIL, which the preempted main thread holds (bench session stopped at load 7-9 with no
# "main loop frozen" log: docs/control.md, "A starved UI is not a dead one"). That time is left
# out of the beat's age (starvation.StarvationWatch), never for a beat older than this: the view
# is long stale by then (the view policy has slowed the belt since 0.1 s).
UI_STARVED_MAX_S = 1.0
# The virtual rig (its pid in CoreConfig.sim_rig_pid; real devices cannot be starved or late):
# what its lateness leaves out of a simulated device's silence (engine/control/rig_lateness.py)
# is never more than this.
RIG_STARVED_MAX_S = 0.5

_U64 = struct.Struct("<Q")
_STATE_A, _STATE_A_OFF = run_struct(STATE_DTYPE, "cycle", "next_obstacle")
_STATE_B, _STATE_B_OFF = run_struct(STATE_DTYPE, "obstacles_cleared", "scene_generation")
_STATE_C, _STATE_C_OFF = run_struct(STATE_DTYPE, "highest_unacked_priority", "s_measured_t_s")
_STATE_D, _STATE_D_OFF = run_struct(STATE_DTYPE, "gait_speed_source", "standing_load_n")
_TELEMETRY, _ = run_struct(TELEMETRY_DTYPE, "t_s", "alarms")
_EVENT, _ = run_struct(EVENT_DTYPE, "cycle", "v3")
_NAN = math.nan
_STEP_OVER = int(ObstacleCategory.STEP_OVER)


def _members(enum_cls: type[Enum]) -> type:
    """A plain class whose attributes are `enum_cls`'s members (the same objects). The cycle's hot
    paths read members through these: in CPython 3.11 every attribute of an Enum class takes the
    slow path of EnumType.__getattr__ (~0.3 us a read, about 4x a plain class attribute), and a
    cycle read some 35 of them."""
    return type(f"{enum_cls.__name__}Members", (), dict(enum_cls.__members__))


# Any: the attributes are made at import, so a type checker (and mypyc) reads them untyped.
_Run: Any = _members(RunState)
_Alarm: Any = _members(AlarmReason)
_Pace: Any = _members(PaceMode)
_Category: Any = _members(ObstacleCategory)
# Each alarm's bit in AlarmTable.active_bits (is_active without the call, for the per-cycle checks)
_AlarmBit: Any = type("AlarmBits", (), {name: 1 << int(reason) for name, reason in AlarmReason.__members__.items()})

log = logging.getLogger(__name__)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _f32(x: float) -> float:
    """Clip to what a float32 holds (struct raises on overflow)."""
    if x > 3e38:
        return 3e38
    if x < -3e38:
        return -3e38
    return x


class ControlCore:
    """The control core's state and its per-cycle `step`."""

    def __init__(self, config: CoreConfig, channels: Channels, devices, rt_granted: bool = False) -> None:
        self.config = config
        self.ch = channels
        self.devices = devices
        self.tm = devices.treadmill
        self.exo = devices.exoskeleton
        self.hr = devices.heart_rate
        self.ins: Any = getattr(devices, "insoles", None)  # smart insoles, optional
        self.period_s = 1.0 / config.rate_hz
        self.rt_granted = rt_granted
        self.pid = os.getpid()

        self.state_buf = channels.state.buffer
        self.telemetry_ring = channels.telemetry
        self.events_ring = channels.events
        self.cmd_block = channels.command
        self.cmd = np.zeros((), dtype=COMMAND_DTYPE)
        self.cmd_seq = -1
        # The command record as raw bytes, both ends: a structured np.copyto goes field by field
        # (~20 us for the 6.6 kB block, the obstacle timeline included); bytes are one memcpy.
        self._cmd_bytes = self.cmd.reshape(1).view(np.uint8)
        try:
            self._cmd_src: np.ndarray | None = np.ndarray((COMMAND_DTYPE.itemsize,), np.uint8, buffer=self.cmd_block.buffer,
                                       offset=HEADER_BYTES)
        except (AttributeError, TypeError, ValueError):  # a block without a raw mapping
            self._cmd_src = None
        self.state_view = channels.state.data
        self.obstacle_table = np.zeros(len(self.state_view["obstacles"]), dtype=OBSTACLE_STATE_DTYPE)

        self.supervisor = Supervisor()
        self.alarms = AlarmTable()
        self.highest_unacked = 0  # alarms.highest_unacked() as of the last publish of the table
        self.planner = Planner()
        self.aan = AssistAsNeeded()
        self.metrics = GaitMetrics()
        self.feet = [FootEvents(), FootEvents()]
        self.kin_feet = [KinematicEvents(), KinematicEvents()]
        self.phase_est = [PhaseEstimator(), PhaseEstimator()]
        self.insole_feet = [InsoleFoot(), InsoleFoot()]
        self.stumble = StumbleGuard()
        self.balance_loss = BalanceLossGuard()  # loss of balance without a trip (balance_loss.py)
        self.balance = [StanceBalance(), StanceBalance()]  # per-stance COP and load (balance.py)
        self.geo = fk.LegGeometry()
        self.swing_clear = SwingClearance()
        self.ob_margins = ObstacleMargins()
        self.soles_held = DeferredSoles()  # swing samples waiting for their instant's insole pitch
        self.row_events = [0, 0]  # each foot's insole event of the row being read (_insoles_in)
        self.walkway = Walkway()
        self.stance_ground_m = [0.0, 0.0]  # walkway height under each planted foot
        # per planted foot: (ahead, rise) of a curb's edge its sole rests against (fk.lip_contact_m),
        # None on level ground
        self.stance_lip: list = [None, None]
        # route position of each planted heel (the feet, not the belt, say where the hip is: a
        # patient drifts forward and back on the treadmill); nan until the first sample of a route
        self.planted_m = [_NAN, _NAN]
        self.hip_offset_m = 0.0  # the hip's place on the treadmill relative to the route's s
        # per foot, a landing placed from a pitch the insole's zero on the belt will correct: its
        # strike time (-1: none pending) and d(footprint)/d(pitch) there, m/rad (_landing_zeroed)
        self.landing_fix_t = [-1.0, -1.0]
        self.landing_fix_slope = [0.0, 0.0]
        self.strike_t = [-1.0, -1.0]  # per foot, its latest heel strike (host s)
        # ... and per foot, the other's landing chained from this foot's pitch in heel rise: its
        # time (-1: none) and d(that footprint)/d(this pitch), m/rad; this foot's next zero on the
        # belt, after its swing, corrects the chain
        self.trail_fix_t = [-1.0, -1.0]
        self.trail_fix_slope = [0.0, 0.0]
        self.steadiness = StrideSteadiness()
        self.standing_n = _NAN
        self.ins_silence_s = max(config.device_silence_s, INSOLE_SILENT_SAMPLES / self._insole_rate_hz())
        self.ins_sent_t = -1.0
        self.pitch = [_NAN, _NAN]
        self.geometry_check = -1  # GeometryCheck once checked
        self.geometry_asked_s = -1.0
        self.geometry_since_s = -1.0
        # exoskeleton samples (host time, hipL, kneeL, hipR, kneeR), a ring for event-time lookups
        self.jh_t = [0.0] * JOINT_HISTORY
        self.jh_a = [[0.0] * 4 for _ in range(JOINT_HISTORY)]
        self.jh_n = 0
        self.event_angles = [0.0] * 4

        # run state
        self.run_state = RunState.IDLE
        self.stop_is_fault = False
        self.stop_reason = 0
        self.arming_until_s = 0.0
        self.stop_started_s = 0.0
        self.cycle = 0
        self.t_s = 0.0
        self.last_t_s = 0.0
        self.dt_s = self.period_s  # this cycle's dt (step)
        self.scene_time_s = 0.0
        self.session_time_s = 0.0
        self.events_bits = 0
        self.stop_requested_by_signal = False

        # commands seen (last values) and settings in force
        self.hb_value = -1
        self.hb_t_s = 0.0
        # the patient's view and the UI process (ViewPolicy; a pidfd where the kernel has them)
        self.view = ViewPolicy()
        self.view_state = ViewPolicy.OK
        self.ui_frame = 0
        self.ui_pid = 0
        self.ui_pidfd = -1
        self.ui_poller: select.poll | None = None
        self.ui_gone = False
        self.cpus = CpuClock()  # which CPUs the hypervisor has taken (a virtual machine's host)
        self.own_freezes = OwnFreezes(self.cpus)  # this process's own stalls, and their steal
        self.ui_starved = StarvationWatch(self.cpus)  # the UI process, judged when its beat is overdue
        self.rig_starved = StarvationWatch(self.cpus)  # the virtual rig's, when a device is quiet
        self.rig_starved.watch(config.sim_rig_pid)
        self.rig_awake_since_s = 0.0  # the end of the rig's last starvation (rigs without a clock)
        # Its tick clock: lateness left out of device silence (none: real devices).
        self.rig_late = RigLateness(config.sim_rig_pid, self.rig_starved, RIG_STARVED_MAX_S)
        self._silence_left_out_s = 0.0  # of the silence _silent last found (the alarm's detail)
        self._rig_quiet_mark_s = -1.0  # when the devices' current quiet began (-1: none)
        self.request_counter: int | None = None
        self.rearm_counter: int | None = None
        self.ack_counter: int | None = None
        self.rx_key: tuple | None = None
        self.rx_refused_key: tuple | None = None
        self.speed_fraction = 0.0
        self.pace_mode = PaceMode.SCENE
        self.self_paced = SelfPacedController()
        self.max_jerk_mps3 = DEFAULT_MAX_JERK_MPS3  # the prescription's, once one is accepted
        self.patient_position_m = math.nan  # treadmill distance sensor (NaN: none)
        self.guidance_setting = 0.5
        self.guidance_min = 0.0
        self.guidance_max = 1.0
        self.assist_as_needed = False
        self.guidance_locked = False
        self.bws_fraction = 0.0
        self.goal_steps = 0
        self.goal_distance_m = 0.0
        self.goal_time_s = 0.0
        self.goal_bits = 0
        self.scene_generation = 0
        self.settings_seen: dict[str, float] = {}

        # belt
        self.s_m = 0.0
        self.distance_m = 0.0
        self.belt_total_m = 0.0
        self.last_encoder: int | None = None
        self.belt_speed_mps = 0.0
        self.belt_accel_mps2 = 0.0
        self.last_tm_seq = -1
        self.last_tm_t = 0.0
        self.tm_sample_t = 0.0
        self.host_stall_end_s = 0.0  # end of the last gap in which this process did not run
        self.own_stall_s = 0.0  # the total of those gaps (beyond a period each)
        self._own_stall_at_hb_s = 0.0  # that total when the UI's newest beat was read
        self.last_belt_speed = 0.0
        self.tm_sent_cmd = -1.0
        self.tm_sent_t = -1.0
        self.bws_sent = -1.0
        self.bws_sent_t = -1.0
        self.hr_sent_t = -1.0
        self.exo_safe_sent = False

        # joints and gait
        self.angles = [0.0, 0.0, 0.0, 0.0]
        self.ref = [0.0] * 8  # per leg: hip, knee, dhip, dknee
        self.toe_h = [0.0, 0.0]
        # lowest point of each swinging sole over the ground (kinematics; 0 in stance), and the
        # host time of the exoskeleton sample it came from
        self.sole_h = [0.0, 0.0]
        self.sole_h_t = [-1.0, -1.0]
        self.toe_x_world = [0.0, 0.0]
        self.heel_x_world = [_NAN, _NAN]  # route x of each swinging heel (NaN before any swing)
        self.contacts = 0
        self.phase = [0.0, 0.0]
        self.feet_m = [0.3, -0.3]  # planted (or predicted landing) world positions
        self.prev_feet_m = [0.3, -0.3]
        self.plan_steps_m = [0.6, 0.6]  # each leg's expected step for the obstacle planner
        self.swinging = [False, False]
        self.last_exo_seq = -1
        self.last_exo_dev_t = 0.0
        self.dev_clock_offset_s = [_NAN, _NAN, _NAN]  # treadmill, exoskeleton, insoles
        self.frozen_since_s = 0.0
        self.last_angles_key: tuple[float, float, float, float] | None = None
        self.use_kinematic_events = False
        self.guidance_applied = 0.0
        self.bws_applied = 0.0
        self.boost = [0.0, 0.0]
        self.swing_boost = [0.0, 0.0]  # boost applied through each leg's last swing (at its heel strike)
        self.tracking_error_rad = _NAN
        self.heart_rate_bpm = _NAN
        self.aan_guidance = 0.5

        # loop health
        self.lateness_us = 0.0
        self.compute_us = 0.0
        self.overruns = 0
        self.overrun_streak = 0
        self.max_lateness_us = 0.0
        self.frames_bad_window = 0
        self.frames_bad_t = 0.0
        self.frames_bad_total = 0
        self.device_ok = 0

        # latency probe for bench/obstacle_latency.py: cycle of the latest planner decision
        self.last_plan_cycle = -1
        self.last_plan_speed = 0.0

        self.leg_length = [0.9, 0.9]
        self._scale_key: tuple | None = None  # (v_ref, left, right) of the cached amplitude scales
        self._scales = (1.0, 1.0, 0.0, 0.0)  # (scale left, right, their swing floors), see _plan_and_command
        self.hr_limit_bpm = 0.0  # the prescription's heart-rate limit; 0 = none
        self.obstacles_dirty = True
        self._outcome_counts = (0, 0)  # (cleared, hit), recounted when the obstacles change

    # ------------------------------------------------------------------------------------------
    # events and alarms
    # ------------------------------------------------------------------------------------------
    def emit(self, kind: int, side: int, code: int, v1: float = _NAN, v2: float = _NAN, v3: float = _NAN,
             t_s: float | None = None) -> None:
        """Append one event to the event ring (dropped and counted when the ring is full).

        t_s defaults to this cycle's time; gait events carry the estimated time of the event.
        """
        self.events_bits |= 1 << kind
        self.events_ring.push_packed(
            _EVENT, self.cycle, self.t_s if t_s is None else t_s, kind, side, code, _f32(v1), _f32(v2), _f32(v3),
        )

    def _report_freeze(self, cpu: int, gap_s: float, steal_s: float, window_s: float) -> None:
        """Tell one of the core's own stalls: an event for the records and a log line."""
        self.emit(EventKind.HOST_FREEZE, -1, cpu, gap_s, steal_s, window_s)
        log.warning("the control core did not run for %.0f ms; the hypervisor took %.0f ms of its CPU %d within "
                    "%.1f s%s", gap_s * 1e3, steal_s * 1e3, cpu, window_s,
                    ": this machine's host takes its CPUs, and the devices' own 90-100 ms watchdogs may stop the "
                    "belt" if steal_s >= 0.5 * gap_s else "")

    def alarm(self, reason: int, detail: float = _NAN, stop: bool = True) -> None:
        """Raise an alarm (event when new, v2 = detail: for the UI's alarms the age in seconds of
        what the core last saw from it); a stop reason starts a controlled stop (unless stop is
        False: shown only)."""
        if self.alarms.raise_alarm(reason, self.t_s):
            prio = self.alarms.slots[[s[0] for s in self.alarms.slots].index(reason)][1]
            self.emit(EventKind.ALARM_RAISED, -1, reason, float(prio), detail)
        if stop and reason in STOP_REASONS:
            self.controlled_stop(reason, fault=reason != AlarmReason.STOP_REQUEST)

    def set_run_state(self, state: RunState) -> None:
        if state != self.run_state:
            self.run_state = state
            self.emit(EventKind.RUN_STATE, -1, int(state))

    def controlled_stop(self, reason: int, fault: bool) -> None:
        """Belt to zero at the prescribed deceleration, exoskeleton to its safe mode."""
        if self.run_state == RunState.STOPPED and fault:
            return
        if self.run_state != RunState.STOPPING:
            self.stop_reason = reason
            self.stop_is_fault = fault
            self.exo_safe_sent = False
            self.tm_sent_t = -1.0  # send the stop now
            self.stop_started_s = self.t_s
            self.set_run_state(RunState.STOPPING)
        elif fault and not self.stop_is_fault:
            self.stop_is_fault = True
            self.stop_reason = reason

    def request_stop(self) -> None:
        """A stop from outside the UI (signal): controlled stop, then the caller releases."""
        self.stop_requested_by_signal = True
        if self.run_state in (RunState.RUNNING, RunState.PAUSED, RunState.STOPPING):
            self.controlled_stop(AlarmReason.STOP_REQUEST, fault=False)

    def is_at_rest(self) -> bool:
        """True when nothing moves: belt stopped and no stop in progress."""
        return self.run_state in (RunState.IDLE, RunState.STOPPED) and self.supervisor.speed_cmd_mps == 0.0

    # ------------------------------------------------------------------------------------------
    # commands from the UI
    # ------------------------------------------------------------------------------------------
    def _read_commands(self, t: float) -> None:
        # Non-blocking seqlock read: a write in progress (or one that lands while we copy) is
        # simply picked up next cycle; the core never waits for the UI.
        block = self.cmd_block
        seq = block.sequence
        if seq == self.cmd_seq or seq & 1:
            return
        if self._cmd_src is not None:
            np.copyto(self._cmd_bytes, self._cmd_src)
        else:
            np.copyto(self.cmd, block.data)
        if block.sequence != seq:
            return
        self.cmd_seq = seq
        c = self.cmd
        hb = int(c["ui_heartbeat"])
        if hb != self.hb_value:
            self.hb_value = hb
            self.hb_t_s = t
            self._own_stall_at_hb_s = self.own_stall_s
        frame = int(c["ui_frame"])
        if frame != self.ui_frame:
            self.ui_frame = frame
            self.view.frame_seen(t)
        pid = int(c["ui_pid"])
        if pid != self.ui_pid:
            self._watch_ui(pid)
        if self.rx_key is None or self._rx_changed(c):
            self._apply_prescription(c)
        self._apply_settings(c)
        gen = int(c["scene_generation"])
        if gen != self.scene_generation:
            self.scene_generation = gen
            self.planner.load(c["timeline"], int(c["obstacle_count"]), float(c["route_length_m"]))
            self.ob_margins.reset()
            self.soles_held.reset()
            obstacles = self.planner.obstacles
            self.walkway.load(c["timeline"], len(obstacles), lambda i: getattr(obstacles[i], "in_lane", True))
            self.stance_ground_m[0] = self.stance_ground_m[1] = 0.0
            self.stance_lip[0] = self.stance_lip[1] = None
            self.planted_m[0] = self.planted_m[1] = _NAN
            self.landing_fix_t[0] = self.landing_fix_t[1] = -1.0
            self.trail_fix_t[0] = self.trail_fix_t[1] = -1.0
            self.strike_t[0] = self.strike_t[1] = -1.0
            self.hip_offset_m = 0.0
            self.s_m = 0.0
            self.scene_time_s = 0.0
            self.obstacles_dirty = True
        counter = int(c["ack_counter"])
        if self.ack_counter is not None and counter != self.ack_counter:
            for reason in self.alarms.acknowledge():
                self.emit(EventKind.ALARM_ACKED, -1, reason)
        self.ack_counter = counter
        counter = int(c["rearm_counter"])
        if self.rearm_counter is not None and counter != self.rearm_counter:
            self._rearm()
        self.rearm_counter = counter
        counter = int(c["request_counter"])
        if self.request_counter is not None and counter != self.request_counter:
            self._run_request(int(c["run_request"]), t)
        self.request_counter = counter

    def _watch_ui(self, pid: int) -> None:
        """Watch the UI process through a pidfd (readable once it exits; not on the hot path)."""
        if self.ui_pidfd >= 0:
            os.close(self.ui_pidfd)
        self.ui_starved.watch(pid)
        self.ui_pid, self.ui_pidfd, self.ui_poller, self.ui_gone = pid, -1, None, False
        if pid <= 0:
            return
        try:
            self.ui_pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):  # no such process (already gone), or an old kernel
            self.ui_gone = not _pid_exists(pid)
            return
        self.ui_poller = select.poll()
        self.ui_poller.register(self.ui_pidfd, select.POLLIN)

    def _rx_changed(self, c) -> bool:
        return self.rx_key != self._rx_tuple(c)

    @staticmethod
    def _rx_tuple(c) -> tuple:
        return (
            float(c["rx_max_speed_mps"]), float(c["rx_max_accel_mps2"]), float(c["rx_max_decel_mps2"]),
            float(c["rx_guidance_min"]), float(c["rx_guidance_max"]), float(c["rx_bws_min"]),
            float(c["rx_bws_max"]), float(c["rx_clearance_boost_max"]), float(c["leg_length_l_m"]),
            float(c["leg_length_r_m"]), int(c["affected_side"]), float(c["rx_max_heart_rate_bpm"]),
            float(c["rx_max_jerk_mps3"]) or DEFAULT_MAX_JERK_MPS3,  # 0: an older writer, the default
        )

    def _apply_prescription(self, c) -> None:
        key = self._rx_tuple(c)
        self.rx_key = key
        if key[0] == 0.0:
            return  # nothing sent yet
        try:
            rx = Prescription(
                max_speed_mps=key[0], max_accel_mps2=key[1], max_decel_mps2=key[2],
                guidance_min=key[3], guidance_max=key[4], bws_min=key[5], bws_max=key[6],
                clearance_boost_max=key[7], leg_length_l_m=key[8], leg_length_r_m=key[9],
                affected_side=key[10], max_heart_rate_bpm=key[11], max_jerk_mps3=key[12],
            )
        except PrescriptionError:
            self.emit(EventKind.SETTING_APPLIED, -1, SettingId.PRESCRIPTION, key[0], 0.0)
            self.alarm(AlarmReason.SETTING_CLAMPED)
            return
        moving = self.belt_speed_mps > STOPPED_SPEED_MPS or not self.is_at_rest()
        accepted = not moving and self.supervisor.set_limits(Limits.from_prescription(rx))
        if accepted:
            self.leg_length = [rx.leg_length_l_m, rx.leg_length_r_m]
            # the affected leg's boost starts from what a dropped foot gains (refgait), so its
            # first crossing is not asked for a sound leg's lift (its first box tripped)
            for side in (0, 1):
                self.planner.set_lift_prior(side, refgait.toe_lift_per_boost_m(self.leg_length[side], True)
                                            if side == rx.affected_side else BOOST_FULL_M)
            self.hr_limit_bpm = rx.max_heart_rate_bpm
            self.max_jerk_mps3 = rx.max_jerk_mps3
            self.geometry_check = -1  # check the exoskeleton's fitting against this prescription
            self.rx_refused_key = None
            self.emit(EventKind.SETTING_APPLIED, -1, SettingId.PRESCRIPTION, key[0], 1.0)
        else:
            self.rx_key = None  # try again at the next command read (accepted once the belt stands)
            if key != self.rx_refused_key:
                self.rx_refused_key = key
                self.emit(EventKind.SETTING_APPLIED, -1, SettingId.PRESCRIPTION, key[0], 0.0)

    def _apply_settings(self, c) -> None:
        """Apply therapist settings that changed: fractions clamped to 0..1, flags to 0/1, goals
        to >= 0; NaN/inf become 0. Each change is reported as a SETTING_APPLIED event."""
        seen = self.settings_seen
        for name, sid, attr, kind in _SETTINGS:
            requested = float(c[name])
            previous = seen.get(name)
            if previous is not None and (previous == requested or (previous != previous and requested != requested)):
                continue  # unchanged (NaN compared as NaN, or it would be re-applied every heartbeat)
            seen[name] = requested
            finite = requested if math.isfinite(requested) else 0.0
            if kind == "flag":
                applied = 1.0 if finite >= 0.5 else 0.0
                setattr(self, attr, bool(applied))
            elif kind == "mode":
                applied = float(int(finite)) if int(finite) in (0, 1, 2) else float(int(self.pace_mode))
                if int(applied) != int(self.pace_mode):
                    self.self_paced.reset()  # a fresh start from the speed the belt has now
                self.pace_mode = PaceMode(int(applied))
            elif kind == "goal":
                applied = max(0.0, finite)
                setattr(self, attr, int(applied) if name == "goal_steps" else applied)
            else:
                applied = min(1.0, max(0.0, finite))
                setattr(self, attr, applied)
            if sid in (SettingId.GUIDANCE, SettingId.GUIDANCE_MIN, SettingId.GUIDANCE_MAX):
                low = min(self.guidance_min, self.guidance_max)
                high = max(self.guidance_min, self.guidance_max)
                self.aan.guidance = min(high, max(low, self.guidance_setting))
                if sid == SettingId.GUIDANCE:
                    applied = self.aan.guidance
            self.emit(EventKind.SETTING_APPLIED, -1, int(sid), requested, applied)

    def _run_request(self, request: int, t: float) -> None:
        state = self.run_state
        if request == RunState.RUNNING:
            if state == RunState.IDLE:
                if not self.supervisor.limits.valid:
                    self.alarm(AlarmReason.SETTING_CLAMPED)  # no valid prescription: refuse
                    return
                if t - self.hb_t_s > self.config.ui_heartbeat_timeout_s:
                    return
                for reason in START_BLOCKERS:
                    if self.alarms.is_active(reason):
                        return  # the cause of the last stop is still there: refuse, its alarm shows why
                self._arm_devices()
                self.arming_until_s = t + ARMING_TIMEOUT_S
                self.session_time_s = 0.0
                self.distance_m = 0.0
                self.goal_bits = 0
                self.metrics.reset()
                self.steadiness.reset(t)
                self.stumble.reset()
                self.balance_loss.reset()
                self.set_run_state(RunState.RUNNING)
            elif state == RunState.PAUSED:
                self.steadiness.reset(t)
                self.set_run_state(RunState.RUNNING)
        elif request == RunState.PAUSED:
            if state == RunState.RUNNING:
                self.set_run_state(RunState.PAUSED)
        elif request in (RunState.STOPPING, RunState.IDLE, RunState.STOPPED):
            if state in (RunState.RUNNING, RunState.PAUSED):
                self.controlled_stop(AlarmReason.STOP_REQUEST, fault=False)

    def _arm_devices(self) -> None:
        self.tm.rearm()
        self.exo.rearm()
        if self.hr is not None:
            self.hr.rearm()
        if self.ins is not None:
            self.ins.rearm()

    def _rearm(self) -> None:
        """Therapist re-arm after a fault stop: devices re-armed, core back to IDLE. Refused
        while the cause is still present (a cut link, a fault, the e-stop): the therapist
        confirms a fixed situation, not a broken one."""
        if any(self.alarms.is_active(reason) for reason in START_BLOCKERS):
            return
        if self.run_state == RunState.STOPPED or (self.run_state == RunState.IDLE):
            self._arm_devices()
            for reason in (AlarmReason.UI_HEARTBEAT_LOST, AlarmReason.LOOP_OVERRUNS, AlarmReason.STOP_REQUEST):
                self.alarms.clear(reason)
            self.overrun_streak = 0
            self.set_run_state(RunState.IDLE)

    # ------------------------------------------------------------------------------------------
    # the cycle
    # ------------------------------------------------------------------------------------------
    def step(self, t: float, lateness_s: float = 0.0) -> None:
        """Run one control cycle at time t (time.monotonic); lateness_s of this cycle's start."""
        dt = t - self.last_t_s if self.cycle else self.period_s
        if dt > HOST_STALL_S:
            # The core itself did not run for dt (a hypervisor stall: it is SCHED_FIFO, nothing
            # else here preempts it). It cannot vouch for device silence it was not awake to
            # see, and a stalled VM stalls the rig too: device silence is timed from now.
            self.host_stall_end_s = t
            self.own_stall_s += dt - self.period_s
        own = self.own_freezes  # (a call only when it has work: a stall, or a steal read once a second)
        freeze = own.cycle(t, dt) if dt >= FREEZE_REPORT_MIN_S or t >= own.due_s else None
        if dt > 0.1 or dt < 0.0:
            dt = self.period_s
        self.last_t_s = t
        self.dt_s = dt
        self.t_s = t
        self.cycle += 1
        if freeze is not None:
            self._report_freeze(*freeze)
        self.events_bits = 0
        lateness_us = lateness_s * 1e6
        self.lateness_us = lateness_us
        if lateness_us > self.max_lateness_us:
            self.max_lateness_us = lateness_us
        if lateness_s + self.compute_us * 1e-6 > self.period_s:
            self.overruns += 1
        if lateness_s >= self.period_s:
            self.overrun_streak += 1
            if self.overrun_streak >= self.config.overrun_streak:
                self.alarm(_Alarm.LOOP_OVERRUNS)
        else:
            self.overrun_streak = 0

        tm, exo, ins = self.tm, self.exo, self.ins
        tm_frames = tm.poll()
        exo_frames = exo.poll()
        ins_frames = ins.poll() if ins is not None else 0
        if (tm_frames or exo_frames or ins_frames) and self.rig_late.available:
            self.rig_late.frames_read(tm_frames, exo_frames, ins_frames)
        hr = self.hr
        if hr is not None and self.cycle % 10 == 0 and hr.poll():
            self.heart_rate_bpm = hr.status.heart_rate_bpm

        self._read_commands(t)
        if tm_frames:
            self._treadmill_in(t)
        if exo_frames:
            self._exo_in(t)
        if ins_frames:
            self._insoles_in()
        self._stumble(dt, ins_frames, exo_frames)
        self._obstacle_legs()
        self._safety(t)
        self._geometry(t)

        state = self.run_state
        walking = state == _Run.RUNNING
        if walking:
            if self.view_state == ViewPolicy.OK:
                self.scene_time_s += dt  # a late view holds the obstacle plan: the scene clock waits
            self.session_time_s += dt
            if t < self.arming_until_s and not (tm.status.armed and exo.status.armed):
                walking = False  # wait for the devices to report armed before moving
        self._plan_and_command(t, dt, state, walking)
        self._steadiness(walking)
        self._goals()
        self._publish(t)

    # -- inputs --------------------------------------------------------------------------------
    def _treadmill_in(self, t: float) -> None:
        st = self.tm.status
        count = st.encoder_count
        if self.last_encoder is not None:
            delta = (count - self.last_encoder) & _U32
            if delta >= 0x80000000:
                delta -= 0x100000000
            moved = delta * st.encoder_m_per_count
            self.s_m += moved
            self.belt_total_m += moved
            if self.run_state != RunState.IDLE:
                self.distance_m += moved
        self.last_encoder = count
        # The host time of the read, not this cycle's start: a stall of the core between the two
        # would otherwise make a frame look older than the cycle and skew every later sample.
        self.tm_sample_t = self._sample_time(self.tm.last_rx_s, st.device_time_us, 0)
        v = st.belt_speed_mps
        dt = t - self.last_tm_t
        if 0.0 < dt < 0.1:
            a = (v - self.last_belt_speed) / dt
            self.belt_accel_mps2 += 0.05 * (a - self.belt_accel_mps2)
        self.last_tm_t = t
        self.last_belt_speed = v
        self.belt_speed_mps = v
        self.patient_position_m = st.patient_position_m

    def _sample_time(self, rx_s: float, device_time_us: float, device: int) -> float:
        """Host time of a device sample: the device's clock plus the smallest offset seen between
        it and the host's receive time (the offset includes the shortest transport delay). Per
        device (0 treadmill, 1 exoskeleton, 2 insoles): each has its own clock.

        rx_s is when the driver read the frame (time.monotonic() after the read), never the
        cycle's start: a frame sent after the cycle started but read in it would give an offset
        below the true one, and the minimum would keep that error for the whole session (every
        event early by up to the longest preemption between the two, 1-28 ms as measured).
        """
        offset = rx_s - device_time_us * 1e-6
        offsets = self.dev_clock_offset_s
        current = offsets[device]
        if current != current or offset < current or offset - current > 0.5:
            offsets[device] = current = offset
        else:
            offsets[device] = current = current + 1e-7  # let the estimate follow slow drift
        return device_time_us * 1e-6 + current

    def _exo_in(self, t: float) -> None:
        st = self.exo.status
        a = self.angles
        a[0], a[1], a[2], a[3] = st.angle_rad
        ts = self._sample_time(self.exo.last_rx_s, st.device_time_us, 1)  # read time (see above)
        self._remember_angles(ts)
        self._exo_events(ts, not self._insoles_live())
        self._foot_positions(ts)
        # Frozen-sensor watch: a live exoskeleton never repeats all four angles exactly.
        key = (a[0], a[1], a[2], a[3])
        if key != self.last_angles_key:
            self.last_angles_key = key
            self.frozen_since_s = t
        # Tracking error for assist-as-needed (only while guided walking).
        if self.run_state == _Run.RUNNING:
            r = self.ref
            e0 = a[0] - r[0]
            e1 = a[1] - r[1]
            e2 = a[2] - r[4]
            e3 = a[3] - r[5]
            self.aan.sample(0.25 * (e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3))

    def _exo_events(self, ts: float, act: bool) -> None:
        """Heel strike and toe off from the exoskeleton: its pressure sensors, or the joint
        kinematics when it reports them faulty. The detectors always follow the foot (so a
        switch from insoles finds them in step); they act only when `act` (no live insoles)."""
        a = self.angles
        p = self.exo.status.pressure
        feet = self.feet
        kin = self.use_kinematic_events
        contacts = 0
        for side in (0, 1):
            if kin:
                ev = self.kin_feet[side].update(ts, a[2 * side], a[2 * side + 1], refgait.HIP_MEAN_RAD)
                event_t = self.kin_feet[side].event_t_s
                in_contact = self.kin_feet[side].contact
            else:
                ev = feet[side].update(ts, p[2 * side], p[2 * side + 1])
                event_t = feet[side].event_t_s
                in_contact = feet[side].contact
            if in_contact:
                contacts |= (1 if p[2 * side] > 0.005 or kin else 0) << (2 * side)
                contacts |= (1 if p[2 * side + 1] > 0.005 or kin else 0) << (2 * side + 1)
            if not act:
                continue
            if ev == HEEL_STRIKE:
                self._heel_strike(side, event_t, False)
            elif ev == TOE_OFF:
                self._toe_off(side, event_t)
        if act:
            self.contacts = contacts

    def _insoles_live(self) -> bool:
        """Smart insoles configured and streaming: they time the events and give the foot pitch."""
        return self.ins is not None and bool(self.device_ok & 8)

    def _insole_rate_hz(self) -> float:
        info = getattr(self.ins, "info", None)
        rate = info.status_rate_hz if info is not None else 0.0
        return rate if rate > 0.0 else 100.0

    def _insoles_in(self) -> None:
        """Every insole sample that arrived, in order: standing calibration, contacts, pitch."""
        ins = self.ins
        rx = ins.last_rx_s
        live = self._insoles_live()
        feet = self.insole_feet
        calibrate = self.run_state == _Run.IDLE
        buf = ins.sample_buf
        for k in range(ins.pending):
            row = buf[k]
            dev_us = row[0]
            ts = self._sample_time(rx, dev_us, 2)
            if calibrate and feet[0].contact and feet[1].contact:
                total = row[1] + row[2] + row[3] + row[10] + row[11] + row[12]
                if total > STANDING_MIN_N:
                    n = self.standing_n
                    self.standing_n = total if n != n else n + 0.05 * (total - n)
            standing = self.standing_n if self.standing_n == self.standing_n else STANDING_DEFAULT_N
            held = self.soles_held
            # Both feet of the row first, then their events: a heel strike chains its footprint
            # from the other foot's pose at this instant (_heel_strike), whose pitch must be this
            # row's, not the previous sample's moved on at its rate. Read foot by foot, a left
            # strike extrapolated the right foot's pitch over 5 ms: in heel rise at the start of
            # a freezing episode 0.009-0.015 rad, 1-2 mm of step length, and the core's footprints
            # drifted 1.3 cm behind the truth in 50 s (docs/control.md, "Step length").
            evs = self.row_events
            for side in (0, 1):
                o = 1 + 9 * side
                foot = feet[side]
                # the cells' zero is learned only from a sole the kinematics show off the belt
                # (stale kinematics, an exoskeleton not heard: nothing tells, as without one)
                clear = ts - self.sole_h_t[side] > SOLE_H_STALE_S or self.sole_h[side] > TARE_CLEAR_M
                evs[side] = foot.update(ts, dev_us * 1e-6, row[o], row[o + 1], row[o + 2], row[o + 7], standing,
                                        row[o + 3], row[o + 5], clear)
                held.pitch_sample(side, ts, foot.pitch_rad)
            for side in (0, 1):
                foot = feet[side]
                ev = evs[side]
                if live and ev:
                    if ev == HEEL_STRIKE:
                        self._heel_strike(side, foot.event_t_s, True)
                    else:
                        self._toe_off(side, foot.event_t_s)
                if foot.landing_zero:
                    self._landing_zeroed(side, foot)
                if held.held[side]:
                    self._margin_samples(side, held.release(side, ts))
                self._balance(side, ts, row, live, ev)
        if live:
            contacts = 0
            for side in (0, 1):
                foot = feet[side]
                if foot.contact:
                    contacts |= (1 if foot.heel > 0.005 else 0) << (2 * side)
                    contacts |= (1 if foot.forefoot > 0.005 else 0) << (2 * side + 1)
            self.contacts = contacts

    def _balance(self, side: int, ts: float, row, live: bool, ev: int) -> None:
        """Per-stance balance (engine/control/balance.py) from this insole sample's tared forces;
        at a toe off its STANCE_COP and STANCE_LOAD events."""
        bal = self.balance[side]
        foot = self.insole_feet[side]
        z = foot.zero_n
        o = 1 + 9 * side
        h, m, f = row[o] - z[0], row[o + 1] - z[1], row[o + 2] - z[2]
        lat = 19 + 3 * side
        bal.length_m = self.geo.heel_m[side] + self.geo.toe_m[side] or bal.length_m
        standing = self.standing_n if self.standing_n == self.standing_n else STANDING_DEFAULT_N
        # double support: the other foot bearing weight, not its dragging toe (balance.py)
        bal.sample(ts, foot.contact, self.balance[1 - side].support, h if h > 0.0 else 0.0,
                   m if m > 0.0 else 0.0, f if f > 0.0 else 0.0, row[lat], row[lat + 1], row[lat + 2], standing)
        if ev == TOE_OFF and bal.finish(foot.event_t_s) and live and self.run_state == RunState.RUNNING:
            # stamped where the weight came off (before the contact's end when the toe dragged)
            self.emit(EventKind.STANCE_COP, side, 1 if bal.ml_resolved else 0, bal.path_m, bal.ap_m, bal.ml_sd_m,
                      t_s=bal.end_s)
            self.emit(EventKind.STANCE_LOAD, side, min(32767, int(bal.duration_s * 1000.0)), bal.peak_load,
                      bal.impulse, bal.double_support_s, t_s=bal.end_s)

    def _stumble(self, dt: float, fresh: int, exo_fresh: int) -> None:
        """Trip warning (engine/control/stumble.py): the feet's speed over the belt from the
        exoskeleton's encoders and the insoles' IMU; detection on fresh insole samples while
        walking, then the response: event, alarm and haptic cue now, the belt's gentle slowing
        every cycle."""
        g = self.stumble
        if exo_fresh:
            g.check_encoders(self.jh_t[(self.jh_n - 1) % JOINT_HISTORY], self.angles,
                             self.exo.status.velocity_radps, self.geo, self.belt_speed_mps)
        if fresh and self.run_state == _Run.RUNNING and self._insoles_live() \
                and g.check(self.ins, self.insole_feet):
            g.respond(self.belt_speed_mps, self.supervisor.guidance(1.0))
            felt = self.ins.haptic(*HAPTIC_CUE)  # the patient feels it (insoles with CAP_HAPTIC)
            self.emit(EventKind.STUMBLE, g.detected_side, 1 if felt else 0, g.detected_peak_mps,
                      self.belt_speed_mps, g.floor_mps)
            self.alarm(_Alarm.STUMBLE)
        b = self.balance_loss
        if fresh and self._insoles_live() and b.check(
                self.ins, self.insole_feet, self.geo, self.angles, self.exo.status.velocity_radps,
                self.run_state == _Run.RUNNING and self.belt_speed_mps > 0.05, self.belt_speed_mps) and not g.active:
            # a loss of balance without a trip: the same response (balance_loss.py); while a
            # response is on (guidance at its maximum, the belt slowing) a new one adds nothing
            g.respond(self.belt_speed_mps, self.supervisor.guidance(1.0))
            felt = self.ins.haptic(*HAPTIC_CUE)
            self.emit(EventKind.BALANCE_LOSS, b.detected_side, 1 if felt else 0, b.detected_mos_m,
                      self.belt_speed_mps, g.floor_mps)
            self.alarm(_Alarm.STUMBLE)
        if g.active:
            g.cycle(dt, self.supervisor.limits.max_decel_mps2,
                    g.acknowledged(self.alarms.slots, _Alarm.STUMBLE))
            if not g.active:
                self.alarms.clear(_Alarm.STUMBLE)

    def _remember_angles(self, ts: float) -> None:
        k = self.jh_n % JOINT_HISTORY
        self.jh_t[k] = ts
        row = self.jh_a[k]
        a = self.angles
        row[0], row[1], row[2], row[3] = a[0], a[1], a[2], a[3]
        self.jh_n += 1

    def _angles_at(self, ts: float) -> list:
        """Joint angles at host time ts, interpolated between the exoskeleton samples around it
        (the latest ones when ts is newer, the oldest kept when older)."""
        out = self.event_angles
        n = self.jh_n
        if n == 0:
            out[:] = self.angles
            return out
        newest = (n - 1) % JOINT_HISTORY
        jt, ja = self.jh_t, self.jh_a
        if ts >= jt[newest] or n == 1:
            out[:] = ja[newest]
            return out
        i = newest
        for _ in range(min(n, JOINT_HISTORY) - 1):
            j = (i - 1) % JOINT_HISTORY
            if jt[j] <= ts:
                w = (ts - jt[j]) / (jt[i] - jt[j]) if jt[i] > jt[j] else 1.0
                a0, a1 = ja[j], ja[i]
                for q in range(4):
                    out[q] = a0[q] + w * (a1[q] - a0[q])
                return out
            i = j
        out[:] = ja[i]
        return out

    def _pitch(self, side: int, ts: float, hip: float, knee: float) -> float:
        """Foot pitch: the insole IMU's when live, else a foot square to the shank."""
        if self._insoles_live():
            return self.insole_feet[side].pitch_at(ts)
        return fk.square_pitch_rad(hip, knee)

    def _latest_pitch(self, side: int, angles: list) -> float:
        """Foot pitch at the latest exoskeleton sample (the insole IMU's, live insoles)."""
        n = self.jh_n
        ts = self.jh_t[(n - 1) % JOINT_HISTORY] if n else self.t_s
        return self._pitch(side, ts, angles[2 * side], angles[2 * side + 1])

    def _foot_positions(self, ts: float) -> None:
        """Toe and heel of each swinging foot (route x, height over the walkway's zero) at exo
        sample ts: toe height over the ground under it, MTC samples and obstacle margins."""
        a = self.angles
        geo = self.geo
        live = self._insoles_live()
        pitch = self.pitch
        pelvis = -1e9
        for side in (0, 1):
            hip, knee = a[2 * side], a[2 * side + 1]
            p = self._pitch(side, ts, hip, knee)
            pitch[side] = p
            if not self.swinging[side]:
                # a stance foot: flat, on its heel or on its toe (insole pitch; flat without insoles)
                lip = self.stance_lip[side]
                if lip is not None and live:
                    h = self.stance_ground_m[side] + fk.lip_contact_m(geo, side, hip, knee, p, lip[0], lip[1])[1]
                else:
                    h = (self.stance_ground_m[side] + fk.ankle_drop_m(geo, side, hip, knee)
                         + fk.ankle_over_floor_m(geo, side, p if live else 0.0))
                if h > pelvis:
                    pelvis = h
        if pelvis == -1e9:
            return  # both feet off the ground: no floor reference this sample
        hip_x = self._hip_route_m(ts, a)
        order = self.planner.order
        walkway = self.walkway
        for side in (0, 1):
            if not self.swinging[side]:
                self.toe_h[side] = 0.0
                self.sole_h[side] = 0.0
                self.sole_h_t[side] = ts
                continue
            hip, knee, p = a[2 * side], a[2 * side + 1], pitch[side]
            heel_x, heel_z, toe_x, toe_z = fk.sole_points_m(geo, side, hip, knee, p, pelvis)
            heel_x += hip_x
            toe_x += hip_x
            toe_h = toe_z - walkway.ground_m(toe_x)
            x_prev = self.toe_x_world[side]
            self.toe_h[side] = toe_h if toe_h > 0.0 else 0.0
            heel_h = heel_z - walkway.ground_m(heel_x)
            self.sole_h[side] = toe_h if toe_h < heel_h else heel_h
            self.sole_h_t[side] = ts
            self.toe_x_world[side] = toe_x
            self.heel_x_world[side] = heel_x
            self.swing_clear.sample(side, ts, toe_h)
            self.planner.toe_over(side, x_prev, toe_x, toe_h)
            held = self.soles_held
            if live:
                # the margins take the pitch of this instant once the insoles have reported it
                held.hold(side, (ts, hip, knee, pelvis, hip_x))
                ready = held.release(side, ts if held.latest_pitch_t(side) >= ts else ts - HOLD_MAX_S)
                if ready:
                    self._margin_samples(side, ready)
            else:
                if held.held[side]:
                    self._margin_samples(side, held.release(side, ts))
                self.ob_margins.swing_sample(order, walkway, side, heel_x, heel_z, toe_x, toe_z, _STEP_OVER)
        if not live:
            pitch[0] = pitch[1] = _NAN

    def _margin_samples(self, side: int, samples: Sequence[tuple]) -> None:
        """Obstacle margins of held swing samples (clearance.DeferredSoles), each with the foot's
        pitch interpolated between the insole samples around its instant."""
        geo = self.geo
        held = self.soles_held
        foot = self.insole_feet[side]
        order = self.planner.order
        walkway = self.walkway
        for ts, hip, knee, pelvis, hip_x in samples:
            p = held.pitch_at(side, ts)
            if p != p:
                p = foot.pitch_at(ts)
            heel_x, heel_z, toe_x, toe_z = fk.sole_points_m(geo, side, hip, knee, p, pelvis)
            self.ob_margins.swing_sample(order, walkway, side, hip_x + heel_x, heel_z, hip_x + toe_x, toe_z, _STEP_OVER)

    def _s_at(self, ts: float) -> float:
        """Route position s (belt-integrated) moved on to host time ts."""
        gap = ts - self.tm_sample_t
        return self.s_m + (self.belt_speed_mps * gap if -0.05 < gap < 0.05 else 0.0)

    def _hip_route_m(self, ts: float, a: list) -> float:
        """Where the hip is along the route at ts: from the planted heel(s), which stay where
        they landed, less their place relative to the hip now; the belt's s until a heel is
        planted on this route."""
        live = self._insoles_live()
        total = 0.0
        n = 0
        planted = self.planted_m
        for side in (0, 1):
            if self.swinging[side]:
                continue
            hip, knee = a[2 * side], a[2 * side + 1]
            pitch = self.insole_feet[side].pitch_at(ts) if live else 0.0
            if planted[side] != planted[side]:
                # first sample on this route: both feet stand where the hip's s puts them, each
                # at its own pitch (a foot on its heel or toe: with pitch 0 its footprint was put
                # ~3 cm off, and every footprint chained from it). While the patient stands, the
                # anchor waits for live insoles (their first sample's accelerometer gives the
                # pitch: insole_events.py) and the exoskeleton's geometry (Winter's fractions put
                # the feet ~1 cm off the fitted segments' places).
                waiting = (self.ins is not None and not live) or self.geometry_check < 0
                if waiting and self.run_state != _Run.RUNNING:
                    continue
                planted[side] = self._s_at(ts) + self._planted_heel_x(side, hip, knee, pitch)
            total += planted[side] - self._planted_heel_x(side, hip, knee, pitch)
            n += 1
        if n == 0:
            return self._s_at(ts) + self.hip_offset_m
        return total / n

    def _heel_strike(self, side: int, ts: float, by_insole: bool) -> None:
        self.swing_boost[side] = self.boost[side]  # decided at toe off, held through the swing
        # Belt position at the event: the last encoder sample moved on (or back) to the event time.
        gap = ts - self.tm_sample_t
        shift = self.belt_speed_mps * gap if -0.05 < gap < 0.05 else 0.0
        belt_m = self.belt_total_m + shift
        s_at = self.s_m + shift
        a = self._angles_at(ts)
        hip, knee = a[2 * side], a[2 * side + 1]
        pitch = self._pitch(side, ts, hip, knee)
        heel_x = fk.heel_x_m(self.geo, side, hip, knee, pitch)
        other = 1 - side
        step_m = None
        live = self._insoles_live()
        if not self.swinging[other]:
            # Heel to heel, both heels where they are planted (a stance foot pivots on its heel
            # before foot-flat and on its toe after heel-off), from the latest pose: the footprints'
            # distance, which stays put through stance, rather than this foot at the contact
            # instant, when a toe-first or shuffling landing still rotates onto its heel.
            now = self.angles
            h_now, k_now = now[2 * side], now[2 * side + 1]
            p_now = self._latest_pitch(side, now) if live else 0.0
            here = self._planted_heel_x(side, h_now, k_now, p_now)
            h_o, k_o = now[2 * other], now[2 * other + 1]
            p_o = self._latest_pitch(other, now) if live else 0.0
            there = self._planted_heel_x(other, h_o, k_o, p_o)
            step_m = here - there
        # Where the heel landed on the route: the hip (from the other, planted heel) plus this
        # heel's place. The hip's place on the treadmill (its offset from the belt's s) is real
        # (patients drift forward and back), bounded by the harness.
        if not self.swinging[other] and self.planted_m[other] == self.planted_m[other]:
            offset = self._hip_route_m(ts, a) - s_at
            self.hip_offset_m = min(HIP_DRIFT_MAX_M, max(-HIP_DRIFT_MAX_M, offset))
        # How the landing's place moves with each pitch it was placed by, m/rad (1 mrad
        # differences: the heel's place is smooth in the pitch); the insole's first zero on the
        # belt in this stance tells how far off that pitch was (_landing_zeroed).
        if step_m is not None and self.planted_m[other] == self.planted_m[other]:
            # chained from the planted footprint by the footprints' distance (the latest pose, as
            # the step length): a foot still moving at the contact instant (a fast trembling or
            # shuffling step, 2-4 m/s) put 1-2 ms of event timing error into its place (~0.5 cm
            # a step, carried by every footprint after it)
            landing = self.planted_m[other] + step_m
            self.landing_fix_slope[side] = (self._planted_heel_x(side, h_now, k_now, p_now + 1e-3) - here) * 1000.0
            self.trail_fix_t[other] = ts if live else -1.0
            self.trail_fix_slope[other] = -(self._planted_heel_x(other, h_o, k_o, p_o + 1e-3) - there) * 1000.0
        else:
            landing = s_at + self.hip_offset_m + heel_x  # placed by the heel at the contact instant
            self.landing_fix_slope[side] = (fk.heel_x_m(self.geo, side, hip, knee, pitch + 1e-3)
                                            - fk.heel_x_m(self.geo, side, hip, knee, pitch - 1e-3)) * 500.0
            if step_m is None and self.planted_m[other] == self.planted_m[other]:
                # the other foot in the air: the step is from its footprint to this landing, both on
                # the route (the hip held at its place on the treadmill since that foot left), not
                # the belt's travel since its strike, which takes in every metre the hip has drifted
                step_m = landing - self.planted_m[other]
        self.planted_m[side] = landing
        self.landing_fix_t[side] = ts if live else -1.0
        self.strike_t[side] = ts
        self.emit(EventKind.HEEL_STRIKE, side, 0, self.metrics.stance_fraction[side], landing, heel_x, t_s=ts)
        steady = self.steadiness.heel_strike(side, ts)
        mtc = self.swing_clear.heel_strike(side, ts)
        self.aan.swing(mtc)  # assist-as-needed: a swing short of clearance is a need (adaptation.py)
        self.phase_est[side].heel_strike(ts)
        measured = self.metrics.heel_strike(side, ts, belt_m, heel_x, steady, mtc, step_m)
        if measured:
            length, step_time, clearance = self.metrics.last_step
            code = (STEP_INSOLE_TIMING | STEP_IMU_PITCH) if by_insole else 0
            if self.geo.from_device:
                code |= STEP_DEVICE_GEOMETRY
            self.emit(EventKind.STEP, side, code, length, step_time, clearance, t_s=ts)
        if self.metrics.stride_done:
            stride_time, stance, stride_length = self.metrics.last_stride
            self.emit(EventKind.STRIDE, side, STRIDE_STEADY if self.metrics.stride_steady else 0,
                      stride_time, stance, stride_length, t_s=ts)
            if side == 0:
                self._stride_end()
        self.prev_feet_m[side] = self.feet_m[side]
        self.feet_m[side] = landing
        self.swinging[side] = False
        self.planner.heel_strike(side, self.prev_feet_m[side], landing, self.s_m)
        geo = self.geo
        self.stance_lip[side] = None  # this foot's stance so far was the swing's landing
        self._stance_ground(side, landing)
        # the swing ends at the contact: its samples before it count, those after are stance
        self._margin_samples(side, self.soles_held.end_swing(side, ts))
        self.ob_margins.heel_strike(self.planner.order, self.walkway, side, landing,
                                    landing + geo.heel_m[side] + geo.toe_m[side], self.s_m)

    def _stance_ground(self, side: int, heel_x: float) -> None:
        """The ground a foot landing with its heel at route heel_x stands on. Across a curb's face
        (a toe caught on it, a blind step) a rigid foot cannot stand with its forefoot in the stone:
        with the ball of the foot over the stone it stands on it, heel overhanging the edge; else
        its heel is on the lower ground and its sole rests against the edge (stance_lip, read with
        the insoles' pitch). Taking the ground under the heel alone put such a foot, the pelvis
        and the other, swinging foot 10 cm low, or the footprints chained from it cm off."""
        walkway = self.walkway
        geo = self.geo
        foot = geo.heel_m[side] + geo.toe_m[side]
        ground = walkway.ground_m(heel_x + 0.01)
        for k, edge in enumerate(walkway.step_at_m):
            if edge >= heel_x + foot:
                break
            rise = walkway.step_dz_m[k]
            if rise <= 0.0 or edge <= heel_x + 0.01:
                continue  # a drop is stood on from above; a step up behind the heel is under it
            if heel_x + fk.BALL_OF_FOOT * foot >= edge:
                ground = walkway.ground_m(edge)
            elif self._insoles_live():
                self.stance_lip[side] = (edge - heel_x, walkway.ground_m(edge) - ground)
            break
        self.stance_ground_m[side] = ground

    def _planted_heel_x(self, side: int, hip: float, knee: float, pitch: float) -> float:
        """fk.planted_heel_x_m, or fk.lip_contact_m's for a foot resting against a curb's edge."""
        lip = self.stance_lip[side]
        if lip is None or self.swinging[side]:
            return fk.planted_heel_x_m(self.geo, side, hip, knee, pitch)
        return fk.lip_contact_m(self.geo, side, hip, knee, pitch, lip[0], lip[1])[0]

    def _landing_zeroed(self, side: int, foot: InsoleFoot) -> None:
        """The landing foot's first zero on the belt (insole_events.py): move its footprint by
        the pitch error it was placed with. The error built up from the zero before the swing;
        the strike's share of it is taken in proportion to time (a gyro bias's residue grows
        linearly: at the strike the error was 0.8 of the zero's, and the linear share left
        +0.003-0.005 deg of a 0.05-0.065 deg mean, sd 0.007: severe-stroke-slow, 40 s)."""
        t0, t1 = foot.landing_from_t_s, foot.landing_t_s
        if t0 < 0.0 or t1 <= t0:
            return
        planted = self.planted_m
        t_strike = self.landing_fix_t[side]
        self.landing_fix_t[side] = -1.0
        if t0 < t_strike <= t1:
            # the footprint was placed with pitch p + e for a true p, and moves by -slope * e,
            # with the other's if it landed since (chained from this one: a late zero)
            shift = -self.landing_fix_slope[side] * foot.landing_err_rad * (t_strike - t0) / (t1 - t0)
            planted[side] += shift
            if self.strike_t[1 - side] > t_strike:
                planted[1 - side] += shift
        # The other foot's last landing was chained from this foot's planted heel in heel rise,
        # its pitch off by the drift up to then (0.004 deg, ~2.7 mm per degree on the toe:
        # -0.011 mm a step, healthy), and this foot's landing from that footprint in turn: both
        # move.
        t_trail = self.trail_fix_t[side]
        self.trail_fix_t[side] = -1.0
        if t0 < t_trail <= t1:
            shift = -self.trail_fix_slope[side] * foot.landing_err_rad * (t_trail - t0) / (t1 - t0)
            planted[0] += shift
            planted[1] += shift

    def _toe_off(self, side: int, ts: float) -> None:
        self.landing_fix_t[side] = -1.0  # its zero never came (a trembling or shuffling stance)
        self.emit(EventKind.TOE_OFF, side, 0, t_s=ts)
        self.metrics.toe_off(side, ts)
        self.swing_clear.toe_off(side, ts)
        self.soles_held.drop(side)
        a = self._angles_at(ts)
        hip, knee = a[2 * side], a[2 * side + 1]
        # the hip's route position from the feet while this one is still down: its offset from the
        # belt's s is kept for a landing with no foot planted (a flight phase: a toe off and the
        # other's heel strike in the same insole sample). It was last set at a heel strike, and a
        # long crossing step of a fast walker, landing as the other foot left, was put 17-26 cm
        # short by the hip's drift since (an extreme profile, stance 0.85: docs/control.md)
        hip_m = self._hip_route_m(ts, a)
        if self.planted_m[side] == self.planted_m[side]:
            self.hip_offset_m = min(HIP_DRIFT_MAX_M, max(-HIP_DRIFT_MAX_M, hip_m - self._s_at(ts)))
        self.swinging[side] = True
        self.toe_x_world[side] = hip_m + fk.sole_point_x_m(
            self.geo, side, hip, knee, self._pitch(side, ts, hip, knee), self.geo.toe_m[side])

    def _obstacle_legs(self) -> None:
        """Publish each leg's crossing of each step-over obstacle once that foot is past it."""
        done = self.ob_margins.done
        if not done:
            return
        obstacles = self.planner.obstacles
        walkway = self.walkway
        for index, side, margin, outcome in done:
            height = obstacles[index].height_m if index < len(obstacles) else _NAN
            self.emit(EventKind.OBSTACLE_LEG, side, index, margin, float(outcome), height)
            if index < len(walkway.box_top_m):
                self.planner.crossing_result(side, walkway.box_top_m[index] - walkway.box_ground_m[index],
                                             margin, self.swing_boost[side])
        done.clear()

    def _steadiness(self, walking: bool) -> None:
        """Mark the strides in progress unsteady while the belt or an obstacle acts on the walk."""
        if self.run_state != _Run.RUNNING:
            return
        planner = self.planner
        disturbed = (
            not walking or planner.blocking >= 0 or planner.guidance_raise > 0.0
            or planner.boost[0] > 0.0 or planner.boost[1] > 0.0
        )
        self.steadiness.cycle(self.belt_speed_mps, disturbed)

    def _geometry(self, t: float) -> None:
        """Session-start check of the leg geometry: the exoskeleton's fitted segments against the
        prescribed leg lengths. Measures use the exoskeleton's; a disagreement is flagged."""
        if self.geometry_check >= 0 or not self.supervisor.limits.valid:
            return
        if self.geometry_since_s < 0.0:
            self.geometry_since_s = t
        reported = getattr(self.exo, "geometry", None)
        if reported is None:
            if t - self.geometry_since_s < GEOMETRY_WAIT_S:
                if t - self.geometry_asked_s > 0.25 and hasattr(self.exo, "request_geometry"):
                    self.exo.request_geometry()
                    self.geometry_asked_s = t
                return
            self.geo.set_from_leg_length(self.leg_length[0], self.leg_length[1])
            self.geometry_check = GeometryCheck.UNVERIFIED
            for side in (0, 1):
                self.emit(EventKind.GEOMETRY_CHECK, side, GeometryCheck.UNVERIFIED, _NAN, self.leg_length[side])
            return
        self.geo.set_from_device(reported)
        result = GeometryCheck.AGREES
        for side in (0, 1):
            length = reported.leg_length_m(side)
            diff = length - self.leg_length[side]
            code = GeometryCheck.MISMATCH if abs(diff) > GEOMETRY_TOL_M else GeometryCheck.AGREES
            if code == GeometryCheck.MISMATCH:
                result = code
            self.emit(EventKind.GEOMETRY_CHECK, side, int(code), length, self.leg_length[side], diff)
        self.geometry_check = int(result)
        self.geometry_since_s = -1.0
        if result == GeometryCheck.MISMATCH:
            self.alarm(AlarmReason.GEOMETRY_MISMATCH)
            self.alarms.clear(AlarmReason.GEOMETRY_MISMATCH)  # a flag: shown until acknowledged

    def _stride_end(self) -> None:
        """Once per (left) stride: assist-as-needed update."""
        low = min(self.guidance_min, self.guidance_max)
        high = max(self.guidance_min, self.guidance_max)
        before = self.aan.guidance
        g = self.aan.stride_end(self.assist_as_needed, self.guidance_locked, low, high)
        self.tracking_error_rad = self.aan.last_error_rad
        if g != before:
            self.emit(EventKind.GUIDANCE_ADAPTED, -1, 0, g, self.aan.last_error_rad)

    # -- safety --------------------------------------------------------------------------------
    def _device_heard(self, reason: int, device, key: str, t: float, limit_s: float, awake_since: float) -> bool:
        """The silence rule for one device: raises its alarm when it is silent; True while it is
        heard. A raised alarm clears only on a frame: a count restarted by a stall of the host
        is no sign of the device (on this VM the alarm of a stalled exoskeleton was cleared and
        raised again every 20-100 ms while nothing came)."""
        if self._device_silent(device, key, t, limit_s, awake_since):
            self._silence_alarm(reason, device, t)
            return False
        if self.alarms.is_active(reason):
            if t - device.last_rx_s > limit_s:
                return False  # still nothing heard since the alarm
            self.alarms.clear(reason)
        return True

    def _silence_alarm(self, reason: int, device, t: float) -> None:
        """Raise a device-silence alarm; the first time, log what the host's receive path was doing
        (a false stop under load and a dead link read differently there). The event's detail is
        the time left out of the silence (s): from the device's last frame to where its 20 ms
        began (the core's stalls, the reader's blind time, the virtual rig's lateness)."""
        if not self.alarms.is_active(reason):
            log.warning("%s: nothing for %.1f ms, %.1f ms of it left out (core awake since %.1f ms, virtual rig "
                        "late %.1f ms at most); %s", AlarmReason(reason).name, (t - device.last_rx_s) * 1e3,
                        self._silence_left_out_s * 1e3, (t - self.host_stall_end_s) * 1e3,
                        self.rig_late.longest_s * 1e3, device.rx_diagnosis(t))
        # Before a run (IDLE: nothing moves, the devices are armed only at Start) the alarm is
        # shown and refuses a Start while it lasts (START_BLOCKERS), and no fault stop is made of
        # it: a fault stop outlives a link that comes back (re-arm), and a rig late at start-up
        # then stopped the session at its Start 6 s later (the lead's full run, test_app_faults).
        self.alarm(reason, self._silence_left_out_s, stop=self.run_state != _Run.IDLE)

    def _rig_awake_since(self, t: float, quiet_s: float) -> float:
        """Without a rig clock: when the virtual rig last came out of a starvation (t while it
        is starved now), judged only while a device has been quiet for over half the silence
        limit (StarvationWatch)."""
        watch = self.rig_starved
        if watch.pid <= 0 or quiet_s > RIG_STARVED_MAX_S or self.rig_late.available:
            return 0.0
        watch.starved_s(self._rig_quiet_mark_s, t, self.cycle)
        if watch.starved_now:
            self.rig_awake_since_s = t
        return self.rig_awake_since_s

    def _device_silent(self, device, key: str, t: float, limit_s: float, awake_since: float) -> bool:
        """`_silent` for a device (`key` in rig_lateness.DEVICES) with the virtual rig's lateness
        since its newest frame left out; notes the time left out for the alarm."""
        if t - device.last_rx_s <= limit_s:
            return False  # a recent frame (the usual case)
        rig_late_s = self.rig_late.late_s(key, t, self.cycle)
        if not self._silent(device, t, limit_s, awake_since, rig_late_s):
            return False
        self._silence_left_out_s = self._counted_from_s(device, awake_since, rig_late_s) - device.last_rx_s
        return True

    @staticmethod
    def _counted_from_s(device, awake_since: float, rig_late_s: float) -> float:
        """When `device`'s silence starts to count: its newest frame, moved on by the time since
        then that nothing could be received (the reader blind, up to RX_STALL_LIMIT_S) or sent
        (the virtual rig late), or the end of the core's own stall or of the reader's last wait in
        the kernel on this port, whichever is latest; never more than RX_STALL_LIMIT_S after the
        frame."""
        heard_s = device.last_rx_s + min(device.rx_blind_s(), RX_STALL_LIMIT_S) + rig_late_s
        counted_s = max(heard_s, awake_since, device.rx_stall_end_s())
        # Never more left out than the devices' own watchdog period, whatever the causes add up
        # to (a stall of the VM is both the reader's blind time and the rig's lateness; repeated
        # stalls of the core restart the count): a frozen rig on a quiet VM went unseen 141 ms
        # and 241 ms with 120 and 220 ms left out (test_device_faults).
        return min(counted_s, device.last_rx_s + RX_STALL_LIMIT_S)

    @staticmethod
    def _silent(device, t: float, limit_s: float, awake_since: float, rig_late_s: float = 0.0) -> bool:
        """No frame from `device` for limit_s of time the host was awake to receive one and, for
        a simulated device, the rig (rig_late_s: its lateness since the frame) to send it.

        Not awake: the core's own stalls (awake_since) and its port reader's waits in the kernel
        for the tty flip-buffer worker or passes begun late. While such a wait is in progress
        bytes a device sent are queued in the kernel and no port is read (the host is late, not
        the devices), for at most RX_STALL_LIMIT_S; after one on this device's port, silence is
        timed from its end, and finished waits on any port since its last frame are left out, up
        to RX_STALL_LIMIT_S; all of it together never more than RX_STALL_LIMIT_S
        (docs/control.md)."""
        if t - device.last_rx_s <= limit_s:
            return False  # a recent frame (the usual case: the max below is never smaller)
        if t - ControlCore._counted_from_s(device, awake_since, rig_late_s) <= limit_s:
            return False
        if t - device.last_rx_s > limit_s + RX_STALL_LIMIT_S:
            return True  # the most ever left out is over, a wait in progress included
        waited_s = device.rx_kernel_wait_s(t)
        return not 0.0 < waited_s < RX_STALL_LIMIT_S

    def _safety(self, t: float) -> None:
        cfg = self.config
        tm, exo, hr = self.tm, self.exo, self.hr
        alarms = self.alarms
        state = self.run_state
        moving_state = state in (_Run.RUNNING, _Run.PAUSED)
        ok = 0
        # UI liveness: its beat (a thread that vouches for the process and its main loop) and its
        # process (pidfd). Dead, stopped or hung: a controlled stop. Two cycles of margin: the
        # stop starts within the timeout of the last beat written.
        poller = self.ui_poller
        if poller is not None and self.cycle % UI_PID_CHECK_CYCLES == 0 and poller.poll(0):
            self.ui_gone = True
        hb_age = t - self.hb_t_s
        if moving_state and 0.5 * cfg.ui_heartbeat_timeout_s < hb_age <= UI_STARVED_MAX_S and not self.ui_gone:
            # Left out: the UI's starvation (waiting for a CPU, or on one the hypervisor took),
            # or the core's own stalls since the beat (it could not read a beat while it did not
            # run, and a host that takes both CPUs takes the UI's too); the larger, never both.
            hb_age -= max(self.ui_starved.starved_s(self.hb_t_s, t, self.cycle),
                          self.own_stall_s - self._own_stall_at_hb_s)
        if moving_state and (hb_age > cfg.ui_heartbeat_timeout_s - 2.0 * self.period_s or self.ui_gone):
            if not alarms.is_active(_Alarm.UI_HEARTBEAT_LOST):
                log.warning("UI_HEARTBEAT_LOST: liveness beat %.1f ms old, %.1f ms of it left out (the UI "
                            "starved, or the core not running); UI process %s", (t - self.hb_t_s) * 1e3,
                            (t - self.hb_t_s - hb_age) * 1e3, "gone" if self.ui_gone else "alive")
            self.alarm(_Alarm.UI_HEARTBEAT_LOST, t - self.hb_t_s)  # the beat's real age
        elif alarms.is_active(_Alarm.UI_HEARTBEAT_LOST) and hb_age <= cfg.ui_heartbeat_timeout_s:
            alarms.clear(_Alarm.UI_HEARTBEAT_LOST)
        self._view(t, moving_state)
        # device silence
        silence = cfg.device_silence_s
        awake_since = self.host_stall_end_s
        quiet_s = t - min(tm.last_rx_s, exo.last_rx_s, self.ins.last_rx_s if self.ins is not None else t)
        if quiet_s > 0.5 * silence and not self.rig_late.available:
            # A virtual rig without a tick clock, starved by other real-time work, is late, not
            # cut off: silence counts from when it got a CPU again (as from the end of the core's
            # own stalls). With a clock, _silent leaves out exactly its lateness (RigLateness).
            if self._rig_quiet_mark_s < 0.0:
                self._rig_quiet_mark_s = t
            awake_since = max(awake_since, self._rig_awake_since(t, quiet_s))
        else:
            self._rig_quiet_mark_s = -1.0
        if self._device_heard(_Alarm.TREADMILL_SILENT, tm, "tm", t, silence, awake_since):
            ok |= 1
        if self._device_heard(_Alarm.EXO_SILENT, exo, "exo", t, silence, awake_since):
            ok |= 2
        if hr is not None:
            if t - hr.last_rx_s > HEART_RATE_SILENT_S:
                if not alarms.is_active(_Alarm.HEART_RATE_SILENT):
                    self.alarm(_Alarm.HEART_RATE_SILENT)
            else:
                ok |= 4
                if alarms.is_active(_Alarm.HEART_RATE_SILENT):
                    alarms.clear(_Alarm.HEART_RATE_SILENT)
            # Above the prescribed limit (a fresh reading only): a medium alarm for the therapist.
            high = 0.0 < self.hr_limit_bpm < self.heart_rate_bpm and ok & 4
            if high and not alarms.is_active(_Alarm.HEART_RATE_HIGH):
                self.alarm(_Alarm.HEART_RATE_HIGH)
            elif not high and alarms.is_active(_Alarm.HEART_RATE_HIGH):
                alarms.clear(_Alarm.HEART_RATE_HIGH)
        ins = self.ins
        if ins is not None:
            if self._device_heard(_Alarm.INSOLES_SILENT, ins, "ins", t, self.ins_silence_s, awake_since):
                ok |= 8
        self.device_ok = ok
        ts, es = tm.status, exo.status
        # faults and e-stop (as reported by fresh frames)
        if ts.fault:
            self.alarm(_Alarm.TREADMILL_FAULT)
        elif alarms.active_bits & _AlarmBit.TREADMILL_FAULT:
            alarms.clear(_Alarm.TREADMILL_FAULT)
        if es.fault:
            sensor_only = es.fault == 16  # FaultCode.SENSOR: insoles unreliable, fall back
            self.use_kinematic_events = sensor_only
            if not sensor_only:
                self.alarm(_Alarm.EXO_FAULT)
        else:
            self.use_kinematic_events = False
            if alarms.active_bits & _AlarmBit.EXO_FAULT:
                alarms.clear(_Alarm.EXO_FAULT)
        if ts.estop_pressed or es.estop_pressed:
            self.alarm(_Alarm.HARDWARE_ESTOP)
        elif alarms.active_bits & _AlarmBit.HARDWARE_ESTOP:
            alarms.clear(_Alarm.HARDWARE_ESTOP)
        # watchdogs: only meaningful once the devices were armed for this run
        if moving_state and t >= self.arming_until_s:
            if ts.watchdog_tripped or not ts.armed:
                self.alarm(_Alarm.TREADMILL_WATCHDOG)
            if es.watchdog_tripped or not es.armed:
                self.alarm(_Alarm.EXO_WATCHDOG)
        elif not (state == _Run.STOPPING or state == _Run.STOPPED):
            if alarms.active_bits & _AlarmBit.TREADMILL_WATCHDOG and not ts.watchdog_tripped:
                alarms.clear(_Alarm.TREADMILL_WATCHDOG)
            if alarms.active_bits & _AlarmBit.EXO_WATCHDOG and not es.watchdog_tripped:
                alarms.clear(_Alarm.EXO_WATCHDOG)
        # frozen joint sensor while walking
        if state == _Run.RUNNING and self.belt_speed_mps > 0.2 and ok & 2:
            if t - self.frozen_since_s > FROZEN_SENSOR_S:
                self.alarm(_Alarm.SENSOR_FROZEN)
        elif alarms.active_bits & _AlarmBit.SENSOR_FROZEN and t - self.frozen_since_s < FROZEN_SENSOR_S:
            alarms.clear(_Alarm.SENSOR_FROZEN)
        # corrupted frames
        if t - self.frames_bad_t >= 1.0:
            bad = tm.stats.frames_bad + exo.stats.frames_bad + (hr.stats.frames_bad if hr is not None else 0)
            if ins is not None:
                bad += ins.stats.frames_bad
            if bad - self.frames_bad_window > LINK_ERRORS_PER_S:
                self.alarm(_Alarm.LINK_ERRORS)
            elif alarms.active_bits & _AlarmBit.LINK_ERRORS:
                alarms.clear(_Alarm.LINK_ERRORS)
            self.frames_bad_window = bad
            self.frames_bad_total = bad
            self.frames_bad_t = t
        if alarms.active_bits & _AlarmBit.LOOP_OVERRUNS and self.overrun_streak == 0:
            alarms.clear(_Alarm.LOOP_OVERRUNS)

    def _view(self, t: float, moving_state: bool) -> None:
        """The graded response to a late patient view (supervisor.ViewPolicy)."""
        view = self.view
        before = self.view_state
        if moving_state and view.frame_t_s >= 0.0:
            state = view.update(t, self.dt_s, True, self.supervisor.speed_cmd_mps,
                                self._next_obstacle_m(), self.supervisor.limits.max_decel_mps2, self._step_length_m(),
                                self.supervisor.limits.max_speed_mps * self.speed_fraction)
        else:
            # Nothing moving, or no view seen yet (a core without a UI: `simulate`, `main.py core`):
            # the policy says OK without the figures, so they are not worked out every cycle.
            state = view.update(t, self.dt_s, False, 0.0, _NAN, 0.0, 0.0)
        self.view_state = state
        if state == before:
            return
        if state == ViewPolicy.LATE:
            self.alarm(_Alarm.UI_VIEW_LATE, view.age_s(t))
        elif state == ViewPolicy.STALE:
            self.alarm(_Alarm.UI_VIEW_STALE, view.age_s(t))
        else:
            self.alarms.clear(_Alarm.UI_VIEW_LATE)
            self.alarms.clear(_Alarm.UI_VIEW_STALE)

    def _next_obstacle_m(self) -> float:
        """Distance from s to the next obstacle's stop line or near edge (or the route's end)."""
        planner = self.planner
        d = planner.route_length_m - self.s_m if planner.route_length_m > 0.0 else math.inf
        index = planner.next_obstacle
        if 0 <= index < len(planner.obstacles):
            ob = planner.obstacles[index]
            edge = ob.stop_m if ob.category == 1 else ob.at_m  # ObstacleCategory.YIELD: its stop line
            if edge - self.s_m < d:
                d = edge - self.s_m
        return d

    def _step_length_m(self) -> float:
        step = self.metrics.step_length_m[0]
        if step != step:
            step = 0.5 * refgait.stride_length_m(max(self.belt_speed_mps, 0.3), self.leg_length[0])
        return step

    # -- planning and device commands -----------------------------------------------------------
    def _plan_and_command(self, t: float, dt: float, state: RunState, walking: bool) -> None:
        sup = self.supervisor
        lim = sup.limits
        stopping = state == _Run.STOPPING
        planner = self.planner
        # Expected step of each leg for the swing prediction: its measured one, else the model's.
        steps = self.plan_steps_m
        for side in (0, 1):
            step = self.metrics.step_length_m[side]
            if not 0.0 < step < 2.0:  # none measured yet (nan), or a step backward
                step = 0.5 * refgait.stride_length_m(max(self.belt_speed_mps, 0.3), self.leg_length[side])
            steps[side] = step
        for side in (0, 1):
            if self.swinging[side]:
                self.feet_m[side] = self.feet_m[1 - side] + steps[side]
        # The therapist's speed is the cruise speed; the scene's base speed is only the value the
        # UI starts the therapist's setting at (it is not multiplied in: fractions do not stack).
        cruise = lim.max_speed_mps * self.speed_fraction if walking else 0.0
        pace = self.pace_mode
        if pace == _Pace.SELF and walking:
            cruise = lim.max_speed_mps  # the patient sets the pace; the plan only limits it
        if self.view_state == ViewPolicy.LATE and cruise > self.view.cap_mps:
            cruise = self.view.cap_mps  # slow gently while the patient's view is late
        target = planner.plan(
            self.s_m, self.scene_time_s, cruise, lim.max_speed_mps, lim.max_decel_mps2,
            self.feet_m, self.swinging, steps,
        )
        if planner.plan_changes:
            for ob in planner.plan_changes:
                self.emit(EventKind.OBSTACLE_PLAN, -1, ob.index, target, max(planner.boost))
            planner.plan_changes.clear()
            self.last_plan_cycle = self.cycle
            self.last_plan_speed = target
        if planner.outcomes:
            for ob in planner.outcomes:
                # code: obstacle index; v1 margin, v2 toe height, v3 the ObstacleOutcome itself.
                self.emit(EventKind.OBSTACLE_OUTCOME, -1, ob.index, ob.margin_m, ob.margin_m + ob.height_m,
                          float(ob.outcome))
            planner.outcomes.clear()
            self.obstacles_dirty = True
        if planner.changed:
            self.obstacles_dirty = True
        if pace == _Pace.FIXED and planner.blocking >= 0 and target < cruise \
                and planner.obstacles[planner.blocking].category != _Category.YIELD \
                and (planner.route_length_m <= 0.0 or planner.route_length_m - self.s_m > 5.0):
            target = cruise  # fixed pace: step-over obstacles do not slow the belt, yields still do
        elif pace == _Pace.SELF and walking and state == _Run.RUNNING:
            # One call: the self-paced law; the obstacle plan still overrides it (the min).
            own = self.self_paced.command(self.patient_position_m, self.tm_sample_t, self.belt_speed_mps,
                                          sup.speed_cmd_mps, dt, lim.max_speed_mps, lim.max_accel_mps2,
                                          lim.max_decel_mps2, self.max_jerk_mps3)
            if own < target:
                target = own
        if state == _Run.PAUSED or not walking:
            target = 0.0
        if target > self.stumble.speed_cap_mps:
            target = self.stumble.speed_cap_mps  # a stumble: the belt slows gently (stumble.py)
        speed_cmd = sup.step_speed(target, dt, stopping or state in (_Run.IDLE, _Run.STOPPED))

        # Reference gait and assistance.
        v_ref = self.belt_speed_mps if self.belt_speed_mps > 0.05 else speed_cmd
        for side in (0, 1):
            est = self.phase_est[side]
            est.model_hint(v_ref, self.leg_length[side])
            self.phase[side] = est.phase(t)
        raise_g = planner.guidance_raise
        if self.assist_as_needed:
            g_frac = self.aan.guidance  # adapted; held where it is while locked
        else:
            g_frac = self.guidance_setting
            self.aan.guidance = g_frac
        self.guidance_applied = sup.guidance(1.0 if self.stumble.active else g_frac, raise_g)
        self.bws_applied = sup.bws(self.bws_fraction)
        b0 = sup.boost(planner.boost[0])
        b1 = sup.boost(planner.boost[1])
        self.boost[0], self.boost[1] = b0, b1
        # The amplitude scales change only with v_ref (a new belt-speed sample, 250 Hz, while the
        # belt moves) or the leg lengths: computed on a change, not every cycle.
        scale_key = (v_ref, self.leg_length[0], self.leg_length[1])
        if scale_key != self._scale_key:
            self._scale_key = scale_key
            scale_l = refgait.amplitude_scale(v_ref, self.leg_length[0])
            scale_r = refgait.amplitude_scale(v_ref, self.leg_length[1])
            # with each scale, its swing's clearance floor (refgait.reference_floored)
            self._scales = (scale_l, scale_r, refgait.swing_boost_floor(scale_l), refgait.swing_boost_floor(scale_r))
        scale_l, scale_r, floor_l, floor_r = self._scales
        ref = self.ref
        # each leg's reference timed by its own stance fraction and detected toe off (refgait)
        to_t = self.swing_clear.to_t_s
        sf = self.metrics.stance_fraction
        # a crossing swing is held before its descent while its heel is not past the hazard
        ends, heels, sw = planner.crossing_end_m, self.heel_x_world, self.swinging
        hold_l = refgait.BOOST_OUT_SWING if sw[0] and heels[0] < ends[0] else 1.0
        hold_r = refgait.BOOST_OUT_SWING if sw[1] and heels[1] < ends[1] else 1.0
        ph_l, rate_l = refgait.reference_phase(self.phase[0], self.phase_est[0].stride_time_s, sf[0],
                                               t - to_t[0] if to_t[0] >= 0.0 else -1.0, hold_l)
        ph_r, rate_r = refgait.reference_phase(self.phase[1], self.phase_est[1].stride_time_s, sf[1],
                                               t - to_t[1] if to_t[1] >= 0.0 else -1.0, hold_r)
        refgait.reference_floored(ph_l, scale_l, b0, floor_l, ref, 0)
        refgait.reference_floored(ph_r, scale_r, b1, floor_r, ref, 4)

        tm, exo = self.tm, self.exo
        if stopping or state == _Run.STOPPED:
            if t - self.tm_sent_t >= TREADMILL_REFRESH_S:
                tm.stop(lim.max_decel_mps2 if lim.valid else 0.5)
                self.tm_sent_t = t
            if not self.exo_safe_sent:
                exo.safe_mode()
                self.exo_safe_sent = True
            elif self.cycle % 20 == 0:
                exo.send_heartbeat()
            # With the treadmill silent its speed cannot be seen: its firmware watchdog stops the
            # belt, so the stop ends once our ramp is done plus the watchdog and a safe ramp.
            blind_done = not self.device_ok & 1 and t - self.stop_started_s > SILENT_STOP_S
            if stopping and speed_cmd == 0.0 and (self.belt_speed_mps < STOPPED_SPEED_MPS or blind_done):
                self.set_run_state(_Run.STOPPED if self.stop_is_fault else _Run.IDLE)
                if not self.stop_is_fault:
                    self.alarms.clear(_Alarm.STOP_REQUEST)
        else:
            if speed_cmd != self.tm_sent_cmd or t - self.tm_sent_t >= TREADMILL_REFRESH_S:
                accel = lim.max_accel_mps2 if speed_cmd >= self.tm_sent_cmd else lim.max_decel_mps2
                tm.set_speed(speed_cmd, accel if lim.valid else 0.5)
                self.tm_sent_cmd = speed_cmd
                self.tm_sent_t = t
            if state == _Run.RUNNING or (state == _Run.PAUSED and self.belt_speed_mps > STOPPED_SPEED_MPS):
                g = self.guidance_applied
                mode = GUIDANCE if g > 0.0 else TRANSPARENT
                exo.set_command(
                    (mode, mode, mode, mode), g,
                    (ref[0], ref[1], ref[4], ref[5]),
                    (ref[2] * rate_l, ref[3] * rate_l, ref[6] * rate_r, ref[7] * rate_r),
                    (b0, b1),
                )
            elif self.cycle % 10 == 0:
                exo.set_command((TRANSPARENT,) * 4, 0.0, (ref[0], ref[1], ref[4], ref[5]), (0.0,) * 4, (0.0, 0.0))
        if self.bws_applied != self.bws_sent or t - self.bws_sent_t >= BWS_REFRESH_S:
            if not stopping and state != _Run.STOPPED:
                tm.set_bws(self.bws_applied)
            self.bws_sent = self.bws_applied
            self.bws_sent_t = t
        hr = self.hr
        if hr is not None and t - self.hr_sent_t >= 0.05:
            hr.send_heartbeat()
            self.hr_sent_t = t
        ins = self.ins
        if ins is not None and t - self.ins_sent_t >= 0.02:
            ins.send_heartbeat()  # feeds the insoles' watchdog (they keep streaming either way)
            self.ins_sent_t = t

    def _goals(self) -> None:
        bits = self.goal_bits
        if self.goal_steps and not bits & 1 and self.metrics.steps >= self.goal_steps:
            bits |= 1
            self.emit(EventKind.GOAL_REACHED, -1, 0, float(self.metrics.steps))
        if self.goal_distance_m > 0.0 and not bits & 2 and self.distance_m >= self.goal_distance_m:
            bits |= 2
            self.emit(EventKind.GOAL_REACHED, -1, 1, self.distance_m)
        if self.goal_time_s > 0.0 and not bits & 4 and self.session_time_s >= self.goal_time_s:
            bits |= 4
            self.emit(EventKind.GOAL_REACHED, -1, 2, self.session_time_s)
        self.goal_bits = bits

    # -- outputs -------------------------------------------------------------------------------
    def _publish(self, t: float) -> None:
        m = self.metrics
        a = self.angles
        ref = self.ref
        planner = self.planner
        sup = self.supervisor
        alarms = self.alarms
        buf = self.state_buf
        seq = _U64.unpack_from(buf, 0)[0]
        # seqlock: odd while writing
        _U64.pack_into(buf, 0, seq + 1 if not seq & 1 else seq)
        base = HEADER_BYTES
        _STATE_A.pack_into(
            buf, base + _STATE_A_OFF,
            self.cycle, t, self.scene_time_s, int(self.run_state), 1 if self.rt_granted else 0,
            self.s_m, self.belt_speed_mps, sup.speed_cmd_mps, self.belt_accel_mps2,
            a[0], a[2], a[1], a[3], ref[0], ref[4], ref[1], ref[5],
            self.toe_h[0], self.toe_h[1], self.contacts, self.phase[0], self.phase[1],
            self.guidance_applied, self.bws_applied, self.boost[0], self.boost[1],
            self.heart_rate_bpm, m.steps & _U32, self.distance_m, m.cadence_spm, m.gait_speed_mps,
            m.step_length_m[0], m.step_length_m[1], m.step_time_s[0], m.step_time_s[1],
            m.stance_fraction[0], m.stance_fraction[1], _f32(m.symmetry_index_pct), _f32(m.stride_cv_pct),
            m.toe_clearance_m[0], m.toe_clearance_m[1], _f32(self.tracking_error_rad),
            planner.next_obstacle,
        )
        if self.obstacles_dirty or planner.changed:
            # Outcomes change only with planner.changed (set on every decision): count then.
            cleared = hit = 0
            for ob in planner.obstacles:
                if ob.outcome == ObstacleOutcome.CLEARED:
                    cleared += 1
                elif ob.outcome == ObstacleOutcome.HIT:
                    hit += 1
            self._outcome_counts = (cleared, hit)
            if self.obstacles_dirty:
                self._publish_obstacles()
        cleared, hit = self._outcome_counts
        estop = 1 if (self.tm.status.estop_pressed or self.exo.status.estop_pressed) else 0
        lateness_us, compute_us = _f32(self.lateness_us), _f32(self.compute_us)  # (state and telemetry)
        overflow = self.telemetry_ring.overflow
        _STATE_B.pack_into(
            buf, base + _STATE_B_OFF,
            cleared, hit, self.goal_bits, lateness_us, compute_us,
            self.overruns & _U32, _f32(self.max_lateness_us), self.device_ok, estop,
            self.frames_bad_total & _U32, overflow, self.scene_generation & _U32,
        )
        if alarms.dirty:
            view = self.state_view["alarms"]
            for i, slot in enumerate(alarms.slots):
                view[i] = (slot[0], slot[1], slot[2], slot[3], slot[4])
            # The table's slots change only with `dirty` set: the highest priority with them.
            self.highest_unacked = alarms.highest_unacked()
            alarms.dirty = False
        # s_measured_t_s: the host time the belt was at s_m (its encoder frame), for the renderer's
        # extrapolation; s_m only changes when a treadmill frame arrives (250 Hz).
        _STATE_C.pack_into(
            buf, base + _STATE_C_OFF, self.highest_unacked, self.pid, self.cycle, self.tm_sample_t
        )
        _STATE_D.pack_into(
            buf, base + _STATE_D_OFF, GAIT_SPEED_FROM_BELT, self.pitch[0], self.pitch[1],
            self.geometry_check, self.standing_n,
        )
        _U64.pack_into(buf, 0, (seq | 1) + 1)

        # telemetry
        self.telemetry_ring.push_packed(
            _TELEMETRY,
            t, self.cycle, sup.speed_cmd_mps, self.belt_speed_mps, self.s_m,
            ref[0], ref[4], ref[1], ref[5], a[0], a[2], a[1], a[3],
            self.guidance_applied, self.bws_applied, self.contacts, self.phase[0], self.phase[1],
            self.toe_h[0], self.toe_h[1], self.boost[0], self.boost[1], self.heart_rate_bpm,
            self.events_bits & _U32, int(self.run_state), lateness_us, compute_us,
            alarms.active_bits & _U32,
        )

    def _publish_obstacles(self) -> None:
        """Rewrite the obstacle section of the state block (only when something changed)."""
        table = self.obstacle_table
        table[:] = 0
        table["triggered_at_s"] = _NAN
        table["margin_m"] = _NAN
        for ob in self.planner.obstacles:
            table[ob.index] = (int(ob.outcome), 1 if ob.active else 0, ob.triggered_at_s, ob.margin_m)
        self.state_view["obstacles"] = table
        self.obstacles_dirty = False
        self.planner.changed = False

    def finish_cycle(self, compute_s: float) -> None:
        """Record how long this cycle's work took (published with the next cycle)."""
        self.compute_us = compute_s * 1e6
