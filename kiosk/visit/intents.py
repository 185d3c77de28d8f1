"""What screens send to the session (intents) and what the session publishes (snapshots).

Screens never decide business rules: they draw the latest `Snapshot` and send an intent when
the applicant touches something. Both are immutable values, so the session can hand them across
threads; `Snapshot.__repr__` is masked because a snapshot carries the applicant's data.
"""
from __future__ import annotations

from dataclasses import dataclass, field


# --- intents ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartVisit:
    matter_code: str


@dataclass(frozen=True)
class Next:
    pass


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class Help:
    reason: str = "could_not_finish"


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class SetElderMode:
    on: bool


@dataclass(frozen=True)
class SetAudioFirst:
    """Audio-first mode (the keypad or headphones were used): every focused element is spoken;
    the signature is replaced by a spoken confirmation. Ends with the visit."""
    on: bool


@dataclass(frozen=True)
class MoreTime:
    pass


@dataclass(frozen=True)
class Repeat:
    """Say the current prompt again."""


@dataclass(frozen=True)
class Agree:
    accepted: bool


@dataclass(frozen=True)
class ChooseRole:
    role: str


@dataclass(frozen=True)
class EnterField:
    key: str
    value: str


@dataclass(frozen=True)
class CapturePage:
    material: str


@dataclass(frozen=True)
class MarkMissing:
    material: str


@dataclass(frozen=True)
class Retake:
    material: str


@dataclass(frozen=True)
class RetryFace:
    pass


@dataclass(frozen=True)
class DeclineFace:
    pass


@dataclass(frozen=True)
class Sign:
    png: bytes


@dataclass(frozen=True)
class ConfirmByKeypad:
    """Audio-first mode: the commitment, read aloud, confirmed with the keypad (5 / Enter)
    instead of a drawn signature."""


@dataclass(frozen=True)
class NoIdCard:
    """On the ID-card step: "I have no ID card" (lost, 临时身份证, electronic ID only)."""


@dataclass(frozen=True)
class ReprintReceipt:
    """On the end screen: print this visit's receipt once more (the first was lost or torn)."""


@dataclass(frozen=True)
class Rate:
    level: int | None
    comment: str = ""


# 办件查询 / 补件: a citizen comes back about an earlier case (kiosk/visit/returning.py)
@dataclass(frozen=True)
class StartProgress:
    """From the attract screen: query progress, supplement materials."""


@dataclass(frozen=True)
class EnterCaseNumber:
    """A case number typed, or what the QR scanner read from the receipt (its progress URL)."""
    text: str


@dataclass(frozen=True)
class ScanReceiptCode:
    """Read the QR code of my receipt with the document camera."""


@dataclass(frozen=True)
class ReadCardForProgress:
    """Find my cases by my ID card."""


@dataclass(frozen=True)
class StartSupplement:
    case_number: str


# --- snapshots -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseView:
    """One case on the progress screen (no personal data: the progress API has none)."""
    case_number: str
    matter_code: str
    matter_zh: str
    matter_en: str
    status: str                      # received | accepted | needs_supplement | approved | ...
    status_key: str                  # prompt key: progress.status.<status>
    updated_at: str                  # "YYYY-MM-DD HH:MM", terminal local time
    requested: tuple[tuple[str, str, str, str], ...] = ()   # (code, zh, en, reason) to supply


@dataclass(frozen=True)
class FieldView:
    key: str
    label_zh: str
    label_en: str
    type: str
    required: bool
    value: str
    error_key: str | None
    choices: tuple[tuple[str, str, str], ...] = ()   # (value, zh, en)
    prefilled: bool = False


@dataclass(frozen=True)
class MaterialView:
    code: str
    name_zh: str
    name_en: str
    pages_needed: int
    pages_have: int
    required: bool
    missing_allowed: bool
    lookup: bool
    status: str          # "todo" | "complete" | "missing_allowed" | "optional"


@dataclass(frozen=True, repr=False)
class Snapshot:
    seq: int
    handled: int                     # intents the session has handled so far (for drivers)
    screen: str                      # attract | guide | consent | id_card | face | role | form |
                                     # materials | review | commitment | submit | receipt |
                                     # evaluation | done | refused | help | out_of_service |
                                     # progress | progress_card | progress_result |
                                     # supplement_card | supplement | supplement_submit |
                                     # supplement_done
    language: str
    elder: bool
    matter_code: str | None = None
    prompt_key: str | None = None    # what the voice says / the screen's main instruction
    reason_key: str | None = None    # a problem to show and say (error, guidance)
    busy: bool = False               # a device step is running
    progress_key: str | None = None  # live guidance during a device step (face.blink ...)
    idle_countdown: int | None = None
    fields: tuple[FieldView, ...] = ()
    materials: tuple[MaterialView, ...] = ()
    applicant: tuple[tuple[str, str], ...] = ()   # (label key, value) for the review screen
    face_attempts: int = 0
    case_number: str | None = None
    receipt_printed: bool | None = None
    reprint: str = ""                # end screen: "" | available | printing | printed | failed
    alerts: tuple[str, ...] = ()     # forgotten card / receipt call-outs (prompt keys)
    closed_matters: tuple[tuple[str, str], ...] = ()  # (matter code, reason prompt key)
    cases: tuple[CaseView, ...] = ()  # progress screens (kiosk/visit/returning.py)
    params: tuple[tuple[str, str], ...] = field(default=())  # placeholders for prompt text
    audio_first: bool = False        # keypad / headphones: focus spoken, signature by keypad

    def __repr__(self) -> str:
        return (f"Snapshot(seq={self.seq}, screen={self.screen}, matter={self.matter_code}, "
                f"reason={self.reason_key}, busy={self.busy})")
