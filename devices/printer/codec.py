"""ESC/POS bytes: pure command builders and status-reply parsing (no I/O).

Builders return the exact bytes a command is on the wire; `tests/devices/printer` pins each of
them byte for byte. Status parsing covers the two kinds of unsolicited-looking bytes a printer
sends back:

* `DLE EOT n` (10 04 n, n = 1..4) real-time status: ONE byte shaped `0xx1xx10` (mask 0x93 must
  give 0x12; healthy printers answer 0x12). Bit meanings per n are in `parse_dle_eot`.
* `GS a n` automatic status back (ASB): a 4-byte packet whose first byte is shaped `0xx1xx00`
  (mask 0x93 -> 0x10) and whose other three bytes are shaped `0xx0xxxx` (mask 0x90 -> 0x00).
  The first byte alone tells the two apart. The ASB bit layout (drawer, offline, cover / errors /
  paper sensors) follows Epson's published ASB description; clones may differ, so the driver
  disables ASB (`GS a 0`) and relies on DLE EOT, and only skips ASB packets it meets.
* `GS r 1` (1D 72 01) paper-sensor status is answered in order, after the bytes before it were
  processed; its byte is shaped `0xx0xx..` and the driver uses it as the end-of-job marker.

Anything else is reported as `StrayByte`; nothing here raises on arbitrary input except the
explicit `StatusByteError` from `parse_dle_eot` for a byte that does not fit the pattern.
"""
from __future__ import annotations

from dataclasses import dataclass

from devices.interfaces import PaperState, PrinterStatus

ESC, GS, FS, DLE, EOT, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x04, 0x0A

DLE_EOT_MASK, DLE_EOT_FIXED = 0x93, 0x12
ASB_FIRST_FIXED = 0x10           # first ASB byte: 0xx1xx00
ASB_REST_MASK, ASB_REST_FIXED = 0x90, 0x00

QR_EC_LEVELS = {"L": 48, "M": 49, "Q": 50, "H": 51}
MAX_QR_DATA = 7089               # model 2, numeric, level L: the largest symbol


# -- command builders ---------------------------------------------------------------------------
def _u8(n: int, name: str, lo: int = 0, hi: int = 255) -> int:
    if not isinstance(n, int) or not lo <= n <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {n!r}")
    return n


def init() -> bytes:
    """ESC @: clear the print buffer and reset modes."""
    return b"\x1b@"


def align(where: str) -> bytes:
    """ESC a n: 'left' (0), 'center' (1), 'right' (2)."""
    n = {"left": 0, "center": 1, "right": 2}.get(where)
    if n is None:
        raise ValueError(f"align must be left, center or right, got {where!r}")
    return bytes([ESC, 0x61, n])


def bold(on: bool) -> bytes:
    """ESC E n: emphasised on/off."""
    return bytes([ESC, 0x45, 1 if on else 0])


def size(width: int = 1, height: int = 1) -> bytes:
    """GS ! n: character size, width and height multipliers 1..8."""
    _u8(width, "width", 1, 8)
    _u8(height, "height", 1, 8)
    return bytes([GS, 0x21, ((width - 1) << 4) | (height - 1)])


def line_feed() -> bytes:
    return b"\n"


def feed_lines(n: int) -> bytes:
    """ESC d n: print the buffer and feed n lines."""
    return bytes([ESC, 0x64, _u8(n, "lines")])


def feed_dots(n: int) -> bytes:
    """ESC J n: print the buffer and feed n dots (motion units; dots on 203 dpi printers)."""
    return bytes([ESC, 0x4A, _u8(n, "dots")])


def chinese_mode(on: bool) -> bytes:
    """FS & (enter) / FS . (leave) Chinese character mode (2-byte GB18030/GBK text)."""
    return b"\x1c&" if on else b"\x1c."


def text(s: str, chinese: bool = False) -> bytes:
    """Text bytes: ASCII, or GB18030 when the printer is in Chinese mode. Raises ValueError on
    characters the chosen encoding cannot carry (never prints '?' silently)."""
    try:
        return s.encode("gb18030" if chinese else "ascii")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text not encodable as {'GB18030' if chinese else 'ASCII'}: {exc.reason}"
                         f" at {exc.start}") from None


def cut(partial: bool = False) -> bytes:
    """GS V 0 (full cut) / GS V 1 (partial cut)."""
    return bytes([GS, 0x56, 1 if partial else 0])


def disable_auto_status_back() -> bytes:
    """GS a 0: no automatic status back packets (the driver asks with DLE EOT instead)."""
    return bytes([GS, 0x61, 0])


def realtime_status_request(n: int) -> bytes:
    """DLE EOT n, n = 1 printer, 2 offline cause, 3 error cause, 4 paper roll sensor."""
    return bytes([DLE, EOT, _u8(n, "n", 1, 4)])


def paper_sensor_request() -> bytes:
    """GS r 1: transmit paper sensor status — answered after all earlier bytes are processed."""
    return bytes([GS, 0x72, 1])


