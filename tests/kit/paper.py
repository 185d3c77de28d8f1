"""Reading back what the printer emulator printed: the QR code on a receipt.

Shared by the end-to-end tests (tests/e2e) and the soak (benchmarks/soak.py). The code is read
the way the terminal reads a receipt laid under its document camera (办件查询:
devices/document/scanner.py `decode_qr`), with white paper around it as on a desk.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

DESK_MARGIN = 40        # white pixels around the paper


def qr_text_on_paper(paper) -> str | None:
    """The text of the QR code on a printed page (a PIL image, a grayscale array or a PNG's
    path), or None when it cannot be read."""
    import cv2
    from PIL import Image

    from devices.document.scanner import decode_qr
    if isinstance(paper, (str, Path)):
        paper = Image.open(paper)
    gray = np.asarray(paper.convert("L")) if isinstance(paper, Image.Image) else paper
    on_desk = cv2.copyMakeBorder(gray, DESK_MARGIN, DESK_MARGIN, DESK_MARGIN, DESK_MARGIN,
                                 cv2.BORDER_CONSTANT, value=255)
    return decode_qr(on_desk)
