"""The signature pad's picture: the strokes as drawn, encoded off the UI thread."""
import os

import cv2
import numpy as np

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")

from kiosk.ui.signature_pad import signature_png  # noqa: E402


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)


def test_strokes_are_drawn_where_they_were_made_upright():
    # a horizontal stroke near the pad's bottom (pad y grows upwards) and a dot near its top
    image = decode(signature_png([[(20, 10), (180, 10)], [(100, 90)]], (200, 100)))
    assert image.shape == (100, 200)
    assert image[89, 20:180].max() < 128 and image[89, 100] < 64   # the stroke, 10 px up
    assert image[9:12, 99:102].min() < 64                           # the dot, 90 px up
    assert image[50, :].min() == 255 and image[:, 5].min() == 255  # nothing else


def test_nothing_drawn_is_a_white_picture():
    image = decode(signature_png([], (120, 60)))
    assert image.shape == (60, 120) and image.min() == 255
