"""The outbox's queue: the rows of outbox.db and the sealed files they point to.

`PacketQueue` is what the uploader works on: `next_due` gives the oldest packet that may be
sent now, and `mark_in_flight` / `mark_acknowledged` / `mark_unreachable` / `mark_failed`
move its row pending -> in_flight -> acknowledged (file deleted at once, row purged after the
retention) or dead (permanent refusal; `retry` brings it back). It repairs the queue after a
crash (`recover`). Accepting a new packet (its case number, sealing, storing) is the outbox's
part: kiosk.link.outbox.Outbox is a PacketQueue (its docstring shows the files).

Packets leave in acceptance order. While the back office cannot be reached (`mark_unreachable`)
the whole queue waits, backing off from one try to the next, and only the oldest packet is
tried; the first packet it takes again, or a heartbeat it answers (`mark_reachable`), makes
every waiting packet due at once. A packet the back office answers with a server error
(`mark_failed`, not permanent) waits on its own backoff, so one packet the back office chokes
on does not hold up the others. Nothing personal is stored in a row.
"""
from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

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


class UnknownPacket(OutboxError):
    reason_key = "outbox.unknown_packet"


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


def get_meta(db: sqlite3.Connection, key: str, default: str = "") -> str:
    """A value of the outbox_meta table (queue backoff, the case numbers' installation)."""
    row = db.execute("SELECT value FROM outbox_meta WHERE key=?", (key,)).fetchone()
    return default if row is None else row["value"]


def set_meta(db: sqlite3.Connection, key: str, value) -> None:
    db.execute("INSERT INTO outbox_meta (key, value) VALUES (?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, str(value)))


def backoff_delay(attempts: int, rng: random.Random | None = None, base_s: float = BACKOFF_BASE_S,
                  cap_s: float = BACKOFF_CAP_S) -> float:
    """Seconds to wait after the n-th failed attempt: exponential, capped, half of it jittered."""
    rng = rng or random
    delay = min(base_s * 2 ** max(attempts - 1, 0), cap_s)
    return delay / 2 + rng.uniform(0, delay / 2)


class PacketQueue:
    def __init__(self, state_dir: Path, retention_days: float = 7, *,
                 backoff_base_s: float = BACKOFF_BASE_S, backoff_cap_s: float = BACKOFF_CAP_S):
        self.state_dir = Path(state_dir)
        self.files_dir = self.state_dir / "outbox"
        self.retention_s = retention_days * 86400
        self.backoff = (backoff_base_s, backoff_cap_s)
        self._lock = threading.RLock()
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.state_dir / "outbox.db", timeout=30,
                                   isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self):
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
        with self.transaction() as db:
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
        with self.transaction() as db:
            return db.execute("DELETE FROM packets WHERE state='acknowledged' AND "
                              "acknowledged_at < ?", (now - self.retention_s,)).rowcount

    # ---- new rows (inside the outbox's accepting transaction) ------------------------------

    @staticmethod
    def add_pending(db: sqlite3.Connection, packet_id: str, case: str | None, kind: str,
                    file_name: str, size: int, at: float) -> None:
        """Queue a stored packet, due at once (inside a `transaction()`)."""
        db.execute("INSERT INTO packets (packet_id, case_number, kind, state, file, bytes, "
                   "accepted_at, next_attempt_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                   (packet_id, case, kind, file_name, size, at, at))

    def has_packet(self, packet_id: str) -> bool | None:
        """Whether a row names `packet_id`; None when the database cannot tell."""
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
        return float(get_meta(self._db, QUEUE_RETRY_AT, "0"))

    def queue_hold(self, now: float | None = None) -> dict:
        """{"failures", "retry_in_s"}: how often in a row the back office was not reached and
        how long the queue still waits (0: not waiting)."""
        now = time.time() if now is None else now
        with self._lock:
            failures = int(get_meta(self._db, QUEUE_FAILURES, "0"))
            retry_at = self._queue_retry_at()
        return {"failures": failures, "retry_in_s": round(max(retry_at - now, 0.0), 1)}

    def mark_in_flight(self, packet_id: str) -> None:
        with self.transaction() as db:
            if db.execute("UPDATE packets SET state='in_flight', attempts=attempts+1 "
                          "WHERE packet_id=? AND state IN ('pending', 'in_flight')",
                          (packet_id,)).rowcount != 1:
                raise UnknownPacket("no pending packet with that id")

    def mark_acknowledged(self, packet_id: str, case_number_from_server: str | None = None,
                          now: float | None = None) -> None:
        """The back office has it: delete the sealed file at once, keep the row a while."""
        now = time.time() if now is None else now
        with self.transaction() as db:
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
        with self.transaction() as db:
            released = self._release_queue(db, now)
        if released is not None:
            log.info("back office reached again: %d waiting packets due", released)

    @staticmethod
    def _release_queue(db: sqlite3.Connection, now: float) -> int | None:
        """After the back office was not reached: every waiting packet is due now (their
        count), the queue's backoff starts again. None when the queue was not waiting."""
        if not int(get_meta(db, QUEUE_FAILURES, "0")):
            return None
        set_meta(db, QUEUE_FAILURES, 0)
        set_meta(db, QUEUE_RETRY_AT, 0)
        return db.execute("UPDATE packets SET next_attempt_at=? WHERE state='pending' AND "
                          "next_attempt_at > ?", (now, now)).rowcount

    def mark_unreachable(self, packet_id: str | None, error: str,
                         now: float | None = None) -> float:
        """The back office was not reached (network, 503, ...) trying `packet_id` (None: its
        server kept failing): the whole queue waits, the delay doubling at each failure in a
        row; the packet keeps its place. Returns the seconds the queue waits."""
        now = time.time() if now is None else now
        error = str(error)[:200]
        with self.transaction() as db:
            if packet_id is not None and db.execute(
                    "UPDATE packets SET state='pending', last_error=? WHERE packet_id=? AND "
                    "state IN ('pending', 'in_flight')", (error, packet_id)).rowcount != 1:
                raise UnknownPacket("no pending packet with that id")
            failures = int(get_meta(db, QUEUE_FAILURES, "0")) + 1
            delay = backoff_delay(failures, None, *self.backoff)
            set_meta(db, QUEUE_FAILURES, failures)
            set_meta(db, QUEUE_RETRY_AT, now + delay)
        log.info("back office not reached failures=%d error=%s next_try_in_s=%.1f", failures,
                 error, delay)
        return delay

    def mark_failed(self, packet_id: str, error: str, permanent: bool,
                    now: float | None = None) -> None:
        """A failed upload: permanent -> dead (kept for `retry`), otherwise back off.
        `error` must be a short PII-free reason (an HTTP status and reason key, an exception name)."""
        now = time.time() if now is None else now
        error = str(error)[:200]
        with self.transaction() as db:
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
        with self.transaction() as db:
            set_meta(db, QUEUE_RETRY_AT, 0)                    # try now, however it went
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
