"""Mandarin reading table: polyphones, 一/不, numbers, dates, times, phone and case numbers.

What the pinyin voice is given is checked as text here; test_prompt_phonemes.py checks what
espeak-ng makes of every prompt.
"""
import pytest

from voice.mandarin import is_speakable, speakable_mandarin
from voice.reading import speakable

POLYPHONES = [
    ("银行", "yin2 hang2"),
    ("执行", "zhi2 xing2"),
    ("重新", "chong2 xin1"),
    ("重要", "zhong4 yao4"),
    ("长期", "chang2 qi1"),
    ("镇长", "zhen4 zhang3"),
    ("还款", "huan2 kuan3"),
    ("还有", "hai2 you3"),
    ("行李", "xing2 li3"),
    ("营业执照", "ying2 ye4 zhi2 zhao4"),
]

NUMBERS = [
    ("20 个工作日", "er4 shi2 ge4 gong1 zuo4 ri4"),
    ("需要 2 页", "xu1 yao4 liang3 ye4"),
    ("12.5 元", "shi2 er4 dian3 wu3 yuan2"),
    ("15", "shi2 wu3"),
    ("105", "yi1 bai3 ling2 wu3"),
    ("1005", "yi1 qian1 ling2 wu3"),
    ("09:00", "jiu3 dian3 zheng3"),
    ("21:05", "er4 shi2 yi1 dian3 ling2 wu3 fen1"),
    ("2026-12-05", "er4 ling2 er4 liu4 nian2 shi2 er4 yue4 wu3 ri4"),
    ("2026年1月15日", "er4 ling2 er4 liu4 nian2 yi1 yue4 shi2 wu3 ri4"),
    ("拨打12345", "bo1 da3 yao1 er4 san1 si4 wu3"),
    ("13812345678", "yao1 san1 ba1 yao1 er4 san1 si4 wu3 liu4 qi1 ba1"),
    ("0833-2134567", "ling2 ba1 san1 san1 er4 yao1 san1 si4 wu3 liu4 qi1"),
    ("尾号1234X", "wei3 hao4 yi1 er4 san1 si4 ai2 ke4 si1"),
    ("T-001-20261205-614X-0001",
     "ti4, ling2 ling2 yi1, er4 ling2 er4 liu4 yi1 er4 ling2 wu3, liu4 yi1 si4 ai2 ke4 si1, "
     "ling2 ling2 ling2 yi1"),
    ("LS-001-20261205-000123",
     "ai2 le5 ai2 si1, ling2 ling2 yi1, er4 ling2 er4 liu4 yi1 er4 ling2 wu3, "
     "ling2 ling2 ling2 yi1 er4 san1"),
]

SANDHI = [
    ("下一步", "xia4 yi2 bu4"),
    ("一起", "yi4 qi3"),
    ("第一", "di4 yi1"),
    ("一月", "yi1 yue4"),
    ("不对", "bu2 dui4"),
    ("不好", "bu4 hao3"),
]


@pytest.mark.parametrize("text,pinyin", POLYPHONES + NUMBERS + SANDHI)
def test_reading_table(text, pinyin):
    assert speakable_mandarin(text) == pinyin


def test_punctuation_becomes_pauses_and_marks_are_dropped():
    assert speakable_mandarin("您好，请点“下一步”。") == "nin2 hao3, qing3 dian3 xia4 yi2 bu4."
    assert speakable_mandarin("（可选）《营业执照》") == "ke3 xuan3, ying2 ye4 zhi2 zhao4"


@pytest.mark.parametrize("text", ["PIN 码", "QR 码", "24/7", "7×24 小时", "100%", "A+B", "＊＊＊", "#", "é"])
def test_odd_input_still_gives_only_syllables(text):
    spoken = speakable_mandarin(text)
    assert spoken == "" or is_speakable(spoken), spoken


def test_english_reads_case_numbers_phones_and_dates_like_a_clerk():
    assert speakable("Case T-001-20261205-614X-0001.", "en") == \
        "Case T, 0 0 1, 2 0 2 6 1 2 0 5, 6 1 4 X, 0 0 0 1."
    said = speakable("Case LS-001-20261205-000123, call 12345 by 2026-12-05.", "en")
    assert said == ("Case L S, 0 0 1, 2 0 2 6 1 2 0 5, 0 0 0 1 2 3, call 1 2 3 4 5 "
                    "by 5 December 2026.")


class RecordingSynth:
    """A real synthesiser that also notes what it was given."""

    def __init__(self, inner):
        self.inner, self.name, self.cache_tag = inner, inner.name, inner.cache_tag
        self.given: list[tuple[str, str, int]] = []

    def voices(self):
        return self.inner.voices()

    def synthesize(self, text, voice, rate, out_path):
        self.given.append((text, voice, rate))
        self.inner.synthesize(text, voice, rate, out_path)


def test_the_speaker_gives_the_voice_pinyin_at_a_natural_pace_and_slower_for_elders(
        espeak, tmp_path):
    from voice import FilePlayer, Speaker, VoiceSettings, WavAudio

    synth = RecordingSynth(espeak)
    settings = VoiceSettings(cache_dir=tmp_path / "cache")
    with Speaker(settings, synthesizer=synth, player=FilePlayer()) as speaker:
        for language, elder in (("zh", False), ("en", False), ("zh", True)):
            speaker.elder(elder)
            speaker.say("step.id_card", language=language)
            speaker.wait_idle(30)
    (normal, voice, rate), (english, en_voice, en_rate), (elder, _, elder_rate) = synth.given
    assert voice == "cmn-latn-pinyin" and en_voice == "en-us"
    assert normal == elder == speakable_mandarin("请把身份证放在下方的读卡区，放好不要移动。")
    assert english.startswith("Please place your ID card")
    assert rate == round(settings.rate * 1.2) and en_rate == settings.rate
    assert 0.7 <= elder_rate / rate <= 0.8
    # 19 syllables: about four a second at the normal pace (8 s with the old cmn voice).
    out = tmp_path / "normal.wav"
    espeak.synthesize(normal, voice, rate, out)
    assert 3.5 <= WavAudio.read(out).duration_s <= 6.0
