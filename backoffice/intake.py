"""Intake of sealed packets: open, verify, store files, and create or update the case.

Idempotent by packet_id: the first receipt answers 201 {packet_id, case_number, status} and
stores that body; the same bytes again answer 200 with the same body; the same packet_id with
other bytes answers 409. A packet that is malformed, signed by another terminal than the one
sending it, tampered, undecryptable, or whose files do not match their hashes answers 422.
A signed manifest is not trusted either: every field the back office reads is checked for its
type (`ManifestShape`, strict: no number where a string belongs, no list where an object
does) and JSON nested deeper than protocol.packet.MAX_JSON_DEPTH is refused before it is parsed,
so no manifest makes a 500 (which the uploader would retry for ever). Fields the back office
does not read are carried unchanged. Nor is a file's declared `media_type` trusted: its type
is decided from its bytes (JPEG, PNG or PDF, file_types.py), else 422
`backoffice.packet.file_type`, and the stored type is the verified one.
The heavy work (decrypting, hashing, checking and writing files) happens outside the database
write lock; files and the sealed packet are on disk (fsynced) before the commit that
acknowledges them.
Which terminal may speak for a case (issue 13, docs/security.md): an application comes from the
terminal its case number names; an evaluation only from the terminal that took the case (403
`backoffice.case.other_terminal`); a supplement from any terminal with the applicant's card
read on it (ID number, else 422 `backoffice.case.applicant_mismatch`), and from another
terminal than the case's only with the name also the applicant's (403
`backoffice.case.not_card_holder`), while a reviewer's supplement request is open (403
`backoffice.case.supplement_not_requested`) and for the requested materials only (403
`backoffice.case.material_not_requested`). An application's `progress_token` (the receipt's QR
code) is kept only as its SHA-256 (`cases.progress_token_hash`), never in a stored manifest.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Literal

import nacl.public
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backoffice.db import (Case, CaseEvent, CaseFile, Database, HelpRequest, Packet, Terminal,
                           utcnow)
from backoffice.file_types import NotKioskFile, kiosk_type
from backoffice.terminal_auth import ApiError, StrictShape, shape_error, verify_key_from_text
from backoffice.vault import FileStore, Vault
from backoffice.workflow import CLOSED, open_supplement, record
from backoffice.progress_page import token_hash, well_formed_token
from protocol import packet as kp

log = logging.getLogger(__name__)

KINDS = ("application", "supplement", "evaluation", "help_request")
CASE_NUMBER = kp.CASE_NUMBER
FILE_NAME = re.compile(r"^[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_.\-]+)*$")
PACKET_ERRORS = {
    "HashMismatch": "backoffice.packet.hash_mismatch",
    "BadSignature": "backoffice.packet.bad_signature",
    "DecryptionFailed": "backoffice.packet.undecryptable",
    "MalformedPacket": "backoffice.packet.malformed",
}


class FileEntryShape(StrictShape):
    name: str
    sha256: str
    bytes: int | None = None
    media_type: str | None = None


class MatterShape(StrictShape):
    code: str
    name_zh: str | None = None


class ApplicantShape(StrictShape):
    id_number: str | None = None
    name: str | None = None


class MaterialShape(StrictShape):
    code: str | None = None
    files: list[FileEntryShape] | None = None


class TimestampsShape(StrictShape):
    submitted_at: str | None = None


class HelpShape(StrictShape):
    reason: str | None = None
    step: str | None = None


class EvaluationShape(StrictShape):
    level: int | None = None
    comment: str | None = None


class CommitmentShape(StrictShape):
    """告知承诺: signed on the pad (`drawn_signature`, the image in `signature_file`; packets
    from before `method` existed have none), or in audio-first mode read aloud and confirmed
    with the keypad (`voice_keypad`, no image)."""
    text_zh: str | None = None
    signed_at: str | None = None
    method: Literal["drawn_signature", "voice_keypad"] | None = None
    signature_file: str | None = None


class ManifestShape(StrictShape):
    kind: Literal[KINDS]
    case_number: str | None = None
    progress_token: str | None = None
    site_id: str | None = None
    created_at: str | None = None
    matter: MatterShape | None = None
    applicant: ApplicantShape | None = None
    timestamps: TimestampsShape | None = None
    help: HelpShape | None = None
    evaluation: EvaluationShape | None = None
    commitment: CommitmentShape | None = None
    materials: list[MaterialShape] | None = None
    files: list[FileEntryShape] | None = None


@dataclass(frozen=True)
class IntakeResult:
    status_code: int
    body: dict


def parse_time(text) -> dt.datetime | None:
    """An ISO 8601 time from a manifest (as UTC), or None when absent or unreadable."""
    if not isinstance(text, str):
        return None
    try:
        value = dt.datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):    # e.g. year 1 with a positive offset
        return None


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def _kiosk_type(name: str, data: bytes, packet_id: str) -> str:
    """The file's type from its bytes (file_types.py), never from the manifest; 422 else."""
    try:
        return kiosk_type(data)
    except NotKioskFile as exc:
        raise ApiError(422, "backoffice.packet.file_type", f"{name}: {exc}", packet_id) from None


