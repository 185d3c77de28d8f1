"""Chinese line breaking, shared by the receipt layout and the screen: where lines break,
table-tested with a font whose every Chinese character is 10 px wide, every Latin character
5 px, a space 3 px; and once more on a receipt with the printer's real CJK font."""
import pytest

from devices.printer.render import find_cjk_font, wrap

from devices.line_breaking import NO_LINE_END, NO_LINE_START, break_lines, one_line_size, units


def grid_font(text: str) -> tuple[int, int]:
    return sum(3 if c == " " else 5 if c.isascii() else 10 for c in text), 20


@pytest.mark.parametrize("text, width, lines", [
    # plain Chinese breaks anywhere once the line is full
    ("请将身份证放在读卡区", 50, ["请将身份证", "放在读卡区"]),
    # a comma may not start a line: the character before it comes down with it
    ("请将身份证，放在读卡区", 50, ["请将身份", "证，放在读", "卡区"]),
    ("一二三四五。", 50, ["一二三四", "五。"]),
    # two closing marks in a row still do not start the line
    ("一二三四五）。", 50, ["一二三四", "五）。"]),
    ("一二三四）。", 50, ["一二三", "四）。"]),
    # an opening bracket may not end a line: it goes down with what it opens
    ("一二三四（五六）", 50, ["一二三四", "（五六）"]),
    ("一二三（四五六）", 50, ["一二三（四", "五六）"]),
    # Latin words and numbers stay whole and break at spaces, which are not drawn
    ("Place your ID card on the reader", 60, ["Place your", "ID card on", "the reader"]),
    ("手机号13912345678", 60, ["手机号", "13912345678"]),
    ("营业时间 22:00 结束", 60, ["营业时间", "22:00 结束"]),
    # a word wider than a whole line is split where it must be
    ("abcdefghijklmnop", 40, ["abcdefgh", "ijklmnop"]),
    # existing line breaks are kept, and an empty line too
    ("一二\n\n三四", 50, ["一二", "", "三四"]),
    # what fits is left alone
    ("下一步", 50, ["下一步"]),
])
def test_break_lines(text, width, lines):
    broken = break_lines(text, width, grid_font).split("\n")
    assert broken == lines
    assert all(grid_font(line)[0] <= width for line in broken)


def test_no_line_starts_with_closing_or_ends_with_opening_punctuation():
    text = ("申请人须如实填写申请材料，并对材料的真实性负责（包括复印件）；"
            "如有虚假，将依法承担相应责任。办理结果可通过短信、“我的办件”查询。")
    for width in range(40, 200, 10):
        lines = break_lines(text, width, grid_font).split("\n")
        assert "".join(lines) == text                   # nothing lost, nothing added
        for line in lines:
            assert grid_font(line)[0] <= width
        for line in lines[1:]:
            assert line[0] not in NO_LINE_START, (width, lines)
        for line in lines[:-1]:
            assert line[-1] not in NO_LINE_END, (width, lines)


def test_units():
    assert units("请拨打 12345，谢谢") == ["请", "拨", "打", " ", "12345", "，", "谢", "谢"]
    assert units("ID card") == ["ID", " ", "card"]


def test_a_kerned_font_is_checked_line_by_line():
    # summed widths under-estimate this font's lines by 1 px a character: lines still fit
    def tight(text):
        return grid_font(text)[0] + len(text), 20
    lines = break_lines("一二三四五六七八九十", 50, tight).split("\n")
    assert all(tight(line)[0] <= 50 for line in lines)
    assert "".join(lines) == "一二三四五六七八九十"


def test_receipt_lines_with_the_printer_font():
    font = find_cjk_font().at(24)
    text = "请于3个工作日后凭本回执到户籍窗口领取证明，或拨打12345查询办理进度（工作日9:00-17:00）。"
    for width in range(150, 560, 37):
        lines = wrap(text, font, width)
        assert "".join(lines) == text
        assert all(font.getlength(line) <= width for line in lines)
        for before, line in zip(lines, lines[1:]):
            # the one exception: the line before is a single word ("9:00-17:00") with nothing
            # that could come down with the closing mark
            assert line[0] not in NO_LINE_START or len(units(before)) == 1, lines
            assert before[-1] not in NO_LINE_END, lines


def test_one_line_size_is_the_largest_size_that_fits_unbroken():
    def grid_at(size):              # grid_font scaled: a Latin character is size / 2 wide
        return lambda text: (len(text) * size / 2, size)
    number = "LH-20261205-000123"                       # 18 characters
    assert one_line_size(number, 400, grid_at, 44) == 44  # 396 wide: fits as it is
    assert one_line_size(number, 300, grid_at, 44) == 33  # 297 fits, 34 would be 306
    assert one_line_size(number, 50, grid_at, 44, smallest=12) == 12   # never below the floor
