"""Turn a finished visit into a packet (manifest + files) and a receipt, and where packets go.

`build_application(...)` produces the manifest described in docs/packet-format.md from the
visit plan and state; the outbox fills in packet id and case number, seals and stores it.
`PacketSink` is what the session submits to: the durable outbox on a terminal, or a plain
directory for `kiosk simulate`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Protocol

import uuid6

from devices.interfaces import CardRecord, Receipt
from devices.printer.receipt_layout import mask_id_number, mask_name
from flows.catalog import Catalog
from flows.engine import VisitPlan, VisitState, form_answers
from kiosk.visit.case_numbers import Accepted   # what a sink hands back, as the outbox's
from kiosk.visit.case_numbers import case_number, new_installation   # the outbox's case numbers
from kiosk.visit.case_numbers import with_progress_token               # and progress tokens
from protocol.atomic import move_dir_into_place, temp_beside, write_atomic
from protocol.packet import progress_url

FORMAT = "kiosk-packet/1"


class PacketSink(Protocol):
    def accept(self, manifest: dict, files: dict[str, bytes]) -> Accepted: ...

    def has_room(self) -> bool: ...


class DirectorySink:
    """Writes each packet unsealed as DIR/<packet_id>/manifest.json + files (simulation only)."""

    def __init__(self, out_dir: Path, terminal_id: str, site_id: str):
        self.out_dir = Path(out_dir)
        self.terminal_id = terminal_id
        self.site_id = site_id
        self._seq_file = self.out_dir / ".sequence"
        self._installation_file = self.out_dir / ".installation"   # as the outbox's, per DIR
        self.accepted: list[tuple[str, Accepted]] = []   # (kind, Accepted), in order

    def has_room(self) -> bool:
        return True

    def _next_sequence(self) -> int:
        n = int(self._seq_file.read_text()) + 1 if self._seq_file.exists() else 1
        write_atomic(self._seq_file, str(n).encode(), mode=0o644)
        return n

    def _installation(self) -> str:
        if not self._installation_file.exists():
            write_atomic(self._installation_file, new_installation().encode(), mode=0o644)
        return self._installation_file.read_text().strip()

    def accept(self, manifest: dict, files: dict[str, bytes]) -> Accepted:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now().astimezone()
        packet_id = str(uuid6.uuid7())
        manifest, token = with_progress_token(manifest)
        case = manifest.get("case_number") or case_number(
            self.terminal_id, f"{now:%Y%m%d}", self._installation(), self._next_sequence())
        manifest = {**manifest, "packet_id": packet_id, "case_number": case,
                    "terminal_id": self.terminal_id, "site_id": self.site_id,
                    "created_at": now.isoformat(timespec="seconds")}
        target = self.out_dir / packet_id         # whole or not at all, even after a crash
        building = temp_beside(target)
        for name, data in {**files, "manifest.json": json.dumps(
                manifest, ensure_ascii=False, indent=2).encode("utf-8")}.items():
            path = building / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        move_dir_into_place(building, target)
        accepted = Accepted(packet_id, case, now, token)
        self.accepted.append((manifest.get("kind", ""), accepted))
        return accepted


def file_entry(name: str, data: bytes, media_type: str) -> dict:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "media_type": media_type}


def _jpeg(bgr) -> bytes:
    from PIL import Image  # local import: Pillow is only needed when a photo exists
    buf = io.BytesIO()
    Image.fromarray(bgr[:, :, ::-1].copy()).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def build_pdf(pages: list[bytes]) -> bytes | None:
    """One PDF of a material's JPEG pages; the document pipeline's builder when installed."""
    try:
        from devices.document.pdf import pages_to_pdf
    except ImportError:
        return None
    return pages_to_pdf(pages)[0]


def applicant_of(card: CardRecord, role: str | None) -> dict:
    """The packet's `applicant` from the card read: the foreigner's cards' English name and
    nationality (ISO 3166-1 alpha-3) too, "" where the card has none."""
    return {"card_type": card.card_type.value, "name": card.name, "id_number": card.id_number,
            "sex": card.sex, "birth_date": card.birth_date.isoformat(), "nation": card.nation,
            "address": card.address,
            "valid_until": card.valid_until.isoformat() if card.valid_until else None,
            "english_name": card.english_name, "nationality": card.nationality, "role": role}


def applicant_section(state: VisitState, role: str | None) -> dict | None:
    return None if state.card is None else applicant_of(state.card, role)


def build_application(catalog: Catalog, plan: VisitPlan, state: VisitState,
                      started_at: dt.datetime, identity_at: dt.datetime | None,
                      submitted_at: dt.datetime) -> tuple[dict, dict]:
    """The application's manifest and files; `submitted_at` (aware) also dates the signature."""
    m = plan.matter
    files: dict[str, bytes] = {}
    materials = []
    for pm in plan.materials:
        mat = catalog.materials[pm.code]
        pages = state.pages_of(pm.code)
        entries = []
        for i, jpeg in enumerate(pages, 1):
            name = f"materials/{pm.code}/page-{i:03d}.jpg"
            files[name] = jpeg
            entries.append(file_entry(name, jpeg, "image/jpeg"))
        if pages:
            pdf = build_pdf(pages)
            if pdf:
                name = f"materials/{pm.code}/{pm.code}.pdf"
                files[name] = pdf
                entries.append(file_entry(name, pdf, "application/pdf"))
        status = ("received" if pages else "missing_allowed" if pm.code in state.missing and
                  pm.missing_allowed else "replaced_by_lookup" if pm.code in state.missing
                  else "not_provided")
        materials.append({"code": pm.code, "name_zh": mat.name.zh, "status": status,
                          "page_count": len(pages), "required": pm.required,
                          "for_matters": list(pm.for_matters), "files": entries})
    face = None
    if state.face is not None or state.face_declined:
        f = state.face
        face = {"decision": f.decision.value if f else None, "distance": f.distance if f else None,
                "threshold": f.threshold if f else None,
                "liveness": f.liveness.value if f else "not_checked",
                "declined": state.face_declined, "attempts": state.face_attempts}
        if f is not None and f.best_frame_jpeg:
            files["face/best.jpg"] = f.best_frame_jpeg
        if state.card is not None and state.card.photo_bgr is not None:
            files["face/card_photo.jpg"] = _jpeg(state.card.photo_bgr)
    commitment = None
    signed_at = submitted_at.isoformat(timespec="seconds")
    if state.signature_png:
        files["commitment/signature.png"] = state.signature_png
        commitment = {"text_zh": m.commitment.zh, "signed_at": signed_at,
                      "method": "drawn_signature", "signature_file": "commitment/signature.png"}
    elif state.confirmed_by_keypad:     # audio-first mode: read aloud, confirmed with key 5
        commitment = {"text_zh": m.commitment.zh, "signed_at": signed_at,
                      "method": "voice_keypad", "signature_file": None}
    now = submitted_at
    manifest = {
        "format": FORMAT,
        "kind": "application",
        "matter": {"code": m.code, "name_zh": m.name.zh,
                   "bundle_of": list(m.bundle_of) if m.kind == "bundle" else None},
        "applicant": applicant_section(state, state.role),
        "form": form_answers(plan, state),
        "face": face,
        "materials": materials,
        "commitment": commitment,
        "evaluation": None,
        "promised_days": m.time_limit.promised_days,
        "timestamps": {"started_at": started_at.isoformat(timespec="seconds"),
                       "identity_at": identity_at.isoformat(timespec="seconds") if identity_at else None,
                       "submitted_at": now.isoformat(timespec="seconds")},
    }
    for name, data in files.items():
        manifest.setdefault("files", []).append(file_entry(name, data, _media(name)))
    return manifest, files


