"""Attack: hammering the routes anyone may call (progress, login, enrolment) from one address.

Before issue 13 nothing limited them: 800 progress guesses took 5 s. Now each client address
has a token bucket per route group (backoffice/rate_limit.py): a bounded burst on loopback
passes, the next request is 429 with Retry-After and the reason key, before the request is
handled; another address (127.0.0.2, also loopback) is not affected, and the signed terminal
API is not limited by address (terminals of one site share one).
"""
from __future__ import annotations

import httpx
import pytest

from backoffice.rate_limit import TokenBuckets, group_of
from backoffice.settings import Limit, Settings, SettingsError, parse_limits
from backoffice_testkit import ServerThread

BURST = 5
LIMITS = f"progress=6:{BURST},login=6:{BURST},enrol=6:{BURST},public=6:{BURST}"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    settings = Settings.for_data_dir(tmp_path_factory.mktemp("rate-limited"), rate_limits=LIMITS)
    with ServerThread(settings) as running:
        yield running


def _client(server, address: str = "127.0.0.1") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, timeout=10, transport=transport)


def _burst(send) -> list[httpx.Response]:
    return [send() for _ in range(BURST + 3)]


def _assert_limited(responses, api: bool) -> None:
    codes = [r.status_code for r in responses]
    assert 429 not in codes[:BURST], codes
    assert codes[BURST:] == [429] * 3, codes
    refused = responses[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    if api:
        assert refused.json()["error"] == "backoffice.rate_limited"
    else:
        assert "backoffice.rate_limited" in refused.text


def test_progress_page_and_api(limited):
    with _client(limited) as client:
        _assert_limited(_burst(lambda: client.get("/progress/T-20250101-000001?t=" + "A" * 22)),
                        api=False)
    with _client(limited, "127.0.0.2") as other:       # another address: its own bucket
        _assert_limited(_burst(lambda: other.get("/api/v1/cases/T-20250101-000001/progress",
                                                 headers={"X-Progress-Token": "A" * 22})),
                        api=True)


def test_login_post_is_limited_before_the_form_is_read(limited):
    with _client(limited, "127.0.0.3") as client:
        _assert_limited(_burst(lambda: client.post(
            "/console/login", data={"csrf": "x", "name": "admin", "password": "guess"})),
            api=False)
        assert client.get("/console/login").status_code == 200     # the page's own group


def test_enrolment_is_limited(limited):
    with _client(limited, "127.0.0.4") as client:
        _assert_limited(_burst(lambda: client.post("/api/v1/terminals/enrol", json={
            "token": "guess", "terminal_id": "X-1", "public_key": "AAAA"})), api=True)


def test_public_pages_are_limited(limited):
    with _client(limited, "127.0.0.5") as client:
        _assert_limited(_burst(lambda: client.get("/console/login")), api=False)


def test_signed_api_is_not_limited_by_address(limited):
    with _client(limited, "127.0.0.6") as client:
        codes = {client.post("/api/v1/heartbeats", content=b"{}").status_code
                 for _ in range(BURST * 3)}
    assert codes == {401}


def test_buckets_refill_and_forget():
    now = [0.0]
    buckets = TokenBuckets(Limit(per_minute=60, burst=2), max_addresses=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    now[0] += 1.0                                  # one request a second
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    for address in "bcde":
        buckets.take(address)
    assert len(buckets) <= 3                       # at most max_addresses remembered
    now[0] += 10.0                                 # every bucket full again: all forgotten
    buckets.take("z")
    assert len(buckets) == 1


def test_settings():
    assert set(parse_limits("")) == {"progress", "login", "enrol", "public"}
    assert parse_limits("off") == {}
    assert parse_limits("login=0")["progress"] and "login" not in parse_limits("login=0")
    assert parse_limits("progress=120:7")["progress"] == Limit(120.0, 7)
    for bad in ("progres=1:1", "progress=x", "progress=-1", "progress=5:0"):
        with pytest.raises(SettingsError):
            parse_limits(bad)
    assert group_of("GET", "/progress/X") == "progress"
    assert group_of("POST", "/api/v1/packets") is None
    assert group_of("GET", "/static/console.css") is None
