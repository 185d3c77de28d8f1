"""Speech synthesis in a worker process: a crash inside libespeak-ng costs one try, not the app."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from voice import Speaker, VoiceError, WavAudio, WorkerSynthesizer
from voice.playback import FilePlayer

# Long enough that synthesising it takes several times the 50 ms before the kill (at * 3 it took
# about 55 ms on an idle machine, and the kill sometimes came after the answer).
LONG = "请把身份证放在读卡区，不要移动，读卡完成后会有提示音。" * 12


def _libespeak_loaded_here() -> bool:
    return "libespeak" in Path("/proc/self/maps").read_text()


def test_synthesis_runs_outside_this_process(espeak, tmp_path):
    espeak.synthesize("请把身份证放在读卡区。", "cmn", 170, tmp_path / "a.wav")
    assert WavAudio.read(tmp_path / "a.wav").duration_s > 1.0
    assert espeak.worker_pid not in (None, os.getpid())
    assert not _libespeak_loaded_here()


def test_worker_killed_between_requests_is_replaced(tmp_path):
    synth = WorkerSynthesizer()
    try:
        first = synth.worker_pid
        synth.synthesize("你好", "cmn", 170, tmp_path / "a.wav")
        os.kill(first, signal.SIGSEGV)
        time.sleep(0.2)
        synth.synthesize("请确认您的信息。", "cmn", 170, tmp_path / "b.wav")
        assert WavAudio.read(tmp_path / "b.wav").peak() > 1000
        assert synth.worker_pid != first and synth.restarts == 1
    finally:
        synth.close()


def test_worker_killed_mid_utterance_the_request_is_tried_again(tmp_path):
    synth = WorkerSynthesizer()
    try:
        first = synth.worker_pid
        killer = threading.Timer(0.05, os.kill, (first, signal.SIGKILL))
        killer.start()
        synth.synthesize(LONG, "cmn", 170, tmp_path / "long.wav")
        killer.join()
        audio = WavAudio.read(tmp_path / "long.wav")
        assert audio.duration_s > 5.0 and audio.peak() > 1000
        assert synth.worker_pid != first
    finally:
        synth.close()


def test_a_worker_that_crashes_every_time_gives_a_plain_error_and_no_file(tmp_path):
    synth = WorkerSynthesizer(backend="tests.voice.crashing_backend:SegfaultsOnEveryRequest")
    try:
        for _ in range(2):                       # and the next request is tried afresh
            with pytest.raises(VoiceError) as err:
                synth.synthesize("你好", "cmn", 170, tmp_path / "x.wav")
            assert err.value.reason_key == "voice.synthesis_failed"
            assert not (tmp_path / "x.wav").exists()
    finally:
        synth.close()


def test_a_backend_that_cannot_start_fails_at_start_up():
    with pytest.raises(VoiceError) as err:
        WorkerSynthesizer(backend="tests.voice.crashing_backend:CannotStart")
    assert "no libespeak-ng here" in str(err.value)


def test_unknown_voice_is_refused_through_the_pipe(espeak, tmp_path):
    with pytest.raises(VoiceError) as err:
        espeak.synthesize("hello", "no-such-voice", 170, tmp_path / "x.wav")
    assert err.value.reason_key == "voice.unknown_voice"


def test_speaker_keeps_talking_after_the_worker_crashes(settings, tmp_path):
    synth = WorkerSynthesizer()
    player = FilePlayer()
    try:
        with Speaker(settings, synthesizer=synth, player=player) as speaker:
            os.kill(synth.worker_pid, signal.SIGSEGV)
            speaker.say("step.id_card", language="zh")
            assert speaker.wait_idle(30)
        assert [c.utterance.prompt_key for c in player.clips] == ["step.id_card"]
    finally:
        synth.close()
