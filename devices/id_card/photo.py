"""Decoding the card's 1024-byte photo into a 126x102 BGR image.

Real cards store the photo as WLT, a licensed wavelet format only vendor libraries decode
(`libwlt2bmp.so`, exporting `int unpack(char *src, char *dst, int bmpSave)`). `VendorWltDecoder`
loads such a library with ctypes at run time. No open WLT encoder exists, so the emulator
cannot produce real WLT: it carries its own encoding, `EmulatorPhotoCodec` (a magic prefix and a
JPEG whose fixed header is left out so a 102x126 colour photo fits in 1024 bytes), decoded
behind the same `PhotoDecoder` interface. Errors never include image bytes.
"""
from __future__ import annotations

import ctypes
import logging
import os
import struct
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from devices.interfaces import DeviceError, DeviceUnavailable

log = logging.getLogger(__name__)

PHOTO_WIDTH, PHOTO_HEIGHT = 102, 126
PHOTO_RAW_SIZE = 1024
BGR_SIZE = PHOTO_WIDTH * PHOTO_HEIGHT * 3              # 38,556
BMP_SIZE = 54 + (PHOTO_WIDTH * 3 + 2) * PHOTO_HEIGHT   # 38,862: header + rows padded to 4 bytes
WLT_LIB_ENV = "KIOSK_WLT_LIB"
WLT_BMPSAVE_ENV = "KIOSK_WLT_BMPSAVE"
# C and C++ builds of the vendor library: plain `unpack`, or the mangled unpack(char*, char*, int)
UNPACK_SYMBOLS = ("unpack", "_Z6unpackPcS_i")


@runtime_checkable
class PhotoDecoder(Protocol):
    def decode(self, raw1024: bytes) -> np.ndarray:
        """The card photo as a 126x102x3 uint8 BGR array; DeviceError if it cannot be decoded."""


def _unreadable(message: str) -> DeviceError:
    return DeviceError(message, reason_key="id_card.photo_unreadable")


class VendorWltDecoder:
    """WLT decoding through the vendor's `libwlt2bmp.so` (or a compatible variant).

    `bmp_save` is passed as the third argument; its meaning is vendor-specific (published
    wrappers pass values such as 0, 1, 602, 708 or 752). The output may be raw BGR (38,556
    bytes, rows top-down) or a whole BMP file (38,862 bytes, starting with 'BM'); both are handled.
    """

    def __init__(self, lib_path: str | os.PathLike | None, bmp_save: int = 0):
        if not lib_path:
            raise DeviceUnavailable("no WLT photo decoder configured (set KIOSK_WLT_LIB)",
                                    reason_key="id_card.photo_decoder_missing")
        path = Path(lib_path)
        if not path.is_file():
            raise DeviceUnavailable(f"WLT decoder library not found at {path}",
                                    reason_key="id_card.photo_decoder_missing")
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise DeviceUnavailable(f"WLT decoder library {path} cannot be loaded: {exc}",
                                    reason_key="id_card.photo_decoder_missing") from exc
        for symbol in UNPACK_SYMBOLS:
            fn = getattr(lib, symbol, None)
            if fn is not None:
                break
        else:
            raise DeviceUnavailable(f"{path} exports no unpack function",
                                    reason_key="id_card.photo_decoder_missing")
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        fn.restype = ctypes.c_int
        self._unpack = fn
        self.bmp_save = bmp_save
        self.lib_path = str(path)

    def decode(self, raw1024: bytes) -> np.ndarray:
        if len(raw1024) != PHOTO_RAW_SIZE:
            raise _unreadable(f"photo is {len(raw1024)} bytes, expected {PHOTO_RAW_SIZE}")
        src = ctypes.create_string_buffer(bytes(raw1024), PHOTO_RAW_SIZE)
        dst = ctypes.create_string_buffer(BMP_SIZE + 1024)   # room for either output form
        result = self._unpack(src, dst, self.bmp_save)
        if result != 1:
            raise _unreadable(f"vendor unpack returned {result}")
        return bgr_from_vendor_output(dst.raw)


def bgr_from_vendor_output(out: bytes) -> np.ndarray:
    """Turn the vendor's output buffer (BMP file or raw BGR) into a 126x102x3 array."""
    if out[:2] == b"BM":
        size = struct.unpack_from("<I", out, 2)[0] or BMP_SIZE
        image = cv2.imdecode(np.frombuffer(out[:size], np.uint8), cv2.IMREAD_COLOR)
        if image is None or image.shape[:2] != (PHOTO_HEIGHT, PHOTO_WIDTH):
            raise _unreadable("vendor output is not a 102x126 BMP")
        return image
    if len(out) < BGR_SIZE:
        raise _unreadable("vendor output shorter than a 102x126 BGR image")
    return np.frombuffer(out[:BGR_SIZE], np.uint8).reshape(PHOTO_HEIGHT, PHOTO_WIDTH, 3).copy()


