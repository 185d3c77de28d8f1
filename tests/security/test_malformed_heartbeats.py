"""Attack: validly signed heartbeats whose bodies have the wrong shapes, nest thousands deep or
are not JSON at all. Each is refused with a 4xx and a reason key (never a 500), and nothing a
refused heartbeat carried reaches the fleet page's alarms."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from security_kit import assert_refused_or_accepted
from test_malformed_manifests import DELETE, JSON_VALUES, mutate

PATHS = [("terminal_id",), ("at",), ("paper",), ("versions",), ("versions", "app"), ("devices",),
         ("devices", "printer"), ("devices", "printer", "available"),
         ("devices", "printer", "fault"), ("outbox",), ("outbox", "pending"),
         ("outbox", "oldest_pending_age_s"), ("updates",), ("updates", "catalog"),
         ("updates", "catalog", "failed"), ("updates", "catalog", "failed", "version"),
         ("updates", "catalog", "failed", "reason_key"), ("disk_free_bytes",)]


def heartbeat(terminal_id: str) -> dict:
    return {"terminal_id": terminal_id,
            "at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "versions": {"app": "0.1.0", "catalog": "packaged"},
            "devices": {"printer": {"available": True, "fault": None}}, "paper": "ok",
            "outbox": {"pending": 0, "in_flight": 0, "dead": 0, "oldest_pending_age_s": None},
            "disk_free_bytes": 12_000_000_000,
            "updates": {"catalog": {"version": None, "staged": None, "failed": None}}}


def post(terminal, body: bytes):
    return terminal.signed("POST", "/api/v1/heartbeats", body,
                           {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def beating(new_terminal):
    return new_terminal()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(st.sampled_from(PATHS), JSON_VALUES | st.just(DELETE)),
                          min_size=1, max_size=4))
def test_type_confused_heartbeats_are_refused_with_a_reason_never_a_500(server, beating,
                                                                       mutations):
    payload = heartbeat(beating.terminal_id)
    for path, value in mutations:
        mutate(payload, path, value)
    assert_refused_or_accepted(post(beating, json.dumps(payload).encode("utf-8")))
    server.services.alarms.current()        # whatever was stored, the fleet page can be drawn


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON_VALUES.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64))
def test_any_body_is_refused_with_a_reason_never_a_500(beating, body):
    response = post(beating, body)
    assert_refused_or_accepted(response)
    assert response.status_code in (204, 413, 422)


@pytest.mark.parametrize("depth", [40, 900, 5_000, 200_000])
@pytest.mark.parametrize("where", ["top", "field"])
def test_deeply_nested_heartbeat_is_refused_with_a_reason(beating, depth, where):
    nested = "[" * depth + "]" * depth
    if where == "top":
        body = nested
    else:
        body = json.dumps({**heartbeat(beating.terminal_id), "extra": "__deep__"})
        body = body.replace('"__deep__"', nested)
    response = post(beating, body.encode())
    assert_refused_or_accepted(response)
    assert response.status_code in (413, 422)


def test_an_oversized_heartbeat_is_refused_before_it_is_parsed(beating):
    payload = {**heartbeat(beating.terminal_id), "padding": "x" * 300_000}
    response = post(beating, json.dumps(payload).encode())
    assert_refused_or_accepted(response)
    assert response.status_code == 413


def test_a_well_formed_heartbeat_is_still_accepted(beating):
    assert post(beating, json.dumps(heartbeat(beating.terminal_id)).encode()).status_code == 204
