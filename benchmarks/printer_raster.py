"""Benchmark: packing a rendered receipt into GS v 0 raster bytes, PIL packing vs a naive loop.

Plain script: `python benchmarks/printer_raster.py`. Also times the whole `layout_receipt`
and the emulator's stream parser on the same job, for reference.
"""
import datetime as dt
import time

from PIL import Image

from devices.interfaces import Receipt
from devices.printer import codec
from devices.printer.escpos_stream import EscPosStreamParser
from devices.printer.receipt_layout import layout_receipt


def naive_raster(image: Image.Image) -> bytes:
    """Dot by dot with getpixel: the obvious first implementation."""
    bw = image.convert("1")
    w, h = bw.size
    wb = (w + 7) // 8
    rows = []
    for y in range(h):
        row = bytearray(wb)
        for x in range(w):
            if bw.getpixel((x, y)) == 0:
                row[x // 8] |= 0x80 >> (x % 8)
        rows.append(bytes(row))
    out = bytearray()
    for start in range(0, h, 256):
        out += codec.raster_image(rows[start:start + 256], wb)
    return bytes(out)


def best_of(fn, n=5):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    receipt = Receipt(
        title="受理回执 / Acceptance receipt", site_name="测试站", terminal_id="T-1",
        issued_at=dt.datetime(2025, 3, 14, 22, 5), case_number="SZ20250314-000123",
        matter_name="个体工商户变更登记", applicant_masked="张*三", id_number_masked="1101**********1234",
        materials_received=("营业执照正本", "申请书"), materials_missing=("住所使用证明",),
        promised_date=dt.date(2025, 3, 21), progress_url="https://example.invalid/p/1",
        phone="12345")
    image = Image.effect_noise((576, 1200), 80).point(lambda v: 255 if v > 128 else 0).convert("1")
    assert naive_raster(image) == codec.raster_from_image(image)
    fast = best_of(lambda: codec.raster_from_image(image))
    slow = best_of(lambda: naive_raster(image), n=2)
    print(f"raster 576x1200: PIL packing {fast * 1000:.2f} ms, naive {slow * 1000:.1f} ms, "
          f"ratio {slow / fast:.0f}x")
    layout_receipt(receipt)                       # font load
    t_layout = best_of(lambda: layout_receipt(receipt))
    job = layout_receipt(receipt)
    t_parse = best_of(lambda: EscPosStreamParser().feed(job))
    print(f"layout_receipt {t_layout * 1000:.1f} ms ({len(job)} bytes); "
          f"emulator parse {t_parse * 1000:.2f} ms")


if __name__ == "__main__":
    main()
