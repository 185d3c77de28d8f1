"""A small real back-office stand-in for the uploader tests: http.server on 127.0.0.1.

It does what the contract asks of the back office and no more: verifies every signed request
(protocol.signing.verify_request with a nonce cache), opens each packet with its private key,
dedups by packet id (same bytes -> 200 with the first body, other bytes -> 409), refuses bad
packets with 422, records heartbeats, and enrols with a one-time token. It can answer 503
for a while (`fail_next`; `fail_heartbeats` for heartbeats), give chosen answers to chosen packets (`scripted`: packet id ->
[(status, body), ...], used first) and slow every packet down (`delay_s`).
"""
from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nacl.public
import nacl.signing

from protocol import packet as kp
from protocol.keys import public_key_text, verify_key_from_text
from protocol.signing import NonceCache, RequestRejected, verify_request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self, private_key: nacl.public.PrivateKey, terminals: dict[str, nacl.signing.VerifyKey],
                 port: int | None = None, token: str = "one-time-token"):
        self.private_key = private_key
        self.terminals = dict(terminals)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.nonces = NonceCache()
        self.lock = threading.Lock()
        self.packets: dict[str, dict] = {}          # packet_id -> {sha256, body, manifest, files}
        self.posts = 0                              # every packet POST that reached us
        self.statuses: list[int] = []
        self.heartbeats: list[dict] = []
        self.fail_next = 0                          # answer 503 to this many packet POSTs
        self.scripted: dict[str, list[tuple[int, dict]]] = {}
        self.fail_heartbeats = False                # answer 503 to heartbeats too
        self.delay_s = 0.0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.handle(self.path, dict(self.headers), body)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict | None]:
        if path == "/api/v1/terminals/enrol":
            return self._enrol(body)
        lower = {k.lower(): v for k, v in headers.items()}
        verify_key = self.terminals.get(lower.get("x-terminal-id", ""))
        if verify_key is None:
            return 403, {"error": "backoffice.terminal.unknown"}
        try:
            with self.lock:
                verify_request(verify_key, "POST", path, headers, body, time.time(),
                                  nonces=self.nonces)
        except RequestRejected as exc:
            return 401, {"error": exc.reason_key}
        if path == "/api/v1/heartbeats":
            with self.lock:
                if self.fail_heartbeats:
                    return 503, {"error": "backoffice.unavailable"}
                self.heartbeats.append(json.loads(body))
            return 204, None
        if path == "/api/v1/packets":
            return self._packet(lower, verify_key, body)
        return 404, {"error": "backoffice.not_found"}

    def _packet(self, headers: dict, verify_key, body: bytes) -> tuple[int, dict]:
        with self.lock:
            self.posts += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                self.statuses.append(503)
                return 503, {"error": "backoffice.unavailable"}
            scripted = self.scripted.get(headers.get("idempotency-key", ""))
            if scripted:
                status, answer = scripted.pop(0)
                self.statuses.append(status)
                return status, answer
        time.sleep(self.delay_s)
        try:
            envelope = kp.read_envelope(body)
            if headers.get("idempotency-key") != envelope.packet_id:
                return 422, {"error": "backoffice.packet.idempotency_mismatch"}
            opened = kp.open_packet(body, self.private_key, verify_key)
        except kp.PacketError as exc:
            with self.lock:
                self.statuses.append(422)
            return 422, {"error": "backoffice." + exc.reason_key}
        digest = hashlib.sha256(body).hexdigest()
        with self.lock:
            known = self.packets.get(envelope.packet_id)
            if known is not None:
                status = 200 if known["sha256"] == digest else 409
                self.statuses.append(status)
                return status, known["body"] if status == 200 else {
                    "error": "backoffice.packet.conflict"}
            answer = {"packet_id": envelope.packet_id,
                      "case_number": opened.manifest.get("case_number"), "status": "received"}
            self.packets[envelope.packet_id] = {"sha256": digest, "body": answer,
                                                "manifest": opened.manifest, "files": opened.files}
            self.statuses.append(201)
        time.sleep(self.delay_s)         # a kill now leaves a stored-but-unacknowledged packet
        return 201, answer

    def _enrol(self, body: bytes) -> tuple[int, dict]:
        request = json.loads(body)
        if request.get("token") != self.token:
            return 403, {"error": "backoffice.enrol.bad_token"}
        self.token = None
        self.terminals[request["terminal_id"]] = verify_key_from_text(request["public_key"])
        return 201, {"terminal_id": request["terminal_id"],
                     "backoffice_public_key": public_key_text(self.private_key)}
