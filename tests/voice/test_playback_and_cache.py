"""aplay playback (no sound card: ALSA's null plugin and a blocking stand-in), WAV audio
helpers and the LRU cache."""
from __future__ import annotations

import os
import time

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from voice import AplayPlayer, Speaker, VoiceError, WavAudio, WavCache
from voice.cache import cache_key


def tone(seconds=0.5, amplitude=10000) -> WavAudio:
    import numpy as np
    t = np.arange(int(22050 * seconds)) / 22050
    samples = (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    return WavAudio(1, 2, 22050, samples.tobytes())


def test_wav_round_trip_and_volume_scaling():
    a = tone()
    assert WavAudio.from_bytes(a.to_bytes()).frames == a.frames
    assert abs(a.duration_s - 0.5) < 1e-3
    assert a.scaled(0.5).peak() == pytest.approx(5000, abs=2)
    assert a.scaled(0.0).peak() == 0
    assert a.scaled(1.0) is a


@hsettings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_wav_parser_never_crashes_on_arbitrary_bytes(data):
    try:
        WavAudio.from_bytes(data)
    except VoiceError as e:
        assert e.reason_key == "voice.synthesis_failed"


@hsettings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_wav_parser_on_corrupted_headers(tail):
    head = tone(0.01).to_bytes()[:36]
    try:
        WavAudio.from_bytes(head + tail)
    except VoiceError:
        pass


def test_aplay_accepts_the_stream_on_alsa_null_device(tmp_path):
    playback = AplayPlayer("plug:null").start(tone(), None)
    assert playback.wait(5)
    assert playback.error is None and not playback.interrupted
    assert playback.first_byte_at is not None


def test_aplay_on_a_missing_card_reports_playback_failed(settings, espeak, events):
    with Speaker(settings.with_(audio_device="plughw:7,0"), synthesizer=espeak,
                 listener=events) as speaker:
        speaker.say("step.attract")
        assert events.wait_for("error", "step.attract").reason_key == "voice.playback_failed"


def test_stopping_kills_a_blocked_player_at_once(tmp_path):
    stand_in = tmp_path / "slow-aplay"       # a sound card that never drains
    stand_in.write_text("#!/bin/sh\nexec sleep 30\n")
    stand_in.chmod(0o755)
    playback = AplayPlayer("hw:0", executable=str(stand_in)).start(tone(5.0), None)
    assert not playback.wait(0.2)
    t0 = time.perf_counter()
    playback.stop()
    assert playback.wait(1.0)
    assert time.perf_counter() - t0 < 0.1
    assert playback.interrupted and playback.error is None


def write_entry(cache: WavCache, key: str, seconds: float) -> None:
    cache.put(key, lambda p: p.write_bytes(tone(seconds).to_bytes()))


def test_cache_evicts_least_recently_used_by_mtime(tmp_path):
    one = len(tone(0.2).to_bytes())
    cache = WavCache(tmp_path / "c", max_bytes=3 * one)
    for i, key in enumerate(("a" * 64, "b" * 64, "c" * 64)):
        write_entry(cache, key, 0.2)
        os.utime(cache.path_for(key), ns=(10**18 + i, 10**18 + i))
    assert cache.get("a" * 64) is not None            # a hit makes "a" the most recent
    write_entry(cache, "d" * 64, 0.2)
    kept = sorted(p.stem[0] for p in cache.entries())
    assert kept == ["a", "c", "d"]
    assert cache.size_bytes() <= 3 * one


def test_cache_drops_corrupt_entries_and_leaves_no_temp_files(tmp_path):
    cache = WavCache(tmp_path / "c", max_bytes=10**6)
    cache.path_for("e" * 64).write_bytes(b"RIFF garbage")
    assert cache.get("e" * 64) is None
    assert not cache.path_for("e" * 64).exists()
    with pytest.raises(VoiceError):
        cache.put("f" * 64, lambda p: p.write_bytes(b"not a wav"))
    assert list((tmp_path / "c").iterdir()) == []


def test_cache_key_depends_on_text_voice_rate():
    base = cache_key("你好", "cmn", 170)
    assert base != cache_key("你好", "cmn", 128)
    assert base != cache_key("你好", "en-us", 170)
    assert base != cache_key("您好", "cmn", 170)
    assert base == cache_key("你好", "cmn", 170) and len(base) == 64
