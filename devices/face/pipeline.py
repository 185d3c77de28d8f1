"""The per-frame live face pipeline: cheap detection, tracking, landmarks and quality gates.

For each camera frame (640x480 typically):
1. HOG detection on a copy scaled to ~1/4 (160 px wide) with one pyramid upsample — about a
   tenth of the cost of face_recognition's default full-frame detection. If that finds
   nothing, and once a second anyway to notice a second person, a finer pass (two upsamples,
   still at 1/4) finds smaller faces. Another face seen in the last second still counts.
2. Tracking: the face chosen is the one overlapping the last box best (else the largest), so
   a passer-by does not steal the session.
3. The 68 landmarks on the full-resolution frame inside that box (~3 ms): eye aspect ratio for
   the blink challenge and yaw/roll for the frontal gate.
4. Quality gates (devices/face/quality.py). Only frames that pass are worth encoding; the
   caller decides when to spend the ~0.1 s encoding on one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from devices.face.encoding import Box
from devices.face.liveness import landmarks_ear
from devices.face.quality import QualitySettings, check_quality


@dataclass
class FrameAnalysis:
    box: Box | None                     # the tracked face in full-frame pixels
    boxes: list[Box]                    # every face found
    prompt_key: str | None              # first failing quality gate, None = good frame
    ear: float | None = None            # mean eye aspect ratio of the tracked face
    measures: dict = field(default_factory=dict)
    rgb: np.ndarray | None = None       # the frame as RGB (kept for encoding this frame)

    @property
    def good(self) -> bool:
        return self.prompt_key is None and self.box is not None


def _iou(a: Box, b: Box) -> float:
    t = max(a[0], b[0]); r = min(a[1], b[1]); btm = min(a[2], b[2]); left = max(a[3], b[3])
    inter = max(0, r - left) * max(0, btm - t)
    area = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0]) - inter
    return inter / area if area > 0 else 0.0


class LiveFacePipeline:
    def __init__(self, detect_width: int = 160, quality: QualitySettings | None = None,
                 full_check_every_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.detect_width = detect_width
        self.quality = quality or QualitySettings()
        self.full_check_every_s = full_check_every_s
        self._clock = clock
        self.last_box: Box | None = None
        self._last_full_check = -1e9
        self.crowd_memory_s = 1.0
        self._others: list = []         # other faces lately seen (small-scale boxes) ...
        self._others_at = -1e9          # ... and when

    def reset(self) -> None:
        self.last_box = None
        self._last_full_check = -1e9
        self._others, self._others_at = [], -1e9

    def detect(self, rgb: np.ndarray, now: float | None = None) -> list[Box]:
        """The faces of a frame; `now` is the frame's time (default: the clock's reading)."""
        import face_recognition
        h, w = rgb.shape[:2]
        scale = min(1.0, self.detect_width / w)
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        now = self._clock() if now is None else now
        boxes = face_recognition.face_locations(small, 1)
        if not boxes or now - self._last_full_check >= self.full_check_every_s:
            self._last_full_check = now
            fine = face_recognition.face_locations(small, 2)
            boxes = _merge(boxes, fine)
        if len(boxes) > 1:
            self._others, self._others_at = boxes, now
        elif now - self._others_at < self.crowd_memory_s:
            # a second person seen a moment ago still counts: detection flickers, and the fine
            # pass only runs once a second
            boxes = _merge(boxes, self._others)
        inv = 1.0 / scale
        out = []
        for t, r, b, left in boxes:
            out.append((max(0, int(t * inv)), min(w, int(r * inv)), min(h, int(b * inv)),
                        max(0, int(left * inv))))
        return out

    def choose(self, boxes: list[Box]) -> Box | None:
        if not boxes:
            return None
        if self.last_box is not None:
            best = max(boxes, key=lambda bx: _iou(bx, self.last_box))
            if _iou(best, self.last_box) > 0.2:
                return best
        return max(boxes, key=lambda bx: (bx[1] - bx[3]) * (bx[2] - bx[0]))

    def analyze(self, frame_bgr: np.ndarray, now: float | None = None) -> FrameAnalysis:
        """One frame through steps 1-4; `now` as for `detect`."""
        import face_recognition
        rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
        boxes = self.detect(rgb, now)
        box = self.choose(boxes)
        self.last_box = box
        marks = None
        ear = None
        if box is not None:
            found = face_recognition.face_landmarks(rgb, [box])
            if found:
                marks = found[0]
                ear = landmarks_ear(marks)
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        key, measures = check_quality(gray, boxes, box, marks, self.quality)
        return FrameAnalysis(box=box, boxes=boxes, prompt_key=key, ear=ear,
                             measures=measures, rgb=rgb)


def _merge(coarse: list[Box], fine: list[Box]) -> list[Box]:
    """Union of two detections of the same frame, dropping duplicates of one face."""
    out = list(coarse)
    for f in fine:
        if all(_iou(f, c) < 0.3 for c in out):
            out.append(f)
    return out
