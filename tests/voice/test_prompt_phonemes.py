"""Every prompt and every matter's texts, as the kiosk's voice reads them, checked from
espeak-ng's own phoneme output (`espeak-ng -v VOICE -x -q`):

* a Chinese text never switches to English (`(en)` in the phonemes): Debian 12's `cmn` voice
  read "你好" as "ni-three hao-three";
* every pinyin syllable given to the voice comes out as one toned syllable: no tone digit is
  read as a number or a word;
* an English text stays English.

The texts go through `voice.reading.speakable` and the voice `VoiceSettings().voice_for`, which
is what `voice.speaker.Speaker` gives the synthesiser.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from flows.catalog import load_catalog
from voice.mandarin import is_speakable
from voice.prompts import PromptBook
from voice.reading import speakable
from voice.settings import VoiceSettings

from tests.voice.samples import sample_params

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")

# A tone as espeak-ng writes it after a pinyin syllable: 55, 35, 214, 51, 11, 33, 44 ...
TONE = re.compile(r"[1-5]{2,3}")


def prompt_texts(language: str) -> list[tuple[str, str]]:
    book = PromptBook.load()
    out = []
    for key in book.keys():
        out.append((key, book.text(key, language, sample_params(book, key, language))))
    return out


def matter_texts(language: str) -> list[tuple[str, str]]:
    cat = load_catalog()
    out = []
    for code, m in sorted(cat.matters.items()):
        out.append((f"{code}.name", m.name.get(language)))
        out.append((f"{code}.summary", m.summary.get(language)))
        out.append((f"{code}.place", m.place.get(language)))
        for i, step in enumerate(m.procedure):
            out.append((f"{code}.procedure.{i}", step.get(language)))
        for q in m.form:
            out.append((f"{code}.form.{q.key}", q.label.get(language)))
        for ref in m.materials:
            out.append((f"{code}.material.{ref.material}", cat.materials[ref.material].name.get(language)))
    return out


def phonemes(text: str, voice: str) -> str:
    done = subprocess.run(["espeak-ng", "-v", voice, "-x", "-q", "--stdin"], input=text,
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


def all_texts(language: str) -> list[tuple[str, str]]:
    return prompt_texts(language) + matter_texts(language)


def test_the_kiosk_speaks_chinese_with_the_pinyin_voice():
    assert VoiceSettings().voice_for("zh") == "cmn-latn-pinyin"


def test_every_chinese_text_is_toned_pinyin_read_as_mandarin():
    voice = VoiceSettings().voice_for("zh")
    texts = all_texts("zh")
    assert len(texts) > 400
    problems = []
    for name, text in texts:
        given = speakable(text, "zh")
        if not given:
            continue
        if not is_speakable(given):
            problems.append(f"{name}: not pure pinyin: {given!r}")
            continue
        said = phonemes(given, voice)
        syllables = len(given.replace(",", " ").replace(".", " ").split())
        tones = len(TONE.findall(said))
        if "(en)" in said or tones != syllables:
            problems.append(f"{name}: {text!r} -> {given!r} -> {said.strip()!r} "
                            f"({syllables} syllables, {tones} tones)")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} in all)"


def test_every_english_text_stays_english():
    voice = VoiceSettings().voice_for("en")
    problems = []
    for name, text in all_texts("en"):
        said = phonemes(speakable(text, "en"), voice)
        if re.search(r"\((?!en\))[a-z-]+\)", said):
            problems.append(f"{name}: {text!r} -> {said.strip()!r}")
    assert not problems, "\n".join(problems[:20])
