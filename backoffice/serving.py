"""How `backoffice serve` runs: one process or several workers, several instances, one data folder.

`backoffice serve --workers N` runs uvicorn's own multi-process supervisor over the app factory
`app_from_environment` (below): one listening socket, N worker processes, a dead worker is
started again, SIGHUP restarts them one after another. Uvicorn rather than gunicorn: it is
already the server, so `--workers` adds no dependency and keeps every option `serve` has
(`--proxy-headers`, `--forwarded-allow-ips`, TLS), and since uvicorn 0.30 its supervisor
restarts workers that die, which is what gunicorn would have added here. Several instances
(`serve` processes on other ports or hosts) are as many independent processes; nothing needs
to know about the others because every piece of state they must agree on is shared:

- the database (PostgreSQL for several instances): cases, packets, nonces of signed requests
  (a unique constraint: a request replayed to another instance is refused), console sessions,
  login throttling, the audit log, published updates;
- the data folder, which every instance mounts: the keys (`backoffice.key`, `vault.key`,
  `publisher.key`), the file store (`files/objects/..`, `files/raw/<packet>.sealed`) and the
  published bundles (`updates/`). Every write there goes through protocol.atomic (a temp file
  named after the writing process, fsync, rename), objects are content-addressed and a sealed
  packet is named by its packet id, so two instances writing the same thing write the same
  bytes under the same name and never see each other's half-written files.

What stays per process: the per-address rate-limit buckets (rate_limit.py) and the catalogue
labels the console loaded at start (docs/operations.md says what that means).

`prepare(settings)` runs once in the parent before any worker starts: the schema must be
current (`backoffice db upgrade`), the database reachable, and the keys are created on first
start. Creating keys and tables is done under an exclusive lock on `<data_dir>/.start.lock`,
here and in every worker, so instances starting together on an empty folder make one set of
keys, not one each.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Iterator

from sqlalchemy.exc import OperationalError

from backoffice.settings import Settings, SettingsError

log = logging.getLogger(__name__)

SERVE_ENV = "BACKOFFICE_SERVE"          # what the workers need to know, set by `run`
START_LOCK = ".start.lock"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class ServeRefused(Exception):
    """The back office cannot start; the text says why and what to do (no traceback)."""


@contextlib.contextmanager
def start_lock(data_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of the data folder while keys and tables are made (flock; on a
    shared folder over NFSv4 Linux takes it as a lock on the server)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / START_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)        # releases the lock


def check_schema(database_url: str) -> None:
    """Raise ServeRefused when the database's schema is not this build's (behind: the message
    names `backoffice db upgrade`) or cannot be read."""
    from backoffice.schema import SchemaError, require_current_schema
    try:
        require_current_schema(database_url)
    except SchemaError as exc:      # behind (says: `backoffice db upgrade`), unreadable, ahead
        raise ServeRefused(str(exc)) from None


def prepare(settings: Settings, workers: int = 1) -> None:
    """Everything that can stop the back office from starting, checked once before any worker
    runs: a current schema, a reachable database, a usable storage URL; the keys are made on
    first start. Raises ServeRefused."""
    from backoffice.services import Services
    check_schema(settings.database_url)
    try:
        with start_lock(settings.data_dir):
            Services.start(settings).db.dispose()
    except SettingsError as exc:
        raise ServeRefused(f"{exc} [{exc.reason_key}]") from None
    except OperationalError as exc:
        raise ServeRefused(f"the database cannot be reached ({type(exc.orig).__name__}): check "
                           "BACKOFFICE_DATABASE_URL and that the server runs") from None
    if workers > 1 and settings.database_url.startswith("sqlite"):
        log.warning("%d workers on SQLite: writers queue on the database file's lock; "
                    "use PostgreSQL for several workers or instances", workers)


def app_from_environment():
    """The app factory uvicorn calls in each worker (`SERVE_ENV` carries the options)."""
    from backoffice.app import create_app
    options = json.loads(os.environ[SERVE_ENV])
    logging.basicConfig(level=options["log_level"].upper(), format=LOG_FORMAT)
    settings = Settings.for_data_dir(options["data_dir"], **options["overrides"])
    with start_lock(settings.data_dir):
        return create_app(settings)


def run(settings: Settings, overrides: dict, *, host: str, port: int, workers: int,
        log_level: str, **uvicorn_options) -> None:
    """Serve with uvicorn: `workers` processes over one socket (1: this process)."""
    import uvicorn
    os.environ[SERVE_ENV] = json.dumps({"data_dir": str(settings.data_dir),
                                        "overrides": overrides, "log_level": log_level})
    uvicorn.run("backoffice.serving:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, access_log=False, **uvicorn_options)
