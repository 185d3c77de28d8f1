"""One thing to say: the resolved text with the voice, rate and volume it is to be said with.

`repr` hides the text: dynamic text (`Speaker.say_text`) may carry personal data and an
utterance may end up in a log line.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, repr=False)
class Utterance:
    prompt_key: str | None   # None for dynamic text
    text: str
    language: str            # "zh" | "en"
    voice: str               # espeak-ng voice name
    rate: int                # words per minute, elder factor already applied
    volume: float            # 0..1
    cacheable: bool
    requested_at: float      # time.perf_counter() when say() was called
    generation: int = 0      # the speaker's interrupt generation it belongs to
    params: dict = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        what = self.prompt_key or "<text>"
        return f"Utterance({what}, {self.language}, rate={self.rate}, volume={self.volume:.2f})"
