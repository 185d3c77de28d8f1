"""Byte codec of the SAM serial protocol of resident ID-card readers: frames, statuses, payloads.

Pure functions, no I/O. A frame is

    AA AA AA 96 69 | LEN_H LEN_L | body ... | CHK

where LEN (big-endian) counts every byte after it, CHK included, and CHK is the XOR of all bytes
from LEN_H up to the byte before CHK. A request body is `CMD PARA data…`, a response body
`SW1 SW2 SW3 data…` (SW1 SW2 are 00 00, SW3 the status). `FrameParser` takes bytes as they
arrive and hands back complete frames; it skips garbage by searching for the preamble and
reports bad checksums and impossible lengths as values (`ChecksumError`, `LengthError`), so a
caller never loses the frames that follow. The 256-byte card text lives in `text_block`
(re-exported here).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from devices.id_card.text_block import (  # noqa: F401  (re-exported: the card text codec)
    TextBlockError, parse_text_block)

PREAMBLE = b"\xAA\xAA\xAA\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2
# The longest real reply is 30 10: 3 status + 6 lengths + 256 + 1024 + 1024 + CHK = 2314.
MAX_LEN = 0x1000
MIN_REQUEST_LEN = 3     # CMD PARA CHK
MIN_RESPONSE_LEN = 4    # SW1 SW2 SW3 CHK

NEW_ADDRESS_SIZE = 70
SAM_ID_SIZE = 16


class FrameError(ValueError):
    """A frame could not be taken as it came (declared error of this codec)."""


class ChecksumError(FrameError):
    pass


class LengthError(FrameError):
    pass


class PayloadError(ValueError):
    """A frame was well formed but its data does not have the shape its command promises."""


# ------------------------------------------------------------------------------------------
# Commands
@dataclass(frozen=True)
class Command:
    cmd: int
    para: int
    data: bytes = b""
    name: str = ""


RESET_SAM = Command(0x10, 0xFF, name="reset_sam")
SAM_STATUS = Command(0x11, 0xFF, name="sam_status")
READ_SAM_ID = Command(0x12, 0xFF, name="read_sam_id")
FIND_CARD = Command(0x20, 0x01, name="find_card")
SELECT_CARD = Command(0x20, 0x02, name="select_card")
READ_TEXT_PHOTO = Command(0x30, 0x01, name="read_text_photo")
READ_NEW_ADDRESS = Command(0x30, 0x03, name="read_new_address")
READ_TEXT_PHOTO_FINGERPRINT = Command(0x30, 0x10, name="read_text_photo_fingerprint")
DEFAULT_MAX_RF_FRAME = 0x50
SET_MAX_RF_FRAME = Command(0x61, 0xFF, bytes([DEFAULT_MAX_RF_FRAME]), name="set_max_rf_frame")


def checksum(data: bytes) -> int:
    """XOR of all bytes (pass LEN_H … last byte before CHK).

    Folds the bytes as one big integer, halving it each round (a 1.3 KB card reply in ~10
    big-int operations instead of 1,300 interpreted ones; see benchmarks/id_card_parser.py).
    """
    n, width = int.from_bytes(data, "big"), len(data)
    while width > 1:
        half = width // 2
        n = (n >> (8 * half)) ^ (n & ((1 << (8 * half)) - 1))
        width -= half
    return n


def build_frame(body: bytes) -> bytes:
    """Preamble, big-endian LEN (body + CHK), body, CHK."""
    if len(body) + 1 > MAX_LEN:
        raise LengthError(f"body of {len(body)} bytes is longer than the protocol allows")
    length = struct.pack(">H", len(body) + 1)
    return PREAMBLE + length + body + bytes([checksum(length + body)])


def build_request(command: Command, data: bytes | None = None) -> bytes:
    return build_frame(bytes([command.cmd, command.para]) + (command.data if data is None else data))


def set_max_rf_frame(size: int = DEFAULT_MAX_RF_FRAME) -> bytes:
    if not 0 <= size <= 0xFF:
        raise ValueError("RF frame size is one byte")
    return build_request(SET_MAX_RF_FRAME, bytes([size]))


def build_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return build_frame(bytes([sw1, sw2, sw3]) + data)


# ------------------------------------------------------------------------------------------
# Statuses (SW3)
@dataclass(frozen=True)
class Status:
    code: int
    meaning: str
    reason_key: str | None    # None: not a failure


STATUS_OK = 0x90
STATUS_FIND_OK = 0x9F
STATUS_ITEM_EMPTY = 0x91
STATUS_CHECKSUM = 0x10
STATUS_READ_FAILED = 0x41
STATUS_SAM_SELF_TEST = 0x60
STATUS_NO_CARD = 0x80
STATUS_SELECT_FAILED = 0x81

STATUSES: dict[int, Status] = {s.code: s for s in (
    Status(0x90, "OK", None),
    Status(0x9F, "find card OK", None),
    Status(0x91, "item empty", None),
    Status(0x10, "checksum error", "id_card.comm_error"),
    Status(0x11, "length error", "id_card.comm_error"),
    Status(0x21, "command error", "id_card.comm_error"),
    Status(0x23, "not authorised", "id_card.sam_fault"),
    Status(0x24, "unknown error", "id_card.comm_error"),
    Status(0x31, "card failed to authenticate the SAM", "id_card.unreadable"),
    Status(0x32, "SAM failed to authenticate the card", "id_card.unreadable"),
    Status(0x33, "information verify error", "id_card.unreadable"),
    Status(0x40, "unknown card type", "id_card.unreadable"),
    Status(0x41, "read failed", "id_card.pulled"),
    Status(0x47, "random-number failure", "id_card.unreadable"),
    Status(0x60, "SAM self-test failed", "id_card.sam_fault"),
    Status(0x66, "SAM not authorised", "id_card.sam_fault"),
    Status(0x80, "find failed (no card)", "id_card.no_card"),
    Status(0x81, "select failed", "id_card.no_card"),
)}


def status_of(sw3: int) -> Status:
    return STATUSES.get(sw3) or Status(sw3, f"undocumented status 0x{sw3:02X}", "id_card.comm_error")


# ------------------------------------------------------------------------------------------
# Parsing frames from a byte stream
@dataclass(frozen=True)
class Frame:
    body: bytes      # between LEN and CHK


@dataclass(frozen=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @classmethod
    def from_frame(cls, frame: Frame) -> "Response":
        if len(frame.body) < MIN_RESPONSE_LEN - 1:
            raise LengthError("response shorter than its status bytes")
        return cls(frame.body[0], frame.body[1], frame.body[2], frame.body[3:])

    @property
    def status(self) -> Status:
        return status_of(self.sw3)


@dataclass(frozen=True)
class Request:
    cmd: int
    para: int
    data: bytes

    @classmethod
    def from_frame(cls, frame: Frame) -> "Request":
        if len(frame.body) < MIN_REQUEST_LEN - 1:
            raise LengthError("request shorter than CMD PARA")
        return cls(frame.body[0], frame.body[1], frame.body[2:])


class FrameParser:
    """Incremental frame reader: `feed(bytes)` returns the frames (and frame errors) completed.

    Garbage before a preamble is dropped (counted in `discarded`); a LEN below `min_len` or
    above MAX_LEN is reported as LengthError and the parser resyncs one byte later; a bad CHK
    is reported as ChecksumError and the whole declared frame is consumed.
    """

    def __init__(self, min_len: int = MIN_RESPONSE_LEN, max_len: int = MAX_LEN):
        self.min_len = min_len
        self.max_len = max_len
        self._buf = bytearray()
        self.discarded = 0

    @property
    def in_frame(self) -> bool:
        """True when the buffer holds the start of a frame not yet complete."""
        return bool(self._buf) and PREAMBLE.startswith(bytes(self._buf[:5]))

    def reset(self) -> None:
        self.discarded += len(self._buf)
        self._buf.clear()

    def _drop(self, n: int) -> None:
        self.discarded += n
        del self._buf[:n]

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buf += data
        out: list[Frame | FrameError] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                # keep a tail that may be the beginning of a preamble
                keep = next((k for k in range(min(len(PREAMBLE) - 1, len(self._buf)), 0, -1)
                             if self._buf.endswith(PREAMBLE[:k])), 0)
                self._drop(len(self._buf) - keep)
                return out
            if start:
                self._drop(start)
            if len(self._buf) < HEADER_SIZE:
                return out
            length = (self._buf[5] << 8) | self._buf[6]
            if not self.min_len <= length <= self.max_len:
                out.append(LengthError(f"frame length {length} outside {self.min_len}..{self.max_len}"))
                self._drop(1)
                continue
            total = HEADER_SIZE + length
            if len(self._buf) < total:
                return out
            raw = bytes(self._buf[:total])
            del self._buf[:total]
            if checksum(raw[5:-1]) != raw[-1]:
                out.append(ChecksumError("frame checksum does not match"))
            else:
                out.append(Frame(raw[HEADER_SIZE:-1]))


def parse_response(raw: bytes) -> Response:
    """Parse exactly one complete response frame (golden tests, tools)."""
    items = FrameParser().feed(raw)
    if len(items) != 1:
        raise FrameError(f"expected one frame, found {len(items)}")
    if isinstance(items[0], FrameError):
        raise items[0]
    return Response.from_frame(items[0])


def parse_request(raw: bytes) -> Request:
    items = FrameParser(min_len=MIN_REQUEST_LEN).feed(raw)
    if len(items) != 1:
        raise FrameError(f"expected one frame, found {len(items)}")
    if isinstance(items[0], FrameError):
        raise items[0]
    return Request.from_frame(items[0])


# ------------------------------------------------------------------------------------------
# Payloads
@dataclass(frozen=True, repr=False)
class CardPayload:
    """The blocks of a `30 01` / `30 10` reply. `repr` is masked (personal data)."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""

    def __repr__(self) -> str:
        return f"CardPayload(text={len(self.text)}B, photo={len(self.photo)}B, fp={len(self.fingerprint)}B)"


