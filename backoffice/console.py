"""The reviewers' web console (/console): login, case list, fleet and its alarms (also as
JSON at /console/fleet/alarms.json), help requests, rejections.

Server-rendered Jinja2, plain HTML/CSS, Chinese UI with English subtitles. A reviewer logs in
(scrypt-hashed password) and gets a session cookie; every form carries the session's CSRF
token (the login form a double-submit cookie token). One case's page and its actions are in
console_case.py. Codes are shown as words and catalogue labels, every time in the configured
zone (console_text.py).
"""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from backoffice import console_text as words
from backoffice.console_text import CatalogLabels, LocalTime
from backoffice.db import Case, HelpRequest, Rejection, utcnow
from backoffice.workflow import STATUS_LABELS, STATUSES

SESSION_COOKIE = "bo_session"
LOGIN_CSRF_COOKIE = "bo_login_csrf"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class ConsoleKit:
    """What every console page needs: templates, the reviewer of the request, CSRF checks."""

    def __init__(self, services):
        self.services = services
        self.time = LocalTime(services.settings.timezone)
        self.tz = self.time.tz
        self.labels = CatalogLabels(services.settings.catalog_dir)
        self.templates = console_templates(self.time, self.labels)

    async def reviewer(self, request: Request) -> tuple[str, str]:
        """(name, csrf) of the logged-in reviewer; otherwise redirects to the login page."""
        found = await run_in_threadpool(self.services.reviewers.session_for,
                                        request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise HTTPException(303, headers={"Location": "/console/login"})
        if "catalog" not in vars(self.labels):      # loaded once, off the event loop (~1 s)
            await run_in_threadpool(getattr, self.labels, "catalog")
        return found

    async def form_checked(self, request: Request, csrf: str):
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf):
            raise HTTPException(403, "CSRF token missing or wrong / 表单已失效，请刷新页面")
        return form

    def render(self, request: Request, name: str, who: tuple[str, str] | None, status: int = 200,
               **context) -> HTMLResponse:
        context.update(reviewer=who[0] if who else None, csrf=who[1] if who else "")
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response


