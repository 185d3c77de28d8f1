"""Authentication of terminal requests, and the rejection log every refusal goes to.

A terminal request carries X-Terminal-Id, X-Timestamp, X-Nonce and X-Signature (Ed25519 over
METHOD, PATH, TIMESTAMP, NONCE and the body's SHA-256; the shared implementation is
`protocol.signing.verify_request`). Here: unknown/revoked terminal -> 403; bad signature or a
timestamp more than `clock_skew_s` off -> 401; a nonce seen before -> 401 "replayed" (nonces
are remembered in the database for twice the allowed skew). `check_headers` does all of it but
the signature before the body is read (api.py): an anonymous client, an unknown terminal or a
stale or replayed request is refused without reading a byte of its body.
Every refusal is written to the `rejections` table and logged without personal data.
What a terminal sends is checked against `StrictShape` models (intake.py, fleet.py): a field
of the wrong type is a 422 naming the field, never its value.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import time

import nacl.exceptions
import nacl.signing
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from backoffice.db import Database, RequestNonce, Rejection, Terminal, utcnow
from protocol.signing import RequestRejected, verify_request

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A refused request: HTTP status, an i18n reason_key, a short PII-free detail."""

    def __init__(self, status: int, reason_key: str, detail: str = "", packet_id: str | None = None):
        super().__init__(detail or reason_key)
        self.status = status
        self.reason_key = reason_key
        self.detail = detail or reason_key
        self.packet_id = packet_id

    def body(self) -> dict:
        return {"error": self.reason_key, "detail": self.detail}


class StrictShape(BaseModel):
    """Strict types (no number for a string, no list for an object) for the fields the back
    office reads of a terminal's JSON; fields it does not read are carried as they are."""
    model_config = ConfigDict(strict=True, extra="allow")


def shape_error(exc: ValidationError, what: str) -> str:
    """Which field has the wrong shape: its path only, for the value may be personal."""
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top)"
    return f"{what} field {where}: {first['type']}"[:160]


def log_rejection(db: Database, error: ApiError, terminal_id: str, endpoint: str) -> None:
    terminal_id = (terminal_id or "")[:64]
    log.warning("rejected endpoint=%s terminal=%s status=%d reason=%s", endpoint, terminal_id,
                error.status, error.reason_key)
    with db.write() as session:
        session.add(Rejection(at=utcnow(), terminal_id=terminal_id, endpoint=endpoint[:100],
                              status_code=error.status, reason_key=error.reason_key,
                              packet_id=(error.packet_id or None) and error.packet_id[:64]))


def verify_key_from_text(text: str) -> nacl.signing.VerifyKey:
    """A base64 Ed25519 verify key; raises ValueError when it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
        return nacl.signing.VerifyKey(raw)
    except (ValueError, TypeError, nacl.exceptions.CryptoError) as exc:
        raise ValueError("not a base64 Ed25519 public key") from exc


def _reason_key_for(rejected: "RequestRejected") -> str:
    reason = getattr(rejected, "reason", "")
    if reason in ("missing_headers", "bad_signature", "stale_timestamp", "replayed"):
        return f"backoffice.auth.{reason}"
    return "backoffice.auth.bad_signature"


class TerminalAuth:
    def __init__(self, db: Database, clock_skew_s: int = 300):
        self.db = db
        self.clock_skew_s = clock_skew_s
        self._last_prune = 0.0

    def check_headers(self, headers, now: float | None = None) -> Terminal:
        """Everything about a signed request that can be checked before its body is read: the
        four headers, the timestamp within `clock_skew_s`, a nonce not used before, an enrolled
        and unrevoked terminal. Raises ApiError (401/403); returns the terminal."""
        now = time.time() if now is None else now
        terminal_id = headers.get("x-terminal-id") or ""
        nonce = headers.get("x-nonce") or ""
        timestamp = headers.get("x-timestamp") or ""
        if not terminal_id or not nonce or not headers.get("x-signature") or not timestamp:
            raise ApiError(401, "backoffice.auth.missing_headers", "signed request headers missing")
        if len(nonce) > 128 or len(terminal_id) > 64 or len(timestamp) > 20:
            raise ApiError(401, "backoffice.auth.bad_signature", "header too long")
        try:
            fresh = abs(now - float(timestamp)) <= self.clock_skew_s
        except ValueError:
            fresh = False
        if not fresh:
            raise ApiError(401, "backoffice.auth.stale_timestamp", "timestamp too far off")
        with self.db.read() as session:
            terminal = session.get(Terminal, terminal_id)
            seen = session.scalar(select(RequestNonce.id).where(
                RequestNonce.terminal_id == terminal_id, RequestNonce.nonce == nonce))
        if terminal is None:
            raise ApiError(403, "backoffice.terminal.unknown", "terminal is not enrolled")
        if terminal.revoked_at is not None:
            raise ApiError(403, "backoffice.terminal.revoked", "terminal has been revoked")
        if seen is not None:
            raise ApiError(401, "backoffice.auth.replayed", "nonce already used")
        return terminal

    def verify(self, method: str, path: str, headers, body: bytes,
               now: float | None = None) -> Terminal:
        """The enrolled, unrevoked terminal that signed this request; raises ApiError otherwise."""
        now = time.time() if now is None else now
        terminal = self.check_headers(headers, now)
        try:
            verify_request(verify_key_from_text(terminal.public_key), method, path,
                              dict(headers), body, now, max_skew_s=self.clock_skew_s)
        except RequestRejected as exc:
            raise ApiError(401, _reason_key_for(exc), "request rejected: " + exc.reason) from None
        self._remember_nonce(terminal.id, headers.get("x-nonce"), now)
        return terminal

    def _remember_nonce(self, terminal_id: str, nonce: str, now: float) -> None:
        seen_at = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        try:
            with self.db.write() as session:
                added = session.scalar(self.db.insert(RequestNonce).values(
                    terminal_id=terminal_id, nonce=nonce, seen_at=seen_at)
                    .on_conflict_do_nothing(index_elements=["terminal_id", "nonce"])
                    .returning(RequestNonce.id))
                if added is None:           # the unique constraint decides, in any process
                    raise ApiError(401, "backoffice.auth.replayed", "nonce already used")
                if now - self._last_prune > 60:
                    self._last_prune = now
                    horizon = seen_at - dt.timedelta(seconds=2 * self.clock_skew_s)
                    session.execute(delete(RequestNonce).where(RequestNonce.seen_at < horizon))
        except IntegrityError:
            raise ApiError(401, "backoffice.auth.replayed", "nonce already used") from None
