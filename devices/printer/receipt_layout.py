"""The 受理单 (acceptance receipt) as ESC/POS bytes: a pure, deterministic function of a Receipt.

`layout_receipt(receipt, width_dots)` returns the whole print job: `ESC @`, raster blocks
(`GS v 0`) of text drawn with a CJK font (see `render.py` for why raster), a native QR code
(`GS ( k`) of the progress URL, a feed and a cut. The same Receipt, width and font give the
same bytes, so tests pin a hash of them. Personal data arrives already masked in the Receipt;
`mask_name` and `mask_id_number` are the helpers whoever builds a Receipt should use.

Masking rules (length-preserving, as the receipt may be photographed or left behind):
* name: keep the first and last character, `*` for each one between; two characters keep the
  first (张*); one character becomes `*`. Separators (`·`, space) stay visible.
* ID number: keep the first 4 (region) and last 4, `*` for each one between (18 characters
  stay 18); 8 characters or fewer keep only the last 2.
"""
from __future__ import annotations

import datetime as dt

from devices.interfaces import Receipt
from devices.line_breaking import one_line_size
from devices.printer import codec
from devices.printer.render import (Block, CjkFont, Gap, Rule, TextLine, bold_variant,
                                    find_cjk_font, render_blocks, wrap)

WIDTH_80MM = 576     # 80 mm paper at 203 dpi
FEED_BEFORE_CUT = 4  # lines, so the QR and notes clear the cutter
SEPARATORS = " ·•．.-"
MARGIN = 8           # dots left blank at either side of the paper


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳娜娜 -> 欧**娜, 买买提·艾力 -> 买**·*力 (separators kept)."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    middle = "".join(ch if ch in SEPARATORS else "*" for ch in name[1:-1])
    return name[0] + middle + name[-1]


def mask_id_number(id_number: str) -> str:
    """110101199003071234 -> 1101**********1234; short numbers keep only their last 2."""
    s = id_number.strip()
    if len(s) <= 2:
        return "*" * len(s)
    if len(s) <= 8:
        return "*" * (len(s) - 2) + s[-2:]
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


def _scale(width_dots: int, px: int) -> int:
    return max(12, round(px * width_dots / WIDTH_80MM))


QR_QUIET_MODULES = 4      # ISO/IEC 18004: the blank margin a QR code needs on every side