def _kept(manifest: dict, vault: Vault) -> bytes:
    """The manifest as stored (encrypted): without the progress token, of which only the hash
    is kept (cases.progress_token_hash)."""
    kept = {k: v for k, v in manifest.items() if k != "progress_token"}
    return vault.encrypt(json.dumps(kept, ensure_ascii=False).encode("utf-8"))


def _packet_error(exc: Exception, packet_id: str) -> ApiError:
    for cls in type(exc).__mro__:
        if cls.__name__ in PACKET_ERRORS:
            return ApiError(422, PACKET_ERRORS[cls.__name__], type(exc).__name__, packet_id)
    return ApiError(422, "backoffice.packet.malformed", type(exc).__name__, packet_id)


class PacketIntake:
    def __init__(self, db: Database, store: FileStore, vault: Vault,
                 private_key: nacl.public.PrivateKey):
        self.db = db
        self.store = store
        self.vault = vault
        self.private_key = private_key

    def receive(self, terminal: Terminal, idempotency_key: str | None, blob: bytes) -> IntakeResult:
        try:
            envelope = kp.read_envelope(blob)
        except kp.PacketError as exc:
            raise _packet_error(exc, idempotency_key) from None
        packet_id = envelope.packet_id
        try:
            uuid.UUID(str(packet_id))
        except ValueError:
            raise ApiError(422, "backoffice.packet.malformed", "packet id is not a UUID") from None
        if idempotency_key and idempotency_key != packet_id:
            raise ApiError(422, "backoffice.packet.idempotency_mismatch",
                           "Idempotency-Key differs from the packet id", packet_id)
        if envelope.terminal_id != terminal.id:
            raise ApiError(422, "backoffice.packet.wrong_terminal",
                           "packet comes from another terminal", packet_id)
        digest = hashlib.sha256(blob).hexdigest()
        known = self._known(packet_id, digest)
        if known is not None:
            return known
        try:
            opened = kp.open_packet(blob, self.private_key, verify_key_from_text(terminal.public_key))
        except kp.PacketError as exc:
            raise _packet_error(exc, packet_id) from None
        manifest, files = opened.manifest, opened.files
        self._check_manifest(manifest, envelope, files)
        types = {name: _kiosk_type(name, data, packet_id) for name, data in files.items()}
        stored = [(name, hashlib.sha256(data).hexdigest(), len(data), types[name],
                   self.store.put(data)) for name, data in files.items()]
        self.store.put_raw(f"{packet_id}.sealed", blob)   # files and packet durable, then commit
        try:
            with self.db.write() as session:
                known = self._known(packet_id, digest, session)
                if known is not None:
                    return known
                body = self._apply(session, terminal, manifest, stored)
                session.add(Packet(packet_id=packet_id, terminal_id=terminal.id,
                                   kind=manifest["kind"], sha256=digest, bytes=len(blob),
                                   received_at=utcnow(), case_number=body["case_number"],
                                   response=body, manifest_enc=_kept(manifest, self.vault)))
        except (IntegrityError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.reason_key != "backoffice.case.exists":
                raise
            # the same packet, committed by another request after this one looked (PostgreSQL
            # reads each statement afresh): the answer it was given
            known = self._known(packet_id, digest)
            if known is not None:
                return known
            raise ApiError(409, "backoffice.case.exists", "case number already used", packet_id)
        log.info("packet accepted terminal=%s kind=%s files=%d bytes=%d", terminal.id,
                 manifest["kind"], len(files), len(blob))
        return IntakeResult(201, body)

    def _known(self, packet_id: str, digest: str, session=None) -> IntakeResult | None:
        if session is None:
            with self.db.read() as s:
                return self._known(packet_id, digest, s)
        packet = session.scalar(select(Packet).where(Packet.packet_id == packet_id))
        if packet is None:
            return None
        if packet.sha256 != digest:
            raise ApiError(409, "backoffice.packet.conflict",
                           "packet id already received with other content", packet_id)
        return IntakeResult(200, dict(packet.response))

    @staticmethod
    def _check_manifest(manifest: dict, envelope, files: dict) -> None:
        packet_id = envelope.packet_id

        def bad(reason: str, detail: str):
            return ApiError(422, reason, detail, packet_id)

        try:
            ManifestShape.model_validate(manifest)
        except ValidationError as exc:
            raise bad("backoffice.packet.malformed", shape_error(exc, "manifest")) from None
        if manifest["kind"] != envelope.kind:
            raise bad("backoffice.packet.malformed", "unknown or mismatching kind")
        case_number = manifest.get("case_number")
        if manifest["kind"] != "help_request" or case_number:
            match = CASE_NUMBER.match(case_number or "")
            if not match:
                raise bad("backoffice.packet.bad_case_number", "case number is not well formed")
            if manifest["kind"] == "application" and match["terminal"] != envelope.terminal_id:
                raise bad("backoffice.packet.bad_case_number", "case number of another terminal")
        token = manifest.get("progress_token")
        if manifest["kind"] == "application" and token is not None and not well_formed_token(token):
            raise bad("backoffice.packet.malformed", "progress token is not 22-64 URL-safe characters")
        if manifest["kind"] == "application":
            matter, applicant = manifest.get("matter"), manifest.get("applicant")
            if not isinstance(matter, dict) or not matter.get("code"):
                raise bad("backoffice.packet.malformed", "application without matter")
            if not isinstance(applicant, dict) or not applicant.get("id_number"):
                raise bad("backoffice.packet.malformed", "application without applicant")
        commitment = manifest.get("commitment") or {}
        if commitment.get("method") == "voice_keypad" and commitment.get("signature_file"):
            raise bad("backoffice.packet.malformed", "keypad confirmation with a signature file")
        if manifest["kind"] == "supplement":    # the kiosk reads the applicant's card first
            applicant = manifest.get("applicant")
            if not isinstance(applicant, dict) or not applicant.get("id_number"):
                raise bad("backoffice.packet.malformed", "supplement without applicant")
            if not files:
                raise bad("backoffice.packet.malformed", "supplement without materials")
        for name in files:
            if not FILE_NAME.match(name) or len(name) > 300:
                raise bad("backoffice.packet.bad_file_name", "file name not allowed")

    def _apply(self, session, terminal: Terminal, manifest: dict, stored: list) -> dict:
        kind, packet_id = manifest["kind"], manifest["packet_id"]
        actor = f"terminal:{terminal.id}"
        if kind == "help_request":
            help_ = manifest.get("help") or {}
            session.add(HelpRequest(packet_id=packet_id, terminal_id=terminal.id,
                                    site_id=str(manifest.get("site_id") or terminal.site)[:64],
                                    at=utcnow(), reason=str(help_.get("reason") or "")[:200],
                                    step=str(help_.get("step") or "")[:100],
                                    case_number=manifest.get("case_number") or None))
            return {"packet_id": packet_id, "case_number": manifest.get("case_number"),
                    "status": "help_requested"}
        case_number = manifest["case_number"]
        case = session.scalar(select(Case).where(Case.case_number == case_number)
                              .with_for_update())      # supplements/evaluations: one at a time
        if kind == "application":
            if case is not None:
                raise ApiError(409, "backoffice.case.exists", "case number already used", packet_id)
            case = self._new_case(session, terminal, manifest)
            session.add(CaseEvent(case_id=case.id, at=case.received_at, actor=actor,
                                  action="received", from_status=None, to_status="received",
                                  comment="application packet " + packet_id))
        elif case is None:
            raise ApiError(422, "backoffice.case.unknown", "packet refers to an unknown case",
                           packet_id)
        elif kind == "supplement":
            id_number = manifest["applicant"]["id_number"]
            if self.vault.id_hash(id_number) != case.id_hash:
                raise ApiError(422, "backoffice.case.applicant_mismatch",
                               "supplement from another applicant", packet_id)
            pending = open_supplement(case)
            if case.terminal_id != terminal.id:
                self._check_other_terminal_supplement(case, manifest, pending)
            supplied = ", ".join(str(m.get("code")) for m in manifest.get("materials") or ()
                                 if isinstance(m, dict))[:300]
            if case.status in CLOSED:
                record(session, case, actor, "supplement_received", None,
                       f"supplement after the case was closed: {packet_id} ({supplied})")
            else:
                if pending is not None:
                    pending.fulfilled_at = utcnow()
                    pending.fulfilled_packet_id = packet_id
                record(session, case, actor, "supplement_received", "received",
                       f"supplement packet {packet_id} ({supplied})")
        elif kind == "evaluation":
            if case.terminal_id != terminal.id:     # rated where the service was given
                raise ApiError(403, "backoffice.case.other_terminal",
                               "an evaluation comes from the terminal that took the case",
                               packet_id)
            evaluation = manifest.get("evaluation") or {}
            level = evaluation.get("level")
            if not isinstance(level, int) or not 1 <= level <= 5:
                raise ApiError(422, "backoffice.packet.malformed", "evaluation level", packet_id)
            case.evaluation = {"level": level, "comment": str(evaluation.get("comment") or "")[:500],
                               "at": utcnow().isoformat()}
            record(session, case, actor, "evaluated", None, f"level {level}")
        for name, sha, size, media_type, key in stored:
            session.add(CaseFile(case_id=case.id, packet_id=packet_id, path=name, sha256=sha,
                                 bytes=size, media_type=media_type, storage_key=key))
        return {"packet_id": packet_id, "case_number": case.case_number, "status": case.status}

    def _check_other_terminal_supplement(self, case: Case, manifest: dict, pending) -> None:
        """A terminal speaks for a citizen of another terminal's case only with that citizen's
        card read on it (ID number and name both the applicant's), only while a reviewer's
        supplement request is open, and only for the materials it asks for; else 403."""
        packet_id = manifest["packet_id"]
        stored = json.loads(self.vault.decrypt(case.manifest_enc))
        name = (stored.get("applicant") or {}).get("name")
        if str(manifest["applicant"].get("name") or "").strip() != str(name or "").strip():
            raise ApiError(403, "backoffice.case.not_card_holder",
                           "the card read is not the applicant's", packet_id)
        if pending is None or case.status != "needs_supplement":
            raise ApiError(403, "backoffice.case.supplement_not_requested",
                           "no supplement is requested for this case", packet_id)
        asked = {m.get("code") for m in pending.materials}
        supplied = {m.get("code") for m in manifest.get("materials") or () if isinstance(m, dict)}
        if not supplied or not supplied <= asked:
            raise ApiError(403, "backoffice.case.material_not_requested",
                           "a material the reviewer did not ask for", packet_id)

    def _new_case(self, session, terminal: Terminal, manifest: dict) -> Case:
        matter, applicant = manifest["matter"], manifest["applicant"]
        now = utcnow()
        submitted = parse_time((manifest.get("timestamps") or {}).get("submitted_at")
                               or manifest.get("created_at")) or now
        case = Case(case_number=manifest["case_number"], matter_code=str(matter["code"])[:64],
                    matter_name=str(matter.get("name_zh") or "")[:200], terminal_id=terminal.id,
                    site_id=str(manifest.get("site_id") or terminal.site)[:64], status="received",
                    id_hash=self.vault.id_hash(str(applicant["id_number"])),
                    applicant_masked=mask_name(str(applicant.get("name") or "")),
                    manifest_enc=_kept(manifest, self.vault),
                    progress_token_hash=token_hash(manifest["progress_token"])
                    if manifest.get("progress_token") else None,
                    submitted_at=submitted, received_at=now, updated_at=now)
        session.add(case)
        session.flush()
        return case
