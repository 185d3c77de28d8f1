"""Speaker behaviour with real espeak-ng synthesis and no sound card: a timed null sink or a
recording player stand in for the speaker."""
from __future__ import annotations

import time

import pytest

from voice import (AplayPlayer, FilePlayer, NullBackend, Speaker, SpokenRecord, VoiceError,
                   VoiceSettings)


def test_interrupt_stops_playback_quickly_and_next_prompt_plays(settings, synth, events):
    with Speaker(settings, synthesizer=synth, player=AplayPlayer("null"),
                 listener=events) as speaker:
        speaker.say("step.consent", language="zh")          # ~15 s of speech
        events.wait_for("started", "step.consent")
        time.sleep(0.2)
        assert speaker.speaking
        t0 = time.perf_counter()
        speaker.interrupt()
        events.wait_for("interrupted", "step.consent", timeout=1.0)
        assert time.perf_counter() - t0 < 0.100
        speaker.say("step.eligibility", language="en")
        done = events.wait_for("finished", "step.eligibility", timeout=10)
        assert done.latency_s is not None
        assert ("finished", "step.consent") not in events.kinds()


def test_say_interrupts_by_default_and_queues_on_request(settings, synth, events):
    with Speaker(settings, synthesizer=synth, player=AplayPlayer("null"),
                 listener=events) as speaker:
        speaker.say("step.consent", language="en")
        events.wait_for("started", "step.consent")
        speaker.say("step.eligibility", language="en", interrupt=False)   # waits its turn
        time.sleep(0.3)
        assert ("started", "step.eligibility") not in events.kinds()
        t0 = time.perf_counter()
        speaker.say("step.attract", language="en")     # screen change: both go
        events.wait_for("started", "step.attract", timeout=2)
        assert time.perf_counter() - t0 < 0.5
        assert ("started", "step.eligibility") not in events.kinds()
        assert ("interrupted", "step.consent") in events.kinds()


def test_repeat_says_the_last_prompt_again(settings, synth):
    player = FilePlayer()
    with Speaker(settings, synthesizer=synth, player=player) as speaker:
        assert speaker.repeat() is None
        speaker.say("step.face", language="zh")
        assert speaker.wait_idle(10)
        speaker.repeat()
        assert speaker.wait_idle(10)
        a, b = player.clips
        assert a.utterance.prompt_key == b.utterance.prompt_key == "step.face"
        assert a.audio.frames == b.audio.frames
        speaker.reset_for_new_visit()
        assert speaker.repeat() is None            # a new visitor never hears the last one's


def test_elder_mode_slows_the_rate(settings, synth):
    player = FilePlayer()
    with Speaker(settings, synthesizer=synth, player=player) as speaker:
        speaker.say("step.id_card", language="zh")
        speaker.wait_idle(10)
        speaker.elder(True)
        assert speaker.effective_rate == round(170 * 0.75)
        speaker.say("step.id_card", language="zh")
        speaker.wait_idle(10)
        normal, elder = player.clips
        assert elder.utterance.rate == 128 and normal.utterance.rate == 170
        assert elder.audio.duration_s > 1.2 * normal.audio.duration_s
        speaker.reset_for_new_visit()
        assert not speaker.elder_mode and speaker.effective_rate == 170


def test_volume_is_applied_at_playback_and_reset_per_visit(settings, synth):
    player = FilePlayer()
    with Speaker(settings, synthesizer=synth, player=player) as speaker:
        speaker.set_volume(0.2)
        speaker.set_rate(200)
        speaker.say("step.guide", language="en")
        speaker.wait_idle(10)
        speaker.reset_for_new_visit()
        assert (speaker.volume, speaker.rate) == (0.8, 170)
        speaker.say("step.guide", language="en")
        speaker.wait_idle(10)
        quiet, normal = player.clips
        assert (quiet.utterance.volume, normal.utterance.volume) == (0.2, 0.8)
        assert quiet.utterance.rate == 200
        ratio = quiet.audio.peak() / normal.audio.peak()
        assert 0.2 / 0.8 - 0.05 < ratio < 0.2 / 0.8 + 0.05
        assert synth.calls == 2        # one WAV per rate; volume never re-synthesises
        with pytest.raises(VoiceError) as err:
            speaker.set_volume(1.5)
        assert err.value.reason_key == "voice.bad_volume"
        with pytest.raises(VoiceError) as err:
            speaker.set_rate(20)
        assert err.value.reason_key == "voice.bad_rate"


def test_second_time_is_a_cache_hit_even_after_restart(settings, synth):
    with Speaker(settings, synthesizer=synth, player=FilePlayer()) as speaker:
        speaker.say("step.materials", language="zh")
        speaker.wait_idle(10)
        assert synth.calls == 1
        speaker.say("step.materials", language="zh")
        speaker.wait_idle(10)
        assert synth.calls == 1 and speaker.stats.cache_hits == 1
    with Speaker(settings, synthesizer=synth, player=FilePlayer()) as again:
        again.say("step.materials", language="zh")
        again.wait_idle(10)
        assert synth.calls == 1 and again.stats.cache_hits == 1


