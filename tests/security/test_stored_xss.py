"""Attack: stored cross-site scripting from a terminal. Someone holding one terminal's key sends
a "page" that is an HTML document with a script; if the console served it inline on its own
origin, a reviewer opening it would run the script, which reads /console/tokens and mints an
enrolment token (a new terminal of the attacker's) — one stolen key takes over the console.

Intake decides a file's type from its bytes (JPEG, PNG, PDF, and the image must decode), never
from the manifest; the console serves files with the stored type, nosniff, only images inline,
and every page carries a strict Content-Security-Policy. The browser tests run in headless
Chromium (Debian's chromium + chromium-driver)."""
from __future__ import annotations

import inspect
import re
import time

import pytest
from sqlalchemy import func, select

from backoffice.db import Case, CaseFile, EnrolmentToken
from backoffice_testkit import application, console_client, entry
from security_kit import assert_refused_or_accepted, tiny_jpeg

PAGE = "materials/hukou/page-001.jpg"
EVIL_TERMINAL = "EVIL01"
HTML = ("<!doctype html><html><body><h1>page</h1><script>"
        "fetch('/console/tokens').then(r => r.text()).then(t => {"
        " const csrf = t.match(/name=\"csrf\" value=\"([^\"]+)\"/)[1];"
        " return fetch('/console/tokens', {method: 'POST', body: new URLSearchParams("
        f"  {{csrf: csrf, terminal_id: '{EVIL_TERMINAL}', site: 'x'}})}});"
        "}).then(() => { document.title = 'pwned'; });"
        "</script></body></html>").encode()


def with_page(terminal, data: bytes, media_type: str) -> bytes:
    """A sealed application whose first material page is `data`, declared `media_type`."""
    manifest, files = application(terminal, light=True)
    files[PAGE] = data
    page_entry = entry(PAGE, data, media_type)
    manifest["materials"][0]["files"][0] = page_entry
    manifest["files"] = [page_entry if f["name"] == PAGE else f for f in manifest["files"]]
    return terminal.seal(manifest, files)


def evil_tokens(server) -> int:
    with server.services.db.read() as session:
        return session.scalar(select(func.count()).select_from(EnrolmentToken)
                              .where(EnrolmentToken.terminal_id == EVIL_TERMINAL))


def add_admin(server, name: str, password: str) -> None:
    """The reviewer most worth attacking: one who may create enrolment tokens."""
    add = server.services.reviewers.add
    if "role" in inspect.signature(add).parameters:
        add(name, password, role="admin")
    else:
        add(name, password)


NOT_A_KIOSK_FILE = {
    "html-declared-html": (HTML, "text/html"),
    "html-declared-jpeg": (HTML, "image/jpeg"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml"),
    "png-magic-then-html": (b"\x89PNG\r\n\x1a\n" + HTML, "image/png"),
    "jpeg-magic-then-html": (b"\xff\xd8\xff\xe0" + HTML, "image/jpeg"),
    "pdf-magic-then-html": (b"%PDF-1.4\n" + HTML, "application/pdf"),
    "truncated-jpeg": (tiny_jpeg()[:200], "image/jpeg"),
    "empty": (b"", "image/jpeg"),
}


@pytest.mark.parametrize("name", NOT_A_KIOSK_FILE)
def test_a_file_that_is_not_a_kiosk_image_or_pdf_is_refused(server, new_terminal, name):
    terminal = new_terminal()
    data, declared = NOT_A_KIOSK_FILE[name]
    response = terminal.send_packet(with_page(terminal, data, declared))
    assert_refused_or_accepted(response)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "backoffice.packet.file_type"


def test_the_type_is_taken_from_the_bytes_not_the_manifest(server, new_terminal):
    terminal = new_terminal()
    blob = with_page(terminal, tiny_jpeg(), "text/html")
    response = terminal.send_packet(blob)
    assert response.status_code == 201, response.text
    with server.services.db.read() as session:
        stored = {f.path: f.media_type for f in session.scalars(
            select(CaseFile).where(CaseFile.packet_id == response.json()["packet_id"]))}
    assert stored == {PAGE: "image/jpeg", "materials/hukou/hukou.pdf": "application/pdf",
                      "face/card_photo.jpg": "image/jpeg", "face/best.jpg": "image/jpeg",
                      "commitment/signature.png": "image/png"}


def _case_with_file(server, terminal, path: str, data: bytes, media_type: str) -> tuple[str, int]:
    """An accepted case plus one file stored directly with `media_type` (as an older back
    office, which took the type from the manifest, may have stored it)."""
    manifest, files = application(terminal, light=True)
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    with server.services.db.write() as session:
        case = session.scalar(select(Case).where(Case.case_number == manifest["case_number"]))
        stored = CaseFile(case_id=case.id, packet_id=manifest["packet_id"], path=path,
                          sha256="0" * 64, bytes=len(data), media_type=media_type,
                          storage_key=server.services.store.put(data))
        session.add(stored)
        session.flush()
        return manifest["case_number"], stored.id


def test_files_are_served_with_their_verified_type_and_never_as_active_content(server,
                                                                              new_terminal):
    terminal = new_terminal()
    add_admin(server, "xss-headers", "pa55word-headers")
    case, html_id = _case_with_file(server, terminal, "materials/x/page-009.jpg", HTML,
                                    "text/html")
    console = console_client(server.base_url, "xss-headers", "pa55word-headers")
    try:
        served = console.get(f"/console/cases/{case}/files/{html_id}")
        assert served.status_code == 200
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"].startswith("attachment")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        page = console.get(f"/console/cases/{case}")
        kinds = {}
        for file_id in sorted(set(int(i) for i in re.findall(
                rf"/console/cases/{case}/files/(\d+)", page.text))):
            got = console.get(f"/console/cases/{case}/files/{file_id}")
            kinds[got.headers["content-type"]] = got.headers["content-disposition"].split(";")[0]
        assert kinds["image/jpeg"] == "inline" and kinds["image/png"] == "inline"
        assert kinds["application/pdf"] == "attachment"
    finally:
        console.close()


CONSOLE_PAGES = ["/console/login", "/console/cases", "/console/fleet", "/console/tokens",
                 "/console/help", "/console/rejections"]


def test_every_console_page_carries_a_strict_policy(server):
    add_admin(server, "xss-csp", "pa55word-csp")
    console = console_client(server.base_url, "xss-csp", "pa55word-csp")
    try:
        for path in CONSOLE_PAGES + ["/static/console.css", "/console/nowhere"]:
            response = console.get(path)
            policy = response.headers.get("content-security-policy", "")
            assert "default-src 'none'" in policy, path
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
            assert "frame-ancestors 'none'" in policy, path
            assert response.headers.get("x-frame-options") == "DENY", path
            assert response.headers.get("referrer-policy") == "no-referrer", path
            assert response.headers.get("x-content-type-options") == "nosniff", path
            assert "<script>" not in response.text and " onsubmit=" not in response.text, path
    finally:
        console.close()


# ---- in the browser -----------------------------------------------------------------------

selenium = pytest.importorskip("selenium")
from test_console_browser import CHROMIUM, DRIVER, browser, wait_for  # noqa: E402,F401
from selenium.webdriver.common.by import By  # noqa: E402

needs_chromium = pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()),
                                    reason="Debian chromium / chromium-driver not installed")


