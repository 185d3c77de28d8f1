"""Chinese text for the receipt printer: find a CJK font and draw text blocks as 1-bit images.

Approach (why raster): a thermal printer's built-in Chinese font is reached through Chinese
mode (`FS &`) and GB18030/GBK bytes, but not every printer carries GB18030, some start in a
different code page, and python-escpos sends CJK as raw GB18030 without `FS &` (issues #269,
#491, #678). Rendering the receipt with a CJK font on the terminal and printing it as a raster
(`GS v 0`) looks the same on every printer that prints images, and the bytes are known in
advance, so they can be golden-tested. The cost is size (576 dots = 72 bytes per row; a
receipt is ~60–90 KB) which USB, network and 115200-baud serial carry in well under a few
seconds.

Font: `find_cjk_font()` tries `$KIOSK_CJK_FONT`, then known Noto/WenQuanYi/Droid paths, then
`fc-list :lang=zh` (fontconfig's `fc-match :lang=zh` may answer a Latin font, so its answer is
only used if it really has CJK glyphs). It raises `FontNotFound` — a ConfigurationError — if no
font draws 中文: the kiosk must not print receipts of empty boxes.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from devices.interfaces import ConfigurationError
from devices.line_breaking import break_lines

KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
PROBE = "政务中文"


class FontNotFound(ConfigurationError):
    """No font on this machine can draw Chinese."""


def _draws_cjk(font: ImageFont.FreeTypeFont) -> bool:
    # A font without the glyphs draws .notdef boxes: all four probe glyphs then look alike.
    masks = {bytes(font.getmask(ch)) for ch in PROBE}
    return len(masks) == len(PROBE) and all(font.getbbox(ch)[2] > 0 for ch in PROBE)


def _ttc_index_for_sc(path: str) -> int:
    """In a CJK collection pick the Simplified Chinese face (Noto: 'Noto Sans CJK SC')."""
    for index in range(10):
        try:
            name = ImageFont.truetype(path, 12, index=index).getname()[0]
        except OSError:
            break
        if name.endswith(" SC") or "SC " in name or "Zen Hei" in name or "Micro Hei" in name:
            return index
    return 0


def _fontconfig_candidates() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True,
                             timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    # Sans before serif, regular before bold: a receipt wants plain sans.
    return sorted(files, key=lambda f: ("Serif" in f, "Bold" in f, f))


@dataclass(frozen=True)
class CjkFont:
    path: str
    index: int

    def at(self, px: int) -> ImageFont.FreeTypeFont:
        return _load(self.path, self.index, px)


@functools.lru_cache(maxsize=32)
def _load(path: str, index: int, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, px, index=index)


@functools.lru_cache(maxsize=4)
def find_cjk_font(preferred: str | None = None) -> CjkFont:
    """The first usable CJK font: `preferred`, $KIOSK_CJK_FONT, known paths, fontconfig."""
    candidates = [p for p in (preferred, os.environ.get("KIOSK_CJK_FONT")) if p]
    candidates += list(KNOWN_FONTS) + _fontconfig_candidates()
    tried = []
    for path in candidates:
        if not Path(path).is_file():
            continue
        tried.append(path)
        try:
            index = _ttc_index_for_sc(path) if path.endswith(".ttc") else 0
            if _draws_cjk(_load(path, index, 24)):
                return CjkFont(path, index)
        except OSError:
            continue
    raise FontNotFound("no font that draws Chinese was found (tried: "
                       + (", ".join(tried) or "none present")
                       + "); install fonts-noto-cjk or set KIOSK_CJK_FONT to a .ttc/.ttf file")


def bold_variant(font: CjkFont) -> CjkFont:
    """The bold sibling of a Noto CJK font when installed, else the font itself."""
    bold = font.path.replace("-Regular.", "-Bold.")
    if bold != font.path and Path(bold).is_file():
        return CjkFont(bold, font.index)
    return font


# -- drawing -----------------------------------------------------------------------------------
def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Lines of at most `max_width` drawn dots, broken by Chinese rules (devices.line_breaking:
    Chinese breaks between characters, never before ，。） or after （; a Latin word or number
    stays whole). Explicit newlines are kept."""
    return break_lines(text, max_width, lambda s: (font.getlength(s), 0)).split("\n")


@dataclass(frozen=True)
class TextLine:
    text: str
    px: int = 26
    bold: bool = False
    align: str = "left"        # left | center | right
    indent: int = 0            # dots, for wrapped list items


@dataclass(frozen=True)
class Rule:
    """A horizontal divider: solid or dashed."""

    dashed: bool = False
    thickness: int = 2


@dataclass(frozen=True)
class Gap:
    dots: int


Block = TextLine | Rule | Gap


def render_blocks(blocks: list[Block], width_dots: int, font: CjkFont,
                  margin: int = 8) -> Image.Image:
    """Draw blocks top to bottom on a white 1-bit image `width_dots` wide (black = print)."""
    usable = width_dots - 2 * margin
    ops: list[tuple] = []
    y = 0
    for block in blocks:
        if isinstance(block, Gap):
            y += block.dots
        elif isinstance(block, Rule):
            ops.append(("rule", y + 4, block))
            y += 8 + block.thickness
        else:
            face = (bold_variant(font) if block.bold else font).at(block.px)
            ascent, descent = face.getmetrics()
            for line in wrap(block.text, face, usable - block.indent):
                ops.append(("text", y, line, face, block))
                y += ascent + descent + max(2, block.px // 8)
    image = Image.new("1", (width_dots, max(y, 1)), 1)
    draw = ImageDraw.Draw(image)
    for op in ops:
        if op[0] == "rule":
            _, top, rule = op
            step = 12 if rule.dashed else usable
            for x in range(margin, margin + usable, step):
                end = min(x + (6 if rule.dashed else usable), margin + usable) - 1
                draw.rectangle([x, top, end, top + rule.thickness - 1], fill=0)
        else:
            _, top, line, face, block = op
            w = face.getlength(line)
            if block.align == "center":
                x = margin + (usable - w) / 2
            elif block.align == "right":
                x = margin + usable - w
            else:
                x = margin + block.indent
            draw.text((int(x), top), line, font=face, fill=0)
    return image