def test_prewarm_fills_the_cache_so_saying_needs_no_synthesis(settings, synth, prompts):
    keys = [k for k in prompts.keys() if k.startswith("step.")][:5]
    with Speaker(settings, synthesizer=synth, player=FilePlayer()) as speaker:
        job = speaker.prewarm(keys, languages=("zh", "en"))
        assert job.wait(30)
        assert (job.synthesized, job.failed) == (len(keys) * 2 * 2, 0)   # 2 langs x 2 rates
        calls = synth.calls
        for key in keys:
            speaker.say(key, language="en", interrupt=False)
        speaker.elder(True)
        speaker.say(keys[0], language="zh", interrupt=False)
        speaker.wait_idle(10)
        assert synth.calls == calls
        assert speaker.stats.cache_hits == len(keys) + 1
        again = speaker.prewarm(keys, languages=("zh",))
        assert again.wait(10) and again.already_cached == len(keys) * 2


def test_dynamic_text_and_personal_params_are_never_cached(settings, synth):
    with Speaker(settings, synthesizer=synth, player=FilePlayer()) as speaker:
        speaker.say_text("Your case number is 2024 0012.", language="en")
        speaker.wait_idle(10)
        speaker.say_text("Your case number is 2024 0012.", language="en")
        speaker.wait_idle(10)
        assert synth.calls == 2 and speaker.stats.cache_hits == 0
        key = next(k for k in speaker.prompts.keys()
                   if "{device}" in speaker.prompts.template(k, "en"))
        speaker.say(key, {"device": "110101199003071234"}, language="en")
        speaker.wait_idle(10)
        assert synth.calls == 3
        assert speaker.cache.entries() == []


def test_dynamic_prompt_with_params_is_synthesised_and_cached(settings, synth):
    player = FilePlayer()
    with Speaker(settings, synthesizer=synth, player=player) as speaker:
        key = next(k for k in speaker.prompts.keys()
                   if "{seconds}" in speaker.prompts.template(k, "zh"))
        speaker.say(key, {"seconds": 20}, language="zh")
        speaker.wait_idle(10)
        speaker.say(key, {"seconds": 20}, language="zh")
        speaker.wait_idle(10)
        assert "20" in player.clips[0].utterance.text
        assert synth.calls == 1 and len(speaker.cache.entries()) == 1
        with pytest.raises(VoiceError) as err:
            speaker.say(key, language="zh")
        assert err.value.reason_key == "voice.prompt_params"


def test_null_backend_records_everything_that_would_be_said(tmp_path):
    nb = NullBackend()
    settings = VoiceSettings(cache_dir=tmp_path / "c", audio_device="null")
    with Speaker(settings, synthesizer=nb, player=nb) as speaker:
        speaker.say("step.attract", language="zh")
        speaker.wait_idle(5)
        speaker.set_volume(0.5)
        speaker.elder(True)
        speaker.say("step.attract", language="en")
        speaker.wait_idle(5)
    zh = speaker.prompts.text("step.attract", "zh")
    en = speaker.prompts.text("step.attract", "en")
    assert nb.records == [SpokenRecord("step.attract", zh, "zh", 170, 0.8),
                          SpokenRecord("step.attract", en, "en", 128, 0.5)]


class FailingSynth:
    name = cache_tag = "failing"

    def __init__(self, inner):
        self.inner, self.fail = inner, True

    def voices(self):
        return self.inner.voices()

    def synthesize(self, text, voice, rate, out_path):
        if self.fail:
            raise VoiceError("engine broke", "voice.synthesis_failed")
        self.inner.synthesize(text, voice, rate, out_path)


def test_errors_reach_the_listener_and_the_worker_survives(settings, espeak, events):
    synth = FailingSynth(espeak)
    with Speaker(settings, synthesizer=synth, player=FilePlayer(), listener=events) as speaker:
        speaker.say("step.attract")
        assert events.wait_for("error", "step.attract").reason_key == "voice.synthesis_failed"
        synth.fail = False
        speaker.say("step.attract")
        events.wait_for("finished", "step.attract")
        with pytest.raises(VoiceError) as err:
            speaker.say("no.such.prompt")
        assert err.value.reason_key == "voice.unknown_prompt"
    with pytest.raises(VoiceError) as err:
        speaker.say("step.attract")
    assert err.value.reason_key == "voice.closed"


def test_unknown_voice_in_settings_stops_start_up(settings, espeak):
    with pytest.raises(VoiceError) as err:
        Speaker(settings.with_(voices={"zh": "klingon", "en": "en-us"}), synthesizer=espeak,
                player=FilePlayer())
    assert err.value.reason_key == "voice.unknown_voice"
