"""One case in the console: its page, the reviewer's actions, and its (decrypted) files.

The page shows the applicant, the face result (card photo and best live frame side by side),
the form, the materials with page images and PDF links, 容缺 items, the signed commitment,
supplement requests, later packets, the full history and the case's audit entries (who
opened or acted on it, when; audit.py). Actions (accept, request supplement,
approve, reject, complete) go through workflow.apply_action and are refused when illegal; a
refusal is said in words. Every code of the packet is shown as the catalogue's label or in
words (`_shown`, console_text.py). A file is served with its verified type, an image inline and
anything else as a download, never as a page (`http_security.file_response`).
Like the rest of the console, the routes of `router` get the app's ConsoleKit and the logged-in
reviewer as dependencies (console_kit.py).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from backoffice import audit
from backoffice import console_text as W
from backoffice.console_kit import ConsoleKit, CurrentReviewer, Kit, reviewer
from backoffice.console_text import CatalogLabels, Words
from backoffice.db import AuditEntry, Case, CaseFile, Packet, storable_int, utcnow
from backoffice.http_security import file_response
from backoffice.reviewers import ConsoleUser
from backoffice.workflow import REVIEWER_ACTIONS, STATUS_LABELS, TransitionRefused, apply_action

router = APIRouter(prefix="/console", include_in_schema=False)
ACTION_LABELS = {
    "accept": "受理 Accept",
    "approve": "批准 Approve",
    "reject": "不予受理 Reject",
    "complete": "办结 Complete",
    "request_supplement": "要求补件 Request supplement",
}
VIEW_AUDIT_EVERY = dt.timedelta(minutes=10)
AUDIT_WORDS = {"case.view": W.Words("查看", "Opened"),
               "help.handled": W.Words("求助已处理", "Help request handled")}
TERMINAL_COMMENTS = (     # the trace lines intake.py writes, in words
    (re.compile(r"^application packet (?P<packet>\S+)$"), "申请材料包 {packet}",
     "Application packet {packet}"),
    (re.compile(r"^supplement packet (?P<packet>\S+) \((?P<codes>[^)]*)\)$"),
     "补件材料包 {packet}：{materials}", "Supplement packet {packet}: {materials_en}"),
    (re.compile(r"^supplement after the case was closed: (?P<packet>\S+) \((?P<codes>[^)]*)\)$"),
     "办件已结束后收到的补件 {packet}：{materials}",
     "Supplement after the case was closed {packet}: {materials_en}"),
    (re.compile(r"^level (?P<level>\d)$"), "评价 {level} 星", "Rated {level} of 5"),
)


def _case_view(services, labels: CatalogLabels, case_number: str) -> dict | None:
    """Everything the case page shows, decrypted; None when there is no such case."""
    with services.db.read() as session:
        case = session.scalar(select(Case).where(Case.case_number == case_number))
        if case is None:
            return None
        manifest = json.loads(services.vault.decrypt(case.manifest_enc))
        events, supplements, files = list(case.events), list(case.supplements), list(case.files)
        packets = session.scalars(select(Packet).where(Packet.case_number == case_number)
                                  .order_by(Packet.id)).all()
        later = []
        for packet in packets:
            if packet.packet_id == manifest.get("packet_id") or packet.manifest_enc is None:
                continue
            later.append({"packet": packet,
                          "manifest": json.loads(services.vault.decrypt(packet.manifest_enc))})
    by_path: dict[str, CaseFile] = {}
    for f in files:
        if f.packet_id == manifest.get("packet_id"):
            by_path[f.path] = f
    later_files: dict[str, list[CaseFile]] = {}
    for f in files:
        if f.packet_id != manifest.get("packet_id"):
            later_files.setdefault(f.packet_id, []).append(f)
    base = f"/console/cases/{quote(case_number)}/files/"
    return {"case": case, "manifest": manifest, "events": events, "supplements": supplements,
            "by_path": by_path, "later": later, "later_files": later_files, "file_base": base,
            "actions": [a for a, (allowed, _) in REVIEWER_ACTIONS.items()
                        if case.status in allowed and a != "request_supplement"],
            "can_request_supplement": case.status in REVIEWER_ACTIONS["request_supplement"][0],
            "shown": _shown(labels, case, manifest, events)}


def _shown(labels: CatalogLabels, case: Case, manifest: dict, events) -> dict:
    """The packet's codes as a reviewer reads them: catalogue labels and words."""
    matter = manifest.get("matter") or {}
    code = matter.get("code") or case.matter_code
    a = manifest.get("applicant") or {}
    face = manifest.get("face") or {}
    valid = a.get("valid_until")
    applicant = [(Words("姓名", "Name"), a.get("name"))]
    if a.get("english_name"):
        applicant.append((Words("英文姓名", "Name in English"), a["english_name"]))
    applicant += [
        (Words("证件", "ID"), Words(f"{W.words(W.CARD_TYPES, a.get('card_type')).zh} "
                                    f"{a.get('id_number') or ''}",
                                    W.words(W.CARD_TYPES, a.get("card_type")).en)),
        (Words("性别", "Sex"), W.words(W.SEX, a.get("sex"))),
        (Words("出生", "Born"), a.get("birth_date")),
    ]
    if a.get("nationality"):
        applicant.append((Words("国籍", "Nationality"), a["nationality"]))
    if a.get("nation"):
        applicant.append((Words("民族", "Nation"), a["nation"]))
    if a.get("address"):
        applicant.append((Words("住址", "Address"), a["address"]))
    if a:
        applicant.append((Words("有效期至", "Valid until"),
                          valid if valid else Words("长期", "Long-term")))
    if a.get("role"):
        applicant.append((Words("身份", "Role"), labels.role(a["role"])))
    materials = {m.get("code"): (labels.material(m.get("code"), m.get("name_zh", "")),
                                 W.words(W.MATERIAL_STATUS, m.get("status")))
                 for m in manifest.get("materials") or [] if isinstance(m, dict)}
    return {
        "matter": labels.matter(code, matter.get("name_zh") or case.matter_name),
        "members": [labels.matter(c) for c in matter.get("bundle_of") or []],
        "applicant": applicant,
        "face": {"decision": W.words(W.FACE_DECISIONS, face.get("decision")),
                 "liveness": W.words(W.LIVENESS, face.get("liveness"))},
        "form": labels.form(code, manifest.get("form") or {}),
        "materials": materials,
        "events": [_event_words(labels, e) for e in events],
    }


