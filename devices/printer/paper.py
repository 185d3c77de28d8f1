"""What the emulated paper shows: ESC/POS events -> a PIL image per cut job.

Text lines are drawn with the CJK font (ASCII as sent; in Chinese mode, `FS &`, the bytes are
decoded as GB18030), raster blocks are copied dot for dot, the stored QR symbol is drawn with
the `qrcode` package at the requested module size and error correction, and each cut adds a
dashed cut mark at the bottom of that job's image. Alignment (`ESC a`), bold (`ESC E`) and
size (`GS !`) apply to text; alignment also places rasters and QR codes narrower than the
paper. The renderer never raises on odd input: unrenderable things are skipped.
"""
from __future__ import annotations

import logging

import qrcode
from PIL import Image, ImageDraw

from devices.printer.escpos_stream import Event
from devices.printer.render import CjkFont, bold_variant

log = logging.getLogger(__name__)

LINE_DOTS = 30          # default line spacing (ESC 2), 24-dot font plus spacing
FONT_DOTS = 24
CUT_MARK_DOTS = 16
MAX_PAPER_ROWS = 20000  # a job longer than ~2.5 m of paper is cut off in the rendering
QR_EC = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
         50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}


class PaperRenderer:
    """Accumulates printed rows; `cut()` returns the job's image and starts a new one."""

    def __init__(self, width_dots: int, font: CjkFont):
        self.width = width_dots
        self.font = font
        self.reset()
        self.rows_printed = 0          # paper used since start, in dots

    def reset(self) -> None:
        """ESC @ / a new job: modes back to defaults, the current (uncut) paper dropped."""
        self._bands: list[Image.Image] = []
        self._height = 0
        self._line: list[tuple[bool, bytes]] = []
        self._reset_modes()
        self._qr_data = b""
        self._qr_module = 3
        self._qr_ec = 49

    def _reset_modes(self) -> None:
        self.align = 0
        self.bold = False
        self.size = (1, 1)
        self.chinese = False
        self.line_dots = LINE_DOTS

    @property
    def has_content(self) -> bool:
        return self._height > 0 or bool(self._line)

    # -- events ------------------------------------------------------------------------------
    def handle(self, ev: Event) -> int:
        """Apply one event; returns the dots of paper it fed (0 for mode changes)."""
        before = self._height
        name, a = ev.name, ev.args
        if name == "init":
            self._flush_line(feed=False)
            self._reset_modes()
        elif name == "text":
            self._line.append((self.chinese, ev.data))
        elif name == "lf":
            self._flush_line(feed=True)
        elif name == "feed_lines":
            self._flush_line(feed=False)
            self._blank(a[0] * self.line_dots)
        elif name == "feed_dots":
            self._flush_line(feed=False)
            self._blank(a[0])
        elif name == "align":
            self.align = a[0] % 48 if a[0] in (0, 1, 2, 48, 49, 50) else self.align
        elif name == "bold":
            self.bold = bool(a[0] & 1)
        elif name == "size":
            self.size = ((a[0] >> 4 & 7) + 1, (a[0] & 7) + 1)
        elif name in ("chinese_on", "chinese_off"):
            self.chinese = name == "chinese_on"
        elif name == "line_spacing":
            self.line_dots = max(a[0], 1)
        elif name == "line_spacing_default":
            self.line_dots = LINE_DOTS
        elif name == "raster":
            self._flush_line(feed=False)
            self._raster(*a, ev.data)
        elif name == "qr_size":
            self._qr_module = a[0] if a and 1 <= a[0] <= 16 else self._qr_module
        elif name == "qr_ecc":
            self._qr_ec = a[0] if a and a[0] in QR_EC else self._qr_ec
        elif name == "qr_store":
            self._qr_data = ev.data
        elif name == "qr_print":
            self._flush_line(feed=False)
            self._qr()
        return self._height - before

    def cut(self) -> Image.Image:
        """End the job: the paper so far plus a dashed cut mark."""
        self._flush_line(feed=False)
        mark = Image.new("1", (self.width, CUT_MARK_DOTS), 1)
        draw = ImageDraw.Draw(mark)
        for x in range(0, self.width, 16):
            draw.line([(x, CUT_MARK_DOTS // 2), (x + 8, CUT_MARK_DOTS // 2)], fill=0, width=2)
        self._append(mark, count=False)
        page = Image.new("1", (self.width, max(self._height, 1)), 1)
        y = 0
        for band in self._bands:
            page.paste(band, (0, y))
            y += band.height
        self._bands, self._height, self._line = [], 0, []
        return page

    # -- drawing -----------------------------------------------------------------------------
    def _append(self, band: Image.Image, count: bool = True) -> None:
        if self._height + band.height > MAX_PAPER_ROWS:
            return
        self._bands.append(band)
        self._height += band.height
        if count:
            self.rows_printed += band.height

    def _blank(self, dots: int) -> None:
        if dots > 0:
            self._append(Image.new("1", (self.width, dots), 1))

    def _x_for(self, w: int) -> int:
        return {0: 0, 1: (self.width - w) // 2, 2: self.width - w}[self.align]

    def _place(self, img: Image.Image) -> None:
        if img.width > self.width:
            img = img.crop((0, 0, self.width, img.height))
        band = Image.new("1", (self.width, img.height), 1)
        band.paste(img, (max(0, self._x_for(img.width)), 0))
        self._append(band)

    def _flush_line(self, feed: bool) -> None:
        parts, self._line = self._line, []
        if not parts:
            if feed:
                self._blank(self.line_dots)
            return
        text = "".join(data.decode("gb18030" if zh else "cp437", errors="replace")
                       for zh, data in parts)
        w_mul, h_mul = self.size
        px = FONT_DOTS * h_mul
        face = (bold_variant(self.font) if self.bold else self.font).at(px)
        length = int(face.getlength(text)) + 1
        height = max(self.line_dots, px + 6) if h_mul == 1 else px + 6
        img = Image.new("1", (max(length, 1), height), 1)
        ImageDraw.Draw(img).text((0, 0), text, font=face, fill=0)
        if w_mul != h_mul:
            img = img.resize((max(1, length * w_mul // h_mul), height))
        self._place(img)

    def _raster(self, mode: int, width_bytes: int, rows: int, data: bytes) -> None:
        img = Image.frombytes("1", (width_bytes * 8, rows), data, "raw", "1;I")
        if mode & 1:
            img = img.resize((img.width * 2, img.height))
        if mode & 2:
            img = img.resize((img.width, img.height * 2))
        self._place(img)

    def _qr(self) -> None:
        if not self._qr_data:
            return
        try:
            qr = qrcode.QRCode(error_correction=QR_EC[self._qr_ec], box_size=self._qr_module,
                               border=0)
            qr.add_data(self._qr_data)
            qr.make(fit=True)
            matrix = qr.get_matrix()
        except Exception as exc:   # e.g. data too long for any version: a printer prints nothing
            log.info("emulator: QR not printable (%s)", type(exc).__name__)
            return
        n = len(matrix)
        img = Image.new("L", (n, n), 255)
        img.putdata([0 if cell else 255 for row in matrix for cell in row])
        img = img.resize((n * self._qr_module, n * self._qr_module), Image.NEAREST).convert("1")
        self._place(img)
