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
        self._freq = char_freq
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
        """Candidates for what was typed so far, in this order: whole words by full pinyin; the
        characters of a whole syllable ("ce" -> 测) or the commonest of a syllable being typed
        ("zh" -> 中, 这, 张); words by initials ("cd"); then characters of the first syllable."""
        key = re.sub(r"[^a-z]", "", typed.lower().replace("ü", "v"))
        if not key:
            return []
        out: list[str] = list(self._words.get(key, [])[:limit])

        def add(items) -> None:
            out.extend(c for c in items if c not in out)
        first = self._first_syllable(key)
        if key in self._chars:
            add(self._chars[key][:limit])
        elif first is None:
            pool = {c for syl, cs in self._chars.items() if syl.startswith(key) for c in cs}
            add(sorted(pool, key=lambda c: (-self._freq[c], c))[:max(limit // 2, 6)])
        if len(key) <= 4:
            add(self._initials.get(key, [])[:limit])
        if first:
            add(self._chars[first])
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
