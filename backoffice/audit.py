"""The append-only audit log: every reviewer and administrator action, with who, when, what and
which case (or which terminal, account or update).

`record()` adds a row in the caller's session, so an action and its audit line are committed
(or rolled back) together; nothing in the code updates or deletes a row, and on SQLite
triggers refuse UPDATE and DELETE on `audit_log` (db.py). Logins go in too (succeeded,
failed, refused while throttled), as do admin actions from the `backoffice` CLI (actor
`cli:<OS user>`). No passwords and no applicant data: an unknown login name is written as
"unknown account" (it may be a password typed into the wrong field).

Actions: login.ok, login.failed, login.throttled, logout, case.<workflow action>,
help.handled, token.create, terminal.revoke, reviewer.add, reviewer.role, publish.<kind>,
audit.export. `export()` writes entries as CSV or JSON lines (`backoffice audit export`,
`/console/audit.csv`).
"""
from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import json
import logging
from typing import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.db import AuditEntry, Database, utcnow

log = logging.getLogger(__name__)
FIELDS = ("id", "at", "actor", "action", "case_number", "target", "detail", "address")
FORMATS = ("csv", "jsonl")


def cli_actor() -> str:
    """The actor of a `backoffice` command: the OS account that ran it."""
    try:
        return f"cli:{getpass.getuser()}"[:100]
    except (KeyError, OSError):
        return "cli:unknown"


def record(session: Session, actor: str, action: str, *, case_number: str | None = None,
           target: str = "", detail: str = "", address: str = "") -> None:
    """Add one audit line to `session` (committed with the action it records)."""
    session.add(AuditEntry(at=utcnow(), actor=actor[:100], action=action[:60],
                           case_number=case_number, target=(target or "")[:100],
                           detail=(detail or "")[:500], address=(address or "")[:64]))


def record_now(db: Database, actor: str, action: str, **fields) -> None:
    """An audit line in its own transaction (for events that change nothing else)."""
    with db.write() as session:
        record(session, actor, action, **fields)


def for_case(db: Database, case_number: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.case_number == case_number)
                                    .order_by(AuditEntry.id)))


def entries(db: Database, since: dt.datetime | None = None, batch: int = 1000
            ) -> Iterator[AuditEntry]:
    """Every entry (from `since`), oldest first, read in batches."""
    last = 0
    while True:
        query = select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        with db.read() as session:
            rows = list(session.scalars(query))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].id


def as_row(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": entry.at.isoformat(timespec="seconds"), "actor": entry.actor,
            "action": entry.action, "case_number": entry.case_number or "",
            "target": entry.target, "detail": entry.detail, "address": entry.address}


def export(rows: Iterable[AuditEntry], fmt: str) -> Iterator[str]:
    """The entries as CSV (with a header line) or JSON lines, piece by piece."""
    if fmt == "jsonl":
        for entry in rows:
            yield json.dumps(as_row(entry), ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for entry in rows:
        writer.writerow({k: _no_formula(v) for k, v in as_row(entry).items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _no_formula(value):
    """Spreadsheets run a cell starting with = + - @ as a formula: quote it (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
