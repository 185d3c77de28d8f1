"""Fixtures for voice tests: one real espeak-ng synthesiser per session, counted."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from voice import PromptBook, VoiceSettings, WorkerSynthesizer


class CountingSynth:
    """Wraps a real synthesiser and counts its calls (to prove cache hits)."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.cache_tag = inner.cache_tag
        self.calls = 0
        self._lock = threading.Lock()

    def voices(self):
        return self.inner.voices()

    def synthesize(self, text, voice, rate, out_path: Path) -> None:
        with self._lock:
            self.calls += 1
        self.inner.synthesize(text, voice, rate, out_path)


@pytest.fixture(scope="session")
def espeak():
    """pyttsx3 + libespeak-ng as the app runs it: in a worker process, never in pytest's."""
    synth = WorkerSynthesizer()
    yield synth
    synth.close()


@pytest.fixture
def synth(espeak):
    return CountingSynth(espeak)


@pytest.fixture(scope="session")
def prompts():
    return PromptBook.load()


@pytest.fixture
def settings(tmp_path):
    return VoiceSettings(cache_dir=tmp_path / "cache", audio_device="null")


class EventLog:
    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, kind, key=None, timeout=10.0, count=1):
        def found():
            return len([e for e in self.events
                        if e.kind == kind and (key is None or e.utterance.prompt_key == key)]) >= count
        with self._cond:
            assert self._cond.wait_for(found, timeout), f"no {kind} event for {key}"
        return [e for e in self.events
                if e.kind == kind and (key is None or e.utterance.prompt_key == key)][-1]

    def kinds(self):
        return [(e.kind, e.utterance.prompt_key) for e in self.events]


@pytest.fixture
def events():
    return EventLog()
