"""办件查询 and 补件 at the kiosk: a returning citizen's case, and what a reviewer asked for.

`ProgressVisit` is the session's service mode for a returning citizen: pick a case by the
receipt (QR scanner or typed case number) or by reading the ID card, see each case's status and
what a reviewer asked to supplement, capture those materials with the document camera, and
submit a `supplement` packet through the same outbox. A bare case number (typed, or an old
receipt's QR code without a token) shows nothing until the citizen reads the ID card: the case
is then picked from the card's own cases, so nobody reads another's case by guessing numbers.

It is a small state machine driven by the session (kiosk/visit/session.py): `on_intent` /
`on_result` return the next `Job` (a function the session runs in its device worker, so the UI
never blocks) and the session publishes `snapshot_fields()`. Everything personal it holds (card
record, pages) is dropped by `wipe()`. The back office is asked through the `CaseLookup` the
session was given (kiosk/visit/cases.py); the packet and receipt are built in
kiosk/visit/supplement.py.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from kiosk.visit import intents as I
from kiosk.visit.cases import (CaseLookup, CaseProgress, CaseReference, ProgressUnavailable,
                               parse_receipt_code)
from kiosk.visit.supplement import (SuppliedMaterial, requested_materials, supplement_packet,
                                    supplement_receipt)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Work for the session's device worker: `run(cancel_event)`; its result comes back to
    `ProgressVisit.on_result(name, value, error)`."""
    name: str
    run: Callable


