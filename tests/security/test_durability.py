"""Durability of what the back office acknowledges: a terminal deletes its copy of a packet
once the back office answers 201, so nothing acknowledged may be lost to a crash.

- SQLite commits with `synchronous=FULL` (NORMAL in WAL mode may lose the last commits in a
  power cut);
- a back office killed with SIGKILL in the middle of uploads leaves no temporary files once it
  has started again (they are swept at start, and the count is logged), and every packet it
  answered 201 is there afterwards: its case files decrypt to their hashes, and the same bytes
  sent again answer 200;
- a terminal that goes away mid-upload (ClientDisconnect) is an INFO line, not an ERROR with a
  traceback."""
from __future__ import annotations

import hashlib
import io
import logging
import random
import socket
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from backoffice.db import CaseFile, Database, Packet
from backoffice.vault import FileStore, Vault
from backoffice_testkit import application, entry
from protocol.signing import sign_request
from server_process import ServerProcess

KILLS = 4


def test_commits_are_on_disk_before_the_answer(server, db_engine):
    """SQLite: synchronous=FULL. PostgreSQL: synchronous commit, fsync on."""
    with server.services.db.engine.connect() as connection:
        if db_engine == "sqlite":
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2   # FULL
        else:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
            assert connection.exec_driver_sql("SHOW fsync").scalar() == "on"


def _big_page(seed: int) -> bytes:
    """A noisy 1600 x 1200 JPEG (about 2 MB: the writes take long enough to be killed in)."""
    noise = np.random.default_rng(seed).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, "JPEG", quality=90)
    return out.getvalue()


def temp_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and ".tmp" in p.name)


def test_kill9_mid_upload_keeps_every_acknowledged_packet_and_leaves_no_temp_files(
        tmp_path, backoffice_settings):
    settings = backoffice_settings(tmp_path / "data")
    server = ServerProcess(settings.data_dir, database_url=settings.database_url)
    files_root = server.data_dir / "files"
    # what back offices killed mid-write left behind (an older build's name, and this one's)
    for leftover in (files_root / "objects" / "ab" / ("ab" + "0" * 62 + ".tmp4194999-deadbeef"),
                     files_root / "raw" / ".0190f5c2.sealed.4194999-0123abcd.tmp"):
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"")
    server.start()
    terminal = server.enrolled_terminal("DUR01")
    pages = [_big_page(seed) for seed in range(3)]
    acknowledged: dict[str, bytes] = {}
    counter = iter(range(10_000))
    left_by_kill: list[int] = []
    interrupted: list[str] = []

    def send_until_killed() -> None:
        for _ in range(200):
            manifest, files = application(terminal, light=True)
            page = pages[next(counter) % 3] + random.randbytes(16)   # unique content
            name = "materials/hukou/page-001.jpg"
            files[name] = page
            manifest["materials"][0]["files"][0] = entry(name, page, "image/jpeg")
            manifest["files"] = [entry(name, page, "image/jpeg") if f["name"] == name else f
                                 for f in manifest["files"]]
            blob = terminal.seal(manifest, files)
            try:
                response = terminal.send_packet(blob)
            except httpx.HTTPError:
                interrupted.append(manifest["packet_id"])    # killed mid-request
                return
            if response.status_code == 201:
                acknowledged[manifest["packet_id"]] = blob

    try:
        for attempt in range(KILLS):
            if attempt:
                server.start()
            terminal.http.close()
            terminal.http = httpx.Client(base_url=server.base_url, timeout=30)
            assert temp_files(files_root) == [], f"after restart {attempt}"
            sender = threading.Thread(target=send_until_killed)
            sender.start()
            time.sleep(0.8 + 0.5 * random.random())
            server.kill9()
            sender.join(60)
            assert not sender.is_alive()
            left_by_kill.append(len(temp_files(files_root)))
        server.start()
        assert temp_files(files_root) == []
        assert "temporary file" in server.log()
        assert acknowledged, "no packet was acknowledged before the kills"
        assert interrupted, "no kill landed during an upload"
        print(f"{len(acknowledged)} packets acknowledged, {len(interrupted)} uploads cut by "
              f"the kills; temp files each kill left: {left_by_kill}")
        for packet_id, blob in acknowledged.items():
            again = terminal.send_packet(blob)
            assert again.status_code == 200, (packet_id, again.text)
    finally:
        terminal.http.close()
        server.stop()
    db = Database(settings.database_url)
    store = FileStore(settings.storage_url, Vault.open_or_create(settings.vault_key_path))
    try:
        with db.read() as session:
            assert set(session.scalars(select(Packet.packet_id))) >= set(acknowledged)
            for stored in session.scalars(select(CaseFile).where(
                    CaseFile.packet_id.in_(list(acknowledged)))):
                assert hashlib.sha256(store.get(stored.storage_key)).hexdigest() == stored.sha256
    finally:
        db.dispose()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def records():
    handler = _Records()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        logging.getLogger().setLevel(old_level)


def test_a_terminal_going_away_mid_upload_is_an_info_line(server, new_terminal, records):
    terminal = new_terminal()
    headers = sign_request(terminal.signing_key, terminal.terminal_id, "POST",
                              "/api/v1/packets", b"x" * 1_000_000)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(f"POST /api/v1/packets HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
                     f"{head}\r\n".encode() + b"x" * 100_000)
        time.sleep(0.3)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any("disconnect" in r.getMessage()
                                                  for r in records):
        time.sleep(0.05)
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert errors == []
    said = [r for r in records if "disconnect" in r.getMessage()]
    assert said and said[0].levelno == logging.INFO and said[0].exc_info is None
