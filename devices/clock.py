"""The time a terminal runs on: real time, or real time sped up for a soak.

Everything that waits or times out in a visit (the session's idle and end-screen timers, the
emulators' delays) reads a clock and sleeps through it rather than calling `time` directly, so a
soak (`benchmarks/soak.py`) can run the very same code with the waiting shrunk:

    clock = ScaledClock(20)      # 20 s of the terminal's time pass in every real second
    clock.monotonic()            # seconds; a 300 s idle timeout fires after 15 real seconds
    clock.sleep(2.0)             # returns after 0.1 real seconds

The reading is the system's monotonic clock times the scale, with no per-process origin, so
every process on the machine that uses the same scale agrees on the time. `REAL_TIME` is
scale 1: what a terminal in service uses. Only waiting shrinks; work takes as long as it takes.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ScaledClock:
    """Monotonic seconds running `scale` times faster than real time (see the module doc)."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError("a clock's scale must be positive")

    def monotonic(self) -> float:
        return time.monotonic() * self.scale

    def __call__(self) -> float:
        """A clock is also a `Callable[[], float]`, which is what most code takes."""
        return self.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """`event.wait` for `seconds` of this clock's time; True when the event was set."""
        return event.wait(max(seconds, 0.0) / self.scale)

    def real_seconds(self, seconds: float) -> float:
        """How long `seconds` of this clock's time last in real time."""
        return seconds / self.scale


REAL_TIME = ScaledClock(1.0)
