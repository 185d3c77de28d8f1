"""Signed catalogue and site-profile update bundles (format `kiosk-update/1`), shared by the
back office (`build_bundle`, when publishing) and the terminal (`open_bundle`, when fetching).

A bundle (docs/updates.md) is a plain tar holding `manifest.json` (kind, version, site,
created_at, the SHA-256 and size of every file), `manifest.sig` (Ed25519 over a context string
and the exact manifest bytes, by the back office's publisher key) and the files under `files/`.
Also here: which files a catalogue or a site profile is made of (`catalog_files`,
`check_names`) and the site profile's check (`validate_site_profile`). Fetching, staging and
applying on the terminal are in kiosk/link/updates.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import tarfile
import tomllib
from pathlib import Path

import nacl.exceptions
import nacl.signing
from pydantic import ValidationError

from protocol.packet import canonical_json
from protocol.site_profile import Site

FORMAT = "kiosk-update/1"
SIGNATURE_CONTEXT = b"kiosk-update/1 signature\x00"
KINDS = ("catalog", "site-profile")
SITE_PROFILE_FILE = "site.toml"
MAX_BUNDLE_BYTES = 32 * 2**20
MAX_FILES = 1000
FILE_NAME = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")


class UpdateRefused(Exception):
    """An update that is not used; `reason_key` says why (no personal data involved)."""

    def __init__(self, reason_key: str, detail: str = ""):
        super().__init__(detail or reason_key)
        self.reason_key = reason_key
        self.detail = detail or reason_key


# ---- content: which files, and is it valid ------------------------------------------------

def catalog_files(root: Path) -> dict[str, bytes]:
    """The files `flows.catalog.load_catalog(root)` reads, by relative path."""
    root = Path(root)
    names = [n for n in ("tree.yaml", "materials.yaml", "prompts.yaml") if (root / n).is_file()]
    names += [f"matters/{p.name}" for p in sorted((root / "matters").glob("*.yaml"))]
    return {name: (root / name).read_bytes() for name in names}


def validate_site_profile(data: bytes, site: str | None = None):
    """The `Site` of a profile file (TOML with exactly one [site] table, the schema of
    protocol/site_profile.py); raises UpdateRefused("update.profile_invalid")."""
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UpdateRefused("update.profile_invalid", f"not valid TOML: {exc}") from None
    if set(parsed) != {"site"} or not isinstance(parsed["site"], dict):
        raise UpdateRefused("update.profile_invalid",
                            "a site profile holds exactly one [site] table and nothing else")
    try:
        profile = Site.model_validate(parsed["site"])
    except ValidationError as exc:
        problems = "; ".join(f"site.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise UpdateRefused("update.profile_invalid", problems) from None
    if site is not None and profile.id != site:
        raise UpdateRefused("update.profile_invalid",
                            f"profile is for site {profile.id!r}, not {site!r}")
    return profile


CATALOG_NAME = re.compile(r"^(tree|materials|prompts)\.yaml$|^matters/[A-Za-z0-9_\-]+\.yaml$")


def check_names(kind: str, names) -> None:
    """Only the files a catalogue or a site profile is made of: nothing else is unpacked."""
    names = set(names)
    wrong = sorted(n for n in names if not CATALOG_NAME.match(n)) if kind == "catalog" else \
        sorted(names ^ {SITE_PROFILE_FILE})
    if wrong:
        raise UpdateRefused("update.unexpected_files", f"not part of a {kind}: {', '.join(wrong)}")


# ---- the bundle ---------------------------------------------------------------------------

def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, as in bundle manifests and the update list."""
    return hashlib.sha256(data).hexdigest()


def build_bundle(kind: str, version: int, site: str, files: dict[str, bytes],
                 signing_key: nacl.signing.SigningKey, created_at: str | None = None) -> bytes:
    """A signed `kiosk-update/1` bundle (tar bytes) of `files` as version `version`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if not files or len(files) > MAX_FILES or not all(FILE_NAME.match(n) for n in files):
        raise ValueError("bundle needs 1..1000 files with plain relative names")
    manifest = {"format": FORMAT, "kind": kind, "version": int(version), "site": site or "",
                "created_at": created_at or dt.datetime.now(dt.timezone.utc)
                .isoformat(timespec="seconds"),
                "files": [{"path": name, "sha256": sha256_hex(data), "bytes": len(data)}
                          for name, data in sorted(files.items())]}
    manifest_bytes = canonical_json(manifest)
    signature = signing_key.sign(SIGNATURE_CONTEXT + manifest_bytes).signature
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        members = [("manifest.json", manifest_bytes), ("manifest.sig", signature)]
        members += [(f"files/{name}", data) for name, data in sorted(files.items())]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _read_members(blob: bytes) -> dict[str, bytes]:
    if len(blob) > MAX_BUNDLE_BYTES:
        raise UpdateRefused("update.too_large", "bundle larger than allowed")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
            for info in tar:
                if not info.isfile() or len(members) > MAX_FILES + 2:
                    raise UpdateRefused("update.malformed", "bundle holds something else than files")
                if info.name in members:
                    raise UpdateRefused("update.malformed", "a name appears twice in the bundle")
                members[info.name] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UpdateRefused("update.malformed", f"bundle unreadable: {type(exc).__name__}") from None
    return members


def open_bundle(blob: bytes, verify_key: nacl.signing.VerifyKey, kind: str | None = None,
                site: str | None = None) -> tuple[dict, dict[str, bytes]]:
    """Verify a bundle: the signature over the manifest, then every file against its hash and
    size, and that nothing else is in it. Returns (manifest, {path: bytes}); UpdateRefused."""
    members = _read_members(blob)
    manifest_bytes, signature = members.pop("manifest.json", None), members.pop("manifest.sig", None)
    if manifest_bytes is None or signature is None:
        raise UpdateRefused("update.malformed", "manifest or signature missing")
    try:
        verify_key.verify(SIGNATURE_CONTEXT + manifest_bytes, signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        raise UpdateRefused("update.bad_signature", "signature does not verify with the "
                                                    "publisher key") from None
    manifest = json.loads(manifest_bytes)
    if manifest.get("format") != FORMAT or manifest.get("kind") not in KINDS \
            or not isinstance(manifest.get("version"), int) or not isinstance(manifest.get("files"), list):
        raise UpdateRefused("update.malformed", "manifest is not a kiosk-update/1 manifest")
    if kind is not None and manifest["kind"] != kind:
        raise UpdateRefused("update.wrong_kind", f"bundle is a {manifest['kind']} update")
    if site is not None and manifest.get("site") not in ("", site):
        raise UpdateRefused("update.wrong_site", "bundle is for another site")
    files: dict[str, bytes] = {}
    for entry in manifest["files"]:
        name = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not FILE_NAME.match(name) or name in files:
            raise UpdateRefused("update.malformed", "bad file name in manifest")
        data = members.pop(f"files/{name}", None)
        if data is None:
            raise UpdateRefused("update.file_missing", f"{name} is missing from the bundle")
        if len(data) != entry.get("bytes") or sha256_hex(data) != entry.get("sha256"):
            raise UpdateRefused("update.hash_mismatch", f"{name} does not match its hash")
        files[name] = data
    if members:
        raise UpdateRefused("update.malformed", "bundle holds files the manifest does not list")
    return manifest, files