def raster_image(rows: list[bytes] | tuple[bytes, ...], width_bytes: int) -> bytes:
    """GS v 0 m xL xH yL yH d…: a 1-bit raster, MSB = leftmost dot, 1 = black. `rows` are
    `width_bytes` long each."""
    _u8(width_bytes, "width_bytes", 1, 0xFFFF)
    if not rows or len(rows) > 0xFFFF:
        raise ValueError("a raster needs 1..65535 rows")
    if any(len(r) != width_bytes for r in rows):
        raise ValueError("every raster row must be width_bytes long")
    return (bytes([GS, 0x76, 0x30, 0, width_bytes & 0xFF, width_bytes >> 8,
                   len(rows) & 0xFF, len(rows) >> 8]) + b"".join(rows))


def raster_from_image(image, max_rows_per_block: int = 256) -> bytes:
    """GS v 0 blocks for a PIL image (converted to 1 bit; black prints), split in bands of at
    most `max_rows_per_block` rows so small printer buffers are not overrun."""
    bw = image.convert("1")
    width, height = bw.size
    width_bytes = (width + 7) // 8
    # PIL "1" raw: 1 = white; ESC/POS: 1 = black. Pad each row to whole bytes, then invert.
    raw = bw.tobytes("raw", "1;I")     # inverted: 1 = black, rows padded to whole bytes
    rows = [raw[i * width_bytes:(i + 1) * width_bytes] for i in range(height)]
    out = bytearray()
    for start in range(0, height, max_rows_per_block):
        out += raster_image(rows[start:start + max_rows_per_block], width_bytes)
    return bytes(out)


def _qr_cmd(fn: int, params: bytes) -> bytes:
    n = len(params) + 2               # cn and fn count
    return bytes([GS, 0x28, 0x6B, n & 0xFF, n >> 8, 0x31, fn]) + params


def qr_model(model: int = 2) -> bytes:
    """GS ( k fn 165 (0x41): select model 1 or 2."""
    if model not in (1, 2):
        raise ValueError("QR model must be 1 or 2")
    return _qr_cmd(0x41, bytes([0x30 + model, 0]))


def qr_module_size(dots: int) -> bytes:
    """GS ( k fn 167 (0x43): module size 1..16 dots."""
    return _qr_cmd(0x43, bytes([_u8(dots, "module size", 1, 16)]))


def qr_error_correction(level: str = "M") -> bytes:
    """GS ( k fn 169 (0x45): L/M/Q/H = 48..51."""
    if level not in QR_EC_LEVELS:
        raise ValueError("QR error correction must be one of L, M, Q, H")
    return _qr_cmd(0x45, bytes([QR_EC_LEVELS[level]]))


def qr_store(data: bytes) -> bytes:
    """GS ( k fn 180 (0x50): store data in the symbol storage area (pL pH = len + 3)."""
    if not data or len(data) > MAX_QR_DATA:
        raise ValueError(f"QR data must be 1..{MAX_QR_DATA} bytes")
    return _qr_cmd(0x50, b"\x30" + data)


def qr_print() -> bytes:
    """GS ( k fn 181 (0x51): print the stored symbol."""
    return _qr_cmd(0x51, b"\x30")


def qr_code(data: str, module: int = 6, level: str = "M") -> bytes:
    """The whole native QR sequence: model 2, module size, error correction, store, print."""
    return (qr_model(2) + qr_module_size(module) + qr_error_correction(level)
            + qr_store(data.encode("utf-8")) + qr_print())


# -- status parsing ------------------------------------------------------------------------------
class StatusByteError(ValueError):
    """A byte that cannot be a DLE EOT reply (fixed bits are not 0xx1xx10)."""


@dataclass(frozen=True)
class RealtimeStatus:
    """One decoded DLE EOT reply; only the flags its `n` carries are meaningful."""

    n: int
    raw: int
    offline: bool = False
    waiting_recovery: bool = False
    feed_button: bool = False
    cover_open: bool = False
    feeding_by_button: bool = False
    stopped_paper_end: bool = False
    error: bool = False
    cutter_error: bool = False
    unrecoverable: bool = False
    auto_recoverable: bool = False
    paper_near_end: bool = False
    paper_end: bool = False


def is_dle_eot_reply(byte: int) -> bool:
    return 0 <= byte <= 255 and byte & DLE_EOT_MASK == DLE_EOT_FIXED


