"""Attack: replay a terminal's signed request to another instance of the back office. Two
`backoffice serve` processes share one PostgreSQL database and one data folder; the nonces of
signed requests are kept in that database under a unique constraint (terminal_auth.py), so a
request seen by one instance is refused by the other as replayed (401), after it or at the same
moment, and a replayed packet creates nothing."""
from __future__ import annotations

import json
import threading

import httpx
import pytest
from sqlalchemy import func, select

from backoffice.db import Database, RequestNonce
from backoffice_testkit import TerminalClient, application
from instance_kit import Instance, shared_database, token_for
from protocol.signing import sign_request
from test_malformed_heartbeats import heartbeat

RACES = 12


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory, postgres_cluster):
    url, data_dir = shared_database(postgres_cluster), tmp_path_factory.mktemp("replay") / "data"
    a, b = Instance("a", data_dir, url), Instance("b", data_dir, url)
    try:
        a.launch(), b.launch()
        yield a.ready(), b.ready(), url
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def terminal(two_instances):
    a, _, url = two_instances
    client = TerminalClient(a.url, "REPLAY-01")
    assert client.enrol(token_for(url, client.terminal_id)).status_code == 201
    yield client
    client.http.close()


def _signed(terminal, path: str, body: bytes, content_type: str, **extra) -> dict:
    headers = sign_request(terminal.signing_key, terminal.terminal_id, "POST", path, body)
    return {**headers, "Content-Type": content_type, **extra}


def _post(instance, path: str, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(instance.url + path, content=body, headers=headers, timeout=30)


def test_a_heartbeat_seen_by_one_instance_is_refused_by_the_other(two_instances, terminal):
    a, b, _ = two_instances
    body = json.dumps(heartbeat(terminal.terminal_id)).encode()
    headers = _signed(terminal, "/api/v1/heartbeats", body, "application/json")
    assert _post(a, "/api/v1/heartbeats", body, headers).status_code == 204
    for instance in (b, a):
        replayed = _post(instance, "/api/v1/heartbeats", body, headers)
        assert (replayed.status_code, replayed.json()["error"]) == (401, "backoffice.auth.replayed")


def test_a_packet_replayed_to_the_other_instance_is_refused_before_intake(two_instances, terminal):
    a, b, _ = two_instances
    manifest, files = application(terminal, light=True)
    blob = terminal.seal(manifest, files)
    headers = _signed(terminal, "/api/v1/packets", blob, "application/octet-stream",
                      **{"Idempotency-Key": manifest["packet_id"]})
    assert _post(b, "/api/v1/packets", blob, headers).status_code == 201
    replayed = _post(a, "/api/v1/packets", blob, headers)   # not the 200 of a fresh retry
    assert (replayed.status_code, replayed.json()["error"]) == (401, "backoffice.auth.replayed")


def test_the_same_request_sent_to_both_at_once_is_accepted_once(two_instances, terminal):
    a, b, url = two_instances
    outcomes: list[tuple[int, int]] = []
    sent_nonces = []
    for _ in range(RACES):
        body = json.dumps(heartbeat(terminal.terminal_id)).encode()
        headers = _signed(terminal, "/api/v1/heartbeats", body, "application/json")
        sent_nonces.append(headers["X-Nonce"])
        start, answers = threading.Barrier(2), {}

        def send(instance):
            start.wait()
            answer = _post(instance, "/api/v1/heartbeats", body, headers)
            answers[instance.name] = answer.status_code
        threads = [threading.Thread(target=send, args=(i,)) for i in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        outcomes.append(tuple(sorted(answers.values())))
    assert outcomes == [(204, 401)] * RACES
    db = Database(url)
    try:
        with db.read() as session:          # one nonce row per request, whoever took it
            kept = session.scalar(select(func.count()).select_from(RequestNonce).where(
                RequestNonce.terminal_id == terminal.terminal_id,
                RequestNonce.nonce.in_(sent_nonces)))
    finally:
        db.dispose()
    assert kept == RACES
