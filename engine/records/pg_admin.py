"""Clinic server administration: schema migrations, database roles, rigs, accounts.

Run by `main.py clinic ...` as a PostgreSQL role that may create roles (the `postgres`
superuser on the server, or the clinic's DBA role). Every function is idempotent: running
`clinic init` twice changes nothing the second time.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from engine.records import accounts, pg_schema
from engine.records.store import SCHEMA_VERSION

log = logging.getLogger(__name__)


class ClinicError(RuntimeError):
    """A clinic administration step failed; str() says what to do."""


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A psycopg connection with a one-line error when the server cannot be reached."""
    try:
        return psycopg.connect(url, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClinicError(f"cannot connect to the clinic server: {first}") from exc


def server_schema_version(conn: psycopg.Connection) -> int:
    """The server's schema version (0 for an empty database)."""
    exists = conn.execute("SELECT to_regclass('public.schema_info') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    row = conn.execute("SELECT value FROM schema_info WHERE key = 'schema'").fetchone()
    return int(row[0]) if row else 0


def init_clinic(url: str, admin: str | None = None, admin_password: str | None = None) -> dict:
    """Create or migrate the schema, the group roles, grants and policies, and the first admin
    account. Returns what changed: {"from": v, "to": v, "roles_created": [...], "admin": ...}."""
    if SCHEMA_VERSION != pg_schema.SERVER_SCHEMA_VERSION:
        raise ClinicError(
            f"this program's rig schema is {SCHEMA_VERSION} but its server schema is "
            f"{pg_schema.SERVER_SCHEMA_VERSION}: the two must be released together"
        )
    changes: dict = {"roles_created": [], "admin": None}
    with connect(url, autocommit=True) as conn:
        for role in pg_schema.GROUP_ROLES:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
                changes["roles_created"].append(role)
        db = conn.info.dbname
        conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(sql.Identifier(pg_schema.ROLE_OWNER)))
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
            sql.Identifier(db), sql.Identifier(pg_schema.ROLE_RIG), sql.Identifier(pg_schema.ROLE_CLIENT)))
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('stepsync:migrate'))")
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(pg_schema.ROLE_OWNER)))
        version = server_schema_version(conn)
        changes["from"] = version
        if version > pg_schema.SERVER_SCHEMA_VERSION:
            raise ClinicError(f"the clinic server's schema {version} is newer than this program's "
                              f"{pg_schema.SERVER_SCHEMA_VERSION}: update StepSync here first")
        while version < pg_schema.SERVER_SCHEMA_VERSION:
            log.info("clinic schema %d -> %d", version, version + 1)
            conn.execute(pg_schema.SERVER_MIGRATIONS[version])
            version += 1
            conn.execute("INSERT INTO schema_info (key, value) VALUES ('schema', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (str(version),))
        changes["to"] = version
        conn.execute(pg_schema.LOGIN_FUNCTIONS)
        conn.execute(pg_schema.CLINIC_FUNCTIONS)
        conn.execute(pg_schema.grants_sql())
        conn.commit()
        if admin is not None:
            accounts.check_username(admin)
            exists = conn.execute("SELECT 1 FROM accounts WHERE username = %s", (admin,)).fetchone()
            if exists is None:
                if not admin_password:
                    raise ClinicError(f"a password is needed for the new admin {admin!r} "
                                      "(STEPSYNC_ADMIN_PASSWORD or the terminal)")
                conn.execute("INSERT INTO accounts (username, role, pw_hash) VALUES (%s, 'admin', %s)",
                             (admin, accounts.hash_password(admin_password)))
                changes["admin"] = admin
            conn.commit()
    return changes


def admin_exists(url: str, admin: str) -> bool:
    """Whether the account already exists (so init need not ask for its password)."""
    with connect(url) as conn:
        if server_schema_version(conn) == 0:
            return False
        return conn.execute("SELECT 1 FROM accounts WHERE username = %s", (admin,)).fetchone() is not None


def add_login(url: str, name: str, kind: str, password: str) -> str:
    """Create (or re-password) a database login role for a rig or a staff computer; returns the
    role name. A rig registers its own rig id (kept in its SQLite file) on its first sync."""
    if kind not in ("rig", "desk"):
        raise ClinicError(f"login kind must be rig or desk, not {kind!r}")
    accounts.check_username(name)
    role = f"stepsync_{kind}_{name}".replace("-", "_").replace(".", "_")
    group = pg_schema.ROLE_RIG if kind == "rig" else pg_schema.ROLE_CLIENT
    with connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(role), sql.Literal(password), sql.Identifier(group)))
        else:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    return role


def add_account(url: str, username: str, role: str, password: str, expires_at: str | None = None) -> None:
    """Create an account (therapist, admin, researcher) or reset its password, unlock it."""
    accounts.check_username(username)
    if role not in accounts.ROLES:
        raise ClinicError(f"role must be one of {', '.join(accounts.ROLES)}, not {role!r}")
    with connect(url) as conn:
        conn.execute(
            """INSERT INTO accounts (username, role, pw_hash, expires_at) VALUES (%s, %s, %s, %s)
               ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, pw_hash = EXCLUDED.pw_hash,
                   expires_at = EXCLUDED.expires_at, locked = false, failed_logins = 0""",
            (username, role, accounts.hash_password(password), expires_at),
        )


def set_locked(url: str, username: str, locked: bool) -> None:
    """Lock or unlock an account (unlocking also clears the failure count)."""
    with connect(url) as conn:
        cur = conn.execute("UPDATE accounts SET locked = %s, failed_logins = 0 WHERE username = %s",
                           (locked, username))
        if cur.rowcount != 1:
            raise ClinicError(f"no account {username!r}")


def assign(url: str, patient_code: str, username: str) -> None:
    """Put a therapist on a patient's care team (a therapist sees only those patients)."""
    with connect(url) as conn:
        try:
            conn.execute("INSERT INTO care_team (patient_code, username) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (patient_code, username))
        except psycopg.errors.ForeignKeyViolation as exc:
            raise ClinicError(f"unknown patient {patient_code!r} or account {username!r}") from exc
