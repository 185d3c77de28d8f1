"""The doctor's checks of the way out: the back office reached over HTTP(S) (and the clock
skew against it), enrolment (keys on disk, a signed heartbeat the back office accepts), and
the outbox (undelivered and dead packets)."""
from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

from kiosk.ops.checks import FAIL, OK, WARN, Check

PROBE_CASE = "DOCTOR-PROBE"
MAX_SKEW_S = 240            # the back office refuses signatures more than 300 s off
WARN_SKEW_S = 30
OUTBOX_WARN_AGE_S = 3600


def backoffice_checks(config, timeout: float, now: float | None = None) -> tuple[list[Check], bool]:
    """Reach the back office; (checks, reachable)."""
    import httpx

    base = config.backoffice.url.rstrip("/")
    url = f"{base}/api/v1/cases/{PROBE_CASE}/progress"
    started = time.monotonic()
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in type(exc.__context__).__name__:
            return [Check("back office", FAIL, f"{base}: TLS failed: {text[:160]}",
                          "Check the clock first (certificates depend on it), then that the "
                          "server's certificate chain is valid for this host name.")], False
        return [Check("back office", FAIL, f"{base}: unreachable ({type(exc).__name__})",
                      "Check the network cable or Wi-Fi, DNS (getent hosts <host>), the proxy "
                      "and firewall to the back office, and [backoffice] url.")], False
    ms = (time.monotonic() - started) * 1000
    try:
        body = response.json()
    except ValueError:
        body = None
    if not (response.status_code == 404 and isinstance(body, dict)
            and body.get("error") == "backoffice.case.unknown"):
        return [Check("back office", FAIL, f"{base} answered HTTP {response.status_code}, not as "
                      "the back office API", "Check [backoffice] url (a captive portal or proxy "
                      "page?) and that the back office is running.")], False
    checks = [Check("back office", OK, f"{base} answered in {ms:.0f} ms")]
    server_date = response.headers.get("date")
    if server_date:
        skew = (time.time() if now is None else now) - \
            email.utils.parsedate_to_datetime(server_date).timestamp()
        status = FAIL if abs(skew) > MAX_SKEW_S else WARN if abs(skew) > WARN_SKEW_S else OK
        checks.append(Check("clock skew", status, f"{skew:+.0f} s against the back office",
                            "" if status == OK else "Fix the time (NTP): signed requests more "
                            "than 300 s off are refused."))
    return checks, True


def enrolment_checks(config, reachable: bool, timeout: float) -> list[Check]:
    from kiosk.link.enrolment import (BACKOFFICE_PUBLIC_KEY_FILE, TERMINAL_KEY_FILE,
                                      load_backoffice_public_key)
    from protocol.keys import load_signing_key

    keys = Path(config.state_dir) / "keys"
    advice = ("Enrol: get a one-time token on the back office (`backoffice token create "
              f"--terminal-id {config.terminal_id}`) and run `kiosk provision`.")
    try:
        signing = load_signing_key(keys / TERMINAL_KEY_FILE)
        recipient = load_backoffice_public_key(keys)
    except FileNotFoundError:
        return [Check("enrolment", FAIL, f"no terminal key in {keys}", advice)]
    except (OSError, ValueError) as exc:
        return [Check("enrolment", FAIL, f"keys in {keys} unreadable: {exc}"[:200], advice)]
    if recipient is None:
        return [Check("enrolment", FAIL, f"no {BACKOFFICE_PUBLIC_KEY_FILE} in {keys}: not enrolled",
                      advice)]
    if not reachable:
        return [Check("enrolment", WARN, "keys present; acceptance not checked (back office "
                      "not reached)", "Fix the back-office connection first.")]
    if not (Path(config.state_dir) / "outbox.db").exists():
        return [Check("enrolment", OK, "keys present (no outbox yet: heartbeat not tried)")]
    return [_heartbeat_check(config, signing, recipient, timeout, advice)]


def _heartbeat_check(config, signing, recipient, timeout: float, advice: str) -> Check:
    """A signed heartbeat, as the uploader sends: proves the back office accepts this key."""
    from kiosk.link.outbox import Outbox
    from kiosk.link.answers import refusal_reason
    from kiosk.link.uploader import Uploader

    outbox = Outbox(config.state_dir, config.terminal_id, config.site.id, signing, recipient,
                    recover=False)
    uploader = Uploader(outbox, config.backoffice.url, config.terminal_id, signing,
                        config.state_dir, timeout_s=timeout)
    try:
        body = json.dumps(uploader.heartbeat_payload()).encode("utf-8")
        response = uploader.post_signed("/api/v1/heartbeats", body, "application/json")
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return Check("enrolment", FAIL, f"signed heartbeat failed: {type(exc).__name__}",
                     "Check the back-office connection.")
    finally:
        uploader.close()
        outbox.close()
    if response.status_code == 204:
        return Check("enrolment", OK, f"terminal {config.terminal_id} accepted by the back office")
    return Check("enrolment", FAIL, f"back office refused this terminal: {refusal_reason(response)}",
                 "The terminal may be revoked or enrolled with another key: " + advice
                 + " (with --reenrol)")


def outbox_check(config, now: float | None = None) -> Check:
    from kiosk.link.outbox import Outbox

    if not (Path(config.state_dir) / "outbox.db").exists():
        return Check("outbox", OK, "empty (no visit yet)")
    with Outbox(config.state_dir, "", "", None, None, recover=False) as box:
        status = box.status(now)
    waiting = status["pending"] + status["in_flight"]
    age = status["oldest_pending_age_s"]
    detail = f"{waiting} waiting, {status['dead']} dead"
    if status["dead"]:
        return Check("outbox", WARN, detail + " (refused by the back office)",
                     "See `kiosk outbox list`; after the cause is fixed, `kiosk outbox retry`.")
    if age is not None and age > OUTBOX_WARN_AGE_S:
        return Check("outbox", WARN, f"{detail}; oldest waits {age / 60:.0f} min",
                     "Check the back-office connection and `systemctl status kiosk-uploader`.")
    return Check("outbox", OK, detail)
