"""What the synthesiser is given for a text shown on screen: `speakable(text, language)`.

Mandarin becomes toned pinyin for espeak-ng's `cmn-latn-pinyin` voice (`voice.mandarin`).
English keeps its words; only what espeak-ng's English voice reads wrongly is rewritten: case
numbers and phone numbers are read digit by digit, letters spelled ("LS-SZ-001-20261205-000123"
would otherwise be "twenty million..."), ISO dates as "5 December 2026" (and "12-06 09:00" as "6 December, 09:00").
"""
from __future__ import annotations

import datetime as dt
import re

from voice.mandarin import speakable_mandarin

PINYIN_VOICE = "cmn-latn-pinyin"

# The case number's two forms (protocol.packet.CASE_NUMBER): TERMINAL-YYYYMMDD-INST-SEQ, and the
# older TERMINAL-YYYYMMDD-NNNNNN.
_EN_CASE = re.compile(r"\b[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}-\d{8}-(?:[0-9A-Z]{4}-\d{4,6}|\d{6})\b")
_EN_PHONE = re.compile(r"(?<![\d-])(?:1[3-9]\d{9}|0\d{2,3}-\d{7,8}|12\d{3}|95\d{3})(?![\d-])")
_EN_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_EN_MONTH_DAY = re.compile(r"(?<![\d-])(1[0-2]|0?[1-9])-(3[01]|[0-2]?\d)(?=\s+\d{1,2}:\d{2})")


def speakable(text: str, language: str) -> str:
    """The text as the voice for `language` should be given it."""
    if language == "zh":
        return speakable_mandarin(text)
    return speakable_english(text)


def speakable_english(text: str) -> str:
    text = _EN_CASE.sub(lambda m: _spell_en(m.group(0)), text)
    text = _EN_DATE.sub(_en_date, text)
    text = _EN_MONTH_DAY.sub(_en_month_day, text)
    return _EN_PHONE.sub(lambda m: _spell_en(m.group(0)), text)


def _spell_en(chars: str) -> str:
    groups = re.split(r"[-_.]", chars)
    return ", ".join(" ".join(g.upper()) for g in groups if g)


def _en_date(m: re.Match) -> str:
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return _spell_en(m.group(0))
    return f"{day.day} {day:%B} {day.year}"


def _en_month_day(m: re.Match) -> str:
    try:
        day = dt.date(2000, int(m.group(1)), int(m.group(2)))
    except ValueError:
        return m.group(0)
    return f"{day.day} {day:%B},"
