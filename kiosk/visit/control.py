"""What happens to the visit: the session actor's hands (kiosk/visit/session.py).

`VisitControl` holds the current `VisitContext` and changes it, always in the session's thread:
it starts an application or a returning citizen's service (or refuses one: a matter not
offered, a device down, outside opening hours), turns an applicant's intent into an engine
event (a table of intent type -> event, and handlers for the intents a step decides about),
launches the device step a new step needs (kiosk/visit/steps.py), takes device and service
results, ends a visit on its end screen and wipes it by dropping the context for a fresh one.
The session owns the thread, the queue, the timers and the snapshots; the methods that take a
worker's message return whether the visit changed, so the session knows to publish.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Callable

from flows import engine as E
from flows.catalog import Catalog
from kiosk.visit import intents as I
from kiosk.visit.cases import CaseLookup
from kiosk.visit.context import VisitContext
from kiosk.visit.packet import PacketSink
from kiosk.visit.refusals import ALTERNATIVES, alternatives, out_of_hours
from kiosk.visit.service import ServiceJobs, ServiceResult, start_service
from kiosk.visit.small_packets import store_evaluation, store_help_request
from kiosk.visit.steps import (DEVICE_OF_CAPABILITY, DEVICE_STEPS, DeviceResult, DeviceSteps,
                               FaceGuidance, Refused, ReprintResult, Waiting, device_outcome)

log = logging.getLogger(__name__)

END_SCREENS = ("done", "refused", "help", "supplement_done")   # shown briefly, then wiped
ENGINE_EVENTS = {                                # intents that are one engine event each
    I.Back: lambda i: E.Back(), I.Next: lambda i: E.Next(),
    I.Agree: lambda i: E.Consent(i.accepted), I.ChooseRole: lambda i: E.RoleChosen(i.role),
    I.EnterField: lambda i: E.FormValue(i.key, i.value),
    I.MarkMissing: lambda i: E.MaterialMissing(i.material),
    I.Retake: lambda i: E.RetakeMaterial(i.material), I.Sign: lambda i: E.Signed(i.png),
    I.Rate: lambda i: E.Evaluated(i.level, i.comment)}
_HANDLED = object()                              # a step intent done without an engine event


class VisitControl:
    """The current visit and what changes it (see the module doc)."""

    def __init__(self, catalog: Catalog, devices, sink: PacketSink, settings, steps: DeviceSteps,
                 service_jobs: ServiceJobs, progress: CaseLookup | None,
                 clock: Callable[[], float], now: Callable[[], dt.datetime],
                 today: Callable[[], dt.date], stopped: Callable[[], bool],
                 on_wiped: Callable[[], None]):
        self.catalog, self.devices, self.sink, self.settings = catalog, devices, sink, settings
        self.steps, self._service_jobs = steps, service_jobs
        self.progress_client = progress   # the back office's progress API: 办件查询 and 补件
        self._clock, self._now, self._today = clock, now, today
        self._stopped, self._on_wiped = stopped, on_wiped
        self.plans = self._plan_all(catalog)
        self.visit_no = 0                 # a device result of another visit is dropped
        self.visit = self._new_visit()
        self._step_intents = {I.ConfirmByKeypad: self._confirm_by_keypad,
                              I.NoIdCard: self._no_id_card, I.DeclineFace: self._decline_face,
                              I.RetryFace: self._retry_face, I.CapturePage: self._capture_page}

    def _new_visit(self) -> VisitContext:
        return VisitContext(language=self.settings.language, last_touch=self._clock())

    def _plan_all(self, catalog: Catalog) -> dict[str, E.VisitPlan]:
        limit = self.settings.max_face_attempts
        return {code: E.plan_visit(catalog, m, max_face_attempts=limit)
                for code, m in catalog.matters.items()}

    def replace_catalog(self, catalog: Catalog) -> None:
        self.plans = self._plan_all(catalog)
        self.catalog = catalog

    def closed_matters(self) -> tuple[tuple[str, str], ...]:
        """Offered matters that cannot start now, with the prompt saying which device is down."""
        out = []
        down = {c: self.steps.unavailable_reason(c) for c in DEVICE_OF_CAPABILITY}
        for code, plan in self.plans.items():
            if not self.settings.enabled(code):
                continue
            for cap in sorted(plan.capabilities):
                if down[cap]:
                    out.append((code, down[cap]))
                    break
        return tuple(out)

    def reprint_offered(self) -> bool:
        return self.visit.screen == "done" and bool(self.visit.receipt_printed) and \
            self.devices.printer is not None

    def wipe_end_screen(self, item=None) -> None:
        if self.visit.screen in END_SCREENS:
            self.wipe()

    # -- messages from the worker --------------------------------------------------------------
    def on_device_result(self, r: DeviceResult) -> bool:
        ctx = self.visit
        if r.visit != self.visit_no or ctx.plan is None or r.job != self.steps.job_no:
            return False
        ctx.job = None
        step = E.current_step(ctx.plan, ctx.state)
        if r.step is step:
            outcome = device_outcome(ctx, r, self._today())
            if isinstance(outcome, Refused):
                self.end_visit(outcome.reason_key, screen="refused", params=outcome.params)
            elif isinstance(outcome, Waiting):
                ctx.state = dataclasses.replace(ctx.state, reason_key=outcome.reason_key)
                if outcome.again and not self._stopped():
                    self._launch(step)
            else:
                self._apply(outcome)
        return True

    def on_face_guidance(self, item: FaceGuidance) -> bool:
        if item.visit == self.visit_no:
            self.visit.face_guidance = item.prompt_key
            return True
        return False

    def on_reprint_result(self, item: ReprintResult) -> bool:
        if item.visit == self.visit_no and self.visit.reprint == "printing":
            self.visit.reprint = "printed" if item.ok else "failed"
            return True
        return False

    # -- an application ------------------------------------------------------------------------
    def visit_intent(self, item) -> None:
        ctx = self.visit
        step = E.current_step(ctx.plan, ctx.state)
        if type(item) in self._step_intents:
            event = self._step_intents[type(item)](item, step)
        else:
            make = ENGINE_EVENTS.get(type(item))
            event = make(item) if make else None
        if event is _HANDLED:
            return
        if event is None:
            log.info("intent ignored intent=%s step=%s", type(item).__name__, step.value)
            return
        case_number = ctx.state.case_number
        try:
            self._apply(event)
        except E.EventNotAllowed as exc:
            log.warning("event not allowed: %s", exc)
            return
        if isinstance(event, E.Evaluated) and event.level is not None and case_number:
            store_evaluation(self.sink, ctx.matter_code, case_number, event.level, event.comment)

    def _confirm_by_keypad(self, item, step):
        return E.ConfirmedByKeypad() if self.visit.audio_first else None

    def _no_id_card(self, item, step):
        if step is not E.Step.ID_CARD:
            return None
        self._explain_alternatives("id_card.none")
        return _HANDLED

    def _decline_face(self, item, step):
        if step is not E.Step.FACE:
            return None
        if self.visit.job is not None:      # the applicant opts out while the camera runs
            self.steps.abandon_face()
            self.visit.job = None
        return E.FaceDeclined()

    def _retry_face(self, item, step):
        ctx = self.visit
        if step is not E.Step.FACE or ctx.job is not None:
            return None
        if ctx.state.face_attempts < ctx.plan.max_face_attempts:
            self._launch(step)
        return _HANDLED

    def _capture_page(self, item: I.CapturePage, step):
        if step is not E.Step.MATERIALS or self.visit.job is not None:
            return None
        self.visit.capture_material = item.material
        self._launch(step)
        return _HANDLED

    def _apply(self, event) -> None:
        ctx = self.visit
        before = E.current_step(ctx.plan, ctx.state)
        ctx.state = state = E.advance(ctx.plan, ctx.state, event)
        after = E.current_step(ctx.plan, state)
        if before is not after:
            ctx.face_guidance = None
            log.info("visit step matter=%s step=%s", ctx.plan.matter.code, after.value)
            if before is E.Step.ID_CARD:
                ctx.identity_at = self._now().astimezone()
        if state.outcome == "refused":
            log.info("visit refused matter=%s reason=%s", ctx.plan.matter.code, state.reason_key)
            if state.reason_key in ALTERNATIVES:
                self._explain_alternatives(state.reason_key)
            else:
                self.end_visit(state.reason_key, screen="refused")
        elif state.outcome == "done":
            self.end_visit(None, screen="done")
        elif after in DEVICE_STEPS and before is not after:
            self._launch(after)

    def _launch(self, step: E.Step) -> None:
        ctx = self.visit
        if ctx.job is None:
            ctx.job = self.steps.launch(step, ctx, self.visit_no, self.catalog, self.settings)

    # -- 办件查询 / 补件: a citizen back about an earlier case (kiosk/visit/service.py) ------------
    def start_progress(self) -> None:
        if self.visit.active:
            return
        self._finish_end_screen()
        if self._refused_out_of_hours(None):
            return
        self.visit_no += 1
        self.steps.new_visit()
        ctx = self.visit
        ctx.matter_code, ctx.last_touch = None, self._clock()
        ctx.service = start_service(self.catalog, self.steps, self.settings,
                                    self.progress_client, lambda: self._now().astimezone())
        log.info("progress service started visit=%d", self.visit_no)

    def service_intent(self, item) -> None:
        ctx = self.visit
        job = ctx.service.on_intent(item)
        if ctx.service.busy is None:
            ctx.service_cancel.set()        # the citizen left a card read or query behind
        self._service_jobs.launch(ctx, self.visit_no, job)

    def on_service_result(self, r: ServiceResult) -> bool:
        ctx = self.visit
        if not self._service_jobs.is_current(ctx, self.visit_no, r):
            return False
        if r.error is not None:
            log.warning("progress job failed job=%s error=%s", r.name, type(r.error).__name__)
        service = ctx.service
        job = service.on_result(r.name, r.value, r.error)
        if service.screen == "supplement_done":
            ctx.case_number, ctx.receipt_printed = service.accepted.case_number, service.printed
            log.info("supplement submitted packet=%s receipt=%s", service.accepted.packet_id,
                     service.printed)
            self.end_visit(None if service.printed else "supplement.receipt_not_printed",
                           screen="supplement_done")
        else:
            self._service_jobs.launch(ctx, self.visit_no, job)
        return True

    # -- visit lifecycle -----------------------------------------------------------------------
    def _finish_end_screen(self) -> None:
        """Someone starts something new while the last visit's end screen is still up: that
        screen is over now, or its timer would wipe the new visit when it runs out."""
        if not self.visit.active and self.visit.end_until is not None:
            self.wipe()

    def start_visit(self, code: str) -> None:
        if self.visit.plan is not None:
            return
        self._finish_end_screen()
        ctx = self.visit
        matter = self.catalog.matters.get(code)
        if matter is None or not self.settings.enabled(code):
            ctx.screen, ctx.reason = "attract", "visit.not_offered"
            return
        if self._refused_out_of_hours(code):
            return
        plan = self.plans[code]
        for cap in sorted(plan.capabilities):
            why = self.steps.unavailable_reason(cap)
            if why:
                ctx.screen, ctx.reason = "refused", "visit.capability_missing"
                ctx.params, ctx.matter_code = {"device": why}, code
                log.info("visit refused at start matter=%s capability=%s", code, cap)
                return
        self.visit_no += 1
        ctx.plan, ctx.state, ctx.matter_code = plan, E.VisitState(), code
        ctx.started_at = self._now().astimezone()
        ctx.last_touch = self._clock()
        log.info("visit started matter=%s visit=%d", code, self.visit_no)

    def _refused_out_of_hours(self, code: str | None) -> bool:
        """Outside opening hours no visit starts (one already running may finish)."""
        refusal = out_of_hours(self.settings, self._now())
        if refusal is None:
            return False
        ctx = self.visit
        ctx.screen, ctx.matter_code = "refused", code
        ctx.reason, ctx.params = refusal
        ctx.end_until = self._clock() + self.settings.end_screen_s
        log.info("visit refused at start matter=%s reason=out_of_hours", code)
        return True

    def _explain_alternatives(self, why: str) -> None:
        """A step this applicant cannot do here: end the visit on a screen that says what they
        can do instead (kiosk/visit/refusals.py). It stays up long enough to be read, or
        listened to twice (`explain_s`)."""
        ctx = self.visit
        key, params = alternatives(self.catalog, ctx.plan, ctx.language, self.settings, why)
        log.info("visit ended with alternatives matter=%s reason=%s", ctx.plan.matter.code, why)
        self.end_visit(key, screen="refused", params=params)
        self.visit.end_until = self._clock() + max(self.settings.end_screen_s,
                                                   self.settings.explain_s)

    def help(self, reason: str) -> None:
        store_help_request(self.sink, self.visit, reason)
        self.end_visit(None, screen="help")

    def end_visit(self, reason_key: str | None, screen: str = "attract", params=None) -> None:
        """Stop device work, leave the end screen up briefly; the session wipes when its time
        is up (kiosk/visit/idle.py), or now for `attract`."""
        self.steps.stop()
        ctx = self.visit
        if ctx.plan is not None and ctx.state is not None and ctx.state.outcome == "done":
            ctx.case_number, ctx.receipt_printed = ctx.state.case_number, ctx.state.receipt_printed
        self._drop_applicant()
        ctx.screen, ctx.reason, ctx.params = screen, reason_key, params or {}
        ctx.end_until = self._clock() + self.settings.end_screen_s if screen != "attract" else None
        if screen == "attract":
            self.wipe(reason_key)

    def _drop_applicant(self) -> None:
        ctx = self.visit
        if ctx.service is not None:
            ctx.service_cancel.set()
            ctx.service.wipe()
            ctx.service = None
        if ctx.state is not None and ctx.state.card is not None \
                and ctx.state.card.photo_bgr is not None:
            ctx.state.card.photo_bgr.fill(0)
        wipe = getattr(self.devices.face, "wipe", None)
        if callable(wipe):
            wipe()
        ctx.plan = ctx.state = ctx.job = None
        self.visit_no += 1   # any late device result now belongs to no visit

    def wipe(self, reason_key: str | None = None) -> None:
        """Forget the visit: drop its context and start a fresh one."""
        self._drop_applicant()
        self.steps.forget_receipt()
        self.visit = self._new_visit()
        self.visit.reason = reason_key
        log.info("visit wiped")
        self._on_wiped()

    def reprint_receipt(self) -> None:
        """Once per visit, while its end screen is up: the printer still holds the receipt
        (until the wipe). The end screen stays up while it prints."""
        ctx = self.visit
        if not self.reprint_offered() or ctx.reprint:
            return
        ctx.reprint = "printing"
        ctx.end_until = self._clock() + self.settings.end_screen_s
        self.steps.reprint(self.visit_no)
