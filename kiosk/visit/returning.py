"""办件查询 and 补件 at the kiosk: ask the back office how cases stand, and supply what it asked for.

`ProgressClient` talks to the back office's progress API: `GET /api/v1/cases/{n}/progress`
with the receipt's progress token in `X-Progress-Token` (what the receipt's QR code carries:
`<base>/progress/<case>?t=<token>`; the answer is the public view, no personal data, no
reviewer's reasons, no sensitive matter) and the signed `POST /api/v1/cases/lookup` (a
person's cases by ID number, terminals only, everything). A bare case number (typed, or an old
receipt's QR code without a token) shows nothing until the citizen reads the ID card: the case
is then picked from the card's own cases, so nobody reads another's case by guessing numbers.
Short timeouts: a citizen waits at the screen, and an unreachable back office must turn into a
plain message (`ProgressUnavailable`), not a hang.

`ProgressVisit` is the session's service mode for a returning citizen: pick a case by the
receipt (QR scanner or typed case number) or by reading the ID card, see each case's status and
what a reviewer asked to supplement, capture those materials with the document camera, and
submit a `supplement` packet through the same outbox. It is a small state machine driven by the
session (kiosk/visit/session.py): `on_intent` / `on_result` return the next `Job` (a function the
session runs in its device worker, so the UI never blocks) and the session publishes
`snapshot_fields()`. Everything personal it holds (card record, pages) is dropped by `wipe()`.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from kiosk.visit import intents as I
from kiosk.visit.packet import FORMAT, applicant_of, file_entry
from protocol import packet as kp
from protocol.signing import sign_request

log = logging.getLogger(__name__)

CASE_NUMBER = kp.CASE_NUMBER       # one definition, shared with the back office
TOKEN_HEADER = "X-Progress-Token"
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


class ProgressClient:
    def __init__(self, base_url: str, terminal_id: str, signing_key, *, timeout_s: float = 5.0,
                 http: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self.terminal_id = terminal_id
        self.signing_key = signing_key
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout_s, connect=3.0))

    def case(self, case_number: str, token: str) -> CaseProgress:
        """One case by number and the receipt's token (the public view); raises CaseNotFound
        (no such case, or not this token: the back office does not say which) or
        ProgressUnavailable."""
        try:
            response = self.http.get(f"{self.base_url}/api/v1/cases/{quote(case_number)}/progress",
                                     headers={TOKEN_HEADER: token})
        except httpx.HTTPError as exc:
            log.info("progress query failed error=%s", type(exc).__name__)
            raise ProgressUnavailable(type(exc).__name__) from exc
        if response.status_code == 404:
            raise CaseNotFound("no such case")
        return CaseProgress.from_api(self._json(response))

    def cases_of(self, id_number: str) -> list[CaseProgress]:
        """A person's cases by ID number (signed request; the number is sent only over it)."""
        path = "/api/v1/cases/lookup"
        body = json.dumps({"id_number": id_number}).encode("utf-8")
        headers = sign_request(self.signing_key, self.terminal_id, "POST", path, body)
        headers["Content-Type"] = "application/json"
        try:
            response = self.http.post(self.base_url + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.info("case lookup failed error=%s", type(exc).__name__)
            raise ProgressUnavailable(type(exc).__name__) from exc
        data = self._json(response)
        if not isinstance(data, list):
            raise ProgressUnavailable("unreadable lookup answer")
        return [CaseProgress.from_api(item) for item in data]

    @staticmethod
    def _json(response: httpx.Response):
        if response.status_code != 200:
            log.warning("progress API refused status=%d", response.status_code)
            raise ProgressUnavailable(f"http {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ProgressUnavailable("not JSON") from exc

    def close(self) -> None:
        self.http.close()


# ---- the session's service mode -------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """Work for the session's device worker: `run(cancel_event)`; its result comes back to
    `ProgressVisit.on_result(name, value, error)`."""
    name: str
    run: Callable


@dataclass
class _Material:
    code: str
    name_zh: str
    name_en: str
    reason: str
    pages_needed: int
    pages: list[bytes] = field(default_factory=list)


class ProgressVisit:
    """One returning citizen: query progress, and supplement a case (see the module doc)."""

    def __init__(self, catalog, client: ProgressClient | None, read_card: Callable,
                 capture_page: Callable, accept: Callable, capture_unavailable: Callable,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone(),
                 print_receipt: Callable | None = None, receipt_context: dict | None = None,
                 scan_code: Callable | None = None):
        """`print_receipt(Receipt)` prints the 补件回执 (None: no printer now);
        `receipt_context`: site_name, terminal_id, phone, progress_base_url."""
        self.catalog = catalog
        self._print_receipt = print_receipt
        self._receipt_context = receipt_context or {}
        self.printed: bool | None = None
        self.client = client
        self._read_card = read_card              # (cancel_event) -> CardRecord | None
        self._capture_page = capture_page        # () -> CapturedPage
        self._scan_code = scan_code              # (cancel_event) -> QR text | None (None: no camera)
        self._accept = accept                    # (manifest, files) -> Accepted
        self._capture_unavailable = capture_unavailable   # () -> prompt key | None
        self._now = now
        self.started_at = now()
        self.identity_at: dt.datetime | None = None
        self.screen = "progress"
        self.reason_key: str | None = None
        self.params: dict[str, str] = {}
        self.busy: str | None = None
        self.cases: tuple[CaseProgress, ...] = ()
        self.card = None
        self.selected: CaseProgress | None = None
        self.materials: list[_Material] = []
        self._capturing: str | None = None
        self._after_lookup = "progress_result"
        self._wanted: str | None = None           # a bare case number, shown once the card is read
        self._tokens: dict[str, str] = {}         # case number -> its receipt's token (QR code)
        self.accepted = None

    # -- intents ----------------------------------------------------------------------------
    def on_intent(self, intent) -> Job | None:
        """Apply what the citizen touched; returns the job to run now, if any."""
        job = self._on_intent(intent)
        if job is not None:
            self.busy = job.name
        return job

    def on_result(self, name: str, value, error: BaseException | None) -> Job | None:
        """A job finished; returns the next job, if any. A result nobody waits for any more
        (the citizen went back meanwhile) is dropped."""
        if name != self.busy:
            return None
        self.busy = None
        job = self._on_result(name, value, error)
        if job is not None:
            self.busy = job.name
        return job

    def _on_intent(self, intent) -> Job | None:
        if self.busy and not isinstance(intent, I.Back):
            return None
        self.reason_key, self.params = None, {}
        if isinstance(intent, I.EnterCaseNumber) and self.screen in ("progress", "progress_result"):
            ref = parse_receipt_code(intent.text)
            if ref is None:
                self.reason_key = "progress.bad_case_number"
                return None
            return self._open(ref)
        if isinstance(intent, I.ScanReceiptCode) and self.screen in ("progress",
                                                                    "progress_result"):
            why = None if self._scan_code is not None else "device.doc_camera"
            why = why or self._capture_unavailable()
            if why:
                self.reason_key, self.params = "visit.capability_missing", {"device": why}
                return None
            return Job("scan_code", self._scan_code)
        if isinstance(intent, I.ReadCardForProgress) and self.screen in ("progress",
                                                                        "progress_result"):
            self._wanted = None
            if self.card is not None:
                return self._lookup("progress_result")
            self.screen = "progress_card"
            return self._card_job()
        if isinstance(intent, I.StartSupplement) and self.screen == "progress_result":
            case = next((c for c in self.cases if c.case_number == intent.case_number), None)
            if case is None or not case.needs_supplement:
                self.reason_key = "supplement.nothing_requested"
                return None
            why = self._capture_unavailable()
            if why:
                self.reason_key, self.params = "visit.capability_missing", {"device": why}
                return None
            self.selected = case
            if self.card is None:
                self.screen = "supplement_card"
                return self._card_job()
            self._begin_supplement()
            return None
        if isinstance(intent, I.CapturePage) and self.screen == "supplement":
            material = self._material(intent.material)
            if material is None or len(material.pages) >= material.pages_needed:
                self.reason_key = "materials.already_complete" if material else None
                return None
            self._capturing = material.code
            return Job("capture", lambda cancel: self._capture_page())
        if isinstance(intent, I.Retake) and self.screen == "supplement":
            material = self._material(intent.material)
            if material is not None:
                material.pages.clear()
            return None
        if isinstance(intent, I.Next) and self.screen == "supplement":
            if any(len(m.pages) < m.pages_needed for m in self.materials):
                self.reason_key = "materials.incomplete"
                return None
            self.screen = "supplement_submit"
            manifest, files = self.supplement_packet()
            return Job("submit", lambda cancel: self._accept(manifest, files))
        if isinstance(intent, I.Back):
            return self._back()
        log.info("progress intent ignored intent=%s screen=%s", type(intent).__name__,
                 self.screen)
        return None

    def _back(self) -> None:
        if self.busy:
            if self.screen in ("progress_card", "supplement_card") or \
                    self.busy in ("query", "scan_code"):
                self.busy = None           # the session cancels the job; its result is dropped
            else:
                return None
        if self.screen in ("supplement", "supplement_card"):
            self.screen = "progress_result"
            self.selected, self.materials = None, []
        elif self.screen in ("progress_result", "progress_card"):
            self.screen, self.cases, self._wanted = "progress", (), None
        return None

    # -- jobs -------------------------------------------------------------------------------
    def _open(self, ref: CaseReference) -> Job:
        """A receipt's case: with its token, ask the back office; a bare number (typed, or an
        old receipt's code) waits for the ID card and is looked for among the card's cases."""
        if ref.token:
            self._tokens[ref.case_number] = ref.token
            client = self.client
            return Job("query", lambda cancel: _ask(client, "case", ref.case_number, ref.token))
        self._wanted = ref.case_number
        if self.card is not None:
            return self._lookup("progress_result")
        self.screen = "progress_card"
        return self._card_job()

    def _lookup(self, then: str) -> Job:
        client, id_number = self.client, self.card.id_number
        self._after_lookup = then
        return Job("lookup", lambda cancel: _ask(client, "cases_of", id_number))

    def _card_job(self) -> Job:
        return Job("read_card", self._read_card)

    def _on_result(self, name: str, value, error: BaseException | None) -> Job | None:
        if name == "scan_code":
            if error is not None:
                self.reason_key = getattr(error, "reason_key", None) or "device.failed"
                return None
            if value is None:
                self.reason_key = "progress.code_not_seen"
                return None
            ref = parse_receipt_code(value)
            if ref is None:
                self.reason_key = "progress.code_not_ours"
                return None
            return self._open(ref)
        if name == "query":
            if error is not None:
                self.reason_key = getattr(error, "reason_key", "progress.offline")
                return None
            if value.status == "needs_supplement" and not value.requested:
                # a sensitive matter: the receipt's token does not say what to bring; the
                # applicant's card shows it (and lets them supply it)
                return self._open(CaseReference(value.case_number))
            self.cases, self.screen = (value,), "progress_result"
            log.info("progress shown cases=1 by=receipt_code")
            return None
        if name == "read_card":
            if error is not None:
                self.reason_key = getattr(error, "reason_key", None) or "device.failed"
                self.screen = "progress" if self.screen == "progress_card" else "progress_result"
                return None
            if value is None:
                self.reason_key = "id_card.waiting"
                return self._card_job()
            self.card, self.identity_at = value, self._now()
            return self._lookup("supplement" if self.screen == "supplement_card"
                                else "progress_result")
        if name == "lookup":
            then = self._after_lookup
            if error is not None:
                self.reason_key = getattr(error, "reason_key", "progress.offline")
                self.screen = "progress" if then == "progress_result" else "progress_result"
                return None
            mine = tuple(value)
            if then == "supplement":
                own = next((c for c in mine if c.case_number == self.selected.case_number), None)
                if own is None:     # the card read is not the applicant's
                    log.info("supplement refused: card does not own the case")
                    self.screen, self.selected = "progress_result", None
                    self.reason_key = "supplement.not_your_case"
                    return None
                self.selected = own
                self.cases = tuple(own if c.case_number == own.case_number else c
                                   for c in self.cases)
                if not own.needs_supplement:
                    self.screen, self.reason_key = "progress_result", "supplement.nothing_requested"
                    return None
                self._begin_supplement()
                return None
            wanted, self._wanted = self._wanted, None
            if wanted is not None:          # a bare case number: only if it is this card's
                mine = tuple(c for c in mine if c.case_number == wanted)
                if not mine:
                    self.screen, self.cases, self.reason_key = "progress", (), "progress.not_found"
                    return None
            self.cases, self.screen = mine, "progress_result"
            if not mine:
                self.reason_key = "progress.none_for_card"
            log.info("progress shown cases=%d by=id_card", len(mine))
            return None
        if name == "capture":
            material = self._material(self._capturing)
            if error is not None:
                self.reason_key = getattr(error, "reason_key", None) or "device.failed"
            elif material is not None and value.accepted:
                material.pages.append(value.jpeg)
            else:
                self.reason_key = value.reason_key or "doc.rejected"
            return None
        if name == "submit":
            if error is not None:
                self.screen = "supplement"
                self.reason_key = getattr(error, "reason_key", None) or "outbox.error"
                return None
            self.accepted = value
            if self._print_receipt is None:
                self.screen, self.printed = "supplement_done", False
                return None
            receipt = self.supplement_receipt()
            return Job("print", lambda cancel: self._print_receipt(receipt))
        if name == "print":
            self.screen, self.printed = "supplement_done", error is None
            return None
        return None

    # -- supplement -------------------------------------------------------------------------
    def _begin_supplement(self) -> None:
        case = self.selected
        self.materials = []
        for req in case.requested:
            mat = self.catalog.materials.get(req.code)
            self.materials.append(_Material(
                code=req.code, name_zh=mat.name.zh if mat else req.name_zh,
                name_en=mat.name.en if mat else req.name_zh, reason=req.reason,
                pages_needed=self._pages_for(case.matter_code, req.code)))
        self.screen = "supplement"
        log.info("supplement started materials=%d", len(self.materials))

    def _pages_for(self, matter_code: str, material_code: str) -> int:
        matter = self.catalog.matters.get(matter_code)
        if matter is not None:
            from flows.engine import plan_visit
            for pm in plan_visit(self.catalog, matter).materials:
                if pm.code == material_code:
                    return max(pm.pages, 1)
        return 1

    def _material(self, code: str | None) -> _Material | None:
        return next((m for m in self.materials if m.code == code), None)

    def supplement_packet(self) -> tuple[dict, dict[str, bytes]]:
        """The `supplement` manifest (docs/packet-format.md) and its page files."""
        from kiosk.visit.packet import build_pdf
        card, case = self.card, self.selected
        files: dict[str, bytes] = {}
        materials = []
        for m in self.materials:
            entries = []
            for i, jpeg in enumerate(m.pages, 1):
                name = f"materials/{m.code}/page-{i:03d}.jpg"
                files[name] = jpeg
                entries.append(file_entry(name, jpeg, "image/jpeg"))
            pdf = build_pdf(m.pages) if m.pages else None
            if pdf:
                name = f"materials/{m.code}/{m.code}.pdf"
                files[name] = pdf
                entries.append(file_entry(name, pdf, "application/pdf"))
            materials.append({"code": m.code, "name_zh": m.name_zh, "status": "received",
                              "page_count": len(m.pages), "required": True,
                              "for_matters": [case.matter_code], "files": entries})
        matter = self.catalog.matters.get(case.matter_code)
        now = self._now()
        manifest = {
            "format": FORMAT, "kind": "supplement", "case_number": case.case_number,
            "matter": {"code": case.matter_code, "name_zh": matter.name.zh if matter else "",
                       "bundle_of": None},
            "applicant": applicant_of(card, None),
            "supplement": {"requested": [m.code for m in self.materials],
                           "reasons": {m.code: m.reason for m in self.materials if m.reason}},
            "materials": materials,
            "timestamps": {"started_at": self.started_at.isoformat(timespec="seconds"),
                           "identity_at": self.identity_at.isoformat(timespec="seconds")
                           if self.identity_at else None,
                           "submitted_at": now.isoformat(timespec="seconds")},
            "files": [file_entry(n, d, "application/pdf" if n.endswith(".pdf") else "image/jpeg")
                      for n, d in files.items()],
        }
        return manifest, files

    def supplement_receipt(self):
        """The 补件回执: which case, what was supplied, when; the case's progress QR code."""
        from devices.interfaces import Receipt
        from devices.printer.receipt_layout import mask_id_number, mask_name
        ctx, case, card = self._receipt_context, self.selected, self.card
        matter = self.catalog.matters.get(case.matter_code)
        base = str(ctx.get("progress_base_url", "")).rstrip("/")
        return Receipt(
            title="补件回执 / Supplement receipt", site_name=ctx.get("site_name", ""),
            terminal_id=ctx.get("terminal_id", ""), issued_at=self.accepted.accepted_at,
            case_number=case.case_number,
            matter_name=matter.name.zh if matter else case.matter_code,
            applicant_masked=mask_name(card.name), id_number_masked=mask_id_number(card.id_number),
            materials_received=tuple(f"{m.name_zh}（{len(m.pages)}页）" for m in self.materials),
            materials_missing=(), promised_date=None,
            progress_url=kp.progress_url(base, case.case_number,
                                         self._tokens.get(case.case_number)),
            phone=ctx.get("phone", ""),
            notes=("补交材料已提交，审批部门将继续办理 / Supplied; the office continues with the case",))

    # -- what the screen shows --------------------------------------------------------------
    def case_views(self) -> tuple[I.CaseView, ...]:
        views = []
        for c in self.cases:
            matter = self.catalog.matters.get(c.matter_code)
            requested = []
            for r in c.requested if c.needs_supplement else ():
                mat = self.catalog.materials.get(r.code)
                requested.append((r.code, mat.name.zh if mat else r.name_zh,
                                  mat.name.en if mat else r.name_zh, r.reason))
            views.append(I.CaseView(
                case_number=c.case_number, matter_code=c.matter_code,
                # the receipt's token alone does not name a sensitive matter (matter_code "")
                matter_zh=matter.name.zh if matter else c.matter_code or "（事项名称不公开）",
                matter_en=matter.name.en if matter else c.matter_code or "(matter not shown)",
                status=c.status,
                status_key=f"progress.status.{c.status}", updated_at=_local_time(c.updated_at),
                requested=tuple(requested)))
        return tuple(views)

    def material_views(self) -> tuple[I.MaterialView, ...]:
        return tuple(I.MaterialView(
            code=m.code, name_zh=m.name_zh, name_en=m.name_en, pages_needed=m.pages_needed,
            pages_have=len(m.pages), required=True, missing_allowed=False, lookup=False,
            status="complete" if len(m.pages) >= m.pages_needed else "todo")
            for m in self.materials)

    def snapshot_fields(self) -> dict:
        return dict(screen=self.screen, prompt_key=f"step.{self.screen}",
                    reason_key=self.reason_key, busy=self.busy is not None,
                    progress_key="progress.scanning_code" if self.busy == "scan_code" else None,
                    cases=self.case_views(), materials=self.material_views(),
                    params=tuple(sorted(self.params.items())),
                    case_number=self.selected.case_number if self.selected else None)

    def wipe(self) -> None:
        """Forget the citizen: card record (photo zeroed), pages, cases."""
        if self.card is not None and getattr(self.card, "photo_bgr", None) is not None:
            self.card.photo_bgr.fill(0)
        self.card = None
        for m in self.materials:
            m.pages.clear()
        self.materials, self.cases, self.selected = [], (), None
        self._tokens, self._wanted = {}, None


def _local_time(text: str) -> str:
    """The back office answers in UTC; the citizen reads the terminal's local time."""
    try:
        return dt.datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text[:16]


def _ask(client: ProgressClient | None, method: str, *args):
    if client is None:
        raise ProgressUnavailable("no back office configured")
    return getattr(client, method)(*args)