def _media(name: str) -> str:
    return {".jpg": "image/jpeg", ".png": "image/png", ".pdf": "application/pdf"}[os.path.splitext(name)[1]]


def build_small(kind: str, matter_code: str | None, case_number: str | None, **extra) -> dict:
    """An evaluation or help-request manifest (no files)."""
    return {"format": FORMAT, "kind": kind, "case_number": case_number,
            "matter": {"code": matter_code} if matter_code else None, **extra}


def add_working_days(start: dt.date, days: int) -> dt.date:
    """Promised completion date in working days (Mon-Fri; public holidays not modelled)."""
    d, left = start, days
    while left > 0:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            left -= 1
    return d


def build_receipt(plan: VisitPlan, state: VisitState, catalog: Catalog, site_name: str,
                  terminal_id: str, phone: str, progress_base_url: str,
                  accepted_at: dt.datetime, progress_token: str = "") -> Receipt:
    received = tuple(catalog.materials[m.code].name.zh for m in plan.materials
                     if state.pages_of(m.code))
    missing = tuple(catalog.materials[m.code].name.zh + "（容缺后补）" for m in plan.materials
                    if m.code in state.missing and m.missing_allowed)
    notes = ("身份将由工作人员核验 / Identity to be checked by staff",) if state.face_declined else ()
    card = state.card
    return Receipt(
        title="受理回执 / Acceptance receipt", site_name=site_name, terminal_id=terminal_id,
        issued_at=accepted_at, case_number=state.case_number or "", matter_name=plan.matter.name.zh,
        applicant_masked=mask_name(card.name) if card else "",
        id_number_masked=mask_id_number(card.id_number) if card else "",
        materials_received=received, materials_missing=missing,
        promised_date=add_working_days(accepted_at.date(), plan.matter.time_limit.promised_days),
        progress_url=progress_url(progress_base_url, state.case_number or "", progress_token),
        phone=plan.matter.phone or phone, notes=notes)
