"""The back offices benchmarks/fleet_load.py measures, and what it watches on the server side.

`BackOffice` starts one configuration as real `backoffice serve` subprocesses on loopback:
  sqlite  — the baseline: one process, SQLite in the data folder (WAL, synchronous=FULL);
  postgresql — a private PostgreSQL cluster (tests/kit/postgres.py, fsync on) and either
            `serve --workers N` when the command has it, or N `serve` processes on N ports over
            the one database and the one data folder (the terminals are then spread over the
            ports, as a reverse proxy would spread them).
Tokens are issued with the back office's Python API (`Fleet.create_token`, what `backoffice token
create` calls), before the server starts; each configuration gets a fresh data folder holding
the same key files, so it can open packets sealed once for the whole run.

`ProcessTree` samples CPU time and memory of a process and all its descendants from /proc
(psutil is not a dependency): CPU is utime+stime+cutime+cstime summed over the live tree (a
reaped child's time is in its parent's cutime), memory the sum of PSS (smaps_rollup), so
PostgreSQL's shared buffers count once, not once per backend. `WaitEvents` counts what the
active PostgreSQL backends wait for (pg_stat_activity), sampled.
"""
from __future__ import annotations

import collections
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from backoffice.cli import main; main()"]
TICK = os.sysconf("SC_CLK_TCK")
log = logging.getLogger(__name__)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_has_workers() -> bool:
    """Whether this checkout's `backoffice serve` takes --workers (issue #15, section 2)."""
    done = subprocess.run(CLI + ["serve", "--help"], cwd=REPO, capture_output=True, text=True)
    return "--workers" in done.stdout


# ---- /proc sampling -------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids[ppid].append(int(entry.name))
    return kids


