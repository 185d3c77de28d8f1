"""The text-extents cache: the same sizes as measuring afresh, fewer calls into the font
provider, and nothing of a visit left after it is cleared. Runs on Kivy's real SDL2_ttf text
provider with the CJK font the kiosk uses."""
import os

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")

from kiosk.ui.text_measure import TextExtentsCache  # noqa: E402


@pytest.fixture(scope="module")
def core_label():
    from kivy.core.text import Label as CoreLabel

    from kiosk.ui.fonts import register_default_font
    register_default_font()
    return CoreLabel


def test_sizes_match_a_fresh_measurement_and_repeats_are_not_measured_again(core_label):
    texts = ["请将身份证放在读卡区", "下一步", "申请人姓名", "13912345678", "下一步"]
    small = core_label(text="", font_size=24)
    bold = core_label(text="", font_size=24, bold=True)
    expected = [(small.get_extents(t), bold.get_extents(t)) for t in texts]

    original = core_label.get_extents
    cache = TextExtentsCache(core_label).install()
    assert core_label.get_extents is not original
    try:
        measured = [(small.get_extents(t), bold.get_extents(t)) for t in texts]
        again = [(small.get_extents(t), bold.get_extents(t)) for t in texts]
        assert measured == expected and again == expected
        # 4 distinct texts x 2 fonts measured once each; everything else came from the cache
        assert cache.misses == 8 and cache.hits == 12
        assert len(cache) == 8
    finally:
        cache.uninstall()
    assert core_label.get_extents is original       # the provider's own method is back
    assert small.get_extents("下一步") == expected[1][0]


def test_clearing_forgets_what_was_typed(core_label):
    cache = TextExtentsCache(core_label).install()
    try:
        label = core_label(text="", font_size=20)
        label.get_extents("张三丰")
        assert any("张三丰" in key for key in cache._extents)
        cache.clear()
        assert len(cache) == 0
        label.get_extents("张三丰")
        assert cache.misses == 2
    finally:
        cache.uninstall()


def test_bounded(core_label):
    cache = TextExtentsCache(core_label, max_entries=10).install()
    try:
        label = core_label(text="", font_size=20)
        for i in range(35):
            label.get_extents(str(i))
        assert len(cache) <= 10
    finally:
        cache.uninstall()


def test_line_breaking_with_the_kiosk_font(core_label):
    from devices.line_breaking import NO_LINE_START, break_lines
    label = core_label(text="", font_size=28)
    label.resolve_font_name()
    text = "请阅读承诺内容，并在框内签名。本人承诺是为本人申请，所填用途真实，证明只用于上述用途。"
    for width in (200, 260, 330, 420):
        lines = break_lines(text, width, label.get_extents).split("\n")
        assert "".join(lines) == text
        assert all(label.get_extents(line)[0] <= width for line in lines)
        assert all(line[0] not in NO_LINE_START for line in lines[1:])
