"""The reviewers' web console (/console): login, case list, fleet and its alarms (also as
JSON at /console/fleet/alarms.json), help requests, rejections, enrolment tokens, audit export.

Server-rendered Jinja2, plain HTML/CSS, Chinese UI with English subtitles. A reviewer logs in
(scrypt-hashed password; throttled per account and per address, login_guard.py) and gets a
session cookie (HttpOnly, SameSite=Strict, Secure over https: `cookie_secure`); every form
carries the session's CSRF token (the login form a double-submit cookie token). Reviewers
decide cases; enrolment tokens, revoking terminals and the audit export are for
administrators (`CurrentAdmin`: anyone else gets a 403 page). Every action goes into the audit
log (audit.py). One case's page and its actions are in console_case.py; what every page needs
(the app's ConsoleKit, the logged-in reviewer, CSRF checks) comes as dependencies from
console_kit.py. Codes are shown as words and catalogue labels, every time in the configured
zone (console_text.py).

`router` holds the routes; app.py includes it, then console_case.router.
"""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from backoffice import audit
from backoffice.console_kit import (LOGIN_CSRF_COOKIE, SESSION_COOKIE, ConsoleKit, CurrentAdmin,
                                    CurrentReviewer, Kit, client_address, reviewer)
from backoffice.db import Case, HelpRequest, Rejection, storable_int, utcnow
from backoffice.login_guard import LoginThrottled
from backoffice.reviewers import ConsoleUser
from backoffice.workflow import STATUSES

router = APIRouter(prefix="/console", include_in_schema=False)


def _day_start(text: str, tz: ZoneInfo) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.timezone.utc)


def _login_form(kit: ConsoleKit, request: Request, status: int = 200, **context) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = kit.render(request, "login.html", None, status=status, login_csrf=token,
                          **context)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=kit.secure(request), path="/console")
    return response


@router.get("/login")
async def login_page(request: Request, kit: Kit, failed: int = 0):
    return _login_form(kit, request, failed=bool(failed), throttled=None)


@router.post("/login")
async def login(request: Request, kit: Kit):
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
        raise HTTPException(403, "CSRF token missing or wrong / 表单已失效，请刷新页面")
    try:
        found = await run_in_threadpool(kit.services.reviewers.login, str(form.get("name", "")),
                                        str(form.get("password", "")), client_address(request))
    except LoginThrottled as refused:
        response = _login_form(kit, request, status=429, failed=False, throttled=refused)
        response.headers["Retry-After"] = str(refused.retry_after_s)
        return response
    if found is None:
        return RedirectResponse("/console/login?failed=1", status_code=303)
    response = RedirectResponse("/console/cases", status_code=303)
    response.set_cookie(SESSION_COOKIE, found[0], httponly=True, samesite="strict",
                        secure=kit.secure(request), max_age=kit.services.settings.session_ttl_s)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request, kit: Kit, who: CurrentReviewer):
    await kit.form_checked(request, who[1])
    await run_in_threadpool(kit.services.reviewers.logout, request.cookies.get(SESSION_COOKIE),
                            who.actor, client_address(request))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("")
async def home():
    return RedirectResponse("/console/cases", status_code=303)


def _cases(kit: ConsoleKit, filters: dict) -> tuple[list[Case], list[str], list[str]]:
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
    with kit.services.db.read() as session:
        cases = session.scalars(query).all()
        matters = session.execute(select(Case.matter_code, func.min(Case.matter_name))
                                  .group_by(Case.matter_code)
                                  .order_by(Case.matter_code)).all()
        terminals = session.scalars(select(Case.terminal_id).distinct()
                                    .order_by(Case.terminal_id)).all()
    return ([(c, kit.labels.matter(c.matter_code, c.matter_name)) for c in cases],
            [(code, kit.labels.matter(code, name)) for code, name in matters], terminals)


@router.get("/cases")
async def cases_page(request: Request, kit: Kit, who: CurrentReviewer, status: str = "",
                     matter: str = "", terminal: str = "", date_from: str = "",
                     date_to: str = ""):
    filters = dict(status=status, matter=matter, terminal=terminal, date_from=date_from,
                   date_to=date_to)
    cases, matters, terminals = await run_in_threadpool(_cases, kit, filters)
    return kit.render(request, "cases.html", who, cases=cases, filters=filters,
                      statuses=STATUSES, matters=matters, terminals=terminals)


