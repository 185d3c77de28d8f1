"""Several back offices as real processes over one database and one data folder, and real
terminals sending to them.

- `shared_database(postgres_cluster)`: a fresh database with the current schema.
- `Instance`: `backoffice serve` (the installed command, optionally `--workers N`) on its own
  loopback port and in its own process group, its database given by BACKOFFICE_DATABASE_URL
  (`launch()` several, then `ready()` each: instances starting together on an empty folder);
  `kill9()` kills the whole group with SIGKILL (what a crashed host or systemd's cgroup kill
  does), `start()` brings it back on the same port, `workers()` lists its worker processes.
- `KioskTerminal`: a terminal as the kiosk has it: enrolled through kiosk.link.enrolment (its own
  key, the back office's public key), an Outbox of sealed applications and evaluations
  (kiosk.link.outbox), and an `AlternatingUploader` that sends each attempt to the next back
  office in turn, as a proxy with two upstreams does: an upload that failed on one goes to the
  other next.
- `store_problems(data_dir, database_url)`: whatever is half-written or unaccounted for in the
  shared file store (temp files, objects or sealed packets no row names, rows whose file is
  missing or does not decrypt to its hash); empty when the store is whole.
- `DocumentedNginx`: the nginx configuration of docs/operations.md as written there, with only
  its certificate, ports and log path replaced, in front of two instances (Debian's nginx, run
  in the foreground with its files in a temp folder); `check()` is `nginx -t`.
Used by tests/backoffice/test_instances.py and tests/security/test_cross_instance_replay.py.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import nacl.exceptions

from backoffice_testkit import REPO, application, evaluation
from kiosk.link.uploader import Uploader

BIN = Path(sys.executable).parent
PROBE = "/api/v1/cases/NONE-20000101-000001/progress"     # answered 404 by a running back office


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared_database(cluster) -> str:
    """A new database in the session's PostgreSQL cluster (tests/kit/postgres.py) with the
    current schema, as `backoffice db upgrade` makes it; its URL."""
    from backoffice import schema
    url = cluster.create_database(f"instances_{secrets.token_hex(6)}")
    schema.upgrade(url)
    return url


def token_for(database_url: str, terminal_id: str, site: str = "site-1") -> str:
    """A one-time enrolment token, made in the shared database as `backoffice token create` does."""
    from backoffice.db import Database
    from backoffice.fleet import Fleet
    db = Database(database_url)
    try:
        return Fleet(db, 90).create_token(terminal_id, site)
    finally:
        db.dispose()


class Instance:
    """One `backoffice serve` process (group) on 127.0.0.1, sharing `data_dir` and the database."""

    def __init__(self, name: str, data_dir: Path, database_url: str, workers: int = 1):
        self.name = name
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.workers_count = workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.data_dir.parent / f"instance-{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Instance":
        return self.launch().ready(timeout)

    def launch(self) -> "Instance":
        """Start the process and return at once (`ready()` waits for it to answer)."""
        env = dict(os.environ, BACKOFFICE_DATABASE_URL=self.database_url,
                   BACKOFFICE_RATE_LIMITS="off")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "backoffice"), "serve", "--host", "127.0.0.1", "--port",
                 str(self.port), "--workers", str(self.workers_count), "--data-dir",
                 str(self.data_dir), "--log-level", "info"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def ready(self, timeout: float = 60) -> "Instance":
        deadline = time.monotonic() + timeout
        while not self.answers():
            assert self.process.poll() is None, f"{self.name} exited: {self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.name} did not start: {self.log()[-3000:]}"
            time.sleep(0.1)
        return self

    def answers(self) -> bool:
        try:
            return httpx.get(self.url + PROBE, timeout=2).status_code == 404
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def workers(self) -> list[int]:
        """The pids of the worker processes uvicorn's supervisor runs (none with one worker)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        workers = []
        for pid in map(int, children.read_text().split()):
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    workers.append(pid)
            except OSError:         # gone meanwhile (a zombie's cmdline is empty)
                pass
        return workers

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill9()


