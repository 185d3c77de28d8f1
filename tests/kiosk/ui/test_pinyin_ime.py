"""The pinyin input method behind the on-screen keyboard (no Kivy): what a citizen typing a
name or an address gets offered, and what is left after choosing."""
import pytest

from kiosk.ui.pinyin_ime import PinyinIME


@pytest.fixture(scope="module")
def ime():
    return PinyinIME()


@pytest.mark.parametrize("typed, expected, within", [
    ("ce", "测", 3),          # a whole syllable: its common characters come first,
    ("wang", "王", 3),        # before words that merely share the initials
    ("zhang", "张", 4),
    ("shi", "试", 48),        # far down a crowded syllable, but reachable by paging
    ("neirong", "内容", 1),   # a whole word by its full pinyin
    ("zh", "中", 6),          # a syllable still being typed: its commonest characters
])
def test_candidates(ime, typed, expected, within):
    assert expected in ime.candidates(typed, limit=within)


def test_nothing_typed_offers_nothing(ime):
    assert ime.candidates("") == [] and ime.candidates("123") == []


@pytest.mark.parametrize("typed, chosen, left", [
    ("ceshi", "测", "shi"),    # one character eats its first syllable
    ("neirong", "内容", ""),   # a word eats everything typed
    ("ce", "测", ""),
])
def test_consume(ime, typed, chosen, left):
    assert ime.consume(typed, chosen) == left
