"""The back office's database: SQLAlchemy 2.0 models and a small `Database` handle.

Portable SQL only (SQLite by default, PostgreSQL by URL). The tables are made and changed only
by the Alembic migrations (backoffice/migrations, run by backoffice/schema.py), never at start.
Personal data kept here: a case's manifest is stored ENCRYPTED (`manifest_enc`, see vault.py);
the applicant's ID number only as a keyed hash (`id_hash`) for lookup, and a masked name
(e.g. "张*") for lists. Rejections and events carry no personal data.

SQLite runs in WAL mode with `synchronous=FULL`: every commit is on disk before the terminal
is answered (NORMAL could lose the last commits in a power cut, after the terminal deleted
its copy); PostgreSQL's default synchronous commit is as safe.

No correctness rests on anything held in this process (several processes share one database):
uniqueness is the database's (unique constraints, `INSERT ... ON CONFLICT`, see `insert()`), and
read-modify-write takes row locks (`SELECT ... FOR UPDATE`). On SQLite, which has no row locks,
`write()` opens its transaction with `BEGIN IMMEDIATE`: writers, in this process or another, take
the database's write lock before they read, wait for it (busy timeout 30 s) and never fail with
"database is locked"; reads are never blocked (WAL). On PostgreSQL every connection speaks UTC,
and a NUL character in a text parameter becomes U+FFFD (PostgreSQL refuses NUL in text; nothing
legitimate carries one) instead of failing the request; a lookup by it still finds nothing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from typing import Iterator

from sqlalchemy import (JSON, DateTime, ForeignKey, Integer, LargeBinary, String, Text,
                        UniqueConstraint, create_engine, event)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker


# the largest value of an Integer column (PostgreSQL's int4): a larger id asked for is no row
MAX_INTEGER = 2**31 - 1


def storable_int(value: int) -> bool:
    """Whether `value` fits an Integer column on every engine (a lookup by it cannot fail)."""
    return -MAX_INTEGER - 1 <= value <= MAX_INTEGER


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UtcDateTime(DateTime):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the offset)."""

    def __init__(self):
        super().__init__(timezone=True)


class Base(DeclarativeBase):
    pass


class Terminal(Base):
    __tablename__ = "terminals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64), default="")
    public_key: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_heartbeat: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    last_heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class EnrolmentToken(Base):
    __tablename__ = "enrolment_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class RequestNonce(Base):
    __tablename__ = "request_nonces"
    __table_args__ = (UniqueConstraint("terminal_id", "nonce"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class Packet(Base):
    __tablename__ = "packets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(64), unique=True)
    terminal_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    case_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    response: Mapped[dict] = mapped_column(JSON)
    manifest_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(64), unique=True)
    matter_code: Mapped[str] = mapped_column(String(64), index=True)
    matter_name: Mapped[str] = mapped_column(String(200))
    terminal_id: Mapped[str] = mapped_column(String(64), index=True)
    site_id: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(32), index=True)
    id_hash: Mapped[str] = mapped_column(String(64), index=True)
    applicant_masked: Mapped[str] = mapped_column(String(64), default="")
    manifest_enc: Mapped[bytes] = mapped_column(LargeBinary)
    evaluation: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # SHA-256 (hex) of the receipt's progress token; None for cases sent before tokens existed
    progress_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    events: Mapped[list["CaseEvent"]] = relationship(order_by="CaseEvent.id", back_populates="case")
    files: Mapped[list["CaseFile"]] = relationship(order_by="CaseFile.id", back_populates="case")
    supplements: Mapped[list["SupplementRequest"]] = relationship(
        order_by="SupplementRequest.id", back_populates="case")


class CaseEvent(Base):
    """One line of the case's full trace (全程留痕)."""
    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    case: Mapped[Case] = relationship(back_populates="events")


class CaseFile(Base):
    __tablename__ = "case_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    packet_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    storage_key: Mapped[str] = mapped_column(String(200))
    case: Mapped[Case] = relationship(back_populates="files")


class SupplementRequest(Base):
    __tablename__ = "supplement_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(100))
    materials: Mapped[list] = mapped_column(JSON)
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    fulfilled_packet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case: Mapped[Case] = relationship(back_populates="supplements")


