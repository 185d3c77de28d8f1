"""Site settings for voice guidance: rate, elder factor, volume, ALSA device, voices, cache.

`VoiceSettings.from_config(cfg.voice, cache_dir=...)` copies the `[voice]` section of the kiosk
configuration (any object with `rate`, `elder_rate_factor`, `volume`, `audio_device`), so this
package needs no import of `kiosk`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from voice.errors import VoiceError

MIN_RATE = 80     # espeak-ng's own limits, words per minute
MAX_RATE = 450
DEFAULT_VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}  # Mandarin as toned pinyin (voice.reading)
# espeak-ng's rate is words a minute, and the pinyin voice counts each syllable as a word: at the
# site rate of 170 a Mandarin prompt came out at 3.3 syllables a second, slow and halting. x1.2
# gives about 4 a second with the pauses (19-syllable ID-card prompt: 4.7 s), a clear, natural pace.
SYLLABLE_RATE_FACTOR = {"zh": 1.2, "en": 1.0}


def check_rate(words_per_min: float) -> int:
    if not isinstance(words_per_min, (int, float)) or not MIN_RATE <= words_per_min <= MAX_RATE:
        raise VoiceError(f"rate must be {MIN_RATE}..{MAX_RATE} words/min", "voice.bad_rate")
    return int(round(words_per_min))


def check_volume(volume: float) -> float:
    if not isinstance(volume, (int, float)) or not 0.0 <= volume <= 1.0:
        raise VoiceError("volume must be 0..1", "voice.bad_volume")
    return float(volume)


@dataclass(frozen=True)
class VoiceSettings:
    rate: int = 170                  # words per minute at the start of every visit
    elder_rate_factor: float = 0.75  # elder mode speaks at rate * factor
    volume: float = 0.8              # 0..1, applied at playback, reset every visit
    audio_device: str = ""           # ALSA name ("plughw:1,0"); "" = default; "null" = nowhere
    voices: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_VOICES))
    cache_dir: Path = Path("/var/cache/kiosk/voice")
    cache_max_bytes: int = 200 * 1024 * 1024

    def __post_init__(self):
        check_rate(self.rate)
        check_volume(self.volume)
        if not 0.3 <= self.elder_rate_factor <= 1.0:
            raise VoiceError("elder_rate_factor must be 0.3..1", "voice.bad_rate")
        if self.cache_max_bytes < 0:
            raise ValueError("cache_max_bytes must be >= 0")
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))

    @classmethod
    def from_config(cls, voice_section, cache_dir: Path | str, **overrides) -> "VoiceSettings":
        """Build from the kiosk config's `[voice]` section (duck-typed) and a cache folder."""
        return cls(rate=int(voice_section.rate),
                   elder_rate_factor=float(voice_section.elder_rate_factor),
                   volume=float(voice_section.volume),
                   audio_device=str(voice_section.audio_device),
                   cache_dir=Path(cache_dir), **overrides)

    def with_(self, **changes) -> "VoiceSettings":
        return replace(self, **changes)

    def synthesis_rate(self, language: str, rate: int) -> int:
        """`rate` (site words a minute, elder factor applied) in the unit the voice counts."""
        scaled = round(rate * SYLLABLE_RATE_FACTOR.get(language, 1.0))
        return max(MIN_RATE, min(MAX_RATE, int(scaled)))

    def voice_for(self, language: str) -> str:
        try:
            return self.voices[language]
        except KeyError:
            raise VoiceError(f"no voice configured for language {language!r}",
                             "voice.unknown_language") from None
