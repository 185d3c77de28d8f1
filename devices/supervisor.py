"""Keep each device alive: an availability flag, reopen with backoff, one log line per change.

A `DeviceSupervisor` owns one configured device URL. It opens the device (through the registry),
hands out a proxy with the device's own interface, and watches it: a call that raises
`DeviceUnavailable`, or a failed periodic probe, marks the device down, closes it, and a
background thread reopens it with exponential backoff and jitter. Exactly one log line is
written when a device fails and one when it recovers, and listeners get a `HealthChange`.
The kiosk asks `fault` to decide which matters to close (see kiosk/visit/session.py).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable

from devices.interfaces import DeviceError, DeviceUnavailable
from devices.printer.condition import condition_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthChange:
    kind: str
    available: bool
    fault: str | None          # reason key, e.g. "printer.paper_out", "device.unavailable"
    maintenance: str | None = None   # e.g. "printer.paper_near_end": works, but needs a visit


def default_probe(kind: str):
    """A cheap health check per kind: returns (fault, maintenance) reason keys or Nones."""
    def probe_printer(dev):
        return condition_of(dev.status())

    def probe_none(dev):
        return None, None
    return {"printer": probe_printer}.get(kind, probe_none)


# Methods a device promises are safe alongside any other call (they only look, e.g. the
# document camera's live preview during a capture, or do not talk to the device at all, e.g.
# the printer forgetting its kept receipt at a wipe, which must not wait for a job to finish);
# everything else talks to the device alone.
CONCURRENT_SAFE = frozenset({"preview", "forget_last"})


class DeviceSupervisor:
    def __init__(self, kind: str, url: str, opener: Callable[[str], object],
                 probe: Callable[[object], tuple] | None = None, probe_every_s: float = 30.0,
                 backoff_s: tuple[float, float] = (1.0, 60.0),
                 clock: Callable[[], float] = time.monotonic):
        self.kind = kind
        self.url = url
        self._opener = opener
        self._probe = probe or default_probe(kind)
        self._probe_every = probe_every_s
        self._backoff_min, self._backoff_max = backoff_s
        self._clock = clock
        self._lock = threading.RLock()
        # One conversation with the device at a time: a health probe must never interleave its
        # status request with a job in progress (it would steal the job's replies).
        self._io_lock = threading.Lock()
        self._device = None
        self._fault: str | None = "device.unavailable"
        self._maintenance: str | None = None
        self._delay = self._backoff_min
        self._next_try = 0.0
        self._next_probe = 0.0
        self._listeners: list[Callable[[HealthChange], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.proxy = _Proxy(self)

    # -- state ---------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._fault is None

    @property
    def fault(self) -> str | None:
        return self._fault

    @property
    def maintenance(self) -> str | None:
        return self._maintenance

    def subscribe(self, listener: Callable[[HealthChange], None]) -> None:
        self._listeners.append(listener)

    def _set(self, fault: str | None, maintenance: str | None = None) -> None:
        with self._lock:
            if fault == self._fault and maintenance == self._maintenance:
                return
            was = self._fault
            self._fault, self._maintenance = fault, maintenance
        if fault and not was:
            log.warning("device down kind=%s fault=%s", self.kind, fault)
        elif was and not fault:
            log.info("device up kind=%s", self.kind)
        elif maintenance:
            log.warning("device needs maintenance kind=%s reason=%s", self.kind, maintenance)
        change = HealthChange(self.kind, fault is None, fault, maintenance)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("health listener failed kind=%s", self.kind)

    # -- lifecycle -----------------------------------------------------------------------------
    def open_now(self) -> bool:
        """Try to open (or re-probe) the device once; True if it is available afterwards."""
        with self._lock:
            if self._device is None:
                try:
                    self._device = self._opener(self.url)
                except DeviceError as exc:
                    self._schedule_retry()
                    self._set(exc.reason_key if isinstance(exc, DeviceUnavailable)
                              else "device.unavailable")
                    return False
                except OSError:
                    self._schedule_retry()
                    self._set("device.unavailable")
                    return False
            self._delay = self._backoff_min
        self.probe_now()
        return self.available

    def probe_now(self) -> None:
        with self._lock:
            dev = self._device
        if dev is None:
            return
        self._next_probe = self._clock() + self._probe_every
        if not self._io_lock.acquire(blocking=False):
            return          # a call is talking to the device right now; it reports its own faults
        try:
            fault, maintenance = self._probe(dev)
        except DeviceUnavailable as exc:
            self.mark_down(exc.reason_key)
            return
        except (DeviceError, OSError) as exc:
            fault, maintenance = getattr(exc, "reason_key", "device.failed"), None
        finally:
            self._io_lock.release()
        self._set(fault, maintenance)

    def mark_down(self, reason_key: str = "device.unavailable") -> None:
        with self._lock:
            dev, self._device = self._device, None
            self._schedule_retry()
        if dev is not None:
            try:
                dev.close()
            except Exception:  # closing a dead device may fail; it is gone either way
                pass
        self._set(reason_key)

    def _schedule_retry(self) -> None:
        self._next_try = self._clock() + self._delay * random.uniform(0.8, 1.2)
        self._delay = min(self._delay * 2, self._backoff_max)

    def start(self, tick_s: float = 0.5) -> "DeviceSupervisor":
        self.open_now()
        self._thread = threading.Thread(target=self._run, args=(tick_s,),
                                        name=f"supervise-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def _run(self, tick_s: float) -> None:
        while not self._stop.wait(tick_s):
            now = self._clock()
            if self._device is None and now >= self._next_try:
                self.open_now()
            elif self._device is not None and now >= self._next_probe:
                self.probe_now()

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        with self._lock:
            dev, self._device = self._device, None
        if dev is not None:
            dev.close()

    def call(self, name: str, *args, **kwargs):
        with self._lock:
            dev = self._device
        if dev is None:
            raise DeviceUnavailable(f"{self.kind} is not available", self._fault or
                                    "device.unavailable")
        try:
            if name in CONCURRENT_SAFE:
                return getattr(dev, name)(*args, **kwargs)
            with self._io_lock:
                return getattr(dev, name)(*args, **kwargs)
        except DeviceUnavailable as exc:
            self.mark_down(exc.reason_key)
            raise


class _Proxy:
    """Stands in for the device: same methods, routed through the supervisor."""

    def __init__(self, supervisor: DeviceSupervisor):
        self._supervisor = supervisor

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            return self._supervisor.call(name, *args, **kwargs)
        return call

    @property
    def last_frame_time(self) -> float | None:
        """A camera's capture time of the frame it returned last (devices/interfaces.py
        FrameSource), passed through so the face check times blinks by it; None otherwise."""
        value = getattr(self._supervisor._device, "last_frame_time", None)
        return value if isinstance(value, (int, float)) else None

    def close(self) -> None:  # the supervisor owns the device's lifetime
        pass
