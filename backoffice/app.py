"""The back office's FastAPI application: `create_app(settings)` wires everything together.

One `Services` object per app (no globals): database, vault and file store, the X25519 key
(generated on first start with protocol.keys' helper), fleet, terminal auth, packet intake,
reviewers (with their login guard), the publisher of signed updates (its Ed25519 key also
generated on first start) and the fleet alarms.
The terminal API lives under /api/v1, the reviewers' console under /console; /docs, /redoc
and /openapi.json only with `enable_docs` (`backoffice serve --enable-docs`).
Errors keep the terminal API's body `{"error": reason_key, "detail": text}` everywhere: a
request FastAPI cannot validate is a 422 `backoffice.request.malformed` (naming the field, not
echoing the input), an unreadable body a 400 with the same key (HTTP errors under /api/ get a
reason key; the console keeps FastAPI's own pages), a database that cannot be reached a 503 `backoffice.unavailable`, and
any other unexpected failure a 500 `backoffice.internal_error` (logged with its traceback).
The routes open to anyone (progress, login, enrolment) are rate limited per client address
(rate_limit.py), before anything reads the request's body.
Every answer carries a strict Content-Security-Policy and the other security headers, and no
request body is read past its limit (http_security.py).
"""
from __future__ import annotations

import base64
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import nacl.public
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backoffice import http_security
from backoffice.alarms import Alarms
from backoffice.api import build_router
from backoffice.console import build_console
from backoffice.db import Database
from backoffice.fleet import Fleet
from backoffice.intake import PacketIntake
from backoffice.login_guard import LoginGuard, LoginRules
from backoffice.progress_page import build_progress_page
from backoffice.publishing import Publisher, load_or_create_publisher_key
from backoffice.rate_limit import RateLimitMiddleware, parse_limits
from backoffice.reviewers import Reviewers
from backoffice.settings import Settings
from backoffice.terminal_auth import TerminalAuth
from backoffice.vault import FileStore, Vault
from protocol.keys import generate_backoffice_keypair, load_private_key

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent
HTTP_REASONS = {400: "backoffice.request.malformed", 404: "backoffice.not_found",
                405: "backoffice.request.method_not_allowed", 413: "backoffice.request.too_large"}


def load_or_create_keypair(path: Path) -> nacl.public.PrivateKey:
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate_backoffice_keypair(path)
        log.info("back-office key pair generated")
    return load_private_key(path)


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: Vault
    store: FileStore
    private_key: nacl.public.PrivateKey
    fleet: Fleet
    auth: TerminalAuth
    intake: PacketIntake
    reviewers: Reviewers
    publisher: Publisher
    alarms: Alarms

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(bytes(self.private_key.public_key)).decode("ascii")

    @classmethod
    def start(cls, settings: Settings) -> "Services":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.database_url)
        db.create_all()
        vault = Vault.open_or_create(settings.vault_key_path)
        store = FileStore(settings.storage_url, vault)
        private_key = load_or_create_keypair(settings.key_path)
        fleet = Fleet(db, settings.silent_after_s)
        return cls(settings=settings, db=db, vault=vault, store=store, private_key=private_key,
                   fleet=fleet,
                   auth=TerminalAuth(db, settings.clock_skew_s),
                   intake=PacketIntake(db, store, vault, private_key),
                   reviewers=Reviewers(db, LoginGuard(db, LoginRules.of(settings),
                                                      LoginRules.of(settings, per_address=True)),
                                       settings.session_ttl_s),
                   publisher=Publisher(db, settings.data_dir,
                                       load_or_create_publisher_key(settings.publisher_key_path)),
                   alarms=Alarms(db, fleet, settings.outbox_alarm_depth,
                                 settings.outbox_rising_beats))


def create_app(settings: Settings) -> FastAPI:
    services = Services.start(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        services.db.dispose()

    docs = settings.enable_docs     # off by default; `backoffice openapi` writes the spec anyway
    app = FastAPI(title="Kiosk back office", version="1.0", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None,
                  description="Receives sealed packets from 7x24 self-service terminals; "
                              "reviewers decide cases in the web console.")
    app.state.services = services
    app.add_middleware(RateLimitMiddleware, limits=parse_limits(settings.rate_limits),
                       max_addresses=settings.rate_limit_addresses)
    http_security.install(app, settings)     # headers on every answer, bounded bodies
    app.include_router(build_router(services))
    app.include_router(build_console(services))
    app.include_router(build_progress_page(services))   # the receipt's QR code
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def api_http_error(request: Request, exc: StarletteHTTPException):
        if getattr(exc, "page", None) is not None:        # a console refusal with its own page
            return exc.page
        if not request.url.path.startswith("/api/"):     # the console's pages and redirects
            return await http_exception_handler(request, exc)
        return JSONResponse({"error": HTTP_REASONS.get(exc.status_code, "backoffice.request.refused"),
                             "detail": str(exc.detail)[:160]}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def malformed_request(request: Request, exc: RequestValidationError):
        first = (exc.errors() or [{}])[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "request"
        return JSONResponse({"error": "backoffice.request.malformed",
                             "detail": f"{where}: {first.get('type', 'invalid')}"[:160]},
                            status_code=422)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError):
        log.error("database unavailable path=%s error=%s", request.url.path, type(exc.orig).__name__)
        return JSONResponse({"error": "backoffice.unavailable", "detail": "try again later"},
                            status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        return JSONResponse({"error": "backoffice.internal_error", "detail": "internal error"},
                            status_code=500)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/console/cases", status_code=303)

    return app
