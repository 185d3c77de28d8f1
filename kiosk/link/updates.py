"""Signed catalogue and site-profile updates on the terminal: fetching, staging, applying.

The back office publishes an update as a signed bundle (format `kiosk-update/1`, see
docs/updates.md); the format, `build_bundle` (back office) and `open_bundle` (terminal) are in
protocol/updates.py.

On the terminal, each kind has a directory under state_dir (`catalog/`, `site-profile/`):
  versions/<N>/   unpacked, verified and validated content of version N
  staged   -> versions/<N>   fetched and ready, waiting for a moment between visits
  current  -> versions/<N>   what the kiosk uses (absent: the packaged catalogue / site file)
  previous -> versions/<M>   what `current` was before, for rollback
  failure.json               the last refused or rolled-back version, for heartbeats
Every write is durable and every switch an atomic symlink replace (protocol/atomic.py). The
uploader process fetches and stages (`Updater.check`), never touching what is in use; the UI
process applies between visits (`UpdateApplier`, through `Session.when_idle`) and rolls back
when the new content fails to load, then or at the next start (`load_active_catalog`,
`load_config_or_roll_back`).
A version not newer than the current, staged or last failed one is refused (no downgrade,
no replay). `kiosk updates status|check` (kiosk/cli/updates.py) shows the state and asks the
back office at once.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nacl.signing

from protocol.atomic import (move_dir_into_place, remove_durably, replace_symlink,
                             write_atomic)
from protocol.keys import public_key_text, verify_key_from_text
from protocol.packet import canonical_json
from protocol.updates import (KINDS, SITE_PROFILE_FILE, UpdateRefused, check_names, open_bundle,
                              sha256_hex, validate_site_profile)

log = logging.getLogger(__name__)

PUBLISHER_PUBLIC_FILE = "publisher.pub"
PUBLISHER_PUBLIC_LABEL = "kiosk-publisher-ed25519-public"
MANIFEST_COPY = ".manifest.json"       # the verified manifest, kept next to the unpacked files


# ---- content: is it valid --------------------------------------------------------------------

def validate_catalog(root: Path):
    """The loaded Catalog; raises UpdateRefused("update.catalog_invalid") with the problems."""
    from flows.catalog import CatalogError, load_catalog
    try:
        return load_catalog(root)
    except CatalogError as exc:
        raise UpdateRefused("update.catalog_invalid", str(exc)) from None
    except (OSError, ValueError) as exc:
        raise UpdateRefused("update.catalog_invalid", f"{type(exc).__name__}: {exc}") from None


def validate_unpacked(kind: str, root: Path, site: str | None):
    if kind == "catalog":
        return validate_catalog(root)
    return validate_site_profile((Path(root) / SITE_PROFILE_FILE).read_bytes(), site or None)


# ---- publisher key on the terminal ----------------------------------------------------------

def store_publisher_key(key_dir: Path, text: str) -> None:
    """Keep the back office's publisher key (from enrolment) as key_dir/publisher.pub."""
    key = verify_key_from_text(text)
    write_atomic(Path(key_dir) / PUBLISHER_PUBLIC_FILE,
                 f"{PUBLISHER_PUBLIC_LABEL} {public_key_text(key)}\n".encode("ascii"), 0o644)


def load_publisher_key(key_dir: Path) -> nacl.signing.VerifyKey | None:
    path = Path(key_dir) / PUBLISHER_PUBLIC_FILE
    if not path.exists():
        return None
    return verify_key_from_text(path.read_text("ascii"))


# ---- the versioned directories of one kind ---------------------------------------------------