def parse_dle_eot(n: int, byte: int) -> RealtimeStatus:
    """Decode the reply to DLE EOT n. n=1: bit 3 offline, 5 waiting for online recovery, 6 feed
    button pressed. n=2: bit 2 cover open, 3 feeding by button, 5 stopped at paper end,
    6 error. n=3: bit 3 autocutter error, 5 unrecoverable, 6 auto-recoverable. n=4: bits 2|3
    (0x0C) near end, bits 5|6 (0x60) paper end — either bit of a pair counts (some mechanisms
    have one sensor bit per pair). Raises StatusByteError for bytes not shaped 0xx1xx10 and
    ValueError for n outside 1..4."""
    if n not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT n must be 1..4, got {n!r}")
    if not is_dle_eot_reply(byte):
        raise StatusByteError(f"0x{byte & 0xFF:02X} is not a DLE EOT reply (expected 0xx1xx10)")
    bit = lambda i: bool(byte >> i & 1)   # noqa: E731
    if n == 1:
        return RealtimeStatus(1, byte, offline=bit(3), waiting_recovery=bit(5), feed_button=bit(6))
    if n == 2:
        return RealtimeStatus(2, byte, cover_open=bit(2), feeding_by_button=bit(3),
                              stopped_paper_end=bit(5), error=bit(6))
    if n == 3:
        return RealtimeStatus(3, byte, cutter_error=bit(3), unrecoverable=bit(5),
                              auto_recoverable=bit(6))
    return RealtimeStatus(4, byte, paper_near_end=bool(byte & 0x0C), paper_end=bool(byte & 0x60))


def status_from_replies(b1: int, b2: int, b3: int, b4: int) -> PrinterStatus:
    """Combine the four DLE EOT replies (n = 1, 2, 3, 4) into a `PrinterStatus`."""
    s1, s2, s3, s4 = (parse_dle_eot(n, b) for n, b in zip((1, 2, 3, 4), (b1, b2, b3, b4)))
    if s4.paper_end or s2.stopped_paper_end:
        paper = PaperState.OUT
    elif s4.paper_near_end:
        paper = PaperState.NEAR_END
    else:
        paper = PaperState.OK
    return PrinterStatus(online=not s1.offline, paper=paper, cover_open=s2.cover_open,
                         cutter_error=s3.cutter_error, unrecoverable=s3.unrecoverable)


def status_bytes_for(status: PrinterStatus) -> tuple[int, int, int, int]:
    """The four DLE EOT replies a printer in `status` sends (the emulator answers with these;
    `status_from_replies(*status_bytes_for(s)) == s` for every consistent s)."""
    b1 = b2 = b3 = b4 = DLE_EOT_FIXED
    if not status.online:
        b1 |= 0x08
    if status.cover_open:
        b2 |= 0x04
    if status.paper == PaperState.OUT:
        b2 |= 0x20
        b4 |= 0x6C
    elif status.paper == PaperState.NEAR_END:
        b4 |= 0x0C
    if status.cutter_error or status.unrecoverable:
        b2 |= 0x40
    if status.cutter_error:
        b3 |= 0x08
    if status.unrecoverable:
        b3 |= 0x20
    return b1, b2, b3, b4


def paper_sensor_byte(paper: PaperState) -> int:
    """The GS r 1 reply: bits 0|1 near end, bits 2|3 paper end (shape 0xx0xxxx)."""
    return {PaperState.OK: 0x00, PaperState.NEAR_END: 0x03, PaperState.OUT: 0x0F}[paper]


@dataclass(frozen=True)
class DleEotReply:
    byte: int


@dataclass(frozen=True)
class AutoStatusPacket:
    """A GS a automatic-status-back packet (4 bytes)."""

    raw: bytes

    @property
    def status(self) -> PrinterStatus:
        b1, b2, b3, _ = self.raw
        if b3 & 0x0C:
            paper = PaperState.OUT
        elif b3 & 0x03:
            paper = PaperState.NEAR_END
        else:
            paper = PaperState.OK
        return PrinterStatus(online=not b1 & 0x08, paper=paper, cover_open=bool(b1 & 0x20),
                             cutter_error=bool(b2 & 0x08), unrecoverable=bool(b2 & 0x20))


@dataclass(frozen=True)
class StrayByte:
    """A byte that is neither a DLE EOT reply nor part of an ASB packet (e.g. a GS r reply)."""

    byte: int


class StatusStreamParser:
    """Split the bytes a printer sends back into DLE EOT replies, ASB packets and other bytes.

    Incremental: feed any chunking. A byte shaped 0xx1xx00 opens an ASB packet; if one of the
    next three bytes is not shaped 0xx0xxxx the packet was not one, and its bytes are re-read
    as ordinary bytes (so a real DLE EOT reply is never swallowed)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[DleEotReply | AutoStatusPacket | StrayByte]:
        out: list[DleEotReply | AutoStatusPacket | StrayByte] = []
        queue = bytearray(self._pending) + bytearray(data)
        self._pending = bytearray()
        i = 0
        while i < len(queue):
            b = queue[i]
            if b & DLE_EOT_MASK == DLE_EOT_FIXED:
                out.append(DleEotReply(b))
                i += 1
            elif b & DLE_EOT_MASK == ASB_FIRST_FIXED:
                rest = queue[i + 1:i + 4]
                bad = next((k for k, r in enumerate(rest) if r & ASB_REST_MASK != ASB_REST_FIXED),
                           None)
                if bad is not None:
                    out.append(StrayByte(b))
                    i += 1
                elif len(rest) < 3:
                    self._pending = bytearray(queue[i:])
                    break
                else:
                    out.append(AutoStatusPacket(bytes(queue[i:i + 4])))
                    i += 4
            else:
                out.append(StrayByte(b))
                i += 1
        return out
