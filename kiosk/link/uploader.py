"""The uploader: drains the outbox to the back office over HTTP(S) and sends heartbeats.

Runs as its own process (`kiosk-uploader`, so a hung network never touches the touchscreen
app) or in-process (`Uploader.run(stop_event)`, for the demo). Every request is signed
(protocol.signing.sign_request); packets go to POST /api/v1/packets with `Idempotency-Key` = the
packet id, so an upload repeated after a crash or restart is answered 200 and counted once.
Packets leave in acceptance order (kiosk.link.outbox).
  201/200        -> acknowledged (sealed file deleted at once); after an outage every
                    waiting packet is due at once
  network errors, 401/408/429/502/503/504 -> the back office is not reached (or refuses
                    this terminal's clock): the whole queue waits, backing off with jitter,
                    and the same oldest packet is tried next — or at once when a heartbeat
                    gets through
  other 4xx      -> dead: the back office refused this packet and says why (logged; `kiosk
                    outbox retry` brings it back). A 409 `backoffice.case.exists` also draws
                    a new installation part of case numbers (Outbox.renew_installation)
  other 5xx      -> this packet backs off on its own (logged as a warning: the back office
                    has a fault to fix) and the next one is tried; two in a row make the
                    whole queue wait as for an outage
Heartbeats (every 30 s by default) carry device health from state_dir/health.json (written
by the kiosk app, kiosk/link/health.py), outbox counts and free disk; nothing personal.
Every `update_check_s` (5 min) the loop also fetches, verifies and stages new catalogue and
site-profile updates (kiosk/link/updates.py); heartbeats report the versions in use and failures.
`uploader_from_settings` builds an uploader over a state directory whose keys came from
enrolment (kiosk/link/enrolment.py); the `kiosk-uploader` command is kiosk/cli/uploader.py.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import httpx

from kiosk import __version__
from kiosk.link import updates as ku
from kiosk.link.answers import refusal_reason
from kiosk.link.enrolment import TERMINAL_KEY_FILE, load_backoffice_public_key
from kiosk.link.health import read_health
from kiosk.link.outbox import BACKOFF_BASE_S, BACKOFF_CAP_S, Outbox, UnknownPacket
from protocol.keys import load_signing_key
from protocol.signing import sign_request
from protocol.updates import UpdateRefused

log = logging.getLogger(__name__)

UNREACHABLE_STATUSES = frozenset({401, 408, 429, 502, 503, 504})


@dataclass
class DrainResult:
    sent: int = 0
    duplicates: int = 0
    dead: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

# An idle connection is dropped before the back office (uvicorn) closes it at 5 s: a request
# sent on a connection the server is closing at that moment is reset (ReadError) and waits a
# backoff. benchmarks/fleet_load.py measured 7 such resets in every 500-terminal burst with
# httpx's default, 0 with 4 s.
KEEPALIVE_S = 4.0


class Uploader:
    def __init__(self, outbox: Outbox, backoffice_url: str, terminal_id: str, signing_key,
                 state_dir: Path | None = None, heartbeat_s: float = 30, *,
                 http: httpx.Client | None = None, timeout_s: float = 30, idle_poll_s: float = 5,
                 updater: "ku.Updater | None" = None, update_check_s: float = 300):
        self.outbox = outbox
        self.base_url = backoffice_url.rstrip("/")
        self.terminal_id = terminal_id
        self.signing_key = signing_key
        self.state_dir = Path(state_dir) if state_dir is not None else outbox.state_dir
        self.heartbeat_s = heartbeat_s
        self.idle_poll_s = idle_poll_s
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout_s, connect=5),
                                         limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S))
        self._last_heartbeat = float("-inf")
        self.updater = updater
        self.update_check_s = update_check_s
        self._last_update_check = float("-inf")
        self.tick: Callable[[], None] = lambda: None   # "still alive", for the systemd watchdog

    def get(self, path: str) -> httpx.Response:
        """A signed GET of a back-office path (used by the updater)."""
        headers = sign_request(self.signing_key, self.terminal_id, "GET", path, b"")
        return self.http.get(self.base_url + path, headers=headers)

    def check_updates(self) -> "ku.CheckResult | None":
        """Fetch, verify and stage new signed updates; None when the back office is not reached."""
        self._last_update_check = time.monotonic()
        try:
            return self.updater.check()
        except (httpx.HTTPError, ValueError, UpdateRefused) as exc:
            log.info("update check failed error=%s", getattr(exc, "reason_key", type(exc).__name__))
            return None

    def post_signed(self, endpoint: str, body: bytes, content_type: str,
                    extra: dict | None = None) -> httpx.Response:
        url = self.base_url + endpoint
        headers = sign_request(self.signing_key, self.terminal_id, "POST", urlsplit(url).path,
                                  body)
        headers.update({"Content-Type": content_type, **(extra or {})})
        return self.http.post(url, content=body, headers=headers)

    # ---- packets ----------------------------------------------------------------------------

    def upload(self, item) -> str:
        """Deliver one queued packet; returns sent | duplicate | dead | deferred (the back
        office not reached: the queue waits) | failed (a server error: this packet waits)."""
        try:
            self.outbox.mark_in_flight(item.packet_id)
        except UnknownPacket:
            return "deferred"          # acknowledged or retried meanwhile by someone else
        try:
            blob = item.read()
        except FileNotFoundError:
            self.outbox.mark_failed(item.packet_id, "sealed file missing", permanent=True)
            return "dead"
        try:
            response = self.post_signed("/api/v1/packets", blob, "application/octet-stream",
                                  {"Idempotency-Key": item.packet_id})
        except httpx.HTTPError as exc:
            self.outbox.mark_unreachable(item.packet_id, type(exc).__name__)
            return "deferred"
        if response.status_code in (200, 201):
            case_number = None
            try:
                case_number = response.json().get("case_number")
            except (ValueError, AttributeError):
                pass
            self.outbox.mark_acknowledged(item.packet_id, case_number)
            log.info("packet delivered packet=%s status=%d", item.packet_id, response.status_code)
            return "sent" if response.status_code == 201 else "duplicate"
        error = refusal_reason(response)
        if response.status_code in UNREACHABLE_STATUSES:
            self.outbox.mark_unreachable(item.packet_id, error)
            return "deferred"
        permanent = response.status_code < 500
        self.outbox.mark_failed(item.packet_id, error, permanent=permanent)
        if error == "http 409 backoffice.case.exists":
            self.outbox.renew_installation()
        if not permanent:
            log.warning("back office server error packet=%s error=%s", item.packet_id, error)
        return "dead" if permanent else "failed"

    def drain_once(self, stop_event: threading.Event | None = None) -> DrainResult:
        """Upload every packet due now, oldest first; stop when the back office is not
        reached (the queue waits for the next round) or fails twice in a row."""
        result = DrainResult()
        previous = None
        while stop_event is None or not stop_event.is_set():
            item = self.outbox.next_due()
            if item is None:
                break
            outcome = self.upload(item)
            self.tick()
            if outcome == "sent":
                result.sent += 1
            elif outcome == "duplicate":
                result.duplicates += 1
            elif outcome == "dead":
                result.dead += 1
            else:
                result.deferred += 1
                row = self.outbox.get(item.packet_id)
                result.errors.append((row or {}).get("last_error") or "deferred")
                if outcome == "deferred":
                    break
                if previous == "failed":         # not this packet: the back office is failing
                    self.outbox.mark_unreachable(None, result.errors[-1])
                    break
            previous = outcome
        return result

    # ---- heartbeats -------------------------------------------------------------------------

    def heartbeat_payload(self) -> dict:
        health = read_health(self.state_dir)
        status = self.outbox.status()
        try:
            disk_free = shutil.disk_usage(self.state_dir).free
        except OSError:
            disk_free = None
        updates = ku.update_status(self.state_dir)
        catalog = updates["catalog"]["version"]
        versions = {"app": __version__,
                    "catalog": str(catalog) if catalog is not None else "packaged",
                    **health["versions"]}
        return {"terminal_id": self.terminal_id,
                "at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "versions": versions, "devices": health["devices"], "paper": health["paper"],
                "outbox": {k: status[k] for k in ("pending", "in_flight", "dead",
                                                  "oldest_pending_age_s")},
                "disk_free_bytes": disk_free, "updates": updates}

    def send_heartbeat(self) -> bool:
        self._last_heartbeat = time.monotonic()
        body = json.dumps(self.heartbeat_payload()).encode("utf-8")
        try:
            response = self.post_signed("/api/v1/heartbeats", body, "application/json")
        except httpx.HTTPError as exc:
            log.info("heartbeat not delivered error=%s", type(exc).__name__)
            return False
        if response.status_code != 204:
            log.warning("heartbeat refused %s", refusal_reason(response))
            return False
        self.outbox.mark_reachable()      # a queue waiting for the back office goes now
        return True

    # ---- the loop ---------------------------------------------------------------------------

    def run(self, stop_event: threading.Event) -> None:
        """Drain and heartbeat until `stop_event` is set."""
        log.info("uploader started terminal=%s", self.terminal_id)
        while not stop_event.is_set():
            self.tick()
            wait = self.idle_poll_s
            try:
                if time.monotonic() - self._last_heartbeat >= self.heartbeat_s:
                    self.send_heartbeat()
                if self.updater is not None and \
                        time.monotonic() - self._last_update_check >= self.update_check_s:
                    self.check_updates()
                self.drain_once(stop_event)
                until_due = self.outbox.seconds_until_due()
                if until_due is not None:
                    wait = min(wait, until_due)
            except Exception:       # e.g. the database busy for long: keep running, rows stay
                log.exception("uploader round failed")
            wait = min(wait, max(self._last_heartbeat + self.heartbeat_s - time.monotonic(), 0))
            stop_event.wait(max(wait, 0.05))
        log.info("uploader stopped")

    def close(self) -> None:
        self.http.close()


# ---- construction -----------------------------------------------------------------------

def uploader_from_settings(state_dir: Path, backoffice_url: str, terminal_id: str,
                           signing_key_path: Path | None = None, heartbeat_s: float = 30,
                           site_id: str = "", *, backoff_base_s: float = BACKOFF_BASE_S,
                           backoff_cap_s: float = BACKOFF_CAP_S,
                           idle_poll_s: float = 5) -> Uploader:
    """An Uploader over the outbox in state_dir (keys default to state_dir/keys/).
    Retries back off from `backoff_base_s` doubling up to `backoff_cap_s` (jittered); with
    nothing due the loop looks for new packets every `idle_poll_s`."""
    state_dir = Path(state_dir)
    key_path = Path(signing_key_path) if signing_key_path else state_dir / "keys" / TERMINAL_KEY_FILE
    signing = load_signing_key(key_path)
    outbox = Outbox(state_dir, terminal_id, site_id, signing,
                    load_backoffice_public_key(key_path.parent),
                    backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s)
    uploader = Uploader(outbox, backoffice_url, terminal_id, signing, state_dir, heartbeat_s,
                        idle_poll_s=idle_poll_s)
    attach_updater(uploader, key_path.parent, site_id)
    return uploader


def attach_updater(uploader: Uploader, key_dir: Path, site_id: str = "") -> None:
    """Let the uploader fetch signed updates when enrolment gave us a publisher key."""
    publisher = ku.load_publisher_key(key_dir)
    if publisher is not None:
        uploader.updater = ku.Updater(uploader.state_dir, publisher, site_id or None, uploader.get)
