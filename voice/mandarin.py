"""Chinese text -> the toned pinyin that espeak-ng's `cmn-latn-pinyin` voice reads right.

Debian 12's espeak-ng 1.51 `cmn` voice turns each character into pinyin with a tone digit and
then reads the digit as an English word ("ni-three hao-three"). The same text as toned pinyin
(`ni3 hao3`) through the `cmn-latn-pinyin` voice is Mandarin. `speakable_mandarin(text)` makes
that pinyin, reading what is not a Chinese character the way a clerk would:

* characters: pypinyin with its phrase dictionary (polyphones 银行 hang2 / 执行 xing2, 重新
  chong2 / 重要 zhong4, 镇长 zhang3 / 长期 chang2) plus `PHRASE_OVERRIDES` for the words it
  gets wrong; 一/不 tone changes applied;
* case numbers (`TERMINAL-YYYYMMDD-INST-SEQ`, and the older `TERMINAL-YYYYMMDD-NNNNNN`), ID-number fragments and long digit runs: digit
  by digit, letters spelled the way Chinese speakers say them (A = ei1, X = ai2 ke4 si1);
* phone numbers (mobile, landline, 12345-style hotlines, or digits after 电话/热线/拨打):
  digit by digit with 1 read yao1;
* dates (2026-12-05, 2026年12月5日, 12-06 before a time) as 年月日, times (09:00) as 点/分, amounts and small
  numbers as numbers (20 -> er4 shi2, 2 before a measure word -> liang3, 12.5 -> shi2 er4 dian3
  wu3);
* punctuation becomes a pause ("," or "."); brackets and quotes are dropped.

The result holds only pinyin syllables with tone digits 1-5, spaces, "," and ".": nothing the
voice could take for English. Pure functions; no global state. pypinyin is imported at first use: its dictionaries take
150 ms to load, which the speech worker process does not need.
"""
from __future__ import annotations

import re
from functools import lru_cache

DIGITS = ("ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3")
PHONE_DIGITS = ("ling2", "yao1") + DIGITS[2:]

# How Chinese speakers name Latin letters (used to spell case numbers and abbreviations).
LETTERS = {
    "a": "ei1", "b": "bi4", "c": "xi1", "d": "di4", "e": "yi4", "f": "ai2 fu1", "g": "ji4",
    "h": "ai2 qi1", "i": "ai4", "j": "jie4", "k": "kai4", "l": "ai2 le5", "m": "ai2 mu5",
    "n": "en1", "o": "ou1", "p": "pi4", "q": "kou4", "r": "a4 er5", "s": "ai2 si1", "t": "ti4",
    "u": "you1", "v": "wei1", "w": "da2 bu5 liu1", "x": "ai2 ke4 si1", "y": "wai4", "z": "zei4",
}

# Words pypinyin 0.55 reads wrong in the catalogue's sense.
PHRASE_OVERRIDES = {
    "还款": "huan2 kuan3", "退还": "tui4 huan2", "归还": "gui1 huan2", "偿还": "chang2 huan2",
    "重复": "chong2 fu4", "长者": "zhang3 zhe3", "行业": "hang2 ye4", "银行卡": "yin2 hang2 ka3",
    "单位": "dan1 wei4", "便民": "bian4 min2", "应当": "ying1 dang1", "供养": "gong4 yang3",
    "处理": "chu3 li3", "办理处": "ban4 li3 chu4",
}

MEASURE_WORDS = set("个份页张次天周年岁本项件名位种类人户元层号")
PHONE_CONTEXT = re.compile(r"(电话|热线|拨打|致电|手机|联系|咨询|号码)[^\d]{0,4}$")
CODE_CONTEXT = re.compile(r"(尾号|编号|证号|代码|验证码|密码|工号|终端|末尾|后四位)[^\d]{0,3}$")

SHORT_PAUSE = set("，、；：,;:（）()—–/|·…~～")
LONG_PAUSE = set("。！？!?\n")
DROPPED = set("《》「」『』“”‘’\"'【】[]<>#*_=")

_TOKEN = re.compile(
    r"(?P<case>\b[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}-\d{8}-(?:[0-9A-Z]{4}-\d{4,6}|\d{6})\b)"
    r"|(?P<date>(?P<y>\d{4})\s*(?:年|-|/|\.)\s*(?P<m>\d{1,2})\s*(?:月|-|/|\.)\s*(?P<d>\d{1,2})\s*[日号]?)"
    r"|(?P<yearmonth>(?P<ym_y>\d{4})\s*年\s*(?P<ym_m>\d{1,2})\s*月)"
    r"|(?P<year>(?P<yy>\d{4})\s*年)"
    r"|(?P<monthday>(?<![\d-])(?P<md_m>1[0-2]|0?[1-9])-(?P<md_d>3[01]|[0-2]?\d)(?=\s+\d{1,2}[:：]\d{2}))"
    r"|(?P<time>(?P<hh>[01]?\d|2[0-3])\s*[:：]\s*(?P<mm>[0-5]\d))"
    r"|(?P<landline>\b0\d{2,3}-\d{7,8}\b)"
    r"|(?P<mobile>(?<!\d)1[3-9]\d{9}(?!\d))"
    r"|(?P<hotline>(?<!\d)(?:12\d{3}|95\d{3})(?!\d))"
    r"|(?P<idfrag>(?<![A-Za-z0-9])\d{3,}[Xx](?![A-Za-z0-9]))"
    r"|(?P<percent>\d+(?:\.\d+)?\s*[%％])"
    r"|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<latin>[A-Za-z]+)"
    r"|(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|(?P<other>.)",
    re.S,
)

