"""Quality gates for a live face frame; each failing gate names a spoken guidance prompt.

Checked in this order, the first failure wins: `face.no_face`, `face.multiple_faces`,
`face.too_far`, `face.not_frontal`, `face.too_dark`, `face.backlit`, `face.blurred`.
Only frames passing every gate are encoded and compared. Pure functions of numpy arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NO_FACE = "face.no_face"
MULTIPLE_FACES = "face.multiple_faces"
TOO_FAR = "face.too_far"
NOT_FRONTAL = "face.not_frontal"
TOO_DARK = "face.too_dark"
BACKLIT = "face.backlit"
BLURRED = "face.blurred"


@dataclass(frozen=True)
class QualitySettings:
    min_face_ratio: float = 0.14      # face box width / frame width (0.14 x 640 = 90 px)
    second_face_ratio: float = 0.5    # another face at least this fraction of the main one
    max_yaw: float = 0.25             # |nose position between the eyes - 0.5| (~30 deg)
    max_roll_deg: float = 20.0
    min_brightness: float = 60.0      # mean grey level of the face (0-255)
    backlit_margin: float = 60.0      # background brighter than the face by this much ...
    backlit_face_max: float = 110.0   # ... while the face itself is this dark or darker
    min_sharpness: float = 30.0       # variance of the Laplacian of the face at 128x128


def yaw_and_roll(marks: dict) -> tuple[float, float]:
    """Yaw as the nose tip's position between the outer eye corners (0.5 = frontal) minus 0.5,
    and roll in degrees from the line between the eye centres."""
    left = np.asarray(marks["left_eye"], float)
    right = np.asarray(marks["right_eye"], float)
    nose = np.asarray(marks["nose_bridge"], float)[-1]
    outer_l, outer_r = left[0], right[3]
    span = outer_r[0] - outer_l[0]
    yaw = 0.0 if abs(span) < 1e-6 else (nose[0] - outer_l[0]) / span - 0.5
    cl, cr = left.mean(0), right.mean(0)
    roll = float(np.degrees(np.arctan2(cr[1] - cl[1], cr[0] - cl[0])))
    return float(yaw), roll


def sharpness(gray_face: np.ndarray) -> float:
    small = cv2.resize(gray_face, (128, 128), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(small, cv2.CV_64F).var())


def check_quality(gray: np.ndarray, boxes: list, main_box, marks: dict | None,
                  settings: QualitySettings) -> tuple[str | None, dict]:
    """The first failing gate's prompt key (or None) and the measured values."""
    s = settings
    if main_box is None:
        return NO_FACE, {}
    t, r, b, left = main_box
    width = r - left
    others = [bx for bx in boxes if bx != main_box
              and (bx[1] - bx[3]) >= s.second_face_ratio * width]
    if others:
        return MULTIPLE_FACES, {"faces": len(others) + 1}
    h, w = gray.shape[:2]
    measures: dict = {"face_ratio": width / w}
    if width < s.min_face_ratio * w:
        return TOO_FAR, measures
    if marks is not None:
        yaw, roll = yaw_and_roll(marks)
        measures.update(yaw=yaw, roll=roll)
        if abs(yaw) > s.max_yaw or abs(roll) > s.max_roll_deg:
            return NOT_FRONTAL, measures
    face = gray[max(t, 0):max(b, 1), max(left, 0):max(r, 1)]
    if face.size == 0:
        return NO_FACE, measures
    face_mean = float(face.mean())
    mask = np.ones(gray.shape[:2], bool)
    mask[max(t, 0):b, max(left, 0):r] = False
    background = float(gray[mask].mean()) if mask.any() else face_mean
    measures.update(brightness=face_mean, background=background)
    if face_mean < s.min_brightness:
        if background - face_mean > s.backlit_margin:
            return BACKLIT, measures
        return TOO_DARK, measures
    if background - face_mean > s.backlit_margin and face_mean < s.backlit_face_max:
        return BACKLIT, measures
    measures["sharpness"] = sharp = sharpness(face)
    if sharp < s.min_sharpness:
        return BLURRED, measures
    return None, measures
