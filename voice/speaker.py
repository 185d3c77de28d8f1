"""`Speaker`: the kiosk's voice. A worker thread says prompts one after another, interruptibly.

The UI calls `say(prompt_key, params, language)` on every screen change; by default that cuts
whatever is being said and drops anything queued (`interrupt=True`). Text comes from the
`PromptBook`, audio from the `WavCache` when the prompt was said (or prewarmed) before, else
from the `Synthesizer`; volume is applied to the samples at playback. Errors never stop the
worker: they reach the `listener` as `SpeechEvent("error", reason_key=...)` and the log (with
prompt keys only, never the text).

    speaker = Speaker(VoiceSettings(cache_dir=state_dir / "voice-cache"))
    speaker.prewarm()                      # background: every fixed prompt, zh + en
    speaker.say("step.id_card", language="zh")
    speaker.interrupt()                    # screen changed
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterable, Mapping

from voice.audio import WavAudio
from voice.cache import WavCache, cache_key
from voice.errors import VoiceError
from voice.playback import Playback, Player, player_for_device
from voice.prompts import PromptBook
from voice.reading import speakable
from voice.settings import MIN_RATE, VoiceSettings, check_rate, check_volume
from voice.speech_events import PrewarmJob, SpeakerStats, SpeechEvent  # noqa: F401 (part of this API)
from voice.synth import Synthesizer, default_synthesizer
from voice.utterance import Utterance

log = logging.getLogger(__name__)
_LONG_NUMBER = re.compile(r"\d{6,}")
_RAM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


class Speaker:
    def __init__(self, settings: VoiceSettings, *, prompts: PromptBook | None = None,
                 synthesizer: Synthesizer | None = None, player: Player | None = None,
                 listener: Callable[[SpeechEvent], None] | None = None):
        self.settings = settings
        self.prompts = prompts if prompts is not None else PromptBook.load()
        self._owns_synth = synthesizer is None
        self.synthesizer = synthesizer if synthesizer is not None else default_synthesizer()
        self.player = player if player is not None else player_for_device(settings.audio_device)
        known = self.synthesizer.voices()
        for language, voice in settings.voices.items():
            if voice not in known:
                raise VoiceError(f"{self.synthesizer.name} has no voice {voice!r} for "
                                 f"{language}", "voice.unknown_voice")
        self.cache = WavCache(settings.cache_dir, settings.cache_max_bytes)
        self.stats = SpeakerStats()
        self._listeners: list[Callable[[SpeechEvent], None]] = [listener] if listener else []
        self._cond = threading.Condition(threading.RLock())
        self._queue: deque[Utterance] = deque()
        self._pending = 0                 # queued + being said
        self._generation = 0              # bumped by every interrupt
        self._current: Playback | None = None
        self._rate = settings.rate
        self._volume = settings.volume
        self._elder = False
        self._last: tuple | None = None   # what repeat() says again
        self._closed = False
        self._live_idle = threading.Event()   # prewarm yields while the worker synthesises
        self._live_idle.set()
        self._prewarm_jobs: list[PrewarmJob] = []
        self._thread = threading.Thread(target=self._run, name="voice-speaker", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------------------- public API
    def say(self, prompt_key: str, params: Mapping[str, object] | None = None,
            language: str = "zh", interrupt: bool = True) -> Utterance:
        """Say a prompt of `flows/prompts.yaml`. Unknown keys/params raise `VoiceError` here."""
        text = self.prompts.text(prompt_key, language, params)
        cacheable = not any(_LONG_NUMBER.search(str(v)) for v in (params or {}).values())
        with self._cond:
            u = self._enqueue(prompt_key, text, language, cacheable, interrupt, params)
            self._last = ("prompt", prompt_key, dict(params or {}), language, cacheable)
            return u

    def say_text(self, text: str, language: str = "zh", cache: bool = False,
                 interrupt: bool = True) -> Utterance:
        """Say dynamic text (not cached unless `cache=True`; never cache personal data)."""
        if not isinstance(text, str) or not text.strip():
            raise VoiceError("nothing to say", "voice.prompt_params")
        with self._cond:
            u = self._enqueue(None, text, language, cache, interrupt, None)
            self._last = ("text", text, language, cache)
            return u

    def repeat(self) -> Utterance | None:
        """Say the last prompt (or text) again, at the current rate and volume."""
        with self._cond:
            last = self._last
            if last is None:
                return None
            if last[0] == "prompt":
                _, key, params, language, cacheable = last
                text = self.prompts.text(key, language, params)
                return self._enqueue(key, text, language, cacheable, True, params)
            _, text, language, cacheable = last
            return self._enqueue(None, text, language, cacheable, True, None)

    def interrupt(self) -> None:
        """Stop the current utterance now and drop everything queued."""
        with self._cond:
            self._generation += 1
            dropped = len(self._queue)
            self._queue.clear()
            self._pending -= dropped
            if self._current is not None:
                self._current.stop()
            self._cond.notify_all()

    def set_rate(self, words_per_min: float) -> None:
        with self._cond:
            self._rate = check_rate(words_per_min)

    def set_volume(self, volume: float) -> None:
        with self._cond:
            self._volume = check_volume(volume)

    def elder(self, on: bool = True) -> None:
        """Elder mode: speak at rate x `elder_rate_factor`."""
        with self._cond:
            self._elder = bool(on)

    def reset_for_new_visit(self) -> None:
        """Silence, then site rate and volume, elder mode off, nothing left to repeat."""
        with self._cond:
            self.interrupt()
            self._rate = self.settings.rate
            self._volume = self.settings.volume
            self._elder = False
            self._last = None

    @property
    def rate(self) -> int:
        return self._rate

    @property
    def effective_rate(self) -> int:
        with self._cond:
            return self._rate_for(self._elder)

    @property
    def volume(self) -> float:
        return self._volume

    @property
    def elder_mode(self) -> bool:
        return self._elder

    @property
    def speaking(self) -> bool:
        return self._current is not None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or being said; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def prewarm(self, keys: Iterable[str] | None = None,
                languages: Iterable[str] = ("zh", "en"),
                rates: Iterable[int] | None = None) -> PrewarmJob:
        """Synthesise fixed prompts (no placeholders) into the cache in a background thread.

        Default: every fixed prompt, at the site rate and the elder rate."""
        wanted = list(keys) if keys is not None else self.prompts.keys()
        fixed = [k for k in wanted if k in self.prompts and self.prompts.is_fixed(k)]
        if len(fixed) != len(wanted):
            log.info("voice prewarm: skipping %d unknown or parameterised keys",
                     len(wanted) - len(fixed))
        rate_list = sorted(set(rates) if rates is not None
                           else {self._rate_for(False), self._rate_for(True)})
        items = [(k, lang, r) for r in rate_list for lang in languages for k in fixed]
        job = PrewarmJob(items)
        job.thread = threading.Thread(target=self._prewarm, args=(job,), daemon=True,
                                      name="voice-prewarm")
        with self._cond:
            if self._closed:
                raise VoiceError("speaker is closed", "voice.closed")
            self._prewarm_jobs.append(job)
        job.thread.start()
        return job

    @property
    def prewarming(self) -> bool:
        """True while fixed prompts are still being synthesised into the cache."""
        return any(job.thread is not None and job.thread.is_alive() for job in self._prewarm_jobs)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self.interrupt()
        for job in self._prewarm_jobs:
            job.cancel()
        self._thread.join(timeout)
        for job in self._prewarm_jobs:
            job.wait(timeout)
        if self._owns_synth and hasattr(self.synthesizer, "close"):
            self.synthesizer.close()

    def __enter__(self) -> "Speaker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------- worker
    def _rate_for(self, elder: bool) -> int:
        if not elder:
            return self._rate
        return max(MIN_RATE, int(round(self._rate * self.settings.elder_rate_factor)))

    def _enqueue(self, key, text, language, cacheable, interrupt, params) -> Utterance:
        if self._closed:
            raise VoiceError("speaker is closed", "voice.closed")
        voice = self.settings.voice_for(language)
        if interrupt:
            self.interrupt()
        u = Utterance(prompt_key=key, text=text, language=language, voice=voice,
                      rate=self._rate_for(self._elder), volume=self._volume,
                      cacheable=bool(cacheable), requested_at=time.perf_counter(),
                      generation=self._generation, params=dict(params or {}))
        self._queue.append(u)
        self._pending += 1
        self._cond.notify_all()
        return u

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
                u = self._queue.popleft()
            try:
                self._speak(u)
            except Exception as e:      # the worker must survive anything
                self._error(u, "voice.synthesis_failed", f"unexpected {type(e).__name__}")
            finally:
                with self._cond:
                    self._current = None
                    self._pending -= 1
                    self._cond.notify_all()

    def _stale(self, u: Utterance) -> bool:
        return u.generation != self._generation or self._closed

    def _speak(self, u: Utterance) -> None:
        if self._stale(u):
            return
        try:
            audio = self._render(u)
        except VoiceError as e:
            self._error(u, e.reason_key, str(e))
            return
        audio = audio.scaled(u.volume)
        with self._cond:
            if self._stale(u):
                return
            try:
                playback = self.player.start(audio, u)
            except VoiceError as e:
                self._error(u, e.reason_key, str(e))
                return
            self._current = playback
            self.stats.started += 1
        self._emit(SpeechEvent("started", u))
        while not playback.wait(0.5):
            pass
        latency = (playback.first_byte_at - u.requested_at
                   if playback.first_byte_at is not None else None)
        if playback.error:
            self._error(u, "voice.playback_failed", playback.error)
        elif playback.interrupted:
            self.stats.interrupted += 1
            self._emit(SpeechEvent("interrupted", u, latency))
        else:
            self.stats.finished += 1
            if latency is not None:
                self.stats.latencies_s.append(latency)
            log.debug("voice: said %s/%s rate=%d latency_ms=%.1f", u.prompt_key or "<text>",
                      u.language, u.rate, (latency or 0) * 1000)
            self._emit(SpeechEvent("finished", u, latency))

    def _render(self, u: Utterance) -> WavAudio:
        spoken, rate = self._synthesis_input(u.text, u.language, u.rate)
        if u.cacheable:
            key = cache_key(spoken, u.voice, rate, self.synthesizer.cache_tag)
            audio = self.cache.get(key)
            if audio is not None:
                self.stats.cache_hits += 1
                return audio
            self._live_idle.clear()
            try:
                return self.cache.put(key, lambda p: self._synthesize(spoken, u.voice, rate, p))
            except OSError as e:
                log.warning("voice cache: cannot store (%s); speaking uncached", type(e).__name__)
            finally:
                self._live_idle.set()
        self._live_idle.clear()
        try:
            with tempfile.TemporaryDirectory(prefix="voice-", dir=_RAM_DIR) as tmp:
                path = Path(tmp) / "say.wav"
                self._synthesize(spoken, u.voice, rate, path)
                return WavAudio.read(path)
        finally:
            self._live_idle.set()

    def _synthesis_input(self, text: str, language: str, rate: int) -> tuple[str, int]:
        """What the synthesiser is given: the text as the voice reads it (Mandarin as toned
        pinyin, `voice.reading`) and the rate in the voice's own units."""
        spoken = speakable(text, language) or text
        return spoken, self.settings.synthesis_rate(language, rate)

    def _synthesize(self, text: str, voice: str, rate: int, path: Path) -> None:
        self.stats.synth_calls += 1
        self.synthesizer.synthesize(text, voice, rate, path)

    def _prewarm(self, job: PrewarmJob) -> None:
        started = time.perf_counter()
        tag = self.synthesizer.cache_tag
        for key, language, rate in job.items:
            if job.cancelled or self._closed:
                break
            self._live_idle.wait(5.0)      # a live prompt goes first
            try:
                spoken, voice_rate = self._synthesis_input(self.prompts.text(key, language),
                                                           language, rate)
                voice = self.settings.voice_for(language)
                ckey = cache_key(spoken, voice, voice_rate, tag)
                if self.cache.path_for(ckey).exists():
                    job.already_cached += 1
                    continue
                self.cache.put(ckey, lambda p: self._synthesize(spoken, voice, voice_rate, p))
                job.synthesized += 1
            except (VoiceError, OSError) as e:
                job.failed += 1
                log.warning("voice prewarm: %s/%s failed: %s (%s)", key, language,
                            getattr(e, "reason_key", type(e).__name__), e)
        log.info("voice prewarm: %d synthesised, %d cached, %d failed in %.1fs",
                 job.synthesized, job.already_cached, job.failed, time.perf_counter() - started)

    def _error(self, u: Utterance, reason_key: str, message: str) -> None:
        self.stats.errors += 1
        log.warning("voice: %s/%s failed: %s (%s)", u.prompt_key or "<text>", u.language,
                    reason_key, message)
        self._emit(SpeechEvent("error", u, reason_key=reason_key))

    def add_listener(self, listener: Callable[[SpeechEvent], None]) -> None:
        """Also tell `listener` (on the speech thread) when utterances start, end or fail."""
        self._listeners.append(listener)

    def _emit(self, event: SpeechEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as e:
                log.warning("voice: listener raised %s", type(e).__name__)
