"""A throwaway PostgreSQL server in a temporary folder: for the tests, the sync benchmark and a
clinic evaluation on one machine.

Debian's `initdb` and `pg_ctl` (package `postgresql`, found under /usr/lib/postgresql/*/bin)
create a cluster in a temporary folder; the server listens on a unix socket in that folder and,
with TLS, on 127.0.0.1 (a free port, self-signed certificate made with `openssl`). PostgreSQL
refuses to run as root, so as root every server command runs as an unprivileged system user
(`postgres` when the package created it, else `stepsync-pg`, created once) through `runuser`.

The superuser `postgres` connects over the socket without a password (the folder is private
to the server's user and root); every other role needs its password (scram-sha-256), over the
socket or TCP, which is what the role tests rely on.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

SERVICE_USER_FALLBACK = "stepsync-pg"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the server would not start."""


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/N/bin holding initdb and pg_ctl (or PG_BIN)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0)
    for path in reversed(candidates):
        if (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run "
        "`sudo bash tools/bootstrap.sh` (installs Debian's postgresql) or set PG_BIN"
    )


def _service_user() -> str | None:
    """The unprivileged user the server runs as when we are root (None when not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SERVICE_USER_FALLBACK):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    SERVICE_USER_FALLBACK], check=True, capture_output=True)
    return SERVICE_USER_FALLBACK


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """One PostgreSQL cluster in a temporary folder; `start()`, `kill9()`, `stop()`, `cleanup()`."""

    def __init__(self, base_dir: str | Path | None = None, tls: bool = True) -> None:
        self.bin_dir = find_bin_dir()
        self.user = _service_user()
        self.base = Path(tempfile.mkdtemp(prefix="stepsync-pg-", dir=base_dir))
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.log_path = self.base / "server.log"
        self.port = _free_port()
        self.tls = tls
        self.database = "stepsync"
        if self.user is not None:
            info = pwd.getpwnam(self.user)
            self.socket_dir.mkdir()
            for path in (self.base, self.socket_dir):
                os.chown(path, info.pw_uid, info.pw_gid)
        else:
            self.socket_dir.mkdir()
        os.chmod(self.base, 0o711)  # others may reach the socket, not list the folder
        os.chmod(self.socket_dir, 0o777)  # clients of any user reach the socket (roles need passwords)
        self._initdb()

    # -- commands -------------------------------------------------------------------------------
    def _cmd(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, **kwargs)

    def _initdb(self) -> None:
        result = self._cmd([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8",
                            "--locale=C.UTF-8", "--no-sync"])
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {result.stderr.strip()}")
        # The superuser may use the socket without a password; every other role needs one.
        (self.data_dir / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        conf = [
            f"unix_socket_directories = '{self.socket_dir}'",
            f"port = {self.port}",
            f"listen_addresses = '{'127.0.0.1' if self.tls else ''}'",
            "fsync = on",  # the kill -9 tests rely on real durability
            "synchronous_commit = on",
            "shared_buffers = 32MB",
            "max_connections = 60",
            "log_min_messages = warning",
        ]
        if self.tls:
            self._make_certificate()
            conf += ["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"]
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("\n".join(conf) + "\n")

    def _make_certificate(self) -> None:
        """A self-signed certificate for CN=localhost, owned by the server's user."""
        crt, key = self.data_dir / "server.crt", self.data_dir / "server.key"
        result = self._cmd(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(crt)])
        if result.returncode != 0:
            raise PostgresUnavailable(f"openssl could not make a certificate: {result.stderr.strip()}")
        os.chmod(key, 0o600)
        self.ca_file = self.base / "root.crt"
        shutil.copy(crt, self.ca_file)
        os.chmod(self.ca_file, 0o644)

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server and wait until it accepts connections; create the database once."""
        result = self._cmd([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                            "-w", "-t", str(int(timeout_s)), "start"])
        if result.returncode != 0:
            log_text = self.log_path.read_text() if self.log_path.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr.strip()} {log_text[-2000:]}")
        self._ensure_database()

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url(dbname="postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def stop(self) -> None:
        """Stop the server (fast shutdown); no error when it is not running."""
        self._cmd([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def postmaster_pid(self) -> int | None:
        """The server's main process id, or None when it is not running."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill9(self, timeout_s: float = 30.0) -> None:
        """SIGKILL the postmaster and every backend (a power cut for the server's processes)."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for p in [pid, *map(int, children)]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            alive = False
            for p in [pid, *map(int, children)]:
                try:
                    os.kill(p, 0)
                    alive = True
                except ProcessLookupError:
                    pass
            if not alive:
                return
            time.sleep(0.02)
        raise RuntimeError("postgres processes survived SIGKILL")

    def cleanup(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- addresses ------------------------------------------------------------------------------
    def url(self, user: str = "postgres", password: str | None = None, dbname: str | None = None,
            tls: bool = False) -> str:
        """A postgresql:// URL: the unix socket, or with tls=True 127.0.0.1 with sslmode=verify-ca."""
        from urllib.parse import quote

        auth = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
        db = dbname or self.database
        if tls:
            return (f"postgresql://{auth}@127.0.0.1:{self.port}/{db}"
                    f"?sslmode=verify-ca&sslrootcert={quote(str(self.ca_file), safe='')}")
        return f"postgresql://{auth}@/{db}?host={quote(str(self.socket_dir), safe='')}&port={self.port}"
