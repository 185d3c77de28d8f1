"""PCM WAV audio in memory: read, measure, scale the volume, serialise for a player.

espeak-ng writes 16-bit mono 22050 Hz WAV; volume is applied here at playback time (so one
cached WAV serves every volume) by scaling the samples with numpy.
"""
from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice.errors import VoiceError


@dataclass(frozen=True, repr=False)
class WavAudio:
    channels: int
    sample_width: int     # bytes per sample
    frame_rate: int
    frames: bytes         # interleaved little-endian PCM

    def __repr__(self) -> str:
        return f"WavAudio({self.duration_s:.2f}s, {self.frame_rate} Hz, {self.channels} ch)"

    @classmethod
    def from_bytes(cls, data: bytes) -> "WavAudio":
        """Parse a PCM WAV; anything else is a `VoiceError("voice.synthesis_failed")`."""
        try:
            with wave.open(io.BytesIO(data), "rb") as w:
                audio = cls(w.getnchannels(), w.getsampwidth(), w.getframerate(),
                            w.readframes(w.getnframes()))
        except (wave.Error, EOFError, ValueError, struct.error, OverflowError, RuntimeError) as e:
            raise VoiceError(f"not a PCM WAV ({type(e).__name__})",
                             "voice.synthesis_failed") from None
        if audio.channels < 1 or audio.sample_width < 1 or audio.frame_rate < 1:
            raise VoiceError("WAV with no channels or rate", "voice.synthesis_failed")
        return audio

    @classmethod
    def read(cls, path: Path | str) -> "WavAudio":
        return cls.from_bytes(Path(path).read_bytes())

    @classmethod
    def silence(cls, seconds: float, frame_rate: int = 22050) -> "WavAudio":
        return cls(1, 2, frame_rate, bytes(2 * int(seconds * frame_rate)))

    @property
    def frame_count(self) -> int:
        return len(self.frames) // (self.channels * self.sample_width)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.frame_rate if self.frame_rate else 0.0

    @property
    def byte_rate(self) -> int:
        return self.frame_rate * self.channels * self.sample_width

    def peak(self) -> int:
        if self.sample_width != 2 or not self.frames:
            return 0
        return int(np.abs(np.frombuffer(self.frames, dtype="<i2").astype(np.int32)).max())

    def scaled(self, volume: float) -> "WavAudio":
        """The same audio at `volume` (0..1) of its amplitude; 16-bit only, others unchanged."""
        if volume >= 1.0 or self.sample_width != 2:
            return self
        samples = np.frombuffer(self.frames, dtype="<i2").astype(np.float32)
        samples *= max(0.0, volume)
        out = np.clip(np.rint(samples), -32768, 32767).astype("<i2")
        return WavAudio(self.channels, self.sample_width, self.frame_rate, out.tobytes())

    def header(self) -> bytes:
        """A RIFF/WAVE header for exactly these frames."""
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(self.channels)
            w.setsampwidth(self.sample_width)
            w.setframerate(self.frame_rate)
            w.setnframes(self.frame_count)
            w.writeframesraw(b"")
        head = bytearray(buf.getvalue())
        data_len = len(self.frames)
        head[4:8] = (36 + data_len).to_bytes(4, "little")
        head[40:44] = data_len.to_bytes(4, "little")
        return bytes(head)

    def to_bytes(self) -> bytes:
        return self.header() + self.frames
