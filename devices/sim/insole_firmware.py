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
Like every device it powers up disarmed and has a watchdog; having no actuators, its safe state
only clears `armed` and sets the watchdog flag: it keeps streaming.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from devices import protocol as p
from devices.base import DeviceInfo, DeviceType
from devices.sim.endpoint import Endpoint
from devices.sim.firmware import GRAVITY_MPS2, Firmware

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


@dataclass
class FootTruth:
    """One foot now, in the lab frame of the treadmill (x forward from the hip, z up from the belt)."""

    ankle_x_m: float
    ankle_z_m: float
    pitch_rad: float  # toe-down positive
    heel_load: float  # fraction of body weight on the heel region
    toe_load: float  # ... on the forefoot


def foot_truth(patient, side: int, belt_speed_mps: float, boost: float) -> FootTruth:
    """The patient model's foot `side` now (the adapter: only this function reads the model).

    Stance feet are flat on the belt. A swing foot pitches with the shank plus the patient's own
    ankle dorsiflexion (the same foot the model's toe height is computed with).
    """
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
    return FootTruth(
        ankle_x_m=patient.foot_x_m[side], ankle_z_m=z, pitch_rad=pitch,
        heel_load=patient.pressure[2 * side], toe_load=patient.pressure[2 * side + 1],
    )


class InsoleFirmware(Firmware):
    """A pair of insoles behind one receiver: one status frame per sample, both feet in it."""

    STATUS = p.INSOLE_STATUS
    STATUS_MSG = p.Msg.INSOLE_STATUS

    def __init__(self, endpoint: Endpoint, serial_number: str, patient, rng: random.Random) -> None:
        super().__init__(endpoint)
        self.info = DeviceInfo(
            device_type=DeviceType.INSOLES,
            firmware_version="sim-1.0.0",
            serial_number=serial_number,
            capabilities=p.CAP_INSOLES,
            status_rate_hz=SAMPLE_RATE_HZ,
        )
        self.patient = patient
        self.body_weight_n = patient.profile.body_mass_kg * GRAVITY_MPS2
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
        self._values: tuple = (0.0,) * 18
        self.samples = 0

    def sample(self, now_s: float, belt_speed_mps: float, boost: tuple[float, float]) -> bool:
        """Take a sample when one is due (SAMPLE_RATE_HZ); True when a status frame should go out."""
        if self.next_sample_s is None:
            self.next_sample_s = now_s
        if now_s < self.next_sample_s:
            return False
        self.next_sample_s += self.period_s
        if now_s - self.next_sample_s > 0.05:
            self.next_sample_s = now_s + self.period_s  # a stalled rig restarts its schedule
        dt = now_s - self._last_t if self._last_t is not None else 0.0
        self._last_t = now_s
        rng = self._rng
        values: list[float] = []
        for side in (0, 1):
            foot = foot_truth(self.patient, side, belt_speed_mps, boost[side])
            heel = foot.heel_load * self.body_weight_n
            toe = foot.toe_load * self.body_weight_n
            forces = (heel * (1.0 - HEEL_TO_MID), heel * HEEL_TO_MID + toe * TOE_TO_MID, toe * (1.0 - TOE_TO_MID))
            for k, f in enumerate(forces):
                reading = f + self.cell_offset_n[3 * side + k] + rng.gauss(0.0, CELL_NOISE_N)
                values.append(reading if reading > 0.0 else 0.0)
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
            c, s = math.cos(foot.pitch_rad), math.sin(foot.pitch_rad)
            bias = self.accel_bias_mps2
            values.append(fx * c - fz * s + bias[3 * side] + rng.gauss(0.0, ACCEL_NOISE_MPS2))
            values.append(bias[3 * side + 1] + rng.gauss(0.0, ACCEL_NOISE_MPS2))
            values.append(fx * s + fz * c + bias[3 * side + 2] + rng.gauss(0.0, ACCEL_NOISE_MPS2))
            rate = (foot.pitch_rad - self._last_pitch[side]) / dt if dt > 0.0 else 0.0
            self._last_pitch[side] = foot.pitch_rad
            gb = self.gyro_bias_radps
            values.append(gb[3 * side] + rng.gauss(0.0, GYRO_NOISE_RADPS))
            values.append(rate + gb[3 * side + 1] + rng.gauss(0.0, GYRO_NOISE_RADPS))
            values.append(gb[3 * side + 2] + rng.gauss(0.0, GYRO_NOISE_RADPS))
        self._values = tuple(values)
        self.samples += 1
        return True

    def enter_safe_state(self, now_s: float, reason: str) -> None:
        super().enter_safe_state(now_s, reason)  # no actuators: only `armed` drops; it keeps streaming

    def measurements(self) -> tuple:
        return self._values

    def state(self) -> dict:
        return {**super().state(), "samples": self.samples, "gyro_bias_radps": list(self.gyro_bias_radps)}
