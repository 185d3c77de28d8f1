"""The steps of a visit that need hardware: card reader, camera, document camera, outbox, printer.

`DeviceSteps` runs each in the session's device worker thread (so nothing blocks the UI, and
Cancel or the idle timeout can interrupt it) and posts the result back to the session's queue
as a `DeviceResult`, stamped with the visit and the launch it answers, so a late result can
never reach the next applicant. `device_outcome()` turns a result into what the session does
next: an engine event to apply, `Waiting` (stay on the step, maybe read again) or `Refused`
(end the visit). `DeviceSteps` also says which capabilities are down now
(`unavailable_reason`) and keeps the printer's last receipt for one reprint while the end
screen is up.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Callable

from devices.interfaces import DeviceError, DeviceUnavailable, FaceEvent
from flows import engine as E
from kiosk.visit.context import VisitContext
from kiosk.visit.packet import PacketSink, build_application, build_receipt

log = logging.getLogger(__name__)

DEVICE_OF_CAPABILITY = {"id_card.read": "id_card", "face.verify": "camera",
                        "doc.capture": "scanner", "receipt.print": "printer",
                        "outbox.submit": "sink"}
DEVICE_PROMPT = {"id_card": "device.id_card", "camera": "device.face", "scanner": "device.doc",
                 "printer": "device.printer", "sink": "device.outbox"}
READ_SLICE_S = 0.25     # a card read looks whether its visit is still on this often (seconds)
DEVICE_STEPS = (E.Step.ID_CARD, E.Step.FACE, E.Step.SUBMIT, E.Step.RECEIPT)  # launched on entry


@dataclass(frozen=True)
class DeviceResult:
    visit: int
    step: E.Step
    value: object = None
    error: BaseException | None = None
    job: int = 0                # which launch this answers; a result of an abandoned job is dropped


@dataclass(frozen=True)
class FaceGuidance:
    """The camera's advice to the applicant during a face check ("move closer")."""
    visit: int
    prompt_key: str


@dataclass(frozen=True)
class ReprintResult:
    visit: int
    ok: bool


@dataclass(frozen=True)
class Waiting:
    """Stay on the step with this prompt; `again`: start the device step once more."""
    reason_key: str | None
    again: bool = False


@dataclass(frozen=True)
class Refused:
    """End the visit on the refused screen with this prompt."""
    reason_key: str
    params: dict = field(default_factory=dict)


class _AnySet:
    """Set when any of `events` is (what a reader's `cancel` looks at)."""

    def __init__(self, events):
        self._events = tuple(events)

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