@router.get("/fleet")
async def fleet_page(request: Request, kit: Kit, who: CurrentReviewer):
    services = kit.services
    terminals = await run_in_threadpool(services.fleet.terminals)
    alarms = await run_in_threadpool(services.alarms.current)
    per_terminal: dict[str, list] = {}
    for alarm in alarms:
        per_terminal.setdefault(alarm.terminal_id, []).append(alarm)
    return kit.render(request, "fleet.html", who, terminals=terminals, alarms=alarms,
                      per_terminal=per_terminal,
                      silent_after_s=services.settings.silent_after_s, now=utcnow())


@router.get("/fleet/alarms.json")
async def fleet_alarms(kit: Kit, _who: CurrentReviewer):
    """The same alarms for monitoring scripts (needs a reviewer's session cookie)."""
    alarms = await run_in_threadpool(kit.services.alarms.current)
    return JSONResponse({"at": utcnow().isoformat(timespec="seconds"),
                         "alarms": [a.as_dict() for a in alarms]},
                        headers={"Cache-Control": "no-store"})


@router.post("/fleet/{terminal_id}/revoke")
async def revoke(request: Request, kit: Kit, who: CurrentAdmin, terminal_id: str):
    await kit.form_checked(request, who[1])
    await run_in_threadpool(kit.services.fleet.revoke, terminal_id, who.actor)
    return RedirectResponse("/console/fleet", status_code=303)


@router.get("/tokens")
async def tokens_page(request: Request, kit: Kit, who: CurrentAdmin):
    return kit.render(request, "tokens.html", who, token=None, error=None)


@router.post("/tokens")
async def create_token(request: Request, kit: Kit, who: CurrentAdmin):
    form = await kit.form_checked(request, who[1])
    terminal_id, site = str(form.get("terminal_id", "")).strip(), str(form.get("site", ""))
    try:
        token = await run_in_threadpool(kit.services.fleet.create_token, terminal_id, site.strip(),
                                        kit.services.settings.token_ttl_hours, who.actor)
    except ValueError as exc:
        return kit.render(request, "tokens.html", who, token=None, error=str(exc), status=422)
    return kit.render(request, "tokens.html", who, token=token, terminal_id=terminal_id,
                      error=None)


def _help_requests(db) -> list[HelpRequest]:
    with db.read() as session:
        return session.scalars(select(HelpRequest).order_by(HelpRequest.at.desc())
                               .limit(300)).all()


@router.get("/help")
async def help_page(request: Request, kit: Kit, who: CurrentReviewer):
    return kit.render(request, "help.html", who,
                      requests=await run_in_threadpool(_help_requests, kit.services.db))


def _mark_handled(db, help_id: int, who: ConsoleUser) -> None:
    if not storable_int(help_id):
        return
    with db.write() as session:
        row = session.get(HelpRequest, help_id, with_for_update=True)
        if row is not None and row.handled_at is None:
            row.handled_at, row.handled_by = utcnow(), who.name
            audit.record(session, who.actor, "help.handled", case_number=row.case_number,
                         target=f"help {row.id} from {row.terminal_id}")


@router.post("/help/{help_id}/handled")
async def help_handled(request: Request, kit: Kit, help_id: int):
    who = await reviewer(request, kit)      # after help_id's check, as before (not a dependency)
    await kit.form_checked(request, who[1])
    await run_in_threadpool(_mark_handled, kit.services.db, help_id, who)
    return RedirectResponse("/console/help", status_code=303)


def _rejections(db) -> tuple[list[Rejection], list]:
    with db.read() as session:
        rows = session.scalars(select(Rejection).order_by(Rejection.id.desc()).limit(300)).all()
        counts = session.execute(select(Rejection.reason_key, func.count())
                                 .group_by(Rejection.reason_key)
                                 .order_by(func.count().desc())).all()
    return rows, counts


@router.get("/rejections")
async def rejections_page(request: Request, kit: Kit, who: CurrentReviewer):
    rows, counts = await run_in_threadpool(_rejections, kit.services.db)
    return kit.render(request, "rejections.html", who, rows=rows, counts=counts)


@router.get("/audit.{fmt}")
async def audit_export(request: Request, kit: Kit, who: CurrentAdmin, fmt: str, since: str = ""):
    """The audit log (from the day `since`, in the console's zone) as CSV or JSON lines."""
    if fmt not in audit.FORMATS:
        raise HTTPException(404, "no such format / 无此格式")
    db = kit.services.db
    start = _day_start(since, kit.tz) if since else None
    await run_in_threadpool(audit.record_now, db, who.actor, "audit.export",
                            detail=f"{fmt} since {start.isoformat() if start else 'start'}",
                            address=client_address(request))
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(audit.export(audit.entries(db, start), fmt), media_type=media,
                             headers={"Cache-Control": "no-store", "Content-Disposition":
                                      f'attachment; filename="audit.{fmt}"'})