class HelpRequest(Base):
    __tablename__ = "help_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(64), unique=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(200), default="")
    step: Mapped[str] = mapped_column(String(100), default="")
    case_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    handled_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class PublishedUpdate(Base):
    """A signed catalogue or site-profile bundle (protocol/updates.py); `site` "" = all sites."""
    __tablename__ = "published_updates"
    __table_args__ = (UniqueConstraint("kind", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    site: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    files: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200))


class HeartbeatSample(Base):
    """The outbox depth of a terminal's recent heartbeats (a short history, see alarms.py)."""
    __tablename__ = "heartbeat_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    pending: Mapped[int] = mapped_column(Integer)


class Rejection(Base):
    """A refused terminal request. No personal data: terminal id as claimed, endpoint, reason."""
    __tablename__ = "rejections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    terminal_id: Mapped[str] = mapped_column(String(64), default="")
    endpoint: Mapped[str] = mapped_column(String(100))
    status_code: Mapped[int] = mapped_column(Integer)
    reason_key: Mapped[str] = mapped_column(String(100))
    packet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Reviewer(Base):
    """A console account; `role` is "reviewer" (decides cases) or "admin" (also tokens,
    revocations, publishing, accounts). Databases made before roles got the column from migration
    0004, every existing account a reviewer (`backoffice reviewer role NAME admin` makes an admin)."""
    __tablename__ = "reviewers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    role: Mapped[str] = mapped_column(String(16), default="reviewer", server_default="reviewer")


class LoginThrottle(Base):
    """Failed console logins of one key ("account:<sha256 of the name>" or "address:<ip>"),
    shared by every back-office process through the database (login_guard.py)."""
    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AuditEntry(Base):
    """Append-only audit log (audit.py): who did what, when, to which case or target. Only
    ever inserted; on SQLite triggers refuse UPDATE and DELETE. No passwords, no personal data."""
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    case_number: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    target: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    reviewer: Mapped[Reviewer] = relationship()


@event.listens_for(Base, "load", propagate=True)
def _make_datetimes_aware(target, _context) -> None:
    for column in target.__table__.columns:
        if isinstance(column.type, DateTime):
            value = target.__dict__.get(column.key)
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                target.__dict__[column.key] = value.replace(tzinfo=dt.timezone.utc)
            elif isinstance(value, dt.datetime) and value.utcoffset():
                target.__dict__[column.key] = value.astimezone(dt.timezone.utc)


def _without_nul(value):
    """A statement parameter with each NUL of its strings replaced by U+FFFD (PostgreSQL only)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(v) for v in value)
    return value


def _sqlite_transactions(engine) -> None:
    """WAL, synchronous=FULL, foreign keys; and transactions begun by SQLAlchemy, not by
    pysqlite (which would begin only at the first write, too late to take the write lock
    before reading): `BEGIN IMMEDIATE` on connections with execution option
    sqlite_begin="IMMEDIATE", plain (deferred) `BEGIN` otherwise."""
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None      # no implicit BEGIN by pysqlite
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")   # a 201 survives a power cut
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


class Database:
    """Engine + session factory for one database URL; `write()` is the only way to change it."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgresql = url.startswith("postgresql")
        if self.is_sqlite:
            connect_args = {"timeout": 30, "check_same_thread": False}
        elif self.is_postgresql:
            connect_args = {"options": "-c TimeZone=UTC"}
        else:
            connect_args = {}
        self.engine = create_engine(url, connect_args=connect_args, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            _sqlite_transactions(self.engine)
        if self.is_postgresql:
            @event.listens_for(self.engine, "before_cursor_execute", retval=True)
            def _no_nul(_conn, _cursor, statement, parameters, _context, _executemany):
                return statement, _without_nul(parameters)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # writes on SQLite: BEGIN IMMEDIATE (see _sqlite_transactions)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite
            else self.engine, expire_on_commit=False)

    def insert(self, model):
        """`INSERT` of this database's dialect, with `.on_conflict_do_nothing()` and
        `.on_conflict_do_update()` (SQLite and PostgreSQL)."""
        return (sqlite if self.is_sqlite else postgresql).insert(model)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error. On SQLite it holds the
        database's write lock from its first statement (BEGIN IMMEDIATE); on PostgreSQL what
        it reads and then changes must be read `with_for_update()`."""
        with self._write_sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
