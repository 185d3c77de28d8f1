"""The public progress of a case: the page a receipt's QR code opens, and its JSON twin.

Anyone on the internet can ask, and case numbers are easy to guess (terminal, day, a sequence),
so nothing here answers by case number alone. The receipt's QR code carries a capability:
`<back office URL>/progress/<case number>?t=<token>`, the token 128 random bits drawn by the
terminal's outbox with the case number and carried inside the sealed application packet
(`progress_token`, docs/packet-format.md). Intake keeps only its SHA-256
(`cases.progress_token_hash`); `holds_token` compares in constant time. Without the right
token the answer is the same 404 for an unknown case, a known one, and a case sent before
tokens existed (its hash is NULL: its citizen checks at a station with the ID card, or the
kiosk's signed lookup), so the page is no oracle of which numbers exist.

With the token the public view (`public_view`) says the stage, when it last changed, its
history of stages, and what to bring for a supplement: never a reviewer's free text (reasons,
comments), never a name or personal data, and for a matter the catalogue marks `sensitive`
(flows/catalog.py: health, social assistance, criminal record, a child's data) neither the
matter nor the materials' names (a 医院诊断证明 tells as much), only how many materials are
asked for. A matter the catalogue does not know counts as sensitive. The token is read from the
query string and never logged nor shown; the page answers `Cache-Control: no-store` and
`Referrer-Policy: no-referrer` so it stays out of caches and other sites' logs.

- GET /progress/{case_number}?t=<token>           this page (zh + en; progress.html)
- GET /api/v1/cases/{case_number}/progress         the same view as JSON for the kiosk's 办件查询,
  the token in the `X-Progress-Token` header (api.py)
Both are rate limited per client address (rate_limit.py). app.py builds the app's one
`ProgressPage` (`app.state.progress`); the page of `router` and the API get it as a dependency.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from backoffice.console_kit import console_templates
from backoffice.console_text import CatalogLabels, LocalTime
from backoffice.db import Case
from backoffice.workflow import STATUS_LABELS, progress
from protocol import packet as kp

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-progress-token"
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                   "X-Robots-Tag": "noindex"}
router = APIRouter(include_in_schema=False)


def token_hash(token: str) -> str:
    """What the back office keeps of a progress token: SHA-256, lowercase hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed_token(token) -> bool:
    return isinstance(token, str) and bool(kp.PROGRESS_TOKEN.match(token))


def holds_token(case: Case | None, token) -> bool:
    """True when `token` is the receipt's token of `case` (constant-time comparison); False
    for no case, a case without a token, or anything that is not a token."""
    expected = case.progress_token_hash if case is not None else None
    given = token_hash(token) if well_formed_token(token) else None
    if not expected or given is None:
        return False
    return hmac.compare_digest(given, expected)


def public_view(case: Case, sensitive: bool) -> dict:
    """What the token shows: workflow.progress without reasons, and without the matter and the
    materials' names of a sensitive matter (`supplement.count` says how many)."""
    view = progress(case)
    supplement = view["supplement"]
    if supplement is not None:
        asked = supplement["materials"]
        supplement = {"requested_at": supplement["requested_at"], "count": len(asked),
                      "materials": [] if sensitive else
                      [{"code": m["code"], "name_zh": m["name_zh"], "reason": ""} for m in asked]}
    return {**view, "matter_code": "" if sensitive else view["matter_code"],
            "supplement": supplement}


class PublicProgress:
    """Finds a case by number and token; its public view or None (no difference why)."""

    def __init__(self, db, labels: CatalogLabels):
        self.db = db
        self.labels = labels

    def sensitive(self, matter_code: str) -> bool:
        catalog = self.labels.catalog
        matter = catalog.matters.get(matter_code) if catalog is not None else None
        return matter is None or matter.sensitive

    def find(self, case_number, token) -> dict | None:
        if not isinstance(case_number, str) or not well_formed_token(token):
            return None
        with self.db.read() as session:
            case = session.scalar(select(Case).where(Case.case_number == case_number[:64]))
            if not holds_token(case, token):
                return None
            return public_view(case, self.sensitive(case.matter_code))


class ProgressPage:
    """One app's progress page: its PublicProgress (the JSON twin in api.py asks the same one,
    so both share its catalogue) and the console's templates, times in the console's zone."""

    def __init__(self, services):
        self.public = PublicProgress(services.db, CatalogLabels(services.settings.catalog_dir))
        self.time = LocalTime(services.settings.timezone)
        self.templates = console_templates(self.time, self.public.labels)

    def local(self, text: str):
        return self.time(text, seconds=False)


async def app_progress(request: Request) -> ProgressPage:
    """FastAPI dependency: the ProgressPage of the app serving `request` (`app.state.progress`)."""
    return request.app.state.progress


Page = Annotated[ProgressPage, Depends(app_progress)]


async def public_progress(page: Page) -> PublicProgress:
    """FastAPI dependency: the app's one PublicProgress."""
    return page.public


Public = Annotated[PublicProgress, Depends(public_progress)]


@router.get("/progress/{case_number}")
async def progress_page(request: Request, page: Page, case_number: str):
    token = request.query_params.get(kp.PROGRESS_TOKEN_PARAM)
    found = await run_in_threadpool(page.public.find, case_number, token)
    context = {"case_number": case_number[:64], "found": found}
    if found is not None:
        context.update(status=STATUS_LABELS.get(found["status"], found["status"]),
                       updated=page.local(found["updated_at"]),
                       history=[(STATUS_LABELS.get(h["status"], h["status"]), page.local(h["at"]))
                                for h in found["history"]])
    return page.templates.TemplateResponse(request, "progress.html", context,
                                           status_code=200 if found else 404,
                                           headers=PRIVATE_HEADERS)
