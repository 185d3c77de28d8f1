"""One case in the console: its page, the reviewer's actions, and its (decrypted) files.

The page shows the applicant, the face result (card photo and best live frame side by side),
the form, the materials with page images and PDF links, 容缺 items, the signed commitment,
supplement requests, later packets and the full history. Actions (accept, request supplement,
approve, reject, complete) go through workflow.apply_action and are refused when illegal.
"""
from __future__ import annotations

import json
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from backoffice.db import Case, CaseFile, Packet
from backoffice.workflow import REVIEWER_ACTIONS, TransitionRefused, apply_action

ACTION_LABELS = {
    "accept": "受理 Accept",
    "approve": "批准 Approve",
    "reject": "不予受理 Reject",
    "complete": "办结 Complete",
    "request_supplement": "要求补件 Request supplement",
}
MATERIAL_STATUS_LABELS = {
    "received": "已收取 received",
    "missing_allowed": "容缺 missing, allowed",
    "replaced_by_lookup": "免证办 replaced by lookup",
}


def _case_view(services, case_number: str) -> dict | None:
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
            "can_request_supplement": case.status in REVIEWER_ACTIONS["request_supplement"][0]}


def add_case_routes(router: APIRouter, kit) -> None:
    services = kit.services

    async def render_case(request: Request, who, case_number: str, error: str | None = None,
                          status: int = 200):
        view = await run_in_threadpool(_case_view, services, case_number)
        if view is None:
            raise HTTPException(404, "no such case / 无此办件")
        return kit.render(request, "case.html", who, error=error, status=status,
                          action_labels=ACTION_LABELS, material_labels=MATERIAL_STATUS_LABELS,
                          **view)

    @router.get("/cases/{case_number}")
    async def case_page(request: Request, case_number: str):
        who = await kit.reviewer(request)
        return await render_case(request, who, case_number)

    def _act(case_number: str, action: str, reviewer: str, comment: str,
             materials: list[dict] | None) -> None:
        with services.db.write() as session:
            case = session.scalar(select(Case).where(Case.case_number == case_number))
            if case is None:
                raise HTTPException(404, "no such case / 无此办件")
            apply_action(session, case, action, f"reviewer:{reviewer}", comment, materials)

    async def act(request: Request, who, case_number: str, action: str, comment: str,
                  materials: list[dict] | None = None):
        try:
            await run_in_threadpool(_act, case_number, action, who[0], comment, materials)
        except TransitionRefused as refused:
            return await render_case(request, who, case_number,
                                     error=f"{refused.reason_key}: {refused}", status=409)
        return RedirectResponse(f"/console/cases/{quote(case_number)}", status_code=303)

    @router.post("/cases/{case_number}/action")
    async def case_action(request: Request, case_number: str):
        who = await kit.reviewer(request)
        form = await kit.form_checked(request, who[1])
        action = str(form.get("action", ""))
        if action == "request_supplement":
            action = "invalid"
        return await act(request, who, case_number, action, str(form.get("comment", "")).strip())

    @router.post("/cases/{case_number}/supplement")
    async def request_supplement(request: Request, case_number: str):
        who = await kit.reviewer(request)
        form = await kit.form_checked(request, who[1])
        reason = str(form.get("reason", "")).strip()
        view = await run_in_threadpool(_case_view, services, case_number)
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
        return await act(request, who, case_number, "request_supplement", reason, materials)

    def _file(case_number: str, file_id: int) -> tuple[CaseFile, bytes] | None:
        with services.db.read() as session:
            found = session.get(CaseFile, file_id)
            if found is None or found.case.case_number != case_number:
                return None
        return found, services.store.get(found.storage_key)

    @router.get("/cases/{case_number}/files/{file_id}")
    async def case_file(request: Request, case_number: str, file_id: int):
        await kit.reviewer(request)
        found = await run_in_threadpool(_file, case_number, file_id)
        if found is None:
            raise HTTPException(404, "no such file / 无此文件")
        meta, data = found
        filename = meta.path.rsplit("/", 1)[-1]
        return Response(data, media_type=meta.media_type, headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'inline; filename="{filename}"',
            "X-Content-Type-Options": "nosniff"})
