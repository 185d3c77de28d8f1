"""Several back-office instances, one truth: two `backoffice serve` processes (one of them with
two workers) on one PostgreSQL database and one data folder, real terminals (kiosk outbox and
uploader) sending to both in turn, one instance killed with SIGKILL in the middle of an upload
and started again, one worker of the other killed too: every packet a terminal accepted is
stored exactly once and nothing half-written remains (tests/backoffice/instance_kit.py).
And the reverse proxy of docs/operations.md, as written there, in front of two instances."""
from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from backoffice.db import AuditEntry, Case, CaseEvent, CaseFile, Database, Packet
from backoffice_testkit import TerminalClient, csrf_of
from backoffice.settings import Settings
from instance_kit import (BIN, NGINX, DocumentedNginx, Instance, KioskTerminal, shared_database,
                          store_problems, token_for)
from protocol.signing import sign_request


TERMINALS = 3
BEFORE, AFTER = 7, 4         # applications per terminal before the kill and after the restart


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s: {what}"
        time.sleep(0.05)


def _stored_packets(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Packet))


def _slow_upload(url: str, terminal: KioskTerminal, packet_id: str, blob: bytes,
                 started: threading.Event, outcome: list) -> None:
    """A real sealed packet sent in 1 KiB pieces, 50 ms apart: its instance is killed while
    it reads the body."""
    def pieces():
        for at in range(0, len(blob), 1024):
            if at >= 2048:
                started.set()
            yield blob[at:at + 1024]
            time.sleep(0.05)
    headers = sign_request(terminal.signing_key, terminal.terminal_id, "POST", "/api/v1/packets",
                           blob)
    headers.update({"Content-Type": "application/octet-stream", "Idempotency-Key": packet_id})
    try:
        outcome.append(httpx.post(url + "/api/v1/packets", content=pieces(), headers=headers,
                                  timeout=30).status_code)
    except httpx.HTTPError as exc:
        outcome.append(type(exc).__name__)
    finally:
        started.set()


def test_two_instances_store_every_packet_exactly_once_through_kills(tmp_path, postgres_cluster):
    url, data_dir = shared_database(postgres_cluster), tmp_path / "data"
    a = Instance("a", data_dir, url)
    b = Instance("b", data_dir, url, workers=2)
    db = Database(url)
    stop = threading.Event()
    try:
        for instance in (a.launch(), b.launch()):     # together, on an empty data folder
            instance.ready()
        terminals = []
        for i in range(TERMINALS):      # enrolled at one or the other: one set of keys
            tid = f"MI-{i:02d}"
            terminals.append(KioskTerminal(tmp_path / tid, tid, (a, b)[i % 2].url,
                                           token_for(url, tid)))
        assert len({(t.state_dir / "keys" / "backoffice.pub").read_bytes()
                    for t in terminals}) == 1
        for t in terminals:
            t.accept_applications(BEFORE)     # and an evaluation of every third
        first = terminals[0]
        slow_id = [pid for pid, (kind, _) in first.accepted.items()   # the last to leave
                   if kind == "application"][-1]
        slow_blob = first.outbox.sealed_path(slow_id).read_bytes()

        threads = [t.run_uploader([a.url, b.url], stop) for t in terminals]
        _wait(lambda: _stored_packets(db) >= 8, 60, "the first packets delivered")
        started, outcome = threading.Event(), []
        slow = threading.Thread(target=_slow_upload,
                                args=(a.url, first, slow_id, slow_blob, started, outcome))
        slow.start()
        assert started.wait(10)
        a.kill9()                                    # mid-body of the slow upload, at least
        slow.join(10)
        assert outcome and isinstance(outcome[0], str), outcome   # cut off, not answered
        worker = b.workers()[0]
        os.kill(worker, signal.SIGKILL)              # uvicorn's supervisor starts another
        a.start()
        for t in terminals:                          # the kiosks kept working meanwhile
            t.accept_applications(AFTER)
        expected = {pid: v for t in terminals for pid, v in t.accepted.items()}
        _wait(lambda: all(t.pending() == 0 for t in terminals), 60, "every outbox drained")
        _wait(lambda: len(b.workers()) == 2 and worker not in b.workers(), 20,
              "b's killed worker replaced")
        stop.set()
        for thread in threads:
            thread.join(10)

        for t in terminals:
            status = t.outbox.status()
            assert (status["acknowledged"], status["dead"]) == (len(t.accepted), 0), status
        with db.read() as session:
            packets = {p.packet_id: (p.kind, p.case_number)
                       for p in session.scalars(select(Packet))}
            files = session.execute(select(CaseFile.packet_id, CaseFile.path,
                                           CaseFile.sha256)).all()
            cases = set(session.scalars(select(Case.case_number)))
            events = session.execute(select(CaseEvent.action, func.count())
                                     .group_by(CaseEvent.action)).all()
        assert packets == expected                   # each packet once, with its case
        stored: dict[str, dict[str, str]] = {}
        for packet_id, path, sha in files:
            assert path not in stored.setdefault(packet_id, {}), f"{path} stored twice"
            stored[packet_id][path] = sha
        assert stored == {pid: f for t in terminals for pid, f in t.files.items() if f}
        applications = {case for kind, case in expected.values() if kind == "application"}
        assert cases == applications
        assert dict(events) == {"received": len(applications),
                                "evaluated": len(expected) - len(applications)}
        assert store_problems(data_dir, url) == []   # no temp, orphan, missing or altered file
        for instance in (a, b):
            assert "Traceback" not in instance.log(), instance.log()[-3000:]
        assert "packet accepted" in a.log().rsplit("Uvicorn running", 1)[1]   # a works again
    finally:
        stop.set()
        a.stop()
        b.stop()
        db.dispose()


