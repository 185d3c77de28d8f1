"""What every console page needs, as FastAPI dependencies: the app's `ConsoleKit` (templates,
catalogue labels, the configured zone; `app.state.console`, built by app.py), the logged-in
reviewer (`CurrentReviewer`: else a redirect to the login page) or administrator
(`CurrentAdmin`: a reviewer gets a 403 page, `AdminOnly`), the CSRF check of a form, and the
rendering of a page (never cached). Used by console.py and console_case.py; the progress page
(progress_page.py) renders with `console_templates` too.
"""
from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from backoffice import console_text as words
from backoffice.console_text import CatalogLabels, LocalTime
from backoffice.reviewers import ConsoleUser
from backoffice.workflow import STATUS_LABELS

SESSION_COOKIE = "bo_session"
LOGIN_CSRF_COOKIE = "bo_login_csrf"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class AdminOnly(HTTPException):
    """A reviewer asked for an administrator's page or action: 403 with a plain page."""

    def __init__(self, page: HTMLResponse):
        super().__init__(403, "administrators only")
        self.page = page


def console_templates(time: LocalTime, labels: CatalogLabels) -> Jinja2Templates:
    """The console's templates (also the progress page's): times by `time`, codes in words."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters["localtime"] = time
    env.globals.update(STATUS_LABELS=STATUS_LABELS, zone_note=time.zone_note, words=words,
                       labels=labels)
    return templates


class ConsoleKit:
    """One app's console: its Services, templates, catalogue labels and zone."""

    def __init__(self, services):
        self.services = services
        self.time = LocalTime(services.settings.timezone)
        self.tz = self.time.tz
        self.labels = CatalogLabels(services.settings.catalog_dir)
        self.templates = console_templates(self.time, self.labels)

    def secure(self, request: Request) -> bool:
        """Whether cookies get `Secure`: always, never, or (auto) when the request came over
        https, directly or from a trusted proxy (uvicorn's --proxy-headers)."""
        mode = self.services.settings.cookie_secure
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    async def form_checked(self, request: Request, csrf: str):
        """The request's form, once its `csrf` field is the session's token (else 403)."""
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf):
            raise HTTPException(403, "CSRF token missing or wrong / 表单已失效，请刷新页面")
        return form

    def render(self, request: Request, name: str, who: ConsoleUser | None, status: int = 200,
               **context) -> HTMLResponse:
        context.update(reviewer=who[0] if who else None, csrf=who[1] if who else "",
                       is_admin=bool(who and who.is_admin))
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response


async def app_kit(request: Request) -> ConsoleKit:
    """FastAPI dependency: the ConsoleKit of the app serving `request` (`app.state.console`)."""
    return request.app.state.console


Kit = Annotated[ConsoleKit, Depends(app_kit)]


async def reviewer(request: Request, kit: Kit) -> ConsoleUser:
    """(name, csrf, role) of the logged-in reviewer; otherwise redirects to the login page.
    A dependency (`CurrentReviewer`); it reads no body."""
    found = await run_in_threadpool(kit.services.reviewers.session_for,
                                    request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise HTTPException(303, headers={"Location": "/console/login"})
    if "catalog" not in vars(kit.labels):      # loaded once, off the event loop (~1 s)
        await run_in_threadpool(getattr, kit.labels, "catalog")
    return found


async def admin(request: Request, kit: Kit) -> ConsoleUser:
    """The logged-in administrator; a reviewer gets a 403 page (AdminOnly). A dependency
    (`CurrentAdmin`)."""
    who = await reviewer(request, kit)
    if not who.is_admin:
        raise AdminOnly(kit.render(request, "forbidden.html", who, status=403))
    return who


CurrentReviewer = Annotated[ConsoleUser, Depends(reviewer)]
CurrentAdmin = Annotated[ConsoleUser, Depends(admin)]


def client_address(request: Request) -> str:
    """The client's address (a trusted proxy's X-Forwarded-For, with uvicorn's --proxy-headers)."""
    return request.client.host if request.client else ""
