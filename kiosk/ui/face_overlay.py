"""The face screen's live preview: what the verifier sees, with the guidance overlay drawn on it.

While a verification runs, the verifier owns the camera; the preview shows the verifier's own
latest frame (so the preview never steals frames, and blinks, from the liveness check) with an
oval where the face should be and the tracked face box. Otherwise the preview reads the camera.
Drawing happens in the preview's background thread, never on the UI thread. No Kivy here.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

GUIDE = (235, 235, 235)        # BGR: the oval where the face should be
FOUND = (80, 175, 40)          # the tracked face


def draw_guidance(frame_bgr: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """A copy of the frame, mirrored like a mirror (people expect that), with the face oval and,
    when a face is tracked, its box. `box` is (top, right, bottom, left) in frame pixels."""
    out = cv2.flip(frame_bgr, 1)
    h, w = out.shape[:2]
    cv2.ellipse(out, (w // 2, int(h * 0.45)), (int(w * 0.17), int(h * 0.30)), 0, 0, 360, GUIDE,
                max(2, w // 240), cv2.LINE_AA)
    if box is not None:
        top, right, bottom, left = box
        left, right = w - 1 - right, w - 1 - left        # mirrored
        cv2.rectangle(out, (left, top), (right, bottom), FOUND, max(2, w // 200), cv2.LINE_AA)
    return out


def face_preview_reader(verifier, camera_read: Callable[[], np.ndarray],
                        verifying: Callable[[], bool]) -> Callable[[], np.ndarray | None]:
    """A `read()` for the preview widget: the verifier's frame while it runs, else the camera's."""
    def read() -> np.ndarray | None:
        if verifying():
            live = verifier.preview() if verifier is not None else None
            return None if live is None else draw_guidance(live.frame_bgr, live.box)
        return draw_guidance(camera_read(), None)
    return read