# ------------------------------------------------------------------------------------------
class EmulatorPhotoCodec:
    """The emulator's photo encoding: NOT WLT (real WLT cannot be produced without the vendor).

    Layout of the 1024 bytes: b"KEMU", version 1, quality (1 byte), stored width and height
    (1 byte each), data length (u16 big-endian), then the JPEG entropy-coded data after its
    start-of-scan header, zero padded. The JPEG header (quantisation and Huffman tables) is a
    pure function of size and quality, so the decoder regenerates it by encoding a blank image
    of that size and quality with the same OpenCV; this saves ~620 bytes, which is what lets a
    colour 102x126 photo fit. If the photo does not fit at full size, it is stored smaller and
    scaled back up on decoding.
    """

    MAGIC = b"KEMU"
    VERSION = 1
    HEADER = struct.Struct(">4sBBBBH")
    SCALES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
    MIN_QUALITY = 35

    @classmethod
    def is_emulator_photo(cls, raw: bytes) -> bool:
        return raw[:4] == cls.MAGIC

    @staticmethod
    def _split_at_scan(jpeg: bytes) -> tuple[bytes, bytes]:
        sos = jpeg.find(b"\xff\xda")
        if sos < 0:
            raise _unreadable("not a baseline JPEG")
        end = sos + 2 + int.from_bytes(jpeg[sos + 2:sos + 4], "big")
        return jpeg[:end], jpeg[end:]

    @classmethod
    def _jpeg(cls, image: np.ndarray, quality: int) -> bytes:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()

    @classmethod
    def encode(cls, bgr: np.ndarray) -> bytes:
        """Encode a 126x102x3 BGR photo into exactly 1024 bytes (best quality that fits)."""
        if bgr.shape != (PHOTO_HEIGHT, PHOTO_WIDTH, 3) or bgr.dtype != np.uint8:
            raise ValueError("photo must be a 126x102x3 uint8 BGR array")
        budget = PHOTO_RAW_SIZE - cls.HEADER.size
        for i, scale in enumerate(cls.SCALES):
            w, h = round(PHOTO_WIDTH * scale), round(PHOTO_HEIGHT * scale)
            img = bgr if scale == 1.0 else cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
            floor = cls.MIN_QUALITY if i < len(cls.SCALES) - 1 else 5
            best = None
            lo, hi = floor, 95
            while lo <= hi:                   # highest quality whose data fits the budget
                q = (lo + hi) // 2
                data = cls._split_at_scan(cls._jpeg(img, q))[1]
                if len(data) <= budget:
                    best, lo = (q, data), q + 1
                else:
                    hi = q - 1
            if best:
                q, data = best
                head = cls.HEADER.pack(cls.MAGIC, cls.VERSION, q, w, h, len(data))
                return (head + data).ljust(PHOTO_RAW_SIZE, b"\0")
        raise ValueError("photo does not fit in 1024 bytes even at the smallest size")

    def decode(self, raw1024: bytes) -> np.ndarray:
        if len(raw1024) != PHOTO_RAW_SIZE or not self.is_emulator_photo(raw1024):
            raise _unreadable("not an emulator photo")
        magic, version, q, w, h, length = self.HEADER.unpack_from(raw1024)
        if version != self.VERSION or not (1 <= q <= 100) or w == 0 or h == 0 \
                or length > PHOTO_RAW_SIZE - self.HEADER.size:
            raise _unreadable("emulator photo header is inconsistent")
        header = self._split_at_scan(self._jpeg(np.zeros((h, w, 3), np.uint8), q))[0]
        data = raw1024[self.HEADER.size:self.HEADER.size + length]
        image = cv2.imdecode(np.frombuffer(header + data, np.uint8), cv2.IMREAD_COLOR)
        if image is None or image.shape[:2] != (h, w):
            raise _unreadable("emulator photo data is corrupt")
        if (w, h) != (PHOTO_WIDTH, PHOTO_HEIGHT):
            image = cv2.resize(image, (PHOTO_WIDTH, PHOTO_HEIGHT), interpolation=cv2.INTER_CUBIC)
        return image


class AutoPhotoDecoder:
    """The driver's default: the emulator codec for photos carrying its magic prefix, else the
    vendor library (`[devices] wlt_library`, handed over by the terminal; `KIOSK_WLT_LIB` when
    none is configured), else `id_card.photo_decoder_missing` (raised when a photo is decoded,
    so a missing library is a health fault, not a crash)."""

    def __init__(self, lib_path: str | None = None, bmp_save: int = 0):
        self.lib_path = lib_path
        self.bmp_save = bmp_save
        self._vendor: VendorWltDecoder | None = None
        self._emulator = EmulatorPhotoCodec()

    @classmethod
    def configured(cls, lib_path: str | None = None) -> "AutoPhotoDecoder":
        """The decoder of a configured library; `KIOSK_WLT_LIB` when `lib_path` is empty."""
        return cls(lib_path or os.environ.get(WLT_LIB_ENV) or None,
                   int(os.environ.get(WLT_BMPSAVE_ENV, "0") or 0))

    @classmethod
    def from_env(cls) -> "AutoPhotoDecoder":
        return cls.configured(None)

    def decode(self, raw1024: bytes) -> np.ndarray:
        if EmulatorPhotoCodec.is_emulator_photo(raw1024):
            return self._emulator.decode(raw1024)
        if self._vendor is None:
            self._vendor = VendorWltDecoder(self.lib_path, self.bmp_save)
        return self._vendor.decode(raw1024)
