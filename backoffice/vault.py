"""Protection of personal data at rest in the back office, and where case files are kept.

`Vault` holds one 64-byte secret file (generated on first start, mode 0600):
- the first 32 bytes are a PyNaCl `SecretBox` key (XSalsa20-Poly1305) that encrypts every
  stored manifest and case file — no home-made crypto;
- the last 32 bytes key an HMAC-SHA256 of ID numbers, so a person's cases can be found by ID
  number without storing the number itself.
`FileStore` keeps encrypted objects on disk under content-addressed keys (`objects/ab/<sha256>`),
so a retried packet never writes a file twice and no file name from a packet reaches the disk.
Every object is written durably before intake commits the case that names it
(`protocol.atomic.write_atomic`: temp file, fsync, rename, fsync the folder): the terminal deletes
its copy when the back office answers 201. Temp files a killed process left are removed at
start (`sweep_temp_files`), and how many is logged.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from pathlib import Path

import nacl.secret
import nacl.utils

from backoffice.settings import storage_root
from protocol.atomic import sweep_temp_files, write_atomic

log = logging.getLogger(__name__)
OLD_TEMP_FILE = re.compile(r"^[0-9a-f-]+\.tmp(?P<pid>\d+)-[0-9a-f]{8}$")   # before write_atomic


class Vault:
    def __init__(self, secret: bytes):
        if len(secret) != 64:
            raise ValueError("vault secret must be 64 bytes")
        self._box = nacl.secret.SecretBox(secret[:32])
        self._lookup_key = secret[32:]

    @classmethod
    def open_or_create(cls, path: Path) -> "Vault":
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(nacl.utils.random(64))
        return cls(path.read_bytes())

    def encrypt(self, data: bytes) -> bytes:
        return bytes(self._box.encrypt(data))

    def decrypt(self, data: bytes) -> bytes:
        return self._box.decrypt(data)

    def id_hash(self, id_number: str) -> str:
        normalised = id_number.strip().upper().encode("utf-8")
        return hmac.new(self._lookup_key, normalised, hashlib.sha256).hexdigest()


class FileStore:
    """Encrypted, content-addressed objects in a directory (the `file://` storage URL)."""

    def __init__(self, storage_url: str, vault: Vault):
        self.root = storage_root(storage_url)
        self.root.mkdir(parents=True, exist_ok=True)
        self._vault = vault
        removed = sweep_temp_files(self.root, OLD_TEMP_FILE)
        if removed:
            log.warning("removed %d temporary file(s) left by an interrupted write", removed)

    @staticmethod
    def key_for(sha256_hex: str) -> str:
        return f"objects/{sha256_hex[:2]}/{sha256_hex}"

    def put(self, data: bytes) -> str:
        """Store `data` (encrypted), durably; returns its key. Idempotent for equal content."""
        key = self.key_for(hashlib.sha256(data).hexdigest())
        path = self.root / key
        if not path.exists():
            write_atomic(path, self._vault.encrypt(data))
        return key

    def put_raw(self, name: str, data: bytes) -> str:
        """Store already-encrypted data (a sealed packet) under `raw/<name>`, durably; returns
        its key."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError("bad raw object name")
        key = f"raw/{name}"
        write_atomic(self.root / key, data)
        return key

    def get(self, key: str) -> bytes:
        if ".." in key.split("/") or key.startswith("/"):
            raise KeyError(key)
        return self._vault.decrypt((self.root / key).read_bytes())