def _tree(roots: list[int]) -> list[int]:
    kids, found, todo = _children(), [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(kids.get(pid, ()))
    return found


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / TICK     # utime stime cutime cstime
    except (OSError, ValueError, IndexError):
        return 0.0


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def machine_cpu_s() -> tuple[float, float]:
    """(busy, iowait) CPU seconds of the whole machine since boot (/proc/stat), to tell the
    benchmark's processes from other jobs on a shared machine."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICK, iowait / TICK


class ProcessTree:
    """CPU seconds and peak PSS of the process trees under `roots`, sampled every `every_s`."""

    def __init__(self, roots: list[int], every_s: float = 0.5):
        self.roots = roots
        self.every_s = every_s
        self.peak_pss = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="proc-sampler")
        self._thread.start()

    def cpu_s(self) -> float:
        return sum(_cpu_s(pid) for pid in _tree(self.roots))

    def reset_peak(self) -> None:
        self.peak_pss = 0

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            pids = _tree(self.roots)
            self.processes = len(pids)
            self.peak_pss = max(self.peak_pss, sum(_pss_bytes(p) for p in pids))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class WaitEvents:
    """Counts of (wait_event_type:wait_event or 'CPU') over active client backends of `dbname`,
    and the database's commits and the cluster's WAL fsyncs (pg_stat_database, pg_stat_wal)."""

    def __init__(self, conninfo: dict, every_s: float = 0.25):
        self.conninfo = conninfo
        self.every_s = every_s
        self.counts: collections.Counter = collections.Counter()
        self.samples = 0
        self.totals = (0, 0)           # transactions committed in the database, WAL fsyncs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pg-waits")
        self._thread.start()

    def take(self) -> tuple[int, collections.Counter, tuple[int, int]]:
        """Samples and wait counts since the last take, and the (commits, WAL syncs) totals."""
        samples, counts = self.samples, self.counts
        self.samples, self.counts = 0, collections.Counter()
        return samples, counts, self.totals

    def _run(self) -> None:
        import psycopg
        with psycopg.connect(autocommit=True, **self.conninfo) as conn:
            while not self._stop.wait(self.every_s):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM "
                    "pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' "
                    "AND datname = %s AND pid <> pg_backend_pid()",
                    (self.conninfo["dbname"],)).fetchall()
                self.samples += 1
                self.counts.update(r[0] for r in rows)
                self.totals = conn.execute(
                    "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = %s), "
                    "(SELECT wal_sync FROM pg_stat_wal)", (self.conninfo["dbname"],)).fetchone()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# ---- one configuration ----------------------------------------------------------------------

class BackOffice:
    """One back-office configuration, started with `start()`, stopped with `stop()`."""

    def __init__(self, name: str, root: Path, key_dir: Path, *, workers: int = 1,
                 cluster=None, pg_settings: dict | None = None):
        self.name = name
        self.data_dir = root / name
        self.data_dir.mkdir(parents=True)
        for key in ("backoffice.key", "vault.key", "publisher.key"):
            shutil.copy2(key_dir / key, self.data_dir / key)
        self.workers = workers
        self.cluster = cluster
        self.dbname = name.replace("-", "_")
        if cluster is not None:
            self.database_url = cluster.create_database(self.dbname)
            if pg_settings:                                      # diagnostics only
                import psycopg
                with psycopg.connect(autocommit=True, **cluster.conninfo()) as conn:
                    for setting, value in pg_settings.items():
                        conn.execute(f"ALTER DATABASE {self.dbname} SET {setting} = {value}")
        else:
            self.database_url = f"sqlite:///{self.data_dir / 'backoffice.db'}"
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        self.use_workers_flag = cluster is not None and workers > 1 and serve_has_workers()

    @property
    def env(self) -> dict:
        # Every terminal of the benchmark comes from 127.0.0.1; a real fleet enrols from many
        # addresses (and the signed API is not limited per address anyway), so the per-address
        # enrolment limit is off. Nothing else differs from the defaults.
        return {**os.environ, "BACKOFFICE_DATABASE_URL": self.database_url,
                "BACKOFFICE_RATE_LIMITS": "enrol=0", "PYTHONPATH": str(REPO)}

    def describe(self) -> str:
        if self.cluster is None:
            return "SQLite, 1 process"
        how = f"serve --workers {self.workers}" if self.use_workers_flag or self.workers == 1 \
            else f"{self.workers} serve processes on {self.workers} ports"
        return f"PostgreSQL 15, {how}"

    def issue_tokens(self, terminals) -> dict[str, str]:
        """One enrolment token per terminal, the operator's way (the Python API of the CLI)."""
        from backoffice.services import Services
        from backoffice.settings import Settings
        try:
            from backoffice.schema import upgrade       # issue #15 section 3, when it is there
        except ImportError:
            upgrade = None
        if upgrade is not None:
            upgrade(self.database_url)
        services = Services.start(Settings.for_data_dir(self.data_dir,
                                                        database_url=self.database_url))
        try:
            return {t.terminal_id: services.fleet.create_token(t.terminal_id, t.site,
                                                               actor="cli:fleet-bench")
                    for t in terminals}
        finally:
            services.db.dispose()

    def start(self) -> None:
        instances = 1 if (self.use_workers_flag or self.cluster is None) else self.workers
        for _ in range(instances):
            port = free_port()
            extra = ["--workers", str(self.workers)] if self.use_workers_flag else []
            self.procs.append(subprocess.Popen(
                CLI + ["serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
                       str(self.data_dir), "--log-level", "warning", *extra],
                cwd=REPO, env=self.env, stdout=subprocess.DEVNULL,
                stderr=open(self.data_dir / f"serve-{port}.log", "wb")))
            self.urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(self.urls, self.procs):
            self._wait_ready(url, proc)

    def _wait_ready(self, url: str, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/", timeout=1)
                return
            except httpx.HTTPError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise SystemExit(f"{self.name}: server did not start: {self.server_log()[-2000:]}")

    def server_log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.data_dir.glob("serve-*.log"))

    def log_problems(self) -> dict[str, int]:
        """Warnings and errors the server logged, counted by level, logger and the message's
        first words (the back office logs no personal data); tracebacks as one each."""
        found: collections.Counter = collections.Counter()
        for line in self.server_log().splitlines():
            parts = line.split(" ", 4)
            if len(parts) == 5 and parts[2] in ("WARNING", "ERROR", "CRITICAL"):
                found[f"{parts[2]} {parts[3]} {' '.join(parts[4].split()[:4])}"] += 1
            elif line.startswith(("ERROR:", "WARNING:")):            # uvicorn's own format
                found[" ".join(line.split()[:5])] += 1
            elif line.startswith("Traceback"):
                found["Traceback"] += 1
        return dict(found)

    def cluster_pid(self) -> int:
        """The postmaster's pid (its backends are its children)."""
        return int((self.cluster.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stored_packets(self) -> list[str]:
        """The packet id of every row of the packets table (a packet twice would be listed
        twice)."""
        import sqlalchemy
        engine = sqlalchemy.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sqlalchemy.text("SELECT packet_id FROM packets"))
                            .scalars())
        finally:
            engine.dispose()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
