"""Throttling of console logins, per account and per client address, kept in the database so
every back-office process behind a load balancer shares it.

Each key ("account:<sha256 of the name as typed>", "address:<client ip>") counts its failed
logins. The first `free_failures` cost nothing; after that each attempt must wait
`backoff_base_s` x 2^(failures - free_failures) seconds (at most `backoff_cap_s`) after the
last failure; at `lockout_failures` the key is locked for `lockout_s` and every attempt is
refused, the right password included (429 + Retry-After; the password is not even checked).
After a lockout each further failure locks again; `forget_after_s` of quiet forgets the count.
A successful login clears its account's count (not the address's: one valid account must not
let an address spray others). Names that are no account are counted like real ones, so the
answers do not tell which names exist.

An attempt is counted as a failure when it starts (in one write transaction with the check)
and taken back when the password is right, so parallel requests cannot slip past the limit.
This module is login-specific; the general per-address rate limit of unauthenticated
endpoints is separate (rate_limit.py).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from backoffice.db import Database, LoginThrottle, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginRules:
    free_failures: int
    backoff_base_s: float
    backoff_cap_s: float
    lockout_failures: int
    lockout_s: float
    forget_after_s: float

    @classmethod
    def of(cls, settings, per_address: bool = False) -> "LoginRules":
        return cls(free_failures=settings.login_address_free_failures if per_address
                   else settings.login_free_failures,
                   backoff_base_s=settings.login_backoff_base_s,
                   backoff_cap_s=settings.login_backoff_cap_s,
                   lockout_failures=settings.login_address_lockout_failures if per_address
                   else settings.login_lockout_failures,
                   lockout_s=settings.login_lockout_minutes * 60,
                   forget_after_s=settings.login_forget_after_s)

    def wait_s(self, row: LoginThrottle, now: dt.datetime) -> float:
        """Seconds until this key may try again (0: now)."""
        if row.locked_until is not None and row.locked_until > now:
            return (row.locked_until - now).total_seconds()
        if row.failures < self.free_failures:
            return 0.0
        delay = min(self.backoff_base_s * 2 ** (row.failures - self.free_failures),
                    self.backoff_cap_s)
        return max(0.0, (row.last_failure_at + dt.timedelta(seconds=delay) - now).total_seconds())


class LoginThrottled(Exception):
    """Too many failed logins: try again in `retry_after_s` seconds."""

    def __init__(self, retry_after_s: float):
        super().__init__("too many attempts")
        self.retry_after_s = max(1, math.ceil(retry_after_s))

    @property
    def message(self) -> str:
        if self.retry_after_s < 60:
            return f"too many attempts, try again in {self.retry_after_s} seconds"
        return f"too many attempts, try again in {math.ceil(self.retry_after_s / 60)} minutes"

    @property
    def message_zh(self) -> str:
        if self.retry_after_s < 60:
            return f"尝试次数过多，请 {self.retry_after_s} 秒后再试"
        return f"尝试次数过多，请 {math.ceil(self.retry_after_s / 60)} 分钟后再试"


@dataclass(frozen=True)
class Attempt:
    account_key: str
    address_key: str
    locks: bool            # a failure of this attempt starts a lockout


def account_key(name: str) -> str:
    return "account:" + hashlib.sha256(name.strip().encode("utf-8")).hexdigest()


class LoginGuard:
    def __init__(self, db: Database, account: LoginRules, address: LoginRules):
        self.db = db
        self.rules = {"account": account, "address": address}

    def begin(self, name: str, address: str) -> Attempt:
        """Count an attempt as a failure, or raise LoginThrottled when its keys must wait."""
        keys = {"account": account_key(name), "address": f"address:{address or '-'}"[:100]}
        for _try in range(2):
            try:
                return self._begin(keys)
            except (IntegrityError, OperationalError):
                # a deadlock (PostgreSQL) or a busy timeout (SQLite) with another process: again
                log.info("console login count raced with another process; counting again")
        return self._begin(keys)

    def _begin(self, keys: dict[str, str]) -> Attempt:
        now = utcnow()
        with self.db.write() as session:
            self._forget_old(session, now)
            rows = {kind: self._row(session, key, now) for kind, key in keys.items()}
            wait = max(self.rules[kind].wait_s(row, now) for kind, row in rows.items())
            if wait > 0:
                raise LoginThrottled(wait)
            locks = False
            for kind, row in rows.items():
                rules = self.rules[kind]
                row.failures += 1
                row.last_failure_at = now
                if row.failures >= rules.lockout_failures:
                    row.locked_until = now + dt.timedelta(seconds=rules.lockout_s)
                    locks = True
                    log.warning("console login locked key=%s for %.0f s after %d failures",
                                kind, rules.lockout_s, row.failures)
        return Attempt(keys["account"], keys["address"], locks)

    def succeeded(self, session: Session, attempt: Attempt) -> None:
        """The password was right: clear the account's count, take back the address's one."""
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == attempt.account_key))
        row = session.get(LoginThrottle, attempt.address_key, with_for_update=True)
        if row is not None:
            row.failures = max(0, row.failures - 1)
            if row.failures < self.rules["address"].lockout_failures:
                row.locked_until = None

    def _row(self, session: Session, key: str, now: dt.datetime) -> LoginThrottle:
        """The key's row, created if missing, locked until the commit (FOR UPDATE)."""
        session.execute(self.db.insert(LoginThrottle).values(
            key=key, failures=0, last_failure_at=now, locked_until=None)
            .on_conflict_do_nothing(index_elements=["key"]))
        return session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)

    def _forget_old(self, session: Session, now: dt.datetime) -> None:
        quiet = max(rules.forget_after_s for rules in self.rules.values())
        session.execute(delete(LoginThrottle).where(and_(
            LoginThrottle.last_failure_at < now - dt.timedelta(seconds=quiet),
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now))))
        session.flush()