class DeviceSteps:
    """The device jobs of one terminal's session (see the module doc). `post(item)` puts an
    item on the session's queue; `pool` is its one device worker."""

    def __init__(self, devices, sink: PacketSink, health: Callable[[str], str | None],
                 clock: Callable[[], float], now: Callable[[], dt.datetime],
                 post: Callable[[object], None], pool: Executor):
        """`clock`: the session's monotonic clock; `now`: its local wall clock."""
        self.devices, self.sink = devices, sink
        self._health, self._clock, self._now = health, clock, now
        self._post, self._pool = post, pool
        self.cancel = threading.Event()         # the visit ended: every job stops
        self.face_cancel = threading.Event()    # per face job: the applicant may opt out mid-way
        self.job_no = 0

    def unavailable_reason(self, capability: str) -> str | None:
        device = DEVICE_OF_CAPABILITY[capability]
        if device == "sink":
            return None if self.sink.has_room() else "device.outbox"
        if device == "camera" and (self.devices.camera is None or self.devices.face is None):
            return DEVICE_PROMPT[device]
        if device != "camera" and getattr(self.devices, device) is None:
            return DEVICE_PROMPT[device]
        return DEVICE_PROMPT[device] if self._health(device) else None

    def stop(self) -> None:
        """Interrupt whatever runs: the visit is over."""
        self.cancel.set()
        self.face_cancel.set()

    def new_visit(self) -> threading.Event:
        """The 'visit ended' event of the visit now running. After `stop()` a fresh one: a job
        of the ended visit still running keeps its own, set, event and stops (were the one
        event cleared, that job would go on, e.g. read the next applicant's card)."""
        if self.cancel.is_set():
            self.cancel = threading.Event()
        return self.cancel

    def abandon_face(self) -> None:
        """The applicant opts out while the camera runs: stop it (within a frame) and forget
        its result."""
        self.face_cancel.set()
        self.job_no += 1

    # -- launching ----------------------------------------------------------------------------
    def launch(self, step: E.Step, ctx: VisitContext, visit: int, catalog, settings) -> Future:
        """Start `step` for `ctx` in the worker; its DeviceResult comes back through `post`."""
        visit_over = self.new_visit()
        self.job_no += 1
        job = self.job_no
        if step is E.Step.FACE:
            self.face_cancel = threading.Event()
        face_over = self.face_cancel        # the events of this job, bound now
        work = {E.Step.ID_CARD: lambda: self.read_card_until(settings.card_read_s, visit_over),
                E.Step.FACE: lambda: self._face(ctx, visit, settings, face_over),
                E.Step.MATERIALS: lambda: self._capture(ctx, visit_over),
                E.Step.SUBMIT: lambda: self._submit(ctx, visit, catalog, settings),
                E.Step.RECEIPT: lambda: self._receipt(ctx, visit, catalog, settings)}[step]

        def run():
            try:
                value = work()
                self._post(DeviceResult(visit, step, value, job=job))
            except BaseException as exc:  # delivered to the actor, which decides
                self._post(DeviceResult(visit, step, error=exc, job=job))
        return self._pool.submit(run)

    def read_card_until(self, card_read_s: float, *stop: threading.Event):
        """A card within card_read_s, or None, also as soon as one of the `stop` events is set
        (the visit ended, the citizen left): the reader is asked in slices of READ_SLICE_S."""
        deadline = self._clock() + card_read_s
        over = _AnySet(stop)
        while not over.is_set() and self._clock() < deadline:
            card = self.devices.id_card.read_card(timeout=READ_SLICE_S, cancel=over)
            if card is not None:
                return card
        return None

    def _face(self, ctx, visit, settings, cancel: threading.Event):
        card = ctx.state.card
        if card is None or card.photo_bgr is None:
            raise DeviceError("card photo not decoded", "face.no_card_photo")

        def on_event(ev: FaceEvent):
            self._post(FaceGuidance(visit, ev.prompt_key))
        return self.devices.face.verify(card.photo_bgr, self.devices.camera, on_event,
                                        timeout=settings.face_s, cancel=cancel)

    def _capture(self, ctx, visit_over: threading.Event):
        return ctx.capture_material, self.devices.scanner.capture_page(cancel=visit_over)

    def _submit(self, ctx, visit, catalog, settings):
        manifest, files = build_application(catalog, ctx.plan, ctx.state, ctx.started_at,
                                            ctx.identity_at, self._now().astimezone())
        return self.sink.accept(manifest, files)

    def _receipt(self, ctx, visit, catalog, settings):
        receipt = build_receipt(ctx.plan, ctx.state, catalog, settings.site_name,
                                settings.terminal_id, settings.phone,
                                settings.progress_base_url, ctx.accepted_at, ctx.progress_token)
        return self.devices.printer.print_receipt(receipt)

    # -- the printer's last receipt -----------------------------------------------------------
    def reprint(self, visit: int) -> None:
        """Print the visit's receipt once more; a ReprintResult comes back through `post`."""
        def run():
            try:
                self.devices.printer.reprint_last()
                self._post(ReprintResult(visit, True))
            except DeviceError as e:
                log.warning("receipt reprint failed: %s", e.reason_key)
                self._post(ReprintResult(visit, False))
        self._pool.submit(run)

    def forget_receipt(self) -> None:
        """The printer keeps the visit's receipt (masked name, case number) for a reprint while
        the end screen is up; it goes with the visit, or the next reprint shows it to a stranger."""
        if self.devices.printer is None:
            return
        try:
            self.devices.printer.forget_last()
        except DeviceError:     # printer down: its closed driver took the receipt with it
            pass

    def card_left(self) -> bool:
        """The ID card is still on the reader (asked only while an end screen is up)."""
        reader = self.devices.id_card
        try:
            return bool(reader and reader.card_present())
        except DeviceError:
            return False


# -- results: what a device step's result means, by step ----------------------------------------
def device_outcome(ctx: VisitContext, r: DeviceResult, today):
    """What the result `r` of the current step means: an engine event, Waiting or Refused.
    A submission's acceptance time and progress token go into `ctx` for the receipt."""
    err = r.error
    if err is not None and not isinstance(err, DeviceError):
        # a driver failed in a way it does not know: treat the device as unavailable for
        # this visit rather than try it again at once (which could loop without end)
        log.error("device step failed step=%s error=%s", r.step.value, type(err).__name__)
        err = DeviceUnavailable(type(err).__name__, "device.failed")
    return _OUTCOMES[r.step](ctx, r.value, err, today)


def _card_read(ctx, card, err, today):
    if err is None and card is not None:
        return E.CardRead(card, today)
    if isinstance(err, DeviceUnavailable):
        return Refused("visit.capability_missing", {"device": "device.id_card"})
    return Waiting(err.reason_key if err else "id_card.waiting", again=True)


def _face_checked(ctx, result, err, today):
    if err is not None:
        return E.FaceFailed(err.reason_key, retry_possible=err.reason_key != "face.no_card_photo")
    return E.FaceAttempt(result)


def _page_captured(ctx, value, err, today):
    if err is not None:
        return Waiting(err.reason_key)
    material, page = value
    if page.accepted:
        return E.PageCaptured(material, page.jpeg)
    return E.PageRejected(material, page.reason_key or "doc.rejected")


def _submitted(ctx, accepted, err, today):
    if err is not None:
        log.error("submission failed reason=%s", err.reason_key)
        return Refused(getattr(err, "reason_key", "device.failed"))
    ctx.accepted_at = accepted.accepted_at
    ctx.progress_token = getattr(accepted, "progress_token", "")   # for the QR code
    log.info("submitted matter=%s packet=%s", ctx.plan.matter.code, accepted.packet_id)
    return E.Submitted(accepted.packet_id, accepted.case_number)


def _receipt_printed(ctx, value, err, today):
    if err is not None:
        log.warning("receipt not printed reason=%s", err.reason_key)
    return E.ReceiptDone(err is None, err.reason_key if err else None)


_OUTCOMES = {E.Step.ID_CARD: _card_read, E.Step.FACE: _face_checked,
             E.Step.MATERIALS: _page_captured, E.Step.SUBMIT: _submitted,
             E.Step.RECEIPT: _receipt_printed}