def _declared_length(port: int, context: ssl.SSLContext, length: int) -> tuple[int, str]:
    """An unsigned POST of a packet declaring `length` bytes (none sent): status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(f"POST /api/v1/packets HTTP/1.1\r\nHost: backoffice.example.gov.cn\r\n"
                    f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n"
                    "\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith((b"}", b">")):
            piece = tls.recv(4096)
            if not piece:
                break
            answer += piece
    head, _, body = answer.decode("latin-1").partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), body


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt install nginx)")
def test_the_documented_nginx_config_serves_both_instances(tmp_path, postgres_cluster):
    url, data_dir = shared_database(postgres_cluster), tmp_path / "data"
    a = Instance("a", data_dir, url)
    b = Instance("b", data_dir, url)
    nginx = None
    try:
        for instance in (a.launch(), b.launch()):
            instance.ready()
        nginx = DocumentedNginx(tmp_path / "nginx", [a.port, b.port])
        assert "test is successful" in nginx.check()
        nginx.start()
        redirect = httpx.get(f"http://127.0.0.1:{nginx.http_port}/console/login")
        assert redirect.status_code == 301
        assert redirect.headers["location"].startswith("https://")
        tls = ssl.create_default_context(cafile=str(nginx.cert))
        base = f"https://127.0.0.1:{nginx.https_port}"
        # a client on 127.0.0.2, claiming another address; nginx connects from 127.0.0.1
        client = httpx.Client(base_url=base, timeout=30, transport=httpx.HTTPTransport(
            verify=tls, local_address="127.0.0.2"))
        pages = [client.get("/console/login") for _ in range(4)]
        assert [p.status_code for p in pages] == [200] * 4
        assert "secure" in pages[0].headers["set-cookie"].lower()    # X-Forwarded-Proto
        upstreams = nginx.access_log.read_text()
        assert f":{a.port}" in upstreams and f":{b.port}" in upstreams
        client.post("/console/login", headers={"X-Forwarded-For": "203.0.113.9"},
                    data={"csrf": csrf_of(pages[-1].text), "name": "nobody", "password": "x" * 9})
        db = Database(url)
        try:
            with db.read() as session:
                addresses = set(session.scalars(select(AuditEntry.address)
                                                .where(AuditEntry.action == "login.failed")))
        finally:
            db.dispose()
        assert addresses == {"127.0.0.2"}

        limit = Settings.max_packet_bytes            # the default: 64 MiB
        status, body = _declared_length(nginx.https_port, tls, limit + 1)
        assert status == 413 and "<center>nginx</center>" in body      # nginx's, no version
        status, body = _declared_length(nginx.https_port, tls, limit)
        assert status == 401 and "backoffice.auth.missing_headers" in body   # passed on
        terminal = TerminalClient(base, "PROXY-01", http=client)
        assert terminal.enrol(token_for(url, terminal.terminal_id)).status_code == 201
        a.kill9()
        assert [terminal.heartbeat().status_code for _ in range(4)] == [204] * 4
        client.close()
    finally:
        if nginx is not None:
            nginx.stop()
        a.stop()
        b.stop()


def test_serve_refuses_a_database_behind_its_schema_or_unreachable(tmp_path, postgres_cluster):
    empty = postgres_cluster.create_database("instances_empty")
    gone = postgres_cluster.url("instances_no_such_database")
    for url, says in ((empty, "backoffice db upgrade"), (gone, "BACKOFFICE_DATABASE_URL")):
        done = subprocess.run(
            [str(BIN / "backoffice"), "serve", "--port", "1", "--data-dir", str(tmp_path / "d")],
            env=dict(os.environ, BACKOFFICE_DATABASE_URL=url), capture_output=True, text=True,
            timeout=60)
        assert done.returncode == 1, done.stderr
        assert says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert postgres_cluster.password not in done.stderr
