"""What the back office is made of: one `Services` object per app or CLI command (no globals).

`Services.start(settings)` opens the database, the vault and its file store, loads the X25519
key (generated on first start with protocol.keys' helper) and builds the fleet, terminal auth,
packet intake, reviewers (with their login guard), the publisher of signed updates (its Ed25519
key also generated on first start) and the fleet alarms. The web app (app.py) keeps it in
`app.state.services`; its routes get it through the dependency `app_services`.
It does not touch the database's schema: backoffice/schema.py makes and upgrades it.
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path

import nacl.public
from fastapi import Request

from backoffice.alarms import Alarms
from backoffice.db import Database
from backoffice.fleet import Fleet
from backoffice.intake import PacketIntake
from backoffice.login_guard import LoginGuard, LoginRules
from backoffice.publishing import Publisher, load_or_create_publisher_key
from backoffice.reviewers import Reviewers
from backoffice.settings import Settings
from backoffice.terminal_auth import TerminalAuth
from backoffice.vault import FileStore, Vault
from protocol.keys import generate_backoffice_keypair, load_private_key

log = logging.getLogger(__name__)


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


async def app_services(request: Request) -> Services:
    """FastAPI dependency: the Services of the app serving `request` (`app.state.services`)."""
    return request.app.state.services