_SYLLABLE = re.compile(r"^[a-z]+[1-5]$")


def speakable_mandarin(text: str) -> str:
    """Toned pinyin for espeak-ng's cmn-latn-pinyin voice (see the module docstring)."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup if m.lastgroup in _READERS else _outer_group(m)
        out.append(_READERS[kind](m, text))
    return _tidy(" ".join(p for p in out if p))


def is_speakable(pinyin: str) -> bool:
    """True when `pinyin` holds only toned syllables, spaces and pauses (what the voice needs)."""
    words = pinyin.replace(",", " ").replace(".", " ").split()
    return bool(words) and all(_SYLLABLE.match(w) for w in words)


def digits_one_by_one(digits: str, phone: bool = False) -> str:
    table = PHONE_DIGITS if phone else DIGITS
    return " ".join(table[int(d)] for d in digits if d.isdigit())


def spell(chars: str) -> str:
    """Letters named, digits one by one, separators as a short pause."""
    parts = []
    for ch in chars:
        if ch.isdigit():
            parts.append(DIGITS[int(ch)])
        elif ch.lower() in LETTERS:
            parts.append(LETTERS[ch.lower()])
        elif ch in "-_.":
            parts.append(",")
    return " ".join(parts)


def number(text: str) -> str:
    """A number as a number: 0..99 999 999 with 万, decimals after 点."""
    whole, _, frac = text.partition(".")
    whole = whole.lstrip("0") or "0"
    if len(whole) > 8:
        spoken = digits_one_by_one(whole)
    else:
        spoken = _integer(int(whole))
    if frac:
        spoken += " dian3 " + digits_one_by_one(frac)
    return spoken


def _integer(n: int) -> str:
    if n < 10000:
        return _below_10000(n, leading=True)
    high, low = divmod(n, 10000)
    spoken = _below_10000(high, leading=True) + " wan4"
    if low:
        spoken += (" ling2 " if low < 1000 else " ") + _below_10000(low, leading=False)
    return spoken


def _below_10000(n: int, leading: bool) -> str:
    if n == 0:
        return "ling2"
    units = ((1000, "qian1"), (100, "bai3"), (10, "shi2"), (1, ""))
    parts: list[str] = []
    zero_pending = False
    started = False
    for value, name in units:
        digit = (n // value) % 10
        if digit == 0:
            zero_pending = started
            continue
        if zero_pending:
            parts.append("ling2")
            zero_pending = False
        if value == 10 and digit == 1 and not started and leading:
            parts.append("shi2")          # 10..19 said "shi2 ...", not "yi1 shi2"
        else:
            word = "liang3" if digit == 2 and value >= 1000 else DIGITS[digit]
            parts.append(f"{word} {name}".strip())
        started = True
    return " ".join(parts)


def _read_case(m: re.Match, _text: str) -> str:
    return spell(m.group("case"))


def _read_date(m: re.Match, _text: str) -> str:
    return (f"{digits_one_by_one(m.group('y'))} nian2 {_integer(int(m.group('m')))} yue4 "
            f"{_integer(int(m.group('d')))} ri4")


def _read_yearmonth(m: re.Match, _text: str) -> str:
    return f"{digits_one_by_one(m.group('ym_y'))} nian2 {_integer(int(m.group('ym_m')))} yue4"


def _read_year(m: re.Match, _text: str) -> str:
    return f"{digits_one_by_one(m.group('yy'))} nian2"


def _read_monthday(m: re.Match, _text: str) -> str:
    return f"{_integer(int(m.group('md_m')))} yue4 {_integer(int(m.group('md_d')))} ri4"


def _read_time(m: re.Match, _text: str) -> str:
    hour, minute = int(m.group("hh")), int(m.group("mm"))
    spoken = ("liang3" if hour == 2 else _integer(hour)) + " dian3"
    if minute == 0:
        return spoken + " zheng3"
    return spoken + (" ling2 " if minute < 10 else " ") + _integer(minute) + " fen1"


def _read_phone(m: re.Match, _text: str) -> str:
    return digits_one_by_one(m.group(0), phone=True)


def _read_percent(m: re.Match, _text: str) -> str:
    value = re.sub(r"\s*[%％]", "", m.group("percent"))
    return "bai3 fen1 zhi1 " + number(value)


def _read_number(m: re.Match, text: str) -> str:
    digits = m.group("number")
    before = text[max(0, m.start() - 8):m.start()]
    after = text[m.end():m.end() + 3].lstrip()[:1]
    if PHONE_CONTEXT.search(before) and "." not in digits and len(digits) >= 3:
        return digits_one_by_one(digits, phone=True)
    if "." not in digits and (len(digits) >= 5 or (len(digits) > 1 and digits.startswith("0"))
                              or CODE_CONTEXT.search(before)):
        return digits_one_by_one(digits)     # ID-number fragments, codes, long runs
    if digits == "2" and after and after in MEASURE_WORDS:
        return "liang3"
    return number(digits)


def _read_idfrag(m: re.Match, _text: str) -> str:
    return spell(m.group("idfrag"))


def _read_latin(m: re.Match, _text: str) -> str:
    return spell(m.group("latin"))


def _read_han(m: re.Match, _text: str) -> str:
    return " ".join(_han_pinyin(piece) for piece in _split_overrides(m.group("han")))


def _read_other(m: re.Match, _text: str) -> str:
    ch = m.group("other")
    if ch in LONG_PAUSE:
        return "."
    if ch in SHORT_PAUSE or ch == "-":
        return ","
    if ch in ("+", "＋"):
        return "jia1"
    if ch in ("×",):
        return "cheng2"
    return ""          # spaces, dropped marks, symbols the voice must not spell


_READERS = {
    "case": _read_case, "date": _read_date, "yearmonth": _read_yearmonth, "year": _read_year, "monthday": _read_monthday,
    "time": _read_time, "landline": _read_phone, "mobile": _read_phone, "hotline": _read_phone,
    "idfrag": _read_idfrag, "percent": _read_percent, "number": _read_number, "latin": _read_latin, "han": _read_han,
    "other": _read_other,
}


def _outer_group(m: re.Match) -> str:
    for name in _READERS:
        if m.group(name) is not None:
            return name
    return "other"


_OVERRIDE_PATTERN = re.compile("|".join(sorted(map(re.escape, PHRASE_OVERRIDES), key=len,
                                               reverse=True)))


def _split_overrides(han: str) -> list[str]:
    """Cut a run of characters so that override words stand alone."""
    pieces: list[str] = []
    last = 0
    for m in _OVERRIDE_PATTERN.finditer(han):
        if m.start() > last:
            pieces.append(han[last:m.start()])
        pieces.append(m.group(0))
        last = m.end()
    if last < len(han):
        pieces.append(han[last:])
    return pieces


@lru_cache(maxsize=4096)
def _han_pinyin(han: str) -> str:
    if han in PHRASE_OVERRIDES:
        return PHRASE_OVERRIDES[han]
    from pypinyin import Style, lazy_pinyin   # 150 ms of dictionaries: not in every importer

    syllables = [s.replace("ü", "v") for s in
                 lazy_pinyin(han, style=Style.TONE3, neutral_tone_with_five=True)]
    if len(syllables) != len(han):          # pypinyin dropped something: read what it gave
        return " ".join(s for s in syllables if _SYLLABLE.match(s))
    return " ".join(_yi_bu_sandhi(han, syllables))


def _yi_bu_sandhi(han: str, syllables: list[str]) -> list[str]:
    """一 and 不 change tone before another syllable (espeak-ng does the third-tone change).

    不 before a fourth tone is bu2. 一 keeps yi1 when counted (第一, 十一, 一月, at the end of a
    word run); otherwise it is yi2 before a fourth tone and yi4 before the others.
    """
    out = list(syllables)
    for i, (ch, syl) in enumerate(zip(han, syllables)):
        nxt = syllables[i + 1] if i + 1 < len(syllables) else ""
        if not nxt or not _SYLLABLE.match(syl):
            continue
        if ch == "不" and nxt.endswith("4"):
            out[i] = "bu2"
        elif ch == "一":
            counted = (i > 0 and han[i - 1] in "第十初唯统万") or han[i + 1] in "月号日楼层"
            if counted:
                out[i] = "yi1"
            elif not nxt.endswith("5"):
                out[i] = "yi2" if nxt.endswith("4") else "yi4"
    return out


def _tidy(spoken: str) -> str:
    """One pause where several meet, none at the start, a space after each."""
    spoken = re.sub(r"\s+", " ", spoken).strip()
    spoken = re.sub(r"\s*([,.])(\s*[,.])+", lambda m: "." if "." in m.group(0) else ",", spoken)
    spoken = re.sub(r"\s*([,.])\s*", r"\1 ", spoken).strip()
    return spoken.lstrip(",. ").strip()
