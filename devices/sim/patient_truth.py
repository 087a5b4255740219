"""Ground truth of a simulated patient's crossings: toe clearance and obstacle margins of a swinging
foot, each leg's crossing of each obstacle and its outcome, and the whole truth record (a mixin of
PatientModel, which owns the state these methods read)."""

from __future__ import annotations

import math

from devices.obstacle_face import toe_height_at_face_m
from devices.sim.leg_state import LegState
from devices.sim.scene_view import LIP_DEPTH_M, SceneObstacle

MTC_WINDOW = (0.25, 0.8)  # minimum toe clearance: lowest toe in this share of the swing
TRIP_PENETRATION_M = 0.015  # deeper entry into an obstacle's box catches the foot: a trip
BALANCE_LOSS_PENETRATION_M = 0.05


def hazard_end_m(ob: SceneObstacle) -> float:
    """Far edge of what a foot must not enter or land in, for the crossing outcome: a curb up's
    lip (its first LIP_DEPTH_M at full height; the stone's top beyond it is walkway, landing there
    is stepping up), else the obstacle's end_m (docs/validation.md, "Crossing outcomes")."""
    if ob.kind == "curb_up":
        return min(ob.end_m, ob.at_m + LIP_DEPTH_M)
    return ob.end_m


class CrossingTruth:
    """Crossing and ground-truth records of PatientModel (state: legs, scene, walkway, t_s, ...)."""

    def _swing_truth(self, leg: LegState, u: float) -> None:
        """Toe clearance and obstacle margins of a swinging foot, this instant."""
        toe_x, toe_z = leg.toe
        prev_x, prev_z = leg.prev_toe
        leg.prev_toe = leg.toe
        ground = self.walkway.ground_m(toe_x) if self.walkway.in_lane else 0.0
        height = toe_z - ground
        self.toe_height_m[leg.side] = max(0.0, height)
        t = self.t_s or 0.0
        if MTC_WINDOW[0] <= u <= MTC_WINDOW[1] and height < leg.swing_min:
            leg.swing_min = height
            leg.swing_min_t = t
        if height > leg.swing_peak:
            leg.swing_peak = height
        if not self.walkway.in_lane:
            return
        x0 = min(leg.heel[0], toe_x)
        x1 = max(leg.heel[0], toe_x)
        for ob in self.walkway.near(x0, x1):
            if ob.index in leg.closed:
                continue
            # lowest point of the foot over the obstacle's stretch (heel-toe line clipped to it)
            lowest = self._lowest_over(leg, ob.at_m, hazard_end_m(ob))
            if lowest == math.inf:
                continue  # over a curb's stone past its lip: walkway
            top = self.walkway.box_top_m(ob)
            # a foot cannot go below the walkway: there it is on the ground, inside the box at most
            # by its whole height
            margin = max(lowest, top - ob.volume_height_m) - top
            rec = self._crossing(leg, ob, t)
            if rec["face_penetration_m"] is None:
                face_z = self._sole_at(leg, ob.at_m)
                if face_z is not None:
                    # the toe has just reached the near face: how far below the top it met it, at
                    # the instant it got there (between the last tick and this one: the core
                    # samples at other instants, docs/validation.md); the sole's height at the
                    # face this tick when the toe was past it before
                    at_face = toe_height_at_face_m(prev_x, prev_z, toe_x, toe_z, ob.at_m)
                    if at_face == at_face:
                        face_z = at_face
                    face = top - max(face_z, top - ob.volume_height_m)
                    rec["face_penetration_m"] = face
                    # the toe there is a point of the foot's path over the box's edge: part of
                    # the margin, though no tick fell while the toe was at the face
                    margin = min(margin, -face)
            if margin < rec["margin_m"]:
                rec["margin_m"] = margin
                rec["t_s"] = t
                rec["device_time_us"] = int(t * 1e6)
            if margin < 0.0:
                penetration = -margin
                if rec["entered_t_s"] is None:
                    rec["entered_t_s"] = t
                if penetration > rec["penetration_m"]:
                    first_trip = rec["penetration_m"] < TRIP_PENETRATION_M <= penetration
                    rec["penetration_m"] = penetration
                    trip = self._open_trips.get((ob.index, leg.side))
                    if first_trip:
                        rec["trip_t_s"] = t
                        face = rec["face_penetration_m"]
                        if face is not None and face >= TRIP_PENETRATION_M:
                            # the toe met the near face a trip's depth below the top: caught there,
                            # whatever follows (the outcome rule says tripped)
                            self._open_trips[(ob.index, leg.side)] = self._trip(leg, ob, penetration, t)
                        # else the sole came over the face higher and is coming down into the box:
                        # stepping on it is a touch, not a trip, if the foot lands there; the
                        # outcome (and the response) is decided when the crossing closes
                    elif trip is not None:
                        trip["penetration_m"] = penetration
                        if penetration >= BALANCE_LOSS_PENETRATION_M:
                            trip["loss_of_balance"] = True

    @staticmethod
    def _sole_at(leg: LegState, x: float) -> float | None:
        """Height of the sole line (heel to toe) at route x; None when the foot is not over x."""
        (hx, hz), (tx, tz) = leg.heel, leg.toe
        if not min(hx, tx) <= x <= max(hx, tx):
            return None
        if tx == hx:
            return min(hz, tz)
        return hz + (tz - hz) * (x - hx) / (tx - hx)

    @staticmethod
    def _lowest_over(leg: LegState, a: float, b: float) -> float:
        (hx, hz), (tx, tz) = leg.heel, leg.toe
        if tx == hx:
            return min(hz, tz)
        lo, hi = (hx, hz), (tx, tz)
        if lo[0] > hi[0]:
            lo, hi = hi, lo
        xa, xb = max(a, lo[0]), min(b, hi[0])
        if xa > xb:
            return math.inf
        za = lo[1] + (hi[1] - lo[1]) * (xa - lo[0]) / (hi[0] - lo[0])
        zb = lo[1] + (hi[1] - lo[1]) * (xb - lo[0]) / (hi[0] - lo[0])
        return min(za, zb)

    def _crossing(self, leg: LegState, ob: SceneObstacle, t_s: float) -> dict:
        rec = leg.crossings.get(ob.index)
        if rec is None:
            role = leg.roles.get(ob.index)
            if role is None:
                other = self.legs[1 - leg.side]
                role = "lead" if other.heel_x + self.heel_m + self.profile.foot_length_m < ob.at_m else "trail"
            rec = {"obstacle": ob.index, "kind": ob.kind, "side": leg.side, "role": role, "t_s": t_s,
                   "device_time_us": int(t_s * 1e6), "margin_m": math.inf, "penetration_m": 0.0,
                   "face_penetration_m": None, "landed_in": False, "entered_t_s": None}
            leg.crossings[ob.index] = rec
        return rec

    def _close_crossings(self, leg: LegState) -> None:
        """Crossings of obstacles now wholly behind this foot are final."""
        done = []
        for index, rec in leg.crossings.items():
            ob = self.scene[index]
            if leg.heel_x > hazard_end_m(ob) or rec["landed_in"]:
                done.append(index)
        other = self.legs[1 - leg.side]
        for index in done:
            rec = leg.crossings.pop(index)
            leg.closed.add(index)
            # The lead leg is the one that crosses first: the first whose crossing is decided (its
            # heel lands past the far edge, or in the obstacle). The role planned at toe off (from
            # where the other foot stood) can name both legs lead: a foot that lands short, on a
            # curb's stone, keeps the role of the swing that brought it near.
            rec["role"] = "trail" if index in other.closed else "lead"
            margin = rec["margin_m"]
            if rec["landed_in"]:
                # stepped on or in it: a touch, unless the toe met its near face a trip's depth
                # below the top (caught at the face; a sole over the face higher and coming down
                # into it later is the descent onto the landing place)
                face = rec["face_penetration_m"]
                outcome = "tripped" if face is not None and face >= TRIP_PENETRATION_M else "touched"
            elif margin < 0.0:
                outcome = "tripped" if rec["penetration_m"] >= TRIP_PENETRATION_M else "touched"
            else:
                outcome = "cleared"
            rec["outcome"] = outcome
            if outcome == "tripped" and (index, leg.side) not in self._open_trips:
                # a foot that came down into the box from above and did not land in it (it swept
                # through its top): tripped by the rule, so the response follows now (the foot is
                # on the ground: no catch; the next steps are perturbed), stamped when it entered
                self._trip(leg, self.scene[index], rec["penetration_m"], rec.get("trip_t_s", rec["t_s"]))
                self.trips.sort(key=lambda row: row["t_s"])  # in the order they happened
            self._open_trips.pop((index, leg.side), None)
            rec.pop("trip_t_s", None)
            if not math.isfinite(margin):
                rec["margin_m"] = None
            self.crossings.append(rec)

    # ------------------------------------------------------------------ ground truth
    def obstacle_outcomes(self) -> list[dict]:
        """Per obstacle: outcome (cleared/touched/tripped, passed beside the lane, pending) and
        the margin of each leg (the lowest foot point over its box minus its top)."""
        rank = {"cleared": 0, "touched": 1, "tripped": 2}
        by_index: dict[int, list[dict]] = {}
        for rec in self.crossings:
            by_index.setdefault(rec["obstacle"], []).append(rec)
        out = []
        for ob in self.scene:
            if not ob.step_over:
                continue
            recs = by_index.get(ob.index, [])
            entry = {"obstacle": ob.index, "kind": ob.kind, "at_m": ob.at_m, "depth_m": ob.depth_m,
                     "height_m": ob.height_m, "lateral_m": ob.lateral_m, "in_lane": ob.in_lane,
                     "legs": {("left", "right")[r["side"]]: {"margin_m": r["margin_m"], "outcome": r["outcome"],
                                                            "role": r["role"], "t_s": r["t_s"]} for r in recs}}
            if not ob.in_lane:
                entry["outcome"] = "passed"
            elif len({r["side"] for r in recs}) < 2:
                entry["outcome"] = "pending"
            else:
                entry["outcome"] = max((r["outcome"] for r in recs), key=rank.__getitem__)
            margins = [r["margin_m"] for r in recs if r["margin_m"] is not None]
            entry["margin_m"] = min(margins) if margins else None
            out.append(entry)
        return out

    def ground_truth(self) -> dict:
        """Everything the rig knows happened, times on the caller's clock (JSON-able)."""
        p = self.profile
        return {
            "profile": p.name,
            "labels": list(p.labels),
            "seed": self.seed,
            "clock": "device_time_us is the devices' clock; t_s is the same instant in seconds (the rig "
                     "stamps frames with the host's monotonic clock, simulate with its simulated clock)",
            "heel_strikes": list(self.heel_strikes),
            "toe_offs": list(self.toe_offs),
            "steps": list(self.steps),
            "toe_clearance": list(self.swings),
            "strides": list(self.strides),
            "crossings": list(self.crossings),
            "obstacles": self.obstacle_outcomes(),
            "trips": list(self.trips),
            # balance perturbations and losses of balance (devices/sim/balance_perturbation.py)
            **(self.perturbation.truth() if self.perturbation is not None
               else {"perturbations": [], "balance_losses": []}),
            "freezing": list(self.freezes),
            "stances": list(self.stances),
            "intended_speed": list(self.intent),
            "belt_displacement_m": self.belt_m,
            "route_origin_belt_m": self.route_origin_m,
            "geometry": {
                "thigh_m": p.thigh_m,
                "shank_m": p.shank_m,
                "foot_height_m": p.foot_height_m,
                "foot_length_m": p.foot_length_m,
                "heel_to_ankle_m": p.heel_to_ankle_m,
                "leg_length_m": p.thigh_m + p.shank_m + p.foot_height_m,
                "swing_dorsiflexion_deg": list(p.swing_dorsiflexion_deg),
            },
            "fatigue": self.fatigue,
            "heart_rate_bpm": self.heart_rate_bpm,
            "capacity": self.effort.capacity.to_dict(),
            "strain": self.effort.strain,
        }
