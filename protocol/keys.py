"""Key files shared by terminal and back office: one line `<label> <base64>`, mode 0600.

The terminal's Ed25519 signing key, the back office's X25519 key pair (and the publisher key
the back office keeps with the same helpers), and reading keys given as text.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

import nacl.public
import nacl.signing

from protocol.atomic import fsync_dir, temp_beside

TERMINAL_KEY_LABEL = "kiosk-terminal-ed25519-seed"
BACKOFFICE_KEY_LABEL = "kiosk-backoffice-x25519-private"
BACKOFFICE_PUBLIC_LABEL = "kiosk-backoffice-x25519-public"


def write_secret(path: Path, text: str) -> None:
    """Create `path` (never overwrite) with mode 0600, durably."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)          # fails if path exists: a key is never silently replaced
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)


def read_labelled(path: Path, label: str) -> bytes:
    try:
        found_label, value = Path(path).read_text("ascii").split()
        raw = base64.b64decode(value, validate=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a key file") from exc
    if found_label != label or len(raw) != 32:
        raise ValueError(f"{path} is not a {label} key file")
    return raw


def generate_terminal_key(path) -> nacl.signing.SigningKey:
    """Create a terminal's Ed25519 signing key at `path` (refuses to overwrite one)."""
    key = nacl.signing.SigningKey.generate()
    write_secret(Path(path), f"{TERMINAL_KEY_LABEL} {base64.b64encode(bytes(key)).decode()}\n")
    return key


def load_signing_key(path) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(read_labelled(path, TERMINAL_KEY_LABEL))


def generate_backoffice_keypair(path) -> nacl.public.PrivateKey:
    """Create the back office's X25519 key at `path` and its public key at `path`.pub."""
    key = nacl.public.PrivateKey.generate()
    write_secret(Path(path), f"{BACKOFFICE_KEY_LABEL} {base64.b64encode(bytes(key)).decode()}\n")
    pub = Path(f"{path}.pub")
    pub.write_text(f"{BACKOFFICE_PUBLIC_LABEL} {public_key_text(key.public_key)}\n", "ascii")
    return key


def load_private_key(path) -> nacl.public.PrivateKey:
    return nacl.public.PrivateKey(read_labelled(path, BACKOFFICE_KEY_LABEL))


def public_key_text(key) -> str:
    """Base64 of an Ed25519 VerifyKey or an X25519 PublicKey (or of a private key's public half)."""
    if isinstance(key, nacl.signing.SigningKey):
        key = key.verify_key
    if isinstance(key, nacl.public.PrivateKey):
        key = key.public_key
    return base64.b64encode(bytes(key)).decode("ascii")


def verify_key_from_text(text: str) -> nacl.signing.VerifyKey:
    return nacl.signing.VerifyKey(_b64_key(text))


def public_key_from_text(text: str) -> nacl.public.PublicKey:
    return nacl.public.PublicKey(_b64_key(text))


def _b64_key(text: str) -> bytes:
    text = text.strip()
    if " " in text:       # a whole key-file line "<label> <base64>"
        text = text.split()[-1]
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError("not a base64 key") from exc
    if len(raw) != 32:
        raise ValueError("not a 32-byte key")
    return raw
