"""Publishing signed catalogue and site-profile updates to the terminals.

The publisher key (Ed25519, `<data_dir>/publisher.key`, generated on first start, mode 0600)
signs every bundle; its public half is handed to each terminal in the enrolment answer.
`publish_catalog(DIR)` / `publish_site_profile(FILE, site)` validate the content FIRST (the
catalogue with flows.catalog.load_catalog, a profile with the [site] schema of
protocol/site_profile.py), then store a bundle (format `kiosk-update/1`, built by
protocol.updates.build_bundle) with the next version number of its kind under
`<data_dir>/updates/`, written durably (protocol.atomic.write_atomic) before the database row
that offers it is committed. Version numbers grow per kind across all sites, so a terminal only
ever moves forward. A terminal is offered, per kind, the newest version published for all sites
("") or for its own site.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from backoffice import audit
from backoffice.db import Database, PublishedUpdate, storable_int, utcnow
from protocol.atomic import write_atomic
from protocol.keys import public_key_text, read_labelled, write_secret
from protocol.updates import (KINDS, SITE_PROFILE_FILE, UpdateRefused, build_bundle, catalog_files,
                              validate_site_profile)

log = logging.getLogger(__name__)
PUBLISHER_KEY_LABEL = "kiosk-publisher-ed25519-seed"
BUNDLE_MODE = 0o644     # signed and handed to every terminal of its sites: nothing secret


class PublishError(ValueError):
    """Content that cannot be published; `reason_key` names the problem, the text lists it."""

    def __init__(self, reason_key: str, message: str):
        super().__init__(message)
        self.reason_key = reason_key


def load_or_create_publisher_key(path: Path) -> nacl.signing.SigningKey:
    path = Path(path)
    if not path.exists():
        key = nacl.signing.SigningKey.generate()
        write_secret(path, f"{PUBLISHER_KEY_LABEL} {base64.b64encode(bytes(key)).decode()}\n")
        log.info("publisher key generated")
    return nacl.signing.SigningKey(read_labelled(path, PUBLISHER_KEY_LABEL))


@dataclass(frozen=True)
class UpdateView:
    kind: str
    version: int
    site: str
    created_at: str
    sha256: str
    bytes: int
    files: int

    @classmethod
    def of(cls, row: PublishedUpdate) -> "UpdateView":
        return cls(row.kind, row.version, row.site, row.created_at.isoformat(timespec="seconds"),
                   row.sha256, row.bytes, row.files)

    def offer(self) -> dict:
        return {"version": self.version, "site": self.site, "created_at": self.created_at,
                "sha256": self.sha256, "bytes": self.bytes,
                "url": f"/api/v1/updates/{self.kind}/{self.version}"}


class Publisher:
    def __init__(self, db: Database, data_dir: Path, signing_key: nacl.signing.SigningKey):
        self.db = db
        self.dir = Path(data_dir) / "updates"
        self.signing_key = signing_key

    @property
    def public_key_b64(self) -> str:
        return public_key_text(self.signing_key)

    def publish_catalog(self, directory: Path, site: str = "", actor: str = "") -> UpdateView:
        directory = Path(directory)
        if not directory.is_dir():
            raise PublishError("publish.not_found", f"{directory}: no such directory")
        from flows.catalog import CatalogError, load_catalog
        try:
            catalog = load_catalog(directory)
        except (CatalogError, OSError, ValueError) as exc:
            detail = str(exc) if isinstance(exc, CatalogError) else f"{type(exc).__name__}: {exc}"
            raise PublishError("publish.catalog_invalid",
                               f"catalogue not published, it does not load:\n{detail}") from None
        files = catalog_files(directory)
        view = self._publish("catalog", site, files, actor)
        log.info("catalogue published version=%d site=%s matters=%d", view.version,
                 site or "*", len(catalog.matters))
        return view

    def publish_site_profile(self, file: Path, site: str, actor: str = "") -> UpdateView:
        if not site:
            raise PublishError("publish.site_missing", "a site profile is published for one site")
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise PublishError("publish.not_found", f"{file}: {exc.strerror}") from None
        try:
            validate_site_profile(data, site)
        except UpdateRefused as exc:
            raise PublishError("publish.profile_invalid",
                               f"site profile not published: {exc.detail}") from None
        view = self._publish("site-profile", site, {SITE_PROFILE_FILE: data}, actor)
        log.info("site profile published version=%d site=%s", view.version, site)
        return view

    def _publish(self, kind: str, site: str, files: dict[str, bytes], actor: str = "") -> UpdateView:
        self.dir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            with self.db.read() as session:
                version = (session.scalar(select(func.max(PublishedUpdate.version))
                                          .where(PublishedUpdate.kind == kind)) or 0) + 1
            now = utcnow()
            blob = build_bundle(kind, version, site, files, self.signing_key,
                                   now.isoformat(timespec="seconds"))
            name = f"{kind}-{version}.tar"
            try:
                with self.db.write() as session:
                    row = PublishedUpdate(kind=kind, version=version, site=site or "",
                                          created_at=now, sha256=hashlib.sha256(blob).hexdigest(),
                                          bytes=len(blob), files=len(files), storage_key=name)
                    session.add(row)
                    session.flush()     # IntegrityError: another publisher took this number
                    audit.record(session, actor or audit.cli_actor(), f"publish.{kind}",
                                 target=f"version {version}", detail=f"site {site or '*'}")
                    write_atomic(self.dir / name, blob, mode=BUNDLE_MODE)   # before the commit
                return UpdateView.of(row)
            except IntegrityError:
                continue                # the next number
        raise PublishError("publish.busy", "could not allocate a version number")

    def list(self) -> list[UpdateView]:
        with self.db.read() as session:
            rows = session.scalars(select(PublishedUpdate).order_by(
                PublishedUpdate.kind, PublishedUpdate.version)).all()
        return [UpdateView.of(r) for r in rows]

    def current_for(self, site: str) -> dict[str, UpdateView | None]:
        """The newest version of each kind published for all sites or for `site`."""
        out: dict[str, UpdateView | None] = {}
        with self.db.read() as session:
            for kind in KINDS:
                row = session.scalar(select(PublishedUpdate).where(
                    PublishedUpdate.kind == kind,
                    or_(PublishedUpdate.site == "", PublishedUpdate.site == (site or "")))
                    .order_by(PublishedUpdate.version.desc()).limit(1))
                out[kind] = UpdateView.of(row) if row is not None else None
        return out

    def bundle(self, kind: str, version: int, site: str) -> bytes | None:
        """The bundle bytes, if it exists and is meant for `site` (or all sites)."""
        if not storable_int(version):
            return None
        with self.db.read() as session:
            row = session.scalar(select(PublishedUpdate).where(
                PublishedUpdate.kind == kind, PublishedUpdate.version == version))
        if row is None or row.site not in ("", site or ""):
            return None
        return (self.dir / row.storage_key).read_bytes()
