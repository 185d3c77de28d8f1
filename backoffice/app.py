"""The back office's FastAPI application: `create_app(settings)` wires everything together.

One `Services` object per app (no globals): database, vault and file store, the X25519 key
(generated on first start with kiosk.packet's helper), fleet, terminal auth, packet intake,
reviewers, the publisher of signed updates (its Ed25519 key also generated on first start)
and the fleet alarms.
The terminal API lives under /api/v1, the reviewers' console under /console.
"""
from __future__ import annotations

import base64
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import nacl.public
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from backoffice.alarms import Alarms
from backoffice.api import build_router
from backoffice.console import build_console
from backoffice.db import Database
from backoffice.fleet import Fleet
from backoffice.intake import PacketIntake
from backoffice.progress_page import build_progress_page
from backoffice.publishing import Publisher, load_or_create_publisher_key
from backoffice.reviewers import Reviewers
from backoffice.settings import Settings
from backoffice.terminal_auth import TerminalAuth
from backoffice.vault import FileStore, Vault
from kiosk import packet as kp

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent


def load_or_create_keypair(path: Path) -> nacl.public.PrivateKey:
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        kp.generate_backoffice_keypair(path)
        log.info("back-office key pair generated")
    return kp.load_private_key(path)


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
                   reviewers=Reviewers(db, settings.session_ttl_s),
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

    app = FastAPI(title="Kiosk back office", version="1.0", lifespan=lifespan,
                  description="Receives sealed packets from 7x24 self-service terminals; "
                              "reviewers decide cases in the web console.")
    app.state.services = services
    app.include_router(build_router(services))
    app.include_router(build_console(services))
    app.include_router(build_progress_page(services))   # the receipt's QR code
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/console/cases", status_code=303)

    return app