def _blocks(data: bytes, count: int) -> list[bytes]:
    head = 2 * count
    if len(data) < head:
        raise PayloadError("card payload shorter than its block lengths")
    sizes = struct.unpack(f">{count}H", data[:head])
    if head + sum(sizes) != len(data):
        raise PayloadError(f"card payload is {len(data) - head} bytes, its lengths say {sum(sizes)}")
    blocks, pos = [], head
    for size in sizes:
        blocks.append(data[pos:pos + size])
        pos += size
    return blocks


def parse_text_photo(data: bytes) -> CardPayload:
    """Data of a `30 01` reply (after SW1-3): text length, photo length, text, photo."""
    text, photo = _blocks(data, 2)
    return CardPayload(text, photo)


def parse_text_photo_fingerprint(data: bytes) -> CardPayload:
    """Data of a `30 10` reply: text, photo and fingerprint lengths, then the three blocks."""
    text, photo, fingerprint = _blocks(data, 3)
    return CardPayload(text, photo, fingerprint)


def encode_text_photo(text: bytes, photo: bytes) -> bytes:
    return struct.pack(">HH", len(text), len(photo)) + text + photo


def encode_text_photo_fingerprint(text: bytes, photo: bytes, fingerprint: bytes) -> bytes:
    return struct.pack(">HHH", len(text), len(photo), len(fingerprint)) + text + photo + fingerprint


