"""The back office's FastAPI application: `create_app(settings)` wires everything together.

One `Services` object per app (no globals, services.py), kept in `app.state.services` with the
console's `ConsoleKit` (`app.state.console`, console_kit.py) and the progress page's
`ProgressPage` (`app.state.progress`, progress_page.py); the routes are module-level
`APIRouter`s that get these through FastAPI dependencies.
The terminal API lives under /api/v1 (api.py), the reviewers' console under /console
(console.py, console_case.py); /docs, /redoc and /openapi.json only with `enable_docs`
(`backoffice serve --enable-docs`).
Errors keep the terminal API's body `{"error": reason_key, "detail": text}` everywhere: a
request FastAPI cannot validate is a 422 `backoffice.request.malformed` (naming the field, not
echoing the input), an unreadable body a 400 with the same key (HTTP errors under /api/ get a
reason key; the console keeps FastAPI's own pages), a database that cannot be reached a 503
`backoffice.unavailable`, and any other unexpected failure a 500 `backoffice.internal_error`
(logged with its traceback).
The routes open to anyone (progress, login, enrolment) are rate limited per client address
(rate_limit.py), before anything reads the request's body.
Every answer carries a strict Content-Security-Policy and the other security headers, and no
request body is read past its limit (http_security.py).
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backoffice import api, console, console_case, http_security, progress_page
from backoffice.console_kit import ConsoleKit
from backoffice.progress_page import ProgressPage
from backoffice.rate_limit import RateLimitMiddleware
from backoffice.services import Services
from backoffice.settings import Settings, parse_limits

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent
HTTP_REASONS = {400: "backoffice.request.malformed", 404: "backoffice.not_found",
                405: "backoffice.request.method_not_allowed", 413: "backoffice.request.too_large"}


def create_app(settings: Settings) -> FastAPI:
    services = Services.start(settings)
    docs = settings.enable_docs     # off by default; `backoffice openapi` writes the spec anyway
    app = FastAPI(title="Kiosk back office", version="1.0", lifespan=_lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None,
                  description="Receives sealed packets from 7x24 self-service terminals; "
                              "reviewers decide cases in the web console.")
    app.state.services = services
    app.state.console = ConsoleKit(services)
    app.state.progress = ProgressPage(services)
    app.add_middleware(RateLimitMiddleware, limits=parse_limits(settings.rate_limits),
                       max_addresses=settings.rate_limit_addresses)
    http_security.install(app, settings)     # headers on every answer, bounded bodies
    app.include_router(api.router)
    app.include_router(console.router)
    app.include_router(console_case.router)
    app.include_router(progress_page.router)   # the receipt's QR code
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    app.add_exception_handler(StarletteHTTPException, api_http_error)
    app.add_exception_handler(RequestValidationError, malformed_request)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(Exception, internal_error)
    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    yield
    app.state.services.db.dispose()


async def api_http_error(request: Request, exc: StarletteHTTPException):
    if getattr(exc, "page", None) is not None:        # a console refusal with its own page
        return exc.page
    if not request.url.path.startswith("/api/"):     # the console's pages and redirects
        return await http_exception_handler(request, exc)
    return JSONResponse({"error": HTTP_REASONS.get(exc.status_code, "backoffice.request.refused"),
                         "detail": str(exc.detail)[:160]}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def malformed_request(request: Request, exc: RequestValidationError):
    first = (exc.errors() or [{}])[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "request"
    return JSONResponse({"error": "backoffice.request.malformed",
                         "detail": f"{where}: {first.get('type', 'invalid')}"[:160]},
                        status_code=422)


async def database_unavailable(request: Request, exc: OperationalError):
    log.error("database unavailable path=%s error=%s", request.url.path, type(exc.orig).__name__)
    return JSONResponse({"error": "backoffice.unavailable", "detail": "try again later"},
                        status_code=503, headers={"Retry-After": "30"})


async def internal_error(request: Request, exc: Exception):
    return JSONResponse({"error": "backoffice.internal_error", "detail": "internal error"},
                        status_code=500)


def root():
    return RedirectResponse("/console/cases", status_code=303)
