"""Attacks on the console login (issue 13, section 4), against real servers on loopback.

- Brute force: 30 wrong passwords in a burst were all checked, then the right one let the
  attacker in. Now after `login_free_failures` each attempt waits (429 + Retry-After, the
  password not even checked), and after `login_lockout_failures` the account is locked: the
  right password is refused too, with a plain "too many attempts, try again in X minutes".
- Password spraying: one address trying one password on many accounts is throttled too.
- Session cookies: HttpOnly and SameSite=Strict always; Secure when the request came over https
  (here: X-Forwarded-Proto from a trusted proxy address), or always/never by setting.
Each test's client claims its own address with X-Forwarded-For (uvicorn believes it from
127.0.0.1, the trusted proxy), so the tests do not throttle one another. The general
per-address rate limit of unauthenticated routes (rate_limit.py) is off on these servers: the
login guard is tested on its own.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import time

import httpx
import pytest
from sqlalchemy import select

from backoffice.settings import Settings
from backoffice_testkit import ServerThread, csrf_of

PASSWORD = "the-right-pa55word"
_addresses = itertools.count(10)
NO_RATE_LIMIT = ({"rate_limits": "off"} if "rate_limits" in
                 {f.name for f in dataclasses.fields(Settings)} else {})


@pytest.fixture(scope="module")
def default_server(tmp_path_factory, backoffice_settings):
    """Default settings: 5 free failures, then 1 s doubling; lockout at 10; 20 per address."""
    settings = backoffice_settings(tmp_path_factory.mktemp("login-default"), **NO_RATE_LIMIT)
    with ServerThread(settings) as running:
        yield running


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory, backoffice_settings):
    """The same rules with short waits, so a test can reach the lockout in a second."""
    settings = backoffice_settings(tmp_path_factory.mktemp("login-fast"),
                                   login_backoff_base_s=0.02, login_backoff_cap_s=0.1,
                                   login_lockout_minutes=2.0, **NO_RATE_LIMIT)
    with ServerThread(settings) as running:
        yield running


class Browser:
    """A client at its own address (X-Forwarded-For from the trusted proxy, 127.0.0.1)."""

    def __init__(self, server, address: str | None = None):
        self.address = address or f"198.51.100.{next(_addresses)}"
        self.http = httpx.Client(base_url=server.base_url, timeout=30,
                                 headers={"X-Forwarded-For": self.address})

    def login(self, name: str, password: str) -> httpx.Response:
        page = self.http.get("/console/login")
        return self.http.post("/console/login", data={"csrf": csrf_of(page.text), "name": name,
                                                      "password": password})


def failed(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"] == "/console/login?failed=1"


def logged_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"] == "/console/cases"


def throttled(response: httpx.Response) -> bool:
    return (response.status_code == 429 and int(response.headers["retry-after"]) >= 1
            and "too many attempts, try again in" in response.text)


def test_a_burst_of_wrong_passwords_is_cut_after_five_and_the_right_one_waits(default_server):
    default_server.services.reviewers.add("burst", PASSWORD)
    attacker = Browser(default_server)
    first = [attacker.login("burst", f"guess-{i:03d}") for i in range(5)]
    assert all(failed(r) for r in first), [r.status_code for r in first]
    # the right password within the backoff (1 s after the 5th failure) is refused, unchecked
    assert throttled(attacker.login("burst", PASSWORD))
    started = time.monotonic()
    rest = [attacker.login("burst", f"guess-{i:03d}") for i in range(5, 30)]
    checked = sum(failed(r) for r in rest)
    assert all(failed(r) or throttled(r) for r in rest)
    # waits of 1, 2, 4 ... s: in the burst's seconds only a few more guesses are checked
    assert checked <= 1 + (time.monotonic() - started).__ceil__().bit_length(), checked


def test_thirty_wrong_passwords_lock_the_account_even_for_the_right_one(fast_server):
    fast_server.services.reviewers.add("victim", PASSWORD)
    attacker = Browser(fast_server)
    checked = refused = 0
    deadline = time.monotonic() + 20
    while checked + refused < 30 and time.monotonic() < deadline:
        answer = attacker.login("victim", f"guess-{checked + refused:03d}")
        if failed(answer):
            checked += 1
        else:
            assert throttled(answer), answer.status_code
            refused += 1
            time.sleep(0.05)
    assert checked == 10 and refused == 20        # 5 free, 5 after a wait, then locked
    right = attacker.login("victim", PASSWORD)
    assert throttled(right) and "try again in 2 minutes" in right.text
    assert 60 < int(right.headers["retry-after"]) <= 120
    # from another address too: the account itself is locked
    assert throttled(Browser(fast_server).login("victim", PASSWORD))


def test_a_successful_login_clears_the_accounts_count(default_server):
    default_server.services.reviewers.add("forgetful", PASSWORD)
    user = Browser(default_server)
    assert all(failed(user.login("forgetful", "not-it-at-all")) for _ in range(4))
    assert logged_in(user.login("forgetful", PASSWORD))
    assert all(failed(user.login("forgetful", "not-it-again")) for _ in range(5))


def test_one_address_spraying_many_accounts_is_throttled(default_server):
    default_server.services.reviewers.add("sprayed-real", PASSWORD)
    sprayer = Browser(default_server)
    answers = [sprayer.login(f"sprayed-{i:02d}", "Summer2026!") for i in range(25)]
    assert all(failed(r) for r in answers[:20]), [r.status_code for r in answers[:20]]
    assert all(throttled(r) for r in answers[20:]), [r.status_code for r in answers[20:]]
    assert throttled(sprayer.login("sprayed-real", PASSWORD))      # the address waits
    assert logged_in(Browser(default_server).login("sprayed-real", PASSWORD))   # others do not


def test_failed_logins_are_audited_and_logged_without_the_password(default_server, caplog):
    from backoffice.db import AuditEntry
    default_server.services.reviewers.add("audited", PASSWORD)
    user = Browser(default_server)
    with caplog.at_level(logging.DEBUG):
        assert failed(user.login("audited", "Secret-Guess-1"))
        assert failed(user.login("Secret-Typed-As-Name", "Secret-Guess-2"))
        assert logged_in(user.login("audited", PASSWORD))
    with default_server.services.db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.address == user.address)
                               .order_by(AuditEntry.id)).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("reviewer:audited", "login.failed"), ("unknown account", "login.failed"),
        ("reviewer:audited", "login.ok")]
    stored = " ".join(f"{r.actor} {r.target} {r.detail}" for r in rows)
    for secret in ("Secret-Guess", "Secret-Typed", PASSWORD):
        assert secret not in caplog.text and secret not in stored


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}


def login_cookie(server, headers: dict) -> str:
    """The session cookie's Set-Cookie line after a right login with `headers` (the login
    form's cookie sent back by hand: a client keeps a Secure cookie from plain http)."""
    page = httpx.get(f"{server.base_url}/console/login", headers=headers)
    token = page.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    answer = httpx.post(f"{server.base_url}/console/login",
                        data={"csrf": csrf_of(page.text), "name": "cookies", "password": PASSWORD},
                        headers={**headers, "Cookie": f"bo_login_csrf={token}"})
    assert logged_in(answer), answer.status_code
    return set_cookies(answer)["bo_session"]