def console_templates(time: LocalTime, labels: CatalogLabels) -> Jinja2Templates:
    """The console's templates (also the progress page's): times by `time`, codes in words."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters["localtime"] = time
    env.globals.update(STATUS_LABELS=STATUS_LABELS, zone_note=time.zone_note, words=words,
                       labels=labels)
    return templates


def _day_start(text: str, tz: ZoneInfo) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.timezone.utc)


def build_console(services) -> APIRouter:
    from backoffice.console_case import add_case_routes

    kit = ConsoleKit(services)
    router = APIRouter(prefix="/console", include_in_schema=False)
    db = services.db

    @router.get("/login")
    async def login_page(request: Request, failed: int = 0):
        token = secrets.token_urlsafe(24)
        response = kit.render(request, "login.html", None, login_csrf=token, failed=bool(failed))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=services.settings.cookie_secure, path="/console")
        return response

    @router.post("/login")
    async def login(request: Request):
        form = await request.form()
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
            raise HTTPException(403, "CSRF token missing or wrong / 表单已失效，请刷新页面")
        found = await run_in_threadpool(services.reviewers.login, str(form.get("name", "")),
                                        str(form.get("password", "")))
        if found is None:
            return RedirectResponse("/console/login?failed=1", status_code=303)
        response = RedirectResponse("/console/cases", status_code=303)
        response.set_cookie(SESSION_COOKIE, found[0], httponly=True, samesite="lax",
                            secure=services.settings.cookie_secure,
                            max_age=services.settings.session_ttl_s)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
        return response

    @router.post("/logout")
    async def logout(request: Request):
        who = await kit.reviewer(request)
        await kit.form_checked(request, who[1])
        await run_in_threadpool(services.reviewers.logout, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("")
    async def home():
        return RedirectResponse("/console/cases", status_code=303)

    def _cases(filters: dict) -> tuple[list[Case], list[str], list[str]]:
        query = select(Case).order_by(Case.received_at.desc()).limit(500)
        if filters["status"] in STATUSES:
            query = query.where(Case.status == filters["status"])
        if filters["matter"]:
            query = query.where(Case.matter_code == filters["matter"])
        if filters["terminal"]:
            query = query.where(Case.terminal_id == filters["terminal"])
        start = _day_start(filters["date_from"], kit.tz)
        if start:
            query = query.where(Case.received_at >= start)
        end = _day_start(filters["date_to"], kit.tz)
        if end:
            query = query.where(Case.received_at < end + dt.timedelta(days=1))
        with db.read() as session:
            cases = session.scalars(query).all()
            matters = session.execute(select(Case.matter_code, func.min(Case.matter_name))
                                      .group_by(Case.matter_code)
                                      .order_by(Case.matter_code)).all()
            terminals = session.scalars(select(Case.terminal_id).distinct()
                                        .order_by(Case.terminal_id)).all()
        return ([(c, kit.labels.matter(c.matter_code, c.matter_name)) for c in cases],
                [(code, kit.labels.matter(code, name)) for code, name in matters], terminals)

    @router.get("/cases")
    async def cases_page(request: Request, status: str = "", matter: str = "",
                         terminal: str = "", date_from: str = "", date_to: str = ""):
        who = await kit.reviewer(request)
        filters = dict(status=status, matter=matter, terminal=terminal, date_from=date_from,
                       date_to=date_to)
        cases, matters, terminals = await run_in_threadpool(_cases, filters)
        return kit.render(request, "cases.html", who, cases=cases, filters=filters,
                          statuses=STATUSES, matters=matters, terminals=terminals)

    @router.get("/fleet")
    async def fleet_page(request: Request):
        who = await kit.reviewer(request)
        terminals = await run_in_threadpool(services.fleet.terminals)
        alarms = await run_in_threadpool(services.alarms.current)
        per_terminal: dict[str, list] = {}
        for alarm in alarms:
            per_terminal.setdefault(alarm.terminal_id, []).append(alarm)
        return kit.render(request, "fleet.html", who, terminals=terminals, alarms=alarms,
                          per_terminal=per_terminal,
                          silent_after_s=services.settings.silent_after_s, now=utcnow())

    @router.get("/fleet/alarms.json")
    async def fleet_alarms(request: Request):
        """The same alarms for monitoring scripts (needs a reviewer's session cookie)."""
        await kit.reviewer(request)
        alarms = await run_in_threadpool(services.alarms.current)
        return JSONResponse({"at": utcnow().isoformat(timespec="seconds"),
                             "alarms": [a.as_dict() for a in alarms]},
                            headers={"Cache-Control": "no-store"})

    @router.post("/fleet/{terminal_id}/revoke")
    async def revoke(request: Request, terminal_id: str):
        who = await kit.reviewer(request)
        await kit.form_checked(request, who[1])
        await run_in_threadpool(services.fleet.revoke, terminal_id)
        return RedirectResponse("/console/fleet", status_code=303)

    @router.get("/tokens")
    async def tokens_page(request: Request):
        who = await kit.reviewer(request)
        return kit.render(request, "tokens.html", who, token=None, error=None)

    @router.post("/tokens")
    async def create_token(request: Request):
        who = await kit.reviewer(request)
        form = await kit.form_checked(request, who[1])
        terminal_id, site = str(form.get("terminal_id", "")).strip(), str(form.get("site", ""))
        try:
            token = await run_in_threadpool(services.fleet.create_token, terminal_id, site.strip(),
                                            services.settings.token_ttl_hours)
        except ValueError as exc:
            return kit.render(request, "tokens.html", who, token=None, error=str(exc), status=422)
        return kit.render(request, "tokens.html", who, token=token, terminal_id=terminal_id,
                          error=None)

    def _help_requests() -> list[HelpRequest]:
        with db.read() as session:
            return session.scalars(select(HelpRequest).order_by(HelpRequest.at.desc())
                                   .limit(300)).all()

    @router.get("/help")
    async def help_page(request: Request):
        who = await kit.reviewer(request)
        return kit.render(request, "help.html", who,
                          requests=await run_in_threadpool(_help_requests))

    def _mark_handled(help_id: int, reviewer: str) -> None:
        with db.write() as session:
            row = session.get(HelpRequest, help_id)
            if row is not None and row.handled_at is None:
                row.handled_at, row.handled_by = utcnow(), reviewer

    @router.post("/help/{help_id}/handled")
    async def help_handled(request: Request, help_id: int):
        who = await kit.reviewer(request)
        await kit.form_checked(request, who[1])
        await run_in_threadpool(_mark_handled, help_id, who[0])
        return RedirectResponse("/console/help", status_code=303)

    def _rejections() -> tuple[list[Rejection], list]:
        with db.read() as session:
            rows = session.scalars(select(Rejection).order_by(Rejection.id.desc()).limit(300)).all()
            counts = session.execute(select(Rejection.reason_key, func.count())
                                     .group_by(Rejection.reason_key)
                                     .order_by(func.count().desc())).all()
        return rows, counts

    @router.get("/rejections")
    async def rejections_page(request: Request):
        who = await kit.reviewer(request)
        rows, counts = await run_in_threadpool(_rejections)
        return kit.render(request, "rejections.html", who, rows=rows, counts=counts)

    add_case_routes(router, kit)
    return router
