"""A private, throw-away PostgreSQL cluster for tests and benchmarks.

`PostgresCluster()` runs `initdb` and `postgres` from Debian's PostgreSQL package (or whatever
`PG_BINDIR` names) in a fresh temporary folder: the data directory and the unix-socket directory
both live there, nothing listens on the network unless `tcp=True` asks for a loopback port. Both
programs refuse to run as root, so when this process is root they run as the `postgres` system
user the package creates (through `runuser`); otherwise as the current user. `fsync` stays on:
the durability tests and the fleet benchmark measure the real thing, not a RAM disk.

    cluster = PostgresCluster()
    cluster.create_database("cases")
    engine = sqlalchemy.create_engine(cluster.url("cases"))   # postgresql+psycopg://...
    ...
    cluster.stop()          # also done at interpreter exit; removes the folder

No pytest import here: benchmarks use it too. The session fixture is `postgres_cluster` in
tests/conftest.py.
"""
from __future__ import annotations

import atexit
import glob
import hashlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

SYSTEM_USER = "postgres"     # the account Debian's package creates; used only when we are root
SUPERUSER = "postgres"       # the cluster's own superuser role, whoever runs it
START_TIMEOUT_S = 60.0


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed (./dev setup installs them)."""


def find_bindir() -> Path:
    """The directory holding initdb and postgres: $PG_BINDIR, else the newest Debian one."""
    named = os.environ.get("PG_BINDIR")
    candidates = [named] if named else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    on_path = shutil.which("initdb")
    if not named and on_path:
        candidates.append(str(Path(on_path).parent))
    for c in candidates:
        if (Path(c) / "initdb").exists() and (Path(c) / "postgres").exists():
            return Path(c)
    raise PostgresUnavailable("initdb/postgres not found: install postgresql (./dev setup) "
                              "or set PG_BINDIR")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quote_ident(name: str) -> str:
    if not name or '"' in name or "\x00" in name:
        raise ValueError(f"unusable database name: {name!r}")
    return f'"{name}"'


class PostgresCluster:
    """One running postgres server in a temporary folder; see the module docstring."""

    def __init__(self, *, tcp: bool = False, max_connections: int = 300,
                 base_dir: str | os.PathLike | None = None, settings: dict | None = None):
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="pgtest-", dir=base_dir))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_path = self.root / "postgres.log"
        self.tcp = tcp
        self.port = _free_port() if tcp else 5432   # with a socket only, the port names the file
        self.password = secrets.token_hex(16)
        self._as_other = os.geteuid() == 0
        self._proc: subprocess.Popen | None = None
        self._stopped = False
        self._databases: set[str] = set()
        atexit.register(self.stop)
        try:
            self._prepare_folder()
            self._initdb(max_connections, settings or {})
            self._start()
        except BaseException:
            self.stop()
            raise

    # ---- life cycle -------------------------------------------------------------------------
    def _run_as(self) -> list[str]:
        return ["runuser", "-u", SYSTEM_USER, "--"] if self._as_other else []

    def _prepare_folder(self) -> None:
        self.socket_dir.mkdir()
        os.chmod(self.root, 0o700)
        if self._as_other:
            for p in (self.root, self.socket_dir):
                shutil.chown(p, SYSTEM_USER, SYSTEM_USER)

    def _initdb(self, max_connections: int, settings: dict) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as_other:
            shutil.chown(pwfile, SYSTEM_USER, SYSTEM_USER)
        os.chmod(pwfile, 0o600)
        cmd = self._run_as() + [
            str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
            "-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}"]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr[-2000:]}")
        conf = {
            "listen_addresses": "'127.0.0.1'" if self.tcp else "''",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": str(max_connections),
            "fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
            "timezone": "'UTC'", "log_timezone": "'UTC'",
            **{k: str(v) for k, v in settings.items()},
        }
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("\n# tests/kit/postgres.py\n")
            f.writelines(f"{k} = {v}\n" for k, v in conf.items())

    def _start(self) -> None:
        logf = open(self.log_path, "ab")
        if self._as_other:
            shutil.chown(self.log_path, SYSTEM_USER, SYSTEM_USER)
        try:
            self._proc = subprocess.Popen(
                self._run_as() + [str(self.bindir / "postgres"), "-D", str(self.data_dir)],
                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.root, start_new_session=True)
        finally:
            logf.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._proc.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                self._admin("SELECT 1")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError("postgres did not accept connections within "
                                       f"{START_TIMEOUT_S:.0f} s")
                time.sleep(0.05)
        log.info("private PostgreSQL cluster ready in %s", self.root)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions), then remove the folder. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        proc, pid = self._proc, self._postmaster_pid()
        if proc is not None and proc.poll() is None:
            # runuser may not pass signals on: signal the postmaster itself (root may).
            try:
                os.kill(pid or proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            atexit.unregister(self.stop)
        except Exception:  # interpreter shutting down
            pass

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and not self._stopped

    # ---- addresses and databases -------------------------------------------------------------
    def url(self, dbname: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL (psycopg 3) for `dbname`: loopback TCP if asked for, else the socket."""
        auth = f"{SUPERUSER}:{quote(self.password, safe='')}"
        if self.tcp:
            return f"{driver}://{auth}@127.0.0.1:{self.port}/{quote(dbname, safe='')}"
        return (f"{driver}://{auth}@/{quote(dbname, safe='')}"
                f"?host={quote(str(self.socket_dir), safe='')}&port={self.port}")

    def conninfo(self, dbname: str = "postgres") -> dict:
        """Keyword arguments for psycopg.connect()."""
        host = "127.0.0.1" if self.tcp else str(self.socket_dir)
        return {"host": host, "port": self.port, "user": SUPERUSER, "password": self.password,
                "dbname": dbname}

    def _admin(self, sql: str) -> None:
        import psycopg   # imported late: a SQLite-only checkout need not have it
        with psycopg.connect(autocommit=True, connect_timeout=5,
                             **self.conninfo("postgres")) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its SQLAlchemy URL."""
        self._admin(f"CREATE DATABASE {_quote_ident(name)}")
        return self.url(name)

    def database_for(self, key) -> str:
        """The URL of a database of this cluster kept for `key` (e.g. a data directory):
        created on the first call, the same one on every later call with an equal key."""
        name = "db_" + hashlib.sha256(str(key).encode("utf-8")).hexdigest()[:24]
        if name not in self._databases:
            self.create_database(name)
            self._databases.add(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it (PostgreSQL 13+)."""
        self._admin(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
        self._databases.discard(name)

    def __enter__(self) -> "PostgresCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
