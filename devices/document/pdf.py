"""One PDF per material from its accepted JPEG pages, embedded as they are (img2pdf).

img2pdf puts each JPEG into the PDF as a DCTDecode stream without decoding or re-encoding it,
so the archived PDF holds exactly the pixels that were checked and hashed. The page size comes
from the DPI: a 1654x2339 page at 200 dpi is 210x297 mm.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Sequence

import img2pdf

from devices.interfaces import CapturedPage

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class MaterialCapture:
    """The captured pages of one required material (申报材料) and their PDF."""

    material_code: str
    pages: tuple[bytes, ...]          # the accepted JPEGs, in order
    pdf: bytes
    page_count: int
    sha256s: tuple[str, ...]          # hex SHA-256 of each page JPEG, same order
    pdf_sha256: str
    dpi: int

    def __repr__(self) -> str:        # page images are personal data: never print them
        return f"MaterialCapture({self.material_code!r}, pages={self.page_count}, dpi={self.dpi})"


def pages_to_pdf(jpegs: Sequence[bytes], dpi: int | None = None) -> tuple[bytes, int]:
    """A PDF of the JPEG pages and its page count.

    `dpi` sets every page's resolution; None uses the DPI each JPEG's JFIF header carries
    (the pipeline writes it). Raises ValueError for no pages or bytes that are not a JPEG.
    """
    if not jpegs:
        raise ValueError("a material PDF needs at least one page")
    for i, data in enumerate(jpegs):
        if not isinstance(data, (bytes, bytearray)) or not bytes(data[:3]) == b"\xff\xd8\xff":
            raise ValueError(f"page {i + 1} is not a JPEG image")
    kwargs = {}
    if dpi is not None:
        if dpi <= 0:
            raise ValueError(f"dpi must be positive, not {dpi}")
        kwargs["layout_fun"] = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    try:
        pdf = img2pdf.convert([bytes(j) for j in jpegs], **kwargs)
    except Exception as exc:  # img2pdf raises several types for broken images
        raise ValueError(f"cannot embed the pages in a PDF: {type(exc).__name__}") from exc
    return pdf, len(jpegs)


def assemble_material(material_code: str, pages: Sequence[CapturedPage | bytes],
                      dpi: int | None = None) -> MaterialCapture:
    """Bundle accepted pages (CapturedPage or raw JPEG bytes) into a `MaterialCapture`.

    A rejected CapturedPage is a ValueError: only checked pages may go into a packet. When
    `dpi` is None and all CapturedPages share one DPI, that DPI is used for the PDF.
    """
    jpegs: list[bytes] = []
    dpis: set[int] = set()
    for i, page in enumerate(pages):
        if isinstance(page, CapturedPage):
            if not page.accepted or not page.jpeg:
                raise ValueError(f"page {i + 1} of {material_code!r} was not accepted "
                                 f"({page.reason_key})")
            jpegs.append(page.jpeg)
            dpis.add(page.dpi)
        else:
            jpegs.append(bytes(page))
    if dpi is None and len(dpis) == 1 and next(iter(dpis)) > 0 and len(jpegs) == len(pages) \
            and all(isinstance(p, CapturedPage) for p in pages):
        dpi = next(iter(dpis))
    pdf, count = pages_to_pdf(jpegs, dpi)
    log.info("doc_material assembled code=%s pages=%d pdf_bytes=%d", material_code, count, len(pdf))
    return MaterialCapture(
        material_code=material_code, pages=tuple(jpegs), pdf=pdf, page_count=count,
        sha256s=tuple(hashlib.sha256(j).hexdigest() for j in jpegs),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(), dpi=dpi or 0)
