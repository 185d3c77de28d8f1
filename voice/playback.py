"""Play WAV audio, and stop it at once: `aplay -D <device>`, a timed null sink, a recorder.

A `Player.start(audio, utterance)` returns a `Playback` at once; the speaker waits on it and
calls `stop()` when the screen changes. `first_byte_at` is when the first audio byte was handed
to the output (the latency benchmark measures from `say()` to it).

* `AplayPlayer(device)` streams the WAV into `aplay -q -t wav -D device -` through a pipe and
  kills the process to interrupt. `device=""` uses ALSA's default.
* `NullSinkPlayer` writes nowhere but lasts as long as the audio would (for "null" devices:
  test rigs, a kiosk without a speaker).
* `FilePlayer` records every clip it was given (for tests), optionally timed like a sink and
  optionally saving each clip as a WAV file.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from voice.audio import WavAudio
from voice.errors import VoiceError
from voice.utterance import Utterance

log = logging.getLogger(__name__)
NULL_DEVICE = "null"
CHUNK_BYTES = 4096


@runtime_checkable
class Playback(Protocol):
    first_byte_at: float | None

    def wait(self, timeout: float | None = None) -> bool:
        """True once playback has ended (played out, stopped or failed)."""

    def stop(self) -> None: ...

    @property
    def interrupted(self) -> bool: ...

    @property
    def error(self) -> str | None: ...


@runtime_checkable
class Player(Protocol):
    def start(self, audio: WavAudio, utterance: Utterance) -> Playback: ...


class TimedPlayback:
    """Lasts `duration_s` from its start unless stopped; stopping ends `wait()` at once."""

    def __init__(self, duration_s: float):
        self.first_byte_at = time.perf_counter()
        self._deadline = self.first_byte_at + max(0.0, duration_s)
        self._stopped = threading.Event()
        self.error: str | None = None

    def wait(self, timeout: float | None = None) -> bool:
        remaining = self._deadline - time.perf_counter()
        if timeout is not None:
            remaining = min(remaining, timeout)
        if remaining > 0:
            self._stopped.wait(remaining)
        return self._stopped.is_set() or time.perf_counter() >= self._deadline

    def stop(self) -> None:
        if time.perf_counter() < self._deadline:
            self._stopped.set()

    @property
    def interrupted(self) -> bool:
        return self._stopped.is_set()


class NullSinkPlayer:
    """Plays to nowhere, in real time."""

    def start(self, audio: WavAudio, utterance: Utterance) -> Playback:
        return TimedPlayback(audio.duration_s)


class AplayPlayback:
    def __init__(self, cmd: list[str], audio: WavAudio):
        self.first_byte_at: float | None = None
        self._stopped = threading.Event()
        self._error: str | None = None
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE)
        except OSError as e:
            raise VoiceError(f"cannot start {cmd[0]}: {type(e).__name__}",
                             "voice.playback_failed") from e
        self._feeder = threading.Thread(target=self._feed, args=(audio,), daemon=True,
                                        name="voice-aplay-feed")
        self._feeder.start()

    def _feed(self, audio: WavAudio) -> None:
        data = memoryview(audio.to_bytes())
        pipe = self._proc.stdin
        try:
            for offset in range(0, len(data), CHUNK_BYTES):
                if self._stopped.is_set():
                    break
                pipe.write(data[offset:offset + CHUNK_BYTES])
                if self.first_byte_at is None:
                    pipe.flush()
                    self.first_byte_at = time.perf_counter()
        except (BrokenPipeError, ValueError, OSError):
            pass                     # the player went away (stopped or failed): wait() tells
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    def wait(self, timeout: float | None = None) -> bool:
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self._feeder.join(1.0)
        if self._proc.returncode != 0 and not self._stopped.is_set() and self._error is None:
            tail = (self._proc.stderr.read() or b"").decode("utf-8", "replace").strip()
            self._error = f"aplay exit {self._proc.returncode}: {tail.splitlines()[-1:]}"
        if self._proc.stderr and not self._proc.stderr.closed:
            self._proc.stderr.close()
        return True

    def stop(self) -> None:
        self._stopped.set()
        if self._proc.poll() is None:
            self._proc.kill()

    @property
    def interrupted(self) -> bool:
        return self._stopped.is_set()

    @property
    def error(self) -> str | None:
        return self._error


class AplayPlayer:
    """`aplay` on an ALSA device; device "null" plays nowhere (timed), "" is ALSA's default."""

    def __init__(self, device: str = "", executable: str = "aplay"):
        self.device = device
        self._exe = shutil.which(executable) or executable

    def command(self) -> list[str]:
        cmd = [self._exe, "-q", "-t", "wav"]
        if self.device:
            cmd += ["-D", self.device]
        return cmd + ["-"]

    def start(self, audio: WavAudio, utterance: Utterance) -> Playback:
        if self.device == NULL_DEVICE:
            return TimedPlayback(audio.duration_s)
        return AplayPlayback(self.command(), audio)


def player_for_device(device: str) -> "AplayPlayer":
    return AplayPlayer(device)


@dataclass(frozen=True, repr=False)
class PlayedClip:
    utterance: Utterance
    audio: WavAudio           # as handed to the output: volume already applied

    def __repr__(self) -> str:
        return f"PlayedClip({self.utterance!r}, {self.audio!r})"


class FilePlayer:
    """Records what was played; `realtime=True` also lasts as long as the audio would."""

    def __init__(self, directory: Path | str | None = None, realtime: bool = False):
        self.directory = Path(directory) if directory else None
        self.realtime = realtime
        self.clips: list[PlayedClip] = []
        self._lock = threading.Lock()
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def start(self, audio: WavAudio, utterance: Utterance) -> Playback:
        with self._lock:
            self.clips.append(PlayedClip(utterance, audio))
            n = len(self.clips)
        if self.directory:
            name = (utterance.prompt_key or "text").replace("/", "_")
            (self.directory / f"{n:04d}-{name}-{utterance.language}.wav").write_bytes(
                audio.to_bytes())
        return TimedPlayback(audio.duration_s if self.realtime else 0.0)