def parse_new_address(data: bytes) -> str:
    """Data of a `30 03` reply: 70 bytes UTF-16LE, space padded."""
    if len(data) != NEW_ADDRESS_SIZE:
        raise PayloadError(f"new address is {len(data)} bytes, expected {NEW_ADDRESS_SIZE}")
    try:
        return data.decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError:
        raise PayloadError("new address is not UTF-16LE text") from None


def encode_new_address(address: str) -> bytes:
    raw = address.encode("utf-16-le")
    if len(raw) > NEW_ADDRESS_SIZE:
        raise PayloadError("new address longer than 35 characters")
    return raw + " ".encode("utf-16-le") * ((NEW_ADDRESS_SIZE - len(raw)) // 2)


SAM_ID_STRUCT = struct.Struct("<HHIII")


def parse_sam_id(data: bytes) -> str:
    """Data of a `12 FF` reply, shown as %02d.%02d-%08d-%010d-%010d (u16 u16 u32 u32 u32, LE)."""
    if len(data) != SAM_ID_SIZE:
        raise PayloadError(f"SAM id is {len(data)} bytes, expected {SAM_ID_SIZE}")
    return "%02d.%02d-%08d-%010d-%010d" % SAM_ID_STRUCT.unpack(data)


def encode_sam_id(a: int, b: int, c: int, d: int, e: int) -> bytes:
    return SAM_ID_STRUCT.pack(a, b, c, d, e)
