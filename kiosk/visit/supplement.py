"""补件: the materials a reviewer asked for, the `supplement` packet and its 补件回执.

Pure builders for `kiosk.visit.returning.ProgressVisit`: which materials a case's supplement
request needs (and how many pages each, from the matter's plan), the `supplement` manifest of
docs/packet-format.md with its page files, and the receipt printed once the outbox took it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from devices.interfaces import Receipt
from devices.printer.receipt_layout import mask_id_number, mask_name
from flows.engine import plan_visit
from kiosk.visit.cases import CaseProgress
from kiosk.visit.packet import FORMAT, applicant_of, build_pdf, file_entry
from protocol import packet as kp


@dataclass
class SuppliedMaterial:
    """One material a reviewer asked for, and the pages captured for it so far."""
    code: str
    name_zh: str
    name_en: str
    reason: str
    pages_needed: int
    pages: list[bytes] = field(default_factory=list)


def requested_materials(catalog, case: CaseProgress) -> list[SuppliedMaterial]:
    """What the case's open supplement request asks for, named from the catalogue."""
    out = []
    for req in case.requested:
        mat = catalog.materials.get(req.code)
        out.append(SuppliedMaterial(
            code=req.code, name_zh=mat.name.zh if mat else req.name_zh,
            name_en=mat.name.en if mat else req.name_zh, reason=req.reason,
            pages_needed=_pages_for(catalog, case.matter_code, req.code)))
    return out


def _pages_for(catalog, matter_code: str, material_code: str) -> int:
    matter = catalog.matters.get(matter_code)
    if matter is not None:
        for pm in plan_visit(catalog, matter).materials:
            if pm.code == material_code:
                return max(pm.pages, 1)
    return 1


def supplement_packet(catalog, card, case: CaseProgress, supplied: list[SuppliedMaterial],
                      started_at: dt.datetime, identity_at: dt.datetime | None,
                      submitted_at: dt.datetime) -> tuple[dict, dict[str, bytes]]:
    """The `supplement` manifest (docs/packet-format.md) and its page files."""
    files: dict[str, bytes] = {}
    materials = []
    for m in supplied:
        entries = []
        for i, jpeg in enumerate(m.pages, 1):
            name = f"materials/{m.code}/page-{i:03d}.jpg"
            files[name] = jpeg
            entries.append(file_entry(name, jpeg, "image/jpeg"))
        pdf = build_pdf(m.pages) if m.pages else None
        if pdf:
            name = f"materials/{m.code}/{m.code}.pdf"
            files[name] = pdf
            entries.append(file_entry(name, pdf, "application/pdf"))
        materials.append({"code": m.code, "name_zh": m.name_zh, "status": "received",
                          "page_count": len(m.pages), "required": True,
                          "for_matters": [case.matter_code], "files": entries})
    matter = catalog.matters.get(case.matter_code)
    manifest = {
        "format": FORMAT, "kind": "supplement", "case_number": case.case_number,
        "matter": {"code": case.matter_code, "name_zh": matter.name.zh if matter else "",
                   "bundle_of": None},
        "applicant": applicant_of(card, None),
        "supplement": {"requested": [m.code for m in supplied],
                       "reasons": {m.code: m.reason for m in supplied if m.reason}},
        "materials": materials,
        "timestamps": {"started_at": started_at.isoformat(timespec="seconds"),
                       "identity_at": identity_at.isoformat(timespec="seconds")
                       if identity_at else None,
                       "submitted_at": submitted_at.isoformat(timespec="seconds")},
        "files": [file_entry(n, d, "application/pdf" if n.endswith(".pdf") else "image/jpeg")
                  for n, d in files.items()],
    }
    return manifest, files


def supplement_receipt(catalog, case: CaseProgress, card, supplied: list[SuppliedMaterial],
                       issued_at: dt.datetime, context: dict, token: str | None) -> Receipt:
    """The 补件回执: which case, what was supplied, when; the case's progress QR code.
    `context`: site_name, terminal_id, phone, progress_base_url."""
    matter = catalog.matters.get(case.matter_code)
    base = str(context.get("progress_base_url", "")).rstrip("/")
    return Receipt(
        title="补件回执 / Supplement receipt", site_name=context.get("site_name", ""),
        terminal_id=context.get("terminal_id", ""), issued_at=issued_at,
        case_number=case.case_number,
        matter_name=matter.name.zh if matter else case.matter_code,
        applicant_masked=mask_name(card.name), id_number_masked=mask_id_number(card.id_number),
        materials_received=tuple(f"{m.name_zh}（{len(m.pages)}页）" for m in supplied),
        materials_missing=(), promised_date=None,
        progress_url=kp.progress_url(base, case.case_number, token),
        phone=context.get("phone", ""),
        notes=("补交材料已提交，审批部门将继续办理 / Supplied; the office continues with the case",))
