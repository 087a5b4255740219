"""Balance perturbations of the simulated patient: a slip of the landing foot, the body's response
and the ground truth of a loss of balance.

The patient model (devices/sim/patient.py) is kinematic: its pelvis follows the steps it plans,
it has no balance of its own. A perturbation adds the body's response to a disturbance of its
support as a deviation from that walk, from the linear inverted pendulum (LIP) of Hof et al.
2005 (J Biomech 38:1-8, "The condition for dynamic stability"): the centre of mass (CoM, here the
pelvis) at height l over its centre of pressure (CoP) accelerates away from it,
x'' = omega0^2 (x - p), omega0 = sqrt(g / l). The undisturbed walk is the model's own; a shift dp
of the CoP from where the walk had it moves the CoM by e, e'' = omega0^2 (e - dp): the linearised
pendulum about the walk (the walk itself is left as the model makes it).

Slip. Perturbation-based balance training gives patients unannounced slips on a low-friction
surface under a harness (Pai and co-workers; treadmill slips); a slippery patch on the belt does
the same here. The first heel strike after a scheduled time lands on it: as the load builds
(SLIP_START_S after the strike) the heel slides forward over the belt by `distance_m` within
`duration_s` (a minimum-jerk profile: the slide speeds up as the leg's forward shear exceeds the
friction and is stopped as the foot gets under the body; peak speed 1.9 x distance / duration).
The slipping foot carries its share of the body's load (the model's plantar loads), so the CoP
moves forward with it and pushes the CoM back: e < 0.

Loss of balance (the ground truth). Hof's extrapolated centre of mass XCoM = x + v / omega0 (v
over the ground the feet stand on: the belt) must stay within the base of support; backward, its
rear edge is the rearmost point in contact (the heel of a foot whose heel is on the ground, else
its metatarsal heads). The margin of stability MoS = XCoM - rear edge; MoS < 0 while perturbed is a loss of
balance: without a step behind the XCoM the body falls back. It is recorded once per slip, at
the first tick with MoS < 0 (`balance_losses` in the truth, cause "slip"); slips that keep
MoS >= 0 are recovered (`perturbations` lists every slip with its lowest margin). The margin is
followed all the time: where the undisturbed walk itself takes it below zero, that is recorded
too, once per episode, as cause "gait" (with no slips scheduled the object is a balance monitor).

The harness (every patient on the rig wears one) stops a fall: the CoM's deviation is held at
HARNESS_CATCH_M at most. After the slip the patient's next heel strike of the other foot (a
recovery step) restores the walk: the deviation fades with RECOVER_TAU_S.

Numbers that are the model's choices, not sourced: SLIP_START_S, the slip's profile and duration,
HARNESS_CATCH_M, RECOVER_TAU_S. The pendulum and the margin follow Hof 2005; l is the hip's
height (the CoM sits ~0.1 m above the hip: the pendulum is slightly short, omega0 slightly high).
"""

from __future__ import annotations

import math

G_MPS2 = 9.81
SLIP_START_S = 0.02  # after heel strike: the load, and with it the shear, builds up first
HARNESS_CATCH_M = 0.3  # the harness holds the CoM at most this far behind the walk's path
RECOVER_TAU_S = 0.4  # after the recovery step the deviation fades with this time constant
MOS_HEEL_LOAD_N = 5.0  # a heel bearing more than this is the rear edge of the support
HEEL_UP_M = 0.005  # a heel higher than this over the ground has left it (heel rise)
MTP_AT = 0.7  # the metatarsal heads, as a share of the heel-to-toe length (anthropometric, unsourced)


def _min_jerk(u: float) -> float:
    u = 0.0 if u < 0.0 else 1.0 if u > 1.0 else u
    return u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)