class ProgressVisit:
    """One returning citizen: query progress, and supplement a case (see the module doc)."""

    def __init__(self, catalog, client: CaseLookup | None, read_card: Callable,
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
        self._capture_page = capture_page        # (cancel event) -> CapturedPage
        self._scan_code = scan_code              # (cancel_event) -> QR text | None; None: no camera
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
        self.materials: list[SuppliedMaterial] = []
        self._capturing: str | None = None
        self._after_lookup = "progress_result"
        self._wanted: str | None = None           # a bare case number, shown once the card is read
        self._tokens: dict[str, str] = {}         # case number -> its receipt's token (QR code)
        self.accepted = None
        lookup_screens = ("progress", "progress_result")
        self._intents = {       # intent type -> (the screens it applies on, None: any; handler)
            I.EnterCaseNumber: (lookup_screens, self._enter_case_number),
            I.ScanReceiptCode: (lookup_screens, self._scan_receipt_code),
            I.ReadCardForProgress: (lookup_screens, self._read_card_for_progress),
            I.StartSupplement: (("progress_result",), self._start_supplement),
            I.CapturePage: (("supplement",), self._capture),
            I.Retake: (("supplement",), self._retake),
            I.Next: (("supplement",), self._submit),
            I.Back: (None, self._back)}
        self._results = {"scan_code": self._scanned, "query": self._queried,   # job name ->
                         "read_card": self._card_read, "lookup": self._looked_up,
                         "capture": self._captured, "submit": self._submitted,
                         "print": self._printed}

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
        screens, handler = self._intents.get(type(intent), ((), None))
        if handler is not None and (screens is None or self.screen in screens):
            return handler(intent)
        log.info("progress intent ignored intent=%s screen=%s", type(intent).__name__,
                 self.screen)
        return None

    def _enter_case_number(self, intent: I.EnterCaseNumber) -> Job | None:
        ref = parse_receipt_code(intent.text)
        if ref is None:
            self.reason_key = "progress.bad_case_number"
            return None
        return self._open(ref)

    def _scan_receipt_code(self, intent) -> Job | None:
        why = None if self._scan_code is not None else "device.doc_camera"
        why = why or self._capture_unavailable()
        if why:
            self.reason_key, self.params = "visit.capability_missing", {"device": why}
            return None
        return Job("scan_code", self._scan_code)

    def _read_card_for_progress(self, intent) -> Job:
        self._wanted = None
        if self.card is not None:
            return self._lookup("progress_result")
        self.screen = "progress_card"
        return self._card_job()

    def _start_supplement(self, intent: I.StartSupplement) -> Job | None:
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

    def _capture(self, intent: I.CapturePage) -> Job | None:
        material = self._material(intent.material)
        if material is None or len(material.pages) >= material.pages_needed:
            self.reason_key = "materials.already_complete" if material else None
            return None
        self._capturing = material.code
        return Job("capture", lambda cancel: self._capture_page(cancel))

    def _retake(self, intent: I.Retake) -> None:
        material = self._material(intent.material)
        if material is not None:
            material.pages.clear()
        return None

    def _submit(self, intent) -> Job | None:
        if any(len(m.pages) < m.pages_needed for m in self.materials):
            self.reason_key = "materials.incomplete"
            return None
        self.screen = "supplement_submit"
        manifest, files = supplement_packet(self.catalog, self.card, self.selected,
                                            self.materials, self.started_at,
                                            self.identity_at, self._now())
        return Job("submit", lambda cancel: self._accept(manifest, files))

    def _back(self, intent=None) -> None:
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
        handler = self._results.get(name)
        return handler(value, error) if handler is not None else None

    def _scanned(self, value, error) -> Job | None:
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

    def _queried(self, value, error) -> Job | None:
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

    def _card_read(self, value, error) -> Job | None:
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

    def _looked_up(self, value, error) -> None:
        then = self._after_lookup
        if error is not None:
            self.reason_key = getattr(error, "reason_key", "progress.offline")
            self.screen = "progress" if then == "progress_result" else "progress_result"
            return None
        mine = tuple(value)
        if then == "supplement":
            return self._supplement_own_case(mine)
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

    def _supplement_own_case(self, mine: tuple[CaseProgress, ...]) -> None:
        """Supplement only a case of the card just read, as the back office has it now."""
        own = next((c for c in mine if c.case_number == self.selected.case_number), None)
        if own is None:     # the card read is not the applicant's
            log.info("supplement refused: card does not own the case")
            self.screen, self.selected = "progress_result", None
            self.reason_key = "supplement.not_your_case"
            return None
        self.selected = own
        self.cases = tuple(own if c.case_number == own.case_number else c for c in self.cases)
        if not own.needs_supplement:
            self.screen, self.reason_key = "progress_result", "supplement.nothing_requested"
            return None
        self._begin_supplement()
        return None

    def _captured(self, value, error) -> None:
        material = self._material(self._capturing)
        if error is not None:
            self.reason_key = getattr(error, "reason_key", None) or "device.failed"
        elif material is not None and value.accepted:
            material.pages.append(value.jpeg)
        else:
            self.reason_key = value.reason_key or "doc.rejected"
        return None

    def _submitted(self, value, error) -> Job | None:
        if error is not None:
            self.screen = "supplement"
            self.reason_key = getattr(error, "reason_key", None) or "outbox.error"
            return None
        self.accepted = value
        if self._print_receipt is None:
            self.screen, self.printed = "supplement_done", False
            return None
        case = self.selected
        receipt = supplement_receipt(self.catalog, case, self.card, self.materials,
                                     value.accepted_at, self._receipt_context,
                                     self._tokens.get(case.case_number))
        return Job("print", lambda cancel: self._print_receipt(receipt))

    def _printed(self, value, error) -> None:
        self.screen, self.printed = "supplement_done", error is None
        return None

    # -- supplement -------------------------------------------------------------------------
    def _begin_supplement(self) -> None:
        self.materials = requested_materials(self.catalog, self.selected)
        self.screen = "supplement"
        log.info("supplement started materials=%d", len(self.materials))

    def _material(self, code: str | None) -> SuppliedMaterial | None:
        return next((m for m in self.materials if m.code == code), None)

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


def _ask(client: CaseLookup | None, method: str, *args):
    if client is None:
        raise ProgressUnavailable("no back office configured")
    return getattr(client, method)(*args)

