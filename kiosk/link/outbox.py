"""The terminal's crash-proof outbox: accepted packets are sealed, stored durably, and queued.

`Outbox.accept(manifest, files)` fills in packet id, case number, terminal, site and time,
seals the packet (protocol/packet.py) and returns only once both the sealed file and the row that
points to it are on disk: the receipt is printed after it returns. The rows, the queue's order
and backoff and the uploader's side are the PacketQueue's (kiosk/link/packet_queue.py), which
the Outbox is. Layout under state_dir:

  outbox.db            SQLite, WAL, synchronous=FULL (rows: state, attempts, backoff, errors)
  outbox/<id>.kpkt     sealed packets (readable only by the back office)

Crash safety: `accept` holds the database write lock from issuing the case number until the
commit; inside it the sealed file is written with protocol.atomic.write_atomic (temp file,
fsync, rename, directory fsync) BEFORE the row is inserted. A crash before the commit leaves
at most an orphan file (swept at the next start, under the same lock) and no issued number; a
crash after it leaves a complete packet. The uploader (kiosk.link.uploader) then moves rows
pending -> in_flight -> acknowledged or dead. No personal data is stored in clear.

Case numbers are `<terminal>-<YYYYMMDD>-<installation>-<seq>` (protocol.packet.CASE_NUMBER,
kiosk.visit.case_numbers): the sequence counts per day, the installation is four random
base-32 characters drawn with the first number and kept in outbox.db next to the sequence. A
state directory lost and rebuilt with the same keys restarts the sequence, but with another
installation, so it does not issue numbers the back office already has (a one-in-a-million
chance per rebuild; should it happen, or a database be restored from an old backup, the back
office's 409 `case.exists` makes the uploader draw a new installation, `renew_installation`).
"""
from __future__ import annotations

import datetime as dt
import errno
import logging
import shutil
import sqlite3
from pathlib import Path

import uuid6

from kiosk.link.packet_queue import (BACKOFF_BASE_S, BACKOFF_CAP_S, CASE_REFERENCING_KINDS,
                                     STATES, SUFFIX, OutboxError, PacketQueue, QueuedPacket,
                                     UnknownPacket, backoff_delay, get_meta, set_meta)
from kiosk.visit.case_numbers import (Accepted, case_number, new_installation,
                                      with_progress_token)
from protocol import packet as kp
from protocol.atomic import write_atomic

log = logging.getLogger(__name__)

# what callers of the outbox use, wherever it is defined
__all__ = ["Accepted", "BACKOFF_BASE_S", "BACKOFF_CAP_S", "STATES", "MissingCaseNumber",
           "NotEnrolled", "Outbox", "OutboxError", "OutboxFull", "QueuedPacket", "UnknownPacket",
           "backoff_delay"]


class OutboxFull(OutboxError):
    reason_key = "outbox.disk_full"


class MissingCaseNumber(OutboxError):
    reason_key = "outbox.case_number_missing"


class NotEnrolled(OutboxError):
    reason_key = "outbox.not_enrolled"


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "full" in text or "disk i/o" in text
    return False


class Outbox(PacketQueue):
    def __init__(self, state_dir: Path, terminal_id: str, site_id: str, signing_key,
                 backoffice_public_key, retention_days: float = 7,
                 min_free_bytes: int = 200 * 2**20, *, recover: bool = True,
                 backoff_base_s: float = BACKOFF_BASE_S, backoff_cap_s: float = BACKOFF_CAP_S):
        """`recover=False` opens without the start-up sweep (for inspection tools)."""
        super().__init__(state_dir, retention_days, backoff_base_s=backoff_base_s,
                         backoff_cap_s=backoff_cap_s)
        self.terminal_id = terminal_id
        self.site_id = site_id
        self.signing_key = signing_key
        self.recipient = backoffice_public_key
        self.min_free_bytes = min_free_bytes
        if recover:
            self.recover()

    def __enter__(self) -> "Outbox":
        return self

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
        final = self.files_dir / file_name
        try:
            with self.transaction() as db:
                case = given_case if kind != "application" else None
                if kind == "application":
                    case = self._issue_case_number(db, now)
                sealed_manifest = {**manifest, "packet_id": packet_id, "case_number": case,
                                   "terminal_id": self.terminal_id, "site_id": self.site_id,
                                   "created_at": now.isoformat(timespec="seconds")}
                blob = kp.seal_packet(sealed_manifest, files, self.signing_key, self.recipient)
                write_atomic(final, blob, 0o600)
                self.add_pending(db, packet_id, case, kind, file_name, len(blob),
                                 now.timestamp())
        except (OSError, sqlite3.Error) as exc:
            if self.has_packet(packet_id) is False:
                final.unlink(missing_ok=True)
            if _is_disk_full(exc):
                log.warning("outbox refused packet: disk full (%s)", type(exc).__name__)
                raise OutboxFull("the outbox could not store the packet: disk full") from exc
            raise
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        log.info("outbox accepted kind=%s bytes=%d files=%d", kind, len(blob), len(files))
        return Accepted(packet_id, case or "", now, token)

    # ---- case numbers -----------------------------------------------------------------------

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
        value = get_meta(db, "installation")
        if not value or renew:
            value = new_installation()
            set_meta(db, "installation", value)
        return value

    def renew_installation(self) -> None:
        """Draw another installation part: the back office already has one of our numbers
        (a database restored from a backup, or a chance repeat after a rebuild)."""
        with self.transaction() as db:
            self._installation(db, renew=True)
        log.warning("outbox case numbers: new installation part drawn")
