"""Every `step.*` prompt has zh and en text and synthesises to plausible audio in both."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from voice import EspeakCliBackend, PromptBook, VoiceError, WavAudio
from voice.prompts import PROMPTS_YAML
from voice.reading import speakable
from voice.settings import VoiceSettings

from tests.voice.samples import sample_params

RATE = 170
SETTINGS = VoiceSettings()
VOICES = {"zh": SETTINGS.voice_for("zh"), "en": SETTINGS.voice_for("en")}


def step_keys() -> list[str]:
    data = yaml.safe_load(PROMPTS_YAML.read_text(encoding="utf-8"))
    return sorted(k for k in data if k.startswith("step."))


def test_step_prompts_have_zh_and_en_text():
    data = yaml.safe_load(PROMPTS_YAML.read_text(encoding="utf-8"))
    keys = step_keys()
    assert len(keys) >= 10
    for key in keys:
        for lang in ("zh", "en"):
            assert isinstance(data[key].get(lang), str) and data[key][lang].strip(), (key, lang)


def plausible_seconds(text: str, language: str) -> tuple[float, float]:
    if language == "zh":
        n = len(re.findall(r"[\u4e00-\u9fff]", text))
        return 0.1 * n, 0.8 * n + 1.5
    words = len(text.split())
    minutes = words / RATE
    return 0.3 * minutes * 60, 3.0 * minutes * 60 + 1.5


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_step_prompt_synthesises_to_plausible_wav(espeak, prompts, tmp_path, language):
    for key in step_keys():
        text = prompts.text(key, language, sample_params(prompts, key, language))
        out = tmp_path / f"{key}.{language}.wav"
        espeak.synthesize(speakable(text, language), VOICES[language],
                          SETTINGS.synthesis_rate(language, RATE), out)
        audio = WavAudio.read(out)
        low, high = plausible_seconds(text, language)
        assert low <= audio.duration_s <= high, (key, language, audio.duration_s, low, high)
        assert audio.peak() > 1000, (key, language)       # not silence


def test_cli_fallback_says_the_same_as_pyttsx3(espeak, prompts, tmp_path):
    cli = EspeakCliBackend()
    text = prompts.text("step.id_card", "zh")
    espeak.synthesize(text, "cmn", RATE, tmp_path / "a.wav")
    cli.synthesize(text, "cmn", RATE, tmp_path / "b.wav")
    a, b = WavAudio.read(tmp_path / "a.wav"), WavAudio.read(tmp_path / "b.wav")
    assert a.frame_rate == b.frame_rate == 22050
    assert abs(a.duration_s - b.duration_s) < 0.05 * b.duration_s


@pytest.mark.parametrize("backend", ["pyttsx3", "cli"])
def test_unknown_voice_is_refused_not_ignored(espeak, tmp_path, backend):
    b = espeak if backend == "pyttsx3" else EspeakCliBackend()
    with pytest.raises(VoiceError) as err:
        b.synthesize("hello", "no-such-voice", RATE, tmp_path / "x.wav")
    assert err.value.reason_key == "voice.unknown_voice"
    assert not (tmp_path / "x.wav").exists()


def test_rate_changes_duration(espeak, tmp_path):
    espeak.synthesize("Please place your ID card on the reader.", "en-us", 200, tmp_path / "f.wav")
    espeak.synthesize("Please place your ID card on the reader.", "en-us", 100, tmp_path / "s.wav")
    fast, slow = WavAudio.read(tmp_path / "f.wav"), WavAudio.read(tmp_path / "s.wav")
    assert slow.duration_s > 1.5 * fast.duration_s


def test_prompt_book_fills_and_checks_params(prompts):
    key = next(k for k in prompts.keys() if "{seconds}" in prompts.template(k, "zh"))
    assert "30" in prompts.text(key, "zh", {"seconds": 30})
    for bad in (None, {}, {"seconds": 30, "extra": 1}):
        with pytest.raises(VoiceError) as err:
            prompts.text(key, "en", bad)
        assert err.value.reason_key == "voice.prompt_params"
    with pytest.raises(VoiceError) as err:
        prompts.text("step.no_such_step", "zh")
    assert err.value.reason_key == "voice.unknown_prompt"
    with pytest.raises(VoiceError) as err:
        prompts.text("step.attract", "fr")
    assert err.value.reason_key == "voice.unknown_language"


def test_prompt_book_rejects_missing_language(tmp_path: Path):
    f = tmp_path / "p.yaml"
    f.write_text('step.a:\n  zh: "好"\n  en: ""\nstep.b:\n  zh: "好"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"step\.a: missing or empty en.*step\.b: missing or empty en"):
        PromptBook.load(f)
