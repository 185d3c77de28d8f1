"""Tell systemd how the kiosk is doing: sd_notify(3) in pure Python, and a main-loop watchdog.

`Notifier` sends datagrams to $NOTIFY_SOCKET (a path, or `@name` in the abstract namespace);
without it (started by hand, in tests, in the demo) every call is a no-op. The units in
`systemd/` are `Type=notify` with `WatchdogSec=`: READY=1 ends the start-up, WATCHDOG=1 must
then come at least every WatchdogSec, STOPPING=1 announces a clean exit.

`MainLoopWatchdog` keeps the promise honest. Pinging from a timer thread alone would prove only
that the process exists; a frozen touchscreen would still be "healthy". Instead the main loop
calls `tick()` (the Kivy Clock, or each round of the uploader) and a background thread sends
WATCHDOG=1 every WATCHDOG_USEC/2 only while the last tick is fresh. When the loop has not ticked
for longer than the stall limit the thread reports `STATUS=... stalled for N s` and
`WATCHDOG=trigger`, so systemd restarts the service at once instead of waiting out the
timeout, and stops pinging. Nothing personal is ever sent: only states and durations.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Callable, Mapping

log = logging.getLogger(__name__)


def watchdog_period(environ: Mapping[str, str] | None = None,
                    pid: int | None = None) -> float | None:
    """WatchdogSec in seconds when systemd expects pings from this process, else None.

    Reads WATCHDOG_USEC; honours WATCHDOG_PID (set: the pings are expected from that pid only).
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    watchdog_pid = env.get("WATCHDOG_PID", "")
    if watchdog_pid:
        try:
            if int(watchdog_pid) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 1_000_000


class Notifier:
    """An sd_notify client. `address` defaults to $NOTIFY_SOCKET; None or empty: no-op."""

    def __init__(self, address: str | None = None):
        if address is None:
            address = os.environ.get("NOTIFY_SOCKET", "")
        self.address = address or ""
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        if self.address and not self.address.startswith(("/", "@")):
            log.warning("NOTIFY_SOCKET kind not supported, notifications off address_kind=%s",
                        self.address.split(":", 1)[0][:10])
            self.address = ""

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def _target(self) -> str:
        # '@name' is Linux's abstract namespace: a leading NUL byte on the wire.
        return "\0" + self.address[1:] if self.address.startswith("@") else self.address

    def notify(self, *fields: str) -> bool:
        """Send one datagram of `KEY=value` lines; False when off or not delivered."""
        if not self.enabled:
            return False
        message = "\n".join(fields).encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX,
                                               socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(message, self._target())
                return True
            except OSError as exc:
                log.warning("sd_notify not delivered error=%s", type(exc).__name__)
                return False

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


class MainLoopWatchdog:
    """Ping systemd's watchdog only while a main loop keeps calling `tick()`.

    `period_s` is WatchdogSec (default: from WATCHDOG_USEC/WATCHDOG_PID); pings go every
    period/2. `stall_s` is how long the loop may go without a tick before it is reported stalled
    (default: period/2, so the restart comes well before systemd's own timeout). Nothing is
    sent before the first tick: start-up is guarded by the unit's TimeoutStartSec, and
    systemd arms the watchdog only after READY=1.
    """

    def __init__(self, notifier: Notifier, name: str = "main loop", period_s: float | None = None,
                 stall_s: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.notifier = notifier
        self.name = name
        self.period_s = watchdog_period() if period_s is None else period_s
        self.ping_every_s = self.period_s / 2 if self.period_s else None
        self.stall_s = stall_s if stall_s is not None else self.ping_every_s
        self.clock = clock
        self.stalled_for: float | None = None      # set once a stall was reported
        self.pings = 0
        self._last_tick: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.notifier.enabled and bool(self.ping_every_s) and bool(self.stall_s)

    def tick(self) -> None:
        """Called from the main loop: it is alive."""
        self._last_tick = self.clock()

    def start(self) -> "MainLoopWatchdog":
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
            self._thread.start()
            log.info("watchdog started loop=%s ping_every_s=%.1f stall_s=%.1f", self.name,
                     self.ping_every_s, self.stall_s)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        check_every = max(min(self.ping_every_s, self.stall_s) / 4, 0.01)
        last_ping = float("-inf")
        while not self._stop.wait(check_every):
            last = self._last_tick
            if last is None:
                continue
            now = self.clock()
            age = now - last
            if age > self.stall_s:
                self.stalled_for = age
                log.error("main loop stalled loop=%s seconds=%.0f", self.name, age)
                self.notifier.notify(f"STATUS={self.name} stalled for {age:.0f} s",
                                     "WATCHDOG=trigger")
                return                      # no more pings: systemd restarts the service
            if now - last_ping >= self.ping_every_s:
                if self.notifier.watchdog():
                    self.pings += 1
                last_ping = now


class ReadyOnce:
    """A listener that sends READY=1 the first time `when(*args)` is true (e.g. the attract
    screen drawn), so `systemctl start` returns only once the terminal can serve."""

    def __init__(self, notifier: Notifier, when: Callable[..., bool], status: str = "serving"):
        self.notifier, self.when, self.status = notifier, when, status
        self.sent = False

    def __call__(self, *args) -> None:
        if not self.sent and self.when(*args):
            self.sent = True
            self.notifier.ready(self.status)
            log.info("ready notified status=%s", self.status)
