"""`main.py clinic`: set up and administer the clinic server (docs/clinic.md).

    clinic init --db URL [--admin NAME]          schema, roles, policies, first admin (idempotent)
    clinic add-login --db URL NAME --kind rig|desk   a database login for a rig or a staff computer
    clinic add-user --db URL NAME --role ROLE [--expires YYYY-MM-DD]
    clinic lock|unlock --db URL NAME
    clinic assign --db URL --patient CODE --therapist NAME
    clinic login --db URL --user NAME            check a login (wrong password, locked, expired)
    clinic research-export --db URL --user NAME --out CSV   pseudonymised sessions

Passwords come from STEPSYNC_ADMIN_PASSWORD (init), STEPSYNC_PASSWORD (add-user, add-login,
login) or the terminal; never from the command line, where other users could see them.
"""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of clinic."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    init = sub.add_parser("init", help="create or migrate the schema, roles and the first admin")
    init.add_argument("--admin", metavar="NAME", help="first admin account (password: STEPSYNC_ADMIN_PASSWORD or asked)")
    login_role = sub.add_parser("add-login", help="a database login role for a rig or a staff computer")
    login_role.add_argument("name")
    login_role.add_argument("--kind", choices=("rig", "desk"), required=True)
    user = sub.add_parser("add-user", help="create an account or reset its password")
    user.add_argument("name")
    user.add_argument("--role", choices=("therapist", "admin", "researcher"), required=True)
    user.add_argument("--expires", metavar="YYYY-MM-DD", help="the account stops working on this day")
    for name in ("lock", "unlock"):
        p = sub.add_parser(name, help=f"{name} an account")
        p.add_argument("name")
    assign = sub.add_parser("assign", help="put a therapist on a patient's care team")
    assign.add_argument("--patient", required=True)
    assign.add_argument("--therapist", required=True)
    login = sub.add_parser("login", help="check an account's login on the server")
    login.add_argument("--user", required=True)
    research = sub.add_parser("research-export", help="pseudonymised sessions as CSV (researcher or admin)")
    research.add_argument("--user", required=True)
    research.add_argument("--out", required=True, metavar="CSV")
    for p in (init, login_role, user, assign, login, research, *[sub.choices[n] for n in ("lock", "unlock")]):
        p.add_argument("--db", required=True, metavar="URL", help="clinic server, postgresql://...")


def _password(env: str, prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise SystemExit(f"clinic: set {env} or run on a terminal to type the password")
    import getpass

    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != value:
        raise SystemExit("clinic: the two passwords differ")
    return value


def main(args: argparse.Namespace) -> int:
    """Run one clinic action; exit 1 with one line on failure."""
    import psycopg

    from engine.records import accounts, pg_admin

    try:
        if args.action == "init":
            password = None
            if args.admin and not pg_admin.admin_exists(args.db, args.admin):
                password = _password("STEPSYNC_ADMIN_PASSWORD", f"password for the new admin {args.admin}: ", True)
            changes = pg_admin.init_clinic(args.db, args.admin, password)
            if changes["from"] == changes["to"] and not changes["roles_created"] and not changes["admin"]:
                print(f"clinic: schema {changes['to']} already current, roles and grants checked; nothing changed")
            else:
                print(f"clinic: schema {changes['from']} -> {changes['to']}; roles created: "
                      f"{', '.join(changes['roles_created']) or 'none'}; admin created: {changes['admin'] or 'none'}")
        elif args.action == "add-login":
            role = pg_admin.add_login(args.db, args.name, args.kind,
                                      _password("STEPSYNC_PASSWORD", f"password for login {args.name}: ", True))
            print(f"clinic: login role {role} ready ({args.kind}); use postgresql://{role}:PASSWORD@HOST/DB?sslmode=require")
        elif args.action == "add-user":
            pg_admin.add_account(args.db, args.name, args.role,
                                 _password("STEPSYNC_PASSWORD", f"password for {args.name}: ", True), args.expires)
            print(f"clinic: account {args.name} ({args.role}) ready")
        elif args.action in ("lock", "unlock"):
            pg_admin.set_locked(args.db, args.name, args.action == "lock")
            print(f"clinic: account {args.name} {args.action}ed")
        elif args.action == "assign":
            pg_admin.assign(args.db, args.patient, args.therapist)
            print(f"clinic: {args.therapist} now sees patient {args.patient}")
        elif args.action == "login":
            with pg_admin.connect(args.db, autocommit=True) as conn:
                account = accounts.authenticate(conn, args.user, _password("STEPSYNC_PASSWORD", f"password for {args.user}: "))
            print(f"clinic: {account.username} logged in as {account.role}")
        elif args.action == "research-export":
            import csv

            from engine.records.pg_store import PgStore

            with PgStore(args.db, args.user, _password("STEPSYNC_PASSWORD", f"password for {args.user}: ")) as repo:
                rows = repo.research_sessions()
            with open(args.out, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["pseudonym"])
                writer.writeheader()
                writer.writerows(rows)
            print(f"clinic: {len(rows)} pseudonymised sessions written to {args.out}")
    except accounts.LoginRefused as exc:
        print(f"clinic: {exc}")
        return 1
    except (pg_admin.ClinicError, ValueError) as exc:
        print(f"clinic: {exc}")
        return 1
    except psycopg.Error as exc:
        print(f"clinic: the server refused: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
        return 1
    return 0
