"""Reviewer accounts and console sessions.

Passwords are hashed with hashlib.scrypt (n=2**14, r=8, p=1, 16-byte salt), stored as
`scrypt$n$r$p$salt_hex$hash_hex`. A console session is a random cookie token (only its SHA-256
is stored) with its own CSRF token that every console form must send back.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import delete, select

from backoffice.db import ConsoleSession, Database, Reviewer, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Reviewers:
    def __init__(self, db: Database, session_ttl_s: int = 8 * 3600):
        self.db = db
        self.session_ttl_s = session_ttl_s

    def add(self, name: str, password: str) -> None:
        name = name.strip()
        if not name or len(name) > 64:
            raise ReviewerError("backoffice.reviewer.bad_name", "reviewer name must be 1-64 chars")
        if len(password) < 8:
            raise ReviewerError("backoffice.reviewer.weak_password",
                                "password must have at least 8 characters")
        with self.db.write() as session:
            if session.scalar(select(Reviewer).where(Reviewer.name == name)) is not None:
                raise ReviewerError("backoffice.reviewer.exists", "reviewer already exists")
            session.add(Reviewer(name=name, password_hash=hash_password(password),
                                 created_at=utcnow()))

    def login(self, name: str, password: str) -> tuple[str, str] | None:
        """(session token, csrf token) for right credentials, else None."""
        with self.db.read() as session:
            reviewer = session.scalar(select(Reviewer).where(Reviewer.name == name.strip()))
        if reviewer is None:
            hash_password(password)  # same work either way
            return None
        if not verify_password(password, reviewer.password_hash):
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = utcnow()
        with self.db.write() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            session.add(ConsoleSession(token_hash=_token_hash(token), reviewer_id=reviewer.id,
                                       csrf_token=csrf, created_at=now,
                                       expires_at=now + dt.timedelta(seconds=self.session_ttl_s)))
        return token, csrf

    def session_for(self, token: str | None) -> tuple[str, str] | None:
        """(reviewer name, csrf token) of a live session, else None."""
        if not token:
            return None
        with self.db.read() as session:
            found = session.get(ConsoleSession, _token_hash(token))
            if found is None or found.expires_at < utcnow():
                return None
            return found.reviewer.name, found.csrf_token

    def logout(self, token: str | None) -> None:
        if token:
            with self.db.write() as session:
                session.execute(delete(ConsoleSession).where(
                    ConsoleSession.token_hash == _token_hash(token)))