class AlternatingUploader(Uploader):
    """A kiosk Uploader whose every attempt (packet or heartbeat) goes to the next of `urls`."""

    def __init__(self, *args, urls: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self._turn = itertools.cycle(urls)

    def upload(self, item):
        self.base_url = next(self._turn)
        return super().upload(item)

    def send_heartbeat(self):
        self.base_url = next(self._turn)
        return super().send_heartbeat()


class KioskTerminal:
    """A kiosk's link side: keys, outbox and uploader over `state_dir` (module docstring)."""

    def __init__(self, state_dir: Path, terminal_id: str, enrol_url: str, token: str,
                 site: str = "site-1"):
        from kiosk.link.enrolment import enrol
        from kiosk.link.outbox import Outbox
        from protocol.keys import load_signing_key
        self.terminal_id = terminal_id
        self.state_dir = Path(state_dir)
        keys = self.state_dir / "keys"
        recipient = enrol(enrol_url, token, terminal_id, keys)
        self.signing_key = load_signing_key(keys / "terminal.key")
        self.outbox = Outbox(self.state_dir, terminal_id, site, self.signing_key, recipient,
                             min_free_bytes=0, backoff_base_s=0.05, backoff_cap_s=0.5)
        self.sender = SimpleNamespace(terminal_id=terminal_id, site=site,
                                      next_case_number=lambda: None)   # the outbox numbers
        self.accepted: dict[str, tuple[str, str]] = {}    # packet id -> (kind, case number)
        self.files: dict[str, dict[str, str]] = {}        # packet id -> {file name: sha256}

    def accept_applications(self, count: int, evaluate_every: int = 3) -> None:
        """`count` applications (real photos, a page, its PDF, a signature) sealed into the
        outbox, each `evaluate_every`-th followed by its evaluation."""
        for i in range(count):
            manifest, files = application(self.sender, id_number=f"11010119500101{i:04d}",
                                          light=True)
            app = self._accept(manifest, files)
            if evaluate_every and i % evaluate_every == 0:
                self._accept(*evaluation(self.sender, app.case_number, level=1 + i % 5))

    def _accept(self, manifest: dict, files: dict[str, bytes]):
        accepted = self.outbox.accept(manifest, files)
        self.accepted[accepted.packet_id] = (manifest["kind"], accepted.case_number)
        self.files[accepted.packet_id] = {name: hashlib.sha256(data).hexdigest()
                                          for name, data in files.items()}
        return accepted

    def uploader(self, urls: list[str]) -> AlternatingUploader:
        return AlternatingUploader(self.outbox, urls[0], self.terminal_id, self.signing_key,
                                   self.state_dir, heartbeat_s=1, idle_poll_s=0.05,
                                   timeout_s=30, urls=urls)

    def pending(self) -> int:
        status = self.outbox.status()
        return status["pending"] + status["in_flight"]

    def run_uploader(self, urls: list[str], stop: threading.Event) -> threading.Thread:
        """The uploader's own loop (kiosk.link.uploader.Uploader.run) in a thread until `stop`."""
        uploader = self.uploader(urls)

        def loop():
            try:
                uploader.run(stop)
            finally:
                uploader.close()
        thread = threading.Thread(target=loop, name=f"uploader-{self.terminal_id}", daemon=True)
        thread.start()
        return thread


def store_problems(data_dir: Path, database_url: str) -> list[str]:
    """What is half-written or unaccounted for in `data_dir`'s file store (module docstring)."""
    from sqlalchemy import select

    from backoffice.db import CaseFile, Database, Packet
    from backoffice.settings import Settings, storage_root
    from backoffice.vault import Vault
    from protocol.atomic import TEMP_FILE

    settings = Settings.for_data_dir(data_dir, database_url=database_url)
    root = storage_root(settings.storage_url)
    problems = [f"temp file {p.relative_to(data_dir)}" for p in Path(data_dir).rglob("*")
                if p.is_file() and (TEMP_FILE.match(p.name) or ".tmp" in p.name)]
    db = Database(database_url)
    try:
        with db.read() as session:
            files = session.scalars(select(CaseFile)).all()
            packets = session.scalars(select(Packet)).all()
    finally:
        db.dispose()
    vault = Vault(settings.vault_key_path.read_bytes())    # read only: no sweep, no new key
    for f in files:
        try:
            data = vault.decrypt((root / f.storage_key).read_bytes())
        except (OSError, ValueError, nacl.exceptions.CryptoError) as exc:
            problems.append(f"case file {f.path} of packet {f.packet_id}: {type(exc).__name__}")
            continue
        if hashlib.sha256(data).hexdigest() != f.sha256:
            problems.append(f"case file {f.path} of packet {f.packet_id}: other content")
    for p in packets:
        sealed = root / "raw" / f"{p.packet_id}.sealed"
        if not sealed.is_file() or hashlib.sha256(sealed.read_bytes()).hexdigest() != p.sha256:
            problems.append(f"sealed packet {p.packet_id}: missing or other content")
    named = {f.storage_key for f in files} | {f"raw/{p.packet_id}.sealed" for p in packets}
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    problems += [f"orphan file {name}" for name in sorted(on_disk - named)]
    return problems


OPERATIONS = REPO / "docs" / "operations.md"
NGINX = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))


