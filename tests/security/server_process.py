"""A back office in its own process on 127.0.0.1 (a free port): for the attacks that measure the
server's memory (/proc/PID/status) or kill it with SIGKILL. Its log goes to a file the test
reads; a terminal is enrolled through the real API."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backoffice_testkit import REPO, TerminalClient

LAUNCH = """
import logging, sys, uvicorn
from backoffice import schema
from backoffice.app import create_app
from backoffice.settings import Settings
logging.basicConfig(level="INFO", format="%(levelname)s %(name)s %(message)s")
settings = Settings.for_data_dir(sys.argv[1], max_packet_bytes=int(sys.argv[3]))
settings.data_dir.mkdir(parents=True, exist_ok=True)
schema.upgrade(settings.database_url)
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="info",
            access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`start()` / `kill9()` / `stop()` a back office serving `data_dir`; `rss_kib()` its memory."""

    def __init__(self, data_dir: Path, max_packet_bytes: int = 64 * 1024 * 1024,
                 database_url: str | None = None):
        self.data_dir = Path(data_dir)
        self.max_packet_bytes = max_packet_bytes
        self.database_url = database_url    # None: the data folder's SQLite database
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        env = dict(os.environ)
        if self.database_url:
            env["BACKOFFICE_DATABASE_URL"] = self.database_url
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(self.data_dir), str(self.port),
                 str(self.max_packet_bytes)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if httpx.get(self.base_url + "/console/login", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("back office did not start: " + self.log())

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def enrolled_terminal(self, terminal_id: str) -> TerminalClient:
        """A terminal enrolled with a token made in the data folder (as `backoffice token
        create` does) and the real enrolment request."""
        from backoffice.db import Database
        from backoffice.fleet import Fleet
        from backoffice.settings import Settings

        db = Database(self.database_url or Settings.for_data_dir(self.data_dir).database_url)
        try:
            token = Fleet(db, 90).create_token(terminal_id, "site-1")
        finally:
            db.dispose()
        client = TerminalClient(self.base_url, terminal_id)
        assert client.enrol(token).status_code == 201
        return client
