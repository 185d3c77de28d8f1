"""The headphone jack: plugging headphones in starts audio-first mode for the visit.

Accessible kiosks (ADA 707, EN 301 549) have a headphone jack beside the keypad. Whether
headphones are in is known only if the sound card reports it: ALSA exposes a jack-detection
control such as `iface=CARD,name='Headphone Jack'` (`amixer -c 0 controls`); its value is on
while a plug is in. `AlsaHeadphoneJack` looks for that control once and reads it; a card
without one (most USB sound cards, the Pi's own audio) makes `plugged()` answer None for ever,
and the watcher then simply never fires. `FakeJack` is the same interface for tests.

`JackWatcher` polls a sensor in its own thread and calls `on_plugged()` when the jack goes
from out to in (not when it is already in at start: those headphones hang there unused).
"""
from __future__ import annotations

import logging
import re
import subprocess
import threading
from typing import Callable, Protocol

log = logging.getLogger(__name__)
JACK_NAME = re.compile(r"numid=(\d+),iface=CARD,name='([^']*Headphone[^']*Jack[^']*)'")
POLL_S = 1.0


class JackSensor(Protocol):
    def plugged(self) -> bool | None:
        """True while headphones are in, False while out, None if the card cannot tell."""


def card_of(audio_device: str) -> str:
    """The ALSA card of a device name ("plughw:1,0" -> "1", "hw:CARD=Headphones" ->
    "Headphones"); the default card "0" for "" or "default"."""
    m = re.match(r"^(?:plug)?hw:(?:CARD=)?([^,]+)", audio_device or "")
    return m.group(1) if m else "0"


class AlsaHeadphoneJack:
    """Reads the jack-detection control of one ALSA card through `amixer`."""

    def __init__(self, card: str = "0", run: Callable = subprocess.run):
        self.card = card
        self._run = run
        self._numid: str | None = None
        self._looked = False

    def _amixer(self, *args: str) -> str | None:
        try:
            done = self._run(["amixer", "-c", self.card, *args], capture_output=True,
                             text=True, timeout=3)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("headphone jack: amixer not usable error=%s", type(exc).__name__)
            return None
        return done.stdout if done.returncode == 0 else None

    def _control(self) -> str | None:
        if not self._looked:
            self._looked = True
            listing = self._amixer("controls") or ""
            m = JACK_NAME.search(listing)
            self._numid = m.group(1) if m else None
            log.info("headphone jack detection card=%s available=%s", self.card,
                     self._numid is not None)
        return self._numid

    def plugged(self) -> bool | None:
        numid = self._control()
        if numid is None:
            return None
        out = self._amixer("cget", f"numid={numid}")
        if out is None:
            return None
        m = re.search(r":\s*values=(on|off)", out)
        return None if m is None else m.group(1) == "on"


class FakeJack:
    """A jack for tests: set `state` to True (plugged), False or None (cannot tell)."""

    def __init__(self, state: bool | None = False):
        self.state = state

    def plugged(self) -> bool | None:
        return self.state


class JackWatcher:
    """Calls `on_plugged()` (in its own thread) each time headphones are plugged in."""

    def __init__(self, sensor: JackSensor, on_plugged: Callable[[], None],
                 poll_s: float = POLL_S):
        self.sensor, self.on_plugged, self.poll_s = sensor, on_plugged, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: bool | None = None

    def check(self) -> bool:
        """Read the sensor once; True if headphones were just plugged in (and reported)."""
        state = self.sensor.plugged()
        plugged_now = state is True and self._last is False
        if state is not None:
            self._last = state
        if plugged_now:
            log.info("headphones plugged in")
            self.on_plugged()
        return plugged_now

    def start(self) -> "JackWatcher":
        first = self.sensor.plugged()
        if first is None:
            return self        # no jack detection on this card: nothing to watch
        self._last = first
        self._thread = threading.Thread(target=self._loop, name="headphone-jack", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception:       # a sound card going away must not end the app
                log.exception("headphone jack check failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
