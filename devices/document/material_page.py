"""The material page the document-camera emulator lays on its desk: an A4 government form.

A Chinese title in Noto Sans CJK (fonts-noto-cjk), paragraphs of form text, a table, a signature
line, a red round official stamp (公章) and a thick black rule under the title that the
pipeline tests measure as a level marker. Deterministic in the seed; `content_skew_deg` prints
the text crooked on the paper. `emulator.py` places it in perspective on a desk.
"""
from __future__ import annotations

import logging
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FONT_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
SC_INDEX = 2  # Noto Sans CJK SC inside the collection

A4_PAGE_PX = (1050, 1485)  # rendered page, A4 portrait at ~127 dpi (sharper than the frame)

_TITLES = ("个体工商户变更登记申请书", "食品经营许可证延续申请表", "住房公积金提取申请表",
           "城乡居民医保参保登记表", "高龄津贴申请表", "无犯罪记录证明申请表")
_SENTENCES = (
    "申请人承诺所提交的材料真实、合法、有效，如有虚假愿承担相应的法律责任。",
    "本表一式两份，经办机构与申请人各执一份，请用黑色签字笔填写，字迹清楚。",
    "经营场所发生变更的，应当提交新经营场所的使用证明及相关产权材料复印件。",
    "申请事项办理结果可通过受理回执上的二维码或者政务服务网查询办理进度。",
    "委托他人代为办理的，应当同时提交委托书以及受托人的有效身份证件复印件。",
    "依据相关规定，行政机关应当自受理申请之日起二十个工作日内作出决定。",
    "以上填写内容与所附材料一致，所附复印件均与原件核对无误，特此声明。",
    "Materials must be complete and legible; copies are checked against originals.",
)
_TABLE_ROWS = (("项目", "变更前", "变更后"), ("经营者姓名", "示例甲", "示例乙"),
               ("经营场所", "示例路1号", "示例街8号"), ("经营范围", "预包装食品销售", "预包装食品、日用品"),
               ("联系电话", "0000-0000000", "0000-0000001"))


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = CJK_FONT_BOLD if bold and CJK_FONT_BOLD.exists() else CJK_FONT
    if path.exists():
        return ImageFont.truetype(str(path), size, index=SC_INDEX)
    log.warning("doc_emulator font_missing path=%s (install fonts-noto-cjk)", path)
    return ImageFont.load_default(size)


def _wrap(text: str, font, width: int, draw: ImageDraw.ImageDraw) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return lines + ([line] if line else [])


def _stamp(size: int, text: str) -> Image.Image:
    """A red round official stamp (公章): ring, five-pointed star, text along the upper arc."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    red = (205, 30, 35, 215)
    c, r = size / 2, size / 2 - 4
    d.ellipse((c - r, c - r, c + r, c + r), outline=red, width=max(3, size // 28))
    star = []
    for k in range(10):
        rad = (size * 0.14) if k % 2 == 0 else (size * 0.055)
        a = -math.pi / 2 + k * math.pi / 5
        star.append((c + rad * math.cos(a), c + rad * math.sin(a)))
    d.polygon(star, fill=red)
    font = _font(max(10, size // 9), bold=True)
    span = math.radians(220)
    for k, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + span * (k + 0.5) / len(text)
        glyph = Image.new("RGBA", (size // 7, size // 7), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size // 14, size // 14), ch, font=font, fill=red, anchor="mm")
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.BICUBIC)
        gx = c + (r * 0.74) * math.cos(a) - glyph.width / 2
        gy = c + (r * 0.74) * math.sin(a) - glyph.height / 2
        img.alpha_composite(glyph, (int(gx), int(gy)))
    return img


@lru_cache(maxsize=16)
def _render_page_cached(seed: int, content_skew_deg: float, landscape: bool) -> bytes:
    page = render_page_uncached(seed, content_skew_deg, landscape)
    return cv2.imencode(".png", page)[1].tobytes()


def render_page(seed: int, content_skew_deg: float = 0.0, landscape: bool = False) -> np.ndarray:
    """A BGR image of one A4 material page (deterministic in `seed`)."""
    data = _render_page_cached(seed, round(content_skew_deg, 3), landscape)
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def render_page_uncached(seed: int, content_skew_deg: float = 0.0,
                         landscape: bool = False) -> np.ndarray:
    rng = np.random.default_rng([seed, 7])
    w, h = A4_PAGE_PX[::-1] if landscape else A4_PAGE_PX
    paper = tuple(int(v) for v in rng.integers(238, 250, 3))
    img = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(img)
    ink = (25, 25, 30)
    margin = int(w * 0.1)
    y = int(h * 0.07)
    title = _TITLES[int(rng.integers(len(_TITLES)))]
    tfont = _font(int(w * 0.042), bold=True)
    d.text((w / 2, y), title, font=tfont, fill=ink, anchor="mt")
    y += int(w * 0.042 * 1.6)
    # the level marker: a thick rule across the text block (tests measure its angle)
    d.rectangle((margin, y, w - margin, y + max(4, h // 250)), fill=(0, 0, 0))
    y += int(h * 0.03)
    bfont = _font(int(w * 0.021))
    line_h = int(w * 0.021 * 1.75)
    for _ in range(int(rng.integers(2, 4))):
        para = "".join(_SENTENCES[i] for i in rng.permutation(len(_SENTENCES))[:3])
        for line in _wrap("　　" + para, bfont, w - 2 * margin, d):
            d.text((margin, y), line, font=bfont, fill=ink)
            y += line_h
        y += line_h // 2
    # table
    col = [margin, margin + (w - 2 * margin) * 0.3, margin + (w - 2 * margin) * 0.65, w - margin]
    row_h = int(line_h * 1.5)
    for i, row in enumerate(_TABLE_ROWS):
        for j, cell in enumerate(row):
            d.rectangle((col[j], y, col[j + 1], y + row_h), outline=ink, width=2)
            d.text((col[j] + 10, y + row_h / 2), cell, font=bfont, fill=ink, anchor="lm")
        y += row_h
    y += line_h
    for line in _wrap("申请人（签字）：__________      日期：____年__月__日", bfont, w - 2 * margin, d):
        d.text((margin, y), line, font=bfont, fill=ink)
        y += line_h
    stamp = _stamp(int(w * 0.24), "示例市市场监督管理局")
    img.paste(stamp, (int(w * 0.62), min(h - stamp.height - 10, y - stamp.height // 3)), stamp)
    page = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    if content_skew_deg:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), content_skew_deg, 1.0)
        page = cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=paper[::-1])
    return page
