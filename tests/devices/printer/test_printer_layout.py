"""The receipt layout: masking helpers, a golden hash of a whole job, its structure, and the
case number printed whole."""
import dataclasses
import hashlib

import numpy as np
import pytest

from devices.printer import codec
from devices.printer.escpos_stream import EscPosStreamParser
from devices.printer.paper import PaperRenderer
from devices.printer.receipt_layout import (MARGIN, QR_QUIET_MODULES, layout_receipt,
                                            layout_test_page,
                                            mask_id_number, mask_name, qr_module_for,
                                            receipt_lines)
from devices.printer.render import bold_variant, find_cjk_font

# Pinned for NotoSansCJK-Regular.ttc (SC face) with this Pillow/FreeType. If the font package
# or Pillow changes, look at a fresh docs/receipt-example.png, then update the hash.
GOLDEN_SHA256_576 = "5482c13babacaa9d3a2892491a0ee840924e33791a006ff184017e86c6374462"
GOLDEN_FONT = "NotoSansCJK-Regular.ttc"


@pytest.mark.parametrize("name, masked", [
    ("张三", "张*"), ("张小三", "张*三"), ("欧阳娜娜", "欧**娜"), ("王", "*"), ("", ""),
    ("买买提·艾力", "买**·*力"), (" 李四 ", "李*"), ("JOHN SMITH", "J*** ****H"),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize("number, masked", [
    ("110101199003071234", "1101**********1234"), ("11010119900307123X", "1101**********123X"),
    ("810000199408230021", "8100**********0021"), ("H12345678", "H123*5678"),
    ("E1234567", "******67"), ("12", "**"), ("", ""),
])
def test_mask_id_number(number, masked):
    assert mask_id_number(number) == masked
    assert len(mask_id_number(number)) == len(number.strip())


def test_receipt_layout_golden_hash(receipt):
    assert find_cjk_font().path.endswith(GOLDEN_FONT)
    data = layout_receipt(receipt)
    assert hashlib.sha256(data).hexdigest() == GOLDEN_SHA256_576


def test_receipt_layout_is_deterministic_and_depends_on_content(receipt):
    a = layout_receipt(receipt)
    assert layout_receipt(receipt) == a
    other = dataclasses.replace(receipt, case_number="SZ20250314-000124")
    assert layout_receipt(other) != a


def _events(data):
    return EscPosStreamParser().feed(data)


@pytest.mark.parametrize("width", [576, 384])
def test_receipt_layout_structure(receipt, width):
    data = layout_receipt(receipt, width)
    assert data.startswith(codec.init())
    assert data.endswith(codec.feed_lines(4) + codec.cut())
    events = _events(data)
    names = [e.name for e in events]
    assert names[0] == "init" and names[-1] == "cut"
    rasters = [e for e in events if e.name == "raster"]
    assert len(rasters) >= 2 and all(e.args[1] == width // 8 for e in rasters)
    assert all(e.args[2] <= 256 for e in rasters)               # bands fit small buffers
    # QR: model, size, ECC, store (the URL), print — in that order, centred.
    qr = [e for e in events if e.name.startswith("qr_")]
    assert [e.name for e in qr] == ["qr_model", "qr_size", "qr_ecc", "qr_store", "qr_print"]
    assert qr[1].args == (qr_module_for(width),)
    assert qr[3].data == receipt.progress_url.encode()
    assert events[names.index("qr_model") - 1].name == "align"
    assert events[names.index("qr_model") - 1].args == (1,)
    assert events[names.index("qr_model") - 2].name == "feed_dots"     # its quiet zone above
    # Nothing personal in clear: the masked strings are drawn, never sent as text.
    assert "text" not in names
    assert receipt.case_number.encode() not in data.replace(receipt.progress_url.encode(), b"")


def test_receipt_without_missing_materials_or_date(receipt):
    r = dataclasses.replace(receipt, materials_missing=(), promised_date=None, notes=())
    assert layout_receipt(r) != layout_receipt(receipt)


@pytest.mark.parametrize("width", [0, 100, 577, 2048, "576"])
def test_layout_rejects_bad_widths(receipt, width):
    with pytest.raises(ValueError):
        layout_receipt(receipt, width)


def test_test_page_has_native_ascii_and_gb18030_text():
    data = layout_test_page(384, terminal_id="T-1", site_name="站")
    events = _events(data)
    names = [e.name for e in events]
    i = names.index("chinese_on")
    assert events[i + 1].name == "text" and events[i + 1].data == "国标中文 GB18030".encode("gb18030")
    assert names[i + 3] == "chinese_off"
    assert "qr_print" in names and names[-1] == "cut"


def test_receipt_without_progress_url_has_no_qr(receipt):
    names = [e.name for e in _events(layout_receipt(dataclasses.replace(receipt, progress_url="")))]
    assert not any(n.startswith("qr_") for n in names) and names[-1] == "cut"


# Case numbers as terminals issue them: <terminal id>-<day>-<installation>-<sequence> (before:
# <terminal id>-<day>-<sequence>); a provisioned terminal's id ("510102-ZZ-0001") makes them
# longer than the receipt's large type fits on 80 mm paper.
@pytest.mark.parametrize("case_number", [
    "LH-20261205-000123", "SIM-0001-20261205-000001", "510102-ZZ-0001-20261205-000123",
    "DEMO-0001-20261205-9E32-0001", "510102-ZZ-0001-20261205-9E32-0001"])
@pytest.mark.parametrize("width", [576, 384])
def test_the_case_number_is_printed_whole_on_one_line(receipt, case_number, width):
    r = dataclasses.replace(receipt, case_number=case_number)
    lines = receipt_lines(r, width)
    texts = [text for text, _px in lines]
    assert case_number in texts, texts             # a line of its own, never split
    assert not [t for t in texts if t != case_number and t and t in case_number], texts
    px = dict(lines)[case_number]
    nominal = dict(receipt_lines(receipt, width))[receipt.case_number]   # a short one's size
    bold = bold_variant(find_cjk_font())
    usable = width - 2 * MARGIN
    assert px <= nominal and bold.at(px).getlength(case_number) <= usable
    assert px == nominal or bold.at(px + 1).getlength(case_number) > usable   # no smaller


@pytest.mark.parametrize("width", [576, 384])
def test_the_qr_code_has_its_quiet_zone_on_paper(receipt, width):
    """4 modules blank on every side of the QR code as the paper comes out (the printer adds
    none): with less above it, phone scanners and the classic detector may miss it."""
    renderer = PaperRenderer(width, find_cjk_font())
    rows = None
    for event in _events(layout_receipt(receipt, width)):
        before = renderer._height
        renderer.handle(event)
        if event.name == "qr_print":
            rows = (before, renderer._height)
    paper = ~np.array(renderer.cut())               # True where printed
    top, bottom = rows
    printed_rows = np.flatnonzero(paper.any(axis=1))
    printed_cols = np.flatnonzero(paper[top:bottom].any(axis=0))
    quiet = QR_QUIET_MODULES * qr_module_for(width)
    assert top - (printed_rows[printed_rows < top].max() + 1) >= quiet          # above
    assert printed_rows[printed_rows >= bottom].min() - bottom >= quiet         # below
    assert printed_cols.min() >= quiet and width - 1 - printed_cols.max() >= quiet
