"""Face encodings with dlib (via face_recognition): the ID-card photo and live frames.

The card photo is tiny (102x126, the face ~50-60 px wide), below what the HOG detector finds
at its native scale, so `encode_card_photo` enlarges it 2x and upsamples once more while
detecting; if the detector still finds nothing it falls back to an explicit face box over the
central part of the photo (card photos are centred, head-and-shoulders). It returns a 128-d
encoding; the caller keeps it for the visit (see `CardEncodingCache`) and drops it in `wipe()`.

DEFAULT_THRESHOLD calibration (`python -m devices.face.calibrate`): euclidean distances between
the encoding of a card-sized 102x126 crop of X_1 and that of a live 640x480 frame made from
X_2 by the live pipeline (and X_2 card vs X_1 live), four people (obama, biden, harington,
leslie); each card crop also passed through the emulator's 1024-byte card codec ("+codec").

    same person (16 pairs): 0.366 leslie, 0.375 harington, 0.394 obama, 0.400 obama,
        0.408 biden, 0.421 biden, 0.422 biden+codec, 0.426 harington, 0.428 leslie,
        0.442 leslie+codec, 0.465 harington+codec, 0.496 obama+codec, 0.499 leslie+codec,
        0.503 harington+codec, 0.548 obama+codec, 0.555 biden+codec
    different people (96 pairs): 0.702 (obama_2+codec card vs biden_1 live), 0.719, 0.721,
        0.734, 0.745 ... median ~0.85 ... 0.977

The gap is 0.555 .. 0.702 (midpoint 0.629); the default 0.62 sits in it, leaning strict.
The tiny card photo pushes same-person distances above the 0.45-0.55 usually quoted for
face_recognition. Four people is a small sample: re-calibrate on site and set
`face.threshold` in the configuration.
"""
from __future__ import annotations

import hashlib
import logging
import threading

import cv2
import numpy as np

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.62
CARD_WIDTH, CARD_HEIGHT = 102, 126
Box = tuple[int, int, int, int]     # (top, right, bottom, left), face_recognition's order


class NoFaceInPhoto(ValueError):
    """The card photo has no detectable face."""


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(bgr[:, :, ::-1])


def card_fallback_box(height: int, width: int) -> Box:
    """An explicit face box for a centred card photo: the middle ~60 % of the width."""
    left, right = int(width * 0.2), int(width * 0.8)
    top = int(height * 0.28)
    return (top, right, top + (right - left), left)


def encode_card_photo(bgr: np.ndarray, jitters: int = 2) -> np.ndarray:
    """The 128-d encoding of the face on a card photo (any size; 102x126 expected).

    The photo is enlarged 2x (cubic), the face found with one more upsample of the HOG
    pyramid; failing that an explicit central box is used. Raises NoFaceInPhoto when even
    the explicit box yields no landmarks.
    """
    import face_recognition
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or min(bgr.shape[:2]) < 16:
        raise NoFaceInPhoto("card photo is not a colour image")
    big = cv2.resize(bgr, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    rgb = _rgb(big)
    boxes = face_recognition.face_locations(rgb, 1)
    if boxes:
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    else:
        box = card_fallback_box(*rgb.shape[:2])
        log.info("card photo: detector found no face, using the explicit box")
    encodings = face_recognition.face_encodings(rgb, [box], num_jitters=jitters)
    if not encodings:
        raise NoFaceInPhoto("no face on the card photo")
    return encodings[0]


def encode_live_face(frame_rgb: np.ndarray, box: Box) -> np.ndarray:
    import face_recognition
    return face_recognition.face_encodings(frame_rgb, [box], num_jitters=1)[0]


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def card_crop(image: np.ndarray, box: Box) -> np.ndarray:
    """A 102x126 card-style head-and-shoulders crop of `image` around the face `box`."""
    t, r, b, left = box
    w = r - left
    crop_w = int(w * 1.7)
    crop_h = int(crop_w * CARD_HEIGHT / CARD_WIDTH)
    x0 = int((left + r) / 2 - crop_w / 2)
    y0 = int((t + b) / 2 - crop_h / 2)
    pad = max(crop_w, crop_h)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad:y0 + pad + crop_h, x0 + pad:x0 + pad + crop_w]
    return cv2.resize(crop, (CARD_WIDTH, CARD_HEIGHT), interpolation=cv2.INTER_AREA)


def largest_face_box(bgr: np.ndarray, max_side: int = 800) -> Box | None:
    """The largest HOG face in an image of any size (searched on a copy <= max_side)."""
    import face_recognition
    scale = min(1.0, max_side / max(bgr.shape[:2]))
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    boxes = face_recognition.face_locations(_rgb(small), 1)
    if not boxes:
        return None
    t, r, b, left = max(boxes, key=lambda x: (x[2] - x[0]) * (x[1] - x[3]))
    return tuple(int(round(v / scale)) for v in (t, r, b, left))   # type: ignore[return-value]


def as_card_photo(image: np.ndarray) -> np.ndarray:
    """Any image treated as a card photo: a 102x126 crop around its face when it is larger
    than a card photo (a plain resize when no face is found); a small image is used as is."""
    h, w = image.shape[:2]
    if w <= CARD_WIDTH and h <= CARD_HEIGHT:
        return image
    box = largest_face_box(image)
    if box is None:
        return cv2.resize(image, (CARD_WIDTH, CARD_HEIGHT), interpolation=cv2.INTER_AREA)
    return card_crop(image, box)


class CardEncodingCache:
    """The card encoding for the current visit: computed once per distinct photo, wiped."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key: bytes | None = None
        self._encoding: np.ndarray | None = None

    def get(self, card_bgr: np.ndarray) -> np.ndarray:
        key = hashlib.sha256(np.ascontiguousarray(card_bgr).tobytes()).digest()
        with self._lock:
            if self._key == key and self._encoding is not None:
                return self._encoding
        encoding = encode_card_photo(card_bgr)
        with self._lock:
            self._key, self._encoding = key, encoding
        return encoding

    def wipe(self) -> None:
        with self._lock:
            self._key, self._encoding = None, None