class SlipPerturbation:
    """Slips of the landing foot at scheduled times (rig clock, s), each with its slide distance
    (m) and duration (s); `apply` every patient tick (PatientModel.perturbation)."""

    def __init__(self, slips: list[tuple[float, float]], duration_s: float = 0.25) -> None:
        for at_s, distance_m in slips:
            if not (distance_m >= 0.0 and math.isfinite(at_s)):
                raise ValueError(f"slip at {at_s!r} s: distance {distance_m!r} m must be >= 0")
        if not duration_s > 0.0:
            raise ValueError(f"slip duration {duration_s!r} s must be > 0")
        self.pending = sorted(slips)
        self.duration_s = duration_s
        self.perturbations: list[dict] = []
        self.balance_losses: list[dict] = []
        self._hs_seen = 0
        self._armed: tuple[float, float] | None = None
        self._slip: dict | None = None  # the slip in progress
        self._side = -1
        self._heel0 = 0.0
        self._s_m = 0.0  # the slipping heel's slide so far
        self._e_m = 0.0  # the CoM's deviation from the walk (route m, + forward)
        self._ev_mps = 0.0
        self._applied_m = 0.0  # the deviation added to the model's hip now
        self._recover_t = math.inf  # when the recovery step landed
        self.mos_m = math.nan  # the margin of stability now (while perturbed)
        self._hip_prev = math.nan  # the model's hip last tick (the CoM's speed is its difference)
        self._hip_speed = 0.0  # the walk's hip speed when the slip began (held while perturbed)
        self._gait_loss = False  # the undisturbed walk's margin is below zero now

    @property
    def active(self) -> bool:
        return self._slip is not None

    def apply(self, model, t_s: float, dt: float) -> None:
        """Before the model poses its legs this tick: slide the slipping heel, move the CoM."""
        strikes = model.heel_strikes
        new_strikes = strikes[self._hs_seen:]
        self._hs_seen = len(strikes)
        if self._armed is None and self.pending and t_s >= self.pending[0][0]:
            self._armed = self.pending.pop(0)
        for hs in new_strikes:
            if self._slip is None and self._armed is not None and model.walking:
                self._start(model, hs, t_s)
            elif self._slip is not None and hs["side"] != self._side and self._recover_t == math.inf \
                    and hs["t_s"] > self._slip["t_s"]:
                self._recover_t = hs["t_s"]  # the other foot's recovery step
        if self._slip is None or dt <= 0.0:
            if dt > 0.0:  # the margin of the undisturbed walk, for comparison (no event)
                v = (model.hip_x - self._hip_prev) / dt if self._hip_prev == self._hip_prev else model.hip_speed
                self._margin(model, t_s, math.sqrt(G_MPS2 / max(0.3, model.hip_z)), v)
            self._hip_prev = model.hip_x
            return
        slip = self._slip
        # the model steers its hip back to its plan at each toe off; while perturbed the body's
        # path is the walk's as it was (its speed held) plus the pendulum's deviation
        model.hip_x += (self._hip_speed - model.hip_speed) * dt
        model.hip_speed = self._hip_speed
        leg = model.legs[self._side]
        el = t_s - slip["t_s"] - SLIP_START_S
        if leg.in_stance and el > 0.0 and leg.heel_x >= self._heel0 - 1e-9:
            s = slip["distance_m"] * _min_jerk(el / self.duration_s)
            leg.heel_x += s - self._s_m  # the model's heel stays where the slide puts it
            self._s_m = s
        # the CoP shift: the slide times the slipping foot's share of the load on the feet
        loads = model.loads_n
        total = sum(loads[0]) + sum(loads[1])
        share = sum(loads[self._side]) / total if total > 0.0 and leg.in_stance else 0.0
        omega0 = math.sqrt(G_MPS2 / max(0.3, model.hip_z))
        if t_s < self._recover_t:
            acc = omega0 * omega0 * (self._e_m - self._s_m * share)
            self._ev_mps += acc * dt
            self._e_m += self._ev_mps * dt
            if self._e_m < -HARNESS_CATCH_M:  # the harness holds the body
                self._e_m = -HARNESS_CATCH_M
                self._ev_mps = max(0.0, self._ev_mps)
        else:
            decay = math.exp(-dt / RECOVER_TAU_S)
            e_new = self._e_m * decay
            self._ev_mps = (e_new - self._e_m) / dt
            self._e_m = e_new
        # the model integrated its hip from last tick's (deviated) place: swap the deviation
        model.hip_x += self._e_m - self._applied_m
        self._applied_m = self._e_m
        v = (model.hip_x - self._hip_prev) / dt if self._hip_prev == self._hip_prev else model.hip_speed
        self._hip_prev = model.hip_x
        self._margin(model, t_s, omega0, v)
        if t_s >= self._recover_t and abs(self._e_m) < 1e-4:
            model.hip_x -= self._applied_m
            self._applied_m = 0.0
            slip["end_t_s"] = t_s
            self._slip = None

    def _start(self, model, hs: dict, t_s: float) -> None:
        at_s, distance_m = self._armed
        self._armed = None
        side = hs["side"]
        self._side = side
        self._heel0 = model.legs[side].heel_x
        self._s_m = 0.0
        self._e_m = self._ev_mps = 0.0
        self._recover_t = math.inf
        self._hip_speed = model.hip_speed
        self._slip = {"t_s": hs["t_s"], "device_time_us": int(hs["t_s"] * 1e6), "side": side,
                      "scheduled_t_s": at_s, "distance_m": distance_m, "duration_s": self.duration_s,
                      "min_mos_m": math.inf, "loss_of_balance": False, "end_t_s": None,
                      "stable_seen": False}
        self.perturbations.append(self._slip)

    def _margin(self, model, t_s: float, omega0: float, v: float) -> None:
        """Hof's margin of stability backward: XCoM minus the rear edge of the support."""
        rear = math.inf
        for side in (0, 1):
            leg = model.legs[side]
            if not leg.in_stance:
                continue
            # the base is the area in contact: the heel while it is on the ground (loaded or not:
            # the body can move its centre of pressure back onto it), else the forefoot's rear,
            # the metatarsal heads
            heel, toe = leg.heel[0], leg.toe[0]
            down = leg.heel[1] - leg.ground <= HEEL_UP_M or model.loads_n[side][0] > MOS_HEEL_LOAD_N
            edge = heel if down else heel + MTP_AT * (toe - heel)
            rear = min(rear, edge)
        if rear == math.inf:
            self.mos_m = math.nan
            return
        mos = model.hip_x + v / omega0 - rear
        self.mos_m = mos
        slip = self._slip
        if slip is None:
            # the undisturbed walk's own losses (the model's gait, e.g. a foot placed far ahead
            # of a slow body at the other foot's toe off): recorded as cause "gait"
            if mos < 0.0 and model.walking and not self._gait_loss:
                self.balance_losses.append({"t_s": t_s, "device_time_us": int(t_s * 1e6), "side": -1,
                                            "cause": "gait", "slip_t_s": None, "distance_m": 0.0})
            self._gait_loss = mos < 0.0
            return
        self._gait_loss = mos < 0.0
        if mos < slip["min_mos_m"]:
            slip["min_mos_m"] = mos
        if mos >= 0.0:
            slip["stable_seen"] = True
        # a loss caused by the slip: the margin falls below zero after the slip began with it
        # at or above zero (where the walk had it below zero at the heel strike, that is the
        # gait's, not the slip's, and the slip's loss is its next crossing)
        if mos < 0.0 and slip["stable_seen"] and not slip["loss_of_balance"]:
            slip["loss_of_balance"] = True
            self.balance_losses.append({"t_s": t_s, "device_time_us": int(t_s * 1e6), "side": slip["side"],
                                        "cause": "slip", "slip_t_s": slip["t_s"], "distance_m": slip["distance_m"]})

    def truth(self) -> dict:
        """The perturbations and the losses of balance (JSON-able)."""
        return {"perturbations": [dict(p, min_mos_m=None if p["min_mos_m"] == math.inf else p["min_mos_m"])
                                  for p in self.perturbations],
                "balance_losses": list(self.balance_losses)}


class SlipProbe:
    """For `simulate` runs (engine.sim.session.SimOptions.probe): at its first call it puts a
    SlipPerturbation on the rig's patient, the slips' times counted from then (the walk's start)."""

    def __init__(self, slips: list[tuple[float, float]], duration_s: float = 0.25) -> None:
        self.slips = list(slips)
        self.duration_s = duration_s
        self.perturbation: SlipPerturbation | None = None

    def __call__(self, t_s: float, core, rig) -> None:
        if self.perturbation is None:
            now = rig.patient.t_s or 0.0
            self.perturbation = SlipPerturbation([(now + at, d) for at, d in self.slips], self.duration_s)
            rig.patient.perturbation = self.perturbation