def _event_words(labels: CatalogLabels, event) -> dict:
    comment: Words | str = event.comment
    if event.actor.startswith("terminal:"):
        for pattern, zh, en in TERMINAL_COMMENTS:
            found = pattern.match(event.comment or "")
            if found:
                parts = found.groupdict()
                names = [labels.material(c.strip()) for c in parts.get("codes", "").split(",")
                         if c.strip()]
                parts.update(materials="、".join(n.zh for n in names),
                             materials_en=", ".join(n.en or n.zh for n in names))
                comment = Words(zh.format(**parts), en.format(**parts))
                break
    return {"actor": W.actor_words(event.actor), "action": W.words(W.ACTIONS, event.action),
            "from": STATUS_LABELS.get(event.from_status, "—") if event.from_status else "—",
            "to": STATUS_LABELS.get(event.to_status, event.to_status or "—"),
            "comment": comment}


async def _render_case(request: Request, kit: ConsoleKit, who: ConsoleUser, case_number: str,
                       error: Words | None = None, status: int = 200):
    view = await run_in_threadpool(_case_view, kit.services, kit.labels, case_number)
    if view is None:
        raise HTTPException(404, "no such case / 无此办件")
    entries = await run_in_threadpool(audit.for_case, kit.services.db, case_number)
    said = [{"at": e.at, "actor": W.actor_words(e.actor),
             "action": AUDIT_WORDS.get(e.action) or W.words(W.ACTIONS, e.action[5:])}
            for e in entries]
    return kit.render(request, "case.html", who, error=error, status=status,
                      action_labels=ACTION_LABELS, audit_entries=said, **view)


