"""The therapist menu's progression panel: the proposal for the selected patient's next session
with its reasons, and Accept, Edit and Reject (engine/analysis/progression.py).

Opened by the menu's "Progression" button. "Not a trip" records the therapist's judgement
that the last session's stumble warnings were not trips (audited) and weighs the proposal again. A choice goes through the same `record_decision` as
`main.py progress --accept/--edit/--reject`: accept and edit store a new session-plan version,
every choice is an audit row with the controller's `who`. An accepted plan is applied to the
settings at once when no session is running (the next session starts from it); nothing changes
without a press here.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

TEXT_SCALE = 0.032


class ProgressionPanel:
    """A popup over the menu: proposal text, an edit line, Accept / Edit / Reject / Close."""

    def __init__(self, base, parent, controller, scenes: dict | None = None, on_plan_applied=None) -> None:
        from direct.gui.DirectGui import DGG, DirectButton, DirectEntry, DirectFrame, DirectLabel
        from panda3d.core import TextNode

        self.controller = controller
        self.on_plan_applied = on_plan_applied  # e.g. the menu selects the plan's scene
        self.scenes = scenes  # the menu's scene library by id (None: the default scenes/ folder)
        self.proposal = None
        self.message = ""
        self.frame = DirectFrame(parent=parent, frameColor=(0.06, 0.07, 0.09, 0.98), frameSize=(-1.2, 1.2, -0.75, 0.75),
                                 pos=(0, 0, 0.05))
        self.frame.set_bin("gui-popup", 90)
        self.title = DirectLabel(parent=self.frame, text="Progression", pos=(-1.15, 0, 0.66), text_scale=0.05,
                                 text_fg=(0.6, 0.85, 1, 1), text_align=TextNode.A_left, frameColor=(0, 0, 0, 0))
        self.body = DirectLabel(parent=self.frame, text="", pos=(-1.15, 0, 0.56), text_scale=TEXT_SCALE,
                                text_fg=(1, 1, 1, 1), text_align=TextNode.A_left, frameColor=(0, 0, 0, 0),
                                text_wordwrap=70)
        DirectLabel(parent=self.frame, text="Edit (FIELD=VALUE ...):", pos=(-1.15, 0, -0.52), text_scale=TEXT_SCALE,
                    text_fg=(0.75, 0.75, 0.75, 1), text_align=TextNode.A_left, frameColor=(0, 0, 0, 0))
        self.edit_entry = DirectEntry(parent=self.frame, initialText="", pos=(-0.6, 0, -0.52), scale=0.035, width=30,
                                      numLines=1, focus=0, frameColor=(0.9, 0.9, 0.9, 1))
        self.status = DirectLabel(parent=self.frame, text="", pos=(-1.15, 0, -0.6), text_scale=TEXT_SCALE,
                                  text_fg=(1, 0.9, 0.5, 1), text_align=TextNode.A_left, frameColor=(0, 0, 0, 0),
                                  text_wordwrap=70)
        self.buttons: dict = {}
        for i, (name, text, command, colour) in enumerate((
                ("accept", "Accept", self.accept, (0.1, 0.5, 0.2, 1)),
                ("edit", "Edit", self.edit, (0.35, 0.35, 0.6, 1)),
                ("reject", "Reject", self.reject, (0.6, 0.3, 0.1, 1)),
                ("not_a_trip", "Not a trip", self.not_a_trip, (0.45, 0.4, 0.2, 1)),
                ("close", "Close", self.close, (0.3, 0.3, 0.33, 1)))):
            self.buttons[name] = DirectButton(parent=self.frame, text=text, pos=(-0.95 + i * 0.46, 0, -0.69), scale=0.045,
                                              command=command, frameColor=colour, text_fg=(1, 1, 1, 1), pad=(0.3, 0.2),
                                              relief=DGG.FLAT)
        self.frame.hide()

    # -- what it shows ----------------------------------------------------------------------------
    def open(self) -> None:
        """Show the proposal after the selected patient's last session (or why there is none)."""
        from engine.analysis.progression import proposal_for

        self.frame.show()
        self.proposal = None
        store = getattr(self.controller, "store", None)
        code = self.controller.patient_code
        if store is None or code is None:
            self._show("Select a patient first.", "")
            return
        self.proposal = proposal_for(store, code, self.scenes)
        if self.proposal is None:
            self._show(f"No proposal for {code}: no finished session yet.", "")
            return
        rx = store.current_prescription(code)
        lines = [f"{code}: next session, from session {self.proposal.based_on_session} ({self.proposal.direction})"]
        for c in self.proposal.changes:
            lines.append(f"{c.name}: {c.old} {'->' if c.changed else '=='} {c.new}   {c.reason}")
        lines += [f"- {note}" for note in self.proposal.notes]
        lines.append(f"Prescription: speed <= {rx.max_speed_mps:.2f} m/s, guidance {rx.guidance_min:.2f}-"
                     f"{rx.guidance_max:.2f}, body-weight support {rx.bws_min:.2f}-{rx.bws_max:.2f}")
        decided = store.audit_log_setting("progression_", [self.proposal.based_on_session])
        status = ""
        if decided:
            row = decided[-1]
            status = f"Already {row['setting'].removeprefix('progression_')} by {row['who']} at {row['at'][:16]}"
        self._show("\n".join(lines), status)

    def _show(self, text: str, status: str) -> None:
        self.body["text"] = text
        self.status["text"] = status
        self.message = status

    def visible(self) -> dict:
        """What the panel shows (tests read this)."""
        return {"shown": not self.frame.is_hidden(), "text": self.body["text"], "status": self.status["text"]}

    # -- the therapist's choice -------------------------------------------------------------------
    def _decide(self, decision: str, edits: list[str] | None = None) -> None:
        from engine.analysis.progression import apply_edits, record_decision

        store = getattr(self.controller, "store", None)
        if self.proposal is None or store is None:
            self._show(self.body["text"], "Nothing to decide.")
            return
        if store.audit_log_setting("progression_", [self.proposal.based_on_session]):
            self._show(self.body["text"], "This proposal was already decided (see above).")
            return
        rx = store.current_prescription(self.proposal.patient_code)
        plan = self.proposal.plan
        try:
            if edits:
                scenes = self.scenes
                if scenes is None:
                    from engine.scene.loader import load_library

                    scenes = load_library().scenes
                plan = apply_edits(plan, edits, rx, set(scenes))
            version = record_decision(store, self.proposal, decision, self.controller.who, plan)
        except ValueError as exc:
            self._show(self.body["text"], f"Not stored: {exc}")
            return
        if version is not None and self.controller.patient_code == self.proposal.patient_code \
                and self.controller.run_state not in ("running", "paused"):
            self.controller.apply_session_plan(self.proposal.patient_code, rx)  # the next session starts from it
            if self.on_plan_applied is not None:
                self.on_plan_applied()
        done = f"{decision} by {self.controller.who}" + (f": session plan v{version}" if version else "")
        log.info("progression: %s for %s", done, self.proposal.patient_code)
        self._show(self.body["text"], done)

    def accept(self) -> None:
        self._decide("accepted")

    def edit(self) -> None:
        edits = self.edit_entry.get().split()
        if not edits:
            self._show(self.body["text"], "Type FIELD=VALUE pairs to edit, e.g. speed_mps=0.6 guidance_min=0.3")
            return
        self._decide("edited", edits)

    def reject(self) -> None:
        self._decide("rejected")

    def not_a_trip(self) -> None:
        """The therapist saw the last session's stumble warnings and judges them not a trip: an
        audit row (`stumble_review`, who), and the proposal is weighed again without them."""
        from engine.analysis.progression import record_stumble_review

        store = getattr(self.controller, "store", None)
        if self.proposal is None or store is None:
            self._show(self.body["text"], "Nothing to judge.")
            return
        try:
            record_stumble_review(store, self.proposal.based_on_session, self.controller.who)
        except ValueError as exc:
            self._show(self.body["text"], f"Not stored: {exc}")
            return
        session = self.proposal.based_on_session
        self.open()
        self._show(self.body["text"], f"stumble warnings of session {session} judged not a trip by "
                                      f"{self.controller.who}; the proposal is weighed again")

    def close(self) -> None:
        self.frame.hide()

    def destroy(self) -> None:
        self.frame.destroy()
