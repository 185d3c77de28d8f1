"""Text -> WAV file with espeak-ng, behind one small interface (`Synthesizer`).

`Pyttsx3Backend` is the primary path: pyttsx3's espeak driver (`engine.save_to_file` +
`runAndWait`). pyttsx3 2.99's driver needs four workarounds, all kept inside this class:

* `runAndWait()` returns before the WAV exists: the driver runs libespeak-ng in
  AUDIO_OUTPUT_RETRIEVAL (asynchronous) mode and the end-of-loop command queued by
  `runAndWait` is pumped before synthesis starts, so the loop exits as soon as
  `espeak_Synth` returns. We wait for the driver's `finished-utterance` notification (sent
  after the file is closed) and then `espeak_Synchronize()`, and only then use the file.
* setting the voice or rate right before `runAndWait()` can cancel the utterance: in
  asynchronous mode libespeak-ng queues those settings, so `espeak_IsPlaying()` is still true
  when the driver's end-of-loop `stop()` runs, which then cancels the synthesis and reports
  `finished-utterance(completed=False)` (about half of all calls here). We call
  `espeak_Synchronize()` after setting the properties; the rare cancellation left (about
  one call in a few hundred, seen only under load) is retried once.
* an unknown voice name is silently ignored (the previous voice keeps speaking), so voice
  names are checked against the driver's voice list first.
* libespeak-ng exists once per process with one global callback, and the driver prints
  "Audio saved to <path>" on stdout from that callback; calls are serialised with a
  process-wide lock and the print is silenced.

The app runs this class inside a worker process (`voice.worker.WorkerSynthesizer`), never in
its own. `EspeakCliBackend` does the same with `espeak-ng -v VOICE -s RATE -w out.wav --stdin`
(the text goes through stdin, never onto a command line other processes can read); it is the fallback
when pyttsx3 is missing or fails to start.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from voice.errors import VoiceError

log = logging.getLogger(__name__)

# libespeak-ng keeps one synthesiser and one callback per process: every use goes through here.
_ESPEAK_LOCK = threading.Lock()


@runtime_checkable
class Synthesizer(Protocol):
    name: str        # for logs
    cache_tag: str   # engines that produce the same audio share a tag (and cache entries)

    def voices(self) -> frozenset[str]: ...

    def synthesize(self, text: str, voice: str, rate: int, out_path: Path) -> None:
        """Write `text` spoken by `voice` at `rate` words/min to `out_path` as a WAV."""


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise VoiceError("nothing to say", "voice.synthesis_failed")


def _check_output(out_path: Path, engine: str) -> None:
    if not out_path.exists() or out_path.stat().st_size <= 44:
        raise VoiceError(f"{engine} produced no audio", "voice.synthesis_failed")


def _quiet_print(*_args, **_kwargs) -> None:
    """Stands in for `print` inside pyttsx3's espeak driver (it prints every saved path)."""


