"""The database's schema, kept by Alembic migrations (backoffice/migrations): create it, upgrade
it, say where it stands. Nothing else creates or alters tables; the app does not either.

- `upgrade(url, revision="head")` brings a database to a revision (an empty one gets every
  table). A database made by an older back office's `create_all` (its tables but no
  `alembic_version`) is recognised by the tables and columns it has, stamped with the revision
  they match, then upgraded: its cases stay. Concurrent upgraders wait for one another (SQLite:
  `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock), and each upgrade is one transaction on both
  engines, so one that fails halfway leaves the database as it was.
- `current_revision(url)`, `head_revision()`: where the database is, where this build is.
- `require_current_schema(url)`: what `backoffice serve` calls before serving; raises
  `SchemaBehind` (which names the command to run, `backoffice db upgrade`) when the database is
  behind, `SchemaError` when it cannot be read or is ahead of this build.
Databases are named in messages and logs without their password.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.util import CommandError
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "backoffice db upgrade"
ONE_TRANSACTION = {"transactional_ddl": True}   # true on both engines here (see _connect)
PG_LOCK_KEY = 0x6B696F736B0D0B01   # any fixed 64-bit number: "only one upgrader at a time"
# the tables of the first release (migration 0001); a database with all of them and no
# alembic_version was made by `create_all`
FIRST_TABLES = frozenset({
    "terminals", "enrolment_tokens", "request_nonces", "packets", "cases", "case_events",
    "case_files", "supplement_requests", "help_requests", "rejections", "reviewers",
    "console_sessions"})


class SchemaError(Exception):
    """The database's schema cannot be used or changed; the message says why and what to do."""
    reason_key = "backoffice.schema.error"


class SchemaBehind(SchemaError):
    """The database is behind this build: run `backoffice db upgrade`."""
    reason_key = "backoffice.schema.behind"


def safe_name(url: str) -> str:
    """The database URL without its password (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable database URL)"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Connection]:
    """One connection in one transaction that holds the upgraders' lock (see the docstring)."""
    try:
        sqlite = make_url(url).get_backend_name() == "sqlite"
        engine = create_engine(url, poolclass=NullPool,
                               connect_args={"timeout": 30} if sqlite else {})
    except ArgumentError:       # its text would repeat the URL, password included
        raise SchemaError("the database URL cannot be read: check BACKOFFICE_DATABASE_URL "
                          "(e.g. postgresql+psycopg://user:password@host/dbname)") from None
    except ImportError as exc:  # the URL names a driver that is not installed
        raise SchemaError(f"cannot open the database {safe_name(url)}: {exc}") from None
    if sqlite:     # the driver's own transaction handling off: DDL inside our transaction
        @event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn
    except SQLAlchemyError as exc:
        raise SchemaError(f"cannot reach or change the database {safe_name(url)} "
                          f"({type(getattr(exc, 'orig', None) or exc).__name__}): check "
                          "BACKOFFICE_DATABASE_URL and that the database server runs") from None
    except CommandError as exc:     # e.g. a revision this build does not know
        raise SchemaError(f"the database {safe_name(url)}: {exc}") from None
    finally:
        engine.dispose()


def _made_by_create_all(conn: Connection) -> str | None:
    """The revision whose schema a database without alembic_version has (None: no tables)."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables or not tables:
        return None
    if not FIRST_TABLES <= tables:
        raise SchemaError(f"the database has tables ({', '.join(sorted(tables))[:200]}) but not "
                          "those of any back-office release: is it another program's database?")

    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspector.get_columns(table)}

    if "published_updates" not in tables:
        return "0001"
    if "heartbeat_samples" not in tables:
        return "0002"
    if "audit_log" not in tables or "role" not in columns("reviewers"):
        return "0003"
    if "progress_token_hash" not in columns("cases"):
        return "0004"
    return "0005"


def _state(conn: Connection) -> tuple[str | None, bool]:
    """(revision, recorded): recorded is False for a database made by `create_all`."""
    made = _made_by_create_all(conn)
    if made is not None:
        return made, False
    return MigrationContext.configure(conn, opts=ONE_TRANSACTION).get_current_revision(), True


def current_revision(url: str) -> str | None:
    """The database's revision (for a `create_all` database, the one its tables match); None
    for a database without the back office's tables."""
    with _connect(url) as conn:
        return _state(conn)[0]


def upgrade(url: str, revision: str = "head") -> str:
    """Bring the database at `url` to `revision`; returns the revision it is at afterwards."""
    with _connect(url) as conn:
        before, recorded = _state(conn)
        config = _config(conn)
        if not recorded:
            command.stamp(config, before)
            log.info("database %s: made before migrations, recognised as revision %s",
                     safe_name(url), before)
        command.upgrade(config, revision)
        after = MigrationContext.configure(conn, opts=ONE_TRANSACTION).get_current_revision()
    if after != before:
        log.info("database %s: schema upgraded from %s to %s", safe_name(url), before or "empty",
                 after)
    return after


def downgrade(url: str, revision: str) -> str:
    """Take the database back to `revision` (what a later migration added is dropped)."""
    with _connect(url) as conn:
        before, recorded = _state(conn)
        config = _config(conn)
        if not recorded:
            command.stamp(config, before)
        command.downgrade(config, revision)
        return MigrationContext.configure(conn, opts=ONE_TRANSACTION).get_current_revision()


def require_current_schema(url: str) -> str:
    """Return the head revision when the database is at it; raise SchemaBehind (saying which
    command to run) when it is behind or empty, SchemaError when it cannot be read or is at a
    revision this build does not know (made by a newer back office)."""
    head = head_revision()
    with _connect(url) as conn:
        revision, recorded = _state(conn)
    if revision == head and recorded:
        return head
    name = safe_name(url)
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if revision is not None and revision not in known:
        raise SchemaError(f"the database {name} is at schema revision {revision}, which this "
                          f"back office does not know (its newest is {head}): was it upgraded "
                          "by a newer version? Run that version, or restore a backup")
    where = ("has no back-office tables" if revision is None else
             f"is at schema revision {revision}" if recorded else
             f"was made before migrations (its tables are those of revision {revision}; no "
             "revision recorded)")
    raise SchemaBehind(f"the database {name} {where}; this back office needs revision {head}. "
                       f"Run `{UPGRADE_COMMAND}` (with the same --data-dir or "
                       "BACKOFFICE_DATABASE_URL), then start it again")
