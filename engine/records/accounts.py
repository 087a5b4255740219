"""StepSync accounts: scrypt password hashes and the login on a clinic server connection.

A password is stored only as `scrypt$n$r$p$salt_hex$sha256(key)_hex`: the client derives the
scrypt key from the password and the account's salt (hashlib.scrypt, n=2**14, r=8, p=1: about
16 MiB and tens of milliseconds per try, OWASP's minimum for scrypt), the server compares the
SHA-256 of that key with the stored one, counts failures and locks the account after
pg_schema.MAX_FAILED_LOGINS. The stored value is not the key, so a stolen row does not log in.

`authenticate(conn, user, password)` returns an Account and binds the connection to it (the
server's row-level security then shows what that account may see), or raises LoginRefused
with a sentence the therapist can act on (wrong password, locked, expired).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
ROLES = ("therapist", "admin", "researcher")
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")


class LoginRefused(Exception):
    """Login refused: `status` is bad, locked or expired; str() is the message for the user."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class Account:
    """A logged-in StepSync account."""

    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def derive_key(password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> bytes:
    """The scrypt key of a password (64 bytes)."""
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=64)


def hash_password(password: str) -> str:
    """The stored form of a new password: scrypt$n$r$p$salt$sha256(key), all hex."""
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    salt = secrets.token_bytes(16)
    key = derive_key(password, salt)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${hashlib.sha256(key).hexdigest()}"


def key_for(params: str, password: str) -> bytes:
    """Derive the key for `scrypt$n$r$p$salt_hex` parameters sent by the server."""
    kind, n, r, p, salt_hex = params.split("$")[:5]
    if kind != "scrypt":
        raise ValueError(f"unsupported password hash {kind!r}")
    return derive_key(password, bytes.fromhex(salt_hex), int(n), int(r), int(p))


def check_username(username: str) -> str:
    """The username, or ValueError saying what is allowed."""
    if not USERNAME_RE.match(username or ""):
        raise ValueError(f"user name {username!r}: 2-63 characters, lower-case letters, digits, '_', '.', '-', "
                         "starting with a letter")
    return username


def authenticate(conn, user: str, password: str) -> Account:
    """Log `user` in on a psycopg connection to the clinic server; the connection then acts as
    that account. Raises LoginRefused (wrong password, locked, expired)."""
    params = conn.execute("SELECT stepsync_login_params(%s)", (user,)).fetchone()[0]
    key = key_for(params, password)
    status, token, role, detail = conn.execute(
        "SELECT status, token, role, detail FROM stepsync_login(%s, %s)", (user, key)
    ).fetchone()
    if not conn.autocommit:
        conn.commit()  # the failure count and the audit row stay even if the caller rolls back
    if status != "ok":
        raise LoginRefused(status, f"login refused: {detail}")
    conn.execute("SELECT set_config('stepsync.token', %s, false)", (token,))
    if not conn.autocommit:
        conn.commit()
    return Account(username=user, role=role)
