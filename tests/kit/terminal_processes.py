"""The back office and the uploader as real processes, and what a terminal's outbox holds.

Shared by the end-to-end tests (tests/e2e) and the soak (benchmarks/soak.py):
- `BackofficeProcess`: `backoffice serve` on a loopback port, SQLite + files in a data dir;
  `kill()` takes it down hard, `start()` brings it back on the same port.
- `UploaderProcess`: `kiosk-uploader` over a terminal state dir, short backoff; `kill()` is
  kill -9, counted in `kills`.
- `outbox_status`, `outbox_rows`, `wait_drained`: the terminal's outbox.db read-only, as an
  operator's `kiosk outbox list` would see it.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TERMINAL_ID = "E2E-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


class BackofficeProcess:
    """`backoffice serve` as its own process on 127.0.0.1:<port>."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"

    def upgrade_schema(self) -> None:
        """Make or upgrade the database's tables, as `backoffice db upgrade` does (serve
        refuses a database that is behind)."""
        from backoffice import schema
        from backoffice.settings import Settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        schema.upgrade(Settings.for_data_dir(self.data_dir).database_url)

    def create_token(self, terminal_id: str, site: str) -> str:
        """A one-time enrolment token, as `backoffice token create` makes it."""
        from backoffice.app import Services
        from backoffice.settings import Settings
        self.upgrade_schema()
        services = Services.start(Settings.for_data_dir(self.data_dir))
        try:
            return services.fleet.create_token(terminal_id, site, 1.0)
        finally:
            services.db.dispose()

    def start(self) -> "BackofficeProcess":
        self.upgrade_schema()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "backoffice"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--log-level", "warning"],
                cwd=REPO, stdout=log, stderr=log)
        wait_until(self._answers, 60, "the back office to answer")
        return self

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"backoffice serve exited: {self.log.read_text()[-2000:]}")
        try:
            r = httpx.get(f"{self.url}/api/v1/cases/NONE-20000101-000001/progress", timeout=2)
        except httpx.HTTPError:
            return False
        return r.status_code == 404

    def kill(self) -> None:
        """Down hard (kill -9): the kiosk must notice only through failed uploads."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class UploaderProcess:
    """`kiosk-uploader` over a terminal state dir, with a short backoff and poll."""

    def __init__(self, state_dir: Path, backoffice_url: str, terminal_id: str = TERMINAL_ID):
        self.args = [str(BIN / "kiosk-uploader"), "--state-dir", str(state_dir),
                     "--backoffice-url", backoffice_url, "--terminal-id", terminal_id,
                     "--heartbeat-s", "2", "--backoff-base-s", "0.2", "--backoff-cap-s", "1",
                     "--poll-s", "0.1", "-v"]
        self.log = Path(state_dir).parent / "uploader.log"
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> "UploaderProcess":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=log, stderr=log)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def outbox_status(state_dir: Path) -> dict:
    """Counts by state, read without the start-up sweep (the uploader owns recovery)."""
    import sqlite3
    db = sqlite3.connect(f"file:{Path(state_dir) / 'outbox.db'}?mode=ro", uri=True, timeout=30)
    try:
        counts = dict(db.execute("SELECT state, COUNT(*) FROM packets GROUP BY state"))
    finally:
        db.close()
    return {s: counts.get(s, 0) for s in ("pending", "in_flight", "acknowledged", "dead")}


def outbox_rows(state_dir: Path) -> list[dict]:
    import sqlite3
    db = sqlite3.connect(f"file:{Path(state_dir) / 'outbox.db'}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT packet_id, case_number, kind, state, "
                                            "attempts, last_error FROM packets")]
    finally:
        db.close()


def wait_drained(state_dir: Path, timeout: float) -> dict:
    def drained():
        status = outbox_status(state_dir)
        return status if status["pending"] + status["in_flight"] == 0 else None
    return wait_until(drained, timeout, "the outbox to drain", step=0.2)
