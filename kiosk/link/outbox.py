"""The terminal's crash-proof outbox: accepted packets are sealed, stored durably, and queued.

`Outbox.accept(manifest, files)` fills in packet id, case number, terminal, site and time,
seals the packet (protocol/packet.py) and returns only once both the sealed file and the row that
points to it are on disk: the receipt is printed after it returns. Layout under state_dir:

  outbox.db            SQLite, WAL, synchronous=FULL (rows: state, attempts, backoff, errors)
  outbox/<id>.kpkt     sealed packets (readable only by the back office)

Crash safety: `accept` holds the database write lock from issuing the case number until the
commit; inside it the sealed file is written to a temp name, fsynced, renamed and the
directory fsynced BEFORE the row is inserted. A crash before the commit leaves at most an
orphan file (swept at the next start, under the same lock) and no issued number; a crash
after it leaves a complete packet. The uploader (kiosk.link.uploader) moves rows
pending -> in_flight -> acknowledged (file deleted at once, row purged after the retention)
or dead (permanent refusal; `retry` brings it back). No personal data is stored in clear.

Case numbers are `<terminal>-<YYYYMMDD>-<installation>-<seq>` (protocol.packet.CASE_NUMBER): the
sequence counts per day, the installation is four random base-32 characters drawn with the
first number and kept in outbox.db next to the sequence. A state directory lost and rebuilt
with the same keys restarts the sequence, but with another installation, so it does not issue
numbers the back office already has (a one-in-a-million chance per rebuild; should it happen,
or a database be restored from an old backup, the back office's 409 `case.exists` makes the
uploader draw a new installation, `renew_installation`).

Packets leave in acceptance order. While the back office cannot be reached (`mark_unreachable`)
the whole queue waits, backing off from one try to the next, and only the oldest packet is
tried; the first packet it takes again, or a heartbeat it answers (`mark_reachable`), makes
every waiting packet due at once. A packet the back office answers with a server error
(`mark_failed`, not permanent) waits on its own backoff, so one packet the back office chokes
on does not hold up the others.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
import random
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uuid6

from kiosk.visit.case_numbers import (Accepted, case_number, new_installation,
                                      with_progress_token)
from protocol import packet as kp
from protocol.atomic import fsync_dir

log = logging.getLogger(__name__)

STATES = ("pending", "in_flight", "acknowledged", "dead")
CASE_REFERENCING_KINDS = ("supplement", "evaluation")
# A supplement or evaluation is not sent before the application of its case has left this
# outbox: backoff jitter may make it due first, and the back office refuses (422) a packet
# about a case it has not received yet.
SENDABLE = ("state='pending' AND NOT (kind IN ('supplement', 'evaluation') AND EXISTS ("
            "SELECT 1 FROM packets app WHERE app.kind='application' "
            "AND app.case_number=packets.case_number AND app.state IN ('pending', 'in_flight')))")
BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 900.0
SUFFIX = ".kpkt"
SCHEMA = """
CREATE TABLE IF NOT EXISTS packets (
    packet_id TEXT PRIMARY KEY,
    case_number TEXT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'acknowledged', 'dead')),
    file TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    accepted_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    acknowledged_at REAL,
    server_case_number TEXT
);
CREATE INDEX IF NOT EXISTS packets_due ON packets (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS case_sequences (
    day TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
QUEUE_FAILURES, QUEUE_RETRY_AT = "queue_failures", "queue_retry_at"   # outbox_meta keys


class OutboxError(Exception):
    """An outbox failure the UI can speak: `reason_key` names it."""

    reason_key = "outbox.error"


class OutboxFull(OutboxError):
    reason_key = "outbox.disk_full"


class UnknownPacket(OutboxError):
    reason_key = "outbox.unknown_packet"


class MissingCaseNumber(OutboxError):
    reason_key = "outbox.case_number_missing"


class NotEnrolled(OutboxError):
    reason_key = "outbox.not_enrolled"


@dataclass(frozen=True)
class QueuedPacket:
    """A packet due for upload: where its sealed bytes are and how often it was tried."""
    packet_id: str
    case_number: str | None
    kind: str
    path: Path
    attempts: int

    def read(self) -> bytes:
        return self.path.read_bytes()


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "full" in text or "disk i/o" in text
    return False


def _get_meta(db: sqlite3.Connection, key: str, default: str = "") -> str:
    row = db.execute("SELECT value FROM outbox_meta WHERE key=?", (key,)).fetchone()
    return default if row is None else row["value"]


def _set_meta(db: sqlite3.Connection, key: str, value) -> None:
    db.execute("INSERT INTO outbox_meta (key, value) VALUES (?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, str(value)))


def backoff_delay(attempts: int, rng: random.Random | None = None, base_s: float = BACKOFF_BASE_S,
                  cap_s: float = BACKOFF_CAP_S) -> float:
    """Seconds to wait after the n-th failed attempt: exponential, capped, half of it jittered."""
    rng = rng or random
    delay = min(base_s * 2 ** max(attempts - 1, 0), cap_s)
    return delay / 2 + rng.uniform(0, delay / 2)


class Outbox:
    def __init__(self, state_dir: Path, terminal_id: str, site_id: str, signing_key,
                 backoffice_public_key, retention_days: float = 7,
                 min_free_bytes: int = 200 * 2**20, *, recover: bool = True,
                 backoff_base_s: float = BACKOFF_BASE_S, backoff_cap_s: float = BACKOFF_CAP_S):
        """`recover=False` opens without the start-up sweep (for inspection tools)."""
        self.state_dir = Path(state_dir)
        self.files_dir = self.state_dir / "outbox"
        self.terminal_id = terminal_id
        self.site_id = site_id
        self.signing_key = signing_key
        self.recipient = backoffice_public_key
        self.retention_s = retention_days * 86400
        self.min_free_bytes = min_free_bytes
        self.backoff = (backoff_base_s, backoff_cap_s)
        self._lock = threading.RLock()
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.state_dir / "outbox.db", timeout=30,
                                   isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        if recover:
            self.recover()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self):
        """One write transaction holding SQLite's write lock (other processes wait)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise

    # ---- start-up ---------------------------------------------------------------------------

    def recover(self, now: float | None = None) -> dict:
        """In-flight -> pending, orphan and temp files removed, old acknowledged rows purged."""
        now = time.time() if now is None else now
        with self._write() as db:
            requeued = db.execute("UPDATE packets SET state='pending', next_attempt_at=? "
                                  "WHERE state='in_flight'", (now,)).rowcount
            live = {r["file"] for r in db.execute(
                "SELECT file FROM packets WHERE state IN ('pending', 'in_flight', 'dead')")}
            orphans = 0
            for path in self.files_dir.iterdir():
                if path.name not in live:
                    path.unlink(missing_ok=True)
                    orphans += 1
            missing = [r["packet_id"] for r in db.execute(
                "SELECT packet_id, file FROM packets WHERE state IN ('pending', 'dead')")
                if not (self.files_dir / r["file"]).exists()]
            for packet_id in missing:
                db.execute("UPDATE packets SET state='dead', last_error='sealed file missing' "
                           "WHERE packet_id=?", (packet_id,))
        if orphans:
            fsync_dir(self.files_dir)
        purged = self.purge(now)
        if requeued or orphans or missing or purged:
            log.info("outbox recovered requeued=%d orphans_removed=%d missing=%d purged=%d",
                     requeued, orphans, len(missing), purged)
        return {"requeued": requeued, "orphans_removed": orphans, "missing": len(missing),
                "purged": purged}

    def purge(self, now: float | None = None) -> int:
        """Forget acknowledged packets older than the retention."""
        now = time.time() if now is None else now
        with self._write() as db:
            return db.execute("DELETE FROM packets WHERE state='acknowledged' AND "
                              "acknowledged_at < ?", (now - self.retention_s,)).rowcount

    # ---- accepting ----------------------------------------------------------------------

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.state_dir).free

    def has_room(self) -> bool:
        try:
            return self.free_bytes() >= self.min_free_bytes
        except OSError:
            return False

    def accept(self, manifest: dict, files: dict[str, bytes]) -> Accepted:
        """Seal and durably queue one packet; returns once it survives a power cut.
        Raises OutboxFull (disk), MissingCaseNumber, NotEnrolled (no keys), or
        protocol.packet.PacketError (an inconsistent packet); nothing is stored then."""
        if self.recipient is None or self.signing_key is None:
            raise NotEnrolled("the terminal has no keys: enrol it with the back office first")
        if not self.has_room():
            log.warning("outbox refused packet: disk below %d free bytes", self.min_free_bytes)
            raise OutboxFull("not enough free disk space for the outbox")
        kind = manifest.get("kind")
        given_case = manifest.get("case_number")
        if kind in CASE_REFERENCING_KINDS and not given_case:
            raise MissingCaseNumber(f"a {kind} must name the case it belongs to")
        now = dt.datetime.now().astimezone()
        packet_id = str(uuid6.uuid7())
        manifest, token = with_progress_token(manifest)
        file_name = packet_id + SUFFIX
        tmp = self.files_dir / f".{packet_id}.tmp"
        final = self.files_dir / file_name
        try:
            with self._write() as db:
                case_number = given_case if kind != "application" else None
                if kind == "application":
                    case_number = self._issue_case_number(db, now)
                sealed_manifest = {**manifest, "packet_id": packet_id, "case_number": case_number,
                                   "terminal_id": self.terminal_id, "site_id": self.site_id,
                                   "created_at": now.isoformat(timespec="seconds")}
                blob = kp.seal_packet(sealed_manifest, files, self.signing_key, self.recipient)
                self._write_file(tmp, final, blob)
                db.execute("INSERT INTO packets (packet_id, case_number, kind, state, file, bytes, "
                           "accepted_at, next_attempt_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                           (packet_id, case_number, kind, file_name, len(blob), now.timestamp(),
                            now.timestamp()))
        except (OSError, sqlite3.Error) as exc:
            tmp.unlink(missing_ok=True)
            if self._row_exists(packet_id) is False:
                final.unlink(missing_ok=True)
            if _is_disk_full(exc):
                log.warning("outbox refused packet: disk full (%s)", type(exc).__name__)
                raise OutboxFull("the outbox could not store the packet: disk full") from exc
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
            raise
        log.info("outbox accepted kind=%s bytes=%d files=%d", kind, len(blob), len(files))
        return Accepted(packet_id, case_number or "", now, token)

    def _issue_case_number(self, db: sqlite3.Connection, now: dt.datetime) -> str:
        day = now.strftime("%Y%m%d")
        row = db.execute("SELECT last_seq FROM case_sequences WHERE day=?", (day,)).fetchone()
        seq = (row["last_seq"] if row else 0) + 1
        db.execute("INSERT INTO case_sequences (day, last_seq) VALUES (?, ?) "
                   "ON CONFLICT(day) DO UPDATE SET last_seq=excluded.last_seq", (day, seq))
        return case_number(self.terminal_id, day, self._installation(db), seq)

    @staticmethod
    def _installation(db: sqlite3.Connection, renew: bool = False) -> str:
        """This database's installation part of case numbers, drawn the first time."""
        value = _get_meta(db, "installation")
        if not value or renew:
            value = new_installation()
            _set_meta(db, "installation", value)
        return value

    def renew_installation(self) -> None:
        """Draw another installation part: the back office already has one of our numbers
        (a database restored from a backup, or a chance repeat after a rebuild)."""
        with self._write() as db:
            self._installation(db, renew=True)
        log.warning("outbox case numbers: new installation part drawn")

    def _write_file(self, tmp: Path, final: Path, blob: bytes) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        fsync_dir(self.files_dir)

    def _row_exists(self, packet_id: str) -> bool | None:
        try:
            with self._lock:
                return self._db.execute("SELECT 1 FROM packets WHERE packet_id=?",
                                        (packet_id,)).fetchone() is not None
        except sqlite3.Error:
            return None

    # ---- the uploader's side --------------------------------------------------------------

    def next_due(self, now: float | None = None) -> QueuedPacket | None:
        """The first accepted pending packet whose backoff has passed (see SENDABLE), or None
        while the queue waits for an unreachable back office."""
        now = time.time() if now is None else now
        with self._lock:
            if now < self._queue_retry_at():
                return None
            row = self._db.execute(
                "SELECT packet_id, case_number, kind, file, attempts FROM packets "
                f"WHERE {SENDABLE} AND next_attempt_at <= ? "
                "ORDER BY accepted_at, rowid LIMIT 1", (now,)).fetchone()
        if row is None:
            return None
        return QueuedPacket(row["packet_id"], row["case_number"], row["kind"],
                            self.files_dir / row["file"], row["attempts"])

    def seconds_until_due(self, now: float | None = None) -> float | None:
        """How long until the next pending packet is due (0 if now), None if nothing is pending."""
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) AS at FROM packets "
                                   f"WHERE {SENDABLE}").fetchone()
            retry_at = self._queue_retry_at()
        return None if row["at"] is None else max(row["at"] - now, retry_at - now, 0.0)

    def _queue_retry_at(self) -> float:
        return float(_get_meta(self._db, QUEUE_RETRY_AT, "0"))

    def queue_hold(self, now: float | None = None) -> dict:
        """{"failures", "retry_in_s"}: how often in a row the back office was not reached and
        how long the queue still waits (0: not waiting)."""
        now = time.time() if now is None else now
        with self._lock:
            failures = int(_get_meta(self._db, QUEUE_FAILURES, "0"))
            retry_at = self._queue_retry_at()
        return {"failures": failures, "retry_in_s": round(max(retry_at - now, 0.0), 1)}

    def mark_in_flight(self, packet_id: str) -> None:
        with self._write() as db:
            if db.execute("UPDATE packets SET state='in_flight', attempts=attempts+1 "
                          "WHERE packet_id=? AND state IN ('pending', 'in_flight')",
                          (packet_id,)).rowcount != 1:
                raise UnknownPacket("no pending packet with that id")

    def mark_acknowledged(self, packet_id: str, case_number_from_server: str | None = None,
                          now: float | None = None) -> None:
        """The back office has it: delete the sealed file at once, keep the row a while."""
        now = time.time() if now is None else now
        with self._write() as db:
            row = db.execute("SELECT file, case_number FROM packets WHERE packet_id=?",
                             (packet_id,)).fetchone()
            if row is None:
                raise UnknownPacket("no packet with that id")
            db.execute("UPDATE packets SET state='acknowledged', acknowledged_at=?, "
                       "server_case_number=?, last_error=NULL WHERE packet_id=?",
                       (now, case_number_from_server, packet_id))
            released = self._release_queue(db, now)
        if released is not None:
            log.info("back office reached again: %d waiting packets due", released)
        if case_number_from_server and row["case_number"] and \
                case_number_from_server != row["case_number"]:
            log.warning("back office answered another case number packet=%s", packet_id)
        (self.files_dir / row["file"]).unlink(missing_ok=True)
        fsync_dir(self.files_dir)
        self.purge(now)

    def mark_reachable(self, now: float | None = None) -> None:
        """The back office answered (a heartbeat): if the queue was waiting for it, every
        waiting packet is due now."""
        now = time.time() if now is None else now
        with self._write() as db:
            released = self._release_queue(db, now)
        if released is not None:
            log.info("back office reached again: %d waiting packets due", released)

    @staticmethod
    def _release_queue(db: sqlite3.Connection, now: float) -> int | None:
        """After the back office was not reached: every waiting packet is due now (their
        count), the queue's backoff starts again. None when the queue was not waiting."""
        if not int(_get_meta(db, QUEUE_FAILURES, "0")):
            return None
        _set_meta(db, QUEUE_FAILURES, 0)
        _set_meta(db, QUEUE_RETRY_AT, 0)
        return db.execute("UPDATE packets SET next_attempt_at=? WHERE state='pending' AND "
                          "next_attempt_at > ?", (now, now)).rowcount

    def mark_unreachable(self, packet_id: str | None, error: str,
                         now: float | None = None) -> float:
        """The back office was not reached (network, 503, ...) trying `packet_id` (None: its
        server kept failing): the whole queue waits, the delay doubling at each failure in a
        row; the packet keeps its place. Returns the seconds the queue waits."""
        now = time.time() if now is None else now
        error = str(error)[:200]
        with self._write() as db:
            if packet_id is not None and db.execute(
                    "UPDATE packets SET state='pending', last_error=? WHERE packet_id=? AND "
                    "state IN ('pending', 'in_flight')", (error, packet_id)).rowcount != 1:
                raise UnknownPacket("no pending packet with that id")
            failures = int(_get_meta(db, QUEUE_FAILURES, "0")) + 1
            delay = backoff_delay(failures, None, *self.backoff)
            _set_meta(db, QUEUE_FAILURES, failures)
            _set_meta(db, QUEUE_RETRY_AT, now + delay)
        log.info("back office not reached failures=%d error=%s next_try_in_s=%.1f", failures,
                 error, delay)
        return delay

    def mark_failed(self, packet_id: str, error: str, permanent: bool,
                    now: float | None = None) -> None:
        """A failed upload: permanent -> dead (kept for `retry`), otherwise back off.
        `error` must be a short PII-free reason (an HTTP status and reason key, an exception name)."""
        now = time.time() if now is None else now
        error = str(error)[:200]
        with self._write() as db:
            row = db.execute("SELECT attempts FROM packets WHERE packet_id=?",
                             (packet_id,)).fetchone()
            if row is None:
                raise UnknownPacket("no packet with that id")
            if permanent:
                db.execute("UPDATE packets SET state='dead', last_error=? WHERE packet_id=?",
                           (error, packet_id))
            else:
                db.execute("UPDATE packets SET state='pending', last_error=?, next_attempt_at=? "
                           "WHERE packet_id=?",
                           (error, now + backoff_delay(max(row["attempts"], 1), None, *self.backoff), packet_id))
        if permanent:
            log.warning("outbox packet dead packet=%s error=%s", packet_id, error)
        else:
            log.info("outbox upload failed packet=%s attempts=%d error=%s", packet_id,
                     row["attempts"], error)

    def retry(self, packet_id: str | None = None, now: float | None = None) -> int:
        """Make one packet (dead or pending) or, with None, every dead packet due now (also
        when the queue waits for an unreachable back office)."""
        now = time.time() if now is None else now
        with self._write() as db:
            _set_meta(db, QUEUE_RETRY_AT, 0)                    # try now, however it went
            if packet_id is None:
                count = db.execute("UPDATE packets SET state='pending', attempts=0, "
                                   "next_attempt_at=? WHERE state='dead'", (now,)).rowcount
            else:
                count = db.execute("UPDATE packets SET state='pending', attempts=0, "
                                   "next_attempt_at=? WHERE packet_id=? AND state IN "
                                   "('dead', 'pending')", (now, packet_id)).rowcount
        if count:
            log.info("outbox retry packets=%d", count)
        return count

    # ---- inspection ---------------------------------------------------------------------

    def depth(self) -> int:
        """Packets not yet delivered (pending and in flight)."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM packets WHERE state IN "
                                    "('pending', 'in_flight')").fetchone()[0]

    def status(self, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        with self._lock:
            counts = dict(self._db.execute("SELECT state, COUNT(*) FROM packets GROUP BY state"))
            oldest = self._db.execute("SELECT MIN(accepted_at) FROM packets WHERE state IN "
                                      "('pending', 'in_flight')").fetchone()[0]
        out = {state: counts.get(state, 0) for state in STATES}
        out["oldest_pending_age_s"] = None if oldest is None else round(max(now - oldest, 0), 1)
        return out

    def list(self, limit: int = 50, state: str | None = None) -> list[dict]:
        """Newest first: ids, case numbers, states, attempts and errors (nothing personal)."""
        query = ("SELECT packet_id, case_number, kind, state, bytes, accepted_at, attempts, "
                 "next_attempt_at, last_error, acknowledged_at, server_case_number FROM packets")
        args: tuple = ()
        if state is not None:
            query += " WHERE state=?"
            args = (state,)
        query += " ORDER BY accepted_at DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*args, int(limit))).fetchall()
        return [dict(r) for r in rows]

    def get(self, packet_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM packets WHERE packet_id=?",
                                   (packet_id,)).fetchone()
        return None if row is None else dict(row)

    def sealed_path(self, packet_id: str) -> Path | None:
        row = self.get(packet_id)
        if row is None or row["state"] == "acknowledged":
            return None
        return self.files_dir / row["file"]
