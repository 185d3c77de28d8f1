"""The terminal fleet: one-time enrolment tokens, enrolment, revocation, heartbeats, silence.

Tokens are random (32 bytes, url-safe), shown once, stored only as SHA-256, usable once, and
expire after `ttl_hours`. A terminal is SILENT when its last heartbeat is older than
`silent_after_s` (default 3 missed heartbeats x 30 s), or it never sent one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from backoffice.alarms import record_sample
from backoffice.db import Database, EnrolmentToken, Terminal, utcnow
from backoffice.terminal_auth import ApiError, verify_key_from_text

log = logging.getLogger(__name__)
TERMINAL_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
PAPER_STATES = ("ok", "near_end", "out", "unknown")


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

    def create_token(self, terminal_id: str, site: str = "", ttl_hours: float = 72) -> str:
        if not TERMINAL_ID.match(terminal_id or ""):
            raise ValueError("terminal id must be 1-40 letters, digits, '.', '_' or '-'")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.write() as session:
            session.add(EnrolmentToken(token_hash=_hash(token), terminal_id=terminal_id,
                                       site=site or "", created_at=now,
                                       expires_at=now + dt.timedelta(hours=ttl_hours)))
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
                EnrolmentToken.token_hash == _hash(token or "")))
            if row is None or row.used_at is not None or row.expires_at < now \
                    or row.terminal_id != terminal_id:
                raise ApiError(403, "backoffice.enrol.bad_token",
                               "enrolment token unknown, used, expired or for another terminal")
            row.used_at = now
            terminal = session.get(Terminal, terminal_id)
            if terminal is None:
                terminal = Terminal(id=terminal_id, site=row.site, public_key=public_key,
                                    enrolled_at=now)
                session.add(terminal)
            else:
                terminal.public_key, terminal.enrolled_at, terminal.revoked_at = public_key, now, None
                terminal.site = row.site or terminal.site
        log.info("terminal enrolled terminal=%s", terminal_id)
        return terminal

    def revoke(self, terminal_id: str) -> bool:
        with self.db.write() as session:
            terminal = session.get(Terminal, terminal_id)
            if terminal is None:
                return False
            terminal.revoked_at = terminal.revoked_at or utcnow()
        log.info("terminal revoked terminal=%s", terminal_id)
        return True

    def record_heartbeat(self, terminal_id: str, payload: dict) -> None:
        if payload.get("terminal_id") != terminal_id:
            raise ApiError(422, "backoffice.heartbeat.wrong_terminal",
                           "heartbeat names another terminal")
        if payload.get("paper", "unknown") not in PAPER_STATES:
            raise ApiError(422, "backoffice.heartbeat.malformed", "unknown paper state")
        for key in ("versions", "devices", "outbox", "updates"):
            if not isinstance(payload.get(key, {}), dict):
                raise ApiError(422, "backoffice.heartbeat.malformed", f"{key} must be an object")
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
