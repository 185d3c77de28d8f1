"""The signature pad: drawn with a finger, turned into a PNG off the UI thread."""
from __future__ import annotations

import threading
from typing import Callable

import cv2
import numpy as np
from kivy.graphics import Color, Line, Rectangle
from kivy.uix.widget import Widget

from kiosk.ui import theme as T


class SignaturePad(Widget):
    """Draw with a finger; `strokes` keeps each stroke's points (pad coordinates, origin at the
    pad's bottom left) for `signature_png`, `empty` until touched."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.ident = "signature"
        self.empty = True
        self.strokes: list[list[tuple[float, float]]] = []
        with self.canvas.before:
            Color(1, 1, 1, 1)
            self._bg = Rectangle(pos=self.pos, size=self.size)
            Color(*T.MUTED)
            self._frame = Line(rectangle=(*self.pos, *self.size), width=1.5)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size
        self._frame.rectangle = (*self.pos, *self.size)

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        with self.canvas:
            Color(0, 0, 0, 1)
            touch.ud["line"] = Line(points=touch.pos, width=2.5)
        touch.ud["stroke"] = [(touch.x - self.x, touch.y - self.y)]
        self.strokes.append(touch.ud["stroke"])
        touch.grab(self)
        self.empty = False
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is self and "line" in touch.ud:
            touch.ud["line"].points += touch.pos
            touch.ud["stroke"].append((touch.x - self.x, touch.y - self.y))
            return True
        return False

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            return True
        return False

    def clear(self) -> None:
        self.canvas.clear()
        self.strokes = []
        self.empty = True

    def signed(self, deliver: Callable[[bytes], None]) -> None:
        """`deliver(png)` with the signature, drawn and encoded off the UI thread (on it, reading
        the canvas back and encoding it held up the screen for 30-50 ms); b"" if unsigned."""
        if self.empty:
            deliver(b"")
            return
        strokes, size = [list(s) for s in self.strokes], (int(self.width), int(self.height))
        threading.Thread(target=lambda: deliver(signature_png(strokes, size)), name="signature",
                         daemon=True).start()


def signature_png(strokes: list[list[tuple[float, float]]], size: tuple[int, int],
                  width_px: int = 3) -> bytes:
    """Black strokes on white, `size` (w, h) px, as drawn (pad coordinates: y grows upwards)."""
    w, h = max(1, size[0]), max(1, size[1])
    image = np.full((h, w), 255, np.uint8)
    for stroke in strokes:
        points = np.array([(x, h - 1 - y) for x, y in stroke], np.float64).round().astype(np.int32)
        if len(points) == 1:
            cv2.circle(image, tuple(int(v) for v in points[0]), width_px // 2 + 1, 0, -1,
                       cv2.LINE_AA)
        else:
            cv2.polylines(image, [points.reshape(-1, 1, 2)], False, 0, width_px, cv2.LINE_AA)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("signature could not be encoded")
    return data.tobytes()
