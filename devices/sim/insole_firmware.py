"""Firmware of the simulated smart insoles: pressure cells and a 6-axis IMU under each foot.

The rig samples the patient's foot trajectory every tick through `foot_truth()` (the ONE place
that knows how the patient model exposes its feet) and the firmware turns it into what a pair of
real insoles reports at SAMPLE_RATE_HZ:
- force under heel, midfoot and toe (N): the true load split over the three regions, plus a
  fixed offset per region (cell hysteresis and creep) and white noise, clipped at zero as the
  cells' dead band does;
- angular rate (rad/s) about the foot's three axes: the foot pitch rate averaged over the sample
  interval (the IMU's decimation filter), plus a constant bias per foot and axis and white noise;
- specific force (m/s^2) in the foot frame: the foot's acceleration minus gravity, rotated by the
  foot pitch, plus bias and noise.
Noise figures are those of consumer MEMS IMUs and resistive insole cells (docs/protocol.md cites
them). The header time of each INSOLE_STATUS is the sample time on the insole's own clock
(time.monotonic() in the rig, as for the other simulated devices).
Like every device it powers up disarmed and has a watchdog; its safe state only clears `armed`
and sets the watchdog flag: it keeps streaming. Its one actuator is a vibration motor per foot
(CAP_HAPTIC): INSOLE_HAPTIC, obeyed while armed, is recorded in `haptic` (the rig's truth of
what the patient felt: start time, feet, pulses, intensity, pulse length); the safe state stops
a cue still playing.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType
from devices.sim.endpoint import Endpoint
from devices.sim.firmware import GRAVITY_MPS2, Firmware
from devices.sim.plantar import LATERAL_SHARE

SAMPLE_RATE_HZ = 200.0
# Region shares of the patient model's heel and toe loads: the midfoot carries part of both
# (plantar pressure maps: heel ~60 %, midfoot ~10 %, forefoot ~30 % of a stance's impulse).
HEEL_TO_MID = 0.15
TOE_TO_MID = 0.25
CELL_OFFSET_N = 1.5  # per-region offset, uniform +-, drawn once per insole
CELL_NOISE_N = 1.0  # white noise per sample
GYRO_BIAS_RADPS = 0.01  # 1 sigma per axis (0.6 deg/s: a MEMS gyro after factory calibration)
GYRO_NOISE_RADPS = 0.005  # per sample at 200 Hz (about 0.02 deg/s/sqrt(Hz))
ACCEL_BIAS_MPS2 = 0.05
ACCEL_NOISE_MPS2 = 0.08
HAPTIC_MAX_PULSES = 10  # a cue, not a buzz: longer requests are cut (docs/protocol.md)
HAPTIC_PULSE_US = (20_000, 500_000)  # shorter is not felt through a shoe; longer is one pulse at most


@dataclass
class FootTruth:
    """One foot now, as the insole under it senses it."""

    pitch_rad: float  # toe-down positive
    heel_n: float  # vertical force under the heel, midfoot and toe regions
    midfoot_n: float
    toe_n: float
    # acceleration of the foot in the lab (treadmill) frame, gravity excluded; None: the
    # firmware differentiates ankle_x_m / ankle_z_m over its sample interval instead
    accel_forward_mps2: float | None = None
    accel_up_mps2: float | None = None
    ankle_x_m: float = 0.0
    ankle_z_m: float = 0.0
    lateral_n: tuple[float, float, float] = (0.0, 0.0, 0.0)  # lateral half of heel, midfoot, toe


def foot_truth(patient, side: int, belt_speed_mps: float, boost: float) -> FootTruth:
    """The patient model's foot `side` now (the adapter: only this function reads the model).

    A model with `foot_state(side)` (forward kinematics of the true joints) gives everything; the
    older phase-driven model is read field by field: stance feet flat, a swing foot pitched with
    the shank plus the patient's own ankle dorsiflexion, heel and toe loads split over the
    three regions.
    """
    if hasattr(patient, "foot_state"):
        f = patient.foot_state(side)
        return FootTruth(f.pitch_rad, f.heel_load_n, f.midfoot_load_n, f.toe_load_n,
                         f.accel_forward_mps2, f.accel_vertical_mps2, lateral_n=f.lateral_n)
    prof = patient.profile
    if patient.in_stance[side]:
        pitch = 0.0
        z = prof.foot_height_m
    else:
        _, _, dorsi = patient._own_pattern(side, belt_speed_mps, boost)
        shank = patient.angle_rad[2 * side] - patient.angle_rad[2 * side + 1]
        pitch = -shank - dorsi
        toe_below_ankle = prof.foot_length_m * math.sin(pitch) + prof.foot_height_m * math.cos(pitch)
        z = patient.toe_height_m[side] + toe_below_ankle
    weight = prof.body_mass_kg * GRAVITY_MPS2
    heel = patient.pressure[2 * side] * weight
    toe = patient.pressure[2 * side + 1] * weight
    regions = (heel * (1.0 - HEEL_TO_MID), heel * HEEL_TO_MID + toe * TOE_TO_MID, toe * (1.0 - TOE_TO_MID))
    lateral = tuple(f * share for f, share in zip(regions, LATERAL_SHARE, strict=True))
    return FootTruth(*((pitch,) + regions), ankle_x_m=patient.foot_x_m[side], ankle_z_m=z, lateral_n=lateral)


class InsoleFirmware(Firmware):
    """A pair of insoles behind one receiver: one status frame per sample, both feet in it."""

    STATUS = p.INSOLE_STATUS_LATERAL  # cells split medial/lateral (docs/protocol.md)
    STATUS_MSG = p.Msg.INSOLE_STATUS

    def __init__(self, endpoint: Endpoint, serial_number: str, patient, rng: random.Random) -> None:
        super().__init__(endpoint)
        self.info = DeviceInfo(
            device_type=DeviceType.INSOLES,
            firmware_version="sim-1.0.0",
            serial_number=serial_number,
            capabilities=p.CAP_INSOLES | p.CAP_HAPTIC,
            status_rate_hz=SAMPLE_RATE_HZ,
        )
        self.patient = patient
        self._rng = rng
        self.cell_offset_n = [rng.uniform(-CELL_OFFSET_N, CELL_OFFSET_N) for _ in range(6)]
        self.gyro_bias_radps = [rng.gauss(0.0, GYRO_BIAS_RADPS) for _ in range(6)]
        self.accel_bias_mps2 = [rng.gauss(0.0, ACCEL_BIAS_MPS2) for _ in range(6)]
        self.period_s = 1.0 / SAMPLE_RATE_HZ
        self.next_sample_s: float | None = None
        self._last_t: float | None = None
        self._last_pitch = [0.0, 0.0]
        self._last_pos: list[tuple[float, float] | None] = [None, None]
        self._last_vel = [(0.0, 0.0), (0.0, 0.0)]
        self._values: tuple = (0.0,) * 24
        self.samples = 0
        self._tick_t: float | None = None
        self._dv = [[0.0, 0.0], [0.0, 0.0]]  # foot velocity change since the last sample (forward, up)
        # The lateral halves' own cells, from their own generator: the other cells' and the IMU's
        # draws stay what they were for a seed (insoles without lateral cells read the same).
        self._lat_rng = random.Random(zlib.crc32(serial_number.encode()) * 1000003 + getattr(patient, "seed", 0))
        self.lateral_offset_n = [self._lat_rng.uniform(-CELL_OFFSET_N, CELL_OFFSET_N) for _ in range(6)]
        self.haptic: list[dict] = []  # every cue obeyed (the truth of what the patient felt)
        self.haptic_refused = 0

    def command(self, now_s: float, msg: int, fields: tuple) -> bool:
        """INSOLE_HAPTIC: vibrate while armed; a NaN intensity or an empty foot mask is refused."""
        if msg != p.Msg.INSOLE_HAPTIC:
            return False
        mask, pulses, intensity, pulse_us = fields[4:8]
        if not self.armed or intensity != intensity or not mask & 3 or pulses == 0:
            self.haptic_refused += 1
            return False
        pulses = min(int(pulses), HAPTIC_MAX_PULSES)
        pulse_us = min(max(int(pulse_us), HAPTIC_PULSE_US[0]), HAPTIC_PULSE_US[1])
        intensity = min(max(float(intensity), 0.0), 1.0)
        self.haptic.append({"t_s": now_s, "foot_mask": int(mask & 3), "pulses": pulses,
                            "intensity": intensity, "pulse_us": pulse_us,
                            "end_t_s": now_s + (2 * pulses - 1) * pulse_us * 1e-6})
        return True

    def vibrating(self, now_s: float) -> int:
        """Foot mask of the motors running now (pulses on, gaps off)."""
        if not self.haptic:
            return 0
        cue = self.haptic[-1]
        el_us = (now_s - cue["t_s"]) * 1e6
        if el_us < 0.0 or now_s >= cue["end_t_s"]:
            return 0
        return cue["foot_mask"] if int(el_us // cue["pulse_us"]) % 2 == 0 else 0

    def sample(self, now_s: float, belt_speed_mps: float, boost: tuple[float, float]) -> bool:
        """Take a sample when one is due (SAMPLE_RATE_HZ); True when a status frame should go out."""
        # The IMU's decimation filter: acceleration is the mean over the sample interval (the
        # velocity change over it), accumulated from the model at every rig tick, so a one-tick
        # kinematic step is not sampled as if it lasted the whole interval.
        tick = now_s - self._tick_t if self._tick_t is not None else 0.0
        self._tick_t = now_s
        if tick > 0.0 and hasattr(self.patient, "foot_state"):
            accel = getattr(self.patient, "foot_accel_mps2", None)  # (FootState's two fields, built for less)
            for side in (0, 1):
                if accel is not None:
                    a_fwd, a_up = accel(side)
                else:
                    f = self.patient.foot_state(side)
                    a_fwd, a_up = f.accel_forward_mps2, f.accel_vertical_mps2
                self._dv[side][0] += a_fwd * tick
                self._dv[side][1] += a_up * tick
        if self.next_sample_s is None:
            self.next_sample_s = now_s
        if now_s < self.next_sample_s:
            return False
        self.next_sample_s += self.period_s
        if now_s - self.next_sample_s > 0.05:
            self.next_sample_s = now_s + self.period_s  # a stalled rig restarts its schedule
        dt = now_s - self._last_t if self._last_t is not None else 0.0
        self._last_t = now_s
        # (bound once: 18 readings a sample, 200 samples a second; the draws keep their order)
        gauss, lat_gauss = self._rng.gauss, self._lat_rng.gauss
        cell_offset, lateral_offset = self.cell_offset_n, self.lateral_offset_n
        bias, gb = self.accel_bias_mps2, self.gyro_bias_radps
        values: list[float] = []
        lateral: list[float] = []
        put, put_lateral = values.append, lateral.append
        for side in (0, 1):
            o = 3 * side
            foot = foot_truth(self.patient, side, belt_speed_mps, boost[side])
            for k, f in enumerate(foot.lateral_n):
                reading = f + lateral_offset[o + k] + lat_gauss(0.0, CELL_NOISE_N)
                put_lateral(reading if reading > 0.0 else 0.0)
            for k, f in enumerate((foot.heel_n, foot.midfoot_n, foot.toe_n)):
                reading = f + cell_offset[o + k] + gauss(0.0, CELL_NOISE_N)
                put(reading if reading > 0.0 else 0.0)
            ax, az = foot.accel_forward_mps2, foot.accel_up_mps2
            dv = self._dv[side]
            if ax is not None and az is not None and dt > 0.0 and dv != [0.0, 0.0]:
                ax, az = dv[0] / dt, dv[1] / dt
            self._dv[side] = [0.0, 0.0]
            if ax is None or az is None:
                # acceleration from the ankle's path (second difference over the sample interval)
                pos = (foot.ankle_x_m, foot.ankle_z_m)
                ax = az = 0.0
                prev = self._last_pos[side]
                if prev is not None and dt > 0.0:
                    vel = ((pos[0] - prev[0]) / dt, (pos[1] - prev[1]) / dt)
                    pv = self._last_vel[side]
                    ax, az = (vel[0] - pv[0]) / dt, (vel[1] - pv[1]) / dt
                    self._last_vel[side] = vel
                self._last_pos[side] = pos
            fx, fz = ax, az + GRAVITY_MPS2  # specific force in the lab frame
            pitch = foot.pitch_rad
            c, s = math.cos(pitch), math.sin(pitch)
            put(fx * c - fz * s + bias[o] + gauss(0.0, ACCEL_NOISE_MPS2))
            put(bias[o + 1] + gauss(0.0, ACCEL_NOISE_MPS2))
            put(fx * s + fz * c + bias[o + 2] + gauss(0.0, ACCEL_NOISE_MPS2))
            rate = (pitch - self._last_pitch[side]) / dt if dt > 0.0 else 0.0
            self._last_pitch[side] = pitch
            put(gb[o] + gauss(0.0, GYRO_NOISE_RADPS))
            put(rate + gb[o + 1] + gauss(0.0, GYRO_NOISE_RADPS))
            put(gb[o + 2] + gauss(0.0, GYRO_NOISE_RADPS))
        self._values = tuple(values + lateral)
        self.samples += 1
        return True

    def enter_safe_state(self, now_s: float, reason: str) -> None:
        super().enter_safe_state(now_s, reason)  # only `armed` drops; it keeps streaming
        if self.haptic and now_s < self.haptic[-1]["end_t_s"]:
            self.haptic[-1]["end_t_s"] = now_s  # the motors stop with the safe state

    def measurements(self) -> tuple:
        return self._values

    def state(self) -> dict:
        return {**super().state(), "samples": self.samples, "gyro_bias_radps": list(self.gyro_bias_radps),
                "haptic": [dict(c) for c in self.haptic], "haptic_refused": self.haptic_refused}
