"""Therapist login at a rig (the menu's login screen), against the clinic server, with an
offline fallback so that a rig whose network is down still opens for a therapist it knows.

Online (the clinic server answers): `accounts.authenticate` over the rig's own database login
(the `--sync-to` URL; the rig role may call the login functions), then the account's patient
list (`stepsync_my_patients()`: a therapist's care team, every patient for an admin; audited on
the server), then logout. A researcher account cannot open the therapist menu. What the rig
learnt is cached in its records file (`sync_state`, key `account:NAME`): the scrypt parameters,
SHA-256 of the scrypt key (the same verifier the server keeps, never the password), the role,
the patient list and when the server last confirmed all this.

Offline (the server cannot be reached): the cached verifier decides, for OFFLINE_LOGIN_DAYS
after the server last confirmed the account; MAX_FAILED_LOGINS wrong passwords lock the account
on this rig until the server is reachable again. A server answer "locked" or "expired" removes
the cache, so such an account cannot log in offline afterwards either.

A patient created in the menu is added to the login's list at once and kept in the cache; the
server puts its creator on the patient's care team when the first prescription arrives
(`stepsync_creator_care_team`), so the patient is on the therapist's list at every rig.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import json
import logging
from pathlib import Path

import psycopg

from engine.records import accounts, pg_admin
from engine.records.accounts import Account, LoginRefused
from engine.records.pg_schema import MAX_FAILED_LOGINS

log = logging.getLogger(__name__)

OFFLINE_LOGIN_DAYS = 7  # a rig without network opens for a known therapist this long


@dataclasses.dataclass
class MenuLogin:
    """A therapist or admin logged in at the menu."""

    account: Account
    patients: set[str] | None  # the codes they may see; None: every patient (admin)
    source: str  # "clinic server" or "offline: ..." (shown on the menu)
    db_path: Path | None = None

    @property
    def username(self) -> str:
        return self.account.username

    def may_see(self, code: str) -> bool:
        return self.patients is None or code in self.patients

    def created(self, code: str) -> None:
        """A patient created in the menu during this login: on the list now and in the cache."""
        if self.patients is None or code in self.patients:
            return
        self.patients.add(code)
        if self.db_path is not None:
            cached = _load(self.db_path, self.username)
            if cached is not None:
                cached["created"] = sorted(set(cached.get("created", [])) | {code})
                _save(self.db_path, self.username, cached)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _cache_key(username: str) -> str:
    return f"account:{username}"


def _load(db_path: Path, username: str) -> dict | None:
    from engine.records.sync import RigFile

    rig = RigFile(db_path)
    try:
        text = rig.get(_cache_key(username))
    finally:
        rig.close()
    return json.loads(text) if text else None


def _save(db_path: Path, username: str, value: dict | None) -> None:
    from engine.records.sync import RigFile

    rig = RigFile(db_path)
    try:
        if value is None:
            rig.conn.execute("DELETE FROM sync_state WHERE key = ?", (_cache_key(username),))
        else:
            rig.put(_cache_key(username), json.dumps(value, sort_keys=True))
    finally:
        rig.close()


def _refuse_role(account: Account) -> None:
    if account.role not in ("therapist", "admin"):
        raise LoginRefused("role", f"login refused: {account.username} is a {account.role} account; the therapist "
                                   f"menu is for therapist and admin accounts")


def login_for_menu(db_path: str | Path, url: str, username: str, password: str,
                   now: datetime.datetime | None = None) -> MenuLogin:
    """Log a therapist in at this rig; LoginRefused with one line to show otherwise."""
    db_path = Path(db_path)
    username = username.strip().lower()  # account names are lower-case (accounts.USERNAME_RE)
    if not username or not password:
        raise LoginRefused("bad", "login refused: type your user name and password")
    try:
        conn = pg_admin.connect(url, autocommit=True)
    except pg_admin.ClinicError as exc:
        return _offline_login(db_path, username, password, str(exc), now)
    try:
        try:
            account = accounts.authenticate(conn, username, password)
        except LoginRefused as exc:
            if exc.status in ("locked", "expired"):
                _save(db_path, username, None)  # no offline login for it either
            raise
        _refuse_role(account)
        codes = [row[0] for row in conn.execute("SELECT * FROM stepsync_my_patients()").fetchall()]
        params = conn.execute("SELECT stepsync_login_params(%s)", (username,)).fetchone()[0]
        conn.execute("SELECT stepsync_logout()")
    except psycopg.OperationalError as exc:
        return _offline_login(db_path, username, password, str(exc).strip().splitlines()[0], now)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoginRefused("server", f"login refused by the clinic server: {first} (is it set up with "
                                     f"this StepSync's `main.py clinic init`?)") from exc
    finally:
        try:
            conn.close()
        except Exception:  # a broken connection may fail to close; nothing to keep
            pass
    key = accounts.key_for(params, password)
    cached = _load(db_path, username) or {}
    created = [c for c in cached.get("created", []) if c not in codes]
    _save(db_path, username, {
        "params": params, "verifier": hashlib.sha256(key).hexdigest(), "role": account.role,
        "patients": codes, "created": created, "verified_at": (now or _now()).isoformat(), "failed": 0,
    })
    patients = None if account.is_admin else set(codes) | set(created)
    return MenuLogin(account, patients, "clinic server", db_path)


def _offline_login(db_path: Path, username: str, password: str, why: str,
                   now: datetime.datetime | None) -> MenuLogin:
    now = now or _now()
    cached = _load(db_path, username)
    if cached is None:
        raise LoginRefused("offline", f"login refused: the clinic server cannot be reached ({why}) and {username} "
                                      f"has not logged in on this rig before; try again when the network is back")
    verified_at = datetime.datetime.fromisoformat(cached["verified_at"])
    age_days = (now - verified_at).total_seconds() / 86400.0
    if age_days > OFFLINE_LOGIN_DAYS:
        raise LoginRefused("offline", f"login refused: the clinic server cannot be reached ({why}) and last "
                                      f"confirmed {username} {age_days:.0f} days ago (offline logins are allowed "
                                      f"for {OFFLINE_LOGIN_DAYS} days)")
    if int(cached.get("failed", 0)) >= MAX_FAILED_LOGINS:
        raise LoginRefused("locked", f"login refused: account {username} is locked on this rig after "
                                     f"{MAX_FAILED_LOGINS} failed offline logins, until the clinic server can be "
                                     f"reached")
    key = accounts.key_for(cached["params"], password)
    if not hmac.compare_digest(hashlib.sha256(key).hexdigest(), cached["verifier"]):
        cached["failed"] = int(cached.get("failed", 0)) + 1
        _save(db_path, username, cached)
        raise LoginRefused("bad", "login refused: unknown user or wrong password")
    cached["failed"] = 0
    _save(db_path, username, cached)
    account = Account(username=username, role=cached["role"])
    _refuse_role(account)
    patients = None if account.is_admin else set(cached.get("patients", [])) | set(cached.get("created", []))
    since = verified_at.strftime("%Y-%m-%d %H:%M UTC")
    return MenuLogin(account, patients, f"offline: the clinic server cannot be reached; account last confirmed "
                                        f"{since}", db_path)


def audit_login(store, username: str, login: MenuLogin | None = None, refused: LoginRefused | None = None,
                logout: bool = False) -> None:
    """A menu login, refusal or logout in the rig's audit log (session-less rows, synced to the
    server with the rest), so offline logins are audited too. A refused name that is not a valid
    user name (a password typed into the name box) is not written down."""
    try:
        who = login.username if login is not None else accounts.check_username(username.strip().lower())
    except ValueError:
        who = "(not a user name)"
    if logout:
        store.log_setting(None, who, "menu logout", None, None, None)
    elif login is not None:
        store.log_setting(None, who, "menu login", None, login.source, login.account.role)
    else:
        store.log_setting(None, who, "menu login refused", None, refused.status if refused else "?", None)


class CareTeamStore:
    """The records file as a logged-in therapist's menu sees it: only their patients exist,
    and what they write carries their name. Everything else is the Store underneath."""

    def __init__(self, store, login: MenuLogin) -> None:
        self._store = store
        self.login = login

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get_patient(self, code: str) -> dict | None:
        return self._store.get_patient(code) if self.login.may_see(code) else None

    def list_patients(self) -> list[dict]:
        return [p for p in self._store.list_patients() if self.login.may_see(p["code"])]

    def _check_write(self, code: str) -> None:
        if not self.login.may_see(code) and self._store.get_patient(code) is not None:
            raise PermissionError(f"patient {code} is not on {self.login.username}'s care team: nothing saved "
                                  f"(the clinic admin assigns patients: main.py clinic assign)")

    def ensure_patient(self, code: str, *args, **kwargs) -> None:
        self._check_write(code)
        self._store.ensure_patient(code, *args, **kwargs)
        self.login.created(code)

    def add_prescription(self, code: str, rx, who: str | None = None) -> int:
        self._check_write(code)
        return self._store.add_prescription(code, rx, who=who or self.login.username)
