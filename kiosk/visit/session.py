"""One kiosk's visits: runs the visit engine over the devices, publishes snapshots, wipes.

A `Session` is an actor with its own thread. Screens (or the headless autopilot) `send()`
intents; the session applies them to the pure engine in `flows.engine`, runs the steps that
need hardware in a worker thread (so nothing blocks the UI, and Cancel or the idle timeout can
interrupt), and publishes an immutable `Snapshot` to every listener after each change. It owns
the idle warning and timeout and wipes everything about the applicant when a visit ends.
Device results carry the visit number, so a late result can never reach the next applicant.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from devices.interfaces import (DeviceError, DeviceUnavailable, DocumentScanner, FaceEvent,
                                FaceVerifier, FrameSource, IdCardReader, ReceiptPrinter)
from flows import engine as E
from flows.catalog import Catalog
from kiosk.visit import intents as I
from kiosk.visit.returning import Job, ProgressVisit
from kiosk.visit.snapshot import build_snapshot
from kiosk.visit.packet import PacketSink, build_application, build_receipt, build_small

log = logging.getLogger(__name__)

DEVICE_OF_CAPABILITY = {"id_card.read": "id_card", "face.verify": "camera",
                        "doc.capture": "scanner", "receipt.print": "printer",
                        "outbox.submit": "sink"}
ALTERNATIVES = {"id_card.none": "alternatives.no_id_card",     # what else to do, by why
                "consent.declined": "alternatives.no_consent"}
END_SCREENS = ("done", "refused", "help", "supplement_done")   # shown briefly, then wiped
DEVICE_PROMPT = {"id_card": "device.id_card", "camera": "device.face", "scanner": "device.doc",
                 "printer": "device.printer", "sink": "device.outbox"}


@dataclass
class Devices:
    """The capability providers of one terminal (any may be None: not installed)."""
    id_card: IdCardReader | None = None
    camera: FrameSource | None = None
    face: FaceVerifier | None = None
    scanner: DocumentScanner | None = None
    printer: ReceiptPrinter | None = None


@dataclass(frozen=True)
class SessionSettings:
    terminal_id: str
    site_name: str
    phone: str
    language: str = "zh"
    idle_s: float = 90.0
    idle_warning_s: float = 20.0
    card_read_s: float = 60.0
    face_s: float = 30.0
    end_screen_s: float = 8.0
    max_face_attempts: int = E.DEFAULT_MAX_FACE_ATTEMPTS    # [face] max_attempts, into each plan
    progress_base_url: str = "https://backoffice.invalid"
    enabled: Callable[[str], bool] = field(default=lambda code: True)
    is_open: Callable[[dt.datetime], bool] = field(default=lambda when: True)  # opening hours
    next_opening: Callable[[dt.datetime], dt.datetime | None] = field(default=lambda when: None)
    nearest_24h_station: str = ""
    explain_s: float = 90.0         # how long an explanation of what else to do stays up


@dataclass(frozen=True)
class _ReprintResult:
    visit: int
    ok: bool


@dataclass(frozen=True)
class _DeviceResult:
    visit: int
    step: E.Step
    value: object = None
    error: BaseException | None = None
    job: int = 0                # which launch this answers; a result of an abandoned job is dropped


@dataclass(frozen=True)
class _ServiceResult:
    """The result of a job of the progress/supplement service (kiosk/visit/returning.py)."""
    visit: int
    job: int
    name: str
    value: object = None
    error: BaseException | None = None


@dataclass(frozen=True)
class _Progress:
    visit: int
    prompt_key: str


@dataclass(frozen=True)
class _WhenIdle:
    task: Callable[["Session"], None]


_KEEP_ALIVE = object()


class Session:
    def __init__(self, catalog: Catalog, devices: Devices, sink: PacketSink,
                 settings: SessionSettings, health: Callable[[str], str | None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], dt.date] = dt.date.today,
                 now: Callable[[], dt.datetime] = dt.datetime.now, progress=None):
        self.catalog = catalog
        self.devices = devices
        self.sink = sink
        self.settings = settings
        self._health = health or (lambda device: None)
        self.progress_client = progress   # kiosk.visit.returning.ProgressClient: 办件查询 and 补件
        self._clock = clock
        self._today = today
        self._now = now                  # local wall clock, for opening hours
        self._queue: queue.Queue = queue.Queue()
        self._listeners: list[Callable[[I.Snapshot], None]] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="device")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cancel_job = threading.Event()
        self._face_cancel = threading.Event()    # per face job: the applicant may opt out mid-way
        self._job_no = 0
        self._plans = self._plan_all(catalog)
        self._seq = 0
        self._idle_tasks: list[Callable[["Session"], None]] = []
        self._wipe_hooks: list[Callable[[], None]] = []
        self._handled = 0
        self._visit_no = 0
        self.snapshot: I.Snapshot | None = None
        self._reset_visit()

    # -- public API ----------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[I.Snapshot], None]) -> None:
        self._listeners.append(listener)
        if self.snapshot is not None:
            listener(self.snapshot)

    def on_wipe(self, hook: Callable[[], None]) -> None:
        """Call `hook()` in the session thread whenever a visit has been wiped, before the
        attract screen's snapshot goes out (the voice goes back to the site's rate and volume)."""
        self._wipe_hooks.append(hook)

    def send(self, intent) -> None:
        self._queue.put(intent)

    def keep_alive(self) -> None:
        """Someone is using the terminal without sending an intent (moving the keypad's focus,
        listening): the idle timeout starts again. Not counted in `handled`."""
        self._queue.put(_KEEP_ALIVE)

    def when_idle(self, task: Callable[["Session"], None]) -> None:
        """Run `task(session)` in the session thread as soon as no visit is in progress (the
        attract screen, no end screen pending). No visit can start while it runs."""
        self._queue.put(_WhenIdle(task))

    def replace_catalog(self, catalog: Catalog) -> None:
        """Use another catalogue from the next visit on; only from a `when_idle` task."""
        self._plans = self._plan_all(catalog)
        self.catalog = catalog

    def _plan_all(self, catalog: Catalog) -> dict[str, E.VisitPlan]:
        limit = self.settings.max_face_attempts
        return {code: E.plan_visit(catalog, m, max_face_attempts=limit)
                for code, m in catalog.matters.items()}

    def start(self) -> "Session":
        self._thread = threading.Thread(target=self._run, name="session", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._cancel_job.set()
        self._face_cancel.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def unavailable_reason(self, capability: str) -> str | None:
        device = DEVICE_OF_CAPABILITY[capability]
        if device == "sink":
            return None if self.sink.has_room() else "device.outbox"
        if device == "camera" and (self.devices.camera is None or self.devices.face is None):
            return DEVICE_PROMPT[device]
        if device != "camera" and getattr(self.devices, device) is None:
            return DEVICE_PROMPT[device]
        return DEVICE_PROMPT[device] if self._health(device) else None

    def closed_matters(self) -> tuple[tuple[str, str], ...]:
        out = []
        down = {c: self.unavailable_reason(c) for c in DEVICE_OF_CAPABILITY}
        for code, plan in self._plans.items():
            if not self.settings.enabled(code):
                continue
            for cap in sorted(plan.capabilities):
                if down[cap]:
                    out.append((code, down[cap]))
                    break
        return tuple(out)

    # -- the actor loop ------------------------------------------------------------------------
    def _run(self) -> None:
        self._publish()
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                item = None
            try:
                if item is not None:
                    self._handle(item)
                self._tick()
            except Exception:  # never let one bad intent kill the kiosk; end the visit cleanly
                log.exception("session error; ending visit step=%s", self._step_name())
                self._end_visit("device.failed")

    def _handle(self, item) -> None:
        if isinstance(item, _ServiceResult):
            if item.visit == self._visit_no and self._service is not None \
                    and item.job == self._service_job:
                self._service_result(item)
                self._publish()
            return
        if isinstance(item, _ReprintResult):
            if item.visit == self._visit_no and self._reprint == "printing":
                self._reprint = "printed" if item.ok else "failed"
                self._publish()
            return
        if isinstance(item, _DeviceResult):
            if item.visit == self._visit_no and self.plan is not None \
                    and item.job == self._job_no:
                self._job = None
                self._device_result(item)
                self._publish()
            return
        if isinstance(item, _Progress):
            if item.visit == self._visit_no:
                self._progress_key = item.prompt_key
                self._publish()
            return
        if isinstance(item, _WhenIdle):
            self._idle_tasks.append(item.task)
            return
        if item is _KEEP_ALIVE:
            self._last_touch = self._clock()
            if self._countdown() != self._published_countdown:
                self._publish()         # the idle warning goes away
            return
        self._last_touch = self._clock()
        self._handled += 1
        if isinstance(item, I.SetLanguage):
            if item.language in ("zh", "en"):
                self._language = item.language
        elif isinstance(item, I.SetElderMode):
            self._elder = item.on
        elif isinstance(item, I.SetAudioFirst):
            if item.on != self._audio_first:
                log.info("audio-first mode on=%s", item.on)
            self._audio_first = item.on
        elif isinstance(item, (I.MoreTime, I.Repeat)):
            pass
        elif isinstance(item, I.StartVisit):
            self._start_visit(item.matter_code)
        elif isinstance(item, I.StartProgress):
            self._start_progress()
        elif self._service is not None:
            self._service_intent(item)
        elif self.plan is None:
            if isinstance(item, (I.Next, I.Cancel)) and self._screen in END_SCREENS:
                self._wipe()
            elif isinstance(item, I.ReprintReceipt):
                self._reprint_receipt()
        elif isinstance(item, I.Cancel):
            self._end_visit("visit.cancelled")
        elif isinstance(item, I.Help):
            self._help(item.reason)
        else:
            self._visit_intent(item)
        self._publish()

    def _visit_intent(self, item) -> None:
        step = E.current_step(self.plan, self.state)
        event = None
        if isinstance(item, I.Back):
            event = E.Back()
        elif isinstance(item, I.Next):
            event = E.Next()
        elif isinstance(item, I.Agree):
            event = E.Consent(item.accepted)
        elif isinstance(item, I.ChooseRole):
            event = E.RoleChosen(item.role)
        elif isinstance(item, I.EnterField):
            event = E.FormValue(item.key, item.value)
        elif isinstance(item, I.MarkMissing):
            event = E.MaterialMissing(item.material)
        elif isinstance(item, I.Retake):
            event = E.RetakeMaterial(item.material)
        elif isinstance(item, I.Sign):
            event = E.Signed(item.png)
        elif isinstance(item, I.ConfirmByKeypad) and self._audio_first:
            event = E.ConfirmedByKeypad()
        elif isinstance(item, I.NoIdCard) and step is E.Step.ID_CARD:
            self._explain_alternatives("id_card.none")
            return
        elif isinstance(item, I.Rate):
            event = E.Evaluated(item.level, item.comment)
        elif isinstance(item, I.DeclineFace) and step is E.Step.FACE:
            if self._job is not None:       # the applicant opts out while the camera is running:
                self._face_cancel.set()     # stop it (within a frame) and forget its result
                self._job, self._job_no = None, self._job_no + 1
            event = E.FaceDeclined()
        elif isinstance(item, I.RetryFace) and step is E.Step.FACE and self._job is None:
            if self.state.face_attempts < self.plan.max_face_attempts:
                self._launch(step)
            return
        elif isinstance(item, I.CapturePage) and step is E.Step.MATERIALS and self._job is None:
            self._capture_material = item.material
            self._launch(step)
            return
        if event is None:
            log.info("intent ignored intent=%s step=%s", type(item).__name__, step.value)
            return
        case_number = self.state.case_number
        try:
            self._apply(event)
        except E.EventNotAllowed as exc:
            log.warning("event not allowed: %s", exc)
            return
        if isinstance(event, E.Evaluated) and event.level is not None and case_number:
            self._store_evaluation(case_number, event.level, event.comment)

    def _store_evaluation(self, case_number: str, level: int, comment: str) -> None:
        """好差评: one small packet per evaluated service, joined to its case by number."""
        manifest = build_small("evaluation", self._matter_code, case_number,
                               evaluation={"level": level, "comment": comment[:200]})
        try:
            self.sink.accept(manifest, {})
        except Exception as exc:  # an evaluation must never block the end of a visit
            log.error("evaluation not stored error=%s", type(exc).__name__)

    def _apply(self, event) -> None:
        before = E.current_step(self.plan, self.state)
        self.state = E.advance(self.plan, self.state, event)
        after = E.current_step(self.plan, self.state)
        if before is not after:
            self._progress_key = None
            log.info("visit step matter=%s step=%s", self.plan.matter.code, after.value)
            if before is E.Step.ID_CARD:
                self._identity_at = dt.datetime.now().astimezone()
        if self.state.outcome == "refused" and self.state.reason_key in ALTERNATIVES:
            log.info("visit refused matter=%s reason=%s", self.plan.matter.code,
                     self.state.reason_key)
            self._explain_alternatives(self.state.reason_key)
        elif self.state.outcome == "refused":
            log.info("visit refused matter=%s reason=%s", self.plan.matter.code,
                     self.state.reason_key)
            self._end_visit(self.state.reason_key, screen="refused")
        elif self.state.outcome == "done":
            self._end_visit(None, screen="done")
        elif after in (E.Step.ID_CARD, E.Step.FACE, E.Step.SUBMIT, E.Step.RECEIPT) \
                and before is not after:
            self._launch(after)

    # -- device steps --------------------------------------------------------------------------
    def _launch(self, step: E.Step) -> None:
        if self._job is not None:
            return
        self._cancel_job.clear()
        visit = self._visit_no
        self._job_no += 1
        job = self._job_no
        if step is E.Step.FACE:
            self._face_cancel = threading.Event()
        fn = {E.Step.ID_CARD: self._job_read_card, E.Step.FACE: self._job_face,
              E.Step.MATERIALS: self._job_capture, E.Step.SUBMIT: self._job_submit,
              E.Step.RECEIPT: self._job_receipt}[step]

        def run():
            try:
                value = fn(visit)
                self._queue.put(_DeviceResult(visit, step, value, job=job))
            except BaseException as exc:  # delivered to the actor, which decides
                self._queue.put(_DeviceResult(visit, step, error=exc, job=job))
        self._job = self._pool.submit(run)

    def _job_read_card(self, visit: int):
        return self._read_card_until(self._cancel_job)

    def _read_card_until(self, cancel: threading.Event):
        """A card within card_read_s, or None (also when cancelled or the visit ends)."""
        deadline = self._clock() + self.settings.card_read_s
        while not cancel.is_set() and not self._cancel_job.is_set() and self._clock() < deadline:
            card = self.devices.id_card.read_card(timeout=1.0)
            if card is not None:
                return card
        return None

    def _job_face(self, visit: int):
        card = self.state.card
        if card is None or card.photo_bgr is None:
            raise DeviceError("card photo not decoded", "face.no_card_photo")

        def on_event(ev: FaceEvent):
            self._queue.put(_Progress(visit, ev.prompt_key))
        return self.devices.face.verify(card.photo_bgr, self.devices.camera, on_event,
                                        timeout=self.settings.face_s, cancel=self._face_cancel)

    def _job_capture(self, visit: int):
        return self._capture_material, self.devices.scanner.capture_page()

    def _job_submit(self, visit: int):
        manifest, files = build_application(self.catalog, self.plan, self.state,
                                            self._started_at, self._identity_at)
        return self.sink.accept(manifest, files)

    def _job_receipt(self, visit: int):
        receipt = build_receipt(self.plan, self.state, self.catalog, self.settings.site_name,
                                self.settings.terminal_id, self.settings.phone,
                                self.settings.progress_base_url, self._accepted_at,
                                self._progress_token)
        return self.devices.printer.print_receipt(receipt)

    def _device_result(self, r: _DeviceResult) -> None:
        step = E.current_step(self.plan, self.state)
        if r.step is not step:
            return
        err = r.error
        if err is not None and not isinstance(err, DeviceError):
            log.error("device step failed step=%s error=%s", step.value, type(err).__name__)
            err = DeviceError(type(err).__name__, "device.failed")
        if step is E.Step.ID_CARD:
            if err is None and r.value is not None:
                self._apply(E.CardRead(r.value, self._today()))
            elif isinstance(err, DeviceUnavailable):
                self._end_visit("visit.capability_missing", screen="refused",
                                params={"device": "device.id_card"})
            else:
                self.state = dataclasses.replace(self.state, reason_key=err.reason_key if err
                                                 else "id_card.waiting")
                if not self._stop.is_set():
                    self._launch(step)
        elif step is E.Step.FACE:
            if err is not None:
                self._apply(E.FaceFailed(err.reason_key,
                                         retry_possible=err.reason_key != "face.no_card_photo"))
            else:
                self._apply(E.FaceAttempt(r.value))
        elif step is E.Step.MATERIALS:
            if err is not None:
                self.state = dataclasses.replace(self.state, reason_key=err.reason_key)
                return
            material, page = r.value
            if page.accepted:
                self._apply(E.PageCaptured(material, page.jpeg))
            else:
                self._apply(E.PageRejected(material, page.reason_key or "doc.rejected"))
        elif step is E.Step.SUBMIT:
            if err is not None:
                log.error("submission failed reason=%s", err.reason_key)
                self._end_visit(getattr(err, "reason_key", "device.failed"), screen="refused")
                return
            self._accepted_at = r.value.accepted_at
            self._progress_token = getattr(r.value, "progress_token", "")   # for the QR code
            log.info("submitted matter=%s packet=%s", self.plan.matter.code, r.value.packet_id)
            self._apply(E.Submitted(r.value.packet_id, r.value.case_number))
        elif step is E.Step.RECEIPT:
            if err is not None:
                log.warning("receipt not printed reason=%s", err.reason_key)
            self._apply(E.ReceiptDone(err is None, err.reason_key if err else None))

    # -- 办件查询 / 补件: a citizen back about an earlier case (kiosk/visit/returning.py) ---------------
    def _start_progress(self) -> None:
        if self.plan is not None or self._service is not None:
            return
        self._finish_end_screen()
        if self._refused_out_of_hours(None):
            return
        self._visit_no += 1
        self._cancel_job.clear()
        self._matter_code, self._last_touch = None, self._clock()

        def capture_unavailable():
            return self.unavailable_reason("doc.capture") or self.unavailable_reason("outbox.submit")
        printer = None if self.unavailable_reason("receipt.print") else \
            self.devices.printer.print_receipt
        st = self.settings
        self._service = ProgressVisit(
            self.catalog, self.progress_client, read_card=self._service_read_card,
            capture_page=lambda: self.devices.scanner.capture_page(), accept=self.sink.accept,
            capture_unavailable=capture_unavailable, print_receipt=printer,
            scan_code=lambda cancel: self.devices.scanner.read_code(cancel),
            receipt_context={"site_name": st.site_name, "terminal_id": st.terminal_id,
                             "phone": st.phone, "progress_base_url": st.progress_base_url})
        log.info("progress service started visit=%d", self._visit_no)

    def _service_read_card(self, cancel: threading.Event):
        if self.unavailable_reason("id_card.read"):
            raise DeviceUnavailable("card reader unavailable", "device.id_card")
        return self._read_card_until(cancel)

    def _service_intent(self, item) -> None:
        if isinstance(item, I.Cancel):
            self._end_visit("visit.cancelled")
        elif isinstance(item, I.Help):
            self._help(item.reason)
        else:
            job = self._service.on_intent(item)
            if self._service.busy is None:
                self._service_cancel.set()      # the citizen left a card read or query behind
            self._launch_service(job)

    def _launch_service(self, job: Job | None) -> None:
        """Run a service job in the device worker; its result comes back as _ServiceResult."""
        if job is None:
            return
        self._service_cancel.set()
        cancel = self._service_cancel = threading.Event()
        self._service_job += 1
        visit, number = self._visit_no, self._service_job

        def run():
            try:
                self._queue.put(_ServiceResult(visit, number, job.name, job.run(cancel)))
            except BaseException as exc:  # delivered to the actor, which decides
                self._queue.put(_ServiceResult(visit, number, job.name, error=exc))
        self._pool.submit(run)

    def _service_result(self, r: _ServiceResult) -> None:
        if r.error is not None:
            log.warning("progress job failed job=%s error=%s", r.name, type(r.error).__name__)
        service = self._service
        job = service.on_result(r.name, r.value, r.error)
        if service.screen == "supplement_done":
            self._case_number = service.accepted.case_number
            self._receipt_printed = service.printed
            log.info("supplement submitted packet=%s receipt=%s", service.accepted.packet_id,
                     service.printed)
            self._end_visit(None if service.printed else "supplement.receipt_not_printed",
                            screen="supplement_done")
            return
        self._launch_service(job)

    # -- visit lifecycle -----------------------------------------------------------------------
    def _finish_end_screen(self) -> None:
        """Someone starts something new while the last visit's end screen is still up: that
        screen is over now, or its timer would wipe the new visit when it runs out."""
        if self.plan is None and self._service is None and self._end_until is not None:
            self._wipe()

    def _start_visit(self, code: str) -> None:
        if self.plan is not None:
            return
        self._finish_end_screen()
        matter = self.catalog.matters.get(code)
        if matter is None or not self.settings.enabled(code):
            self._screen, self._reason = "attract", "visit.not_offered"
            return
        if self._refused_out_of_hours(code):
            return
        plan = self._plans[code]
        for cap in sorted(plan.capabilities):
            why = self.unavailable_reason(cap)
            if why:
                self._screen, self._reason = "refused", "visit.capability_missing"
                self._params = {"device": why}
                self._matter_code = code
                log.info("visit refused at start matter=%s capability=%s", code, cap)
                return
        self._visit_no += 1
        self.plan, self.state = plan, E.VisitState()
        self._matter_code = code
        self._started_at = dt.datetime.now().astimezone()
        self._last_touch = self._clock()
        log.info("visit started matter=%s visit=%d", code, self._visit_no)

    def _refused_out_of_hours(self, code: str | None) -> bool:
        """Outside opening hours no visit starts (one already running may finish)."""
        when = self._now()
        if self.settings.is_open(when):
            return False
        opens = self.settings.next_opening(when)
        self._screen, self._matter_code = "refused", code
        self._params = {"when": opens.strftime("%m-%d %H:%M") if opens else "—",
                        "opens_at": opens.isoformat(timespec="minutes") if opens else "",
                        "place": self.settings.nearest_24h_station}
        self._reason = "visit.out_of_hours_nearest" if self.settings.nearest_24h_station \
            else "visit.out_of_hours"
        self._end_until = self._clock() + self.settings.end_screen_s
        log.info("visit refused at start matter=%s reason=out_of_hours", code)
        return True

    def _explain_alternatives(self, why: str) -> None:
        """A step this applicant cannot do here (no ID card to read, no consent): end the visit
        on a screen that says what they can do instead, tonight included: the nearest 24-hour
        station, what to bring, and the matter's consultation phone. It stays up long enough
        to be read, or listened to twice (`explain_s`)."""
        matter = self.plan.matter
        lang = self._language
        bring = [self.catalog.materials[m.code].name.get(lang) for m in self.plan.materials
                 if m.required]
        place = self.settings.nearest_24h_station
        params = {"place": place, "phone": matter.phone,
                  "bring": ("、" if lang == "zh" else ", ").join(bring) or "—"}
        log.info("visit ended with alternatives matter=%s reason=%s", matter.code, why)
        key = ALTERNATIVES[why] + ("_nearest" if place else "")
        self._end_visit(key, screen="refused", params=params)
        self._end_until = self._clock() + max(self.settings.end_screen_s,
                                              self.settings.explain_s)

    def _help(self, reason: str) -> None:
        step = self._step_name()
        manifest = build_small("help_request", self._matter_code, self.state.case_number if
                               self.state else None, help={"reason": reason, "step": step})
        if self.state is not None and self.state.card is not None:
            from kiosk.visit.packet import applicant_section
            manifest["applicant"] = applicant_section(self.state, self.state.role)
        try:
            self.sink.accept(manifest, {})
        except Exception as exc:  # help must never crash; the phone number is on screen
            log.error("help request not stored error=%s", type(exc).__name__)
        self._end_visit(None, screen="help")

    def _end_visit(self, reason_key: str | None, screen: str = "attract", params=None) -> None:
        """Stop device work, leave the end screen up briefly, then wipe (see _tick)."""
        self._cancel_job.set()
        self._face_cancel.set()
        if self.plan is not None and self.state is not None and self.state.outcome == "done":
            self._case_number = self.state.case_number
            self._receipt_printed = self.state.receipt_printed
        self._drop_applicant()
        self._screen, self._reason = screen, reason_key
        self._params = params or {}
        self._end_until = self._clock() + self.settings.end_screen_s if screen != "attract" else None
        if screen == "attract":
            self._wipe(reason_key)

    def _drop_applicant(self) -> None:
        if self._service is not None:
            self._service_cancel.set()
            self._service.wipe()
            self._service = None
        if self.state is not None and self.state.card is not None \
                and self.state.card.photo_bgr is not None:
            self.state.card.photo_bgr.fill(0)
        wipe = getattr(self.devices.face, "wipe", None)
        if callable(wipe):
            wipe()
        self.plan = None
        self.state = None
        self._visit_no += 1   # any late device result now belongs to no visit
        self._job = None

    def _wipe(self, reason_key: str | None = None) -> None:
        self._drop_applicant()
        self._forget_receipt()
        self._reset_visit()
        self._reason = reason_key
        log.info("visit wiped")
        for hook in list(self._wipe_hooks):
            try:
                hook()
            except Exception:
                log.exception("wipe hook failed")

    def reprint_offered(self) -> bool:
        return self._screen == "done" and bool(self._receipt_printed) and \
            self.devices.printer is not None

    def _reprint_receipt(self) -> None:
        """Once per visit, while its end screen is up: the printer still holds the receipt
        (until the wipe). The end screen stays up while it prints."""
        if not self.reprint_offered() or self._reprint:
            return
        self._reprint = "printing"
        self._end_until = self._clock() + self.settings.end_screen_s
        visit = self._visit_no

        def run():
            try:
                self.devices.printer.reprint_last()
                self._queue.put(_ReprintResult(visit, True))
            except DeviceError as e:
                log.warning("receipt reprint failed: %s", e.reason_key)
                self._queue.put(_ReprintResult(visit, False))
        self._pool.submit(run)

    def _forget_receipt(self) -> None:
        """The printer keeps the visit's receipt (masked name, case number) for a reprint while
        the end screen is up; it goes with the visit, or the next reprint shows it to a stranger."""
        if self.devices.printer is None:
            return
        try:
            self.devices.printer.forget_last()
        except DeviceError:     # printer down: its closed driver took the receipt with it
            pass

    def _reset_visit(self) -> None:
        self.plan = None
        self.state = None
        self._job = None
        self._screen = "attract"
        self._reason = None
        self._params: dict = {}
        self._matter_code = None
        self._language = self.settings.language
        self._elder = False
        self._audio_first = False
        self._progress_key = None
        self._capture_material = None
        self._case_number = None
        self._receipt_printed = None
        self._reprint = ""
        self._end_until = None
        self._started_at = None
        self._identity_at = None
        self._accepted_at = None
        self._progress_token = ""
        self._last_touch = self._clock()
        self._alerts: tuple[str, ...] = ()
        self._service: ProgressVisit | None = None
        self._service_job = 0
        self._service_cancel = threading.Event()

    def _tick(self) -> None:
        now = self._clock()
        changed = False
        if self._idle_tasks and self.plan is None and self._service is None \
                and self._screen == "attract":
            self._run_idle_tasks()
            changed = True
        if self.plan is None and self._end_until is not None:
            alerts = ("visit.forgotten_card",) if self._card_left() else ()
            if alerts != self._alerts:
                self._alerts, changed = alerts, True
            if now >= self._end_until and not alerts:
                self._wipe()
                changed = True
        elif self._audio_first and self.plan is None and self._service is None \
                and now - self._last_touch >= self.settings.idle_s:
            log.info("audio-first mode ended: nobody started a visit")
            self._wipe()        # keypad pressed, nobody came: the next person starts afresh
            changed = True
        elif self.plan is not None or self._service is not None:
            limit = self.settings.idle_s * (2 if self._elder else 1)
            idle = now - self._last_touch
            if idle >= limit and self._job is None or idle >= limit + 30:
                log.info("visit idle timeout matter=%s step=%s", self._matter_code,
                         self._step_name())
                self._end_visit("idle.cancelled", screen="refused")
                changed = True
            elif idle >= limit - self.settings.idle_warning_s:
                changed = self._countdown() != self._published_countdown
        if changed:
            self._publish()

    def _run_idle_tasks(self) -> None:
        tasks, self._idle_tasks = self._idle_tasks, []
        for task in tasks:
            try:
                task(self)
            except Exception:
                log.exception("idle task failed")

    def _card_left(self) -> bool:
        reader = self.devices.id_card
        try:
            return bool(reader and self._screen in END_SCREENS
                        and reader.card_present())
        except DeviceError:
            return False

    def _countdown(self) -> int | None:
        if self.plan is None and self._service is None:
            return None
        limit = self.settings.idle_s * (2 if self._elder else 1)
        left = limit - (self._clock() - self._last_touch)
        return max(0, int(left + 0.999)) if left <= self.settings.idle_warning_s else None

    def _step_name(self) -> str:
        if self._service is not None:
            return self._service.screen
        return E.current_step(self.plan, self.state).value if self.plan else self._screen

    _published_countdown: int | None = None

    def _publish(self) -> None:
        self._seq += 1
        countdown = self._countdown()
        self._published_countdown = countdown
        snap = build_snapshot(self, self._seq, countdown)
        self.snapshot = snap
        for listener in list(self._listeners):
            try:
                listener(snap)
            except Exception:
                log.exception("snapshot listener failed")
