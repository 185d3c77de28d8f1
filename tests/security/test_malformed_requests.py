"""Attack: bodies of the wrong shape or nested thousands deep sent to the terminal API's other
JSON endpoints — enrolment (unauthenticated) and the signed case lookup. Each answer is a 4xx
with the back office's reason key, never a 500."""
from __future__ import annotations

import json

import pytest

from backoffice.api import MAX_LOOKUP_BYTES
from security_kit import assert_refused_or_accepted

DEEP = ["[" * 100_000 + "]" * 100_000, '{"token":' + "[" * 5_000 + "]" * 5_000 + "}"]
DEEP_IDS = ["array-100000", "field-5000"]


@pytest.mark.parametrize("body", [
    {"token": 12, "terminal_id": "T-1", "public_key": "x"}, {"token": ["a"]}, [1, 2], "token",
    {"token": "t", "terminal_id": {"a": 1}, "public_key": None}])
def test_type_confused_enrolment_is_refused_with_a_reason(server, body):
    import httpx
    response = httpx.post(server.base_url + "/api/v1/terminals/enrol", json=body, timeout=30)
    assert_refused_or_accepted(response)
    assert response.status_code == 422


@pytest.mark.parametrize("body", DEEP, ids=DEEP_IDS)
def test_deeply_nested_enrolment_is_refused_with_a_reason(server, body):
    import httpx
    response = httpx.post(server.base_url + "/api/v1/terminals/enrol", content=body.encode(),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert_refused_or_accepted(response)
    assert response.status_code in (400, 422)


@pytest.mark.parametrize("body", DEEP + [json.dumps({"id_number": 110101195001011234}),
                                         json.dumps([{"id_number": "110101195001011234"}])],
                         ids=DEEP_IDS + ["number", "list"])
def test_malformed_case_lookup_is_refused_with_a_reason(new_terminal, body):
    terminal = new_terminal()
    response = terminal.signed("POST", "/api/v1/cases/lookup", body.encode(),
                               {"Content-Type": "application/json"})
    assert_refused_or_accepted(response)
    # a lookup body over its 4 KiB is refused before it is parsed
    assert response.status_code == (413 if len(body) > MAX_LOOKUP_BYTES else 422)
