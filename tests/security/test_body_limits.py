"""Attack: a huge chunked body sent to the terminal API before (or without) authentication.

The back office must look at the signature headers before it reads a body, and read a body
only up to its limit (the configured maximum packet size), so neither an anonymous client nor
one naming an enrolled terminal with a forged signature can make it hold 200 MiB in memory.
The server runs in its own process; its resident memory (VmRSS) is measured while the body is
sent over a raw socket, chunk by chunk (a bounded loop on loopback)."""
from __future__ import annotations

import select
import socket
import time

import pytest

from protocol.signing import sign_request
from server_process import ServerProcess

MIB = 1024 * 1024
LIMIT = 16 * MIB            # the test server's max_packet_bytes
SENT = 200 * MIB            # what the attacker offers
GROWTH_KIB = 50 * 1024      # what the server may grow by while it is offered


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("bodies") / "data", LIMIT).start()
    try:
        server.terminal = server.enrolled_terminal("BODY01")
        yield server
    finally:
        server.stop()


def _status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def offer_chunked(server: ServerProcess, path: str, headers: dict) -> tuple[int, int, float]:
    """POST `path` with a chunked body of up to SENT bytes, 1 MiB a chunk, stopping as soon as
    the server answers or closes; (status, highest RSS growth in KiB, seconds to the answer)."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}",
            "Transfer-Encoding: chunked", "Content-Type: application/octet-stream"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    chunk = f"{MIB:x}\r\n".encode() + b"\x00" * MIB + b"\r\n"
    before = server.rss_kib()
    growth, reply, started = 0, b"", time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for i in range(SENT // MIB):
            if select.select([sock], [], [], 0)[0]:
                break                                    # the server has answered
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            if i % 8 == 0:
                growth = max(growth, server.rss_kib() - before)
        else:
            try:
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elapsed = time.monotonic() - started
        try:
            reply = sock.recv(4096)
        except ConnectionResetError:
            pass
    growth = max(growth, server.rss_kib() - before)
    print(f"{path}: server RSS {before / 1024:.0f} MiB before, at most "
          f"{(before + growth) / 1024:.0f} MiB while offered {SENT // MIB} MiB")
    return _status_of(reply), growth, elapsed


def test_unsigned_chunked_200_mib_is_refused_before_it_is_read(backoffice):
    status, growth, elapsed = offer_chunked(backoffice, "/api/v1/packets", {})
    print(f"unsigned: status {status}, RSS growth {growth / 1024:.0f} MiB, {elapsed:.2f} s")
    assert status == 401
    assert growth < GROWTH_KIB, f"server grew by {growth / 1024:.0f} MiB"
    assert elapsed < 10


def test_forged_signature_chunked_200_mib_is_cut_at_the_limit(backoffice):
    """Headers of an enrolled terminal, fresh timestamp and nonce, a signature that cannot be
    checked until the body is read: read up to the limit, then 413."""
    terminal = backoffice.terminal
    headers = sign_request(terminal.signing_key, terminal.terminal_id, "POST",
                              "/api/v1/packets", b"another body")
    status, growth, elapsed = offer_chunked(backoffice, "/api/v1/packets", headers)
    print(f"forged: status {status}, RSS growth {growth / 1024:.0f} MiB, {elapsed:.2f} s")
    assert status == 413
    assert growth < GROWTH_KIB + LIMIT // 1024 * 2, f"server grew by {growth / 1024:.0f} MiB"
    assert elapsed < 10


@pytest.mark.parametrize("path", ["/api/v1/heartbeats", "/api/v1/cases/lookup",
                                  "/api/v1/terminals/enrol", "/console/login"])
def test_other_endpoints_do_not_read_200_mib(backoffice, path):
    status, growth, _ = offer_chunked(backoffice, path, {})
    assert status in (401, 403, 413), status
    assert growth < GROWTH_KIB, f"{path}: server grew by {growth / 1024:.0f} MiB"


def test_an_unknown_terminal_is_refused_before_its_body_is_read(backoffice):
    headers = {"X-Terminal-Id": "NOBODY", "X-Timestamp": str(int(time.time())),
               "X-Nonce": "0" * 32, "X-Signature": "AAAA"}
    status, growth, _ = offer_chunked(backoffice, "/api/v1/packets", headers)
    assert status == 403
    assert growth < GROWTH_KIB


def test_a_declared_oversize_length_is_refused_without_reading(backoffice):
    with socket.create_connection(("127.0.0.1", backoffice.port), timeout=10) as sock:
        sock.sendall(f"POST /api/v1/packets HTTP/1.1\r\nHost: x\r\nContent-Length: {SENT}\r\n"
                     "\r\n".encode())
        assert _status_of(sock.recv(4096)) in (401, 413)


def test_a_real_packet_still_goes_through(backoffice):
    from backoffice_testkit import application
    terminal = backoffice.terminal
    manifest, files = application(terminal)
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