def _log_in(browser, server, name: str, password: str) -> None:
    browser.get(server.base_url + "/console/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "login").click()
    wait_for(browser, lambda d: d.current_url.endswith("/console/cases"))


def _script_had_its_chance(browser, server, seconds: float = 8) -> None:
    """Wait until the page's script has finished (it sets the title) or had `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not evil_tokens(server) and browser.title != "pwned":
        time.sleep(0.2)


@needs_chromium
def test_a_terminal_sending_an_html_page_takes_nothing_over(server, new_terminal, browser):
    """The attack of the issue end to end: the packet is refused; had it been stored, opening
    the case and its page would have run the script."""
    add_admin(server, "xss-victim", "pa55word-victim")
    terminal = new_terminal()
    response = terminal.send_packet(with_page(terminal, HTML, "text/html"))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "backoffice.packet.file_type"
    _log_in(browser, server, "xss-victim", "pa55word-victim")
    for case in browser.find_elements(By.CSS_SELECTOR, "a[href^='/console/cases/']")[:5]:
        assert terminal.terminal_id not in case.text
    assert evil_tokens(server) == 0


@needs_chromium
def test_an_html_file_stored_earlier_never_runs_in_the_reviewers_browser(server, new_terminal,
                                                                        browser):
    add_admin(server, "xss-reviewer", "pa55word-reviewer")
    terminal = new_terminal()
    case, file_id = _case_with_file(server, terminal, "materials/hukou/page-002.jpg", HTML,
                                    "text/html")
    _log_in(browser, server, "xss-reviewer", "pa55word-reviewer")
    browser.get(f"{server.base_url}/console/cases/{case}")
    wait_for(browser, lambda d: d.find_element(By.ID, "case-status"))
    browser.get(f"{server.base_url}/console/cases/{case}/files/{file_id}")   # the link's target
    _script_had_its_chance(browser, server)
    assert browser.title != "pwned"
    assert evil_tokens(server) == 0, "the stored page's script created an enrolment token"


@needs_chromium
def test_the_consoles_own_script_still_asks_before_a_revocation(server, new_terminal, browser):
    """The revoke button's confirmation moved from an inline handler to /static/console.js,
    which the policy allows: the question is still asked, and "cancel" revokes nothing."""
    from backoffice.db import Terminal
    from selenium.webdriver.support import expected_conditions

    add_admin(server, "xss-confirm", "pa55word-confirm")
    terminal = new_terminal()
    _log_in(browser, server, "xss-confirm", "pa55word-confirm")
    browser.get(server.base_url + "/console/fleet")
    browser.find_element(By.CSS_SELECTOR,
                         f"form[action='/console/fleet/{terminal.terminal_id}/revoke'] button").click()
    alert = wait_for(browser, expected_conditions.alert_is_present())
    assert terminal.terminal_id in alert.text
    alert.dismiss()
    with server.services.db.read() as session:
        assert session.get(Terminal, terminal.terminal_id).revoked_at is None


@needs_chromium
def test_inline_script_on_a_console_page_is_blocked_by_the_policy(server, browser):
    """Even markup that reached a console page could not run: the policy has no inline."""
    add_admin(server, "xss-csp-browser", "pa55word-cspb")
    _log_in(browser, server, "xss-csp-browser", "pa55word-cspb")
    browser.get(server.base_url + "/console/cases")
    ran = browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.body.appendChild(s); return window.__ran === 1;")
    assert ran is False

