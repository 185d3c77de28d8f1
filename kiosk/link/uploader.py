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
by the kiosk app with an atomic rename), outbox counts and free disk; nothing personal.
`enrol(...)` registers the terminal's key with a one-time token (used by provisioning) and
keeps the back office's keys (packet recipient, and the publisher key of signed updates).
Every `update_check_s` (5 min) the loop also fetches, verifies and stages new catalogue and
site-profile updates (kiosk/link/updates.py); heartbeats report the versions in use and failures.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import click
import httpx
import nacl.public

from kiosk import __version__
from kiosk.link import updates as ku
from kiosk.link.outbox import BACKOFF_BASE_S, BACKOFF_CAP_S, Outbox, UnknownPacket
from kiosk.sdnotify import MainLoopWatchdog, Notifier
from protocol.keys import (BACKOFFICE_PUBLIC_LABEL, generate_terminal_key, load_signing_key,
                           public_key_from_text, public_key_text)
from protocol.signing import sign_request
from protocol.updates import UpdateRefused

log = logging.getLogger(__name__)

UNREACHABLE_STATUSES = frozenset({401, 408, 429, 502, 503, 504})
PAPER_STATES = ("ok", "near_end", "out", "unknown")
REASON_KEY = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
TERMINAL_KEY_FILE = "terminal.key"
BACKOFFICE_PUBLIC_KEY_FILE = "backoffice.pub"


class EnrolmentFailed(Exception):
    """Enrolment did not succeed; `reason_key` says why (refused token or no back office)."""

    def __init__(self, reason_key: str, detail: str):
        super().__init__(detail)
        self.reason_key = reason_key


@dataclass
class DrainResult:
    sent: int = 0
    duplicates: int = 0
    dead: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


def refusal_reason(response: httpx.Response) -> str:
    """`http <status> <reason_key>` from a refusal, keeping only a well-formed reason key."""
    reason = ""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), str) \
                and REASON_KEY.match(body["error"]) and len(body["error"]) <= 80:
            reason = body["error"]
    except ValueError:
        pass
    return f"http {response.status_code} {reason}".strip()


def read_health(state_dir: Path) -> dict:
    """{devices, paper, versions} from health.json; "unknown" where it is absent or unreadable."""
    health = {"devices": {}, "paper": "unknown", "versions": {}}
    try:
        data = json.loads((Path(state_dir) / "health.json").read_text("utf-8"))
    except (OSError, ValueError):
        return health
    if not isinstance(data, dict):
        return health
    devices = data.get("devices")
    if isinstance(devices, dict):
        health["devices"] = {
            str(kind)[:40]: {"available": bool(info.get("available")),
                             "fault": None if info.get("fault") is None else str(info["fault"])[:80]}
            for kind, info in devices.items() if isinstance(info, dict)}
    if data.get("paper") in PAPER_STATES:
        health["paper"] = data["paper"]
    if isinstance(data.get("versions"), dict):
        health["versions"] = {str(k)[:40]: str(v)[:40] for k, v in data["versions"].items()}
    return health


def write_health(state_dir: Path, devices: dict, paper: str = "unknown",
                 versions: dict | None = None) -> None:
    """For the kiosk app: replace state_dir/health.json atomically (temp, fsync, rename).
    `devices` is {kind: {"available": bool, "fault": reason_key | None}}; nothing personal."""
    if paper not in PAPER_STATES:
        raise ValueError(f"paper must be one of {PAPER_STATES}")
    state_dir = Path(state_dir)
    data = json.dumps({"devices": devices, "paper": paper, "versions": versions or {},
                       "written_at": time.time()}).encode("utf-8")
    tmp = state_dir / f".health.{secrets.token_hex(4)}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_dir / "health.json")


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
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout_s, connect=5))
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


# ---- construction, enrolment, command line ------------------------------------------------

