"""One kiosk's visits: the actor that takes intents, runs the visit's timers and publishes.

A `Session` is an actor with its own thread. Screens (or the headless scripted applicant)
`send()` intents; the session dispatches each through tables of intent type -> handler to its
`VisitControl` (kiosk/visit/control.py), which applies it to the pure engine in `flows.engine`
and has the steps that need hardware run in the device worker (kiosk/visit/steps.py). After
each change the session publishes an immutable `Snapshot` (kiosk/visit/snapshot.py) to every
listener. Everything about the person in front of the kiosk is one `VisitContext`
(kiosk/visit/context.py): the wipe drops it and makes a new one. The idle warning and timeout,
the end screen's time and audio-first's wait are in kiosk/visit/idle.py; the returning citizen's
办件查询/补件 in kiosk/visit/returning.py. Device results carry the visit number, so a late
result can never reach the next applicant. Every time reading goes through the injected clocks
(`clock`: monotonic, `now`: local wall clock, `today`).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from devices.interfaces import (DocumentScanner, FaceVerifier, FrameSource, IdCardReader,
                                ReceiptPrinter)
from flows import engine as E
from flows.catalog import Catalog
from kiosk.visit import idle
from kiosk.visit import intents as I
from kiosk.visit.cases import CaseLookup
from kiosk.visit.context import VisitContext
from kiosk.visit.control import END_SCREENS, VisitControl
from kiosk.visit.packet import PacketSink
from kiosk.visit.service import ServiceJobs, ServiceResult
from kiosk.visit.snapshot import build_snapshot
from kiosk.visit.steps import DeviceResult, DeviceSteps, FaceGuidance, ReprintResult

log = logging.getLogger(__name__)


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
    """What the site decides about its visits (kiosk.visit.settings makes it from the config)."""
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
class _WhenIdle:
    task: Callable[["Session"], None]


class _KeepAlive:
    """Someone uses the terminal without an intent: the idle timer starts again."""


class Session:
    """The actor of one terminal's visits (see the module doc); `start()` it, `send()` to it."""

    def __init__(self, catalog: Catalog, devices: Devices, sink: PacketSink,
                 settings: SessionSettings, health: Callable[[str], str | None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], dt.date] = dt.date.today,
                 now: Callable[[], dt.datetime] = dt.datetime.now,
                 progress: CaseLookup | None = None):
        self.devices = devices
        self.sink = sink
        self._clock = clock
        self._queue: queue.Queue = queue.Queue()
        self._listeners: list[Callable[[I.Snapshot], None]] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="device")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        steps = DeviceSteps(devices, sink, health or (lambda device: None), clock, now,
                            self._queue.put, self._pool)
        self.control = VisitControl(catalog, devices, sink, settings, steps,
                                    ServiceJobs(self._queue.put, self._pool), progress,
                                    clock=clock, now=now, today=today,
                                    stopped=self._stop.is_set, on_wiped=self._run_wipe_hooks)
        self._seq = 0
        self._idle_tasks: list[Callable[["Session"], None]] = []
        self._wipe_hooks: list[Callable[[], None]] = []
        self._handled = 0
        self._published_countdown: int | None = None
        self.snapshot: I.Snapshot | None = None
        c = self.control
        self._internal = {          # from the worker and the terminal, not from the applicant
            DeviceResult: c.on_device_result, FaceGuidance: c.on_face_guidance,
            ServiceResult: c.on_service_result, ReprintResult: c.on_reprint_result,
            _WhenIdle: lambda item: self._idle_tasks.append(item.task),
            _KeepAlive: self._on_keep_alive}
        self._anytime = {I.SetLanguage: self._set_language, I.SetElderMode: self._set_elder,
                         I.SetAudioFirst: self._set_audio_first, I.MoreTime: lambda i: None,
                         I.Repeat: lambda i: None,
                         I.StartVisit: lambda i: c.start_visit(i.matter_code),
                         I.StartProgress: lambda i: c.start_progress()}
        self._leaving = {I.Cancel: lambda i: c.end_visit("visit.cancelled"),
                         I.Help: lambda i: c.help(i.reason)}
        self._after_visit = {I.Next: c.wipe_end_screen, I.Cancel: c.wipe_end_screen,
                             I.ReprintReceipt: lambda i: c.reprint_receipt()}

    # -- what the terminal and the tests see -----------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self.control.catalog

    @property
    def settings(self) -> SessionSettings:
        return self.control.settings

    @settings.setter
    def settings(self, settings: SessionSettings) -> None:
        """A new site profile (kiosk.link.updates), between visits."""
        self.control.settings = settings

    @property
    def visit(self) -> VisitContext:
        return self.control.visit

    @property
    def plan(self) -> E.VisitPlan | None:
        return self.control.visit.plan

    @property
    def state(self) -> E.VisitState | None:
        return self.control.visit.state

    def closed_matters(self) -> tuple[tuple[str, str], ...]:
        return self.control.closed_matters()

    # -- public API ----------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[I.Snapshot], None]) -> None:
        self._listeners.append(listener)
        if self.snapshot is not None:
            listener(self.snapshot)

    def unsubscribe(self, listener: Callable[[I.Snapshot], None]) -> None:
        """Stop handing snapshots to `listener` (a no-op when it is not subscribed)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def on_wipe(self, hook: Callable[[], None]) -> None:
        """Call `hook()` in the session thread whenever a visit has been wiped, before the
        attract screen's snapshot goes out (the voice goes back to the site's rate and volume)."""
        self._wipe_hooks.append(hook)

    def send(self, intent) -> None:
        self._queue.put(intent)

    def keep_alive(self) -> None:
        """Someone is using the terminal without sending an intent (moving the keypad's focus,
        listening): the idle timeout starts again. Not counted in `handled`."""
        self._queue.put(_KeepAlive())

    def when_idle(self, task: Callable[["Session"], None]) -> None:
        """Run `task(session)` in the session thread as soon as no visit is in progress (the
        attract screen, no end screen pending). No visit can start while it runs."""
        self._queue.put(_WhenIdle(task))

    def replace_catalog(self, catalog: Catalog) -> None:
        """Use another catalogue from the next visit on; only from a `when_idle` task."""
        self.control.replace_catalog(catalog)

    def start(self) -> "Session":
        self._thread = threading.Thread(target=self._run, name="session", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.control.steps.stop()
        if self._thread:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

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
                log.exception("session error; ending visit step=%s", self.visit.step_name())
                self.control.end_visit("device.failed")

    def _handle(self, item) -> None:
        internal = self._internal.get(type(item))
        if internal is not None:
            if internal(item):
                self._publish()
            return
        ctx, c = self.control.visit, self.control
        ctx.last_touch = self._clock()
        self._handled += 1
        kind = type(item)
        if kind in self._anytime:
            self._anytime[kind](item)
        elif ctx.active and kind in self._leaving:
            self._leaving[kind](item)
        elif ctx.service is not None:
            c.service_intent(item)
        elif ctx.plan is None:
            if kind in self._after_visit:
                self._after_visit[kind](item)
        else:
            c.visit_intent(item)
        self._publish()

    def _set_language(self, item: I.SetLanguage) -> None:
        if item.language in ("zh", "en"):
            self.visit.language = item.language

    def _set_elder(self, item: I.SetElderMode) -> None:
        self.visit.elder = item.on

    def _set_audio_first(self, item: I.SetAudioFirst) -> None:
        if item.on != self.visit.audio_first:
            log.info("audio-first mode on=%s", item.on)
        self.visit.audio_first = item.on

    def _on_keep_alive(self, item: _KeepAlive) -> bool:
        self.visit.last_touch = self._clock()
        return self._countdown() != self._published_countdown    # the warning goes away

    def _run_wipe_hooks(self) -> None:
        for hook in list(self._wipe_hooks):
            try:
                hook()
            except Exception:
                log.exception("wipe hook failed")

    # -- timers and snapshots ------------------------------------------------------------------
    def _tick(self) -> None:
        ctx = self.visit
        changed = False
        if self._idle_tasks and not ctx.active and ctx.screen == "attract":
            tasks, self._idle_tasks = self._idle_tasks, []
            for task in tasks:
                try:
                    task(self)
                except Exception:
                    log.exception("idle task failed")
            changed = True
        if ctx.plan is None and ctx.end_until is not None:
            card_left = ctx.screen in END_SCREENS and self.control.steps.card_left()
            alerts = ("visit.forgotten_card",) if card_left else ()
            if alerts != ctx.alerts:
                ctx.alerts, changed = alerts, True
        due = idle.due(ctx, self.settings, self._clock())
        if due == idle.NOBODY_CAME:
            log.info("audio-first mode ended: nobody started a visit")
        if due in (idle.END_SCREEN_OVER, idle.NOBODY_CAME):
            self.control.wipe()  # keypad pressed, nobody came: the next person starts afresh
            changed = True
        elif due == idle.TIMED_OUT:
            log.info("visit idle timeout matter=%s step=%s", ctx.matter_code, ctx.step_name())
            self.control.end_visit("idle.cancelled", screen="refused")
            changed = True
        elif due == idle.WARNING:
            changed = changed or self._countdown() != self._published_countdown
        if changed:
            self._publish()

    def _countdown(self) -> int | None:
        return idle.countdown(self.visit, self.settings, self._clock())

    def _publish(self) -> None:
        self._seq += 1
        countdown = self._countdown()
        self._published_countdown = countdown
        snap = build_snapshot(self.visit, self.catalog, seq=self._seq, handled=self._handled,
                              countdown=countdown, reprint_offered=self.control.reprint_offered(),
                              closed_matters=self.control.closed_matters)
        self.snapshot = snap
        for listener in list(self._listeners):
            try:
                listener(snap)
            except Exception:
                log.exception("snapshot listener failed")
