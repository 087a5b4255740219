"""The therapist's login screen (DirectGUI), shown over the menu when the rig works with a clinic
server (`main.py run --sync-to postgresql://...`; docs/clinic.md, "Therapists at a rig").

User name and password (the password box shows only asterisks); Enter in the name box moves to
the password, Enter there or the Log in button checks them. The check runs in a thread
(`check(user, password) -> login`, engine/records/rig_accounts.py: scrypt and a round trip
to the server take longer than a frame); while it runs the button is disabled and the screen
says so. A refusal (wrong password, locked, expired, researcher account, server unreachable
and the account unknown here) is shown as the one line the check raised, the password box is
cleared, nothing else happens. On success `on_login(login)` is called once and the screen goes.

The screen covers the menu (it is the menu's last child, drawn in the gui-popup bin), so no menu
widget takes a click through it; the STOP button, the alarm banner and the quit dialog stay above
it. Quit (and Escape, the menu's key) asks to close StepSync.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

FONT_SCALE = 0.05


class LoginScreen:
    """The login form over the menu; `visible()` says what it shows (tests read it)."""

    def __init__(self, base, parent, check, on_login, clinic: str = "", on_quit=None) -> None:
        from direct.gui.DirectGui import DGG, DirectButton, DirectEntry, DirectFrame, DirectLabel
        from panda3d.core import TextNode

        self.base = base
        self.check = check
        self.on_login = on_login
        self.on_quit = on_quit
        self.changed = True  # something on screen changed since the desktop last drew
        self.message = ""
        self.login = None  # the successful login, once
        self._worker: threading.Thread | None = None
        self._result: tuple[str, object] | None = None
        self.frame = DirectFrame(parent=parent, frameColor=(0.1, 0.11, 0.14, 1), frameSize=(-1.78, 1.78, -1, 1),
                                 state=DGG.NORMAL)  # NORMAL: the frame takes clicks meant for the menu under it
        self.frame.set_bin("gui-popup", 80)

        def label(text, pos, scale=FONT_SCALE, fg=(1, 1, 1, 1), wrap=None):
            widget = DirectLabel(parent=self.frame, text=text, pos=pos, text_scale=scale, text_fg=fg,
                                 text_align=TextNode.A_left, frameColor=(0, 0, 0, 0))
            if wrap:
                widget["text_wordwrap"] = wrap
            return widget

        label("StepSync: therapist login", (-0.7, 0, 0.55), 0.08, (0.6, 0.85, 1, 1))
        self.clinic_label = label(f"clinic server: {clinic}" if clinic else "", (-0.7, 0, 0.43), 0.042,
                                  (0.75, 0.75, 0.75, 1), wrap=34)
        label("User name", (-0.7, 0, 0.3), 0.045)
        self.user = DirectEntry(parent=self.frame, initialText="", pos=(-0.2, 0, 0.3), scale=0.05, width=14,
                                numLines=1, focus=1, command=self._user_entered, frameColor=(0.9, 0.9, 0.9, 1))
        label("Password", (-0.7, 0, 0.17), 0.045)
        self.password = DirectEntry(parent=self.frame, initialText="", pos=(-0.2, 0, 0.17), scale=0.05, width=14,
                                    numLines=1, focus=0, obscured=1, command=self._password_entered,
                                    frameColor=(0.9, 0.9, 0.9, 1))
        self.button = DirectButton(parent=self.frame, text="Log in", pos=(-0.05, 0, 0.0), scale=0.06,
                                   command=self.submit, frameColor=(0.1, 0.5, 0.2, 1), text_fg=(1, 1, 1, 1),
                                   pad=(0.4, 0.25), relief=DGG.FLAT)
        self.quit_button = DirectButton(parent=self.frame, text="Quit", pos=(0.45, 0, 0.0), scale=0.05,
                                        command=self._quit, frameColor=(0.3, 0.3, 0.33, 1), text_fg=(1, 1, 1, 1),
                                        pad=(0.3, 0.2), relief=DGG.FLAT)
        self.message_label = label("", (-0.7, 0, -0.17), 0.05, (1, 0.75, 0.45, 1), wrap=30)
        self._say("log in with your StepSync account to open the therapist menu")
        base.task_mgr.add(self._poll, "stepsync-login-poll")

    # -- input ------------------------------------------------------------------------------
    def _user_entered(self, _text: str) -> None:
        self.user["focus"] = 0
        self.password["focus"] = 1
        self.changed = True

    def _password_entered(self, _text: str) -> None:
        self.submit()

    def _quit(self) -> None:
        if self.on_quit is not None:
            self.on_quit()

    def submit(self) -> None:
        """Check the name and password (in a thread); the answer shows on the next frames."""
        if self._worker is not None or self.login is not None:
            return  # one check at a time
        user, password = self.user.get().strip(), self.password.get()
        if not user or not password:
            self._say("type your user name and password")
            return
        from direct.gui import DirectGuiGlobals as DGG

        self.button["state"] = DGG.DISABLED
        self._say(f"checking {user} ...")
        self._result = None

        def run() -> None:
            try:
                self._result = ("ok", self.check(user, password))
            except Exception as exc:  # noqa: BLE001 - every failure is a line on the screen, never a traceback
                from engine.records.accounts import LoginRefused

                if not isinstance(exc, LoginRefused):
                    log.exception("login check")
                text = str(exc) if isinstance(exc, LoginRefused) else f"login failed: {type(exc).__name__}: {exc}"
                self._result = ("refused", text)

        self._worker = threading.Thread(target=run, name="stepsync-login", daemon=True)
        self._worker.start()

    def _poll(self, task):
        if self._worker is None or self._worker.is_alive():
            return task.cont
        self._worker = None
        kind, value = self._result or ("refused", "login failed")
        from direct.gui import DirectGuiGlobals as DGG

        self.button["state"] = DGG.NORMAL
        if kind == "ok":
            self.login = value
            self._say(f"logged in: {value.username}")
            self.on_login(value)
            return task.done
        self.password.enterText("")
        self.user["focus"] = 0
        self.password["focus"] = 1
        self._say(str(value))
        return task.cont

    # -- output -----------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.message = text
        self.message_label["text"] = text
        self.changed = True
        log.info("login: %s", text)

    def checking(self) -> bool:
        return self._worker is not None

    def shown(self) -> bool:
        return not self.frame.is_empty() and not self.frame.is_hidden()

    def visible(self) -> dict:
        """What the login screen shows (the password only as its mask)."""
        return {
            "login_shown": self.shown(),
            "login_message": self.message_label["text"],
            "login_user": self.user.get(),
            "login_password_chars": len(self.password.get()),
            "login_password_obscured": bool(self.password.guiItem.get_obscure_mode()),  # drawn as asterisks
        }

    def destroy(self) -> None:
        self.base.task_mgr.remove("stepsync-login-poll")
        self.frame.destroy()
        self.changed = True
