"""Enrolment: the terminal registers its key with the back office once, with a one-time token.

`enrol(...)` generates key_dir/terminal.key if absent, posts its public key with the token to
POST /api/v1/terminals/enrol and keeps what the back office answers: its packet public key
(key_dir/backoffice.pub, the recipient of every sealed packet) and, from back offices that
publish signed updates, the publisher key (key_dir/publisher.pub, kiosk.link.updates).
Provisioning (kiosk.ops.provision) enrols through a staging folder; the demo enrols with its
embedded back office. Every file is written with protocol.atomic.
"""
from __future__ import annotations

import logging
from pathlib import Path

import httpx
import nacl.public

from kiosk.link import updates as ku
from kiosk.link.answers import refusal_reason
from protocol.atomic import write_atomic
from protocol.keys import (BACKOFFICE_PUBLIC_LABEL, generate_terminal_key, load_signing_key,
                           public_key_from_text, public_key_text)

log = logging.getLogger(__name__)

TERMINAL_KEY_FILE = "terminal.key"
BACKOFFICE_PUBLIC_KEY_FILE = "backoffice.pub"


class EnrolmentFailed(Exception):
    """Enrolment did not succeed; `reason_key` says why (refused token or no back office)."""

    def __init__(self, reason_key: str, detail: str):
        super().__init__(detail)
        self.reason_key = reason_key


def load_backoffice_public_key(key_dir: Path) -> nacl.public.PublicKey | None:
    path = Path(key_dir) / BACKOFFICE_PUBLIC_KEY_FILE
    if not path.exists():
        return None
    return public_key_from_text(path.read_text("ascii"))


def enrol(backoffice_url: str, token: str, terminal_id: str, key_dir: Path,
          http: httpx.Client | None = None) -> nacl.public.PublicKey:
    """Register this terminal's key with a one-time token; store and return the back office's
    public key. Generates key_dir/terminal.key if absent. Raises EnrolmentFailed."""
    key_dir = Path(key_dir)
    key_path = key_dir / TERMINAL_KEY_FILE
    signing = load_signing_key(key_path) if key_path.exists() else \
        generate_terminal_key(key_path)
    client = http or httpx.Client(timeout=httpx.Timeout(30, connect=5))
    try:
        response = client.post(backoffice_url.rstrip("/") + "/api/v1/terminals/enrol", json={
            "token": token, "terminal_id": terminal_id,
            "public_key": public_key_text(signing)})
    except httpx.HTTPError as exc:
        raise EnrolmentFailed("uploader.backoffice_unreachable",
                              f"back office unreachable: {type(exc).__name__}") from exc
    finally:
        if http is None:
            client.close()
    if response.status_code != 201:
        raise EnrolmentFailed("uploader.enrol_refused", f"enrolment refused: {refusal_reason(response)}")
    try:
        answer = response.json()
        public = public_key_from_text(answer["backoffice_public_key"])
        if answer.get("publisher_public_key"):     # absent from older back offices
            ku.store_publisher_key(key_dir, answer["publisher_public_key"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EnrolmentFailed("uploader.enrol_refused", "enrolment answer unreadable") from exc
    write_atomic(key_dir / BACKOFFICE_PUBLIC_KEY_FILE,
                 f"{BACKOFFICE_PUBLIC_LABEL} {public_key_text(public)}\n".encode("ascii"), 0o644)
    log.info("terminal enrolled terminal=%s", terminal_id)
    return public