def qr_module_for(width_dots: int) -> int:
    """QR module size in dots: 8 on 80 mm paper, 5 on 58 mm (about 25 mm wide either way)."""
    return max(3, min(8, width_dots // 72))


def blank_rows_at_foot(image) -> int:
    """How many rows at the bottom of a 1-bit raster image are all white."""
    dark_rows = image.convert("L").point(lambda v: 255 if v < 128 else 0).getbbox()
    return image.height if dark_rows is None else image.height - dark_rows[3]


def _check_width(width_dots: int) -> None:
    if not isinstance(width_dots, int) or width_dots < 192 or width_dots > 1024 or width_dots % 8:
        raise ValueError(f"width_dots must be a multiple of 8 in 192..1024, got {width_dots!r}")


def _fmt_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _case_number_px(case_number: str, w: int, font: CjkFont) -> int:
    """The case number is printed whole on a line of its own: at the large size if it fits,
    else as large as fits the paper (a long terminal id makes it longer than 80 mm at 44 px)."""
    bold = bold_variant(font)

    def measure_at(px: int):
        return lambda text: (bold.at(px).getlength(text), px)
    return one_line_size(case_number, w - 2 * MARGIN, measure_at, _scale(w, 44), smallest=12)


def _head_blocks(r: Receipt, w: int, font: CjkFont) -> list[Block]:
    s = lambda px: _scale(w, px)   # noqa: E731
    blocks: list[Block] = [
        TextLine(r.title, s(34), bold=True, align="center"),
        TextLine(r.site_name, s(24), align="center"),
        Gap(s(6)),
        TextLine(f"终端 Terminal: {r.terminal_id}", s(22)),
        TextLine(f"时间 Time: {_fmt_time(r.issued_at)}", s(22)),
        Rule(),
        TextLine("受理编号 Case No.", s(22), align="center"),
        TextLine(r.case_number, _case_number_px(r.case_number, w, font), bold=True,
                 align="center"),
        Rule(),
        TextLine(f"事项 Matter: {r.matter_name}", s(26), bold=True),
        TextLine(f"申请人 Applicant: {r.applicant_masked}", s(24)),
        TextLine(f"证件号 ID No.: {r.id_number_masked}", s(24)),
        Gap(s(6)),
        TextLine(f"已收材料 Received ({len(r.materials_received)}):", s(24), bold=True),
    ]
    for i, m in enumerate(r.materials_received, 1):
        blocks.append(TextLine(f"{i}. {m}", s(22), indent=s(12)))
    if not r.materials_received:
        blocks.append(TextLine("无 None", s(22), indent=s(12)))
    if r.materials_missing:
        blocks.append(Gap(s(6)))
        blocks.append(TextLine(f"容缺材料 To be supplied ({len(r.materials_missing)}):",
                               s(24), bold=True))
        for i, m in enumerate(r.materials_missing, 1):
            blocks.append(TextLine(f"{i}. {m}", s(22), indent=s(12)))
    promised = (r.promised_date.isoformat() if r.promised_date
                else "以审批通知为准 See notice")
    blocks += [Gap(s(6)), TextLine(f"承诺办结 Promised by: {promised}", s(24), bold=True),
               Rule(dashed=True)]
    if r.progress_url:
        blocks += [TextLine("扫码查询进度 Scan for progress", s(22), align="center"), Gap(s(4))]
    return blocks


def _foot_blocks(r: Receipt, w: int) -> list[Block]:
    s = lambda px: _scale(w, px)   # noqa: E731
    blocks: list[Block] = [Gap(s(8)), TextLine(f"咨询电话 Phone: {r.phone}", s(24), align="center")]
    if r.notes:
        blocks.append(Rule(dashed=True))
        blocks += [TextLine(f"※ {n}", s(20)) for n in r.notes]
    blocks.append(TextLine("请妥善保管本回执 Please keep this receipt", s(20), align="center"))
    return blocks


def _job(parts: list[bytes], partial_cut: bool) -> bytes:
    return (codec.init() + b"".join(parts) + codec.feed_lines(FEED_BEFORE_CUT)
            + codec.cut(partial=partial_cut))


def layout_receipt(receipt: Receipt, width_dots: int = WIDTH_80MM, *,
                   font: CjkFont | None = None, partial_cut: bool = False) -> bytes:
    """The whole print job for one receipt (init, raster text, native QR, feed, cut). Without
    a progress URL the QR and its caption are left out. Raises ValueError for a bad width or a
    URL too long for a QR code, FontNotFound when no CJK font is installed."""
    _check_width(width_dots)
    font = font or find_cjk_font()
    head = render_blocks(_head_blocks(receipt, width_dots, font), width_dots, font, MARGIN)
    foot = render_blocks(_foot_blocks(receipt, width_dots), width_dots, font, MARGIN)
    module = qr_module_for(width_dots)
    # the printer prints the QR code without its quiet zone (4 modules): the blank rows
    # at the foot of the text above, fed out to 4 modules, make it; below, the line feed and
    # the blank head of the text that follows do
    quiet = max(0, QR_QUIET_MODULES * module - blank_rows_at_foot(head))
    qr = [*([codec.feed_dots(quiet)] if quiet else []), codec.align("center"),
          codec.qr_code(receipt.progress_url, module), codec.line_feed()] \
        if receipt.progress_url else []
    return _job([codec.align("left"), codec.raster_from_image(head), *qr,
                 codec.align("left"), codec.raster_from_image(foot)], partial_cut)


def receipt_lines(receipt: Receipt, width_dots: int = WIDTH_80MM, *,
                  font: CjkFont | None = None) -> list[tuple[str, int]]:
    """The text lines of a receipt as they are printed, top to bottom: (text, font size in
    dots), after line breaking. For checking what a receipt says without reading its pixels."""
    _check_width(width_dots)
    font = font or find_cjk_font()
    lines: list[tuple[str, int]] = []
    for block in _head_blocks(receipt, width_dots, font) + _foot_blocks(receipt, width_dots):
        if isinstance(block, TextLine):
            face = (bold_variant(font) if block.bold else font).at(block.px)
            usable = width_dots - 2 * MARGIN - block.indent
            lines += [(line, block.px) for line in wrap(block.text, face, usable)]
    return lines


def layout_test_page(width_dots: int = WIDTH_80MM, *, terminal_id: str = "-",
                     site_name: str = "-", printed_at: dt.datetime | None = None,
                     font: CjkFont | None = None) -> bytes:
    """A self-test page: raster Chinese, a width ruler, the printer's own ASCII and GB18030
    text (Chinese mode) for comparison, and a native QR."""
    _check_width(width_dots)
    font = font or find_cjk_font()
    s = lambda px: _scale(width_dots, px)   # noqa: E731
    when = _fmt_time(printed_at) if printed_at else "-"
    blocks: list[Block] = [
        TextLine("打印机自检 Printer self-test", s(32), bold=True, align="center"),
        TextLine(f"{site_name} · {terminal_id} · {when}", s(20), align="center"),
        Rule(), TextLine("中文点阵：政务服务 7×24 小时自助受理", s(26)),
        TextLine(f"纸宽 Width: {width_dots} dots", s(22)), Rule(dashed=True),
        Rule(thickness=max(2, width_dots // 96)),
        TextLine("下面两行为打印机自带字库（可能乱码，不影响回执）", s(20)),
        TextLine("Below: the printer's own font (may be garbled; receipts are not affected)",
                 s(18)),
    ]
    image = render_blocks(blocks, width_dots, font)
    return _job([
        codec.align("left"), codec.raster_from_image(image),
        codec.text("ESC/POS ASCII 0123456789"), codec.line_feed(),
        codec.chinese_mode(True), codec.text("国标中文 GB18030", chinese=True),
        codec.line_feed(), codec.chinese_mode(False),
        codec.align("center"), codec.qr_code("SELFTEST " + terminal_id, qr_module_for(width_dots)),
        codec.line_feed(), codec.align("left"),
    ], partial_cut=False)