def _write_public_key(path: Path, key: nacl.public.PublicKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(f"{BACKOFFICE_PUBLIC_LABEL} {public_key_text(key)}\n", "ascii")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_backoffice_public_key(key_dir: Path) -> nacl.public.PublicKey | None:
    path = Path(key_dir) / BACKOFFICE_PUBLIC_KEY_FILE
    if not path.exists():
        return None
    return public_key_from_text(path.read_text("ascii"))


def enrol(backoffice_url: str, token: str, terminal_id: str, key_dir: Path,
          http: httpx.Client | None = None) -> nacl.public.PublicKey:
    """Register this terminal's key with a one-time token; store and return the back office's
    public key. Generates key_dir/terminal.key if absent. Raises EnrolmentFailed."""
    key_dir = Path(key_dir)
    key_path = key_dir / TERMINAL_KEY_FILE
    signing = load_signing_key(key_path) if key_path.exists() else \
        generate_terminal_key(key_path)
    client = http or httpx.Client(timeout=httpx.Timeout(30, connect=5))
    try:
        response = client.post(backoffice_url.rstrip("/") + "/api/v1/terminals/enrol", json={
            "token": token, "terminal_id": terminal_id,
            "public_key": public_key_text(signing)})
    except httpx.HTTPError as exc:
        raise EnrolmentFailed("uploader.backoffice_unreachable",
                              f"back office unreachable: {type(exc).__name__}") from exc
    finally:
        if http is None:
            client.close()
    if response.status_code != 201:
        raise EnrolmentFailed("uploader.enrol_refused", f"enrolment refused: {refusal_reason(response)}")
    try:
        answer = response.json()
        public = public_key_from_text(answer["backoffice_public_key"])
        if answer.get("publisher_public_key"):     # absent from older back offices
            ku.store_publisher_key(key_dir, answer["publisher_public_key"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EnrolmentFailed("uploader.enrol_refused", "enrolment answer unreadable") from exc
    _write_public_key(key_dir / BACKOFFICE_PUBLIC_KEY_FILE, public)
    log.info("terminal enrolled terminal=%s", terminal_id)
    return public


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


def once_exit_code(status: dict) -> int:
    """`--once`: 4 while any packet is dead (the operator must look), 3 while packets wait."""
    if status["dead"]:
        return 4
    return 0 if status["pending"] + status["in_flight"] == 0 else 3


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", envvar="KIOSK_STATE_DIR", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Terminal state directory holding outbox.db and outbox/ (env KIOSK_STATE_DIR).")
@click.option("--backoffice-url", envvar="KIOSK_BACKOFFICE_URL", required=True,
              help="Base URL of the back office, e.g. https://bo.example.gov (env KIOSK_BACKOFFICE_URL).")
@click.option("--terminal-id", envvar="KIOSK_TERMINAL_ID", required=True,
              help="This terminal's id (env KIOSK_TERMINAL_ID).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Terminal signing key (default STATE_DIR/keys/terminal.key).")
@click.option("--heartbeat-s", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds between heartbeats.")
@click.option("--backoff-base-s", envvar="KIOSK_UPLOADER_BACKOFF_BASE_S", default=BACKOFF_BASE_S,
              show_default=True, type=click.FloatRange(0.05, 3600),
              help="First retry delay after a failed upload; doubles each time (jittered).")
@click.option("--backoff-cap-s", envvar="KIOSK_UPLOADER_BACKOFF_CAP_S", default=BACKOFF_CAP_S,
              show_default=True, type=click.FloatRange(0.05, 86400),
              help="Longest retry delay, however often an upload failed.")
@click.option("--poll-s", envvar="KIOSK_UPLOADER_POLL_S", default=5.0, show_default=True,
              type=click.FloatRange(0.05, 600),
              help="With nothing due, how often to look for newly accepted packets.")
@click.option("--once", is_flag=True,
              help="Send one heartbeat, upload everything due, print a JSON summary and exit: "
                   "0 when everything is delivered, 3 when packets still wait (back office not "
                   "reached), 4 when a packet is dead (refused; see `kiosk outbox list --state "
                   "dead`).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(state_dir: Path, backoffice_url: str, terminal_id: str, key_path: Path | None,
         heartbeat_s: float, backoff_base_s: float, backoff_cap_s: float, poll_s: float,
         once: bool, verbose: int) -> None:
    """Deliver the outbox's sealed packets to the back office, exactly once, and heartbeat."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    try:
        if backoff_cap_s < backoff_base_s:
            raise click.BadParameter("must not be below --backoff-base-s",
                                     param_hint="--backoff-cap-s")
        uploader = uploader_from_settings(state_dir, backoffice_url, terminal_id, key_path,
                                          heartbeat_s, backoff_base_s=backoff_base_s,
                                          backoff_cap_s=backoff_cap_s, idle_poll_s=poll_s)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot start the uploader: {exc}") from exc
    try:
        if once:
            uploader.send_heartbeat()
            result = uploader.drain_once()
            status = uploader.outbox.status()
            click.echo(json.dumps({"sent": result.sent, "duplicates": result.duplicates,
                                   "dead": result.dead, "deferred": result.deferred,
                                   "errors": result.errors, "outbox": status}))
            sys.exit(once_exit_code(status))
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        notifier = Notifier()
        watchdog = MainLoopWatchdog(notifier, "uploader loop")
        uploader.tick = watchdog.tick
        watchdog.start()
        notifier.ready("delivering")
        try:
            uploader.run(stop)
        finally:
            watchdog.stop()
            notifier.stopping()
    finally:
        uploader.close()
        uploader.outbox.close()


if __name__ == "__main__":  # pragma: no cover
    main()
