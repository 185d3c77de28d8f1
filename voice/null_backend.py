"""`NullBackend`: a synthesiser and player in one that makes no sound and records everything.

For tests of code that drives a `Speaker` (the UI): `Speaker(settings, synthesizer=nb,
player=nb)` says nothing, but `nb.records` lists (prompt_key, text, language, rate, volume) of
every utterance that would have been said, in order. Its "WAV" is silence about as long as the
text would take to say at that rate, so timing behaves plausibly.
"""
from __future__ import annotations

import threading
import wave
from dataclasses import dataclass
from pathlib import Path

from voice.audio import WavAudio
from voice.playback import Playback, TimedPlayback
from voice.settings import DEFAULT_VOICES
from voice.utterance import Utterance


@dataclass(frozen=True)
class SpokenRecord:
    prompt_key: str | None
    text: str
    language: str
    rate: int
    volume: float


class NullBackend:
    name = "null"
    cache_tag = "null"

    def __init__(self, realtime: bool = False, voices: frozenset[str] | None = None):
        self.realtime = realtime
        self._voices = voices if voices is not None else frozenset({"cmn", *DEFAULT_VOICES.values()})
        self.records: list[SpokenRecord] = []
        self.synth_calls = 0
        self._lock = threading.Lock()

    # Synthesizer
    def voices(self) -> frozenset[str]:
        return self._voices

    def synthesize(self, text: str, voice: str, rate: int, out_path: Path) -> None:
        with self._lock:
            self.synth_calls += 1
        seconds = max(0.2, len(text) / (rate / 60 * 5))   # ~5 characters a word
        audio = WavAudio.silence(seconds)
        with wave.open(str(out_path), "wb") as w:
            w.setnchannels(audio.channels)
            w.setsampwidth(audio.sample_width)
            w.setframerate(audio.frame_rate)
            w.writeframes(audio.frames)

    # Player
    def start(self, audio: WavAudio, utterance: Utterance) -> Playback:
        with self._lock:
            self.records.append(SpokenRecord(utterance.prompt_key, utterance.text,
                                             utterance.language, utterance.rate,
                                             utterance.volume))
        return TimedPlayback(audio.duration_s if self.realtime else 0.0)