class Pyttsx3Backend:
    name = "pyttsx3-espeak"
    cache_tag = "espeak-ng"

    def __init__(self, timeout_s: float = 30.0):
        try:
            import pyttsx3
            from pyttsx3.drivers import _espeak, espeak as espeak_driver
        except Exception as e:
            raise VoiceError(f"pyttsx3 espeak driver unavailable: {type(e).__name__}: {e}",
                             "voice.synthesis_failed") from e
        self._timeout_s = timeout_s
        self._espeak = _espeak
        espeak_driver.print = _quiet_print
        self._done = threading.Event()
        self._failure: str | None = None
        with _ESPEAK_LOCK:
            try:
                self._engine = pyttsx3.init("espeak")
            except Exception as e:
                raise VoiceError(f"pyttsx3 could not start espeak: {type(e).__name__}: {e}",
                                 "voice.synthesis_failed") from e
            self._tokens = [self._engine.connect("finished-utterance", self._on_finished),
                            self._engine.connect("error", self._on_error)]
            self._voices = frozenset(_voice_names(self._engine.getProperty("voices")))

    def _on_finished(self, name=None, completed=True) -> None:
        if not completed:
            self._failure = "utterance not completed"
        self._done.set()

    def _on_error(self, name=None, exception=None) -> None:
        self._failure = f"driver error {type(exception).__name__}"
        self._done.set()

    def voices(self) -> frozenset[str]:
        return self._voices

    def synthesize(self, text: str, voice: str, rate: int, out_path: Path) -> None:
        _check_text(text)
        if voice not in self._voices:
            raise VoiceError(f"espeak-ng has no voice {voice!r}", "voice.unknown_voice")
        out_path = Path(out_path)
        try:
            self._synthesize_once(text, voice, rate, out_path)
        except VoiceError as e:
            if "not completed" not in str(e):
                raise
            log.info("voice: pyttsx3 cancelled an utterance (driver race); retrying once")
            self._synthesize_once(text, voice, rate, out_path)

    def _synthesize_once(self, text: str, voice: str, rate: int, out_path: Path) -> None:
        with _ESPEAK_LOCK:
            self._done.clear()
            self._failure = None
            try:
                self._engine.setProperty("voice", voice)
                self._engine.setProperty("rate", int(rate))
                self._engine.setProperty("volume", 1.0)     # volume is applied at playback
                self._espeak.Synchronize()   # settings are queued: let them land first
                self._engine.save_to_file(text, str(out_path))
                self._engine.runAndWait()
            except Exception as e:
                raise VoiceError(f"pyttsx3 failed: {type(e).__name__}",
                                 "voice.synthesis_failed") from e
            if not self._done.wait(self._timeout_s):
                raise VoiceError("pyttsx3/espeak did not finish in time", "voice.synthesis_failed")
            self._espeak.Synchronize()
            if self._failure:
                raise VoiceError(f"pyttsx3 failed: {self._failure}", "voice.synthesis_failed")
        _check_output(out_path, self.name)

    def close(self) -> None:
        for token in self._tokens:
            self._engine.disconnect(token)
        self._tokens = []


def _voice_names(voices) -> set[str]:
    names = set()
    for v in voices:
        names.add(v.id)                       # e.g. "sit/cmn"
        names.add(v.id.rsplit("/", 1)[-1])    # "cmn"
    return names


class EspeakCliBackend:
    name = "espeak-ng-cli"
    cache_tag = "espeak-ng"

    def __init__(self, executable: str = "espeak-ng", timeout_s: float = 30.0):
        path = shutil.which(executable)
        if not path:
            raise VoiceError(f"{executable} not found", "voice.synthesis_failed")
        self._exe = path
        self._timeout_s = timeout_s
        self._voices: frozenset[str] | None = None

    def voices(self) -> frozenset[str]:
        if self._voices is None:
            out = subprocess.run([self._exe, "--voices"], capture_output=True, text=True,
                                 timeout=self._timeout_s, check=False).stdout
            names = set()
            for line in out.splitlines()[1:]:
                cols = line.split()
                if len(cols) >= 5:
                    names.add(cols[1])                       # language, e.g. "cmn"
                    names.add(cols[4].lower())               # File, e.g. "sit/cmn"
                    names.add(cols[4].lower().rsplit("/", 1)[-1])
            self._voices = frozenset(names)
        return self._voices

    def synthesize(self, text: str, voice: str, rate: int, out_path: Path) -> None:
        _check_text(text)
        if voice not in self.voices():
            raise VoiceError(f"espeak-ng has no voice {voice!r}", "voice.unknown_voice")
        cmd = [self._exe, "-b", "1", "-v", voice, "-s", str(int(rate)), "-w", str(out_path),
               "--stdin"]
        try:
            done = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True,
                                  timeout=self._timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise VoiceError(f"espeak-ng failed: {type(e).__name__}",
                             "voice.synthesis_failed") from e
        if done.returncode != 0:
            raise VoiceError(f"espeak-ng exit {done.returncode}", "voice.synthesis_failed")
        _check_output(Path(out_path), self.name)


def default_synthesizer() -> Synthesizer:
    """pyttsx3 + espeak-ng in a worker process if it starts, else the espeak-ng command.

    Never in the app's own process: libespeak-ng is C fed with arbitrary text, and a fault in it
    must cost one utterance, not the citizen's visit (see `voice.worker`).
    """
    from voice.worker import WorkerSynthesizer
    try:
        return WorkerSynthesizer()
    except VoiceError as e:
        log.warning("voice: pyttsx3 unavailable (%s); using espeak-ng command", e)
        return EspeakCliBackend()