def _viewed(db, case_number: str, actor: str) -> None:
    """Who opened which case (its page or a file): one audit line per reviewer, case and
    VIEW_AUDIT_EVERY."""
    with db.read() as session:     # most views are repeats: no write then
        if session.scalar(select(Case.id).where(Case.case_number == case_number)) is None:
            return
        recent = session.scalar(select(AuditEntry.id).where(
            AuditEntry.case_number == case_number, AuditEntry.actor == actor,
            AuditEntry.action == "case.view", AuditEntry.at > utcnow() - VIEW_AUDIT_EVERY))
    if recent is None:
        audit.record_now(db, actor, "case.view", case_number=case_number)


@router.get("/cases/{case_number}")
async def case_page(request: Request, kit: Kit, who: CurrentReviewer, case_number: str):
    await run_in_threadpool(_viewed, kit.services.db, case_number, who.actor)
    return await _render_case(request, kit, who, case_number)


def _act(db, case_number: str, action: str, reviewer: str, comment: str,
         materials: list[dict] | None) -> None:
    with db.write() as session:
        case = session.scalar(select(Case).where(Case.case_number == case_number)
                              .with_for_update())   # two reviewers at once: one after the other
        if case is None:
            raise HTTPException(404, "no such case / 无此办件")
        before = case.status
        apply_action(session, case, action, f"reviewer:{reviewer}", comment, materials)
        audit.record(session, f"reviewer:{reviewer}", f"case.{action}",
                     case_number=case_number, detail=f"{before} -> {case.status}")


async def _act_and_show(request: Request, kit: ConsoleKit, who: ConsoleUser, case_number: str,
                        action: str, comment: str, materials: list[dict] | None = None):
    try:
        await run_in_threadpool(_act, kit.services.db, case_number, action, who[0], comment,
                                materials)
    except TransitionRefused as refused:
        return await _render_case(request, kit, who, case_number,
                                  error=W.words(W.REASONS, refused.reason_key), status=409)
    return RedirectResponse(f"/console/cases/{quote(case_number)}", status_code=303)


@router.post("/cases/{case_number}/action")
async def case_action(request: Request, kit: Kit, who: CurrentReviewer, case_number: str):
    form = await kit.form_checked(request, who[1])
    action = str(form.get("action", ""))
    if action == "request_supplement":
        action = "invalid"
    return await _act_and_show(request, kit, who, case_number, action,
                               str(form.get("comment", "")).strip())


@router.post("/cases/{case_number}/supplement")
async def request_supplement(request: Request, kit: Kit, who: CurrentReviewer, case_number: str):
    form = await kit.form_checked(request, who[1])
    reason = str(form.get("reason", "")).strip()
    view = await run_in_threadpool(_case_view, kit.services, kit.labels, case_number)
    if view is None:
        raise HTTPException(404, "no such case / 无此办件")
    names = {m.get("code"): m.get("name_zh", "") for m in view["manifest"].get("materials", [])}
    materials = []
    for code in form.getlist("material"):
        code = str(code)
        if code in names:
            own = str(form.get(f"reason_{code}", "")).strip()
            materials.append({"code": code, "name_zh": names[code],
                              "reason": (own or reason)[:300]})
    other = str(form.get("other_name", "")).strip()
    if other:
        materials.append({"code": "other", "name_zh": other[:100], "reason": reason[:300]})
    return await _act_and_show(request, kit, who, case_number, "request_supplement", reason,
                               materials)


def _file(services, case_number: str, file_id: int) -> tuple[CaseFile, bytes] | None:
    if not storable_int(file_id):
        return None
    with services.db.read() as session:
        found = session.get(CaseFile, file_id)
        if found is None or found.case.case_number != case_number:
            return None
    return found, services.store.get(found.storage_key)


@router.get("/cases/{case_number}/files/{file_id}")
async def case_file(request: Request, kit: Kit, case_number: str, file_id: int):
    who = await reviewer(request, kit)      # after file_id's check, as before (not a dependency)
    await run_in_threadpool(_viewed, kit.services.db, case_number, who.actor)
    found = await run_in_threadpool(_file, kit.services, case_number, file_id)
    if found is None:
        raise HTTPException(404, "no such file / 无此文件")
    meta, data = found
    return file_response(data, meta.media_type, meta.path)
