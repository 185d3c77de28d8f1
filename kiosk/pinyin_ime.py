"""A small pinyin input method for the on-screen keyboard (no Kivy here, so it is testable).

Typing toneless pinyin ("zhang", "chengdu") gives candidate characters and words. The index is
built from pypinyin's character and phrase dictionaries; candidates are ordered by how many
phrases a character or word appears in, a usable stand-in for frequency. Words are matched by
whole-syllable pinyin ("chengdu") and by initials ("cd"). Construction takes ~0.5 s, so the app
builds it in a background thread at start.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict


def _plain(syllable: str) -> str:
    """'zhāng' -> 'zhang', 'lǜ' -> 'lv'."""
    s = syllable.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v").replace("ǚ", "v") \
        .replace("ǜ", "v")
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


class PinyinIME:
    def __init__(self, max_word_len: int = 4):
        from pypinyin.phrases_dict import phrases_dict
        from pypinyin.pinyin_dict import pinyin_dict

        char_freq: Counter = Counter()
        for phrase in phrases_dict:
            char_freq.update(phrase)
        chars: dict[str, set[str]] = defaultdict(set)
        for code, readings in pinyin_dict.items():
            ch = chr(code)
            if not ("\u4e00" <= ch <= "\u9fff"):
                continue
            for r in readings.split(","):
                chars[_plain(r)].add(ch)
        self._chars = {py: sorted(cs, key=lambda c: (-char_freq[c], c)) for py, cs in chars.items()}
        words: dict[str, list[str]] = defaultdict(list)
        initials: dict[str, list[str]] = defaultdict(list)
        for phrase, readings in phrases_dict.items():
            if 2 <= len(phrase) <= max_word_len:
                sylls = [_plain(r[0]) for r in readings]
                words["".join(sylls)].append(phrase)
                initials["".join(s[0] for s in sylls)].append(phrase)
        word_rank = lambda w: (-sum(char_freq[c] for c in w), w)  # noqa: E731
        self._words = {k: sorted(v, key=word_rank) for k, v in words.items()}
        self._initials = {k: sorted(v, key=word_rank) for k, v in initials.items()}
        self._syllables = sorted(self._chars, key=len, reverse=True)

    def candidates(self, typed: str, limit: int = 12) -> list[str]:
        """Candidates for what was typed so far: whole words first, then characters."""
        key = re.sub(r"[^a-z]", "", typed.lower().replace("ü", "v"))
        if not key:
            return []
        out: list[str] = []
        out += self._words.get(key, [])[:limit]
        if len(key) <= 4:
            out += [w for w in self._initials.get(key, [])[:limit] if w not in out]
        first = self._first_syllable(key)
        if first:
            out += [c for c in self._chars[first] if c not in out]
        elif key in self._chars:
            out += self._chars[key]
        else:  # a prefix of a syllable: "zh" -> characters of zha, zhang, ...
            for syl in sorted(s for s in self._chars if s.startswith(key)):
                out += [c for c in self._chars[syl][:3] if c not in out]
        return out[:limit]

    def _first_syllable(self, key: str) -> str | None:
        for syl in self._syllables:
            if key.startswith(syl) and (len(key) == len(syl) or key[len(syl):][0] not in "aeiouv"):
                return syl
        return None

    def consume(self, typed: str, chosen: str) -> str:
        """Pinyin left over after choosing `chosen` (one character eats its first syllable)."""
        key = typed.lower()
        if len(chosen) > 1:
            return ""
        syl = self._first_syllable(key)
        return key[len(syl):] if syl else ""
