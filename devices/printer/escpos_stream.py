"""An incremental ESC/POS byte-stream parser: bytes in any chunking -> command events.

This is the emulator's ear. It knows every command `receipt_layout` and `codec` emit plus the
common text, feed, barcode and image commands, and the length of each one's parameters, so a
stream stays in step. An unknown `ESC x` / `GS x` / `FS x` is skipped as two bytes (`Unknown`
event), which is what most printers do. Blocks that announce an absurd size (a raster wider
than 1024 dots or taller than 8192 rows, a `GS 8 L` image) are skipped byte by byte without
being buffered, so no input can make the parser allocate without bound. `feed` never raises on
any input (fuzzed in the tests).
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_RASTER_WIDTH_BYTES = 128     # 1024 dots
MAX_RASTER_ROWS = 8192
MAX_BARCODE_NUL_DATA = 255


@dataclass(frozen=True)
class Event:
    """A parsed command. `name` says which; `args` are its numeric parameters; `data` its
    payload bytes (text, raster rows, QR data)."""

    name: str
    args: tuple[int, ...] = ()
    data: bytes = b""


class _Incomplete(Exception):
    pass


# Fixed parameter counts after the command byte.
ESC_FIXED = {0x40: ("init", 0), 0x61: ("align", 1), 0x45: ("bold", 1), 0x21: ("print_mode", 1),
             0x2D: ("underline", 1), 0x32: ("line_spacing_default", 0), 0x33: ("line_spacing", 1),
             0x64: ("feed_lines", 1), 0x4A: ("feed_dots", 1), 0x4D: ("font", 1),
             0x74: ("code_table", 1), 0x52: ("charset", 1), 0x47: ("double_strike", 1),
             0x56: ("rotate", 1), 0x7B: ("upside_down", 1), 0x20: ("char_spacing", 1),
             0x24: ("abs_position", 2), 0x5C: ("rel_position", 2), 0x70: ("drawer_pulse", 3),
             0x3D: ("peripheral", 1), 0x72: ("color", 1), 0x65: ("reverse_feed", 1),
             0x69: ("cut_full_legacy", 0), 0x6D: ("cut_partial_legacy", 0), 0x55: ("unidir", 1),
             0x25: ("user_chars", 1), 0x63: ("panel", 2), 0x4C: ("page_mode", 0),
             0x53: ("standard_mode", 0), 0x0C: ("page_print", 0)}
GS_FIXED = {0x21: ("size", 1), 0x42: ("reverse", 1), 0x48: ("hri_position", 1),
            0x68: ("barcode_height", 1), 0x77: ("barcode_width", 1), 0x66: ("hri_font", 1),
            0x4C: ("left_margin", 2), 0x57: ("print_width", 2), 0x61: ("auto_status_back", 1),
            0x72: ("transmit_status", 1), 0x49: ("transmit_id", 1), 0x62: ("smoothing", 1),
            0x2F: ("print_downloaded", 1), 0x50: ("motion_units", 2), 0x3A: ("macro", 0),
            0x24: ("abs_vertical", 2), 0x5C: ("rel_vertical", 2), 0x54: ("print_start", 1),
            0x5E: ("run_macro", 3), 0x45: ("density", 1)}
FS_FIXED = {0x26: ("chinese_on", 0), 0x2E: ("chinese_off", 0), 0x21: ("chinese_print_mode", 1),
            0x2D: ("chinese_underline", 1), 0x57: ("chinese_quad", 1), 0x53: ("chinese_spacing", 2),
            0x43: ("chinese_code_system", 1), 0x70: ("nv_image_print", 2)}
QR_FUNCTIONS = {0x41: "qr_model", 0x43: "qr_size", 0x45: "qr_ecc", 0x50: "qr_store",
                0x51: "qr_print", 0x52: "qr_transmit_size"}


def _need(buf: bytearray | bytes, n: int) -> None:
    if len(buf) < n:
        raise _Incomplete


class EscPosStreamParser:
    """Feed bytes, get events. Keeps at most one unfinished command buffered."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0            # bytes of an oversized block still to discard

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buf += data
        pos = 0
        buf = self._buf
        while pos < len(buf):
            try:
                consumed, event, skip = self._one(memoryview(buf)[pos:])
            except _Incomplete:
                break
            pos += consumed
            if event is not None:
                events.append(event)
            if skip:
                dropped = min(skip, len(buf) - pos)
                pos += dropped
                self._skip = skip - dropped
        del self._buf[:pos]
        return events

    # -- one command at the head of `b` -> (bytes consumed, event or None, bytes to skip) -------
    def _one(self, b) -> tuple[int, Event | None, int]:
        c = b[0]
        if c >= 0x20 or c == 0x09:
            end = 1
            while end < len(b) and (b[end] >= 0x20 or b[end] == 0x09):
                end += 1
            return end, Event("text", data=bytes(b[:end]).replace(b"\t", b"    ")), 0
        if c == 0x0A:
            return 1, Event("lf"), 0
        if c == 0x0D:
            return 1, None, 0
        if c == 0x0C:
            return 1, Event("form_feed"), 0
        if c == 0x1B:
            return self._esc(b)
        if c == 0x1D:
            return self._gs(b)
        if c == 0x1C:
            return self._fs(b)
        if c == 0x10:
            return self._dle(b)
        return 1, Event("unknown", data=bytes(b[:1])), 0

    def _fixed(self, b, table) -> tuple[int, Event | None, int]:
        _need(b, 2)
        entry = table.get(b[1])
        if entry is None:
            return 2, Event("unknown", data=bytes(b[:2])), 0
        name, n = entry
        _need(b, 2 + n)
        return 2 + n, Event(name, tuple(b[2:2 + n])), 0

    def _esc(self, b) -> tuple[int, Event | None, int]:
        _need(b, 2)
        cmd = b[1]
        if cmd == 0x2A:                          # ESC * m nL nH d…: bit image
            _need(b, 5)
            m, n = b[2], b[3] | b[4] << 8
            size = n * (3 if m in (32, 33) else 1)
            return 5, Event("bit_image_skipped", (m, n)), size
        if cmd == 0x44:                          # ESC D n1…nk NUL: tab stops
            for i in range(2, min(len(b), 2 + 33)):
                if b[i] == 0:
                    return i + 1, Event("tab_stops"), 0
            _need(b, 2 + 33)
            return 2, Event("unknown", data=bytes(b[:2])), 0
        return self._fixed(b, ESC_FIXED)

    def _gs(self, b) -> tuple[int, Event | None, int]:
        _need(b, 2)
        cmd = b[1]
        if cmd == 0x56:                          # GS V m [n]
            _need(b, 3)
            m = b[2]
            if m in (0, 48):
                return 3, Event("cut", (0,)), 0
            if m in (1, 49):
                return 3, Event("cut", (1,)), 0
            if m in (65, 66, 97, 98, 103, 104):
                _need(b, 4)
                return 4, Event("cut", (0 if m in (65, 97, 103) else 1, b[3])), 0
            return 3, Event("unknown", data=bytes(b[:3])), 0
        if cmd == 0x76:                          # GS v 0 m xL xH yL yH d…
            _need(b, 8)
            if b[2] != 0x30:
                return 2, Event("unknown", data=bytes(b[:2])), 0
            xb, rows = b[4] | b[5] << 8, b[6] | b[7] << 8
            size = xb * rows
            if not 0 < xb <= MAX_RASTER_WIDTH_BYTES or not 0 < rows <= MAX_RASTER_ROWS:
                return 8, Event("raster_skipped", (xb, rows)), size
            _need(b, 8 + size)
            return 8 + size, Event("raster", (b[3], xb, rows), bytes(b[8:8 + size])), 0
        if cmd == 0x28:                          # GS ( X pL pH …
            _need(b, 5)
            n = b[3] | b[4] << 8
            _need(b, 5 + n)
            body = bytes(b[5:5 + n])
            if b[2] == 0x6B and len(body) >= 2 and body[0] == 0x31 and body[1] in QR_FUNCTIONS:
                name = QR_FUNCTIONS[body[1]]
                if name == "qr_store":
                    return 5 + n, Event(name, tuple(body[2:3]), body[3:]), 0
                return 5 + n, Event(name, tuple(body[2:])), 0
            return 5 + n, Event("unknown", data=bytes(b[:5])), 0
        if cmd == 0x38 and len(b) >= 3 and b[2] == 0x4C:   # GS 8 L p1..p4 …: big image
            _need(b, 7)
            n = b[3] | b[4] << 8 | b[5] << 16 | b[6] << 24
            return 7, Event("graphics_skipped", (n,)), n
        if cmd == 0x2A:                          # GS * x y d…: downloaded bit image
            _need(b, 4)
            return 4, Event("download_image_skipped", (b[2], b[3])), b[2] * b[3] * 8
        if cmd == 0x6B:                          # GS k m …: barcode
            _need(b, 3)
            m = b[2]
            if m <= 6:
                limit = min(len(b), 3 + MAX_BARCODE_NUL_DATA + 1)
                for i in range(3, limit):
                    if b[i] == 0:
                        return i + 1, Event("barcode", (m,), bytes(b[3:i])), 0
                _need(b, 3 + MAX_BARCODE_NUL_DATA + 1)
                return 3, Event("unknown", data=bytes(b[:3])), 0
            _need(b, 4)
            _need(b, 4 + b[3])
            return 4 + b[3], Event("barcode", (m,), bytes(b[4:4 + b[3]])), 0
        return self._fixed(b, GS_FIXED)

    def _fs(self, b) -> tuple[int, Event | None, int]:
        return self._fixed(b, FS_FIXED)

    def _dle(self, b) -> tuple[int, Event | None, int]:
        _need(b, 2)
        if b[1] == 0x04:                         # DLE EOT n
            _need(b, 3)
            return 3, Event("realtime_status", (b[2],)), 0
        if b[1] == 0x05:                         # DLE ENQ n
            _need(b, 3)
            return 3, Event("realtime_request", (b[2],)), 0
        if b[1] == 0x14:                         # DLE DC4 fn a b
            _need(b, 5)
            return 5, Event("realtime_command", tuple(b[2:5])), 0
        return 1, Event("unknown", data=bytes(b[:1])), 0
