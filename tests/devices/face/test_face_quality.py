"""Quality gates on real frames: each bad condition yields its own guidance key."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from devices.camera.emulator import EmulatedCamera
from devices.face.pipeline import LiveFacePipeline


@pytest.fixture(scope="module")
def frame(photo):
    return EmulatedCamera(photo("leslie_2"), static=True, blink=False).render(0.0)


def analyze(img):
    return LiveFacePipeline().analyze(img)


def test_good_frame_passes(frame):
    a = analyze(frame)
    assert a.good and a.ear > 0.2 and len(a.boxes) == 1


def test_empty_frame_is_no_face():
    assert analyze(np.full((480, 640, 3), 120, np.uint8)).prompt_key == "face.no_face"


def test_small_face_is_too_far(frame):
    small = cv2.resize(frame, None, fx=0.4, fy=0.4)
    canvas = np.full_like(frame, 110)
    canvas[150:150 + small.shape[0], 200:200 + small.shape[1]] = small
    assert analyze(canvas).prompt_key == "face.too_far"


def test_dark_frame_is_too_dark(frame):
    assert analyze((frame * 0.3).astype(np.uint8)).prompt_key == "face.too_dark"


def test_bright_background_behind_dark_face_is_backlit(frame):
    a = analyze(frame)
    t, r, b, left = a.box
    img = (frame * 0.35).astype(np.uint8)
    mask = np.ones(frame.shape[:2], bool)
    mask[t:b, left:r] = False
    img[mask] = 235
    assert analyze(img).prompt_key == "face.backlit"


def test_blurred_frame_is_blurred(frame):
    assert analyze(cv2.GaussianBlur(frame, (0, 0), 3.5)).prompt_key == "face.blurred"


def test_tilted_face_is_not_frontal(frame):
    m = cv2.getRotationMatrix2D((320, 220), 27, 1.0)
    tilted = cv2.warpAffine(frame, m, (640, 480), borderMode=cv2.BORDER_REPLICATE)
    a = analyze(tilted)
    assert a.box is not None, "the detector should still find a 27 degree tilted face"
    assert a.prompt_key == "face.not_frontal" and abs(a.measures["roll"]) > 20


@pytest.mark.parametrize("nose_x,key", [(150, None), (185, "face.not_frontal"),
                                        (112, "face.not_frontal")])
def test_yaw_from_nose_between_the_eyes(nose_x, key):
    from devices.face.quality import QualitySettings, check_quality
    marks = {"left_eye": [(100, 100), (105, 97), (115, 97), (120, 100), (115, 103), (105, 103)],
             "right_eye": [(180, 100), (185, 97), (195, 97), (200, 100), (195, 103),
                           (185, 103)],
             "nose_bridge": [(150, 100), (150, 110), (nose_x, 120), (nose_x, 130)]}
    gray = np.full((480, 640), 128, np.uint8)
    gray[80:220, 80:220] = np.random.default_rng(1).integers(60, 200, (140, 140))
    got, measures = check_quality(gray, [(80, 220, 220, 80)], (80, 220, 220, 80), marks,
                                  QualitySettings())
    assert got == key, measures


def test_two_people_is_multiple_faces(photo):
    img = EmulatedCamera(photo("two_people"), static=True, blink=False, face_px=None).render(0)
    a = analyze(img)
    assert a.prompt_key == "face.multiple_faces" and len(a.boxes) >= 2


def test_tracking_keeps_the_chosen_face(photo):
    img = EmulatedCamera(photo("two_people"), static=True, blink=False, face_px=None).render(0)
    p = LiveFacePipeline()
    boxes = p.detect(np.ascontiguousarray(img[:, :, ::-1]))
    p.last_box = min(boxes, key=lambda b: b[3])    # the left person was chosen before
    assert p.choose(boxes) == p.last_box
