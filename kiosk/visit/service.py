"""The returning citizen's service mode as the session runs it (办件查询 / 补件).

`start_service` makes a `ProgressVisit` (kiosk/visit/returning.py) wired to this terminal's
card reader, document camera, printer and outbox, and the back office's `CaseLookup`.
`ServiceJobs` runs the jobs the ProgressVisit asks for in the session's device worker, one at
a time: starting a new one cancels the last, and each result comes back to the session's queue
as a `ServiceResult` stamped with its visit and job number, so a stale one is dropped.
"""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Callable

from devices.interfaces import DeviceUnavailable
from kiosk.visit.cases import CaseLookup
from kiosk.visit.context import VisitContext
from kiosk.visit.returning import Job, ProgressVisit
from kiosk.visit.steps import DeviceSteps


@dataclass(frozen=True)
class ServiceResult:
    """The result of a job of the progress/supplement service."""
    visit: int
    job: int
    name: str
    value: object = None
    error: BaseException | None = None


def start_service(catalog, steps: DeviceSteps, settings, client: CaseLookup | None,
                  now: Callable[[], dt.datetime]) -> ProgressVisit:
    """A ProgressVisit over the devices of `steps`; `now()`: the local wall clock, aware."""
    devices, sink = steps.devices, steps.sink
    visit_over = steps.cancel           # this visit's: a later visit has its own

    def read_card(cancel: threading.Event):
        if steps.unavailable_reason("id_card.read"):
            raise DeviceUnavailable("card reader unavailable", "device.id_card")
        return steps.read_card_until(settings.card_read_s, cancel, visit_over)

    def capture_unavailable():
        return steps.unavailable_reason("doc.capture") or \
            steps.unavailable_reason("outbox.submit")
    printer = None if steps.unavailable_reason("receipt.print") else \
        devices.printer.print_receipt
    return ProgressVisit(
        catalog, client, read_card=read_card,
        capture_page=lambda cancel: devices.scanner.capture_page(cancel=cancel),
        accept=sink.accept,
        capture_unavailable=capture_unavailable, print_receipt=printer,
        scan_code=lambda cancel: devices.scanner.read_code(cancel), now=now,
        receipt_context={"site_name": settings.site_name, "terminal_id": settings.terminal_id,
                         "phone": settings.phone,
                         "progress_base_url": settings.progress_base_url})


class ServiceJobs:
    """Runs a ProgressVisit's jobs in the device worker (see the module doc)."""

    def __init__(self, post: Callable[[object], None], pool: Executor):
        self._post, self._pool = post, pool

    def launch(self, ctx: VisitContext, visit: int, job: Job | None) -> None:
        if job is None:
            return
        ctx.service_cancel.set()
        cancel = ctx.service_cancel = threading.Event()
        ctx.service_job += 1
        number = ctx.service_job

        def run():
            try:
                self._post(ServiceResult(visit, number, job.name, job.run(cancel)))
            except BaseException as exc:  # delivered to the actor, which decides
                self._post(ServiceResult(visit, number, job.name, error=exc))
        self._pool.submit(run)

    @staticmethod
    def is_current(ctx: VisitContext, visit: int, r: ServiceResult) -> bool:
        return r.visit == visit and ctx.service is not None and r.job == ctx.service_job