class UpdateSlot:
    """state_dir/<kind>/: versions/<N>, and the `staged`, `current`, `previous` links."""

    def __init__(self, state_dir: Path, kind: str):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.kind = kind
        self.root = Path(state_dir) / kind
        self.versions = self.root / "versions"

    def _link_version(self, name: str) -> int | None:
        try:
            target = os.readlink(self.root / name)
        except OSError:
            return None
        version = Path(target).name
        return int(version) if version.isdigit() and (self.root / name).is_dir() else None

    def version(self, name: str = "current") -> int | None:
        return self._link_version(name)

    def path(self, name: str = "current") -> Path | None:
        return self.root / name if self.version(name) is not None else None

    def failure(self) -> dict | None:
        try:
            data = json.loads((self.root / "failure.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def known_version(self) -> int:
        """The newest version this terminal has used, staged or refused (0: none)."""
        failed = (self.failure() or {}).get("version")
        seen = [self.version("current"), self.version("staged"),
                failed if isinstance(failed, int) else None]
        return max([v for v in seen if v is not None], default=0)

    def _point(self, name: str, version: int | None) -> None:
        if version is None:
            remove_durably(self.root / name)
        else:
            replace_symlink(self.root / name, f"versions/{version}")

    def record_failure(self, version: int | None, reason_key: str, detail: str = "") -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.root / "failure.json", json.dumps({
            "version": version, "reason_key": reason_key, "detail": detail[:300],
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}).encode(), 0o644)
        log.warning("update refused kind=%s version=%s reason=%s", self.kind, version, reason_key)

    def stage(self, version: int, files: dict[str, bytes], site: str | None,
              manifest: dict | None = None) -> Path:
        """Unpack verified files as versions/<version> (durably: protocol.atomic's
        move_dir_into_place, with the verified manifest as `.manifest.json` for later checks),
        validate them, link `staged` to them."""
        check_names(self.kind, files)
        self.versions.mkdir(parents=True, exist_ok=True)
        tmp = self.versions / f".tmp-{version}-{secrets.token_hex(4)}"
        try:
            extra = {MANIFEST_COPY: canonical_json(manifest)} if manifest else {}
            for name, data in {**files, **extra}.items():
                target = tmp / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            validate_unpacked(self.kind, tmp, site)
            final = self.versions / str(version)
            move_dir_into_place(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self._point("staged", version)
        log.info("update staged kind=%s version=%d", self.kind, version)
        return final

    def verify_on_disk(self, name: str = "current") -> Path:
        """The directory of link `name`, after checking its files against the manifest kept
        at staging (power loss, a disk error, or a hand edit); UpdateRefused otherwise."""
        path = self.path(name)
        if path is None:
            raise UpdateRefused("update.missing", f"no {name} version")
        try:
            entries = json.loads((path / MANIFEST_COPY).read_bytes())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UpdateRefused("update.changed_on_disk", "manifest copy missing") from None
        for entry in entries:
            try:
                data = (path / entry["path"]).read_bytes()
            except OSError:
                raise UpdateRefused("update.changed_on_disk", f"{entry['path']} missing") from None
            if sha256_hex(data) != entry["sha256"]:
                raise UpdateRefused("update.changed_on_disk", f"{entry['path']} changed")
        return path

    def apply_staged(self) -> int | None:
        """Make the staged version current (keeping the old one as `previous`); its number."""
        staged = self.version("staged")
        if staged is None:
            return None
        current = self.version("current")
        if current is not None and staged <= current:
            self._point("staged", None)
            return None
        self._point("previous", current)
        self._point("current", staged)
        if self.version("staged") == staged:
            self._point("staged", None)
        self._prune()
        log.info("update applied kind=%s version=%d previous=%s", self.kind, staged, current)
        return staged

    def roll_back(self, reason_key: str, detail: str = "") -> int | None:
        """`current` failed: record it, go back to `previous` (or to the packaged content)."""
        bad, previous = self.version("current"), self.version("previous")
        self.record_failure(bad, reason_key, detail)
        self._point("current", previous)
        self._point("previous", None)
        log.error("update rolled back kind=%s version=%s to=%s", self.kind, bad,
                  previous if previous is not None else "packaged")
        return previous

    def _prune(self) -> None:
        keep = {str(v) for v in (self.version("current"), self.version("previous"),
                                 self.version("staged")) if v is not None}
        for path in self.versions.iterdir():
            if path.name not in keep and not path.name.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)

    def status(self) -> dict:
        failure = self.failure()
        if failure is not None and failure.get("version") is not None \
                and (self.version("current") or 0) > failure["version"]:
            failure = None            # a newer version has been applied since
        return {"version": self.version("current"), "staged": self.version("staged"),
                "failed": failure and {k: failure.get(k) for k in ("version", "reason_key", "at")}}


def update_status(state_dir: Path) -> dict:
    """{kind: {version, staged, failed}} for heartbeats; nothing personal."""
    return {kind: UpdateSlot(state_dir, kind).status() for kind in KINDS}


# ---- the uploader side: fetch, verify, stage -------------------------------------------------

@dataclass
class CheckResult:
    staged: dict[str, int]
    refused: dict[str, str]


class Updater:
    """Asks the back office what is current for this terminal's site and stages what is new.

    `get(path)` performs a signed GET against the back office and returns an httpx.Response
    (Uploader.get)."""

    def __init__(self, state_dir: Path, publisher_key: nacl.signing.VerifyKey, site: str | None,
                 get: Callable[[str], object]):
        self.state_dir = Path(state_dir)
        self.publisher_key = publisher_key
        self.site = site
        self.get = get

    def check(self) -> CheckResult:
        """One round: list, then fetch/verify/stage each newer version. Network errors and
        unusable answers raise; a refused bundle is recorded and reported, never used."""
        response = self.get("/api/v1/updates")
        if response.status_code != 200:
            raise UpdateRefused("update.listing_refused", f"http {response.status_code}")
        listing = response.json()
        result = CheckResult({}, {})
        for kind in KINDS:
            offer = (listing.get("updates") or {}).get(kind) if isinstance(listing, dict) else None
            if not isinstance(offer, dict) or not isinstance(offer.get("version"), int):
                continue
            slot = UpdateSlot(self.state_dir, kind)
            if offer["version"] <= slot.known_version():
                continue
            try:
                self.fetch(slot, offer)
                result.staged[kind] = offer["version"]
            except UpdateRefused as exc:
                slot.record_failure(offer["version"], exc.reason_key, exc.detail)
                result.refused[kind] = exc.reason_key
        return result

    def fetch(self, slot: UpdateSlot, offer: dict) -> None:
        """Download, verify and stage the version `offer` lists; UpdateRefused otherwise."""
        response = self.get(f"/api/v1/updates/{slot.kind}/{offer['version']}")
        if response.status_code != 200:
            raise UpdateRefused("update.download_refused", f"http {response.status_code}")
        if sha256_hex(response.content) != offer.get("sha256"):
            raise UpdateRefused("update.bundle_hash_mismatch", "bundle is not the one listed")
        manifest, files = open_bundle(response.content, self.publisher_key, slot.kind, self.site)
        if manifest["version"] != offer["version"]:
            raise UpdateRefused("update.wrong_version", "bundle is not the version offered")
        if manifest["version"] <= slot.known_version():
            raise UpdateRefused("update.not_newer", "bundle is not newer than what is in use")
        slot.stage(manifest["version"], files, self.site, manifest)


# ---- the UI side: use it, apply between visits, roll back -----------------------------------

def load_active_catalog(state_dir: Path, packaged: Path | None = None):
    """The catalogue to run with: state_dir/catalog/current when present and loadable, else
    the previous version (rolling back), else the packaged catalogue (flows/ by default)."""
    from flows.catalog import CATALOG_DIR, load_catalog
    slot = UpdateSlot(state_dir, "catalog")
    while slot.path("current") is not None:
        try:
            return validate_catalog(slot.verify_on_disk("current"))
        except UpdateRefused as exc:
            slot.roll_back("update.rolled_back_at_start", exc.detail)
    return load_catalog(packaged or CATALOG_DIR)


def load_config_or_roll_back(load: Callable[..., object], *args, **kwargs):
    """`load(*args)` (kiosk.config.load_config); when the error names the site profile
    update in use, roll it back and try again."""
    from kiosk.config import ConfigInvalid
    while True:
        try:
            return load(*args, **kwargs)
        except ConfigInvalid as exc:
            state_dirs = {Path(line.split(":", 1)[0]).parents[2] for line in str(exc).splitlines()
                          if line.split(":", 1)[0].endswith(f"site-profile/current/{SITE_PROFILE_FILE}")}
            if not state_dirs:
                raise
            for state_dir in state_dirs:
                UpdateSlot(state_dir, "site-profile").roll_back("update.rolled_back_at_start",
                                                                str(exc))


class UpdateApplier:
    """For the UI process: `poll()` (every few seconds) asks the session to apply staged
    updates when it is idle; `on_catalog(catalog)` / `on_profile(config)` let the composition
    root hand the new content to the screens."""

    def __init__(self, state_dir: Path, reload_config: Callable[[], object] | None = None,
                 on_catalog: Callable[[object], None] | None = None,
                 on_profile: Callable[[object], None] | None = None):
        self.state_dir = Path(state_dir)
        self.reload_config = reload_config
        self.on_catalog = on_catalog
        self.on_profile = on_profile
        self._queued = False

    @property
    def queued(self) -> bool:
        """An apply is queued with the session and has not run yet."""
        return self._queued

    def pending(self) -> bool:
        return any(UpdateSlot(self.state_dir, k).version("staged") is not None for k in KINDS)

    def poll(self, session) -> bool:
        """Queue one apply with the session if something is staged; True when queued."""
        if self._queued or not self.pending():
            return False
        self._queued = True
        session.when_idle(self.apply)
        return True

    def apply(self, session) -> dict[str, int | None]:
        """Runs in the session thread between visits. Returns {kind: version now current}."""
        try:
            return self._apply(session)
        finally:
            self._queued = False

    def _apply(self, session) -> dict[str, int | None]:
        applied = {}
        catalog_slot = UpdateSlot(self.state_dir, "catalog")
        if catalog_slot.apply_staged() is not None:
            try:
                catalog = validate_catalog(catalog_slot.verify_on_disk("current"))
            except UpdateRefused as exc:
                catalog_slot.roll_back("update.rolled_back", exc.detail)
            else:
                session.replace_catalog(catalog)
                if self.on_catalog is not None:
                    self.on_catalog(catalog)
            applied["catalog"] = catalog_slot.version("current")
        profile_slot = UpdateSlot(self.state_dir, "site-profile")
        if profile_slot.apply_staged() is not None:
            if self.reload_config is not None:
                self._apply_profile(session, profile_slot)
            applied["site-profile"] = profile_slot.version("current")
        return applied

    def _apply_profile(self, session, slot: UpdateSlot) -> None:
        from kiosk.config import ConfigInvalid
        from kiosk.visit.settings import session_settings
        try:
            config = self.reload_config()
        except ConfigInvalid as exc:
            slot.roll_back("update.rolled_back", str(exc))
            return
        session.settings = session_settings(config)
        if self.on_profile is not None:
            self.on_profile(config)
