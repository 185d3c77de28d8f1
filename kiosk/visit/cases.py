"""What a returning citizen's case looks like at the kiosk, and how a receipt names it.

`CaseProgress` is a case as the back office's progress API answers it (no personal data);
`CaseReference` is what a receipt names (its case number, and the progress token its QR code
carries); `parse_receipt_code` reads one from what was typed or scanned. `CaseLookup` is what
the session asks the back office through: the link room's `kiosk.link.progress_client.
ProgressClient` on a terminal, a fake in tests. Its errors are the two exceptions below, each
with the prompt the citizen sees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from protocol import packet as kp

CASE_NUMBER = kp.CASE_NUMBER       # one definition, shared with the back office
STATUSES = ("received", "accepted", "needs_supplement", "approved", "rejected", "completed")


class ProgressUnavailable(Exception):
    """The back office cannot be asked now (network, outage, refusal)."""

    reason_key = "progress.offline"


class CaseNotFound(Exception):
    reason_key = "progress.not_found"


@dataclass(frozen=True)
class RequestedMaterial:
    code: str
    name_zh: str
    reason: str


@dataclass(frozen=True)
class CaseProgress:
    """A case as the progress API returns it (no personal data)."""
    case_number: str
    matter_code: str
    status: str
    updated_at: str
    history: tuple[tuple[str, str], ...] = ()          # (status, ISO time)
    requested: tuple[RequestedMaterial, ...] = ()       # open supplement request, if any

    @property
    def needs_supplement(self) -> bool:
        return self.status == "needs_supplement" and bool(self.requested)

    @classmethod
    def from_api(cls, data: dict) -> "CaseProgress":
        try:
            supplement = data.get("supplement") or {}
            status = str(data["status"])
            return cls(case_number=str(data["case_number"]), matter_code=str(data["matter_code"]),
                       status=status if status in STATUSES else "received",
                       updated_at=str(data.get("updated_at") or ""),
                       history=tuple((str(h["status"]), str(h["at"]))
                                     for h in data.get("history") or ()),
                       requested=tuple(RequestedMaterial(str(m["code"]), str(m.get("name_zh", "")),
                                                         str(m.get("reason", "")))
                                       for m in supplement.get("materials") or ()))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProgressUnavailable("unreadable progress answer") from exc


@dataclass(frozen=True)
class CaseReference:
    """What a receipt names: its case number, and the progress token of its QR code (None when
    typed by hand, or on a receipt printed before tokens existed)."""
    case_number: str
    token: str | None = None


def parse_receipt_code(text: str) -> CaseReference | None:
    """The case (and token) from what was typed or what a QR scanner sent (the receipt's
    progress URL `<base>/progress/<case number>?t=<token>`); None when it names no case."""
    text = (text or "").strip()
    token = None
    if "/" in text:
        parts = urlsplit(text)
        text = parts.path.rstrip("/").rsplit("/", 1)[-1]
        token = (parse_qs(parts.query).get(kp.PROGRESS_TOKEN_PARAM) or [None])[0]
        token = token if token and kp.PROGRESS_TOKEN.match(token) else None
    text = text.replace(" ", "")
    return CaseReference(text, token) if CASE_NUMBER.match(text) else None


def parse_case_reference(text: str) -> str | None:
    """Only the case number of `parse_receipt_code`."""
    ref = parse_receipt_code(text)
    return ref.case_number if ref else None


class CaseLookup(Protocol):
    """The back office's progress API as the session uses it (办件查询 / 补件)."""

    def case(self, case_number: str, token: str) -> CaseProgress:
        """One case by number and its receipt's token (the public view)."""

    def cases_of(self, id_number: str) -> list[CaseProgress]:
        """A person's cases by ID number (terminals only)."""
