"""Reviewer accounts and console sessions.

Passwords are hashed with hashlib.scrypt (n=2**14, r=8, p=1, 16-byte salt), stored as
`scrypt$n$r$p$salt_hex$hash_hex`. A console session is a random cookie token (only its SHA-256
is stored) with its own CSRF token that every console form must send back.

Roles: "reviewer" decides cases; "admin" also creates enrolment tokens, revokes terminals,
publishes updates and manages accounts (`ROLES`). Logins go through login_guard.LoginGuard
(throttling, lockout) and into the audit log (audit.py), as do accounts added and roles changed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from backoffice import audit
from backoffice.db import ConsoleSession, Database, Reviewer, utcnow
from backoffice.login_guard import LoginGuard

log = logging.getLogger(__name__)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
ROLES = ("reviewer", "admin")


class ConsoleUser(NamedTuple):
    """The reviewer of a live console session."""
    name: str
    csrf: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return f"reviewer:{self.name}"


class ReviewerError(ValueError):
    def __init__(self, reason_key: str, message: str):
        super().__init__(message)
        self.reason_key = reason_key


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt_hex), n=int(n),
                                r=int(r), p=int(p), dklen=len(hash_hex) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), hash_hex)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ReviewerError("backoffice.reviewer.bad_role", f"role must be one of {', '.join(ROLES)}")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Reviewers:
    def __init__(self, db: Database, guard: LoginGuard, session_ttl_s: int = 8 * 3600):
        self.db = db
        self.guard = guard
        self.session_ttl_s = session_ttl_s

    def add(self, name: str, password: str, role: str = "reviewer", actor: str = "") -> None:
        """A new account with `role` (reviewer or admin); `actor` who added it (default the CLI)."""
        name = name.strip()
        if not name or len(name) > 64:
            raise ReviewerError("backoffice.reviewer.bad_name", "reviewer name must be 1-64 chars")
        if len(password) < 8:
            raise ReviewerError("backoffice.reviewer.weak_password",
                                "password must have at least 8 characters")
        _check_role(role)
        exists = ReviewerError("backoffice.reviewer.exists", "reviewer already exists")
        try:
            with self.db.write() as session:
                if session.scalar(select(Reviewer).where(Reviewer.name == name)) is not None:
                    raise exists
                session.add(Reviewer(name=name, password_hash=hash_password(password),
                                     created_at=utcnow(), role=role))
                session.flush()         # the unique name decides between two processes
                audit.record(session, actor or audit.cli_actor(), "reviewer.add", target=name,
                             detail=f"role {role}")
        except IntegrityError:
            raise exists from None

    def set_role(self, name: str, role: str, actor: str = "") -> None:
        _check_role(role)
        with self.db.write() as session:
            found = session.scalar(select(Reviewer).where(Reviewer.name == name.strip()))
            if found is None:
                raise ReviewerError("backoffice.reviewer.unknown", f"no such reviewer: {name}")
            before, found.role = found.role, role
            audit.record(session, actor or audit.cli_actor(), "reviewer.role", target=found.name,
                         detail=f"{before} -> {role}")

    def accounts(self) -> list[tuple[str, str]]:
        """(name, role) of every account."""
        with self.db.read() as session:
            return [(r.name, r.role) for r in session.scalars(select(Reviewer).order_by(Reviewer.name))]

    def login(self, name: str, password: str, address: str = "") -> tuple[str, str] | None:
        """(session token, csrf token) for right credentials, else None; raises
        login_guard.LoginThrottled while the account or the address must wait."""
        attempt = self.guard.begin(name, address)
        with self.db.read() as session:
            reviewer = session.scalar(select(Reviewer).where(Reviewer.name == name.strip()))
        if reviewer is None or not verify_password(password, reviewer.password_hash):
            if reviewer is None:
                hash_password(password)  # same work either way
            actor = f"reviewer:{reviewer.name}" if reviewer else "unknown account"
            detail = "now locked" if attempt.locks else ""
            audit.record_now(self.db, actor, "login.failed", detail=detail, address=address)
            log.info("console login failed account=%s %s", actor, detail)
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = utcnow()
        with self.db.write() as session:
            self.guard.succeeded(session, attempt)
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            session.add(ConsoleSession(token_hash=_token_hash(token), reviewer_id=reviewer.id,
                                       csrf_token=csrf, created_at=now,
                                       expires_at=now + dt.timedelta(seconds=self.session_ttl_s)))
            audit.record(session, f"reviewer:{reviewer.name}", "login.ok", address=address)
        return token, csrf

    def session_for(self, token: str | None) -> ConsoleUser | None:
        """The reviewer (name, csrf token, role) of a live session, else None."""
        if not token:
            return None
        with self.db.read() as session:
            found = session.get(ConsoleSession, _token_hash(token))
            if found is None or found.expires_at < utcnow():
                return None
            return ConsoleUser(found.reviewer.name, found.csrf_token, found.reviewer.role)

    def logout(self, token: str | None, actor: str = "", address: str = "") -> None:
        if token:
            with self.db.write() as session:
                session.execute(delete(ConsoleSession).where(
                    ConsoleSession.token_hash == _token_hash(token)))
                if actor:
                    audit.record(session, actor, "logout", address=address)