def test_cookies_are_secure_behind_a_trusted_tls_proxy(default_server):
    default_server.services.reviewers.add("cookies", PASSWORD)
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.200"}
    session = login_cookie(default_server, proxied)
    assert "; secure" in session and "; httponly" in session and "samesite=strict" in session
    plain = login_cookie(default_server, {"X-Forwarded-For": "198.51.100.201"})
    assert "; secure" not in plain and "; httponly" in plain and "samesite=strict" in plain


@pytest.mark.parametrize("mode, trusted, secure", [
    ("auto", "192.0.2.1", False),       # the header from an address that is no trusted proxy
    ("always", "192.0.2.1", True),
    ("never", "127.0.0.1", False)])
def test_cookie_secure_setting(tmp_path, mode, trusted, secure):
    settings = Settings.for_data_dir(tmp_path, cookie_secure=mode, **NO_RATE_LIMIT)
    with ServerThread(settings, forwarded_allow_ips=trusted) as server:
        page = httpx.get(f"{server.base_url}/console/login",
                         headers={"X-Forwarded-Proto": "https"})
    cookie = set_cookies(page)["bo_login_csrf"]
    assert ("; secure" in cookie) is secure and "; httponly" in cookie


def test_a_wrong_cookie_secure_setting_stops_start_up(tmp_path):
    from backoffice.settings import SettingsError
    with pytest.raises(SettingsError, match="cookie_secure"):
        Settings.for_data_dir(tmp_path, cookie_secure="sometimes")


def test_two_back_office_processes_share_the_count(tmp_path, backoffice_settings):
    """Two apps on one database (as several processes behind a load balancer): failures at
    either count for both, and a parallel burst at both gets no more guesses and no 500."""
    from concurrent.futures import ThreadPoolExecutor
    settings = backoffice_settings(tmp_path, **NO_RATE_LIMIT)
    with ServerThread(settings) as first, ServerThread(settings) as second:
        first.services.reviewers.add("both-apps", PASSWORD)
        at_first = Browser(first)
        at_second = Browser(second, at_first.address)
        assert all(failed(at_first.login("both-apps", "wrong-one")) for _ in range(3))
        assert all(failed(at_second.login("both-apps", "wrong-two")) for _ in range(2))
        assert throttled(at_second.login("both-apps", PASSWORD))
        assert throttled(at_first.login("both-apps", PASSWORD))

        first.services.reviewers.add("raced", PASSWORD)
        clients = [Browser(server, "198.51.100.250") for server in (first, second) * 6]
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda c: c.login("raced", "parallel-guess"), clients))
        assert all(failed(r) or throttled(r) for r in answers), [r.status_code for r in answers]
        assert sum(failed(r) for r in answers) <= 6


def test_cookies_are_secure_when_uvicorn_serves_tls_itself(tmp_path):
    """`backoffice serve --ssl-certfile --ssl-keyfile`: the request's scheme is https."""
    import shutil
    import subprocess
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    settings = Settings.for_data_dir(tmp_path / "bo", **NO_RATE_LIMIT)
    with ServerThread(settings, ssl_certfile=str(cert), ssl_keyfile=str(key)) as server:
        page = httpx.get(server.base_url.replace("http:", "https:") + "/console/login",
                         verify=False)
    assert "; secure" in set_cookies(page)["bo_login_csrf"]
