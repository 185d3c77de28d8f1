"""The small interfaces and domain types every device kind exposes to the rest of the kiosk.

The visit engine (`flows/`) and the session (`kiosk/visit/session.py`) only see these types: a step
names a capability (`id_card.read`, `face.verify`, `doc.capture`, `receipt.print`) and the
session calls whatever object was wired for it. Drivers, codecs and emulators live in the
per-kind packages (`devices/id_card`, `devices/printer`, `devices/camera`, `devices/document`,
`devices/face`) and never leak their classes through here.
"""
from __future__ import annotations

import datetime as dt
import enum
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, runtime_checkable

import numpy as np


class DeviceError(Exception):
    """A device failed in a way the applicant can be told about.

    `reason_key` names a prompt (flows/prompts.yaml), so the UI and voice can say it plainly;
    the message is for technicians and logs and must never contain personal data.
    """

    reason_key = "device.failed"

    def __init__(self, message: str, reason_key: str | None = None):
        super().__init__(message)
        if reason_key:
            self.reason_key = reason_key


class DeviceUnavailable(DeviceError):
    reason_key = "device.unavailable"


class ConfigurationError(Exception):
    """A device URL or option is wrong: start-up must stop with this message."""


# --------------------------------------------------------------------------------------------
# ID card
class CardType(str, enum.Enum):
    RESIDENT = "resident"                    # 居民身份证
    HMT_RESIDENCE_PERMIT = "hmt_permit"      # 港澳台居民居住证 ('J')
    FOREIGN_PERMANENT_OLD = "foreign_old"    # 外国人永久居留身份证, older layout ('I')
    FOREIGN_PERMANENT_2023 = "foreign_2023"  # 2023 version ('Y')


@dataclass(frozen=True, repr=False)
class CardRecord:
    """What the reader read from one card. `repr` is masked: a record must never reach a log."""

    card_type: CardType
    name: str
    sex: str                 # "male" | "female" | "unknown" | "unspecified"
    nation: str              # e.g. "汉"; "" where the card has none
    birth_date: dt.date
    address: str
    id_number: str
    authority: str
    valid_from: dt.date
    valid_until: dt.date | None   # None = 长期 (long-term)
    photo_raw: bytes = b""        # the card's 1024-byte compressed photo
    photo_bgr: np.ndarray | None = field(default=None, compare=False)  # 126x102x3 once decoded
    english_name: str = ""        # the foreigner's permanent residence cards; "" on the others
    nationality: str = ""         # ISO 3166-1 alpha-3 (GB/T 2659), the foreigner's cards

    def __repr__(self) -> str:  # never print personal data
        return f"CardRecord(type={self.card_type.value}, id=****)"

    def is_expired(self, today: dt.date) -> bool:
        return self.valid_until is not None and self.valid_until < today

    def age_on(self, today: dt.date) -> int:
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


@runtime_checkable
class IdCardReader(Protocol):
    def read_card(self, timeout: float, cancel: threading.Event | None = None
                  ) -> CardRecord | None:
        """Wait up to `timeout` s for a card and read it; None if no card came, or as soon as
        `cancel` is set: then a card found is left unread (a reader gives a card's data once
        per placement, and the card on it may already be the next applicant's).

        Raises DeviceError (reason_key e.g. `id_card.pulled`, `id_card.unreadable`) on a
        failed read and DeviceUnavailable when the reader itself is gone.
        """

    def card_present(self) -> bool:
        """True while a card lies on the reader (used for the forgotten-card call-out)."""

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Receipt printer
class PaperState(str, enum.Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    paper: PaperState
    cover_open: bool = False
    cutter_error: bool = False
    unrecoverable: bool = False

    @property
    def can_print(self) -> bool:
        return (self.online and self.paper != PaperState.OUT and not self.cover_open
                and not self.cutter_error and not self.unrecoverable)


@dataclass(frozen=True)
class Receipt:
    """Everything a 受理单 shows; layout is the printer package's pure function of this."""

    title: str                    # e.g. "受理回执 / Acceptance receipt"
    site_name: str
    terminal_id: str
    issued_at: dt.datetime
    case_number: str
    matter_name: str
    applicant_masked: str         # 张*三
    id_number_masked: str         # 1101********1234
    materials_received: tuple[str, ...]
    materials_missing: tuple[str, ...]   # 容缺
    promised_date: dt.date | None
    progress_url: str             # encoded as QR
    phone: str
    notes: tuple[str, ...] = ()   # e.g. "identity will be checked by staff"


@runtime_checkable
class ReceiptPrinter(Protocol):
    def status(self) -> PrinterStatus: ...

    def print_receipt(self, receipt: Receipt) -> PrinterStatus:
        """Print and cut; returns the status read after the job. Raises DeviceError if the
        job could not be confirmed printed (status after the job not clean)."""

    def forget_last(self) -> None:
        """Drop the kept copy of the last receipt (it names the applicant); called when the
        session wipes the visit, so nothing of it can be reprinted afterwards."""

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Cameras
@runtime_checkable
class FrameSource(Protocol):
    """A camera: BGR frames (numpy HxWx3 uint8). Raises DeviceUnavailable when unplugged.

    Optional attribute `last_frame_time: float | None`: when the frame the last `read()`
    returned was captured, in seconds on the source's own monotonic clock (the emulator's: the
    time it rendered the frame at, a frame clock with `pace=frames`). The face verifier times a
    blink by it. A source without it is still a FrameSource: callers use
    `getattr(camera, "last_frame_time", None)` and fall back to their own clock."""

    def read(self) -> np.ndarray: ...

    def frames(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CapturedPage:
    accepted: bool
    reason_key: str | None        # e.g. "doc.blurred", "doc.glare", "doc.not_whole", "doc.dark"
    jpeg: bytes | None            # the normalised page when accepted
    width_px: int = 0
    height_px: int = 0
    dpi: int = 0
    sharpness: float = 0.0


@runtime_checkable
class DocumentScanner(Protocol):
    def capture_page(self, cancel: threading.Event | None = None) -> CapturedPage:
        """The next new page laid under the camera, judged; `doc.cancelled` soon after `cancel`
        is set."""

    def preview(self):
        """A current frame (BGR ndarray) for the on-screen live preview, or None."""

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Face verification
class FaceDecision(str, enum.Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
    UNDECIDED = "undecided"


class Liveness(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class FaceEvent:
    """Progress of a live verification for the UI and voice: a guidance/challenge prompt key."""

    prompt_key: str               # e.g. "face.no_face", "face.blink", "face.turn_left"
    progress: float = 0.0         # 0..1


@dataclass(frozen=True, repr=False)
class FaceResult:
    decision: FaceDecision
    distance: float | None
    threshold: float
    liveness: Liveness
    best_frame_jpeg: bytes | None = None
    frames_used: int = 0
    reason_key: str | None = None

    def __repr__(self) -> str:
        return (f"FaceResult({self.decision.value}, distance={self.distance}, "
                f"threshold={self.threshold}, liveness={self.liveness.value})")


@runtime_checkable
class FaceVerifier(Protocol):
    def verify(self, card_photo_bgr: np.ndarray, camera: FrameSource,
               on_event: Callable[[FaceEvent], None] | None = None,
               timeout: float = 30.0, cancel: threading.Event | None = None) -> FaceResult:
        """Verify the live face; returns early (undecided, face.cancelled) once `cancel` is set."""
