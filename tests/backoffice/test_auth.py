"""Enrolment tokens and signed terminal requests: one-time tokens, replay, staleness, forgery."""
from __future__ import annotations

import base64
import hashlib
import json
import time

from sqlalchemy import select

from backoffice.db import Rejection


def _headers_at(client, method: str, path: str, body: bytes, timestamp: int, nonce: str) -> dict:
    """Signed headers for a chosen timestamp, built to the contract's canonical string."""
    message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"
    signature = client.signing_key.sign(message.encode()).signature
    return {"X-Terminal-Id": client.terminal_id, "X-Timestamp": str(timestamp), "X-Nonce": nonce,
            "X-Signature": base64.b64encode(signature).decode()}


def _heartbeat_body(client) -> bytes:
    return json.dumps({"terminal_id": client.terminal_id, "paper": "ok", "devices": {},
                       "outbox": {}, "versions": {}}).encode()


def test_token_is_one_time(server, new_terminal):
    client = new_terminal(enrol=False)
    token = server.services.fleet.create_token(client.terminal_id)
    first = client.enrol(token)
    assert first.status_code == 201
    body = first.json()
    assert body["terminal_id"] == client.terminal_id
    assert base64.b64decode(body["backoffice_public_key"]) == bytes(
        server.services.private_key.public_key)
    again = client.enrol(token)
    assert again.status_code == 403
    assert again.json()["error"] == "backoffice.enrol.bad_token"


def test_unknown_expired_or_foreign_tokens_are_refused(server, new_terminal):
    client = new_terminal(enrol=False)
    assert client.enrol("no-such-token").status_code == 403
    expired = server.services.fleet.create_token(client.terminal_id, ttl_hours=-1)
    assert client.enrol(expired).status_code == 403
    foreign = server.services.fleet.create_token("SOMEONE-ELSE")
    assert client.enrol(foreign).status_code == 403
    with server.services.db.read() as session:
        reasons = session.scalars(select(Rejection.reason_key).where(
            Rejection.terminal_id == client.terminal_id, Rejection.endpoint == "enrol")).all()
    assert reasons == ["backoffice.enrol.bad_token"] * 3


def test_bad_public_key_is_refused(server, new_terminal):
    client = new_terminal(enrol=False)
    token = server.services.fleet.create_token(client.terminal_id)
    response = client.http.post("/api/v1/terminals/enrol", json={
        "token": token, "terminal_id": client.terminal_id, "public_key": "bm90IGEga2V5"})
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.enrol.bad_public_key"


def test_replayed_nonce_is_refused(new_terminal):
    client = new_terminal()
    body = _heartbeat_body(client)
    headers = _headers_at(client, "POST", "/api/v1/heartbeats", body, int(time.time()), "ab" * 16)
    assert client.signed("POST", "/api/v1/heartbeats", body, signed_headers=headers).status_code == 204
    replay = client.signed("POST", "/api/v1/heartbeats", body, signed_headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"] == "backoffice.auth.replayed"


def test_stale_or_future_timestamp_is_refused(new_terminal):
    client = new_terminal()
    body = _heartbeat_body(client)
    for offset, nonce in ((-301 - 60, "01" * 16), (+400, "02" * 16)):
        headers = _headers_at(client, "POST", "/api/v1/heartbeats", body,
                              int(time.time()) + offset, nonce)
        response = client.signed("POST", "/api/v1/heartbeats", body, signed_headers=headers)
        assert response.status_code == 401, offset
        assert response.json()["error"] == "backoffice.auth.stale_timestamp"


def test_bad_signature_and_tampered_body_are_refused(new_terminal):
    client = new_terminal()
    body = _heartbeat_body(client)
    headers = _headers_at(client, "POST", "/api/v1/heartbeats", body, int(time.time()), "03" * 16)
    tampered_body = client.signed("POST", "/api/v1/heartbeats", body.replace(b"ok", b"out"),
                                  signed_headers=headers)
    assert tampered_body.status_code == 401
    assert tampered_body.json()["error"] == "backoffice.auth.bad_signature"
    other_path = client.signed("POST", "/api/v1/cases/lookup", body,
                               signed_headers={**headers, "X-Nonce": "04" * 16})
    assert other_path.status_code == 401
    missing = client.http.post("/api/v1/heartbeats", content=body)
    assert missing.status_code == 401
    assert missing.json()["error"] == "backoffice.auth.missing_headers"


def test_heartbeat_must_name_its_own_terminal(new_terminal):
    client = new_terminal()
    response = client.heartbeat(terminal_id="SOMEONE-ELSE")
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.heartbeat.wrong_terminal"
