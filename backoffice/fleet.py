"""The terminal fleet: one-time enrolment tokens, enrolment, revocation, heartbeats, silence.

Tokens are random (32 bytes, url-safe), shown once, stored only as SHA-256, usable once, and
expire after `ttl_hours`. A terminal is SILENT when its last heartbeat is older than
`silent_after_s` (default 3 missed heartbeats x 30 s), or it never sent one.
A heartbeat body is parsed by `parse_heartbeat`: at most MAX_HEARTBEAT_BYTES, JSON nested at
most protocol.packet.MAX_JSON_DEPTH deep (checked before parsing), and every field the fleet page
and the alarms read of the type they expect; anything else is a 413/422 with a reason key.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from typing import Literal

from pydantic import Field, ValidationError
from sqlalchemy import select

from backoffice import audit
from backoffice.alarms import record_sample
from backoffice.db import Database, EnrolmentToken, Terminal, utcnow
from backoffice.terminal_auth import ApiError, StrictShape, shape_error, verify_key_from_text
from protocol import packet as kp

log = logging.getLogger(__name__)
TERMINAL_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
PAPER_STATES = ("ok", "near_end", "out", "unknown")
MAX_HEARTBEAT_BYTES = 64 * 1024


class DeviceHealth(StrictShape):
    available: bool = True
    fault: str | None = None


class OutboxCounts(StrictShape):
    pending: int | None = Field(default=None, ge=0)
    in_flight: int | None = Field(default=None, ge=0)
    dead: int | None = Field(default=None, ge=0)
    oldest_pending_age_s: float | int | None = None


class UpdateFailure(StrictShape):
    version: int | None = None
    reason_key: str | None = None


class UpdateState(StrictShape):
    version: int | None = None
    staged: int | None = None
    failed: UpdateFailure | None = None


class HeartbeatShape(StrictShape):
    """What the fleet page and the alarms read of a heartbeat, with the types they expect."""
    terminal_id: str
    paper: Literal[PAPER_STATES] = "unknown"
    versions: dict[str, str] = {}
    devices: dict[str, DeviceHealth] = {}
    outbox: OutboxCounts = OutboxCounts()
    updates: dict[str, UpdateState] = {}


def parse_heartbeat(body: bytes) -> dict:
    """The heartbeat in a request body; ApiError (413/422, with a reason key) otherwise."""
    if len(body) > MAX_HEARTBEAT_BYTES:
        raise ApiError(413, "backoffice.heartbeat.too_large", "heartbeat too large")
    try:
        payload = kp.loads_bounded(body)
    except ValueError:
        raise ApiError(422, "backoffice.heartbeat.malformed",
                       f"body is not JSON nested at most {kp.MAX_JSON_DEPTH} deep") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "backoffice.heartbeat.malformed", "body is not an object")
    try:
        HeartbeatShape.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(422, "backoffice.heartbeat.malformed",
                       shape_error(exc, "heartbeat")) from None
    return payload


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TerminalView:
    id: str
    site: str
    enrolled_at: dt.datetime
    revoked_at: dt.datetime | None
    last_heartbeat_at: dt.datetime | None
    heartbeat: dict
    state: str  # "OK", "SILENT", "REVOKED"
    faults: list[str]


class Fleet:
    def __init__(self, db: Database, silent_after_s: int = 90):
        self.db = db
        self.silent_after_s = silent_after_s

    def create_token(self, terminal_id: str, site: str = "", ttl_hours: float = 72,
                     actor: str = "") -> str:
        """A one-time token; `actor` (default: the CLI's OS user) goes into the audit log."""
        if not TERMINAL_ID.match(terminal_id or ""):
            raise ValueError("terminal id must be 1-40 letters, digits, '.', '_' or '-'")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.write() as session:
            session.add(EnrolmentToken(token_hash=_hash(token), terminal_id=terminal_id,
                                       site=site or "", created_at=now,
                                       expires_at=now + dt.timedelta(hours=ttl_hours)))
            audit.record(session, actor or audit.cli_actor(), "token.create", target=terminal_id,
                         detail=f"site {site}" if site else "")
        log.info("enrolment token created terminal=%s", terminal_id)
        return token

    def enrol(self, token: str, terminal_id: str, public_key: str) -> Terminal:
        """Consume the token and (re)register the terminal's Ed25519 key; ApiError otherwise."""
        try:
            verify_key_from_text(public_key or "")
        except ValueError:
            raise ApiError(422, "backoffice.enrol.bad_public_key", "public key is not Ed25519") from None
        now = utcnow()
        with self.db.write() as session:
            row = session.scalar(select(EnrolmentToken).where(
                EnrolmentToken.token_hash == _hash(token or "")).with_for_update())  # used once
            if row is None or row.used_at is not None or row.expires_at < now \
                    or row.terminal_id != terminal_id:
                raise ApiError(403, "backoffice.enrol.bad_token",
                               "enrolment token unknown, used, expired or for another terminal")
            row.used_at = now
            terminal = session.get(Terminal, terminal_id, with_for_update=True)
            if terminal is None:
                terminal = Terminal(id=terminal_id, site=row.site, public_key=public_key,
                                    enrolled_at=now)
                session.add(terminal)
            else:
                terminal.public_key, terminal.enrolled_at, terminal.revoked_at = public_key, now, None
                terminal.site = row.site or terminal.site
        log.info("terminal enrolled terminal=%s", terminal_id)
        return terminal

    def revoke(self, terminal_id: str, actor: str = "") -> bool:
        with self.db.write() as session:
            terminal = session.get(Terminal, terminal_id)
            if terminal is None:
                return False
            terminal.revoked_at = terminal.revoked_at or utcnow()
            audit.record(session, actor or audit.cli_actor(), "terminal.revoke", target=terminal_id)
        log.info("terminal revoked terminal=%s", terminal_id)
        return True

    def record_heartbeat(self, terminal_id: str, payload: dict) -> None:
        """Keep a heartbeat `parse_heartbeat` accepted; it must name the requester."""
        if payload.get("terminal_id") != terminal_id:
            raise ApiError(422, "backoffice.heartbeat.wrong_terminal",
                           "heartbeat names another terminal")
        pending = (payload.get("outbox") or {}).get("pending")
        with self.db.write() as session:
            terminal = session.get(Terminal, terminal_id)
            terminal.last_heartbeat = payload
            terminal.last_heartbeat_at = utcnow()
            if isinstance(pending, int) and not isinstance(pending, bool):
                record_sample(session, terminal_id, terminal.last_heartbeat_at, pending)

    def terminals(self, now: dt.datetime | None = None) -> list[TerminalView]:
        now = now or utcnow()
        with self.db.read() as session:
            rows = session.scalars(select(Terminal).order_by(Terminal.id)).all()
        views = []
        for t in rows:
            beat = t.last_heartbeat or {}
            if t.revoked_at is not None:
                state = "REVOKED"
            elif t.last_heartbeat_at is None or \
                    (now - t.last_heartbeat_at).total_seconds() > self.silent_after_s:
                state = "SILENT"
            else:
                state = "OK"
            faults = [f"{kind}: {info.get('fault') or 'unavailable'}"
                      for kind, info in sorted((beat.get("devices") or {}).items())
                      if isinstance(info, dict) and (info.get("fault") or not info.get("available", True))]
            views.append(TerminalView(t.id, t.site, t.enrolled_at, t.revoked_at,
                                      t.last_heartbeat_at, beat, state, faults))
        return views
