"""The file types a kiosk sends, decided from the bytes: JPEG, PNG and PDF, nothing else.

A terminal writes material pages and the face frames as JPEG (OpenCV / Pillow), the drawn
signature as PNG and each material's pages as one PDF (img2pdf). The manifest's `media_type`
is the terminal's claim and is never used: a terminal key in the wrong hands could declare
`text/html` and, if the console served that inline on its own origin, run script in a
reviewer's browser. So `kiosk_type(data)` looks at the magic number, then requires that an
image decodes completely with Pillow (at most MAX_PIXELS) and that a PDF parses with pikepdf
(img2pdf's own dependency), has pages and carries no active content (no document or page
actions, no JavaScript, no forms, no embedded files). Anything else raises `NotKioskFile`,
which intake answers with 422 `backoffice.packet.file_type`.
"""
from __future__ import annotations

import io
import warnings

from PIL import Image

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
KIOSK_TYPES = (JPEG, PNG, PDF)
SHOWN_INLINE = (JPEG, PNG)          # the console shows images; a PDF is a download
MAX_PIXELS = 25_000_000             # a 1920x1080 document camera page is 2 Mpx
MAGIC = ((b"\xff\xd8\xff", JPEG, "JPEG"), (b"\x89PNG\r\n\x1a\n", PNG, "PNG"))
ACTIVE_PDF_KEYS = ("/OpenAction", "/AA", "/AcroForm", "/Names", "/JavaScript")


class NotKioskFile(ValueError):
    """The bytes are not a file a kiosk sends; the message says why (never the content)."""


def kiosk_type(data: bytes) -> str:
    """The media type of a kiosk file, from its bytes; raises NotKioskFile otherwise."""
    for magic, media_type, pillow_format in MAGIC:
        if data.startswith(magic):
            _check_image(data, pillow_format)
            return media_type
    if data.startswith(b"%PDF-"):
        _check_pdf(data)
        return PDF
    raise NotKioskFile("not a JPEG, PNG or PDF")


def _check_image(data: bytes, pillow_format: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise NotKioskFile(f"{pillow_format} image too large")
                image.load()
    except NotKioskFile:
        raise
    except Exception:       # Pillow raises many kinds on hostile bytes; all mean "not an image"
        raise NotKioskFile(f"{pillow_format} image does not decode") from None


def _check_pdf(data: bytes) -> None:
    import pikepdf

    if b"%%EOF" not in data[-1024:]:
        raise NotKioskFile("PDF has no end")
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) == 0:
                raise NotKioskFile("PDF has no pages")
            if any(key in pdf.Root for key in ACTIVE_PDF_KEYS) or any(
                    "/AA" in page.obj or "/Annots" in page.obj for page in pdf.pages):
                raise NotKioskFile("PDF carries active content")
    except NotKioskFile:
        raise
    except Exception:       # pikepdf / qpdf errors on hostile bytes: not a PDF we take
        raise NotKioskFile("PDF does not parse") from None
