"""Material PDFs: page count, page size in mm from the DPI, JPEGs embedded byte for byte."""
from __future__ import annotations

import hashlib
import io
import re

import numpy as np
import pytest
from PIL import Image

from devices.document.pdf import MaterialCapture, assemble_material, pages_to_pdf
from devices.document.pipeline import process_frame
from devices.interfaces import CapturedPage

PT_PER_MM = 72 / 25.4


def media_boxes_mm(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [((float(x1) - float(x0)) / PT_PER_MM, (float(y1) - float(y0)) / PT_PER_MM)
            for x0, y0, x1, y1 in boxes]


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def jpeg(w: int, h: int, dpi: int | None = None, shade: int = 200) -> bytes:
    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    Image.fromarray(np.full((h, w, 3), shade, np.uint8)).save(buf, "JPEG", quality=80, **extra)
    return buf.getvalue()


@pytest.fixture(scope="module")
def accepted_pages(frames):
    pages = [process_frame(frames(s, seed)) for s, seed in (("clean", 0), ("rotated", 1), ("clean", 2))]
    assert all(p.accepted for p in pages)
    return pages


def test_material_pdf_from_pipeline_pages(accepted_pages):
    mat = assemble_material("business_licence", accepted_pages)
    assert isinstance(mat, MaterialCapture)
    assert mat.page_count == 3 == page_count(mat.pdf)
    assert mat.pdf.startswith(b"%PDF-")
    for w_mm, h_mm in media_boxes_mm(mat.pdf):
        assert abs(w_mm - 210) < 0.5 and abs(h_mm - 297) < 0.5
    for page, digest in zip(accepted_pages, mat.sha256s):
        assert page.jpeg in mat.pdf                         # embedded, not re-encoded
        assert hashlib.sha256(page.jpeg).hexdigest() == digest
    assert mat.pdf_sha256 == hashlib.sha256(mat.pdf).hexdigest()
    assert mat.dpi == 200
    assert "business_licence" in repr(mat) and "\\xff" not in repr(mat)


@pytest.mark.parametrize("w,h,dpi,expected_mm", [
    (1654, 2339, 200, (210.0, 297.0)),
    (2480, 3508, 300, (210.0, 297.0)),
    (1000, 500, 100, (254.0, 127.0)),
])
def test_page_size_follows_the_dpi(w, h, dpi, expected_mm):
    pdf, n = pages_to_pdf([jpeg(w, h)], dpi=dpi)
    assert n == 1 == page_count(pdf)
    (w_mm, h_mm), = media_boxes_mm(pdf)
    assert abs(w_mm - expected_mm[0]) < 0.3 and abs(h_mm - expected_mm[1]) < 0.3


def test_dpi_from_the_jfif_header_when_not_given():
    pdf, _ = pages_to_pdf([jpeg(400, 600, dpi=200), jpeg(600, 400, dpi=100)])
    (w1, h1), (w2, h2) = media_boxes_mm(pdf)
    assert abs(w1 - 50.8) < 0.3 and abs(h1 - 76.2) < 0.3
    assert abs(w2 - 152.4) < 0.3 and abs(h2 - 101.6) < 0.3


def test_pikepdf_reads_the_pages_if_installed():
    pikepdf = pytest.importorskip("pikepdf")
    pdf, _ = pages_to_pdf([jpeg(200, 300, shade=s) for s in (10, 120, 240)], dpi=100)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == 3
        assert [float(v) for v in doc.pages[0].mediabox] == pytest.approx([0, 0, 144, 216], abs=0.1)


@pytest.mark.parametrize("pages,message", [
    ([], "at least one page"),
    ([b"\x89PNG\r\n\x1a\n...."], "not a JPEG"),
    ([b"\xff\xd8\xff\xe0 truncated"], "cannot embed"),
])
def test_bad_pages_are_clear_errors(pages, message):
    with pytest.raises(ValueError, match=message):
        pages_to_pdf(pages)


def test_rejected_pages_never_go_into_a_material():
    rejected = CapturedPage(accepted=False, reason_key="doc.glare", jpeg=None)
    with pytest.raises(ValueError, match="doc.glare"):
        assemble_material("id_copy", [rejected])
