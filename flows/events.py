"""What can happen during a visit: the events `flows.engine.advance` takes, one frozen class each.

The session (kiosk/visit) makes them from what a screen sent or a device returned; the engine
decides what each one means on the current step. Pure data: no device, clock or file.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from devices.interfaces import CardRecord, FaceResult


@dataclass(frozen=True)
class Next:
    """The applicant pressed "next" / "I have read it" on a step that needs no other input."""


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Consent:
    accepted: bool


@dataclass(frozen=True)
class CardRead:
    card: CardRecord
    today: dt.date


@dataclass(frozen=True)
class FaceAttempt:
    result: FaceResult


@dataclass(frozen=True)
class FaceFailed:
    """The face check could not give a result (camera fault...): it counts as an attempt.
    `retry_possible=False` (no face in the card photo): offer staff check at once."""
    reason_key: str
    retry_possible: bool = True


@dataclass(frozen=True)
class FaceDeclined:
    """The applicant chose the non-face alternative: staff will compare the photos."""


@dataclass(frozen=True)
class RoleChosen:
    role: str


@dataclass(frozen=True)
class FormValue:
    key: str
    raw: str


@dataclass(frozen=True)
class PageCaptured:
    material: str
    jpeg: bytes


@dataclass(frozen=True)
class PageRejected:
    material: str
    reason_key: str


@dataclass(frozen=True)
class RetakeMaterial:
    material: str


@dataclass(frozen=True)
class MaterialMissing:
    """Mark a material as 容缺 (missing at acceptance, to be supplied later)."""
    material: str


@dataclass(frozen=True)
class Signed:
    png: bytes


@dataclass(frozen=True)
class ConfirmedByKeypad:
    """Audio-first mode: the commitment was read aloud and confirmed with the keypad."""


@dataclass(frozen=True)
class Submitted:
    packet_id: str
    case_number: str


@dataclass(frozen=True)
class ReceiptDone:
    printed: bool
    reason_key: str | None = None


@dataclass(frozen=True)
class Evaluated:
    level: int | None          # 1..5, None = skipped
    comment: str = ""
