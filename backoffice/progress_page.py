"""The page a receipt's QR code opens: GET /progress/{case_number} (public, no personal data).

The kiosk prints `<back office URL>/progress/<case number>` as the receipt's QR code; a citizen's
phone opens this page: the case's status in words (zh + en), its history, and, when a reviewer
asked for more, which materials to bring to any self-service station (补件). It shows exactly
what GET /api/v1/cases/{case_number}/progress returns (backoffice.workflow.progress).
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from backoffice.console import console_templates
from backoffice.console_text import CatalogLabels, LocalTime
from backoffice.db import Case
from backoffice.workflow import STATUS_LABELS, progress


def build_progress_page(services) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    time = LocalTime(services.settings.timezone)        # the console's zone and form
    templates = console_templates(time, CatalogLabels(services.settings.catalog_dir))

    def local(text: str):
        return time(text, seconds=False)

    def find(case_number: str) -> dict | None:
        with services.db.read() as session:
            case = session.scalar(select(Case).where(Case.case_number == case_number))
            return progress(case) if case is not None else None

    @router.get("/progress/{case_number}")
    async def progress_page(request: Request, case_number: str):
        found = await run_in_threadpool(find, case_number[:64])
        context = {"case_number": case_number[:64], "found": found}
        if found is not None:
            context.update(status=STATUS_LABELS.get(found["status"], found["status"]),
                           updated=local(found["updated_at"]),
                           history=[(STATUS_LABELS.get(h["status"], h["status"]), local(h["at"]))
                                    for h in found["history"]])
        return templates.TemplateResponse(request, "progress.html", context,
                                          status_code=200 if found else 404)

    return router
