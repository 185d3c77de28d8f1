"""Case numbers and progress tokens, and `Accepted`: what a packet sink hands back.

Whoever takes a finished visit's packet (the terminal's durable outbox, kiosk.link.outbox, or
the plain directory sink of `kiosk simulate`, kiosk.visit.packet) issues the case number with
`case_number` and `new_installation` and gives an application its progress token with
`with_progress_token`, so both sinks issue the same numbers. Their format is
protocol.packet.CASE_NUMBER: `<terminal>-<YYYYMMDD>-<installation>-<seq, 4+ digits>`, the
installation four random characters of Crockford's base 32 drawn once per outbox.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from protocol import packet as kp

INSTALLATION_LENGTH = 4


@dataclass(frozen=True)
class Accepted:
    """A packet taken into safe keeping (the outbox, or a test's directory sink): from now on
    it reaches the back office whatever happens to the terminal."""
    packet_id: str
    case_number: str
    accepted_at: dt.datetime
    progress_token: str = ""     # an application's: printed in the receipt's QR code only


def with_progress_token(manifest: dict) -> tuple[dict, str]:
    """An application's manifest with its progress token (drawn now unless it has one) and
    the token; other kinds unchanged and "". The terminal keeps no copy: the token is in the
    sealed packet (for the back office, which stores its hash) and on the receipt."""
    if manifest.get("kind") != "application":
        return manifest, ""
    token = manifest.get("progress_token") or kp.new_progress_token()
    return {**manifest, "progress_token": token}, token


def new_installation() -> str:
    """The installation part of case numbers: four random characters of Crockford's base 32."""
    return "".join(secrets.choice(kp.CASE_NUMBER_ALPHABET) for _ in range(INSTALLATION_LENGTH))


def case_number(terminal_id: str, day: str, installation: str, seq: int) -> str:
    """`<terminal>-<YYYYMMDD>-<installation>-<seq, 4+ digits>` (protocol.packet.CASE_NUMBER)."""
    return f"{terminal_id}-{day}-{installation}-{seq:04d}"
