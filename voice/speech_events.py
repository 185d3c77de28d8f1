"""What the `Speaker` reports and hands back: speech events, its counters, a prewarm job."""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from voice.utterance import Utterance


@dataclass(frozen=True)
class SpeechEvent:
    kind: str                       # "started" | "finished" | "interrupted" | "error"
    utterance: Utterance
    latency_s: float | None = None  # say() -> first audio byte handed to the player
    reason_key: str | None = None   # for "error"


@dataclass
class SpeakerStats:
    synth_calls: int = 0
    cache_hits: int = 0
    started: int = 0
    finished: int = 0
    interrupted: int = 0
    errors: int = 0
    latencies_s: deque = field(default_factory=lambda: deque(maxlen=500))


class PrewarmJob:
    """Background synthesis of fixed prompts into the cache; `wait()` for it, `cancel()` it."""

    def __init__(self, items: list[tuple[str, str, int]]):
        self.items = items
        self.synthesized = 0
        self.already_cached = 0
        self.failed = 0
        self._cancel = threading.Event()
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        if self.thread:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True