class DocumentedNginx:
    """docs/operations.md's nginx block in front of `upstreams` (see the module docstring)."""

    def __init__(self, folder: Path, upstreams: list[int]):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.https_port, self.http_port = _free_port(), _free_port()
        self.cert, self.key = self.folder / "cert.pem", self.folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=backoffice.example.gov.cn", "-addext",
                        "subjectAltName=DNS:backoffice.example.gov.cn,IP:127.0.0.1",
                        "-keyout", str(self.key), "-out", str(self.cert)],
                       check=True, capture_output=True)
        self.access_log = self.folder / "access.log"
        self.conf = self.folder / "nginx.conf"
        self.conf.write_text(self._main_conf(self._documented(upstreams)))
        self.process: subprocess.Popen | None = None

    def _documented(self, upstreams: list[int]) -> str:
        section = OPERATIONS.read_text("utf-8").split("### A reverse proxy", 1)[1]
        block = re.search(r"```nginx\n(.*?)```", section, re.S).group(1)
        for documented, here in [
                ("127.0.0.1:8401", f"127.0.0.1:{upstreams[0]}"),
                ("127.0.0.1:8402", f"127.0.0.1:{upstreams[1]}"),
                ("listen 443 ssl;", f"listen 127.0.0.1:{self.https_port} ssl;"),
                ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
                ("/etc/ssl/backoffice/fullchain.pem", str(self.cert)),
                ("/etc/ssl/backoffice/privkey.pem", str(self.key)),
                ("/var/log/nginx/backoffice.log", str(self.access_log))]:
            assert block.count(documented) == 1, f"docs/operations.md: {documented!r} moved"
            block = block.replace(documented, here)
        return block

    def _main_conf(self, server_block: str) -> str:
        temp = "\n".join(f"    {kind}_temp_path {self.folder / kind};"
                          for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return (f"daemon off;\nworker_processes 1;\npid {self.folder / 'nginx.pid'};\n"
                f"error_log {self.folder / 'error.log'} info;\n"
                + ("user root;\n" if os.geteuid() == 0 else "")
                + "events { worker_connections 128; }\n"
                f"http {{\n{temp}\n    access_log {self.folder / 'other.log'};\n"
                f"{server_block}}}\n")

    def _command(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.folder), "-e", str(self.folder / "startup.log"),
                "-c", str(self.conf), *extra]

    def check(self) -> str:
        """`nginx -t` on the configuration; its report (raises when the check fails)."""
        done = subprocess.run(self._command("-t"), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stderr

    def start(self) -> "DocumentedNginx":
        self.process = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            assert self.process.poll() is None, (self.folder / "error.log").read_text()
            try:
                httpx.get(f"http://127.0.0.1:{self.http_port}/", timeout=1)
                return self
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()        # SIGTERM: nginx's fast shutdown
            self.process.wait(10)
